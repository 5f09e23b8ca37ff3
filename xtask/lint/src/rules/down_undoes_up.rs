//! The static "down undoes up" check (`down-undoes-up`).
//!
//! A rollback runs `down.sql`; if it forgets to drop the index `up.sql` created, the next apply of
//! the same patch fails on "index already exists", and if it drops a table `up.sql` never made,
//! a rollback destroys data. The dynamic round-trip check finds such mistakes on a scratch
//! database; this one finds the common ones without a database, in every dialect, at lint time.
//!
//! # How
//!
//! Both scripts are split and read statement by statement — sqlparser's AST, or the recognizer's
//! description for the forms sqlparser lacks ([`bascule_sql::recognize`](mod@bascule_sql::recognize)) — into `Effect`s on
//! named schema objects: a table, view, index, trigger, routine, sequence or type created or
//! dropped; a column added, dropped, renamed or retyped; a named constraint added or dropped; a
//! table or index renamed. Then:
//!
//! - every object the up **creates** must be dropped by the down — or go with a table the up
//!   also created and the down drops (dropping a table drops its columns, indexes, triggers and
//!   constraints);
//! - every object the up **drops** must be created again by the down (the data is gone; the
//!   schema at least must come back);
//! - every **rename** `a → b` must be renamed back `b → a`;
//! - every **type change** of a column must be followed in the down by a type change of the same
//!   column. The old type is not in the up, so it cannot be compared; a down that "restores" the
//!   very type the up set is reported. A column the up itself added (or whose table it created)
//!   has no earlier type: its drop in the down is enough;
//! - a primary key added under a name (`ADD CONSTRAINT members_pkey PRIMARY KEY`) is undone by
//!   `DROP CONSTRAINT members_pkey` as well as by MySQL's `DROP PRIMARY KEY`; an unnamed one by
//!   `DROP CONSTRAINT <table>_pkey`, the name PostgreSQL gives it;
//! - whatever the down **drops** that the up did not create is reported: a rollback that
//!   destroys data the release found there;
//! - what a script makes and removes itself asks nothing of the other: a helper routine the up
//!   creates, `CALL`s and drops (a `DROP … IF EXISTS` before its `CREATE` is its guard);
//! - an index or constraint goes with the column it covers: dropping the column in the down
//!   undoes an index the up made on it (PostgreSQL: on any of its columns; MySQL: on all of
//!   them; SQLite refuses to drop an indexed column, so there the index must be dropped first);
//! - a change of nullability (`MODIFY c INT NOT NULL`, `ALTER COLUMN c SET NOT NULL`) is undone
//!   by the opposite one (`MODIFY c INT NULL`, `DROP NOT NULL`);
//! - a `DROP COLUMN` whose guard looks the column up in `INFORMATION_SCHEMA.STATISTICS` (which
//!   lists indexed columns only) is reported: without an index the column is never dropped;
//! - with the earlier migrations of the class ([`KnownIndexes`]), an index the up drops and the
//!   down creates on other columns than it had is reported ([`check_restored_indexes`]);
//! - when the class's whole history is in the patch ([`KnownObjects`]), a `DROP … IF EXISTS` of
//!   what no earlier migration made (a legacy clean-up) is a no-op and asks nothing of the down;
//! - a table renamed out of the way and dropped is that table dropped (the rename, create, copy,
//!   drop rebuild), and a down that cannot all be read is not judged on what it leaves out.
//!
//! The DDL the SQL checker finds inside other statements — the string a MySQL `PREPARE` runs,
//! a PostgreSQL `DO` block, the body of a procedure the script calls — is read like written
//! DDL, so the idempotent idiom's `CREATE INDEX` pairs with its `DROP INDEX`.
//!
//! Data statements (`INSERT`, `UPDATE`, `DELETE`) and what the check does not model (grants,
//! comments, options) need no mirror. Names compare case-insensitively, without quotes or schema
//! (`public.members` is `members`). Statements that do not parse are left to the parse step; when
//! the up has one (or a `-- bascule:raw` one), the down's drops are not judged, since the
//! unread statement may be what created them.
//! A finding is silenced like a rule's, with `-- bascule:allow down-undoes-up <reason>`: on the
//! statement it points at, or — for what the down fails to undo, which points at the up — on a
//! down statement acting on the same object. A migration that cannot be undone at all is declared
//! `-- bascule:irreversible <reason>` instead, and this check is skipped for it.

use std::collections::{HashMap, HashSet};
use std::fmt;

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, ColumnOption, Expr, IndexColumn, ObjectName,
    ObjectType, RenameTableNameKind, Statement, TableConstraint,
};

use crate::{Finding, Severity};
use bascule_patch::Dialect;
use bascule_patch::Migration;
use bascule_sql::{
    check_script, AlterAction, CheckedStatement, Reading, RecognizedKind, RoutineKind,
};

/// The id of this check's findings.
pub const RULE: &str = "down-undoes-up";

/// One line on what the check finds, for `cargo xtask lint --rules`.
pub const SUMMARY: &str = "down.sql undoes what up.sql does, object by object";

/// What `cargo xtask lint --explain down-undoes-up` says: why, and what to do.
pub const EXPLANATION: &str = "\
A rollback runs down.sql. A down that forgets to drop what the up created makes the next apply
of the patch fail (\"already exists\"); a down that drops what the up never made destroys data the
release found there; a rename or type change not undone leaves the old code facing a schema it
does not know. Every object up.sql creates, drops, renames or retypes must be undone by down.sql:
what goes with a table goes with its drop, an index goes with the column it covers, a helper
routine the up creates and drops itself asks nothing, and a nullability change is undone by the
opposite one. The DDL inside a MySQL PREPARE string, a PostgreSQL DO block or a called procedure
is read like written DDL. `cargo xtask check-migrations` runs the same round trip on a real
database.";

/// What to do when the check fires.
pub const RECIPE: &str = "\
Add to down.sql the statement that undoes the object the finding names (DROP INDEX for a CREATE
INDEX, the old definition for a changed one). A migration that truly cannot be undone (a legacy
clean-up) declares it: -- bascule:irreversible <reason>; bascule rollback then refuses to go past
it.";

