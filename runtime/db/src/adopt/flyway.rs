//! Flyway: `flyway_schema_history`, one row per run script, in `installed_rank` order. A
//! versioned migration (`type` `SQL`) is applied; `success = false` is a failed one, which
//! Flyway itself refuses to pass until `flyway repair`, and so does Bascule. `checksum` is the
//! CRC32 of the script's lines, compared with the one `cargo xtask import` computed. A
//! `BASELINE` row stands for every migration up to its version; an `UNDO_SQL` row undoes its
//! version; repeatable migrations (no version) and the `SCHEMA` marker are not migrations.

use bascule_patch::Dialect;

use super::{as_text, ident, table_exists, value, Entry, EntryKind, History};
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
        "SELECT {}, version, type, {}, CASE WHEN success THEN 1 ELSE 0 END, script FROM {} ORDER BY installed_rank",
        as_text(dialect, "installed_rank"),
        as_text(dialect, "checksum"),
        ident(dialect, table)
    ))?;
    let mut history = History::default();
    for row in rows {
        let [rank, version, kind, checksum, success, script] = row.as_slice() else {
            continue;
        };
        let name = format!("{table} installed_rank {rank} ({script})");
        if success != "1" {
            history.refusal = Some(format!(
                "{name} failed (success = false): repair the database and run `flyway repair`, then run again"
            ));
            return Ok(Some(history));
        }
        let Some(version) = value(version) else {
            continue;
        };
        let kind = match kind.as_str() {
            "SCHEMA" => continue,
            "BASELINE" => EntryKind::UpTo,
            k if k.starts_with("UNDO") => EntryKind::Undone,
            _ => EntryKind::Applied,
        };
        history.entries.push(Entry {
            id: version,
            checksum: value(checksum),
            kind,
            row: name,
        });
    }
    Ok(Some(history))
}
