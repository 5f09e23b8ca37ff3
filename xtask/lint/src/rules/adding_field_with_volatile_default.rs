//! `adding-field-with-volatile-default`: on PostgreSQL 11+, `ADD COLUMN … DEFAULT <constant>`
//! is metadata only, but a volatile default (`random()`, `gen_random_uuid()`,
//! `clock_timestamp()`, `nextval(…)`, …) is computed for every existing row: the table is
//! rewritten under an ACCESS EXCLUSIVE lock. Stable functions (`now()`, `current_timestamp`) are
//! fine. (squawk: `adding-field-with-default`; strong_migrations: `add_column_default`.)

use sqlparser::ast::{AlterTableOperation, Expr};

use super::{alter_table, created_here, default_of};
use crate::{Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct AddingFieldWithVolatileDefault;

/// Functions whose value is the same for every row of one statement.
const STABLE: &[&str] = &[
    "now",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp",
    "statement_timestamp",
    "current_user",
    "lower",
    "upper",
];

impl Rule for AddingFieldWithVolatileDefault {
    fn id(&self) -> &'static str {
        "adding-field-with-volatile-default"
    }
    fn summary(&self) -> &'static str {
        "adding a column with a volatile default rewrites the table"
    }
    fn explanation(&self) -> &'static str {
        "A volatile default is evaluated for each existing row, so PostgreSQL rewrites the whole \
         table while holding ACCESS EXCLUSIVE."
    }
    fn recipe(&self, _dialect: Dialect) -> String {
        "add the column without a default (or with a constant one), set the default in a second \
         statement (applies to new rows only), then backfill existing rows in batches"
            .into()
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        ops.iter()
            .filter_map(|op| match op {
                AlterTableOperation::AddColumn { column_def, .. } => {
                    let default = default_of(column_def)?;
                    volatile(default).then(|| {
                        Hit::new(format!(
                            "the default of `{table}.{}` ({default}) is volatile: every row is \
                             rewritten",
                            column_def.name.value
                        ))
                        .near(cx.text(), "DEFAULT")
                    })
                }
                _ => None,
            })
            .collect()
    }
}

/// Whether an expression calls a function not known to be stable (also how `pg_locks` tells a
/// rewriting `ADD COLUMN … DEFAULT` from a catalog-only one).
pub(crate) fn volatile(e: &Expr) -> bool {
    match e {
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            !STABLE.contains(&name.as_str())
        }
        Expr::Cast { expr, .. } | Expr::Nested(expr) | Expr::UnaryOp { expr, .. } => volatile(expr),
        Expr::BinaryOp { left, right, .. } => volatile(left) || volatile(right),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::rules::test_support::{assert_fires, rendered_report};
    use bascule_patch::Dialect::*;

    const ID: &str = "adding-field-with-volatile-default";

    #[test]
    fn fires_on_volatile_defaults() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN r float DEFAULT random() * 10;",
            &[],
        );
    }

    #[test]
    fn quiet_on_constants_and_stable_functions() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN n int DEFAULT 0;",
            &[],
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN at timestamptz DEFAULT now();",
            &[],
        );
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ADD COLUMN token uuid DEFAULT gen_random_uuid();",
            &[],
        ));
    }
}
