//! `blocking-lock`: a PostgreSQL statement that holds a lock blocking writes (or reads) for as
//! long as it works through an existing table — a rewrite (`VACUUM FULL`, `CLUSTER`, `SET
//! TABLESPACE`, `SET LOGGED`, a stored generated or identity column), a scan (`SET NOT NULL`,
//! `ATTACH PARTITION`, an inline `CHECK`), an index build (`REINDEX`, `ADD EXCLUDE`), a blocking
//! refresh, or an explicit `LOCK TABLE`.
//!
//! The rule has no list of its own: it asks [`pg_locks`](super::pg_locks), the table of
//! PostgreSQL's documentation (§13.3.1 Table-Level Locks, the `ALTER TABLE` page and the
//! commands' pages), what each statement takes and does, and reports every row that
//! [blocks](super::pg_locks::LockRow::blocks) and that no other rule reports already
//! ([`covered_by`](super::pg_locks::LockRow::covered_by): `CREATE INDEX` is
//! `require-concurrent-index`'s, a type change `changing-column-type`'s, …). A table, view or
//! index created earlier in the same script holds no rows: quiet. Two documented ways around a
//! scan are recognized when the script takes them before the statement: a validated `CHECK (col
//! IS NOT NULL)` before `SET NOT NULL`, and a validated `CHECK` on the partition before `ATTACH
//! PARTITION`. (Neither squawk nor strong_migrations checks most of these forms.)

use sqlparser::ast::{AlterTableOperation, Statement, TableConstraint};

use super::created_here_named;
use super::pg_locks::{self, Command, Form};
use crate::history::table_name;
use crate::{Hit, Parsed, RecognizedStatement, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct BlockingLock;

impl Rule for BlockingLock {
    fn id(&self) -> &'static str {
        "blocking-lock"
    }
    fn summary(&self) -> &'static str {
        "a lock that blocks writes or reads while the statement rewrites, scans or locks a live \
         table (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "PostgreSQL's documentation (§13.3.1 Table-Level Locks; the ALTER TABLE page, its \
         Description and Notes; the pages of REINDEX, CLUSTER, VACUUM, REFRESH MATERIALIZED VIEW \
         and LOCK) says which lock each command takes and which forms rewrite or scan the table. \
         A lock of mode SHARE or stronger blocks INSERT, UPDATE and DELETE; ACCESS EXCLUSIVE \
         blocks SELECT too. Held for an instant (a catalog change) it is harmless once \
         lock_timeout bounds the wait; held while the table is rewritten, scanned or indexed, or \
         until the migration commits (LOCK TABLE), the platform stalls for as long as the table \
         is large."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "use the form that does not block, named after `instead:` in the message — CONCURRENTLY \
         (REINDEX, REFRESH MATERIALIZED VIEW), NOT VALID then VALIDATE CONSTRAINT (a CHECK, a \
         NOT NULL, a partition bound), pg_repack (VACUUM FULL, CLUSTER, SET TABLESPACE), or \
         expand-contract (a new table or column filled in batches); in a downtime patch the \
         finding is a warning"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        pg_locks::parsed_commands(&cx.statement.ast)
            .into_iter()
            .filter_map(|c| judge(cx, cx.before, c))
            .collect()
    }
    fn check_recognized(&self, cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        pg_locks::recognized_commands(&cx.statement.recognized.kind)
            .into_iter()
            .filter_map(|c| judge(cx, cx.before, c))
            .collect()
    }
}

