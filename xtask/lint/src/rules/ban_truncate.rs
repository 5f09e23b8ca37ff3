//! `ban-truncate`: `TRUNCATE` in a migration. (squawk: `ban-truncate-cascade` covers the
//! `CASCADE` form only; this rule takes every `TRUNCATE`.)
//!
//! # Why `Always`, not `ZeroDowntime`
//!
//! `TRUNCATE` also takes an ACCESS EXCLUSIVE lock (PostgreSQL) or recreates the table (MySQL), a
//! zero-downtime concern; but what makes it wrong is that it destroys every row, and closing the
//! platform (`downtime` mode) does not make that safer. Bascule promises a complete rollback: no
//! `down.sql` can bring the rows back. So it is an error in every mode; emptying a cache or
//! session table on purpose is one `-- bascule:allow ban-truncate <reason>` away, and the reason
//! shows in the report. A table created earlier in the same `up.sql` holds nothing yet: quiet.

use sqlparser::ast::Statement;

use super::created_here;
use crate::history::table_name;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct BanTruncate;

impl Rule for BanTruncate {
    fn id(&self) -> &'static str {
        "ban-truncate"
    }
    fn summary(&self) -> &'static str {
        "TRUNCATE destroys every row; no down.sql brings them back"
    }
    fn explanation(&self) -> &'static str {
        "TRUNCATE empties the table (and with CASCADE, every table referencing it) under an \
         exclusive lock. The rows are gone: a rollback restores the schema, never the data. \
         Downtime does not make that safer, so it is an error in every mode."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "keep the data: move it aside (INSERT INTO t_archive SELECT … ; the down moves it back) or \
         delete in batches from the application; if emptying the table is truly intended (a \
         cache), write `-- bascule:allow ban-truncate <why the rows do not matter>`"
            .into()
    }
    fn level(&self) -> Level {
        Level::Always
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Statement::Truncate(truncate) = &cx.statement.ast else {
            return Vec::new();
        };
        truncate
            .table_names
            .iter()
            .map(|t| table_name(&t.name))
            .filter(|t| !created_here(cx, t))
            .map(|t| Hit::new(format!("TRUNCATE destroys every row of `{t}`")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, lint, rendered_report};
    use crate::Severity;
    use bascule_patch::Dialect::*;
    use bascule_patch::Mode;

    const ID: &str = "ban-truncate";

    #[test]
    fn fires_in_both_modes() {
        assert_fires(1, ID, Postgres, "TRUNCATE members CASCADE;", &[]);
        assert_fires(1, ID, Mysql, "TRUNCATE TABLE sessions;", &[]);
        let report = lint(Mysql, Mode::Downtime, "TRUNCATE TABLE sessions;", &[]);
        assert_eq!(report.findings[0].severity, Severity::Error);
    }

    #[test]
    fn quiet_on_a_table_created_here_or_allowed() {
        for dialect in [Mysql, Postgres] {
            assert_fires(
                0,
                ID,
                dialect,
                "CREATE TABLE scratch (a INT);\nTRUNCATE TABLE scratch;",
                &[],
            );
        }
        let report = lint(
            Mysql,
            Mode::Online,
            "-- bascule:allow ban-truncate sessions are rebuilt at login\nTRUNCATE sessions;",
            &[],
        );
        assert!(report.findings.is_empty(), "{}", report.render_human());
        assert_eq!(report.suppressed.len(), 1);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "TRUNCATE members CASCADE;",
            &[],
        ));
    }
}
