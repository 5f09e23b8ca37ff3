//! `prefer-timestamptz`: a new `timestamp` (without time zone) column in PostgreSQL. (squawk:
//! `prefer-timestamptz`.)
//!
//! `timestamp` stores a wall-clock reading: the zone of whoever wrote it is lost, and the hour
//! repeated at the end of daylight saving time is ambiguous. `timestamptz` stores an instant and
//! shows it in the session's zone. New columns and `ALTER COLUMN … TYPE` are judged. Advice.

use sqlparser::ast::{AlterColumnOperation, AlterTableOperation, ColumnDef};

use super::flag_new_columns;
use crate::{Hit, Level, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct PreferTimestamptz;

impl Rule for PreferTimestamptz {
    fn id(&self) -> &'static str {
        "prefer-timestamptz"
    }
    fn summary(&self) -> &'static str {
        "new timestamp column without time zone (PostgreSQL)"
    }
    fn explanation(&self) -> &'static str {
        "timestamp (without time zone) stores a wall-clock reading with no zone: the same instant written by two servers in different zones differs, and DST changes make times ambiguous. timestamptz stores an instant."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "declare it `timestamptz` (`timestamp with time zone`)".into()
    }
    fn level(&self) -> Level {
        Level::Advice
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let mut hits = flag_new_columns(cx, flag);
        if let Some((table, ops)) = super::alter_table(cx) {
            for op in ops {
                if let AlterTableOperation::AlterColumn {
                    column_name,
                    op: AlterColumnOperation::SetDataType { data_type, .. },
                } = op
                {
                    if without_zone(data_type) {
                        hits.push(
                            Hit::new(format!(
                                "`{table}.{column_name}` becomes {data_type}, without time zone"
                            ))
                            .near(cx.text(), &column_name.value),
                        );
                    }
                }
            }
        }
        hits
    }
}

fn flag(column: &ColumnDef) -> Option<String> {
    without_zone(&column.data_type)
        .then(|| "timestamp without time zone loses the writer's zone".to_string())
}

/// `timestamp`, `timestamp(3)`, `timestamp without time zone`: not `timestamptz`.
pub fn without_zone(data_type: &sqlparser::ast::DataType) -> bool {
    let text = data_type.to_string().to_uppercase();
    text.starts_with("TIMESTAMP")
        && !text.starts_with("TIMESTAMPTZ")
        && !text.contains("WITH TIME ZONE")
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "prefer-timestamptz";

    #[test]
    fn fires_on_timestamp_without_zone() {
        assert_fires(
            2,
            ID,
            Postgres,
            "CREATE TABLE visits (at timestamp, seen timestamp(3) without time zone);",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN created timestamp DEFAULT now();",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN created TYPE timestamp;",
            &[],
        );
    }

    #[test]
    fn quiet_on_timestamptz_and_other_dialects() {
        assert_fires(
            0,
            ID,
            Postgres,
            "CREATE TABLE visits (at timestamptz, seen timestamp with time zone);",
            &[],
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN created TIMESTAMP NULL;",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "CREATE TABLE visits (at timestamp, seen timestamp(3) without time zone);",
            &[],
        ));
    }
}
