//! Liquibase: `DATABASECHANGELOG`, one row per changeset run (`ID`, `AUTHOR`, `FILENAME`,
//! `EXECTYPE`, `MD5SUM`, …), in `ORDEREXECUTED` order. A changeset is known by `author:id`.
//! `EXECTYPE = 'FAILED'` refuses. `MD5SUM` (`9:…`) is computed over Liquibase's own
//! normalisation of the changeset, which Bascule does not reproduce: ids are compared, not
//! checksums.

use bascule_patch::Dialect;

use super::{as_text, ident, table_exists, Entry, EntryKind, History};
use crate::{Connection, DbError};

pub(super) fn read(
    conn: &mut dyn Connection,
    dialect: Dialect,
    table: &str,
) -> Result<Option<History>, DbError> {
    if !table_exists(conn, dialect, None, table)? {
        return Ok(None);
    }
    let rows = conn.query_rows(&format!(
        "SELECT ID, AUTHOR, FILENAME, EXECTYPE, {} FROM {} ORDER BY ORDEREXECUTED",
        as_text(dialect, "ORDEREXECUTED"),
        ident(dialect, table)
    ))?;
    let mut history = History::default();
    for row in rows {
        let [id, author, file, exectype, order] = row.as_slice() else {
            continue;
        };
        let name = format!("{table} ORDEREXECUTED {order} ({author}:{id} of {file})");
        if exectype == "FAILED" {
            history.refusal = Some(format!(
                "{name} failed (EXECTYPE = FAILED): repair the database and the changelog with Liquibase, then run again"
            ));
            return Ok(Some(history));
        }
        history.entries.push(Entry {
            id: format!("{author}:{id}"),
            checksum: None,
            kind: EntryKind::Applied,
            row: name,
        });
    }
    Ok(Some(history))
}
