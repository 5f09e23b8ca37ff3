//! `prefer-bigint-over-int`: a new integer primary key narrower than 64 bits. (squawk:
//! `prefer-bigint-over-int`, which takes every integer column; strong_migrations has no check.)
//!
//! A 32-bit key runs out at 2 147 483 647 rows (inserts then fail), and widening the key later
//! rewrites the table and every foreign key pointing at it: the most expensive schema change
//! there is, forced at the worst moment. Only *new* keys are judged (a `CREATE TABLE`, an `ADD
//! COLUMN … PRIMARY KEY`): existing ones are what they are. SQLite is not checked: its `INTEGER
//! PRIMARY KEY` is the 64-bit rowid. Advice: a warning in every mode.

use sqlparser::ast::{ColumnDef, ColumnOption, Statement, TableConstraint};

use super::{new_columns, type_word};
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct PreferBigintOverInt;

/// Integer types narrower than 64 bits, as [`type_word`] prints them.
const NARROW: &[&str] = &[
    "INT",
    "INTEGER",
    "INT2",
    "INT4",
    "SMALLINT",
    "MEDIUMINT",
    "TINYINT",
    "SERIAL",
    "SERIAL2",
    "SERIAL4",
    "SMALLSERIAL",
];

impl Rule for PreferBigintOverInt {
    fn id(&self) -> &'static str {
        "prefer-bigint-over-int"
    }
    fn summary(&self) -> &'static str {
        "new primary key narrower than BIGINT"
    }
    fn explanation(&self) -> &'static str {
        "A 32-bit key overflows at about 2.1 billion rows and inserts fail; widening it later \
         rewrites the table and every table whose foreign keys point at it."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        match dialect {
            Dialect::Postgres => {
                "declare the key `bigint GENERATED ALWAYS AS IDENTITY` (or `bigint`)"
            }
            _ => "declare the key `BIGINT` (`BIGINT UNSIGNED AUTO_INCREMENT`)",
        }
        .into()
    }
    fn level(&self) -> Level {
        Level::Advice
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let table_keys = table_key_columns(&cx.statement.ast);
        new_columns(cx)
            .into_iter()
            .filter(|(_, c)| is_key(c) || table_keys.contains(&c.name.value.to_lowercase()))
            .filter(|(_, c)| NARROW.contains(&type_word(&c.data_type).as_str()))
            .map(|(table, c)| {
                Hit::new(format!(
                    "primary key `{table}.{}` is {}: it overflows at about 2.1 billion rows",
                    c.name.value, c.data_type
                ))
                .near(cx.text(), &c.name.value)
            })
            .collect()
    }
}

fn is_key(column: &ColumnDef) -> bool {
    column
        .options
        .iter()
        .any(|o| matches!(o.option, ColumnOption::PrimaryKey(_)))
}

/// The single column of a `CREATE TABLE`'s `PRIMARY KEY (col)` constraint, lower case.
fn table_key_columns(statement: &Statement) -> Vec<String> {
    let Statement::CreateTable(create) = statement else {
        return Vec::new();
    };
    create
        .constraints
        .iter()
        .filter_map(|c| match c {
            TableConstraint::PrimaryKey(pk) if pk.columns.len() == 1 => Some(
                pk.columns[0]
                    .to_string()
                    .trim_matches(|c| c == '"' || c == '`')
                    .to_lowercase(),
            ),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "prefer-bigint-over-int";

    #[test]
    fn fires_on_narrow_new_keys() {
        assert_fires(
            1,
            ID,
            Postgres,
            "CREATE TABLE badges (id serial PRIMARY KEY);",
            &[],
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "CREATE TABLE badges (id INT UNSIGNED NOT NULL AUTO_INCREMENT, name TEXT, PRIMARY KEY (id));",
            &[],
        );
    }

    #[test]
    fn quiet_on_bigint_keys_other_columns_and_sqlite() {
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE badges (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, n int);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "CREATE TABLE badges (id BIGINT PRIMARY KEY, n INT);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Sqlite,
            "CREATE TABLE badges (id INTEGER PRIMARY KEY);",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE TABLE badges (id serial PRIMARY KEY);",
            &[],
        ));
    }
}
