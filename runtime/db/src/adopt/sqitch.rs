//! Sqitch: its registry, the schema `sqitch` of the target database on PostgreSQL (`changes`:
//! one row per deployed change, `script_hash` the SHA-1 of its deploy script; `events`: every
//! deploy, revert and `fail`). A project whose last event is `fail` is refused: the deploy that
//! failed was reverted by Sqitch, but someone must look before Bascule takes over. On MySQL the
//! registry is one database for the whole server and on SQLite a file of its own: neither is
//! read (the tenant is refused, saying so).

use bascule_patch::Dialect;

use super::{literal, table_exists, value, Entry, EntryKind, History};
use crate::{Connection, DbError};

pub(super) fn read(
    conn: &mut dyn Connection,
    dialect: Dialect,
    registry: &str,
    project: Option<&str>,
) -> Result<Option<History>, DbError> {
    if dialect != Dialect::Postgres {
        return Ok(Some(History {
            entries: Vec::new(),
            refusal: Some(format!(
                "Sqitch's registry is read on PostgreSQL only (schema `{registry}` of each tenant database); on {dialect} it is not adopted"
            )),
        }));
    }
    if !table_exists(conn, dialect, Some(registry), "changes")? {
        return Ok(None);
    }
    let project = project.map_or_else(|| "project".to_string(), literal);
    let schema = format!("\"{}\"", registry.replace('"', "\"\""));
    let mut history = History::default();
    let last = conn.query_rows(&format!(
        "SELECT event, change, CAST(committed_at AS TEXT) FROM {schema}.events WHERE project = {project} ORDER BY committed_at DESC LIMIT 1"
    ))?;
    if let Some([event, change, at]) = last.first().map(Vec::as_slice) {
        if event == "fail" {
            history.refusal = Some(format!(
                "{registry}.events: the last event ({at}) is a failed deploy of `{change}`: \
                 look at the database, deploy or revert with Sqitch until it succeeds, then run again"
            ));
            return Ok(Some(history));
        }
    }
    let rows = conn.query_rows(&format!(
        "SELECT change, script_hash FROM {schema}.changes WHERE project = {project} ORDER BY committed_at"
    ))?;
    for row in rows {
        let [change, hash] = row.as_slice() else {
            continue;
        };
        history.entries.push(Entry {
            row: format!("{registry}.changes `{change}`"),
            id: change.clone(),
            checksum: value(hash),
            kind: EntryKind::Applied,
        });
    }
    Ok(Some(history))
}
