//! The zero-downtime rules, one module per rule, each with its tests beside it.
//!
//! A rule looks at one parsed statement of an `up.sql` (with the statements before it and the
//! [`History`](super::History) of earlier patches) and returns [`Hit`](super::Hit)s. The driver
//! in [`super`] turns hits into findings, grades them by the patch's mode and applies
//! suppressions. [`all`] is the registry: a rule not listed there does not run.

pub mod adding_check_constraint;
pub mod adding_field_with_volatile_default;
pub mod adding_foreign_key;
pub mod adding_json_column;
pub mod adding_not_nullable_column;
pub mod adding_serial_primary_key_field;
pub mod adding_unique_constraint;
pub mod ban_char_field;
pub mod ban_concurrent_index_creation_in_transaction;
pub mod ban_drop_database;
pub mod ban_truncate;
pub mod blocking_lock;
pub mod changing_column_type;
pub mod down_undoes_up;
pub mod dropping_column;
pub mod dropping_table;
pub mod idempotent_down;
pub mod mysql_blocking_lock;
pub mod mysql_online_ddl;
pub mod mysql_table_copy;
pub mod pg_locks;
pub mod prefer_bigint_over_int;
pub mod prefer_identity;
pub mod prefer_robust_stmts;
pub mod prefer_text_field;
pub mod prefer_timestamptz;
pub mod renaming_column;
pub mod renaming_table;
pub mod require_concurrent_detach_partition;
pub mod require_concurrent_index;
pub mod require_concurrent_index_deletion;
pub mod require_timeout;
pub mod setting_not_null;
pub mod transaction_nesting;

use super::Rule;

/// Every rule, in a stable order.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &adding_not_nullable_column::AddingNotNullableColumn,
        &setting_not_null::SettingNotNull,
        &dropping_column::DroppingColumn,
        &dropping_table::DroppingTable,
        &renaming_column::RenamingColumn,
        &renaming_table::RenamingTable,
        &changing_column_type::ChangingColumnType,
        &adding_unique_constraint::AddingUniqueConstraint,
        &adding_foreign_key::AddingForeignKey,
        &require_concurrent_index::RequireConcurrentIndex,
        &require_concurrent_index_deletion::RequireConcurrentIndexDeletion,
        &mysql_table_copy::MysqlTableCopy,
        &mysql_blocking_lock::MysqlBlockingLock,
        &adding_serial_primary_key_field::AddingSerialPrimaryKeyField,
        &adding_field_with_volatile_default::AddingFieldWithVolatileDefault,
        &adding_check_constraint::AddingCheckConstraint,
        &blocking_lock::BlockingLock,
        &require_timeout::RequireTimeout,
        &require_concurrent_detach_partition::RequireConcurrentDetachPartition,
        &ban_concurrent_index_creation_in_transaction::BanConcurrentIndexCreationInTransaction,
        &transaction_nesting::TransactionNesting,
        &ban_drop_database::BanDropDatabase,
        &ban_truncate::BanTruncate,
        &prefer_robust_stmts::PreferRobustStmts,
        &prefer_bigint_over_int::PreferBigintOverInt,
        &prefer_identity::PreferIdentity,
        &prefer_text_field::PreferTextField,
        &ban_char_field::BanCharField,
        &prefer_timestamptz::PreferTimestamptz,
        &adding_json_column::AddingJsonColumn,
        &idempotent_down::IdempotentDown,
    ]
}

/// Every id an `allow` marker accepts: the rules' and the pair check's, in a stable order.
pub fn allowable_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = all().iter().map(|r| r.id()).collect();
    ids.push(down_undoes_up::RULE);
    ids
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static dyn Rule> {
    all().iter().copied().find(|r| r.id() == id)
}

// ---------------------------------------------------------------------------------------------
// helpers shared by the rules

use sqlparser::ast::{AlterTableOperation, ColumnDef, ColumnOption, Expr, Statement};

use super::history::table_name;
use super::{Parsed, RuleContext};

/// The table and operations of an `ALTER TABLE` statement.
pub fn alter_table<'a>(cx: &'a RuleContext<'_>) -> Option<(String, &'a [AlterTableOperation])> {
    match &cx.statement.ast {
        Statement::AlterTable(alter) => Some((table_name(&alter.name), &alter.operations)),
        _ => None,
    }
}

/// Whether `table` is created by an earlier statement of the same `up.sql`: nothing reads a
/// table that did not exist, so changes to it cannot break the running code or lock it for long.
pub fn created_here(cx: &RuleContext<'_>, table: &str) -> bool {
    created_here_named(cx.before, table)
}

/// Whether one of `before` creates `table` (a name as written, possibly quoted or qualified).
pub fn created_here_named(before: &[Parsed], table: &str) -> bool {
    let table = table
        .rsplit('.')
        .next()
        .unwrap_or(table)
        .trim_matches(|c| c == '"' || c == '`')
        .to_lowercase();
    before.iter().any(|p| match &p.ast {
        Statement::CreateTable(create) => table_name(&create.name) == table,
        _ => false,
    })
}

pub fn is_not_null(column: &ColumnDef) -> bool {
    column
        .options
        .iter()
        .any(|o| matches!(o.option, ColumnOption::NotNull))
}

pub fn default_of(column: &ColumnDef) -> Option<&Expr> {
    column.options.iter().find_map(|o| match &o.option {
        ColumnOption::Default(e) => Some(e),
        _ => None,
    })
}