/// The hit for one command, if it blocks on a table that holds rows.
fn judge<S: crate::HasSql>(
    cx: &RuleContext<'_, S>,
    before: &[Parsed],
    command: Command,
) -> Option<Hit> {
    let row = command.row();
    if !row.blocks() || row.covered_by.is_some() || new_here(before, &command) {
        return None;
    }
    let proven = match (command.form, &command.column) {
        (Form::SetNotNull, Some(column)) => validated_check(before, &command.table, |check| {
            check.contains(&format!("{} is not null", column.to_lowercase()))
        }),
        (Form::AttachPartition, _) => validated_check(before, &command.table, |_| true),
        _ => false,
    };
    if proven {
        return None;
    }
    let what = match &command.column {
        Some(column) => format!("`{}.{column}`", command.table),
        None => format!("`{}`", command.table),
    };
    let instead = row
        .alternative
        .map_or(String::new(), |a| format!("; instead: {a}"));
    Some(
        Hit::new(format!(
            "{} on {what} {}{instead}",
            row.command,
            row.consequence()
        ))
        .near(cx.text(), &command.near),
    )
}

/// Whether the object the command works on was created earlier in the script (a table, a
/// partition, a materialized view or an index): it holds no rows yet.
fn new_here(before: &[Parsed], command: &Command) -> bool {
    let name = command.table.as_str();
    created_here_named(before, name)
        || before.iter().any(|p| match &p.ast {
            Statement::CreateView(view) => view.materialized && table_name(&view.name) == name,
            Statement::CreateIndex(index) => {
                index.name.as_ref().is_some_and(|i| table_name(i) == name)
            }
            _ => false,
        })
}

