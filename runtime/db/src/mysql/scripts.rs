//! The batches a database's migrations travel in.
//!
//! A database's whole up (or down) — version-row writes and statements — is one multi-statement
//! request ([`super::batch`]): the server runs it in order and stops at the first failing
//! statement, whose result-set index says which it was, so the meaning is that of statements
//! sent one by one, without a round trip each. A statement holding a `;` (a trigger body) goes
//! in a request of its own.
//!
//! The row writes are chained: one `INSERT … ON DUPLICATE KEY UPDATE` ([`write_rows`]) marks a
//! migration `applied` and the next one `applying` together. An undo marks every row it will undo
//! `applying` in one statement before the first down, and deletes them all in one statement after
//! the last (a down run again is harmless, so the rows of the downs that did run need not go one
//! by one).
//!
//! Architecture invariant: no statement of a migration reaches the server before the write that
//! marks its row `applying`, and the write that marks it `applied` comes after its last
//! statement, in the same ordered request or a later one.

use super::batch::Batch;
use super::quote_literal;
use crate::{one_line, RowState, Stamp, VERSION_TABLE};
use bascule_patch::{split_statements, Dialect, Migration};
use bascule_runlog::RunLog;
use std::time::Duration;

/// What a statement of a [`Batch`] is: its line in the run log, and what a failure means.
pub(super) enum Part {
    /// A write to the version table, logged as one line per row (`0002_nick up: version row
    /// `applied``).
    Rows(Vec<String>),
    /// Statement `done + 1` of `total` of the script `label`.
    Script {
        label: String,
        done: usize,
        total: usize,
    },
}

impl Part {
    pub(super) fn rows(lines: &[(&str, &str)]) -> Part {
        Part::Rows(
            lines
                .iter()
                .map(|(label, what)| format!("{label}: {what}"))
                .collect(),
        )
    }

    /// Writes its lines in the run log of database `db`, `sql` being its statement, which ended
    /// after `took` (`None`: it failed). A statement's line is written as its result arrives,
    /// so it says how long the statement ran: `bascule log --slowest` reads it there.
    pub(super) fn log(&self, db: &str, sql: &str, took: Option<Duration>, log: &RunLog) {
        match self {
            Part::Rows(lines) => {
                for line in lines {
                    log.line(format_args!("{db}: {line}"));
                }
            }
            Part::Script { label, done, total } => {
                let took = took.map_or(String::new(), |took| format!(" ({} ms)", took.as_millis()));
                log.line(format_args!(
                    "{db}: {label}: statement {}/{total}: {}{took}",
                    done + 1,
                    one_line(sql)
                ))
            }
        }
    }
}

/// Appends every statement of `sql` to `batch`, as the script `label`.
pub(super) fn push_script(batch: &mut Batch<Part>, label: &str, sql: &str) {
    let statements = split_statements(sql, Dialect::Mysql);
    let total = statements.len();
    for (done, statement) in statements.into_iter().enumerate() {
        batch.push(
            statement.text,
            Part::Script {
                label: label.to_string(),
                done,
                total,
            },
        );
    }
}

/// The version row of `migration` at `state`, as a `VALUES` tuple.
pub(super) fn row_values(migration: &Migration, stamp: Stamp<'_>, state: RowState) -> String {
    format!(
        "({}, {}, {}, {}, DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ'), {}, {})",
        migration.id,
        quote_literal(&migration.name),
        quote_literal(&migration.checksum),
        quote_literal(stamp.patch),
        quote_literal(state.as_str()),
        quote_literal(stamp.run)
    )
}

/// The statement writing version rows: inserted, or only their state changed where they exist
/// — one statement, so `applied` for one migration and `applying` for the next commit together.
pub(super) fn write_rows(rows: &[(&Migration, RowState)], stamp: Stamp<'_>) -> String {
    let values: Vec<String> = rows
        .iter()
        .map(|(m, state)| row_values(m, stamp, *state))
        .collect();
    format!(
        "INSERT INTO `{VERSION_TABLE}` (id, name, checksum, patch, applied_at, state, run) VALUES {}
         ON DUPLICATE KEY UPDATE state = VALUES(state), run = VALUES(run)",
        values.join(", ")
    )
}

/// The ups of `migrations` with their version-row writes, as one batch: the first row
/// `applying`, then each migration's statements followed by one write making its row `applied`
/// and the next one's `applying`.
pub(super) fn up_batch(migrations: &[&Migration], stamp: Stamp<'_>) -> Batch<Part> {
    let mut batch = Batch::new();
    let Some(first) = migrations.first() else {
        return batch;
    };
    let first_label = format!("{} up", first.label());
    batch.push(
        write_rows(&[(first, RowState::Applying)], stamp),
        Part::rows(&[(&first_label, "version row `applying`")]),
    );
    for (i, migration) in migrations.iter().enumerate() {
        let label = format!("{} up", migration.label());
        push_script(&mut batch, &label, &migration.up);
        let next = migrations.get(i + 1);
        let next_label = next.map(|n| format!("{} up", n.label()));
        let mut rows = vec![(*migration, RowState::Applied)];
        let mut lines = vec![(label.as_str(), "version row `applied`")];
        if let (Some(next), Some(next_label)) = (next, &next_label) {
            rows.push((*next, RowState::Applying));
            lines.push((next_label, "version row `applying`"));
        }
        batch.push(write_rows(&rows, stamp), Part::rows(&lines));
    }
    batch
}

/// The downs of `migrations`, in the order given, as one batch: every row marked `applying`
/// first (one statement), then each down's statements, then one deletion of every row. A down
/// that stops halfway leaves its row and those of the downs still to run `applying`, to be
/// undone (again: downs are idempotent) by whoever finishes the undo; the rows of the downs
/// that did run need not be deleted one by one, since running such a down again is harmless.
/// Without `rows` (a database with no version table) only the statements.
pub(super) fn down_batch(migrations: &[&Migration], rows: bool) -> Batch<Part> {
    let mut batch = Batch::new();
    let ids: Vec<String> = migrations.iter().map(|m| m.id.to_string()).collect();
    let labels: Vec<String> = migrations
        .iter()
        .map(|m| format!("{} down", m.label()))
        .collect();
    let lines = |what: &'static str| -> Vec<(&str, &str)> {
        labels.iter().map(|label| (label.as_str(), what)).collect()
    };
    if rows && !migrations.is_empty() {
        batch.push(
            format!(
                "UPDATE `{VERSION_TABLE}` SET state = {} WHERE id IN ({})",
                quote_literal(RowState::Applying.as_str()),
                ids.join(", ")
            ),
            Part::rows(&lines("version row `applying`")),
        );
    }
    for (migration, label) in migrations.iter().zip(&labels) {
        push_script(&mut batch, label, &migration.down);
    }
    if rows && !migrations.is_empty() {
        batch.push(
            format!(
                "DELETE FROM `{VERSION_TABLE}` WHERE id IN ({})",
                ids.join(", ")
            ),
            Part::rows(&lines("version row deleted")),
        );
    }
    batch
}

/// The ups of `migrations` with their version-row writes, as one script of exactly the statements
/// [`super::MysqlConnection`] sends (the version table is assumed to exist): what the migration
/// benchmark feeds a plain client to measure the server's share of Bascule's bookkeeping.
pub fn up_script(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    up_batch(migrations, stamp).script()
}

/// The downs of `migrations`, in the order given, with their version-row writes, as one script
/// (see [`up_script`]).
pub fn down_script(migrations: &[&Migration]) -> String {
    down_batch(migrations, true).script()
}