/// The findings of the pair check for one migration: errors, one per thing the down fails to
/// undo or undoes without the up having done it, each with the reason of the
/// `-- bascule:allow down-undoes-up <reason>` that silences it, if one does (on the up statement
/// the finding is about, or on a down statement acting on the same object; see
/// [`crate::suppressions`]).
pub fn check_pair(
    m: &Migration,
    dialect: Dialect,
    known: &KnownObjects,
) -> Vec<(Finding, Option<String>)> {
    let (up, up_complete) = effects(&m.up, dialect, &m.up_path());
    let (down, down_complete) = effects(&m.down, dialect, &m.down_path());
    let up_transient = transient(&up);
    let down_transient = transient(&down);
    let mut findings = Vec::new();
    let created_tables: HashSet<&str> = up
        .iter()
        .filter_map(|e| match &e.effect {
            Effect::Create(Object::Table(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    let dropped_by_down = |object: &Object| {
        down.iter().any(|d| match &d.effect {
            Effect::Drop(o) => o.same(object),
            _ => false,
        })
    };
    let created_by_up = |object: &Object| {
        up.iter()
            .any(|u| matches!(&u.effect, Effect::Create(o) if o.same(object)))
            || object.table().is_some_and(|t| created_tables.contains(t))
    };
    // An index or constraint goes with the columns it covers: PostgreSQL drops it with any of
    // them, MySQL with the last of them; SQLite refuses to drop an indexed column.
    let goes_with_its_columns = |object: &Object| {
        up.iter().any(|u| match &u.effect {
            Effect::Covers {
                object: o,
                table,
                columns,
            } if o.same(object) && !columns.is_empty() => {
                let dropped =
                    |c: &String| dropped_by_down(&Object::Column(table.clone(), c.clone()));
                match dialect {
                    Dialect::Postgres => columns.iter().any(dropped),
                    Dialect::Mysql => columns.iter().all(dropped),
                    Dialect::Sqlite => false,
                }
            }
            _ => false,
        })
    };
    // Whatever the up does inside a table it creates (`CREATE TABLE IF NOT EXISTS` then a legacy
    // column dropped, an index made) goes with that table when the down drops it.
    let goes_with_table = |object: &Object| {
        object.table().is_some_and(|t| {
            created_tables.contains(t) && dropped_by_down(&Object::Table(t.to_string()))
        })
    };
    // A down statement that could not be read (text known only at run time, a procedure whose
    // body builds its SQL) may be what undoes any of the up's effects: none is judged missing.
    for (i, u) in up.iter().enumerate().filter(|_| down_complete) {
        if up_transient.contains(&i) {
            continue;
        }
        let missing = match &u.effect {
            Effect::Create(object) => {
                let goes_with_table = goes_with_table(object);
                // `CREATE OR REPLACE` of a view or routine is undone by the previous definition.
                let replaced_back = matches!(
                    object,
                    Object::View(_) | Object::Routine(_) | Object::Trigger(..)
                ) && down
                    .iter()
                    .any(|d| matches!(&d.effect, Effect::Create(o) if o.same(object)));
                let undone = dropped_by_down(object)
                    || goes_with_table
                    || replaced_back
                    || goes_with_its_columns(object);
                (!undone).then(|| {
                    format!(
                        "down.sql does not drop {object} created by up.sql:{}",
                        u.line
                    )
                })
            }
            Effect::Drop(object) if goes_with_table(object) => None,
            // A legacy clean-up: nothing the migrations built has it.
            Effect::Drop(object) if u.if_exists && known.never_had(object) => None,
            Effect::Drop(object) => {
                let recreated = down
                    .iter()
                    .any(|d| matches!(&d.effect, Effect::Create(o) if o.same(object)));
                (!recreated).then(|| {
                    format!(
                        "down.sql does not create again {object} dropped by up.sql:{}",
                        u.line
                    )
                })
            }
            Effect::Rename { to, .. } if goes_with_table(to) => None,
            Effect::Rename { from, to } => {
                let renamed_back = down.iter().any(|d| {
                    matches!(&d.effect, Effect::Rename { from: f, to: t } if f.same(to) && t.same(from))
                });
                // Or the kept copy dropped and the original made again (a rebuilt table).
                let rebuilt = dropped_by_down(to)
                    && down
                        .iter()
                        .any(|d| matches!(&d.effect, Effect::Create(o) if o.same(from)));
                let back = renamed_back || rebuilt;
                (!back).then(|| {
                    format!(
                        "down.sql does not rename {to} back to {} (renamed by up.sql:{})",
                        from.name(),
                        u.line
                    )
                })
            }
            Effect::Covers { .. } => None,
            // A column the up adds (or whose table it creates) goes away with its drop in the
            // down: there is no earlier type or nullability to restore.
            Effect::Retype { column, .. } | Effect::Nullability { column, .. }
                if created_by_up(column) =>
            {
                None
            }
            Effect::Nullability { column, not_null } => {
                let restored = down.iter().any(|d| match &d.effect {
                    Effect::Nullability {
                        column: c,
                        not_null: back,
                    } => c.same(column) && back != not_null,
                    Effect::Retype {
                        column: c,
                        not_null: back,
                        ..
                    } => c.same(column) && *back != Some(*not_null),
                    _ => false,
                });
                let wanted = if *not_null { "DROP" } else { "SET" };
                (!restored).then(|| {
                    format!(
                        "down.sql does not {wanted} NOT NULL on {column} again, changed by up.sql:{}",
                        u.line
                    )
                })
            }
            Effect::Retype {
                column,
                to,
                not_null,
            } => {
                let restore = down.iter().find(
                    |d| matches!(&d.effect, Effect::Retype { column: c, .. } if c.same(column)),
                );
                match restore {
                    None => Some(format!(
                        "down.sql does not restore the type of {column}, changed to {to} by up.sql:{}",
                        u.line
                    )),
                    // The same type and the same nullability: nothing is restored. A `MODIFY`
                    // that only changes nullability (`INT NOT NULL` → `INT NULL`) does restore.
                    Some(Located {
                        effect:
                            Effect::Retype {
                                to: back,
                                not_null: back_not_null,
                                ..
                            },
                        line,
                        ..
                    }) if back.eq_ignore_ascii_case(to) && back_not_null == not_null => {
                        Some(format!(
                            "down.sql:{line} sets {column} to {back}, the type up.sql:{} gives it: \
                             the old type is not restored",
                            u.line
                        ))
                    }
                    Some(_) => None,
                }
            }
        };
        if let Some(message) = missing {
            let about = u.effect.objects();
            let allow = u.allow.clone().or_else(|| {
                down.iter()
                    .filter(|d| {
                        d.effect
                            .objects()
                            .iter()
                            .any(|o| about.iter().any(|x| x.same(o)))
                    })
                    .find_map(|d| d.allow.clone())
            });
            findings.push((
                Finding::at(
                    RULE,
                    Severity::Error,
                    &m.up_path(),
                    &m.up,
                    u.offset,
                    message,
                )
                .with_help(
                    "write in down.sql, in reverse order, the statement that undoes each \
                         statement of up.sql",
                ),
                allow,
            ));
        }
    }
    for (i, d) in down.iter().enumerate() {
        let Effect::Drop(object) = &d.effect else {
            continue;
        };
        // What the down makes for itself and drops (a helper routine) is its own business.
        if down_transient.contains(&i) {
            continue;
        }
        let created = up.iter().any(|u| match &u.effect {
            Effect::Create(o) | Effect::Rename { to: o, .. } => o.same(object),
            _ => false,
        }) || object.table().is_some_and(|t| created_tables.contains(t));
        // A `DROP … IF EXISTS` of what no migration ever made does nothing.
        let no_op = d.if_exists && known.never_had(object);
        // An up statement that could not be read may be the one that created it.
        if !created && up_complete && !no_op {
            findings.push((
                Finding::at(
                    RULE,
                    Severity::Error,
                    &m.down_path(),
                    &m.down,
                    d.offset,
                    format!("down.sql drops {object}, which up.sql did not create: a rollback would destroy data the release found"),
                )
                .with_help(
                    "a down script undoes its own up script only; drop only what up.sql creates",
                ),
                d.allow.clone(),
            ));
        }
    }
    for (path, script) in [(m.up_path(), &m.up), (m.down_path(), &m.down)] {
        findings.extend(statistics_guards(&path, script, dialect));
    }
    findings
}

/// The indexes (and keys) the earlier migrations of a class created and did not drop: name →
/// definition. What [`check_restored_indexes`] compares a down's re-creation with.
#[derive(Debug, Clone, Default)]
pub struct KnownIndexes(HashMap<String, IndexDefinition>);

/// How an index was created: its table, its columns and the migration that created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDefinition {
    pub table: String,
    pub columns: Vec<String>,
    pub migration: String,
}

impl KnownIndexes {
    /// Learns what `m`'s up does to indexes (run it on each migration, in order, after
    /// checking it).
    pub fn learn(&mut self, m: &Migration, dialect: Dialect) {
        let name = migration_name(m);
        for located in effects(&m.up, dialect, &m.up_path()).0 {
            match located.effect {
                Effect::Covers {
                    object: Object::Index(index, _) | Object::Constraint(index, _),
                    table,
                    columns,
                } if !columns.is_empty() => {
                    let definition = IndexDefinition {
                        table,
                        columns,
                        migration: name.clone(),
                    };
                    self.0.insert(index, definition);
                }
                Effect::Drop(Object::Index(index, _) | Object::Constraint(index, _)) => {
                    self.0.remove(&index);
                }
                _ => {}
            }
        }
    }
}

/// The schema objects the earlier migrations of a class leave behind, when the class's history
/// starts at its first migration (number 1) in this patch: then a `DROP … IF EXISTS` of an
/// object none of them created is a no-op on every database the migrations built (a project's
/// legacy clean-up), and asks nothing of the down. Without the whole history nothing is known
/// ([`KnownObjects::default`]), and every drop is judged.
#[derive(Debug, Clone, Default)]
pub struct KnownObjects {
    objects: Vec<Object>,
    complete: bool,
}

impl KnownObjects {
    /// Nothing yet, and a history that starts at `first`, the class's first migration number
    /// in the patch: complete when it is 1.
    pub fn starting_at(first: u32) -> KnownObjects {
        KnownObjects {
            objects: Vec::new(),
            complete: first == 1,
        }
    }

    /// Learns what `m`'s up leaves (run it on each migration, in order, after checking it).
    pub fn learn(&mut self, m: &Migration, dialect: Dialect) {
        for located in effects(&m.up, dialect, &m.up_path()).0 {
            match located.effect {
                Effect::Create(o) | Effect::Covers { object: o, .. } => self.objects.push(o),
                Effect::Drop(o) => self.objects.retain(|k| !k.same(&o)),
                Effect::Rename { from, to } => {
                    self.objects.retain(|k| !k.same(&from));
                    self.objects.push(to);
                }
                _ => {}
            }
        }
    }

    /// Whether no earlier migration of a complete history left `object` (or the table it
    /// belongs to) behind.
    fn never_had(&self, object: &Object) -> bool {
        self.complete
            && !self.objects.iter().any(|k| k.same(object))
            && object.table().is_none_or(|t| {
                !self
                    .objects
                    .iter()
                    .any(|k| k.same(&Object::Table(t.to_string())))
            })
    }
}

fn migration_name(m: &Migration) -> String {
    m.dir
        .file_name()
        .map_or_else(|| m.name.clone(), |n| n.to_string_lossy().into_owned())
}

/// An index the up drops and the down creates again on other columns than an earlier migration
/// gave it (a typo'd column, a copy of the neighbouring index): the rollback "succeeds" and leaves
/// a different schema. Needs the earlier migrations' indexes (`known`); an index of unknown
/// origin is not judged.
pub fn check_restored_indexes(
    m: &Migration,
    dialect: Dialect,
    known: &KnownIndexes,
) -> Vec<(Finding, Option<String>)> {
    let (up, _) = effects(&m.up, dialect, &m.up_path());
    let (down, _) = effects(&m.down, dialect, &m.down_path());
    let mut findings = Vec::new();
    for u in &up {
        let Effect::Drop(dropped @ (Object::Index(name, _) | Object::Constraint(name, _))) =
            &u.effect
        else {
            continue;
        };
        let Some(before) = known.0.get(name) else {
            continue;
        };
        for d in &down {
            let Effect::Covers {
                object, columns, ..
            } = &d.effect
            else {
                continue;
            };
            if !object.same(dropped) || columns.is_empty() || *columns == before.columns {
                continue;
            }
            findings.push((
                Finding::at(
                    RULE,
                    Severity::Error,
                    &m.down_path(),
                    &m.down,
                    d.offset,
                    format!(
                        "down.sql creates index {name} again on ({}), but {} created it on {}({}): \
                         the rollback leaves another index than the one up.sql:{} dropped",
                        columns.join(", "),
                        before.migration,
                        before.table,
                        before.columns.join(", "),
                        u.line
                    ),
                )
                .with_help(format!(
                    "create it again as it was: on {}({})",
                    before.table,
                    before.columns.join(", ")
                )),
                d.allow.clone(),
            ));
        }
    }
    findings
}

/// The effects a script undoes itself, by index: an object it creates and later drops (a helper
/// routine created, `CALL`ed and dropped), and a `DROP … IF EXISTS` before the script creates
/// the same object (the guard of a re-runnable script). Neither asks anything of the other
/// script.
fn transient(effects: &[Located]) -> HashSet<usize> {
    let mut out = HashSet::new();
    for (i, e) in effects.iter().enumerate() {
        let later = &effects[i + 1..];
        match &e.effect {
            Effect::Create(o) => {
                if let Some(j) = later
                    .iter()
                    .position(|l| matches!(&l.effect, Effect::Drop(d) if d.same(o)))
                {
                    out.insert(i);
                    out.insert(i + 1 + j);
                }
            }
            Effect::Drop(o)
                if e.if_exists
                    && later
                        .iter()
                        .any(|l| matches!(&l.effect, Effect::Create(c) if c.same(o))) =>
            {
                out.insert(i);
            }
            _ => {}
        }
    }
    out
}

/// The catalogs a guard may wrongly consult for a column's existence: what each lists, and
/// who does not appear there.
const INDEX_CATALOGS: &[(Dialect, &str, &str, &str)] = &[
    (
        Dialect::Mysql,
        "INFORMATION_SCHEMA.STATISTICS",
        "lists indexed columns only",
        "a column without an index",
    ),
    (
        Dialect::Postgres,
        "pg_indexes",
        "lists indexes only",
        "a column without an index",
    ),
    (
        Dialect::Postgres,
        "pg_stats",
        "lists the columns ANALYZE has sampled only",
        "a column added since the last ANALYZE",
    ),
];

/// A `DROP COLUMN` whose guard looks the column up in a catalog of indexes or statistics
/// (MySQL's idempotent idiom `SELECT IF(<column exists>, 'ALTER TABLE … DROP COLUMN …', 'SELECT
/// 1')` over `INFORMATION_SCHEMA.STATISTICS`; a PostgreSQL `DO` block's `IF EXISTS (SELECT 1
/// FROM pg_indexes|pg_stats …)`): for a column that catalog does not list, the guard finds
/// nothing and the column is never dropped — the rollback "succeeds" and leaves it. The guard
/// must query `INFORMATION_SCHEMA.COLUMNS` (or PostgreSQL's `pg_attribute`).
fn statistics_guards(
    path: &std::path::Path,
    script: &str,
    dialect: Dialect,
) -> Vec<(Finding, Option<String>)> {
    let catalogs: Vec<_> = INDEX_CATALOGS
        .iter()
        .filter(|(d, ..)| *d == dialect)
        .collect();
    if catalogs.is_empty() {
        return Vec::new();
    }
    let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let check = check_script(path, script, dialect);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for checked in &check.statements {
        let sql = &checked.statement;
        let text = squeeze(&sql.text.to_uppercase());
        let looks_up_columns =
            text.contains("INFORMATION_SCHEMA.COLUMNS") || text.contains("PG_ATTRIBUTE");
        if !text.contains("DROP COLUMN") || looks_up_columns || !seen.insert(sql.offset) {
            continue;
        }
        let Some((_, catalog, lists, missed)) = catalogs
            .iter()
            .find(|(_, catalog, ..)| crate::find_word_ci(&sql.text, catalog).is_some())
        else {
            continue;
        };
        let at = crate::find_word_ci(&sql.text, catalog).unwrap_or(0);
        out.push((
            Finding::at(
                RULE,
                Severity::Error,
                path,
                script,
                sql.offset + at,
                format!(
                    "this DROP COLUMN is guarded by a look-up in {catalog}, which {lists}: \
                     {missed} is never found, so never dropped"
                ),
            )
            .with_help(
                "look the column up in INFORMATION_SCHEMA.COLUMNS (TABLE_SCHEMA = DATABASE() or \
                 current_schema(), TABLE_NAME = '<table>', COLUMN_NAME = '<column>')",
            ),
            crate::suppressions::allowed(sql, RULE),
        ));
    }
    out
}

/// A named schema object. Names are normalized: unquoted, lower case, without schema.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Object {
    Table(String),
    View(String),
    /// An index, with its table when the statement says it.
    Index(String, Option<String>),
    Trigger(String, Option<String>),
    Routine(String),
    Sequence(String),
    Type(String),
    Column(String, String),
    /// A named constraint (or MySQL key) of a table.
    Constraint(String, Option<String>),
    /// The primary key of a table, with its name when the statement gives one.
    PrimaryKey(String, Option<String>),
}

impl Object {
    /// The same object: indexes and named constraints share a namespace (a MySQL `UNIQUE KEY`
    /// is dropped with `DROP INDEX`, a PostgreSQL unique constraint owns its index); tables are
    /// not compared for them, since `DROP INDEX` in PostgreSQL names no table.
    fn same(&self, other: &Object) -> bool {
        use Object::*;
        match (self, other) {
            (Index(a, _) | Constraint(a, _), Index(b, _) | Constraint(b, _)) => a == b,
            (Trigger(a, _), Trigger(b, _)) => a == b,
            (PrimaryKey(a, _), PrimaryKey(b, _)) => a == b,
            // `ADD CONSTRAINT members_pkey PRIMARY KEY` is dropped by `DROP CONSTRAINT
            // members_pkey`; an unnamed one gets PostgreSQL's name `<table>_pkey`.
            (PrimaryKey(t, name), Index(b, _) | Constraint(b, _))
            | (Index(b, _) | Constraint(b, _), PrimaryKey(t, name)) => {
                name.clone().unwrap_or_else(|| format!("{t}_pkey")) == *b
            }
            _ => self == other,
        }
    }

    /// The table the object belongs to, when it is part of one.
    fn table(&self) -> Option<&str> {
        match self {
            Object::Index(_, t) | Object::Trigger(_, t) | Object::Constraint(_, t) => t.as_deref(),
            Object::Column(t, _) | Object::PrimaryKey(t, _) => Some(t),
            _ => None,
        }
    }

    fn name(&self) -> String {
        match self {
            Object::Column(_, c) => c.clone(),
            Object::PrimaryKey(t, _) => format!("{t} primary key"),
            Object::Table(n)
            | Object::View(n)
            | Object::Index(n, _)
            | Object::Trigger(n, _)
            | Object::Routine(n)
            | Object::Sequence(n)
            | Object::Type(n)
            | Object::Constraint(n, _) => n.clone(),
        }
    }
}

impl fmt::Display for Object {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Object::Table(n) => write!(f, "table {n}"),
            Object::View(n) => write!(f, "view {n}"),
            Object::Index(n, _) => write!(f, "index {n}"),
            Object::Trigger(n, _) => write!(f, "trigger {n}"),
            Object::Routine(n) => write!(f, "routine {n}"),
            Object::Sequence(n) => write!(f, "sequence {n}"),
            Object::Type(n) => write!(f, "type {n}"),
            Object::Column(t, c) => write!(f, "column {t}.{c}"),
            Object::Constraint(n, _) => write!(f, "constraint {n}"),
            Object::PrimaryKey(t, _) => write!(f, "the primary key of {t}"),
        }
    }
}