/// Whether `before` leaves a valid `CHECK` on `table` whose expression (lower case) `matches`:
/// added without `NOT VALID`, or added `NOT VALID` and then validated.
fn validated_check(before: &[Parsed], table: &str, matches: impl Fn(&str) -> bool) -> bool {
    let on_table = |p: &'_ Parsed| match &p.ast {
        Statement::AlterTable(alter) if table_name(&alter.name) == table => {
            Some(alter.operations.clone())
        }
        _ => None,
    };
    let validated: Vec<String> = before
        .iter()
        .filter_map(on_table)
        .flatten()
        .filter_map(|op| match op {
            AlterTableOperation::ValidateConstraint { name } => Some(name.value.to_lowercase()),
            _ => None,
        })
        .collect();
    before
        .iter()
        .filter_map(on_table)
        .flatten()
        .any(|op| match op {
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::Check(check),
                not_valid,
            } => {
                let valid = !not_valid
                    || check
                        .name
                        .as_ref()
                        .is_some_and(|n| validated.contains(&n.value.to_lowercase()));
                valid && matches(&check.expr.to_string().to_lowercase())
            }
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, lint, rendered_report};
    use bascule_patch::Dialect::*;
    use bascule_patch::Mode;

    const ID: &str = "blocking-lock";

    #[test]
    fn fires_on_rewrites_scans_builds_and_explicit_locks() {
        for sql in [
            "VACUUM FULL members;",
            "REINDEX TABLE members;",
            "REINDEX INDEX members_name;",
            "REFRESH MATERIALIZED VIEW member_stats;",
            "LOCK TABLE members;",
            "LOCK TABLE members IN SHARE MODE;",
            "ALTER TABLE members SET LOGGED;",
            "ALTER TABLE members SET UNLOGGED;",
            "ALTER TABLE members ADD COLUMN total numeric GENERATED ALWAYS AS (a + b) STORED;",
            "ALTER TABLE members ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;",
            "ALTER TABLE members ADD COLUMN seq bigserial;",
            "ALTER TABLE members ADD COLUMN age int CHECK (age >= 0);",
            "ALTER TABLE members ADD CONSTRAINT no_overlap EXCLUDE USING gist (room WITH =);",
            "ALTER TABLE members ALTER COLUMN bio SET NOT NULL;",
            "ALTER TABLE measurement ATTACH PARTITION m2020 FOR VALUES FROM ('2020-01-01') TO \
             ('2021-01-01');",
        ] {
            assert_fires(1, ID, Postgres, sql, &[]);
        }
    }

    #[test]
    fn quiet_on_the_safe_forms() {
        for sql in [
            "ALTER TABLE members VALIDATE CONSTRAINT members_age;",
            "CREATE INDEX CONCURRENTLY members_name ON members (name);",
            "ALTER TABLE members ADD COLUMN nick text;",
            "ALTER TABLE members ADD COLUMN score int NOT NULL DEFAULT 0;",
            "ALTER TABLE members ADD COLUMN seen timestamptz DEFAULT now();",
            "ALTER TABLE members ALTER COLUMN bio DROP NOT NULL;",
            "ALTER TYPE mood ADD VALUE 'calm';",
            "COMMENT ON TABLE members IS 'people';",
            "ANALYZE members;",
            "VACUUM members;",
            "REFRESH MATERIALIZED VIEW CONCURRENTLY member_stats;",
            "REINDEX TABLE CONCURRENTLY members;",
            "ALTER TABLE measurement DETACH PARTITION m2020 CONCURRENTLY;",
            "LOCK TABLE members IN ROW EXCLUSIVE MODE;",
            "LOCK TABLE members IN SHARE UPDATE EXCLUSIVE MODE;",
            "CREATE TRIGGER members_touch BEFORE UPDATE ON members FOR EACH ROW EXECUTE FUNCTION \
             touch();",
            "ALTER TABLE members DISABLE TRIGGER members_touch;",
            "ALTER TABLE members SET (fillfactor = 70);",
        ] {
            assert_fires(0, ID, Postgres, sql, &[]);
        }
    }

    #[test]
    fn quiet_on_what_the_script_created_or_proved() {
        for sql in [
            "CREATE TABLE scratch (a int);\nVACUUM FULL scratch;",
            "CREATE TABLE scratch (a int);\nALTER TABLE scratch ADD COLUMN s bigserial;",
            "CREATE MATERIALIZED VIEW member_stats AS SELECT 1 AS n;\n\
             REFRESH MATERIALIZED VIEW member_stats;",
            "CREATE INDEX CONCURRENTLY members_nick ON members (nick);\n\
             REINDEX INDEX members_nick;",
            // The documented way around the scan of SET NOT NULL (PostgreSQL 12+).
            "ALTER TABLE members ADD CONSTRAINT bio_nn CHECK (bio IS NOT NULL) NOT VALID;\n\
             ALTER TABLE members VALIDATE CONSTRAINT bio_nn;\n\
             ALTER TABLE members ALTER COLUMN bio SET NOT NULL;",
            // …and around the scan of ATTACH PARTITION.
            "ALTER TABLE m2020 ADD CONSTRAINT m2020_bound CHECK (at >= '2020-01-01' AND at < \
             '2021-01-01') NOT VALID;\n\
             ALTER TABLE m2020 VALIDATE CONSTRAINT m2020_bound;\n\
             ALTER TABLE measurement ATTACH PARTITION m2020 FOR VALUES FROM ('2020-01-01') TO \
             ('2021-01-01');",
        ] {
            assert_fires(0, ID, Postgres, sql, &[]);
        }
        // A CHECK added NOT VALID and never validated proves nothing.
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD CONSTRAINT bio_nn CHECK (bio IS NOT NULL) NOT VALID;\n\
             ALTER TABLE members ALTER COLUMN bio SET NOT NULL;",
            &[],
        );
    }

    #[test]
    fn a_warning_in_downtime_mode() {
        let report = lint(Postgres, Mode::Downtime, "VACUUM FULL members;", &[]);
        let found: Vec<_> = report.findings.iter().filter(|f| f.rule == ID).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, crate::Severity::Warning);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "-- bascule:no-transaction\nSET lock_timeout = '2s';\nVACUUM FULL members;\n\
             ALTER TABLE members ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;\n\
             ALTER TABLE measurement ATTACH PARTITION m2020 FOR VALUES FROM ('2020-01-01') TO \
             ('2021-01-01');",
            &[],
        ));
    }
}
