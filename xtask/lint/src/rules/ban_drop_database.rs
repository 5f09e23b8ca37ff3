//! `ban-drop-database`: `DROP DATABASE` (and `DROP SCHEMA`, the same thing in MySQL and a
//! tenant in a per-schema PostgreSQL layout) in a migration. (squawk: `ban-drop-database`.)
//!
//! A migration changes the schema of the databases of a class; it runs once per tenant database,
//! so a `DROP DATABASE` there is at best a mistake, at worst every tenant's data gone, and no
//! `down.sql` brings it back. Removing a tenant is an operation on the host, with its backups,
//! not part of a patch. An error in every mode. SQLite has no `DROP DATABASE` (it rejects the
//! statement itself), so the rule covers MySQL and PostgreSQL.

use sqlparser::ast::{ObjectType, Statement};

use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct BanDropDatabase;

impl Rule for BanDropDatabase {
    fn id(&self) -> &'static str {
        "ban-drop-database"
    }
    fn summary(&self) -> &'static str {
        "DROP DATABASE or DROP SCHEMA in a migration"
    }
    fn explanation(&self) -> &'static str {
        "A migration runs on every database of its class. DROP DATABASE (or DROP SCHEMA, a \
         database in MySQL and a tenant in a per-schema PostgreSQL layout) destroys data that no \
         down.sql can bring back, and removing a tenant is not a schema change."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "remove the statement; retire a tenant on the host (backup, then drop) outside the patch"
            .into()
    }
    fn level(&self) -> Level {
        Level::Always
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        match &cx.statement.ast {
            Statement::Drop {
                object_type: kind @ (ObjectType::Database | ObjectType::Schema),
                names,
                ..
            } => names
                .iter()
                .map(|n| {
                    Hit::new(format!(
                        "DROP {kind} `{n}` destroys a whole {} in a migration",
                        kind.to_string().to_lowercase()
                    ))
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, lint, rendered_report};
    use crate::Severity;
    use bascule_patch::Dialect::*;
    use bascule_patch::Mode;

    const ID: &str = "ban-drop-database";

    #[test]
    fn fires_in_every_dialect_and_mode() {
        assert_fires(1, ID, Postgres, "DROP DATABASE site_42;", &[]);
        assert_fires(1, ID, Postgres, "DROP SCHEMA tenant_7 CASCADE;", &[]);
        assert_fires(1, ID, Mysql, "DROP DATABASE IF EXISTS site_42;", &[]);
        let report = lint(Postgres, Mode::Downtime, "DROP DATABASE site_42;", &[]);
        assert_eq!(report.findings[0].severity, Severity::Error);
    }

    #[test]
    fn quiet_on_tables() {
        for dialect in [Sqlite, Mysql, Postgres] {
            assert_fires(0, ID, dialect, "DROP TABLE old_stats;", &[]);
        }
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(ID, Postgres, "DROP DATABASE site_42;", &[],));
    }
}