/// What one statement does to the schema, as far as this check models it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Effect {
    Create(Object),
    Drop(Object),
    Rename {
        from: Object,
        to: Object,
    },
    /// A column's type set to `to` (as sqlparser prints it), and its nullability when the
    /// statement sets it (MySQL's `MODIFY`/`CHANGE` always does: no `NOT NULL` means NULL).
    Retype {
        column: Object,
        to: String,
        not_null: Option<bool>,
    },
    /// `ALTER COLUMN … SET NOT NULL` (`not_null`) or `DROP NOT NULL`.
    Nullability {
        column: Object,
        not_null: bool,
    },
    /// The columns of `table` an index or constraint the statement creates covers: it goes
    /// with them when they are dropped.
    Covers {
        object: Object,
        table: String,
        columns: Vec<String>,
    },
}

impl Effect {
    /// The objects the effect acts on.
    fn objects(&self) -> Vec<&Object> {
        match self {
            Effect::Create(o) | Effect::Drop(o) => vec![o],
            Effect::Rename { from, to } => vec![from, to],
            Effect::Retype { column, .. } | Effect::Nullability { column, .. } => vec![column],
            Effect::Covers { object, .. } => vec![object],
        }
    }
}

/// An effect, with the statement's byte offset and line in its script.
#[derive(Debug, Clone)]
struct Located {
    effect: Effect,
    offset: usize,
    line: usize,
    /// The reason of the statement's `-- bascule:allow down-undoes-up <reason>`.
    allow: Option<String>,
    /// The statement is a `DROP … IF EXISTS`.
    if_exists: bool,
}

/// The effects of a script's statements, and whether every statement was read (none raw or
/// broken: what the unread ones do is unknown).
fn effects(script: &str, dialect: Dialect, path: &std::path::Path) -> (Vec<Located>, bool) {
    let check = check_script(path, script, dialect);
    // A statement not read, text known only at run time, or a `CALL` of a routine whose body
    // was not read (its statements would follow the call), does what the check cannot see.
    let statements = &check.statements;
    let complete = statements
        .iter()
        .enumerate()
        .all(|(i, s)| match &s.outcome {
            _ if s.is_opaque() => false,
            Reading::Parsed(ast) if ast.iter().any(|a| matches!(a, Statement::Call(_))) => {
                statements.get(i + 1).is_some_and(|next| !next.is_written())
            }
            Reading::Parsed(_) | Reading::Recognized(_) => true,
            Reading::Raw | Reading::Invalid => false,
        });
    let mut out = Vec::new();
    for checked in &check.statements {
        let allow = crate::suppressions::allowed(&checked.statement, RULE);
        let if_exists = every_drop_guarded(&checked.statement.text);
        for effect in statement_effects(checked) {
            out.push(Located {
                effect,
                offset: checked.statement.offset,
                line: checked.statement.line,
                allow: allow.clone(),
                if_exists,
            });
        }
    }
    (follow_renames(out), complete)
}

/// Whether the statement drops something and every `DROP` in it is guarded by `IF EXISTS`:
/// `DROP TABLE IF EXISTS t`, `DROP INDEX CONCURRENTLY IF EXISTS i`, and the clauses of an
/// `ALTER TABLE t DROP CONSTRAINT IF EXISTS c, DROP COLUMN IF EXISTS d`.
fn every_drop_guarded(text: &str) -> bool {
    let words: Vec<String> = text.split_whitespace().map(str::to_uppercase).collect();
    let drops: Vec<usize> = (0..words.len()).filter(|&k| words[k] == "DROP").collect();
    !drops.is_empty()
        && drops.iter().all(|&k| {
            // `IF EXISTS` within the few words after `DROP` (its kind, `CONCURRENTLY`).
            (k + 1..(k + 4).min(words.len().saturating_sub(1)))
                .any(|i| words[i] == "IF" && words[i + 1] == "EXISTS")
        })
}

