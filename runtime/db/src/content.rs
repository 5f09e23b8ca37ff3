//! Content digests: one SHA-256 over every row of every table of a database.
//!
//! `bascule digest` and rehearsals prove that a rollback restored the data by comparing
//! digests taken before and after, so a digest must not depend on what a rollback may
//! legitimately change: the physical order of rows (a restored table can be rewritten in
//! another order) is not part of it. Each table's rows are read as text, encoded without
//! ambiguity (every value length-prefixed, so no two rows run into each other), sorted, and
//! hashed with the table's name, tables in name order. The version table is included: a
//! rollback must leave it exactly as it found it too.
//!
//! The backends only say which tables there are and how a name is quoted; reading and hashing
//! is the same for all, through [`Connection::query_rows`].

use sha2::{Digest as _, Sha256};

use crate::{Connection, DbError};

/// The content digest of the database behind `conn`: `tables_sql` lists its tables (one name
/// per row), `quote` quotes a name for a `SELECT`.
pub(crate) fn digest<C: Connection + ?Sized>(
    conn: &mut C,
    tables_sql: &str,
    quote: fn(&str) -> String,
) -> Result<String, DbError> {
    let mut tables: Vec<String> = conn
        .query_rows(tables_sql)?
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .collect();
    tables.sort();
    let mut hasher = Sha256::new();
    for table in &tables {
        let mut rows: Vec<Vec<u8>> = conn
            .query_rows(&format!("SELECT * FROM {}", quote(table)))?
            .iter()
            .map(|row| encode(row))
            .collect();
        rows.sort();
        hasher.update(encode(&[table.clone(), rows.len().to_string()]));
        for row in rows {
            hasher.update(row);
        }
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// `<len>:<bytes>` for every value, then a newline: no two rows encode alike.
fn encode(values: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for value in values {
        out.extend_from_slice(value.len().to_string().as_bytes());
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
    }
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_run_into_each_other() {
        assert_ne!(
            encode(&["ab".into(), "c".into()]),
            encode(&["a".into(), "bc".into()])
        );
    }
}
