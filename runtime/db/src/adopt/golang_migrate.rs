//! golang-migrate: `schema_migrations(version, dirty)` holds one row, the version of the last
//! migration run; every migration up to it is applied. `dirty = true` means that migration
//! failed halfway: the tool itself refuses to go on until someone fixes the database and runs
//! `migrate force`, and so does Bascule.

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
        "SELECT {}, CASE WHEN dirty THEN 1 ELSE 0 END FROM {}",
        as_text(dialect, "version"),
        ident(dialect, table)
    ))?;
    let mut history = History::default();
    if rows.len() > 1 {
        history.refusal = Some(format!(
            "{table} has {} rows; golang-migrate keeps exactly one (the current version)",
            rows.len()
        ));
        return Ok(Some(history));
    }
    if let Some(row) = rows.into_iter().next() {
        let version = row.first().cloned().unwrap_or_default();
        let dirty = row.get(1).map(String::as_str) == Some("1");
        if dirty {
            history.refusal = Some(format!(
                "{table}: version {version} is dirty (dirty = true): that migration failed halfway; \
                 repair the database, `migrate force` the version it is really at, then run again"
            ));
        } else if version.parse::<i64>().is_ok_and(|v| v >= 0) && version != "0" {
            history.entries.push(Entry {
                row: format!("{table} version {version}"),
                id: version,
                checksum: None,
                kind: EntryKind::UpTo,
            });
        }
    }
    Ok(Some(history))
}
