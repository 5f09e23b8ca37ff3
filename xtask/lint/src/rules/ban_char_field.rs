//! `ban-char-field`: a new `char(n)` / `character(n)` column in PostgreSQL. (squawk:
//! `ban-char-field`.)
//!
//! `char(n)` pads values with spaces, drops trailing spaces when compared and cast, and is stored
//! like `text`: it brings no speed and several surprises. Only new columns are judged. Advice.

use sqlparser::ast::ColumnDef;

use super::flag_new_columns;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct BanCharField;

impl Rule for BanCharField {
    fn id(&self) -> &'static str {
        "ban-char-field"
    }
    fn summary(&self) -> &'static str {
        "new char(n) column (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "char(n) pads every value with spaces to n characters, compares ignoring them, and is no faster than text in PostgreSQL: it only surprises."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "declare it `text` (with a `CHECK (char_length(col) = n)` if the length is fixed)".into()
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
    let char =
        (text.starts_with("CHAR") && !text.contains("VARYING")) || text.starts_with("BPCHAR");
    (char && !text.starts_with("CHARACTER LARGE")).then(|| {
        format!(
            "{} pads values with spaces and is no faster than text",
            column.data_type
        )
    })
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "ban-char-field";

    #[test]
    fn fires_on_char_columns() {
        assert_fires(
            2,
            ID,
            Postgres,
            "CREATE TABLE countries (code char(2), iso character(3), name text);",
            &[],
        );
    }

    #[test]
    fn quiet_on_text_varchar_and_other_dialects() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN country text, ADD COLUMN region varchar;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN country CHAR(2);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE TABLE countries (code char(2), iso character(3), name text);",
            &[],
        ));
    }
}
