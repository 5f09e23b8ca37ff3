//! What earlier patches of the same repo did to a database class: the facts that make a later
//! phase of a multi-phase change safe.
//!
//! The earlier patches are the sibling directories of the patch being linted
//! (`patches/1.1.0/` beside `patches/1.2.0/`) whose `patch.toml` loads and whose version is lower.
//! What counts as "phase 1 shipped":
//!
//! - **written** columns — added (`ADD COLUMN`, not with `CREATE TABLE`) or backfilled (`UPDATE … SET col =`)
//!   by an earlier patch: the code now running already fills them, so `SET NOT NULL` is safe;
//! - **retired** columns — made nullable by an earlier patch (`ALTER COLUMN … DROP NOT NULL`,
//!   MySQL `MODIFY`/`CHANGE` without `NOT NULL`), or named by a
//!   `-- bascule:phase unused <table>.<column>` marker: the code now running neither needs nor reads them, so dropping them
//!   is safe; **retired** tables — named by `-- bascule:phase unused <table>`;
//! - column **types** as last declared, so a rule can tell a widening from a change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnDef, ColumnOption, Ident, ObjectName,
    Statement,
};

use super::{parse_script, Parsed};
use bascule_patch::{marker_argument, marker_name, Dialect, Patch, PHASE};

/// Facts about one class gathered from earlier patches.
#[derive(Debug, Clone, Default)]
pub struct History {
    written: BTreeSet<(String, String)>,
    retired_columns: BTreeSet<(String, String)>,
    retired_tables: BTreeSet<String>,
    nullable: BTreeMap<(String, String), bool>,
    types: BTreeMap<(String, String), String>,
}

impl History {
    /// The history of `class` in `earlier`, in version order.
    pub fn of_class(earlier: &[Patch], class: &str, dialect: Dialect) -> History {
        let mut patches: Vec<&Patch> = earlier.iter().collect();
        patches.sort_by(|a, b| a.version().cmp(b.version()));
        let mut history = History::default();
        for patch in patches {
            let Some(set) = patch.migrations.class(class) else {
                continue;
            };
            for m in &set.migrations {
                history.learn_all(&parse_script(&m.up, dialect));
            }
        }
        history
    }

    /// Learns from statements, in order.
    pub fn learn_all(&mut self, statements: &[Parsed]) {
        for s in statements {
            self.learn(s);
        }
    }

    /// Learns what one statement of an earlier patch did.
    pub fn learn(&mut self, s: &Parsed) {
        for marker in &s.sql.markers {
            if let Some(what) = (marker_name(marker) == PHASE)
                .then(|| marker_argument(marker))
                .and_then(|m| m.strip_prefix("unused"))
            {
                let name = what.split_whitespace().next().unwrap_or("");
                match name.split_once('.') {
                    Some((t, c)) => {
                        self.retired_columns
                            .insert((t.to_lowercase(), c.to_lowercase()));
                    }
                    None if !name.is_empty() => {
                        self.retired_tables.insert(name.to_lowercase());
                    }
                    None => {}
                }
            }
        }
        match &s.ast {
            Statement::CreateTable(create) => {
                let table = table_name(&create.name);
                for column in &create.columns {
                    self.declare(&table, column, false);
                }
            }
            Statement::AlterTable(alter) => {
                let table = table_name(&alter.name);
                for op in &alter.operations {
                    self.learn_op(&table, op);
                }
            }
            Statement::Update(update) => {
                let table = update.table.relation.to_string();
                let table = last_part(&table);
                for assignment in &update.assignments {
                    let column = assignment.target.to_string();
                    self.written.insert((table.clone(), last_part(&column)));
                }
            }
            _ => {}
        }
    }

