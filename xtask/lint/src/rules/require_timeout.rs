//! `require-timeout`: a migration that lifts the lock or statement timeouts the runtime sets.
//! (squawk: `require-timeout-settings`; strong_migrations sets the timeouts itself, as Bascule
//! does.)
//!
//! A DDL statement waiting for its lock behind a long query makes every new query on the table
//! queue behind *it*: a one-millisecond `ALTER TABLE` becomes a full outage for as long as the
//! slowest running transaction. The runtime therefore sets a lock timeout on every session it
//! migrates with (`lock_timeout = "5s"` by default, the patch's `[timeouts]` or the host
//! profile's to change it: see `bascule_db::timeouts`), so an ordinary migration needs no `SET`
//! of its own. What this rule finds is a migration that overrides those limits unsafely:
//!
//! - PostgreSQL `SET lock_timeout` to `0`, `DEFAULT` (no limit) or more than a minute;
//! - MariaDB/MySQL `SET [SESSION] lock_wait_timeout` or `innodb_lock_wait_timeout` to more than a
//!   minute or `DEFAULT` (`lock_wait_timeout`'s default is 31536000 s, a year);
//! - PostgreSQL `SET statement_timeout` to `0` or `DEFAULT` before DDL that locks an existing
//!   table ACCESS EXCLUSIVE (`ALTER TABLE`, `DROP TABLE`, `DROP INDEX` without `CONCURRENTLY`,
//!   `TRUNCATE`): that lock then has no bound on how long it stalls the table.
//!
//! A `SET LOCAL`, a `SET SESSION` and a plain `SET` are judged alike: each lasts at least to the
//! end of the migration's transaction.

use sqlparser::ast::{ObjectType, Set, Statement};

use super::created_here_named;
use crate::history::table_name;
use crate::{Hit, Parsed, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct RequireTimeout;

/// The longest lock wait a migration may set itself: beyond it, a waiting statement stalls the
/// table for longer than any request would wait.
const MAX_LOCK_WAIT_MS: u64 = 60_000;

impl Rule for RequireTimeout {
    fn id(&self) -> &'static str {
        "require-timeout"
    }
    fn summary(&self) -> &'static str {
        "a migration lifting the lock or statement timeout the runtime sets"
    }
    fn explanation(&self) -> &'static str {
        "A DDL statement waiting for its lock behind a long query makes every new query on the \
         table queue behind it: the whole table stops for as long as the slowest transaction. \
         The runtime sets a lock timeout on every migration session (5 s unless the patch's \
         [timeouts] or the host profile say otherwise), so a statement that waits longer fails \
         and the run is undone. A migration that sets the timeout to 0, DEFAULT or more than a \
         minute (PostgreSQL lock_timeout, MariaDB/MySQL lock_wait_timeout and \
         innodb_lock_wait_timeout) takes that protection away, and so does PostgreSQL \
         statement_timeout = 0 before a statement holding an ACCESS EXCLUSIVE lock."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        let set = match dialect {
            Dialect::Mysql => "SET SESSION lock_wait_timeout = 10;",
            _ => "SET lock_timeout = '10s';",
        };
        format!(
            "remove the SET: the runtime already bounds the wait (patch.toml [timeouts], 5 s by \
             default); if this migration needs longer, raise lock_timeout in \
             [timeouts.<class>], or set a bounded value here:\n{set}\n\
             a statement that times out fails and the run is undone: apply the patch again at a \
             quieter moment"
        )
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres, Dialect::Mysql]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let statement = &cx.statement.ast;
        let mut hits: Vec<Hit> = assignments(statement)
            .into_iter()
            .filter_map(|(name, value)| unsafe_lock_wait(cx.dialect, &name, &value))
            .collect();
        if cx.dialect == Dialect::Postgres {
            if let (Some(table), Some(value)) = (
                locked_table(statement, cx.before),
                unlimited_statement_timeout(cx.before),
            ) {
                hits.push(Hit::new(format!(
                    "this statement locks `{table}` ACCESS EXCLUSIVE after `SET statement_timeout \
                     = {value}`: nothing bounds how long every query on `{table}` waits for it"
                )));
            }
        }
        hits
    }
}