/// A table renamed out of the way and then dropped, in the same script, is that table dropped:
/// `RENAME t TO t_old; CREATE TABLE t (…); INSERT … SELECT … FROM t_old; DROP TABLE t_old` is how
/// projects rebuild a table (their downs too). The drop then names the original object, at the
/// drop's place, and the rename is gone.
fn follow_renames(mut effects: Vec<Located>) -> Vec<Located> {
    let mut j = 0;
    while j < effects.len() {
        let renamed = match &effects[j].effect {
            Effect::Drop(dropped) => effects[..j]
                .iter()
                .rposition(|e| matches!(&e.effect, Effect::Rename { to, .. } if to.same(dropped))),
            _ => None,
        };
        if let Some(i) = renamed {
            if let Effect::Rename { from, .. } = effects.remove(i).effect {
                effects[j - 1].effect = Effect::Drop(from);
            }
            continue;
        }
        j += 1;
    }
    effects
}

fn statement_effects(checked: &CheckedStatement) -> Vec<Effect> {
    match &checked.outcome {
        Reading::Parsed(ast) => ast.iter().flat_map(ast_effects).collect(),
        Reading::Recognized(r) => recognized_effects(&r.kind),
        Reading::Raw | Reading::Invalid => Vec::new(),
    }
}

/// `"Public"."Members"` → `members`.
fn norm(name: &ObjectName) -> String {
    let text = name.to_string();
    norm_str(&text)
}

fn norm_str(text: &str) -> String {
    let last = text.rsplit('.').next().unwrap_or(text);
    last.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']')
        .to_lowercase()
}

fn ast_effects(statement: &Statement) -> Vec<Effect> {
    use Effect::{Create, Drop};
    match statement {
        // The keys declared inside the table go with it; their columns are remembered for a
        // later migration that drops one and a down that creates it again.
        Statement::CreateTable(t) => {
            let table = norm(&t.name);
            let keys = t.constraints.iter().filter_map(|c| {
                let object = constraint_effect(&table, c)?;
                Some(Effect::Covers {
                    object,
                    table: table.clone(),
                    columns: constraint_columns(c),
                })
            });
            std::iter::once(Create(Object::Table(table.clone())))
                .chain(keys)
                .collect()
        }
        Statement::CreateView(v) => vec![Create(Object::View(norm(&v.name)))],
        Statement::CreateIndex(i) => i
            .name
            .as_ref()
            .map(|n| {
                let table = norm(&i.table_name);
                let index = Object::Index(norm(n), Some(table.clone()));
                vec![
                    Create(index.clone()),
                    Effect::Covers {
                        object: index,
                        table,
                        columns: index_columns(&i.columns),
                    },
                ]
            })
            .unwrap_or_default(),
        Statement::CreateTrigger(t) => vec![Create(Object::Trigger(
            norm(&t.name),
            Some(norm(&t.table_name)),
        ))],
        Statement::DropTrigger(t) => vec![Drop(Object::Trigger(
            norm(&t.trigger_name),
            t.table_name.as_ref().map(norm),
        ))],
        Statement::CreateFunction(f) => vec![Create(Object::Routine(norm(&f.name)))],
        Statement::CreateProcedure { name, .. } => vec![Create(Object::Routine(norm(name)))],
        Statement::DropFunction(f) => f
            .func_desc
            .iter()
            .map(|d| Drop(Object::Routine(norm(&d.name))))
            .collect(),
        Statement::DropProcedure { proc_desc, .. } => proc_desc
            .iter()
            .map(|d| Drop(Object::Routine(norm(&d.name))))
            .collect(),
        Statement::CreateSequence { name, .. } => vec![Create(Object::Sequence(norm(name)))],
        Statement::CreateType { name, .. } => vec![Create(Object::Type(norm(name)))],
        Statement::Drop {
            object_type,
            names,
            table,
            ..
        } => names
            .iter()
            .filter_map(|n| {
                let n = norm(n);
                let object = match object_type {
                    ObjectType::Table => Object::Table(n),
                    ObjectType::View | ObjectType::MaterializedView => Object::View(n),
                    ObjectType::Index => Object::Index(n, table.as_ref().map(norm)),
                    ObjectType::Sequence => Object::Sequence(n),
                    ObjectType::Type => Object::Type(n),
                    _ => return None,
                };
                Some(Drop(object))
            })
            .collect(),
        Statement::RenameTable(renames) => renames
            .iter()
            .map(|r| Effect::Rename {
                from: Object::Table(norm(&r.old_name)),
                to: Object::Table(norm(&r.new_name)),
            })
            .collect(),
        Statement::AlterTable(alter) => {
            let table = norm(&alter.name);
            alter
                .operations
                .iter()
                .flat_map(|op| alter_effects(&table, op))
                .collect()
        }
        Statement::AlterIndex {
            name,
            operation: sqlparser::ast::AlterIndexOperation::RenameIndex { index_name },
        } => vec![Effect::Rename {
            from: Object::Index(norm(name), None),
            to: Object::Index(norm(index_name), None),
        }],
        _ => Vec::new(),
    }
}

fn alter_effects(table: &str, op: &AlterTableOperation) -> Vec<Effect> {
    use Effect::{Create, Drop};
    let column = |c: &sqlparser::ast::Ident| Object::Column(table.into(), norm_str(&c.value));
    let t = || Some(table.to_string());
    match op {
        AlterTableOperation::AddColumn { column_def, .. } => vec![Create(column(&column_def.name))],
        AlterTableOperation::DropColumn { column_names, .. } => {
            column_names.iter().map(|c| Drop(column(c))).collect()
        }
        AlterTableOperation::RenameColumn {
            old_column_name,
            new_column_name,
        } => vec![Effect::Rename {
            from: column(old_column_name),
            to: column(new_column_name),
        }],
        AlterTableOperation::RenameTable { table_name } => {
            let (RenameTableNameKind::As(to) | RenameTableNameKind::To(to)) = table_name;
            vec![Effect::Rename {
                from: Object::Table(table.into()),
                to: Object::Table(norm(to)),
            }]
        }
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => {
            let mut effects = Vec::new();
            if norm_str(&old_name.value) != norm_str(&new_name.value) {
                effects.push(Effect::Rename {
                    from: column(old_name),
                    to: column(new_name),
                });
            } else {
                effects.push(Effect::Retype {
                    column: column(new_name),
                    to: data_type.to_string(),
                    not_null: Some(options.iter().any(|o| matches!(o, ColumnOption::NotNull))),
                });
            }
            effects
        }
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => vec![Effect::Retype {
            column: column(col_name),
            to: data_type.to_string(),
            not_null: Some(options.iter().any(|o| matches!(o, ColumnOption::NotNull))),
        }],
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetDataType { data_type, .. },
        } => vec![Effect::Retype {
            column: column(column_name),
            to: data_type.to_string(),
            not_null: None,
        }],
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::SetNotNull,
        } => vec![Effect::Nullability {
            column: column(column_name),
            not_null: true,
        }],
        AlterTableOperation::AlterColumn {
            column_name,
            op: AlterColumnOperation::DropNotNull,
        } => vec![Effect::Nullability {
            column: column(column_name),
            not_null: false,
        }],
        AlterTableOperation::AddConstraint { constraint, .. } => {
            let Some(object) = constraint_effect(table, constraint) else {
                return Vec::new();
            };
            let columns = constraint_columns(constraint);
            vec![
                Create(object.clone()),
                Effect::Covers {
                    object,
                    table: table.to_string(),
                    columns,
                },
            ]
        }
        AlterTableOperation::DropConstraint { name, .. }
        | AlterTableOperation::DropForeignKey { name, .. } => {
            vec![Drop(Object::Constraint(norm_str(&name.value), t()))]
        }
        AlterTableOperation::DropIndex { name } => {
            vec![Drop(Object::Index(norm_str(&name.value), t()))]
        }
        AlterTableOperation::DropPrimaryKey { .. } => {
            vec![Drop(Object::PrimaryKey(table.into(), None))]
        }
        AlterTableOperation::RenameConstraint { old_name, new_name } => vec![Effect::Rename {
            from: Object::Constraint(norm_str(&old_name.value), t()),
            to: Object::Constraint(norm_str(&new_name.value), t()),
        }],
        _ => Vec::new(),
    }
}

/// The plain column names of an index's columns (expressions are left out).
fn index_columns(columns: &[IndexColumn]) -> Vec<String> {
    columns
        .iter()
        .filter_map(|c| match &c.column.expr {
            Expr::Identifier(ident) => Some(norm_str(&ident.value)),
            Expr::CompoundIdentifier(parts) => parts.last().map(|p| norm_str(&p.value)),
            _ => None,
        })
        .collect()
}

/// The columns a constraint covers (its own columns; a foreign key's, not those it refers to).
fn constraint_columns(constraint: &TableConstraint) -> Vec<String> {
    match constraint {
        TableConstraint::PrimaryKey(c) => index_columns(&c.columns),
        TableConstraint::Unique(c) => index_columns(&c.columns),
        TableConstraint::Index(c) => index_columns(&c.columns),
        TableConstraint::ForeignKey(c) => c.columns.iter().map(|i| norm_str(&i.value)).collect(),
        _ => Vec::new(),
    }
}

/// The object an added constraint creates: a primary key, or a named constraint or key.
fn constraint_effect(table: &str, constraint: &TableConstraint) -> Option<Object> {
    let name = match constraint {
        TableConstraint::PrimaryKey(c) => {
            return Some(Object::PrimaryKey(
                table.into(),
                c.name.as_ref().map(|n| norm_str(&n.value)),
            ))
        }
        TableConstraint::Unique(c) => c.name.as_ref().or(c.index_name.as_ref()),
        TableConstraint::ForeignKey(c) => c.name.as_ref(),
        TableConstraint::Check(c) => c.name.as_ref(),
        TableConstraint::Index(c) => c.name.as_ref(),
        TableConstraint::FulltextOrSpatial(c) => c.opt_index_name.as_ref(),
        TableConstraint::Exclude(_) => None,
        TableConstraint::PrimaryKeyUsingIndex(c) | TableConstraint::UniqueUsingIndex(c) => {
            c.name.as_ref()
        }
    }?;
    Some(Object::Constraint(
        norm_str(&name.value),
        Some(table.to_string()),
    ))
}

