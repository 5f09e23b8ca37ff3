//! How a PostgreSQL tenant's migrations are sent.
//!
//! Beside a serving application (`bascule migrate`, online patches) each migration is one
//! transaction with its version row, holding its locks no longer than it runs. To keep round
//! trips few without losing which statement failed, each statement still goes alone, but `BEGIN`
//! travels with a migration's first statement and its version row, and `COMMIT` with the next
//! migration's first statement ([`Link`], `run_chain`); when such a shared request fails, the
//! version table tells whether the earlier migration committed.
//!
//! In an `apply` of a `mode = "downtime"` patch nothing serves the platform, so a database's
//! migrations are one transaction (`up_in_one_transaction`): their statements one by one, then
//! the version rows with the only `COMMIT` — one commit per database, and a failure anywhere
//! leaves it exactly as it was. The undo of a database is one transaction too
//! (`undo_in_one_transaction`): its downs' statements, then one statement forgetting every
//! migration undone (or dropping the version table, when the run created it) with the `COMMIT`.
//!
//! A `-- bascule:no-transaction` migration breaks the chain ([`Group::Outside`]): it runs alone,
//! statement by statement, its version row written `applying` first; a no-transaction down
//! among the downs makes the undo fall back to one down at a time.

use super::{
    error_text, insert_row, insert_rows, quote_literal, row_values, text_rows_of,
    PostgresConnection, CREATE_VERSION_TABLE,
};
use crate::{one_line, DbError, RowState, Stamp, VERSION_TABLE};
use bascule_patch::{split_statements, Dialect, Migration};
use bascule_runlog::RunLog;
use postgres::error::SqlState;

/// Migrations in runs: consecutive transactional ones together, each no-transaction one alone.
pub(super) enum Group<'a, 'm> {
    Chain(&'a [&'m Migration]),
    Outside(&'m Migration),
}

pub(super) fn by_transaction<'a, 'm>(migrations: &'a [&'m Migration]) -> Vec<Group<'a, 'm>> {
    let mut groups = Vec::new();
    let mut start = 0;
    for (i, migration) in migrations.iter().enumerate() {
        if migration.runs_outside_transaction(Dialect::Postgres) {
            if start < i {
                groups.push(Group::Chain(&migrations[start..i]));
            }
            groups.push(Group::Outside(migration));
            start = i + 1;
        }
    }
    if start < migrations.len() {
        groups.push(Group::Chain(&migrations[start..]));
    }
    groups
}

impl PostgresConnection {
    /// A `-- bascule:no-transaction` up: its row `applying`, its statements one by one, its
    /// row `applied`.
    pub(super) fn up_outside_transaction(
        &mut self,
        migration: &Migration,
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = format!("{} up", migration.label());
        let (id, name, sum) = (migration.id, &migration.name, &migration.checksum);
        self.execute(CREATE_VERSION_TABLE)?;
        log.line(format_args!(
            "{}: {label}: version row `applying`",
            self.name
        ));
        self.execute(&insert_row(id, name, sum, Some(stamp), RowState::Applying))?;
        self.run_outside_transaction(&label, &migration.up, log)?;
        self.execute(&format!(
            "UPDATE {VERSION_TABLE} SET state = 'applied' WHERE id = {id}"
        ))?;
        log.line(format_args!(
            "{}: {label}: version row `applied`",
            self.name
        ));
        Ok(())
    }

    /// A `-- bascule:no-transaction` down: its row `applying`, its statements one by one, its
    /// row deleted.
    pub(super) fn down_outside_transaction(
        &mut self,
        migration: &Migration,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let label = format!("{} down", migration.label());
        if self.has_table(VERSION_TABLE)? {
            self.execute(&format!(
                "UPDATE {VERSION_TABLE} SET state = 'applying' WHERE id = {}",
                migration.id
            ))?;
        }
        self.run_outside_transaction(&label, &migration.down, log)?;
        self.execute(&format!(
            "DELETE FROM {VERSION_TABLE} WHERE id = {}",
            migration.id
        ))?;
        log.line(format_args!("{}: {label}: version row deleted", self.name));
        Ok(())
    }
}

