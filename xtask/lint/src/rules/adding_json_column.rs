//! `adding-json-column`: a new `json` column in PostgreSQL. (strong_migrations: `add_column`
//! with `json`.)
//!
//! `json` has no equality operator, so `SELECT DISTINCT`, `GROUP BY` or `UNION` over the table
//! start failing (the code of a release that used them breaks), and each read parses the text.
//! `jsonb` is parsed once, compares, and can be indexed with GIN. Advice.

use sqlparser::ast::ColumnDef;

use super::flag_new_columns;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingJsonColumn;

impl Rule for AddingJsonColumn {
    fn id(&self) -> &'static str {
        "adding-json-column"
    }
    fn summary(&self) -> &'static str {
        "new json column (PostgreSQL): prefer jsonb"
    }
    fn explanation(&self) -> &'static str {
        "json stores the text as written and has no equality operator: SELECT DISTINCT, GROUP BY and UNION over a table with a json column fail, and every read parses the text again. jsonb is parsed once and can be indexed."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "declare it `jsonb`".into()
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
    (column.data_type.to_string().eq_ignore_ascii_case("json"))
        .then(|| "json has no equality operator and is parsed at every read".to_string())
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-json-column";

    #[test]
    fn fires_on_json() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN prefs json;",
            &[],
        );
    }

    #[test]
    fn quiet_on_jsonb_and_other_dialects() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN prefs jsonb;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN prefs JSON;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN prefs json;",
            &[],
        ));
    }
}