/// The `ALGORITHM=` of a MySQL `ALTER TABLE`, if given.
pub fn mysql_algorithm(ops: &[AlterTableOperation]) -> Option<sqlparser::ast::AlterTableAlgorithm> {
    ops.iter().find_map(|op| match op {
        AlterTableOperation::Algorithm { algorithm, .. } => Some(*algorithm),
        _ => None,
    })
}

/// The columns a statement declares: those of a `CREATE TABLE` and those of `ADD COLUMN`s, each
/// with its table.
pub fn new_columns<'a>(cx: &'a RuleContext<'_>) -> Vec<(String, &'a ColumnDef)> {
    match &cx.statement.ast {
        Statement::CreateTable(create) => {
            let table = table_name(&create.name);
            create.columns.iter().map(|c| (table.clone(), c)).collect()
        }
        Statement::AlterTable(alter) => {
            let table = table_name(&alter.name);
            alter
                .operations
                .iter()
                .filter_map(|op| match op {
                    AlterTableOperation::AddColumn { column_def, .. } => {
                        Some((table.clone(), column_def))
                    }
                    _ => None,
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The first word of a column type as sqlparser prints it, upper case (`VARCHAR(20)` →
/// `VARCHAR`, `serial` → `SERIAL`, `TIMESTAMP WITH TIME ZONE` → `TIMESTAMP`).
pub fn type_word(data_type: &sqlparser::ast::DataType) -> String {
    let text = data_type.to_string().to_uppercase();
    text.split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("")
        .to_string()
}

/// Hits for every new column whose type `flag` objects to, pointing at the column's name.
pub fn flag_new_columns(
    cx: &RuleContext<'_>,
    flag: impl Fn(&ColumnDef) -> Option<String>,
) -> Vec<super::Hit> {
    new_columns(cx)
        .into_iter()
        .filter_map(|(table, column)| {
            let why = flag(column)?;
            Some(
                super::Hit::new(format!("`{table}.{}`: {why}", column.name.value))
                    .near(cx.text(), &column.name.value),
            )
        })
        .collect()
}

/// Whether a parsed statement sets PostgreSQL's `lock_timeout` (`SET [LOCAL|SESSION]
/// lock_timeout …`).
pub fn sets_lock_timeout(statement: &Statement) -> bool {
    matches!(statement, Statement::Set(_))
        && statement
            .to_string()
            .to_lowercase()
            .contains("lock_timeout")
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Running the rules on a script in tests.
    use crate::report::render_finding;
    use crate::{lint_migration, parse_script, Finding, History, Report};
    use bascule_patch::Migration;
    use bascule_patch::{Dialect, Mode};

    /// Every finding of the linter on `up` (the down is a harmless `SELECT 1`), with `earlier`
    /// as the `up.sql` scripts of earlier patches.
    pub fn lint(dialect: Dialect, mode: Mode, up: &str, earlier: &[&str]) -> Report {
        let mut history = History::default();
        for script in earlier {
            history.learn_all(&parse_script(script, dialect));
        }
        let m = Migration::new("site", 3, "change", up, "SELECT 1;");
        let mut report = Report {
            mode,
            ..Report::default()
        };
        lint_migration(
            &m,
            dialect,
            None,
            mode,
            &history,
            &Default::default(),
            &mut report,
        );
        report
    }

    /// The findings of rule `id` on `up` in online mode.
    pub fn hits(id: &str, dialect: Dialect, up: &str, earlier: &[&str]) -> Vec<Finding> {
        let report = lint(dialect, Mode::Online, up, earlier);
        assert!(
            !report.rules().contains(&"syntax"),
            "test SQL must parse: {}",
            report.render_human()
        );
        report
            .findings
            .into_iter()
            .filter(|f| f.rule == id)
            .collect()
    }

    /// Asserts that rule `id` fires exactly `n` times on `up`.
    pub fn assert_fires(n: usize, id: &str, dialect: Dialect, up: &str, earlier: &[&str]) {
        let found = hits(id, dialect, up, earlier);
        assert_eq!(found.len(), n, "{id} on {dialect}: {up}\n{found:#?}");
    }

    /// The findings of rule `id` on `up` in online mode for a class on `server`
    /// (`"mysql 8.0"`).
    pub fn lint_on(server: &str, up: &str, earlier: &[&str], id: &str) -> Vec<Finding> {
        let server: bascule_patch::Server = server.parse().expect("a server");
        let dialect = server.flavour.dialect();
        let mut history = History::default();
        for script in earlier {
            history.learn_all(&parse_script(script, dialect));
        }
        let m = Migration::new("site", 3, "change", up, "SELECT 1;");
        let mut report = Report {
            mode: Mode::Online,
            ..Report::default()
        };
        lint_migration(
            &m,
            dialect,
            Some(server),
            Mode::Online,
            &history,
            &Default::default(),
            &mut report,
        );
        report
            .findings
            .into_iter()
            .filter(|f| f.rule == id)
            .collect()
    }

    /// What a person reads when rule `id` fires on `up` in online mode: its findings as the
    /// report renders them, for the rule's insta snapshot.
    pub fn rendered_report(id: &str, dialect: Dialect, up: &str, earlier: &[&str]) -> String {
        let found = hits(id, dialect, up, earlier);
        assert!(!found.is_empty(), "{id} does not fire on {dialect}: {up}");
        found
            .iter()
            .map(render_finding)
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}
