//! `prefer-text-field`: a new `varchar(n)` column in PostgreSQL. (squawk: `prefer-text-field`.)
//!
//! In PostgreSQL `varchar(n)` is `text` plus a length check welded to the type: widening it is
//! cheap, but shrinking it, or turning it into `text` on old versions, rewrites the table under
//! an ACCESS EXCLUSIVE lock. A `CHECK (char_length(col) <= n)` constraint does the same job and
//! changes with `NOT VALID`/`VALIDATE` without blocking. `varchar` without a length is `text`:
//! quiet. Only new columns (`CREATE TABLE`, `ADD COLUMN`) are judged. Advice.

use sqlparser::ast::ColumnDef;

use super::flag_new_columns;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct PreferTextField;

impl Rule for PreferTextField {
    fn id(&self) -> &'static str {
        "prefer-text-field"
    }
    fn summary(&self) -> &'static str {
        "new varchar(n) column (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "In PostgreSQL varchar(n) is text with a length check that only the type can change: shrinking the limit rewrites the table under an ACCESS EXCLUSIVE lock. text with a CHECK constraint is as fast and its limit changes without a rewrite."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "declare it `text`, and if the length matters, `CHECK (char_length(col) <= n)` (added NOT VALID, then VALIDATE, on an existing table)".into()
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
    let text = column.data_type.to_string().to_uppercase();
    let varchar = text.starts_with("VARCHAR")
        || text.starts_with("CHARACTER VARYING")
        || text.starts_with("CHAR VARYING");
    (varchar && text.contains('(')).then(|| {
        format!(
            "{}: changing its limit later rewrites the table under lock",
            column.data_type
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, hits, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "prefer-text-field";

    #[test]
    fn fires_on_varchar_with_a_limit() {
        assert_fires(
            2,
            ID,
            Postgres,
            "CREATE TABLE badges (id bigint, name varchar(50), code character varying(8));",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN nick varchar(30);",
            &[],
        );
    }

    #[test]
    fn quiet_on_text_and_unbounded_varchar_and_other_dialects() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN nick text CHECK (char_length(nick) <= 30), \
             ADD COLUMN note varchar;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN nick VARCHAR(30);",
            &[],
        );
    }

    #[test]
    fn points_at_the_column_line_not_at_a_table_name_holding_the_column_name() {
        let found = hits(
            ID,
            Postgres,
            "CREATE TABLE user_names (\n  id bigint,\n  name varchar(50)\n);",
            &[],
        );
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].column), (3, 3));
        assert_eq!(found[0].excerpt, "  name varchar(50)");
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE TABLE badges (id bigint, name varchar(50), code character varying(8));",
            &[],
        ));
    }
}