    fn learn_op(&mut self, table: &str, op: &AlterTableOperation) {
        match op {
            AlterTableOperation::AddColumn { column_def, .. } => {
                self.declare(table, column_def, true)
            }
            AlterTableOperation::AlterColumn { column_name, op } => {
                let key = (table.to_string(), ident(column_name));
                match op {
                    AlterColumnOperation::DropNotNull => {
                        self.retired_columns.insert(key.clone());
                        self.nullable.insert(key, true);
                    }
                    AlterColumnOperation::SetNotNull => {
                        self.nullable.insert(key, false);
                    }
                    AlterColumnOperation::SetDataType { data_type, .. } => {
                        self.types.insert(key, data_type.to_string());
                    }
                    _ => {}
                }
            }
            AlterTableOperation::ModifyColumn {
                col_name,
                data_type,
                options,
                ..
            } => self.redeclare(table, col_name, data_type, options),
            AlterTableOperation::ChangeColumn {
                new_name,
                data_type,
                options,
                ..
            } => self.redeclare(table, new_name, data_type, options),
            _ => {}
        }
    }

    /// A column declared with its type; `added` when by `ADD COLUMN` (phase 1 of the seed: the
    /// code shipped with it writes it), not when it came with its table.
    fn declare(&mut self, table: &str, column: &ColumnDef, added: bool) {
        let key = (table.to_string(), ident(&column.name));
        let not_null = column.options.iter().any(|o| {
            matches!(
                o.option,
                ColumnOption::NotNull | ColumnOption::PrimaryKey(_)
            )
        });
        if added {
            self.written.insert(key.clone());
        }
        self.nullable.insert(key.clone(), !not_null);
        self.types.insert(key, column.data_type.to_string());
    }

    fn redeclare(
        &mut self,
        table: &str,
        column: &Ident,
        data_type: &sqlparser::ast::DataType,
        options: &[ColumnOption],
    ) {
        let key = (table.to_string(), ident(column));
        let not_null = options.iter().any(|o| matches!(o, ColumnOption::NotNull));
        if !not_null {
            self.retired_columns.insert(key.clone());
        }
        self.nullable.insert(key.clone(), !not_null);
        self.types.insert(key, data_type.to_string());
    }

    /// An earlier patch added or backfilled `table.column`: the running code writes it.
    pub fn written(&self, table: &str, column: &str) -> bool {
        self.written
            .contains(&(table.to_lowercase(), column.to_lowercase()))
    }

    /// An earlier patch made `table.column` nullable or marked it unused.
    pub fn column_retired(&self, table: &str, column: &str) -> bool {
        self.retired_columns
            .contains(&(table.to_lowercase(), column.to_lowercase()))
    }

    /// An earlier patch marked `table` unused.
    pub fn table_retired(&self, table: &str) -> bool {
        self.retired_tables.contains(&table.to_lowercase())
    }

    /// Whether `table.column` is nullable as last declared, if known.
    pub fn nullable(&self, table: &str, column: &str) -> Option<bool> {
        self.nullable
            .get(&(table.to_lowercase(), column.to_lowercase()))
            .copied()
    }

    /// The type of `table.column` as last declared (sqlparser's rendering), if known.
    pub fn column_type(&self, table: &str, column: &str) -> Option<&str> {
        self.types
            .get(&(table.to_lowercase(), column.to_lowercase()))
            .map(String::as_str)
    }
}

/// The sibling patch sources of `patch` with lower versions; those that fail to load are skipped.
pub fn earlier_patches(patch: &Patch) -> Vec<Patch> {
    let Some(parent) = patch.dir.parent() else {
        return Vec::new();
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut earlier: Vec<Patch> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(bascule_patch::PATCH_FILE).is_file())
        .filter_map(|p| Patch::load(&p).ok())
        .filter(|p| p.version() < patch.version())
        .collect();
    earlier.sort_by(|a, b| a.version().cmp(b.version()));
    earlier
}

/// An identifier as the database folds it for comparison: lower case, unquoted.
pub fn ident(i: &Ident) -> String {
    i.value.to_lowercase()
}

/// The table part of a possibly qualified name (`public.members` → `members`), lower case.
pub fn table_name(name: &ObjectName) -> String {
    last_part(&name.to_string())
}

pub(crate) fn last_part(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        .to_lowercase()
}
