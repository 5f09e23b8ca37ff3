//! dbmate: `schema_migrations(version)`, one row per applied migration, the version being the
//! digits its file name starts with. dbmate records no checksum and no failure (a failed
//! migration is rolled back with its transaction, or leaves no row).

use bascule_patch::Dialect;

use super::{ident, table_exists, Entry, EntryKind, History};
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
        "SELECT version FROM {} ORDER BY version",
        ident(dialect, table)
    ))?;
    let entries = rows
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .map(|version| Entry {
            row: format!("{table} version {version}"),
            id: version,
            checksum: None,
            kind: EntryKind::Applied,
        })
        .collect();
    Ok(Some(History {
        entries,
        refusal: None,
    }))
}