fn recognized_effects(kind: &RecognizedKind) -> Vec<Effect> {
    use Effect::{Create, Drop};
    match kind {
        RecognizedKind::DropIndex { names, .. } => names
            .iter()
            .map(|n| Drop(Object::Index(norm_str(n), None)))
            .collect(),
        RecognizedKind::CreateSequence { name } => vec![Create(Object::Sequence(norm_str(name)))],
        RecognizedKind::CreateRoutine { name, kind, table } => {
            let name = norm_str(name);
            vec![Create(match kind {
                RoutineKind::Trigger => Object::Trigger(name, table.as_deref().map(norm_str)),
                _ => Object::Routine(name),
            })]
        }
        RecognizedKind::CreatePartitionedTable { table, .. } => {
            vec![Create(Object::Table(norm_str(table)))]
        }
        // A FULLTEXT or SPATIAL index is an index like any other for the down.
        RecognizedKind::CreateIndex { create, .. } => ast_effects(create),
        RecognizedKind::AlterTable { table, actions } => {
            let table = norm_str(table);
            actions
                .iter()
                .flat_map(|a| match a {
                    AlterAction::RenameIndex { from, to } => vec![Effect::Rename {
                        from: Object::Index(norm_str(from), Some(table.clone())),
                        to: Object::Index(norm_str(to), Some(table.clone())),
                    }],
                    AlterAction::Parsed(op) => alter_effects(&table, op),
                    _ => Vec::new(),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dialect::{Mysql, Postgres, Sqlite};

    fn migration(up: &str, down: &str) -> Migration {
        Migration::new("site", 3, "pairs", up, down)
    }

    /// `file:line message` of every finding.
    fn found(up: &str, down: &str, dialect: Dialect) -> Vec<String> {
        check_pair(&migration(up, down), dialect, &KnownObjects::default())
            .into_iter()
            .filter(|(_, reason)| reason.is_none())
            .map(|(f, _)| {
                assert_eq!(f.rule, RULE);
                assert_eq!(f.severity, Severity::Error);
                let file = f.path.file_name().map(|n| n.to_string_lossy().into_owned());
                format!("{}:{} {}", file.unwrap_or_default(), f.line, f.message)
            })
            .collect()
    }

    fn clean(up: &str, down: &str, dialect: Dialect) {
        let findings = found(up, down, dialect);
        assert!(findings.is_empty(), "{dialect}: {findings:#?}");
    }

    #[test]
    fn what_the_up_drops_in_a_table_it_creates_goes_with_the_table_s_drop() {
        let up = "CREATE TABLE IF NOT EXISTS status (user_id INT PRIMARY KEY, state TEXT);\n\
                  ALTER TABLE status DROP COLUMN active_channel;\n\
                  DROP INDEX idx_status_user_id ON status;\n";
        clean(up, "DROP TABLE IF EXISTS status;\n", Mysql);
        // Kept when the down keeps the table.
        let kept = found(up, "SELECT 1;\n", Mysql);
        assert!(
            kept.iter().any(|f| f.contains("active_channel")),
            "{kept:#?}"
        );
    }

    #[test]
    fn a_table_rebuilt_by_rename_create_copy_drop_is_undone_by_the_same_in_the_down() {
        // The up keeps the old table under another name; the down rebuilds the old shape and
        // drops the kept copy. MySQL's `RENAME new_name` (no TO) is read too.
        let up = "ALTER TABLE totp RENAME _bkp_up_totp;\n\
                  CREATE TABLE totp (id INT PRIMARY KEY, secret BLOB NOT NULL);\n\
                  INSERT INTO totp (id, secret) SELECT id, secret FROM _bkp_up_totp;\n";
        let down = "ALTER TABLE totp RENAME _bkp_down_totp;\n\
                    CREATE TABLE totp (id INT PRIMARY KEY, secret BLOB);\n\
                    INSERT INTO totp (id, secret) SELECT id, secret FROM _bkp_down_totp;\n\
                    DROP TABLE IF EXISTS _bkp_down_totp;\n\
                    DROP TABLE IF EXISTS _bkp_up_totp;\n";
        clean(up, down, Mysql);
        // Without dropping the kept copy, the down leaves it behind.
        let left = found(
            up,
            &down.replace("DROP TABLE IF EXISTS _bkp_up_totp;\n", ""),
            Mysql,
        );
        assert_eq!(left.len(), 1, "{left:#?}");
        assert!(left[0].contains("_bkp_up_totp"), "{left:#?}");
    }

    #[test]
    fn a_down_that_cannot_be_read_is_not_judged_on_what_it_misses() {
        let up = "CREATE INDEX idx_a ON t (a);\n";
        let opaque_down = "SET @s = CONCAT('DROP INDEX ', @name, ' ON t');\n\
                           PREPARE stmt FROM @s;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\n";
        clean(up, opaque_down, Mysql);
        assert_eq!(found(up, "SELECT 1;\n", Mysql).len(), 1);
    }

    #[test]
    fn a_legacy_clean_up_of_what_no_migration_made_asks_nothing_of_the_down() {
        let mut known = KnownObjects::starting_at(1);
        known.learn(
            &Migration::new(
                "site",
                1,
                "create",
                "CREATE TABLE members (id INT PRIMARY KEY);\nCREATE INDEX members_id ON members (id);\n",
                "DROP TABLE members;\n",
            ),
            Postgres,
        );
        let up = "DROP TABLE IF EXISTS legacy_sessions;\nDROP INDEX IF EXISTS members_old;\n\
                  DROP TABLE IF EXISTS members;\n";
        let down = "DROP INDEX IF EXISTS members_lookup;\nSELECT 1;\n";
        let judged = |known: &KnownObjects| -> Vec<String> {
            check_pair(
                &Migration::new("site", 2, "clean", up, down),
                Postgres,
                known,
            )
            .into_iter()
            .map(|(f, _)| f.message)
            .collect()
        };
        // What the migrations made (members) must come back; the rest was never there.
        let found = judged(&known);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert!(found[0].contains("table members"), "{found:#?}");
        // Without the whole history, every drop is judged.
        assert_eq!(judged(&KnownObjects::starting_at(2)).len(), 4);
        assert_eq!(judged(&KnownObjects::default()).len(), 4);
    }

    #[test]
    fn a_drop_is_guarded_when_every_drop_of_its_statement_says_if_exists() {
        for guarded in [
            "DROP TABLE IF EXISTS t",
            "DROP INDEX CONCURRENTLY IF EXISTS i",
            "ALTER TABLE t\n\tDROP CONSTRAINT IF EXISTS c,\n\tDROP COLUMN IF EXISTS d",
        ] {
            assert!(every_drop_guarded(guarded), "{guarded}");
        }
        for unguarded in [
            "DROP TABLE t",
            "ALTER TABLE t DROP CONSTRAINT IF EXISTS c, DROP COLUMN d",
            "ALTER TABLE t ADD COLUMN c INT",
            "DROP",
        ] {
            assert!(!every_drop_guarded(unguarded), "{unguarded}");
        }
    }

    #[test]
    fn a_constraint_replaced_by_an_index_of_its_name_is_one_redefinition() {
        let up = "ALTER TABLE duo_devices\n\tDROP CONSTRAINT IF EXISTS duo_devices_username_key;\n\
                  DROP INDEX IF EXISTS duo_devices_username_key;\n\
                  CREATE UNIQUE INDEX duo_devices_username_key ON duo_devices (username);\n";
        let down = "DROP INDEX IF EXISTS duo_devices_username_key;\n\
                    ALTER TABLE duo_devices ADD CONSTRAINT duo_devices_username_key UNIQUE (username);\n";
        clean(up, down, Postgres);
        // A down that leaves the up's index is still found.
        let left = found(up, "SELECT 1;\n", Postgres);
        assert_eq!(left.len(), 1, "{left:#?}");
    }

    #[test]
    fn a_fulltext_index_the_up_creates_is_dropped_by_the_down() {
        let up = "CREATE FULLTEXT INDEX idx_posts_message ON posts (message);\n";
        clean(up, "DROP INDEX idx_posts_message ON posts;\n", Mysql);
        let missing = found(up, "SELECT 1;\n", Mysql);
        assert_eq!(missing.len(), 1, "{missing:#?}");
        assert!(missing[0].contains("idx_posts_message"), "{missing:#?}");
    }

    #[test]
    fn create_and_drop_table() {
        for dialect in [Sqlite, Mysql, Postgres] {
            clean(
                "CREATE TABLE avatars (id INT PRIMARY KEY, url TEXT);\n",
                "DROP TABLE avatars;\n",
                dialect,
            );
            assert_eq!(
                found(
                    "CREATE TABLE tags (id INT);\nCREATE TABLE avatars (id INT);\n",
                    "DROP TABLE tags;\n",
                    dialect
                ),
                ["up.sql:2 down.sql does not drop table avatars created by up.sql:2"]
            );
        }
    }

    #[test]
    fn create_and_drop_index_in_each_dialect() {
        let up = "ALTER TABLE members ADD COLUMN email TEXT;\n\n\
                  CREATE INDEX members_email ON members (email);\n";
        clean(
            up,
            "DROP INDEX members_email;\nALTER TABLE members DROP COLUMN email;\n",
            Sqlite,
        );
        clean(
            "CREATE INDEX CONCURRENTLY members_email ON members (email);\n",
            "DROP INDEX CONCURRENTLY IF EXISTS public.members_email;\n",
            Postgres,
        );
        clean(
            "CREATE INDEX members_email ON members (email);\n",
            "DROP INDEX members_email ON members;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE members ADD INDEX members_email (email);\n",
            "ALTER TABLE members DROP INDEX members_email;\n",
            Mysql,
        );
        // SQLite refuses to drop an indexed column: the index must go first.
        assert_eq!(
            found(up, "ALTER TABLE members DROP COLUMN email;\n", Sqlite),
            ["up.sql:3 down.sql does not drop index members_email created by up.sql:3"],
        );
        for dialect in [Sqlite, Mysql, Postgres] {
            assert_eq!(
                found(up, "SELECT 1;\n", dialect),
                [
                    "up.sql:1 down.sql does not drop column members.email created by up.sql:1",
                    "up.sql:3 down.sql does not drop index members_email created by up.sql:3"
                ],
                "{dialect}"
            );
        }
    }

    #[test]
    fn dropping_a_column_drops_the_indexes_and_constraints_on_it() {
        // MySQL and PostgreSQL drop an index with the column it covers.
        let up = "ALTER TABLE Posts ADD COLUMN RemoteId VARCHAR(26);\n\
                  CREATE INDEX idx_posts_remote_id ON Posts (RemoteId);\n";
        for dialect in [Mysql, Postgres] {
            clean(up, "ALTER TABLE Posts DROP COLUMN RemoteId;\n", dialect);
        }
        clean(
            "ALTER TABLE Posts ADD COLUMN RemoteId VARCHAR(26), ADD INDEX idx_posts_remote_id (RemoteId);\n",
            "ALTER TABLE Posts DROP COLUMN RemoteId;\n",
            Mysql,
        );
        // PostgreSQL: a constraint too, and an index that covers the column among others.
        clean(
            "ALTER TABLE posts ADD COLUMN remote_id TEXT;\n\
             ALTER TABLE posts ADD CONSTRAINT posts_remote_fk FOREIGN KEY (remote_id) REFERENCES remotes (id);\n\
             CREATE INDEX idx_posts_channel_remote ON posts (channel_id, remote_id);\n",
            "ALTER TABLE posts DROP COLUMN remote_id;\n",
            Postgres,
        );
        // MySQL keeps a composite index with its other columns: it still needs its drop.
        assert_eq!(
            found(
                "ALTER TABLE Posts ADD COLUMN RemoteId VARCHAR(26);\n\
                 CREATE INDEX idx_posts_channel_remote ON Posts (ChannelId, RemoteId);\n",
                "ALTER TABLE Posts DROP COLUMN RemoteId;\n",
                Mysql
            ),
            ["up.sql:2 down.sql does not drop index idx_posts_channel_remote created by up.sql:2"]
        );
        // An index on a column the down keeps is still the down's to drop.
        assert_eq!(
            found(
                "ALTER TABLE Posts ADD COLUMN RemoteId VARCHAR(26);\n\
                 CREATE INDEX idx_posts_remote_id ON Posts (RemoteId);\n\
                 CREATE INDEX idx_posts_create_at ON Posts (CreateAt);\n",
                "ALTER TABLE Posts DROP COLUMN RemoteId;\n",
                Postgres
            ),
            ["up.sql:3 down.sql does not drop index idx_posts_create_at created by up.sql:3"]
        );
    }

    #[test]
    fn a_helper_routine_the_up_creates_calls_and_drops_asks_nothing_of_the_down() {
        let up = "DROP PROCEDURE IF EXISTS MigrateThreads;\n\
                  DELIMITER //\n\
                  CREATE PROCEDURE MigrateThreads()\n\
                  BEGIN\n\
                    IF NOT EXISTS (SELECT * FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'Threads' AND COLUMN_NAME = 'ThreadDeleteAt') THEN\n\
                      ALTER TABLE Threads ADD COLUMN ThreadDeleteAt BIGINT;\n\
                    END IF;\n\
                  END//\n\
                  DELIMITER ;\n\
                  CALL MigrateThreads();\n\
                  DROP PROCEDURE IF EXISTS MigrateThreads;\n";
        // What the routine's body did is not read: the down's drop of it is not judged.
        clean(
            up,
            "ALTER TABLE Threads DROP COLUMN ThreadDeleteAt;\n",
            Mysql,
        );
        // Without the guard before it as well.
        clean(
            "DELIMITER //\nCREATE PROCEDURE Tidy() BEGIN DELETE FROM Sessions WHERE ExpiresAt = 0; END//\nDELIMITER ;\n\
             CALL Tidy();\nDROP PROCEDURE Tidy;\n",
            "SELECT 1;\n",
            Mysql,
        );
        // The down's own helper, created, called and dropped, is its business too.
        clean(
            "ALTER TABLE Threads ADD COLUMN ThreadDeleteAt BIGINT;\n",
            "DROP PROCEDURE IF EXISTS Undo;\nDELIMITER //\nCREATE PROCEDURE Undo() BEGIN ALTER TABLE Threads DROP COLUMN ThreadDeleteAt; END//\nDELIMITER ;\n\
             CALL Undo();\nDROP PROCEDURE Undo;\nALTER TABLE Threads DROP COLUMN ThreadDeleteAt;\n",
            Mysql,
        );
        // A true defect beside the helper is still found: the index the up creates itself.
        assert_eq!(
            found(
                &format!("{up}CREATE INDEX idx_threads_last_reply ON Threads (LastReplyAt);\n"),
                "ALTER TABLE Threads DROP COLUMN ThreadDeleteAt;\n",
                Mysql
            ),
            ["up.sql:12 down.sql does not drop index idx_threads_last_reply created by up.sql:12"]
        );
        // A routine the up leaves behind is still the down's to drop.
        assert_eq!(
            found(
                "DELIMITER //\nCREATE PROCEDURE Tidy() BEGIN DELETE FROM Sessions; END//\nDELIMITER ;\n",
                "SELECT 1;\n",
                Mysql
            ),
            ["up.sql:2 down.sql does not drop routine tidy created by up.sql:2"]
        );
    }

    #[test]
    fn a_nullability_change_is_undone_by_the_opposite_one() {
        clean(
            "ALTER TABLE Channels MODIFY TotalMsgCount BIGINT NOT NULL;\n",
            "ALTER TABLE Channels MODIFY TotalMsgCount BIGINT NULL;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE Channels MODIFY COLUMN Type VARCHAR(1) NULL;\n",
            "ALTER TABLE Channels MODIFY COLUMN Type VARCHAR(1) NOT NULL;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE channels ALTER COLUMN total_msg_count SET NOT NULL;\n",
            "ALTER TABLE channels ALTER COLUMN total_msg_count DROP NOT NULL;\n",
            Postgres,
        );
        // The very same definition back is still not a restore.
        assert_eq!(
            found(
                "ALTER TABLE Channels MODIFY TotalMsgCount BIGINT NOT NULL;\n",
                "ALTER TABLE Channels MODIFY TotalMsgCount BIGINT NOT NULL;\n",
                Mysql
            ),
            ["up.sql:1 down.sql:1 sets column channels.totalmsgcount to BIGINT, the type up.sql:1 \
              gives it: the old type is not restored"]
        );
        assert_eq!(
            found(
                "ALTER TABLE channels ALTER COLUMN total_msg_count SET NOT NULL;\n",
                "SELECT 1;\n",
                Postgres
            ),
            ["up.sql:1 down.sql does not DROP NOT NULL on column channels.total_msg_count again, \
              changed by up.sql:1"]
        );
    }

    #[test]
    fn a_drop_column_guarded_by_index_statistics_is_found() {
        let guard = |view: &str| {
            format!(
                "SET @preparedStatement = (SELECT IF(\n\
                   (SELECT COUNT(*) FROM INFORMATION_SCHEMA.{view}\n\
                    WHERE table_name = 'Drafts' AND table_schema = DATABASE() AND column_name = 'Priority') > 0,\n\
                   'ALTER TABLE Drafts DROP COLUMN Priority;',\n\
                   'SELECT 1'\n\
                ));\n"
            )
        };
        let up = "ALTER TABLE Drafts ADD COLUMN Priority TEXT;\n";
        let wrong = found(up, &guard("STATISTICS"), Mysql);
        assert!(
            wrong.iter().any(|f| f.starts_with("down.sql:2 this DROP COLUMN is guarded by a look-up in INFORMATION_SCHEMA.STATISTICS")),
            "{wrong:#?}"
        );
        let right = found(up, &guard("COLUMNS"), Mysql);
        assert!(
            right.iter().all(|f| !f.contains("STATISTICS")),
            "{right:#?}"
        );
    }

    /// MySQL's idempotent idiom: the DDL in a string a `PREPARE` runs, guarded by a look-up.
    fn prepared(guard_view: &str, condition: &str, ddl: &str) -> String {
        format!(
            "SET @preparedStatement = (SELECT IF(\n\
               (SELECT COUNT(*) FROM INFORMATION_SCHEMA.{guard_view}\n\
                WHERE table_schema = DATABASE() AND {condition}) > 0,\n\
               'SELECT 1',\n\
               '{ddl}'\n\
            ));\n\
            PREPARE stmt FROM @preparedStatement;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\n"
        )
    }

    #[test]
    fn the_ddl_of_prepared_statements_and_do_blocks_is_paired() {
        let up = prepared(
            "STATISTICS",
            "table_name = 'Posts' AND index_name = 'idx_posts_root_id'",
            "CREATE INDEX idx_posts_root_id ON Posts(RootId);",
        );
        // The down's guard inverted: drop when present.
        let down = |ddl: &str| {
            format!(
                "SET @preparedStatement = (SELECT IF(\n\
                   (SELECT COUNT(*) FROM INFORMATION_SCHEMA.STATISTICS\n\
                    WHERE table_schema = DATABASE() AND table_name = 'Posts' AND index_name = 'idx_posts_root_id') > 0,\n\
                   '{ddl}',\n\
                   'SELECT 1'\n\
                ));\n\
                PREPARE stmt FROM @preparedStatement;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;\n"
            )
        };
        clean(&up, &down("DROP INDEX idx_posts_root_id ON Posts;"), Mysql);
        // A typo in the down's index name: neither pairs.
        assert_eq!(
            found(&up, &down("DROP INDEX idx_posts_rootid ON Posts;"), Mysql),
            [
                "up.sql:5 down.sql does not drop index idx_posts_root_id created by up.sql:5",
                "down.sql:4 down.sql drops index idx_posts_rootid, which up.sql did not create: \
                 a rollback would destroy data the release found"
            ]
        );
        // PostgreSQL DO blocks.
        clean(
            "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_posts_root_id') THEN\n    \
             CREATE INDEX idx_posts_root_id ON posts (root_id);\n  END IF;\nEND $$;\n",
            "DO $$\nBEGIN\n  DROP INDEX IF EXISTS idx_posts_root_id;\nEND $$;\n",
            Postgres,
        );
        assert_eq!(
            found(
                "DO $$\nBEGIN\n  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'idx_posts_root_id') THEN\n    \
                 CREATE INDEX idx_posts_root_id ON posts (root_id);\n  END IF;\nEND $$;\n",
                "SELECT 1;\n",
                Postgres
            ),
            ["up.sql:4 down.sql does not drop index idx_posts_root_id created by up.sql:4"]
        );
    }

    #[test]
    fn a_column_dropped_through_a_statistics_guard_is_found_and_a_columns_guard_is_not() {
        let up = "ALTER TABLE Drafts ADD COLUMN Priority TEXT;\n";
        let by_statistics = prepared(
            "STATISTICS",
            "table_name = 'Drafts' AND column_name = 'Priority'",
            "ALTER TABLE Drafts DROP COLUMN Priority;",
        )
        .replace(
            "'SELECT 1',\n'ALTER TABLE Drafts DROP COLUMN Priority;'",
            "'ALTER TABLE Drafts DROP COLUMN Priority;',\n'SELECT 1'",
        );
        let by_columns = by_statistics.replace(
            "INFORMATION_SCHEMA.STATISTICS",
            "INFORMATION_SCHEMA.COLUMNS",
        );
        clean(up, &by_columns, Mysql);
        assert_eq!(
            found(up, &by_statistics, Mysql),
            ["down.sql:2 this DROP COLUMN is guarded by a look-up in INFORMATION_SCHEMA.STATISTICS, \
              which lists indexed columns only: a column without an index is never found, so never \
              dropped"]
        );
    }

    #[test]
    fn an_index_restored_on_another_column_than_it_had_is_found() {
        let mut known = KnownIndexes::default();
        let created = Migration::new(
            "site",
            2,
            "index_posts",
            "CREATE INDEX idx_posts_root_id ON Posts (RootId);\n\
             CREATE INDEX idx_posts_create_at ON Posts (CreateAt);\n",
            "DROP INDEX idx_posts_create_at ON Posts;\nDROP INDEX idx_posts_root_id ON Posts;\n",
        );
        known.learn(&created, Mysql);
        let dropping = |down: &str| {
            Migration::new(
                "site",
                3,
                "drop_root_index",
                "ALTER TABLE Posts DROP INDEX idx_posts_root_id;\n",
                down,
            )
        };
        let right = dropping("CREATE INDEX idx_posts_root_id ON Posts (RootId);\n");
        assert!(check_restored_indexes(&right, Mysql, &known).is_empty());
        assert!(check_pair(&right, Mysql, &KnownObjects::default()).is_empty());
        let wrong = dropping("CREATE INDEX idx_posts_root_id ON Posts (CreateAt);\n");
        let findings: Vec<String> = check_restored_indexes(&wrong, Mysql, &known)
            .into_iter()
            .map(|(f, _)| format!("{}:{} {}", f.path.display(), f.line, f.message))
            .collect();
        assert_eq!(
            findings,
            [
                "migrations/site/0003_drop_root_index/down.sql:1 down.sql creates index \
              idx_posts_root_id again on (createat), but 0002_index_posts created it on \
              posts(rootid): the rollback leaves another index than the one up.sql:1 dropped"
            ]
        );
        // An index dropped since is forgotten.
        known.learn(&right, Mysql);
        assert!(check_restored_indexes(&wrong, Mysql, &known).is_empty());
    }

    #[test]
    fn a_key_declared_in_create_table_is_known_to_later_migrations() {
        let mut known = KnownIndexes::default();
        known.learn(
            &Migration::new(
                "site",
                3,
                "create_team_members",
                "CREATE TABLE team_members (\n  team_id VARCHAR(26),\n  user_id VARCHAR(26),\n  \
                 KEY idx_team_members_user_id (user_id)\n);\n",
                "DROP TABLE team_members;\n",
            ),
            Mysql,
        );
        let wrong = Migration::new(
            "site",
            88,
            "team_members_index",
            "DROP INDEX idx_team_members_user_id ON team_members;\n",
            "CREATE INDEX idx_team_members_user_id ON team_members(team_id);\n",
        );
        assert_eq!(check_restored_indexes(&wrong, Mysql, &known).len(), 1);
    }

    #[test]
    fn a_postgres_drop_column_guarded_by_pg_indexes_or_pg_stats_is_found() {
        let up = "ALTER TABLE users ADD COLUMN last_login_at BIGINT;\n";
        let guarded = |catalog: &str, condition: &str| {
            format!(
                "DO $$\nBEGIN\n    IF EXISTS (\n        SELECT 1 FROM {catalog}\n        \
                 WHERE tablename = 'users' AND {condition}\n    ) THEN\n        \
                 ALTER TABLE users DROP COLUMN last_login_at;\n    END IF;\nEND $$;\n"
            )
        };
        assert_eq!(
            found(
                up,
                &guarded("pg_stats", "attname = 'last_login_at'"),
                Postgres
            ),
            [
                "down.sql:4 this DROP COLUMN is guarded by a look-up in pg_stats, which lists the \
              columns ANALYZE has sampled only: a column added since the last ANALYZE is never \
              found, so never dropped"
            ]
        );
        assert_eq!(
            found(
                up,
                &guarded("pg_indexes", "indexdef LIKE '%(last_login_at)%'"),
                Postgres
            )
            .len(),
            1
        );
        clean(
            up,
            &guarded(
                "information_schema.columns",
                "column_name = 'last_login_at'",
            ),
            Postgres,
        );
    }

    #[test]
    fn a_typo_in_the_downs_table_name_is_found() {
        assert_eq!(
            found(
                "ALTER TABLE ChannelMembers ADD COLUMN AutoFollow BOOLEAN;\n",
                "ALTER TABLE ChannelMember DROP COLUMN AutoFollow;\n",
                Mysql
            ),
            [
                "up.sql:1 down.sql does not drop column channelmembers.autofollow created by up.sql:1",
                "down.sql:1 down.sql drops column channelmember.autofollow, which up.sql did not \
                 create: a rollback would destroy data the release found"
            ]
        );
    }

    #[test]
    fn an_allow_in_the_down_silences_the_finding_about_the_same_object() {
        let m = migration(
            "ALTER TABLE members MODIFY avatar VARCHAR(500);\n",
            "-- bascule:allow down-undoes-up 1.x wrote VARCHAR(500) already; nothing to restore\n\
             ALTER TABLE members MODIFY avatar VARCHAR(500);\n",
        );
        let findings = check_pair(&m, Mysql, &KnownObjects::default());
        assert_eq!(findings.len(), 1);
        assert_eq!(
            findings[0].1.as_deref(),
            Some("1.x wrote VARCHAR(500) already; nothing to restore")
        );
        // An allow on an unrelated down statement does not.
        let m = migration(
            "ALTER TABLE members MODIFY avatar VARCHAR(500);\n",
            "-- bascule:allow down-undoes-up kept\nDROP TABLE IF EXISTS scratch;\n",
        );
        let findings = check_pair(&m, Mysql, &KnownObjects::default());
        assert!(findings
            .iter()
            .any(|(f, reason)| f.path.ends_with("up.sql") && reason.is_none()));
    }

    #[test]
    fn what_goes_with_a_created_table_goes_with_its_drop() {
        clean(
            "CREATE TABLE avatars (id INT, member INT);\n\
             CREATE INDEX avatars_member ON avatars (member);\n\
             ALTER TABLE avatars ADD CONSTRAINT avatars_fk FOREIGN KEY (member) REFERENCES members (id);\n",
            "DROP TABLE avatars;\n",
            Postgres,
        );
    }

    #[test]
    fn views_and_triggers() {
        clean(
            "CREATE VIEW active AS SELECT * FROM members WHERE active;\n",
            "DROP VIEW active;\n",
            Postgres,
        );
        assert_eq!(
            found(
                "CREATE VIEW active AS SELECT * FROM members;\n",
                "DROP VIEW other;\n",
                Sqlite
            ),
            [
                "up.sql:1 down.sql does not drop view active created by up.sql:1",
                "down.sql:1 down.sql drops view other, which up.sql did not create: \
                 a rollback would destroy data the release found"
            ]
        );
        clean(
            "CREATE TRIGGER touch AFTER UPDATE ON members BEGIN UPDATE members SET at = 1; END;\n",
            "DROP TRIGGER touch;\n",
            Sqlite,
        );
        clean(
            "CREATE TRIGGER touch BEFORE UPDATE ON members FOR EACH ROW EXECUTE FUNCTION touch();\n",
            "DROP TRIGGER touch ON members;\n",
            Postgres,
        );
        // A one-statement MySQL trigger: sqlparser rejects it, the recognizer reads it.
        let up = "CREATE TRIGGER touch BEFORE UPDATE ON members FOR EACH ROW SET NEW.at = NOW();\n";
        clean(up, "DROP TRIGGER IF EXISTS touch;\n", Mysql);
        assert_eq!(
            found(up, "SELECT 1;\n", Mysql),
            ["up.sql:1 down.sql does not drop trigger touch created by up.sql:1"]
        );
    }

    #[test]
    fn mysql_procedures_with_delimiter() {
        let up = "DELIMITER //\nCREATE PROCEDURE purge() BEGIN DELETE FROM sessions; END//\nDELIMITER ;\n";
        clean(up, "DROP PROCEDURE purge;\n", Mysql);
        assert_eq!(
            found(up, "DROP PROCEDURE other;\n", Mysql),
            [
                "up.sql:2 down.sql does not drop routine purge created by up.sql:2",
                "down.sql:1 down.sql drops routine other, which up.sql did not create: \
                 a rollback would destroy data the release found"
            ]
        );
    }

    #[test]
    fn replaced_functions_and_views_are_restored_by_their_old_definition() {
        clean(
            "CREATE OR REPLACE FUNCTION one() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql;\n",
            "CREATE OR REPLACE FUNCTION one() RETURNS int AS $$ SELECT 2 $$ LANGUAGE sql;\n",
            Postgres,
        );
    }

    #[test]
    fn add_and_drop_column() {
        for dialect in [Sqlite, Mysql, Postgres] {
            clean(
                "ALTER TABLE members ADD COLUMN avatar TEXT;\n",
                "ALTER TABLE members DROP COLUMN avatar;\n",
                dialect,
            );
            assert_eq!(
                found(
                    "ALTER TABLE members ADD COLUMN avatar TEXT;\n",
                    "ALTER TABLE members DROP COLUMN photo;\n",
                    dialect
                ),
                [
                    "up.sql:1 down.sql does not drop column members.avatar created by up.sql:1",
                    "down.sql:1 down.sql drops column members.photo, which up.sql did not create: \
                     a rollback would destroy data the release found"
                ]
            );
        }
        // Dropping in the up: the down adds it back.
        clean(
            "ALTER TABLE members DROP COLUMN avatar;\n",
            "ALTER TABLE members ADD COLUMN avatar TEXT;\n",
            Postgres,
        );
        assert_eq!(
            found(
                "ALTER TABLE members DROP COLUMN avatar;\n",
                "SELECT 1;\n",
                Postgres
            ),
            ["up.sql:1 down.sql does not create again column members.avatar dropped by up.sql:1"]
        );
    }

    #[test]
    fn rename_column_and_back() {
        for dialect in [Sqlite, Mysql, Postgres] {
            clean(
                "ALTER TABLE members RENAME COLUMN avatar TO avatar_url;\n",
                "ALTER TABLE members RENAME COLUMN avatar_url TO avatar;\n",
                dialect,
            );
            assert_eq!(
                found(
                    "ALTER TABLE members RENAME COLUMN avatar TO avatar_url;\n",
                    "ALTER TABLE members RENAME COLUMN avatar TO avatar_url;\n",
                    dialect
                ),
                ["up.sql:1 down.sql does not rename column members.avatar_url back to avatar (renamed by up.sql:1)"]
            );
        }
        clean(
            "ALTER TABLE members CHANGE avatar avatar_url VARCHAR(255);\n",
            "ALTER TABLE members CHANGE avatar_url avatar VARCHAR(100);\n",
            Mysql,
        );
    }

    #[test]
    fn rename_table_and_back() {
        for dialect in [Sqlite, Mysql, Postgres] {
            clean(
                "ALTER TABLE members RENAME TO people;\n",
                "ALTER TABLE people RENAME TO members;\n",
                dialect,
            );
            assert_eq!(
                found(
                    "ALTER TABLE members RENAME TO people;\n",
                    "SELECT 1;\n",
                    dialect
                ),
                ["up.sql:1 down.sql does not rename table people back to members (renamed by up.sql:1)"]
            );
        }
        clean(
            "RENAME TABLE members TO people;\n",
            "RENAME TABLE people TO members;\n",
            Mysql,
        );
    }

    #[test]
    fn rename_index_and_back() {
        clean(
            "ALTER TABLE members RENAME INDEX m_mail TO members_email;\n",
            "ALTER TABLE members RENAME INDEX members_email TO m_mail;\n",
            Mysql,
        );
        clean(
            "ALTER INDEX m_mail RENAME TO members_email;\n",
            "ALTER INDEX members_email RENAME TO m_mail;\n",
            Postgres,
        );
        assert_eq!(
            found("ALTER INDEX m_mail RENAME TO members_email;\n", "SELECT 1;\n", Postgres),
            ["up.sql:1 down.sql does not rename index members_email back to m_mail (renamed by up.sql:1)"]
        );
    }

    #[test]
    fn type_change_and_restore() {
        clean(
            "ALTER TABLE members MODIFY avatar VARCHAR(500) NULL;\n",
            "ALTER TABLE members MODIFY avatar VARCHAR(255) NULL;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE members ALTER COLUMN avatar TYPE varchar(500);\n",
            "ALTER TABLE members ALTER COLUMN avatar TYPE varchar(255);\n",
            Postgres,
        );
        assert_eq!(
            found(
                "ALTER TABLE members ALTER COLUMN avatar TYPE text;\n",
                "SELECT 1;\n",
                Postgres
            ),
            ["up.sql:1 down.sql does not restore the type of column members.avatar, changed to TEXT by up.sql:1"]
        );
        assert_eq!(
            found(
                "ALTER TABLE members MODIFY avatar VARCHAR(500);\n",
                "\nALTER TABLE members MODIFY avatar varchar(500);\n",
                Mysql
            ),
            ["up.sql:1 down.sql:2 sets column members.avatar to VARCHAR(500), the type up.sql:1 \
              gives it: the old type is not restored"]
        );
    }

    #[test]
    fn add_and_drop_constraint() {
        clean(
            "ALTER TABLE orders ADD CONSTRAINT orders_member_fk FOREIGN KEY (member) REFERENCES members (id) NOT VALID;\n",
            "ALTER TABLE orders DROP CONSTRAINT orders_member_fk;\n",
            Postgres,
        );
        clean(
            "ALTER TABLE orders ADD CONSTRAINT orders_member_fk FOREIGN KEY (member) REFERENCES members (id);\n",
            "ALTER TABLE orders DROP FOREIGN KEY orders_member_fk;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE members ADD UNIQUE KEY members_email (email);\n",
            "ALTER TABLE members DROP INDEX members_email;\n",
            Mysql,
        );
        clean(
            "ALTER TABLE members ADD PRIMARY KEY (id);\n",
            "ALTER TABLE members DROP PRIMARY KEY;\n",
            Mysql,
        );
        assert_eq!(
            found(
                "ALTER TABLE orders ADD CONSTRAINT orders_total_check CHECK (total >= 0);\n",
                "ALTER TABLE orders DROP CONSTRAINT orders_total;\n",
                Postgres
            ),
            [
                "up.sql:1 down.sql does not drop constraint orders_total_check created by up.sql:1",
                "down.sql:1 down.sql drops constraint orders_total, which up.sql did not create: \
                 a rollback would destroy data the release found"
            ]
        );
    }

    #[test]
    fn a_named_primary_key_is_dropped_by_its_name() {
        clean(
            "ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY (id);\n",
            "ALTER TABLE members DROP CONSTRAINT members_pkey;\n",
            Postgres,
        );
        // Unnamed: PostgreSQL calls it `<table>_pkey`.
        clean(
            "ALTER TABLE members ADD PRIMARY KEY (id);\n",
            "ALTER TABLE members DROP CONSTRAINT members_pkey;\n",
            Postgres,
        );
        clean(
            "ALTER TABLE members ADD CONSTRAINT pk PRIMARY KEY (id);\n",
            "ALTER TABLE members DROP PRIMARY KEY;\n",
            Mysql,
        );
        assert_eq!(
            found(
                "ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY (id);\n",
                "ALTER TABLE members DROP CONSTRAINT members_key;\n",
                Postgres
            ),
            [
                "up.sql:1 down.sql does not drop the primary key of members created by up.sql:1",
                "down.sql:1 down.sql drops constraint members_key, which up.sql did not create: \
                 a rollback would destroy data the release found"
            ]
        );
    }

    #[test]
    fn a_column_added_and_retyped_in_the_same_up_needs_no_type_restored() {
        for dialect in [Mysql, Postgres] {
            let retype = if dialect == Mysql {
                "ALTER TABLE members MODIFY label VARCHAR(200);\n"
            } else {
                "ALTER TABLE members ALTER COLUMN label TYPE varchar(200);\n"
            };
            clean(
                &format!("ALTER TABLE members ADD COLUMN label VARCHAR(50);\n{retype}"),
                "ALTER TABLE members DROP COLUMN label;\n",
                dialect,
            );
            clean(
                &format!("CREATE TABLE members (label VARCHAR(50));\n{retype}"),
                "DROP TABLE members;\n",
                dialect,
            );
            // An existing column still needs its type back.
            assert_eq!(found(retype, "SELECT 1;\n", dialect).len(), 1, "{dialect}");
        }
    }

    #[test]
    fn data_statements_need_no_mirror() {
        clean(
            "ALTER TABLE members ADD COLUMN avatar TEXT;\n\
             UPDATE members SET avatar = 'none';\n\
             INSERT INTO settings VALUES ('avatars', 1);\n\
             DELETE FROM settings WHERE k = 'old';\n",
            "DELETE FROM settings WHERE k = 'avatars';\nALTER TABLE members DROP COLUMN avatar;\n",
            Sqlite,
        );
    }

    #[test]
    fn a_finding_can_be_allowed_with_a_reason() {
        clean(
            "-- bascule:allow down-undoes-up the index is kept on purpose across rollbacks\n\
             CREATE INDEX members_email ON members (email);\n",
            "SELECT 1;\n",
            Sqlite,
        );
        clean(
            "CREATE TABLE t (id INT);\n",
            "DROP TABLE t;\n-- bascule:allow down-undoes-up leftover of 2.1, empty since\nDROP TABLE old_t;\n",
            Sqlite,
        );
    }

    #[test]
    fn statements_that_do_not_parse_are_left_to_the_parse_step() {
        clean(
            "CREATE TABLE t (id INT NOT NUL);\n",
            "DROP TABLE t;\n",
            Sqlite,
        );
        clean("-- bascule:raw\nCREATE FOO;\n", "SELECT 1;\n", Sqlite);
    }

    #[test]
    fn the_report_reads_like_rustc() {
        let findings = check_pair(
            &migration(
                "ALTER TABLE members ADD COLUMN email TEXT;\n\
                 CREATE INDEX members_email ON members (email);\n",
                "DROP INDEX members_email;\nDROP TABLE avatars;\n",
            ),
            Postgres,
            &KnownObjects::default(),
        );
        let rendered: Vec<String> = findings
            .iter()
            .map(|(f, _)| crate::report::render_finding(f))
            .collect();
        insta::assert_snapshot!(rendered.join("\n\n"));
    }
}