/// What `statement` sets, as `(variable, value)`: the variable lower-case without `@@`, scope
/// or `SESSION.`, the value as written.
fn assignments(statement: &Statement) -> Vec<(String, String)> {
    let Statement::Set(set) = statement else {
        return Vec::new();
    };
    let pairs: Vec<(String, String)> = match set {
        Set::SingleAssignment {
            variable, values, ..
        } => vec![(
            variable.to_string(),
            values
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        )],
        Set::MultipleAssignments { assignments } => assignments
            .iter()
            .map(|a| (a.name.to_string(), a.value.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let name = name.trim_start_matches("@@");
            let name = name
                .strip_prefix("session.")
                .or_else(|| name.strip_prefix("local."))
                .unwrap_or(name);
            (name.to_string(), value)
        })
        .collect()
}

/// A hit if setting `name` to `value` lifts the lock wait limit.
fn unsafe_lock_wait(dialect: Dialect, name: &str, value: &str) -> Option<Hit> {
    let limit = match (dialect, name) {
        (Dialect::Postgres, "lock_timeout") => postgres_millis(value),
        (Dialect::Mysql, "lock_wait_timeout" | "innodb_lock_wait_timeout") => mysql_millis(value),
        _ => return None,
    };
    let why = match limit {
        Limit::None => "no limit",
        Limit::Millis(ms) if ms > MAX_LOCK_WAIT_MS => "more than a minute",
        Limit::Millis(_) | Limit::Unknown => return None,
    };
    Some(Hit::new(format!(
        "`{name} = {value}` is {why}: while this migration waits for a lock, every query on \
             the table waits behind it, without the bound the runtime sets"
    )))
}

/// A lock or statement limit as a migration sets it.
enum Limit {
    /// `0` or `DEFAULT`: no limit (the servers' defaults are none, or a year).
    None,
    Millis(u64),
    /// Not a literal this rule reads (a variable, an expression): not judged.
    Unknown,
}

/// A PostgreSQL time setting: milliseconds unless a unit says otherwise.
fn postgres_millis(value: &str) -> Limit {
    let text = value.trim().trim_matches('\'').trim().to_ascii_lowercase();
    if text == "default" {
        return Limit::None;
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let Ok(number) = number.parse::<u64>() else {
        return Limit::Unknown;
    };
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1_000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Limit::Unknown,
    };
    match number.saturating_mul(factor) {
        0 => Limit::None,
        ms => Limit::Millis(ms),
    }
}

/// A MariaDB/MySQL lock wait: whole seconds (`DEFAULT` is a year for `lock_wait_timeout`).
fn mysql_millis(value: &str) -> Limit {
    let text = value.trim().to_ascii_lowercase();
    if text == "default" {
        return Limit::None;
    }
    match text.parse::<u64>() {
        Ok(seconds) => Limit::Millis(seconds.saturating_mul(1_000)),
        Err(_) => Limit::Unknown,
    }
}

/// The value of the last `SET statement_timeout` before this statement, if it lifts the limit.
fn unlimited_statement_timeout(before: &[Parsed]) -> Option<String> {
    let last = before
        .iter()
        .flat_map(|p| assignments(&p.ast))
        .rev()
        .find(|(name, _)| name == "statement_timeout")?;
    matches!(postgres_millis(&last.1), Limit::None).then_some(last.1)
}

/// The existing table `statement` locks ACCESS EXCLUSIVE, if it does.
fn locked_table(statement: &Statement, before: &[Parsed]) -> Option<String> {
    let table = match statement {
        Statement::AlterTable(alter) => table_name(&alter.name),
        Statement::Drop {
            object_type: ObjectType::Table | ObjectType::Index,
            names,
            ..
        } => names.first().map(table_name)?,
        Statement::Truncate(t) => t.table_names.first().map(|t| table_name(&t.name))?,
        _ => return None,
    };
    let created = created_here_named(before, &table)
        || before.iter().any(|p| match &p.ast {
            Statement::CreateIndex(i) => i.name.as_ref().is_some_and(|n| table_name(n) == table),
            _ => false,
        });
    (!created).then_some(table)
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "require-timeout";

    #[test]
    fn an_ordinary_migration_relies_on_the_runtime_s_timeouts() {
        for script in [
            "ALTER TABLE members ADD COLUMN a int;\nALTER TABLE members ADD COLUMN b int;",
            "DROP INDEX members_old;",
            "TRUNCATE members;",
            "SET lock_timeout = '2s';\nALTER TABLE members ADD COLUMN a int;",
            "SET LOCAL lock_timeout TO '1min';\nDROP TABLE old_stats;",
            "SET statement_timeout = '30s';\nALTER TABLE members ADD COLUMN a int;",
            // No ACCESS EXCLUSIVE lock on an existing table after it: a long index build.
            "SET statement_timeout = 0;\nCREATE INDEX CONCURRENTLY members_a ON members (a);",
            "CREATE TABLE badges (id bigint);\nSET statement_timeout = 0;\nALTER TABLE badges ADD COLUMN name text;",
        ] {
            assert_fires(0, ID, Postgres, script, &[]);
        }
        for script in [
            "ALTER TABLE members ADD COLUMN a INT;",
            "SET SESSION lock_wait_timeout = 10;\nALTER TABLE members ADD COLUMN a INT;",
            "SET innodb_lock_wait_timeout = 50;\nUPDATE members SET a = 1;",
        ] {
            assert_fires(0, ID, Mysql, script, &[]);
        }
        assert_fires(0, ID, Sqlite, "ALTER TABLE members ADD COLUMN a int;", &[]);
    }

    #[test]
    fn fires_where_a_migration_lifts_the_lock_wait_limit() {
        for script in [
            "SET lock_timeout = 0;\nALTER TABLE members ADD COLUMN a int;",
            "SET lock_timeout = '0';",
            "SET lock_timeout TO DEFAULT;",
            "SET LOCAL lock_timeout = '5min';",
            "SET SESSION lock_timeout = 120000;",
        ] {
            assert_fires(1, ID, Postgres, script, &[]);
        }
        for script in [
            "SET SESSION lock_wait_timeout = 31536000;\nALTER TABLE members ADD COLUMN a INT;",
            "SET @@session.lock_wait_timeout = 3600;",
            "SET lock_wait_timeout = DEFAULT;",
            "SET innodb_lock_wait_timeout = 600;",
        ] {
            assert_fires(1, ID, Mysql, script, &[]);
        }
        assert_fires(
            2,
            ID,
            Mysql,
            "SET SESSION lock_wait_timeout = 86400, innodb_lock_wait_timeout = 86400;",
            &[],
        );
    }

    #[test]
    fn fires_where_no_statement_limit_bounds_an_access_exclusive_lock() {
        assert_fires(
            1,
            ID,
            Postgres,
            "SET statement_timeout = 0;\nALTER TABLE members ALTER COLUMN a TYPE bigint;",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "SET statement_timeout TO DEFAULT;\nTRUNCATE members;",
            &[],
        );
        // Set back to a limit before the DDL.
        assert_fires(
            0,
            ID,
            Postgres,
            "SET statement_timeout = 0;\nUPDATE members SET a = 1;\nSET statement_timeout = '1min';\nALTER TABLE members ADD COLUMN b int;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "SET lock_timeout = 0;\nALTER TABLE members ADD COLUMN a int;",
            &[],
        ));
    }

    #[test]
    fn the_mysql_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "SET SESSION lock_wait_timeout = 31536000;\nALTER TABLE members ADD COLUMN a INT;",
            &[],
        ));
    }
}
