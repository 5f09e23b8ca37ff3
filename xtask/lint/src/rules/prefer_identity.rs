//! `prefer-identity`: a new `serial`/`bigserial`/`smallserial` column in PostgreSQL. (squawk:
//! `prefer-identity`.)
//!
//! `serial` is a shorthand for a sequence plus a default: the sequence has its own permissions,
//! is copied separately, and explicit inserts can collide with it. `GENERATED … AS IDENTITY`
//! (PostgreSQL 10+) is the SQL-standard column that owns its sequence. Advice.

use sqlparser::ast::ColumnDef;

use super::flag_new_columns;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct PreferIdentity;

impl Rule for PreferIdentity {
    fn id(&self) -> &'static str {
        "prefer-identity"
    }
    fn summary(&self) -> &'static str {
        "new serial column (PostgreSQL): prefer an identity column"
    }
    fn explanation(&self) -> &'static str {
        "serial creates a sequence the table does not own in the SQL standard sense: its permissions, its dump and its copy with CREATE TABLE LIKE are separate, and nothing stops a manual insert from colliding with it. An identity column is the standard form, owned by the column."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "declare it `bigint GENERATED ALWAYS AS IDENTITY` (or `BY DEFAULT` if rows are inserted with explicit ids)".into()
    }
    fn level(&self) -> Level {
        Level::Advice
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        flag_new_columns(cx, flag)
    }
}

fn flag(column: &ColumnDef) -> Option<String> {
    let word = super::type_word(&column.data_type);
    matches!(
        word.as_str(),
        "SERIAL" | "SERIAL2" | "SERIAL4" | "SERIAL8" | "SMALLSERIAL" | "BIGSERIAL"
    )
    .then(|| {
        format!(
            "{} makes a sequence the column does not own",
            column.data_type
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "prefer-identity";

    #[test]
    fn fires_on_serial_types() {
        assert_fires(
            2,
            ID,
            Postgres,
            "CREATE TABLE badges (id bigserial PRIMARY KEY, n serial);",
            &[],
        );
    }

    #[test]
    fn quiet_on_identity_columns() {
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE badges (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE TABLE badges (id bigserial PRIMARY KEY, n serial);",
            &[],
        ));
    }
}