/// One transactional migration (or down) of a chain: its statements, then its version-row change.
pub(super) struct Link<'m> {
    pub(super) label: String,
    pub(super) sql: &'m str,
    pub(super) record: String,
    /// A query that returns a row once this link has committed: how a failure of the request
    /// carrying this link's `COMMIT` tells which half failed.
    pub(super) committed: Option<String>,
}

impl<'m> Link<'m> {
    /// The up of `migration`; the first link of a chain also creates the version table if it is
    /// missing (in its transaction: the later links only run once it committed).
    pub(super) fn up(migration: &'m Migration, stamp: Stamp<'_>, first: bool) -> Link<'m> {
        let create = if first {
            format!("{CREATE_VERSION_TABLE};\n")
        } else {
            String::new()
        };
        Link {
            label: format!("{} up", migration.label()),
            sql: &migration.up,
            record: format!(
                "{create}{}",
                insert_row(
                    migration.id,
                    &migration.name,
                    &migration.checksum,
                    Some(stamp),
                    RowState::Applied
                )
            ),
            committed: Some(format!(
                "SELECT 1 FROM {VERSION_TABLE} WHERE id = {} AND checksum = {} AND run = {}",
                migration.id,
                quote_literal(&migration.checksum),
                quote_literal(stamp.run)
            )),
        }
    }

    pub(super) fn down(migration: &'m Migration) -> Link<'m> {
        Link {
            label: format!("{} down", migration.label()),
            sql: &migration.down,
            record: format!("DELETE FROM {VERSION_TABLE} WHERE id = {}", migration.id),
            committed: Some(format!(
                "SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM {VERSION_TABLE} WHERE id = {})",
                migration.id
            )),
        }
    }
}

/// The ups of `migrations` (transactional ones) with their version rows, as one script of the
/// statements [`PostgresConnection`] runs in `apply` ([`crate::Connection::apply_ups_in_downtime`]):
/// one transaction, the ups, then their rows. What the migration benchmark feeds `psql` to
/// measure the server's share of Bascule's bookkeeping.
pub fn up_script(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    let statements = statements_script(migrations.iter().map(|m| m.up.as_str()));
    format!(
        "BEGIN;\n{statements}{};\nCOMMIT;\n",
        up_record(migrations, stamp)
    )
}

/// Every statement of `scripts`, each ended by `;` and a new line.
pub(super) fn statements_script<'s>(scripts: impl Iterator<Item = &'s str>) -> String {
    scripts
        .flat_map(|sql| split_statements(sql, Dialect::Postgres))
        .map(|s| format!("{};\n", s.text))
        .collect()
}

/// The undo of `migrations` (transactional ones), in the order given, as one script of the
/// statements [`PostgresConnection`]'s undo runs when the version table stays: one transaction,
/// the downs, then their rows forgotten (see [`up_script`]).
pub fn down_script(migrations: &[&Migration]) -> String {
    let statements = statements_script(migrations.iter().map(|m| m.down.as_str()));
    let record = undo_record(migrations, false).unwrap_or_default();
    format!("BEGIN;\n{statements}{record};\nCOMMIT;\n")
}

/// The statements ending the ups of `migrations` in one transaction: the version table created
/// if it is missing, and every migration's row, `applied`, in one insert.
pub(super) fn up_record(migrations: &[&Migration], stamp: Stamp<'_>) -> String {
    let rows: Vec<String> = migrations
        .iter()
        .map(|m| row_values(m.id, &m.name, &m.checksum, Some(stamp), RowState::Applied))
        .collect();
    format!("{CREATE_VERSION_TABLE};\n{}", insert_rows(&rows))
}

/// The statement ending the undo of `migrations` in one transaction: the version table dropped,
/// or their rows forgotten; `None` when there is nothing to record.
pub(super) fn undo_record(migrations: &[&Migration], drop_version_table: bool) -> Option<String> {
    let ids: Vec<String> = migrations.iter().map(|m| m.id.to_string()).collect();
    match (drop_version_table, ids.is_empty()) {
        (true, _) => Some(format!("DROP TABLE IF EXISTS {VERSION_TABLE}")),
        (false, true) => None,
        (false, false) => Some(format!(
            "DELETE FROM {VERSION_TABLE} WHERE id IN ({})",
            ids.join(", ")
        )),
    }
}

impl PostgresConnection {
    /// Runs transactional migrations one after another, each in its own transaction, in as few
    /// round trips as the failure report allows: every statement goes alone (a failure names
    /// it), `BEGIN` rides with a migration's first statement, and its version row and `COMMIT`
    /// ride with the next migration's first statement. When such a shared request fails, the
    /// version table tells which half failed.
    pub(super) fn run_chain(&mut self, links: &[Link<'_>], log: &RunLog) -> Result<(), DbError> {
        // The version row and `COMMIT` of the link before, waiting to ride with the next request.
        let mut pending: Option<(&Link<'_>, String)> = None;
        for link in links {
            let statements = split_statements(link.sql, Dialect::Postgres);
            if statements.is_empty() {
                self.send_pending(pending.take())?;
            }
            let mut prefix = pending
                .as_ref()
                .map_or(String::new(), |(_, tail)| tail.clone());
            prefix.push_str("BEGIN;\n");
            for statement in statements {
                log.line(format_args!(
                    "{}: {}: {}",
                    self.name,
                    link.label,
                    one_line(&statement.text)
                ));
                let request = format!("{prefix}{}", statement.text);
                if let Err(e) = self.client.batch_execute(&request) {
                    let previous = pending.take().map(|(previous, _)| previous);
                    return Err(self.after_failure(previous, &e).unwrap_or_else(|| {
                        DbError::Statement {
                            db: self.name.clone(),
                            migration: link.label.clone(),
                            statement: statement.text.clone(),
                            error: error_text(&e),
                        }
                    }));
                }
                prefix.clear();
                pending = None;
            }
            pending = Some((link, format!("{prefix}{};\nCOMMIT;\n", link.record)));
        }
        self.send_pending(pending)
    }

    /// The downs' statements one by one (a failure names its statement), `BEGIN` riding with
    /// the first; then, with `COMMIT`, one statement forgetting every migration undone — or the
    /// version table dropped, when the undo removes it: the rows need no deleting first.
    pub(super) fn undo_in_one_transaction(
        &mut self,
        migrations: &[&Migration],
        drop_version_table: bool,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let scripts: Vec<(String, &str)> = migrations
            .iter()
            .map(|m| (format!("{} down", m.label()), m.down.as_str()))
            .collect();
        let prefix = self.statements_in_transaction(&scripts, log)?;
        let Some(record) = undo_record(migrations, drop_version_table) else {
            return Ok(());
        };
        log.line(format_args!("{}: {record}", self.name));
        self.commit_with(&prefix, &record, "recording the undo")
    }

    /// The ups' statements one by one (a failure names its statement), `BEGIN` riding with the
    /// first; then, with `COMMIT`, the version table created if missing and every row
    /// `applied`. One commit for the database, which a failure anywhere leaves as it was.
    pub(super) fn up_in_one_transaction(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let scripts: Vec<(String, &str)> = migrations
            .iter()
            .map(|m| (format!("{} up", m.label()), m.up.as_str()))
            .collect();
        let prefix = self.statements_in_transaction(&scripts, log)?;
        for (label, _) in &scripts {
            log.line(format_args!(
                "{}: {label}: version row `applied`",
                self.name
            ));
        }
        self.commit_with(&prefix, &up_record(migrations, stamp), "recording it")
    }

    /// Runs the statements of `scripts` (label, SQL) one by one in a transaction it opens with
    /// the first; on failure the transaction is rolled back and the statement named. Returns
    /// what the request that ends the transaction must start with: `BEGIN` if nothing was sent.
    pub(super) fn statements_in_transaction(
        &mut self,
        scripts: &[(String, &str)],
        log: &RunLog,
    ) -> Result<String, DbError> {
        let mut prefix = String::from("BEGIN;\n");
        for (label, sql) in scripts {
            for statement in split_statements(sql, Dialect::Postgres) {
                log.line(format_args!(
                    "{}: {label}: {}",
                    self.name,
                    one_line(&statement.text)
                ));
                if let Err(e) = self
                    .client
                    .batch_execute(&format!("{prefix}{}", statement.text))
                {
                    let _ = self.client.batch_execute("ROLLBACK");
                    return Err(DbError::Statement {
                        db: self.name.clone(),
                        migration: label.clone(),
                        statement: statement.text.clone(),
                        error: error_text(&e),
                    });
                }
                prefix.clear();
            }
        }
        Ok(prefix)
    }

    /// Ends the transaction [`Self::statements_in_transaction`] opened with `record`, in one
    /// request; on failure it is rolled back, and the error says it was `doing` this.
    pub(super) fn commit_with(
        &mut self,
        prefix: &str,
        record: &str,
        doing: &str,
    ) -> Result<(), DbError> {
        self.client
            .batch_execute(&format!("{prefix}{record};\nCOMMIT"))
            .map_err(|e| {
                let _ = self.client.batch_execute("ROLLBACK");
                self.err(format!("{doing}: {}", error_text(&e)))
            })
    }

    /// The ups of `migrations`: a `-- bascule:no-transaction` one alone, outside a transaction;
    /// each run of consecutive transactional ones through `chain`.
    pub(super) fn ups_by_group(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
        chain: fn(&mut Self, &[&Migration], Stamp<'_>, &RunLog) -> Result<(), DbError>,
    ) -> Result<(), DbError> {
        for group in by_transaction(migrations) {
            match group {
                Group::Outside(m) => self.up_outside_transaction(m, stamp, log)?,
                Group::Chain(migrations) => chain(self, migrations, stamp, log)?,
            }
        }
        Ok(())
    }

    /// Transactional ups, each in its own transaction ([`PostgresConnection::run_chain`]).
    pub(super) fn up_chain(
        &mut self,
        migrations: &[&Migration],
        stamp: Stamp<'_>,
        log: &RunLog,
    ) -> Result<(), DbError> {
        let links: Vec<Link<'_>> = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| Link::up(m, stamp, i == 0))
            .collect();
        self.run_chain(&links, log)
    }

    /// Sends a link's version row and `COMMIT` on their own.
    pub(super) fn send_pending(
        &mut self,
        pending: Option<(&Link<'_>, String)>,
    ) -> Result<(), DbError> {
        let Some((link, tail)) = pending else {
            return Ok(());
        };
        self.client.batch_execute(&tail).map_err(|e| {
            let _ = self.client.batch_execute("ROLLBACK");
            self.err(format!("{}: recording it: {}", link.label, error_text(&e)))
        })
    }

    /// Ends the aborted transaction, and tells whether the failure was the commit of the
    /// previous link (`Some` error) rather than the statement sent with it (`None`; also when
    /// the server cannot say, gone with the connection).
    pub(super) fn after_failure(
        &mut self,
        previous: Option<&Link<'_>>,
        e: &postgres::Error,
    ) -> Option<DbError> {
        // Ending the aborted transaction makes the session usable; if the server is gone this
        // fails too and changes nothing.
        let _ = self.client.batch_execute("ROLLBACK");
        let previous = previous?;
        let committed = match self.client.simple_query(previous.committed.as_deref()?) {
            Ok(messages) => !text_rows_of(&messages).is_empty(),
            // The version table the earlier link was creating is not there: it did not commit.
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => false,
            Err(_) => return None,
        };
        (!committed).then(|| {
            self.err(format!(
                "{}: recording it: {}",
                previous.label,
                error_text(e)
            ))
        })
    }
}
