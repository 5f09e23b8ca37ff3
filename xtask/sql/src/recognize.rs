//! Statements the database accepts and sqlparser 0.63 does not: recognized on purpose.
//!
//! # Why a recognizer of our own
//!
//! sqlparser covers most DDL, but a few forms that real migrations and schema dumps use every
//! day make it fail (each one is pinned by a test below that checks sqlparser still rejects it,
//! so a sqlparser upgrade that learns the form is noticed):
//!
//! - PostgreSQL: `DROP INDEX CONCURRENTLY`, `REINDEX`, `ALTER TABLE … ATTACH/DETACH PARTITION`,
//!   `DO $$ … $$`, pg_dump's `CREATE SEQUENCE … AS integer START WITH …` and `ALTER SEQUENCE`,
//!   `REFRESH MATERIALIZED VIEW`, and the table commands of [`RecognizedKind::TableCommand`]
//!   (`CLUSTER`, `VACUUM (…)`, `CREATE RULE`, `ALTER TABLE … SET TABLESPACE`, `[NO] INHERIT`, …),
//!   `CREATE [OR REPLACE] PROCEDURE` (its arguments checked by sqlparser as a function's);
//! - MySQL: `CREATE PROCEDURE|FUNCTION|EVENT … BEGIN … END` (with or without `DEFINER=`),
//!   triggers whose body is one statement, `ALTER TABLE` clauses `RENAME INDEX|KEY`, the table
//!   rename `RENAME new_name` (no `TO`),
//!   `CONVERT TO CHARACTER SET`, `ENGINE=` and the other table options, `DISABLE|ENABLE KEYS`,
//!   partitioning clauses, and `CREATE TABLE … PARTITION BY`; the dynamic-SQL idiom's
//!   `PREPARE s FROM @v | 'text'` and `DROP PREPARE s` (sqlparser reads `EXECUTE` and
//!   `DEALLOCATE PREPARE`), `SET @v := …`, stored programs' `SELECT … INTO var` with `INTO` last,
//!   multi-table `UPDATE a, b SET …` (read as `CROSS JOIN`s; `UPDATE a JOIN b` is sqlparser's),
//!   and `DO expr`; the table maintenance statements `OPTIMIZE`, `REPAIR`, `CHECK`, `CHECKSUM`
//!   `TABLE` and `ANALYZE NO_WRITE_TO_BINLOG|LOCAL TABLE` ([`RecognizedKind::TableMaintenance`]),
//!   `CREATE FULLTEXT|SPATIAL INDEX` (the rest is sqlparser's `CREATE INDEX`), and the `ALTER
//!   TABLE` clauses `FORCE`, `DISCARD|IMPORT TABLESPACE`, `ORDER BY` and MariaDB's
//!   `ALGORITHM=NOCOPY`;
//! - MariaDB: the `IF [NOT] EXISTS` guards of `ALTER TABLE` clauses (`ADD COLUMN IF NOT EXISTS`,
//!   `ADD INDEX IF NOT EXISTS`, `DROP INDEX|KEY|FOREIGN KEY IF EXISTS`, `MODIFY|CHANGE COLUMN IF
//!   EXISTS`) that idempotent downs are written with: the clause without its guard is parsed by
//!   sqlparser, and `ADD COLUMN` keeps its `if_not_exists`.
//!
//! The client command `DELIMITER` never reaches this module: the splitter consumes it.
//!
//! Marking such statements `-- bascule:raw` would hide them from the lint rules, and the rules
//! need exactly these (a `DROP INDEX` without `CONCURRENTLY`, a MySQL `ALTER` that copies the
//! table, the index a down must drop). So [`recognize`] reads each form with a small grammar and
//! returns a typed [`Recognized`] the rules can use. Recognition is strict: wherever part of the
//! form is ordinary SQL (the `DROP INDEX` after `CONCURRENTLY` is removed, a trigger's
//! one-statement body, the other clauses of an `ALTER TABLE`, the bound of an attached
//! partition), that part is handed back to sqlparser, and anything left unread makes the whole
//! statement unrecognized — the parse error then stands. A near miss is never accepted.

use sqlparser::ast::{AlterTableOperation, ObjectType, Statement};
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::parser::parser_dialect;
use bascule_patch::Dialect;

/// A statement sqlparser rejects that Bascule recognized, and what it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    pub kind: RecognizedKind,
}

/// What a recognized statement does. Names are as written, unquoted, schema-qualified names
/// joined with `.`.
#[derive(Debug, Clone, PartialEq)]
pub enum RecognizedKind {
    /// PostgreSQL `DROP INDEX CONCURRENTLY [IF EXISTS] name, … [CASCADE | RESTRICT]`.
    DropIndex {
        names: Vec<String>,
        concurrently: bool,
        if_exists: bool,
    },
    /// PostgreSQL `REINDEX [(options)] {INDEX | TABLE | SCHEMA | DATABASE | SYSTEM}
    /// [CONCURRENTLY] name`; `target` is the object kind in upper case.
    Reindex {
        target: String,
        name: String,
        concurrently: bool,
    },
    /// PostgreSQL `ALTER TABLE t ATTACH PARTITION p {FOR VALUES … | DEFAULT}`.
    AttachPartition { table: String, partition: String },
    /// PostgreSQL `ALTER TABLE t DETACH PARTITION p [CONCURRENTLY | FINALIZE]`.
    DetachPartition {
        table: String,
        partition: String,
        concurrently: bool,
    },
    /// PostgreSQL `DO [LANGUAGE l] $$ … $$`: an anonymous code block. What it runs, where it is
    /// literal, follows it as embedded statements ([`crate::embedded`]).
    DoBlock { language: Option<String> },
    /// PostgreSQL `CREATE SEQUENCE` with options sqlparser does not take (pg_dump's `AS integer`,
    /// `START WITH` before `INCREMENT BY`).
    CreateSequence { name: String },
    /// PostgreSQL `ALTER SEQUENCE name {options | OWNED BY … | OWNER TO … | RENAME TO …}`.
    AlterSequence { name: String },
    /// PostgreSQL `REFRESH MATERIALIZED VIEW [CONCURRENTLY] name [WITH [NO] DATA]`.
    RefreshMaterializedView { name: String, concurrently: bool },
    /// A PostgreSQL command on one table (or index) that sqlparser rejects, alone in its
    /// statement. `command` is one of: `CLUSTER`, `VACUUM`, `VACUUM FULL` (the keyword and
    /// parenthesised option forms), `CREATE RULE`, and the `ALTER TABLE` subforms `SET
    /// TABLESPACE`, `SET ACCESS METHOD`, `SET WITHOUT CLUSTER`, `CLUSTER ON`, `INHERIT`, `NO
    /// INHERIT`, `RESET`, `SET STATISTICS`, `SET STORAGE`, `SET COMPRESSION` (the last three of
    /// `ALTER COLUMN`), or `ALTER INDEX SET TABLESPACE`. `table` is `None` for a `CLUSTER` or
    /// `VACUUM` of every table.
    TableCommand {
        command: String,
        table: Option<String>,
    },
    /// MySQL `CREATE [DEFINER=…] {PROCEDURE | FUNCTION | TRIGGER | EVENT} name … body`.
    /// `table` is the table of a trigger.
    CreateRoutine {
        name: String,
        kind: RoutineKind,
        table: Option<String>,
    },
    /// MySQL `ALTER TABLE t clause, …` where at least one clause is one sqlparser does not know;
    /// the others are parsed by sqlparser and kept as [`AlterAction::Parsed`].
    AlterTable {
        table: String,
        actions: Vec<AlterAction>,
    },
    /// MySQL `CREATE TABLE … PARTITION BY …`: the statement without its partitioning clause, as
    /// sqlparser parsed it, so rules see the columns.
    CreatePartitionedTable {
        table: String,
        create: Box<Statement>,
    },
    /// MySQL `PREPARE name FROM {@variable | 'statement'}`.
    Prepare { name: String, from: PreparedText },
    /// MySQL `DROP PREPARE name`, the synonym of `DEALLOCATE PREPARE` (which sqlparser parses).
    DropPrepare { name: String },
    /// MySQL `SET @v := expr, …`: the same statement written with `=`, as sqlparser parsed it.
    Assignment { set: Box<Statement> },
    /// MySQL `SELECT … INTO var, …` with `INTO` last (the form stored routines use): the query
    /// without its `INTO`, as sqlparser parsed it, and the variables it sets.
    SelectInto {
        variables: Vec<String>,
        query: Box<Statement>,
    },
    /// MySQL `UPDATE a, b SET … [WHERE …]`: the tables, and the update as sqlparser parsed it
    /// with each comma read as the `CROSS JOIN` it means.
    MultiTableUpdate {
        tables: Vec<String>,
        update: Box<Statement>,
    },
    /// MySQL `DO expr, …`: expressions evaluated for their effect only (`DO 0`, `DO SLEEP(1)`).
    Do,
    /// MySQL `{OPTIMIZE | REPAIR} [NO_WRITE_TO_BINLOG | LOCAL] TABLE t, …`, `CHECK TABLE t, …
    /// [FOR UPGRADE | QUICK | FAST | MEDIUM | EXTENDED | CHANGED]…`, `CHECKSUM TABLE t, … [QUICK |
    /// EXTENDED]`, and `ANALYZE {NO_WRITE_TO_BINLOG | LOCAL} TABLE t, …` (sqlparser reads the plain
    /// `ANALYZE TABLE`). `TABLES` is accepted for `TABLE`; `tables` as written, unquoted.
    TableMaintenance {
        command: MaintenanceCommand,
        tables: Vec<String>,
    },
    /// MySQL `CREATE {FULLTEXT | SPATIAL} INDEX name ON t (…) [ALGORITHM=…] [LOCK=…]`: the
    /// statement without its index kind, as sqlparser parsed it (a `CREATE INDEX`, whose
    /// `alter_options` hold the `ALGORITHM=`/`LOCK=` asked for).
    CreateIndex {
        kind: IndexKind,
        name: String,
        table: String,
        create: Box<Statement>,
    },
    /// SQL that exists only at run time: an embedded statement ([`crate::embedded`]) whose text is
    /// built from a variable (`CONCAT('ALTER TABLE ', @t, …)`, `EXECUTE format(…)`), a literal
    /// that does not parse, a body that cannot be read. Never a written statement, never an error:
    /// the database alone will tell. `reason` says which.
    Opaque { reason: String },
}

/// Where a MySQL `PREPARE` takes its statement from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedText {
    /// A user variable, `@name` as written (the `@` kept).
    Variable(String),
    /// A string literal, as written between its quotes (escapes not undone).
    Literal(String),
}

/// A MySQL table maintenance statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaintenanceCommand {
    Optimize,
    Repair,
    Check,
    Checksum,
    Analyze,
}

impl MaintenanceCommand {
    /// `OPTIMIZE TABLE`, `CHECK TABLE`, …
    pub fn label(self) -> &'static str {
        match self {
            MaintenanceCommand::Optimize => "OPTIMIZE TABLE",
            MaintenanceCommand::Repair => "REPAIR TABLE",
            MaintenanceCommand::Check => "CHECK TABLE",
            MaintenanceCommand::Checksum => "CHECKSUM TABLE",
            MaintenanceCommand::Analyze => "ANALYZE TABLE",
        }
    }
}

/// The MySQL index kinds sqlparser's `CREATE INDEX` does not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Fulltext,
    Spatial,
}

/// The kind of a MySQL stored program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutineKind {
    Procedure,
    Function,
    Trigger,
    Event,
}

/// One clause of a recognized MySQL `ALTER TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlterAction {
    /// `RENAME {INDEX | KEY} from TO to`.
    RenameIndex { from: String, to: String },
    /// `CONVERT TO CHARACTER SET cs [COLLATE c]`: rewrites every text column, copies the table.
    ConvertCharset {
        charset: String,
        collation: Option<String>,
    },
    /// `ENGINE [=] e`: rebuilds the table.
    Engine(String),
    /// Another table option: `ROW_FORMAT=DYNAMIC`, `DEFAULT CHARSET=utf8mb4`, `COMMENT='…'`, …
    /// `name` in upper case (`DEFAULT CHARSET`, `ROW_FORMAT`).
    TableOption { name: String, value: String },
    /// `DISABLE KEYS` / `ENABLE KEYS` (mysqldump).
    Keys { enable: bool },
    /// `FORCE`: rebuilds the table (the null rebuild `OPTIMIZE TABLE` does on InnoDB).
    Force,
    /// `DISCARD TABLESPACE` (`import: false`) or `IMPORT TABLESPACE`: the table's data file
    /// removed, or another one taken in its place.
    Tablespace { import: bool },
    /// `ORDER BY col [ASC | DESC], …`: the table rebuilt with its rows in that order; the
    /// columns as written.
    OrderBy(Vec<String>),
    /// MariaDB's `ALGORITHM [=] NOCOPY`: in place without rebuilding the clustered index, or
    /// refused (sqlparser knows the other algorithms).
    AlgorithmNocopy,
    /// `ADD PARTITION (…)`, `DROP PARTITION …`, `REORGANIZE PARTITION …`, `PARTITION BY …`,
    /// `REMOVE PARTITIONING`, …: the clause as written.
    Partitioning(String),
    /// A clause sqlparser parsed.
    Parsed(Box<AlterTableOperation>),
}

/// What `sql` (one statement, as the splitter cut it) is, when it is one of the forms this module
/// knows and it is well formed. Call it only on statements sqlparser rejected.
pub fn recognize(sql: &str, dialect: Dialect) -> Option<Recognized> {
    let tokens = Tokenizer::new(parser_dialect(dialect), sql)
        .with_unescape(false)
        .tokenize()
        .ok()?;
    let c = Cursor::new(&tokens);
    let kind = match dialect {
        Dialect::Postgres => postgres(c, dialect),
        Dialect::Mysql => mysql(c, dialect),
        Dialect::Sqlite => None,
    }?;
    Some(Recognized { kind })
}

impl RecognizedKind {
    /// A short name of the form, for reports: `DROP INDEX CONCURRENTLY`, `CREATE PROCEDURE`, …
    pub fn label(&self) -> String {
        match self {
            RecognizedKind::DropIndex { .. } => "DROP INDEX CONCURRENTLY".into(),
            RecognizedKind::Reindex { .. } => "REINDEX".into(),
            RecognizedKind::AttachPartition { .. } => "ATTACH PARTITION".into(),
            RecognizedKind::DetachPartition { .. } => "DETACH PARTITION".into(),
            RecognizedKind::DoBlock { .. } => "DO block".into(),
            RecognizedKind::CreateSequence { .. } => "CREATE SEQUENCE".into(),
            RecognizedKind::AlterSequence { .. } => "ALTER SEQUENCE".into(),
            RecognizedKind::RefreshMaterializedView { .. } => "REFRESH MATERIALIZED VIEW".into(),
            RecognizedKind::TableCommand { command, .. } => command.clone(),
            RecognizedKind::CreateRoutine { kind, .. } => format!("CREATE {kind:?}").to_uppercase(),
            RecognizedKind::AlterTable { .. } => "ALTER TABLE".into(),
            RecognizedKind::CreatePartitionedTable { .. } => "CREATE TABLE … PARTITION BY".into(),
            RecognizedKind::Prepare { .. } => "PREPARE".into(),
            RecognizedKind::DropPrepare { .. } => "DROP PREPARE".into(),
            RecognizedKind::Assignment { .. } => "SET … :=".into(),
            RecognizedKind::SelectInto { .. } => "SELECT … INTO".into(),
            RecognizedKind::MultiTableUpdate { .. } => "UPDATE a, b".into(),
            RecognizedKind::Do => "DO".into(),
            RecognizedKind::TableMaintenance { command, .. } => command.label().into(),
            RecognizedKind::CreateIndex { kind, .. } => match kind {
                IndexKind::Fulltext => "CREATE FULLTEXT INDEX".into(),
                IndexKind::Spatial => "CREATE SPATIAL INDEX".into(),
            },
            RecognizedKind::Opaque { .. } => "opaque SQL".into(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

fn postgres(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    if c.peek_kw("DROP") {
        drop_index_concurrently(c, dialect)
    } else if c.eat_kw("REINDEX") {
        reindex(c)
    } else if c.eat_kws(&["ALTER", "TABLE"]) {
        alter_table_partition(c, dialect)
    } else if c.eat_kws(&["ALTER", "INDEX"]) {
        alter_index(c)
    } else if c.eat_kw("CLUSTER") {
        cluster(c)
    } else if c.eat_kw("VACUUM") {
        vacuum(c)
    } else if c.eat_kw("DO") {
        do_block(c)
    } else if c.peek_kws(&["CREATE", "PROCEDURE"])
        || c.peek_kws(&["CREATE", "OR", "REPLACE", "PROCEDURE"])
    {
        create_procedure(c, dialect)
    } else if c.kw_at(c.pos, "CREATE") && (c.kw_at(c.pos + 1, "RULE") || c.kw_at(c.pos + 3, "RULE"))
    {
        create_rule(c)
    } else if c.eat_kw("CREATE") {
        let _ = c.eat_kw("TEMPORARY") || c.eat_kw("TEMP") || c.eat_kw("UNLOGGED");
        c.expect_kw("SEQUENCE")?;
        c.eat_kws(&["IF", "NOT", "EXISTS"]);
        let name = c.name()?;
        sequence_options(&mut c, false)?;
        c.end()?;
        Some(RecognizedKind::CreateSequence { name })
    } else if c.eat_kws(&["ALTER", "SEQUENCE"]) {
        alter_sequence(c)
    } else if c.eat_kws(&["REFRESH", "MATERIALIZED", "VIEW"]) {
        let concurrently = c.eat_kw("CONCURRENTLY");
        let name = c.name()?;
        if c.eat_kw("WITH") {
            c.eat_kw("NO");
            c.expect_kw("DATA")?;
        }
        c.end()?;
        Some(RecognizedKind::RefreshMaterializedView { name, concurrently })
    } else {
        None
    }
}

/// `DROP INDEX CONCURRENTLY …`: the rest is what sqlparser parses once `CONCURRENTLY` is gone.
fn drop_index_concurrently(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    c.expect_kw("DROP")?;
    c.expect_kw("INDEX")?;
    let at = c.pos;
    c.expect_kw("CONCURRENTLY")?;
    let without = format!("{} {}", c.text(0, at), c.text(at + 1, c.len()));
    match parse_one(&without, dialect)? {
        Statement::Drop {
            object_type: ObjectType::Index,
            if_exists,
            names,
            ..
        } => Some(RecognizedKind::DropIndex {
            names: names.iter().map(ToString::to_string).map(unquote).collect(),
            concurrently: true,
            if_exists,
        }),
        _ => None,
    }
}

fn reindex(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    if c.peek(|t| matches!(t, Token::LParen)) {
        c.paren_group()?;
    }
    let target = ["INDEX", "TABLE", "SCHEMA", "DATABASE", "SYSTEM"]
        .into_iter()
        .find(|kw| c.eat_kw(kw))?;
    let concurrently = c.eat_kw("CONCURRENTLY");
    let name = c.name()?;
    c.end()?;
    Some(RecognizedKind::Reindex {
        target: target.to_string(),
        name,
        concurrently,
    })
}

fn alter_table_partition(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    c.eat_kws(&["IF", "EXISTS"]);
    c.eat_kw("ONLY");
    let table = c.name()?;
    if c.eat_kws(&["ATTACH", "PARTITION"]) {
        let partition = c.name()?;
        // The bound is the one `CREATE TABLE … PARTITION OF` takes, which sqlparser knows.
        let bound = c.text(c.pos, c.len());
        let probe = format!("CREATE TABLE {partition} PARTITION OF {table} {bound}");
        match parse_one(&probe, dialect)? {
            Statement::CreateTable(_) => Some(RecognizedKind::AttachPartition { table, partition }),
            _ => None,
        }
    } else if c.eat_kws(&["DETACH", "PARTITION"]) {
        let partition = c.name()?;
        let concurrently = c.eat_kw("CONCURRENTLY");
        if !concurrently {
            c.eat_kw("FINALIZE");
        }
        c.end()?;
        Some(RecognizedKind::DetachPartition {
            table,
            partition,
            concurrently,
        })
    } else {
        alter_table_subform(c, table)
    }
}

/// The `ALTER TABLE` subforms of [`RecognizedKind::TableCommand`], alone in the statement.
fn alter_table_subform(mut c: Cursor<'_>, table: String) -> Option<RecognizedKind> {
    let command = if c.eat_kws(&["SET", "TABLESPACE"]) {
        c.name()?;
        c.eat_kw("NOWAIT");
        "SET TABLESPACE"
    } else if c.eat_kws(&["SET", "ACCESS", "METHOD"]) {
        c.name()?;
        "SET ACCESS METHOD"
    } else if c.eat_kws(&["SET", "WITHOUT", "CLUSTER"]) {
        "SET WITHOUT CLUSTER"
    } else if c.eat_kws(&["CLUSTER", "ON"]) {
        c.name()?;
        "CLUSTER ON"
    } else if c.eat_kw("INHERIT") {
        c.name()?;
        "INHERIT"
    } else if c.eat_kws(&["NO", "INHERIT"]) {
        c.name()?;
        "NO INHERIT"
    } else if c.peek_kw("RESET") {
        c.advance()?;
        c.paren_group()?;
        "RESET"
    } else if c.eat_kw("ALTER") {
        c.eat_kw("COLUMN");
        c.name()?;
        c.expect_kw("SET")?;
        if c.eat_kw("STATISTICS") {
            c.number()?;
            "SET STATISTICS"
        } else if c.eat_kw("STORAGE") {
            c.name()?;
            "SET STORAGE"
        } else if c.eat_kw("COMPRESSION") {
            c.name()?;
            "SET COMPRESSION"
        } else {
            return None;
        }
    } else {
        return None;
    };
    c.end()?;
    Some(RecognizedKind::TableCommand {
        command: command.to_string(),
        table: Some(table),
    })
}

/// `ALTER INDEX [IF EXISTS] name SET TABLESPACE t [NOWAIT]`.
fn alter_index(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    c.eat_kws(&["IF", "EXISTS"]);
    let index = c.name()?;
    c.expect_kw("SET")?;
    c.expect_kw("TABLESPACE")?;
    c.name()?;
    c.eat_kw("NOWAIT");
    c.end()?;
    Some(RecognizedKind::TableCommand {
        command: "ALTER INDEX SET TABLESPACE".into(),
        table: Some(index),
    })
}

/// `CLUSTER [VERBOSE] [(options)] [table [USING index]]`.
fn cluster(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    c.eat_kw("VERBOSE");
    if c.peek(|t| matches!(t, Token::LParen)) {
        c.paren_group()?;
    }
    let table = if c.at_end() {
        None
    } else {
        let table = c.name()?;
        if c.eat_kw("USING") {
            c.name()?;
        }
        Some(table)
    };
    c.end()?;
    Some(RecognizedKind::TableCommand {
        command: "CLUSTER".into(),
        table,
    })
}

/// `VACUUM (options) [table [(columns)], …]` and `VACUUM [FULL] [FREEZE] [VERBOSE] [ANALYZE]
/// [table, …]`: `VACUUM FULL` when `FULL` is an option not turned off. The first table is kept.
fn vacuum(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    let mut full = false;
    if c.peek(|t| matches!(t, Token::LParen)) {
        let start = c.pos;
        c.paren_group()?;
        let options = c.text(start, c.pos).to_uppercase();
        let options = options.split_whitespace().collect::<Vec<_>>().join(" ");
        full = options
            .trim_matches(|ch| ch == '(' || ch == ')')
            .split(',')
            .map(str::trim)
            .any(|o| {
                o == "FULL" || o.starts_with("FULL ") && !matches!(&o[5..], "FALSE" | "OFF" | "0")
            });
    } else {
        for kw in ["FULL", "FREEZE", "VERBOSE", "ANALYZE", "ANALYSE"] {
            if c.eat_kw(kw) && kw == "FULL" {
                full = true;
            }
        }
    }
    let mut table = None;
    while !c.at_end() {
        let name = c.name()?;
        table.get_or_insert(name);
        if c.peek(|t| matches!(t, Token::LParen)) {
            c.paren_group()?;
        }
        if !c.eat(|t| matches!(t, Token::Comma)) {
            break;
        }
    }
    c.end()?;
    Some(RecognizedKind::TableCommand {
        command: if full { "VACUUM FULL" } else { "VACUUM" }.into(),
        table,
    })
}

/// `CREATE [OR REPLACE] RULE name AS ON event TO table …`: the rest (condition, actions) is not
/// read.
fn create_rule(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    c.expect_kw("CREATE")?;
    c.eat_kws(&["OR", "REPLACE"]);
    c.expect_kw("RULE")?;
    c.name()?;
    c.expect_kw("AS")?;
    c.expect_kw("ON")?;
    ["SELECT", "INSERT", "UPDATE", "DELETE"]
        .into_iter()
        .find(|kw| c.eat_kw(kw))?;
    c.expect_kw("TO")?;
    let table = c.name()?;
    let rest = c.text(c.pos, c.len()).to_uppercase();
    if !rest.contains("DO") {
        return None;
    }
    Some(RecognizedKind::TableCommand {
        command: "CREATE RULE".into(),
        table: Some(table),
    })
}

fn do_block(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    let mut language = c.language();
    if !c.eat(|t| {
        matches!(
            t,
            Token::DollarQuotedString(_) | Token::SingleQuotedString(_)
        )
    }) {
        return None;
    }
    if language.is_none() {
        language = c.language();
    }
    c.end()?;
    Some(RecognizedKind::DoBlock { language })
}

/// `CREATE [OR REPLACE] PROCEDURE name (args) {LANGUAGE l | AS body | [EXTERNAL] SECURITY …}…`.
/// The arguments are checked by sqlparser, which reads them in a `CREATE FUNCTION`.
fn create_procedure(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    c.expect_kw("CREATE")?;
    c.eat_kws(&["OR", "REPLACE"]);
    c.expect_kw("PROCEDURE")?;
    let name_at = c.pos;
    let name = c.name()?;
    c.paren_group()?;
    let head = c.text(name_at, c.pos);
    let (mut body, mut language) = (false, false);
    while !c.at_end() {
        if !language && c.eat_kw("LANGUAGE") {
            c.name()?;
            language = true;
        } else if !body && c.eat_kw("AS") {
            c.expect(|t| {
                matches!(
                    t,
                    Token::DollarQuotedString(_) | Token::SingleQuotedString(_)
                )
            })?;
            body = true;
        } else if c.eat_kws(&["SECURITY", "DEFINER"])
            || c.eat_kws(&["SECURITY", "INVOKER"])
            || c.eat_kws(&["EXTERNAL", "SECURITY", "DEFINER"])
            || c.eat_kws(&["EXTERNAL", "SECURITY", "INVOKER"])
        {
        } else {
            return None;
        }
    }
    if !body {
        return None;
    }
    let probe = format!("CREATE FUNCTION {head} AS $$ $$ LANGUAGE plpgsql");
    match parse_one(&probe, dialect)? {
        Statement::CreateFunction(_) => Some(RecognizedKind::CreateRoutine {
            name,
            kind: RoutineKind::Procedure,
            table: None,
        }),
        _ => None,
    }
}

fn alter_sequence(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    c.eat_kws(&["IF", "EXISTS"]);
    let name = c.name()?;
    if c.eat_kws(&["OWNER", "TO"]) || c.eat_kws(&["RENAME", "TO"]) || c.eat_kws(&["SET", "SCHEMA"])
    {
        c.name()?;
    } else {
        sequence_options(&mut c, true)?;
    }
    c.end()?;
    Some(RecognizedKind::AlterSequence { name })
}

/// The options of `CREATE SEQUENCE` (and `ALTER SEQUENCE`, which adds `RESTART`), in any order;
/// at least one for `ALTER`.
fn sequence_options(c: &mut Cursor<'_>, alter: bool) -> Option<()> {
    let mut count = 0;
    while !c.at_end() {
        if c.eat_kw("AS") {
            c.name()?;
        } else if c.eat_kw("INCREMENT") {
            c.eat_kw("BY");
            c.number()?;
        } else if c.eat_kws(&["NO", "MINVALUE"])
            || c.eat_kws(&["NO", "MAXVALUE"])
            || c.eat_kws(&["NO", "CYCLE"])
            || c.eat_kw("CYCLE")
        {
        } else if c.eat_kw("MINVALUE") || c.eat_kw("MAXVALUE") || c.eat_kw("CACHE") {
            c.number()?;
        } else if c.eat_kw("START") {
            c.eat_kw("WITH");
            c.number()?;
        } else if c.eat_kws(&["OWNED", "BY"]) {
            c.name()?;
        } else if alter && c.eat_kw("RESTART") {
            if c.eat_kw("WITH") {
                c.number()?;
            } else {
                c.number();
            }
        } else {
            return None;
        }
        count += 1;
    }
    (!alter || count > 0).then_some(())
}

// ---------------------------------------------------------------------------------------------
// MySQL

fn mysql(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    if c.eat_kws(&["ALTER", "TABLE"]) {
        return mysql_alter_table(c, dialect);
    }
    if c.eat_kw("PREPARE") {
        return prepare(c);
    }
    if c.eat_kws(&["DROP", "PREPARE"]) {
        let name = c.name()?;
        c.end()?;
        return Some(RecognizedKind::DropPrepare { name });
    }
    if c.peek_kw("SET") {
        return assignment(&c, dialect);
    }
    if c.peek_kw("SELECT") {
        return select_into(&c, dialect);
    }
    if c.eat_kw("UPDATE") {
        return multi_table_update(c, dialect);
    }
    if let Some(command) = maintenance_command(&mut c) {
        return table_maintenance(c, command);
    }
    if c.peek_kws(&["CREATE", "FULLTEXT"]) || c.peek_kws(&["CREATE", "SPATIAL"]) {
        return create_fulltext_or_spatial_index(c, dialect);
    }
    if c.eat_kw("DO") {
        let probe = format!("SELECT {}", c.text(c.pos, c.len()));
        return match parse_one(&probe, dialect)? {
            Statement::Query(_) if !c.at_end() => Some(RecognizedKind::Do),
            _ => None,
        };
    }
    c.expect_kw("CREATE")?;
    let start = c.pos;
    if c.eat_kw("DEFINER") {
        skip_definer(&mut c)?;
    }
    if c.eat_kw("TABLE") || c.eat_kws(&["TEMPORARY", "TABLE"]) {
        c.pos = start;
        return create_partitioned_table(c, dialect);
    }
    routine(c, dialect)
}

/// The maintenance statement's keyword, consumed.
fn maintenance_command(c: &mut Cursor<'_>) -> Option<MaintenanceCommand> {
    [
        ("OPTIMIZE", MaintenanceCommand::Optimize),
        ("REPAIR", MaintenanceCommand::Repair),
        ("CHECK", MaintenanceCommand::Check),
        ("CHECKSUM", MaintenanceCommand::Checksum),
        ("ANALYZE", MaintenanceCommand::Analyze),
    ]
    .into_iter()
    .find(|(kw, _)| c.eat_kw(kw))
    .map(|(_, command)| command)
}

/// The rest of a maintenance statement, after its keyword: the binlog modifier where the
/// command takes one, `TABLE|TABLES`, the tables, and the command's own options.
fn table_maintenance(mut c: Cursor<'_>, command: MaintenanceCommand) -> Option<RecognizedKind> {
    use MaintenanceCommand::{Analyze, Check, Checksum, Optimize, Repair};
    let modifier = matches!(command, Optimize | Repair | Analyze)
        && (c.eat_kw("NO_WRITE_TO_BINLOG") || c.eat_kw("LOCAL"));
    // The plain `ANALYZE TABLE t` is sqlparser's: rejected, it is wrong for another reason.
    if command == Analyze && !modifier {
        return None;
    }
    if !(c.eat_kw("TABLE") || c.eat_kw("TABLES")) {
        return None;
    }
    let mut tables = vec![unquote(c.name()?)];
    while c.eat(|t| matches!(t, Token::Comma)) {
        tables.push(unquote(c.name()?));
    }
    match command {
        Check => {
            while c.eat_kws(&["FOR", "UPGRADE"])
                || ["QUICK", "FAST", "MEDIUM", "EXTENDED", "CHANGED"]
                    .iter()
                    .any(|kw| c.eat_kw(kw))
            {}
        }
        Checksum => {
            let _ = c.eat_kw("QUICK") || c.eat_kw("EXTENDED");
        }
        // `FORCE` is MariaDB's.
        Repair => {
            while ["QUICK", "EXTENDED", "USE_FRM", "FORCE"]
                .iter()
                .any(|kw| c.eat_kw(kw))
            {}
        }
        // MariaDB's `WAIT n | NOWAIT`.
        Optimize => {
            if c.eat_kw("WAIT") {
                c.number()?;
            } else {
                c.eat_kw("NOWAIT");
            }
        }
        Analyze => {}
    }
    c.end()?;
    Some(RecognizedKind::TableMaintenance { command, tables })
}

/// `CREATE {FULLTEXT | SPATIAL} INDEX …`: the rest is what sqlparser parses as a `CREATE
/// INDEX` once the kind is gone, with a name, and no `UNIQUE` or `USING` (neither kind takes
/// them).
fn create_fulltext_or_spatial_index(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    c.expect_kw("CREATE")?;
    let at = c.pos;
    let kind = if c.eat_kw("FULLTEXT") {
        IndexKind::Fulltext
    } else {
        c.expect_kw("SPATIAL")?;
        IndexKind::Spatial
    };
    if !c.peek_kw("INDEX") {
        return None;
    }
    let without = format!("{} {}", c.text(0, at), c.text(at + 1, c.len()));
    match parse_one(&without, dialect)? {
        Statement::CreateIndex(create)
            if !create.unique
                && create.using.is_none()
                && create.predicate.is_none()
                && !create.concurrently =>
        {
            let name = unquote(create.name.as_ref()?.to_string());
            let table = unquote(create.table_name.to_string());
            Some(RecognizedKind::CreateIndex {
                kind,
                name,
                table,
                create: Box::new(Statement::CreateIndex(create)),
            })
        }
        _ => None,
    }
}

/// `PREPARE name FROM {@variable | 'text' | "text"}`, after `PREPARE`.
fn prepare(mut c: Cursor<'_>) -> Option<RecognizedKind> {
    let name = c.name()?;
    c.expect_kw("FROM")?;
    let from = match c.token(c.pos) {
        Token::Word(w) if w.quote_style.is_none() && is_user_variable(&w.value) => {
            PreparedText::Variable(w.value.clone())
        }
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => {
            PreparedText::Literal(s.clone())
        }
        _ => return None,
    };
    c.advance()?;
    c.end()?;
    Some(RecognizedKind::Prepare { name, from })
}

/// `@name`: a user variable (not `@@system`, not a bare `@`).
pub(crate) fn is_user_variable(word: &str) -> bool {
    word.len() > 1 && word.starts_with('@') && !word.starts_with("@@")
}

/// `SET @v := expr, …`: each top-level `:=` read as `=`, then sqlparser parses the statement.
fn assignment(c: &Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    let mut depth = 0usize;
    let mut rewritten = false;
    let mut text = String::new();
    for (i, token) in c.tokens.iter().enumerate() {
        match token {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Assignment if depth == 0 && c.sig.contains(&i) => {
                text.push('=');
                rewritten = true;
                continue;
            }
            _ => {}
        }
        text.push_str(&token.to_string());
    }
    if !rewritten {
        return None;
    }
    match parse_one(&text, dialect)? {
        set @ Statement::Set(_) => Some(RecognizedKind::Assignment { set: Box::new(set) }),
        _ => None,
    }
}

/// `SELECT … INTO var, …` with `INTO` last: the query without it must parse.
fn select_into(c: &Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    let mut depth = 0usize;
    let mut into = None;
    for i in 0..c.len() {
        match c.token(i) {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ if depth == 0 && c.kw_at(i, "INTO") => into = Some(i),
            _ => {}
        }
    }
    let into = into?;
    let mut targets = c.sub(into + 1, c.len());
    let mut variables = Vec::new();
    loop {
        variables.push(targets.name()?);
        if targets.at_end() {
            break;
        }
        targets.expect(|t| matches!(t, Token::Comma))?;
    }
    match parse_one(&c.text(0, into), dialect)? {
        query @ Statement::Query(_) => Some(RecognizedKind::SelectInto {
            variables,
            query: Box::new(query),
        }),
        _ => None,
    }
}

/// `UPDATE [LOW_PRIORITY] [IGNORE] a [AS x], b … SET …`, after `UPDATE`: the top-level commas
/// between the tables are `CROSS JOIN`s for sqlparser, which reads the rest.
fn multi_table_update(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    c.eat_kw("LOW_PRIORITY");
    c.eat_kw("IGNORE");
    let from = c.pos;
    let mut depth = 0usize;
    let set = (from..c.len()).find(|&i| {
        match c.token(i) {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth == 0 && c.kw_at(i, "SET")
    })?;
    let references = c.top_level_commas_in(from, set);
    if references.len() < 2 {
        return None;
    }
    let mut tables = Vec::new();
    for &(a, b) in &references {
        let mut reference = c.sub(a, b);
        tables.push(unquote(reference.name()?));
    }
    let joined = references
        .iter()
        .map(|&(a, b)| c.text(a, b))
        .collect::<Vec<_>>()
        .join(" CROSS JOIN ");
    let probe = format!("{} {joined} {}", c.text(0, from), c.text(set, c.len()));
    match parse_one(&probe, dialect)? {
        update @ Statement::Update(_) => Some(RecognizedKind::MultiTableUpdate {
            tables,
            update: Box::new(update),
        }),
        _ => None,
    }
}

/// `DEFINER = user[@host]` or `DEFINER = CURRENT_USER[()]`, after `DEFINER`.
fn skip_definer(c: &mut Cursor<'_>) -> Option<()> {
    c.expect(|t| matches!(t, Token::Eq))?;
    // `'root'@'localhost'`, `` `root`@`%` ``, `root@localhost`, `CURRENT_USER()`: a few tokens,
    // up to the object keyword.
    for _ in 0..4 {
        if [
            "PROCEDURE",
            "FUNCTION",
            "TRIGGER",
            "EVENT",
            "AGGREGATE",
            "SQL",
        ]
        .iter()
        .any(|kw| c.peek_kw(kw))
        {
            return Some(());
        }
        if c.peek(|t| matches!(t, Token::LParen)) {
            c.paren_group()?;
        } else {
            c.advance()?;
        }
    }
    None
}

fn routine(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    let _ =
        c.eat_kws(&["SQL", "SECURITY", "DEFINER"]) || c.eat_kws(&["SQL", "SECURITY", "INVOKER"]);
    c.eat_kw("AGGREGATE");
    let kind = if c.eat_kw("PROCEDURE") {
        RoutineKind::Procedure
    } else if c.eat_kw("FUNCTION") {
        RoutineKind::Function
    } else if c.eat_kw("TRIGGER") {
        RoutineKind::Trigger
    } else if c.eat_kw("EVENT") {
        RoutineKind::Event
    } else {
        return None;
    };
    c.eat_kws(&["IF", "NOT", "EXISTS"]);
    let name = c.name()?;
    let mut table = None;
    match kind {
        RoutineKind::Procedure => {
            c.paren_group()?;
            characteristics(&mut c);
        }
        RoutineKind::Function => {
            c.paren_group()?;
            c.expect_kw("RETURNS")?;
            // The return type runs up to the first characteristic or the body.
            c.advance()?;
            while !c.at_end() && !is_body_start(&c) && !is_characteristic(&c) {
                if c.peek(|t| matches!(t, Token::LParen)) {
                    c.paren_group()?;
                } else {
                    c.advance()?;
                }
            }
            characteristics(&mut c);
        }
        RoutineKind::Trigger => {
            if !(c.eat_kw("BEFORE") || c.eat_kw("AFTER")) {
                return None;
            }
            if !(c.eat_kw("INSERT") || c.eat_kw("UPDATE") || c.eat_kw("DELETE")) {
                return None;
            }
            c.expect_kw("ON")?;
            table = Some(c.name()?);
            if !c.eat_kws(&["FOR", "EACH", "ROW"]) {
                return None;
            }
            if c.eat_kw("FOLLOWS") || c.eat_kw("PRECEDES") {
                c.name()?;
            }
        }
        RoutineKind::Event => {
            c.expect_kw("ON")?;
            c.expect_kw("SCHEDULE")?;
            while !c.eat_kw("DO") {
                c.advance()?;
            }
        }
    }
    routine_body(&mut c, dialect, kind)?;
    Some(RecognizedKind::CreateRoutine { name, kind, table })
}

fn is_characteristic(c: &Cursor<'_>) -> bool {
    [
        "COMMENT",
        "LANGUAGE",
        "NOT",
        "DETERMINISTIC",
        "CONTAINS",
        "NO",
        "READS",
        "MODIFIES",
        "SQL",
    ]
    .iter()
    .any(|kw| c.peek_kw(kw))
}

fn is_body_start(c: &Cursor<'_>) -> bool {
    c.peek_kw("BEGIN") || c.peek_kw("RETURN") || c.peek_label()
}

/// `COMMENT '…'`, `LANGUAGE SQL`, `[NOT] DETERMINISTIC`, `CONTAINS SQL`, `NO SQL`,
/// `READS SQL DATA`, `MODIFIES SQL DATA`, `SQL SECURITY {DEFINER | INVOKER}`.
fn characteristics(c: &mut Cursor<'_>) {
    loop {
        let matched = (c.eat_kw("COMMENT") && c.eat(|t| matches!(t, Token::SingleQuotedString(_))))
            || c.eat_kws(&["LANGUAGE", "SQL"])
            || c.eat_kws(&["NOT", "DETERMINISTIC"])
            || c.eat_kw("DETERMINISTIC")
            || c.eat_kws(&["CONTAINS", "SQL"])
            || c.eat_kws(&["NO", "SQL"])
            || c.eat_kws(&["READS", "SQL", "DATA"])
            || c.eat_kws(&["MODIFIES", "SQL", "DATA"])
            || c.eat_kws(&["SQL", "SECURITY", "DEFINER"])
            || c.eat_kws(&["SQL", "SECURITY", "INVOKER"]);
        if !matched {
            return;
        }
    }
}

/// A routine's body: `[label:] BEGIN … END [label]` with balanced blocks, `RETURN expr` for a
/// function, or one statement sqlparser parses.
fn routine_body(c: &mut Cursor<'_>, dialect: Dialect, kind: RoutineKind) -> Option<()> {
    if c.peek_label() {
        c.advance()?;
        c.advance()?;
    }
    if c.peek_kw("BEGIN") {
        return balanced_block(c);
    }
    let rest = c.text(c.pos, c.len());
    let probe = if kind == RoutineKind::Function && c.eat_kw("RETURN") {
        format!("SELECT {}", c.text(c.pos, c.len()))
    } else {
        rest
    };
    parse_one(&probe, dialect).map(|_| ())
}

/// From `BEGIN` to the end: blocks (`BEGIN`, `CASE`) and `END`s balance, and the last `END`
/// (optionally followed by a label) closes the first `BEGIN`.
fn balanced_block(c: &mut Cursor<'_>) -> Option<()> {
    let mut depth: usize = 0;
    let mut closed_at = None;
    let mut previous_end = false;
    while !c.at_end() {
        let opens = c.peek_kw("BEGIN") || (c.peek_kw("CASE") && !previous_end);
        let is_end = c.peek_kw("END");
        c.advance()?;
        if opens {
            depth += 1;
        } else if is_end {
            let ends_statement = ["IF", "LOOP", "WHILE", "REPEAT"]
                .iter()
                .any(|kw| c.peek_kw(kw));
            if !ends_statement {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    closed_at = Some(c.pos);
                    break;
                }
            }
        }
        previous_end = is_end;
    }
    closed_at?;
    // `END label`.
    if !c.at_end() && c.peek(|t| matches!(t, Token::Word(_))) {
        c.advance()?;
    }
    c.end()
}

fn mysql_alter_table(mut c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    let head_end = c.pos;
    let table = c.name()?;
    let table_text = c.text(head_end, c.pos);
    let mut actions = Vec::new();
    let mut unknown = false;
    let clauses = comma_ranges(c.pos, c.len(), |i| c.token(i));
    // An empty clause (`a,, b`, a trailing comma) is no clause: the statement is wrong.
    if clauses.iter().any(|(from, to)| from >= to) {
        return None;
    }
    let mut next = 0;
    while let Some(&(from, to)) = clauses.get(next) {
        next += 1;
        let mut clause = c.sub(from, to);
        if clause.eat_kws(&["ORDER", "BY"]) {
            // `ORDER BY a, b DESC`: the commas after it separate its columns, not clauses.
            let mut columns = vec![order_column(&mut clause)?];
            while let Some(&(from, to)) = clauses.get(next) {
                let mut item = c.sub(from, to);
                if item.peek_kw("FORCE") {
                    break;
                }
                match order_column(&mut item) {
                    Some(column) => columns.push(column),
                    None => break,
                }
                next += 1;
            }
            unknown = true;
            actions.push(AlterAction::OrderBy(columns));
            continue;
        }
        clause.pos = 0;
        if let Some(options) = table_options(&mut clause) {
            unknown = true;
            actions.extend(options);
            continue;
        }
        clause.pos = 0;
        let action = match mysql_alter_clause(&mut clause) {
            Some(action) => {
                unknown = true;
                action
            }
            None => {
                let as_written = format!("ALTER TABLE {table_text} {}", c.text(from, to));
                let (mut operation, guard) = match parse_alter_clause(&as_written, dialect) {
                    Some(operation) => (operation, None),
                    None => {
                        let guard = mariadb_guard(&clause);
                        let readable = readable_clause(&clause, guard)?;
                        unknown = true;
                        let sql = format!("ALTER TABLE {table_text} {readable}");
                        (parse_alter_clause(&sql, dialect)?, guard)
                    }
                };
                if let (
                    Some(Guard { not: true, .. }),
                    AlterTableOperation::AddColumn { if_not_exists, .. },
                ) = (guard, &mut operation)
                {
                    *if_not_exists = true;
                }
                AlterAction::Parsed(Box::new(operation))
            }
        };
        actions.push(action);
    }
    // All clauses known to sqlparser: the statement failed for another reason.
    unknown.then_some(RecognizedKind::AlterTable { table, actions })
}

/// One column of `ALTER TABLE … ORDER BY`: `name [ASC | DESC]` and nothing after it.
fn order_column(c: &mut Cursor<'_>) -> Option<String> {
    let column = unquote(c.name()?);
    let _ = c.eat_kw("ASC") || c.eat_kw("DESC");
    c.end()?;
    Some(column)
}

/// MariaDB's `IF [NOT] EXISTS` inside an `ALTER TABLE` clause, significant tokens `from..to`.
#[derive(Debug, Clone, Copy)]
struct Guard {
    from: usize,
    to: usize,
    /// `IF NOT EXISTS` (an `ADD`) rather than `IF EXISTS`.
    not: bool,
}

/// Keywords that may stand between a clause's verb and MariaDB's guard: `ADD COLUMN IF NOT
/// EXISTS`, `ADD UNIQUE KEY IF NOT EXISTS`, `DROP FOREIGN KEY IF EXISTS`, `MODIFY COLUMN IF
/// EXISTS`, and `ADD CONSTRAINT c FOREIGN KEY IF NOT EXISTS`.
const GUARDED: &[&str] = &[
    "COLUMN",
    "INDEX",
    "KEY",
    "UNIQUE",
    "FULLTEXT",
    "SPATIAL",
    "FOREIGN",
    "CONSTRAINT",
];

/// The guard of a clause that has one where MariaDB allows it: `IF NOT EXISTS` after `ADD …`,
/// `IF EXISTS` after `DROP`, `MODIFY` or `CHANGE …`. The wrong guard for the verb is no guard.
fn mariadb_guard(c: &Cursor<'_>) -> Option<Guard> {
    let not = if c.kw_at(0, "ADD") {
        true
    } else if ["DROP", "MODIFY", "CHANGE"].iter().any(|kw| c.kw_at(0, kw)) {
        false
    } else {
        return None;
    };
    let mut i = 1;
    while GUARDED.iter().any(|kw| c.kw_at(i, kw)) {
        // `CONSTRAINT name FOREIGN KEY`: the name is part of the run.
        i += if c.kw_at(i, "CONSTRAINT") && !c.kw_at(i + 1, "IF") {
            2
        } else {
            1
        };
    }
    let words: &[&str] = if not {
        &["IF", "NOT", "EXISTS"]
    } else {
        &["IF", "EXISTS"]
    };
    words
        .iter()
        .enumerate()
        .all(|(k, kw)| c.kw_at(i + k, kw))
        .then_some(Guard {
            from: i,
            to: i + words.len(),
            not,
        })
}

/// A clause sqlparser rejected, rewritten in the form it reads, if it is one of MySQL's or
/// MariaDB's: without its guard, `DROP KEY` (a synonym) as `DROP INDEX`, and the table rename
/// `RENAME new_name` (sqlparser knows `RENAME TO` and `RENAME AS` only). `None`: nothing to
/// rewrite.
fn readable_clause(clause: &Cursor<'_>, guard: Option<Guard>) -> Option<String> {
    if guard.is_none() && clause.kw_at(0, "RENAME") {
        let named = ["TO", "AS", "COLUMN", "INDEX", "KEY"]
            .iter()
            .all(|kw| !clause.kw_at(1, kw));
        // Exactly one name after it: anything else is not this form.
        return (named && clause.len() == 2)
            .then(|| format!("RENAME TO {}", clause.text(1, clause.len())));
    }
    let drop_key = clause.kw_at(0, "DROP") && clause.kw_at(1, "KEY");
    if guard.is_none() && !drop_key {
        return None;
    }
    let (from, to) = guard.map_or((clause.len(), clause.len()), |g| (g.from, g.to));
    let head = clause.text(0, from);
    let head = match drop_key {
        true => format!("DROP INDEX {}", clause.text(2, from)),
        false => head,
    };
    Some(format!("{head} {}", clause.text(to, clause.len())))
}

/// The one operation of `ALTER TABLE t <clause>`, if sqlparser reads it.
fn parse_alter_clause(sql: &str, dialect: Dialect) -> Option<AlterTableOperation> {
    match parse_one(sql, dialect)? {
        Statement::AlterTable(alter) => {
            let mut operations = alter.operations;
            (operations.len() == 1).then(|| operations.remove(0))
        }
        _ => None,
    }
}

/// Table options an `ALTER TABLE` may set, as `NAME [=] value`.
const TABLE_OPTIONS: &[&str] = &[
    "ROW_FORMAT",
    "COMMENT",
    "KEY_BLOCK_SIZE",
    "STATS_PERSISTENT",
    "STATS_AUTO_RECALC",
    "STATS_SAMPLE_PAGES",
    "PACK_KEYS",
    "CHECKSUM",
    "MAX_ROWS",
    "MIN_ROWS",
    "AVG_ROW_LENGTH",
    "COMPRESSION",
    "ENCRYPTION",
    "CHARSET",
    "COLLATE",
];

/// One `ALTER TABLE` clause that only this module knows, or `None`.
fn mysql_alter_clause(c: &mut Cursor<'_>) -> Option<AlterAction> {
    let action = if c.eat_kws(&["RENAME", "INDEX"]) || c.eat_kws(&["RENAME", "KEY"]) {
        let from = c.name()?;
        c.expect_kw("TO")?;
        AlterAction::RenameIndex {
            from,
            to: c.name()?,
        }
    } else if c.eat_kws(&["CONVERT", "TO"]) {
        if !(c.eat_kws(&["CHARACTER", "SET"]) || c.eat_kw("CHARSET")) {
            return None;
        }
        let charset = c.name()?;
        let collation = if c.eat_kw("COLLATE") {
            Some(c.name()?)
        } else {
            None
        };
        AlterAction::ConvertCharset { charset, collation }
    } else if c.eat_kw("FORCE") {
        AlterAction::Force
    } else if c.eat_kws(&["DISCARD", "TABLESPACE"]) {
        AlterAction::Tablespace { import: false }
    } else if c.eat_kws(&["IMPORT", "TABLESPACE"]) {
        AlterAction::Tablespace { import: true }
    } else if c.eat_kw("ALGORITHM") {
        c.eat(|t| matches!(t, Token::Eq));
        c.expect_kw("NOCOPY")?;
        AlterAction::AlgorithmNocopy
    } else if c.eat_kws(&["DISABLE", "KEYS"]) {
        AlterAction::Keys { enable: false }
    } else if c.eat_kws(&["ENABLE", "KEYS"]) {
        AlterAction::Keys { enable: true }
    } else {
        partitioning_clause(c)?
    };
    c.end()?;
    Some(action)
}

/// One or more table options, separated by spaces: `ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8`,
/// `DEFAULT CHARSET=utf8mb4 COLLATE utf8mb4_bin`; the whole clause, or `None`.
fn table_options(c: &mut Cursor<'_>) -> Option<Vec<AlterAction>> {
    let mut actions = Vec::new();
    while !c.at_end() {
        if c.eat_kw("ENGINE") {
            c.eat(|t| matches!(t, Token::Eq));
            actions.push(AlterAction::Engine(c.name()?));
            continue;
        }
        let default = c.eat_kw("DEFAULT");
        let mut name = if c.eat_kws(&["CHARACTER", "SET"]) {
            "CHARACTER SET".to_string()
        } else {
            let name = TABLE_OPTIONS.iter().find(|kw| c.eat_kw(kw))?;
            name.to_string()
        };
        if default {
            name = format!("DEFAULT {name}");
        }
        c.eat(|t| matches!(t, Token::Eq));
        let value = c.text(c.pos, c.pos + 1);
        c.advance()?;
        actions.push(AlterAction::TableOption { name, value });
    }
    (!actions.is_empty()).then_some(actions)
}

fn partitioning_clause(c: &mut Cursor<'_>) -> Option<AlterAction> {
    let start = c.pos;
    let ok = if c.eat_kws(&["ADD", "PARTITION"]) {
        c.paren_group().is_some()
    } else if c.eat_kws(&["DROP", "PARTITION"])
        || c.eat_kws(&["TRUNCATE", "PARTITION"])
        || c.eat_kws(&["ANALYZE", "PARTITION"])
        || c.eat_kws(&["OPTIMIZE", "PARTITION"])
        || c.eat_kws(&["REBUILD", "PARTITION"])
    {
        c.name().is_some()
    } else if c.eat_kws(&["REORGANIZE", "PARTITION"]) {
        c.name().is_some() && c.eat_kw("INTO") && c.paren_group().is_some()
    } else if c.eat_kws(&["COALESCE", "PARTITION"]) {
        c.number().is_some()
    } else if c.eat_kws(&["REMOVE", "PARTITIONING"]) {
        true
    } else if c.eat_kws(&["EXCHANGE", "PARTITION"]) {
        let exchanged = c.name().is_some() && c.eat_kws(&["WITH", "TABLE"]) && c.name().is_some();
        let _ = c.eat_kws(&["WITH", "VALIDATION"]) || c.eat_kws(&["WITHOUT", "VALIDATION"]);
        exchanged
    } else if c.peek_kw("PARTITION") {
        partition_by(c).is_some()
    } else {
        return None;
    };
    if !ok || !c.at_end() {
        c.pos = start;
        return None;
    }
    Some(AlterAction::Partitioning(c.text(start, c.len())))
}

/// `PARTITION BY [LINEAR] {RANGE | LIST | HASH | KEY} [COLUMNS] (…) [PARTITIONS n]
/// [SUBPARTITION BY …] [(PARTITION p …, …)]` to the end.
fn partition_by(c: &mut Cursor<'_>) -> Option<()> {
    c.expect_kw("PARTITION")?;
    c.expect_kw("BY")?;
    c.eat_kw("LINEAR");
    ["RANGE", "LIST", "HASH", "KEY"]
        .iter()
        .find(|kw| c.eat_kw(kw))?;
    c.eat_kw("COLUMNS");
    c.paren_group()?;
    if c.eat_kw("PARTITIONS") {
        c.number()?;
    }
    if c.eat_kws(&["SUBPARTITION", "BY"]) {
        c.eat_kw("LINEAR");
        if !(c.eat_kw("HASH") || c.eat_kw("KEY")) {
            return None;
        }
        c.paren_group()?;
        if c.eat_kw("SUBPARTITIONS") {
            c.number()?;
        }
    }
    if c.peek(|t| matches!(t, Token::LParen)) {
        let open = c.pos;
        c.paren_group()?;
        let close = c.pos - 1;
        let definitions = c.top_level_commas_in(open + 1, close);
        if definitions.is_empty() {
            return None;
        }
        for (from, to) in definitions {
            let mut d = c.sub(from, to);
            d.expect_kw("PARTITION")?;
            d.name()?;
        }
    }
    c.end()
}

fn create_partitioned_table(c: Cursor<'_>, dialect: Dialect) -> Option<RecognizedKind> {
    // The partitioning clause comes after the column list, at the top level.
    let mut at = None;
    let mut depth = 0usize;
    for i in 0..c.len() {
        match c.token(i) {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.checked_sub(1)?,
            _ if depth == 0 && c.kw_at(i, "PARTITION") && c.kw_at(i + 1, "BY") => {
                at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let at = at?;
    let mut clause = c.sub(at, c.len());
    partition_by(&mut clause)?;
    match parse_one(&c.text(0, at), dialect)? {
        Statement::CreateTable(create) => Some(RecognizedKind::CreatePartitionedTable {
            table: unquote(create.name.to_string()),
            create: Box::new(Statement::CreateTable(create)),
        }),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// sqlparser's single statement for `sql`, if it parses as exactly one.
fn parse_one(sql: &str, dialect: Dialect) -> Option<Statement> {
    let mut statements = Parser::parse_sql(parser_dialect(dialect), sql).ok()?;
    (statements.len() == 1).then(|| statements.remove(0))
}

/// `"public"."members"` → `public.members`; `` `shop`.`orders` `` → `shop.orders`.
fn unquote(name: String) -> String {
    name.replace(['"', '`'], "")
}

/// A cursor over the significant tokens (no whitespace, no comments) of a statement, that can
/// still give back the text between two of them, as written.
struct Cursor<'t> {
    tokens: &'t [Token],
    /// Indexes of the significant tokens in `tokens`, in the cursor's range.
    sig: Vec<usize>,
    /// Position in `sig`.
    pos: usize,
}

impl<'t> Cursor<'t> {
    fn new(tokens: &'t [Token]) -> Self {
        let sig = tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| !matches!(t, Token::Whitespace(_) | Token::EOF))
            .map(|(i, _)| i)
            .collect();
        Cursor {
            tokens,
            sig,
            pos: 0,
        }
    }

    /// A cursor over significant tokens `from..to` of this one.
    fn sub(&self, from: usize, to: usize) -> Cursor<'t> {
        Cursor {
            tokens: self.tokens,
            sig: self.sig[from..to].to_vec(),
            pos: 0,
        }
    }

    fn len(&self) -> usize {
        self.sig.len()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.sig.len()
    }

    fn end(&self) -> Option<()> {
        self.at_end().then_some(())
    }

    fn token(&self, i: usize) -> &'t Token {
        self.sig
            .get(i)
            .and_then(|&t| self.tokens.get(t))
            .unwrap_or(&Token::EOF)
    }

    fn kw_at(&self, i: usize, kw: &str) -> bool {
        matches!(self.token(i), Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(kw))
    }

    fn peek(&self, f: impl Fn(&Token) -> bool) -> bool {
        !self.at_end() && f(self.token(self.pos))
    }

    fn peek_kw(&self, kw: &str) -> bool {
        self.kw_at(self.pos, kw)
    }

    /// All of `kws` in a row at the cursor, nothing consumed.
    fn peek_kws(&self, kws: &[&str]) -> bool {
        kws.iter()
            .enumerate()
            .all(|(i, kw)| self.kw_at(self.pos + i, kw))
    }

    /// `label:` (a word and a colon) at the cursor.
    fn peek_label(&self) -> bool {
        matches!(self.token(self.pos), Token::Word(w) if w.quote_style.is_none())
            && matches!(self.token(self.pos + 1), Token::Colon)
    }

    fn advance(&mut self) -> Option<()> {
        (!self.at_end()).then(|| self.pos += 1)
    }

    fn eat(&mut self, f: impl Fn(&Token) -> bool) -> bool {
        let hit = self.peek(f);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect(&mut self, f: impl Fn(&Token) -> bool) -> Option<()> {
        self.eat(f).then_some(())
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        let hit = self.peek_kw(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_kw(&mut self, kw: &str) -> Option<()> {
        self.eat_kw(kw).then_some(())
    }

    /// All of `kws` in a row, or nothing is consumed.
    fn eat_kws(&mut self, kws: &[&str]) -> bool {
        let hit = kws
            .iter()
            .enumerate()
            .all(|(i, kw)| self.kw_at(self.pos + i, kw));
        if hit {
            self.pos += kws.len();
        }
        hit
    }

    /// A possibly qualified name: `a`, `"a"."b"`, `` `a`.`b` ``, as `a.b`.
    fn name(&mut self) -> Option<String> {
        let mut parts = Vec::new();
        loop {
            match self.token(self.pos) {
                Token::Word(w) if !self.at_end() => parts.push(w.value.clone()),
                _ => return None,
            }
            self.pos += 1;
            if !self.eat(|t| matches!(t, Token::Period)) {
                return Some(parts.join("."));
            }
        }
    }

    /// `[-]123`.
    fn number(&mut self) -> Option<String> {
        let minus = self.eat(|t| matches!(t, Token::Minus));
        match self.token(self.pos) {
            Token::Number(n, _) if !self.at_end() => {
                self.pos += 1;
                Some(if minus { format!("-{n}") } else { n.clone() })
            }
            _ => None,
        }
    }

    /// `LANGUAGE name`, if there.
    fn language(&mut self) -> Option<String> {
        if self.eat_kw("LANGUAGE") {
            self.name()
        } else {
            None
        }
    }

    /// A `(` … matching `)` group.
    fn paren_group(&mut self) -> Option<()> {
        if !self.eat(|t| matches!(t, Token::LParen)) {
            return None;
        }
        let mut depth = 1usize;
        while depth > 0 {
            match self.token(self.pos) {
                _ if self.at_end() => return None,
                Token::LParen => depth += 1,
                Token::RParen => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        Some(())
    }

    fn top_level_commas_in(&self, from: usize, to: usize) -> Vec<(usize, usize)> {
        let mut ranges = comma_ranges(from, to, |i| self.token(i));
        ranges.retain(|(a, b)| a < b);
        ranges
    }

    /// The text from significant token `from` up to (not including) significant token `to`, as
    /// written, whitespace and comments between them included.
    fn text(&self, from: usize, to: usize) -> String {
        let Some(&first) = self.sig.get(from) else {
            return String::new();
        };
        let last = match to.checked_sub(1).and_then(|i| self.sig.get(i)) {
            Some(&last) if to > from => last,
            _ => return String::new(),
        };
        self.tokens[first..=last]
            .iter()
            .map(ToString::to_string)
            .collect()
    }
}

/// The ranges of tokens `from..to` cut at the commas outside parentheses, empty ones included
/// (`a,, b` has three): whatever holds the tokens, `token(i)` gives the `i`-th.
pub(crate) fn comma_ranges<'t>(
    from: usize,
    to: usize,
    token: impl Fn(usize) -> &'t Token,
) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut depth = 0usize;
    let mut start = from;
    for i in from..to {
        match token(i) {
            Token::LParen => depth += 1,
            Token::RParen => depth = depth.saturating_sub(1),
            Token::Comma if depth == 0 => {
                ranges.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    ranges.push((start, to));
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    /// sqlparser 0.63 rejects `sql`, and the recognizer reads it as `expected`.
    fn recognized(sql: &str, dialect: Dialect) -> RecognizedKind {
        assert!(
            Parser::parse_sql(parser_dialect(dialect), sql).is_err(),
            "sqlparser now parses this form; the recognizer is no longer needed for it: {sql}"
        );
        match recognize(sql, dialect) {
            Some(r) => r.kind,
            None => panic!("not recognized: {sql}"),
        }
    }

    fn not_recognized(sql: &str, dialect: Dialect) {
        assert!(
            Parser::parse_sql(parser_dialect(dialect), sql).is_err(),
            "the near miss should not parse: {sql}"
        );
        assert_eq!(recognize(sql, dialect), None, "near miss recognized: {sql}");
    }

    use Dialect::{Mysql, Postgres};

    #[test]
    fn drop_index_concurrently() {
        assert_eq!(
            recognized(
                "DROP INDEX CONCURRENTLY IF EXISTS public.members_email",
                Postgres
            ),
            RecognizedKind::DropIndex {
                names: vec!["public.members_email".into()],
                concurrently: true,
                if_exists: true
            }
        );
        assert!(matches!(
            recognized("DROP INDEX CONCURRENTLY \"Members_Email\" CASCADE", Postgres),
            RecognizedKind::DropIndex { names, .. } if names == ["Members_Email"]
        ));
        not_recognized("DROP INDEX CONCURRENTLY a,", Postgres);
        not_recognized("DROP INDEX CONCURRENTLY a b", Postgres);
        not_recognized("DROP TABLE CONCURRENTLY a", Postgres);
    }

    #[test]
    fn postgres_table_commands() {
        let command = |sql: &str| match recognized(sql, Postgres) {
            RecognizedKind::TableCommand { command, table } => (command, table),
            other => panic!("{sql}: {other:?}"),
        };
        let t = |c: &str, table: Option<&str>| (c.to_string(), table.map(str::to_string));
        assert_eq!(
            command("CLUSTER members USING members_pkey"),
            t("CLUSTER", Some("members"))
        );
        assert_eq!(command("CLUSTER VERBOSE"), t("CLUSTER", None));
        assert_eq!(
            command("VACUUM (FULL, ANALYZE) members"),
            t("VACUUM FULL", Some("members"))
        );
        assert_eq!(
            command("VACUUM (FULL false) members"),
            t("VACUUM", Some("members"))
        );
        assert_eq!(
            command("VACUUM FULL ANALYZE members, sites"),
            t("VACUUM FULL", Some("members"))
        );
        assert_eq!(
            command("VACUUM ANALYZE members (name)"),
            t("VACUUM", Some("members"))
        );
        assert_eq!(
            command("ALTER TABLE ONLY public.members SET TABLESPACE fast"),
            t("SET TABLESPACE", Some("public.members"))
        );
        assert_eq!(
            command("ALTER TABLE members SET ACCESS METHOD heap2").0,
            "SET ACCESS METHOD"
        );
        assert_eq!(
            command("ALTER TABLE members SET WITHOUT CLUSTER").0,
            "SET WITHOUT CLUSTER"
        );
        assert_eq!(
            command("ALTER TABLE members CLUSTER ON members_pkey").0,
            "CLUSTER ON"
        );
        assert_eq!(command("ALTER TABLE members INHERIT people").0, "INHERIT");
        assert_eq!(
            command("ALTER TABLE members NO INHERIT people").0,
            "NO INHERIT"
        );
        assert_eq!(command("ALTER TABLE members RESET (fillfactor)").0, "RESET");
        assert_eq!(
            command("ALTER TABLE members ALTER COLUMN name SET STATISTICS 500").0,
            "SET STATISTICS"
        );
        assert_eq!(
            command("ALTER TABLE members ALTER name SET STORAGE EXTERNAL").0,
            "SET STORAGE"
        );
        assert_eq!(
            command("ALTER INDEX members_name SET TABLESPACE fast"),
            t("ALTER INDEX SET TABLESPACE", Some("members_name"))
        );
        assert_eq!(
            command("CREATE OR REPLACE RULE keep AS ON DELETE TO members DO INSTEAD NOTHING"),
            t("CREATE RULE", Some("members"))
        );
        not_recognized(
            "ALTER TABLE members SET TABLESPACE fast, ADD COLUMN a int",
            Postgres,
        );
        not_recognized("ALTER TABLE members INHERIT", Postgres);
        not_recognized("CLUSTER members USING", Postgres);
        not_recognized(
            "CREATE RULE keep AS ON TRUNCATE TO members DO NOTHING",
            Postgres,
        );
    }

    #[test]
    fn reindex() {
        assert_eq!(
            recognized("REINDEX (VERBOSE) TABLE CONCURRENTLY members", Postgres),
            RecognizedKind::Reindex {
                target: "TABLE".into(),
                name: "members".into(),
                concurrently: true
            }
        );
        assert!(matches!(
            recognized("REINDEX INDEX members_email", Postgres),
            RecognizedKind::Reindex {
                concurrently: false,
                ..
            }
        ));
        not_recognized("REINDEX TABLES members", Postgres);
        not_recognized("REINDEX TABLE members extra", Postgres);
    }

    #[test]
    fn attach_and_detach_partition() {
        assert_eq!(
            recognized(
                "ALTER TABLE measurement ATTACH PARTITION measurement_y2024 \
                 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
                Postgres
            ),
            RecognizedKind::AttachPartition {
                table: "measurement".into(),
                partition: "measurement_y2024".into()
            }
        );
        assert!(matches!(
            recognized(
                "ALTER TABLE ONLY m ATTACH PARTITION m_other DEFAULT",
                Postgres
            ),
            RecognizedKind::AttachPartition { .. }
        ));
        assert_eq!(
            recognized(
                "ALTER TABLE measurement DETACH PARTITION measurement_y2024 CONCURRENTLY",
                Postgres
            ),
            RecognizedKind::DetachPartition {
                table: "measurement".into(),
                partition: "measurement_y2024".into(),
                concurrently: true
            }
        );
        not_recognized(
            "ALTER TABLE m ATTACH PARTITION p FOR VALUES FROM ('2024-01-01')",
            Postgres,
        );
        not_recognized("ALTER TABLE m DETACH PARTITION p NOW", Postgres);
    }

    #[test]
    fn do_blocks() {
        assert_eq!(
            recognized(
                "DO $$\nBEGIN\n  RAISE NOTICE 'hello';\nEND\n$$ LANGUAGE plpgsql",
                Postgres
            ),
            RecognizedKind::DoBlock {
                language: Some("plpgsql".into())
            }
        );
        assert_eq!(
            recognized("DO 'BEGIN NULL; END'", Postgres),
            RecognizedKind::DoBlock { language: None }
        );
        not_recognized("DO BEGIN NULL END", Postgres);
        not_recognized("DO $$ BEGIN NULL; END $$ $$x$$", Postgres);
    }

    #[test]
    fn pg_dump_sequences_and_materialized_views() {
        assert_eq!(
            recognized(
                "CREATE SEQUENCE public.members_id_seq\n    AS integer\n    START WITH 1\n    \
                 INCREMENT BY 1\n    NO MINVALUE\n    NO MAXVALUE\n    CACHE 1",
                Postgres
            ),
            RecognizedKind::CreateSequence {
                name: "public.members_id_seq".into()
            }
        );
        assert_eq!(
            recognized(
                "ALTER SEQUENCE public.members_id_seq OWNED BY public.members.id",
                Postgres
            ),
            RecognizedKind::AlterSequence {
                name: "public.members_id_seq".into()
            }
        );
        assert!(matches!(
            recognized(
                "REFRESH MATERIALIZED VIEW CONCURRENTLY daily_sales",
                Postgres
            ),
            RecognizedKind::RefreshMaterializedView {
                concurrently: true,
                ..
            }
        ));
        not_recognized("CREATE SEQUENCE s AS integer START WITH", Postgres);
        not_recognized("ALTER SEQUENCE s", Postgres);
        not_recognized("REFRESH MATERIALIZED VIEW v WITH NO", Postgres);
    }

    #[test]
    fn mysql_procedures_functions_events() {
        let procedure = "CREATE DEFINER=`root`@`localhost` PROCEDURE `close_orders`(IN days INT)\n\
                         SQL SECURITY INVOKER\n\
                         BEGIN\n  DECLARE n INT DEFAULT 0;\n  \
                         IF days > 0 THEN\n    UPDATE orders SET state = CASE WHEN paid THEN 'done' ELSE 'void' END;\n  \
                         END IF;\n  loop1: LOOP\n    LEAVE loop1;\n  END LOOP loop1;\nEND";
        assert_eq!(
            recognized(procedure, Mysql),
            RecognizedKind::CreateRoutine {
                name: "close_orders".into(),
                kind: RoutineKind::Procedure,
                table: None
            }
        );
        let function = "CREATE FUNCTION order_total(o INT) RETURNS DECIMAL(10,2) \
                        READS SQL DATA DETERMINISTIC\nBEGIN\n  RETURN (SELECT SUM(price) FROM lines WHERE order_id = o);\nEND";
        assert!(matches!(
            recognized(function, Mysql),
            RecognizedKind::CreateRoutine {
                kind: RoutineKind::Function,
                ..
            }
        ));
        assert!(matches!(
            recognized(
                "CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
                Mysql
            ),
            RecognizedKind::CreateRoutine {
                kind: RoutineKind::Function,
                ..
            }
        ));
        assert!(matches!(
            recognized(
                "CREATE EVENT purge ON SCHEDULE EVERY 1 DAY DO DELETE FROM sessions WHERE expired",
                Mysql
            ),
            RecognizedKind::CreateRoutine {
                kind: RoutineKind::Event,
                ..
            }
        ));
        // A body cut short (the DELIMITER was forgotten) is not a procedure.
        not_recognized("CREATE PROCEDURE p() BEGIN SELECT 1", Mysql);
        not_recognized(
            "CREATE PROCEDURE p() BEGIN IF x THEN SELECT 1; END IF",
            Mysql,
        );
        not_recognized("CREATE FUNCTION f() RETURNS INT RETURN SELEC FROM", Mysql);
    }

    #[test]
    fn mysql_one_statement_triggers() {
        assert_eq!(
            recognized(
                "CREATE DEFINER=`app`@`%` TRIGGER members_touch BEFORE UPDATE ON members \
                 FOR EACH ROW SET NEW.updated_at = NOW()",
                Mysql
            ),
            RecognizedKind::CreateRoutine {
                name: "members_touch".into(),
                kind: RoutineKind::Trigger,
                table: Some("members".into())
            }
        );
        not_recognized(
            "CREATE TRIGGER t BEFORE UPDATE ON members FOR EACH ROW SET NEW.a = = 1",
            Mysql,
        );
        not_recognized(
            "CREATE TRIGGER t DURING UPDATE ON members FOR EACH ROW SET NEW.a = 1",
            Mysql,
        );
    }

    #[test]
    fn mysql_table_rename_without_to() {
        // `RENAME AS` and `RENAME TO` sqlparser reads.
        for sql in [
            "ALTER TABLE totp_configurations RENAME _bkp_totp_configurations",
            "ALTER TABLE totp_configurations RENAME `_bkp_totp_configurations`",
        ] {
            let RecognizedKind::AlterTable { table, actions } = recognized(sql, Mysql) else {
                panic!("{sql}");
            };
            assert_eq!(table, "totp_configurations");
            assert!(
                matches!(
                    actions.as_slice(),
                    [AlterAction::Parsed(op)] if matches!(**op, AlterTableOperation::RenameTable { .. })
                ),
                "{sql}: {actions:?}"
            );
        }
        for near_miss in [
            "ALTER TABLE t RENAME",
            "ALTER TABLE t RENAME a b",
            "ALTER TABLE t RENAME AS",
        ] {
            not_recognized(near_miss, Mysql);
        }
    }

    #[test]
    fn mysql_alter_table_clauses() {
        assert_eq!(
            recognized(
                "ALTER TABLE members RENAME INDEX members_mail TO members_email",
                Mysql
            ),
            RecognizedKind::AlterTable {
                table: "members".into(),
                actions: vec![AlterAction::RenameIndex {
                    from: "members_mail".into(),
                    to: "members_email".into()
                }]
            }
        );
        assert_eq!(
            recognized(
                "ALTER TABLE `wp_posts` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
                Mysql
            ),
            RecognizedKind::AlterTable {
                table: "wp_posts".into(),
                actions: vec![AlterAction::ConvertCharset {
                    charset: "utf8mb4".into(),
                    collation: Some("utf8mb4_unicode_ci".into())
                }]
            }
        );
        let RecognizedKind::AlterTable { actions, .. } = recognized(
            "ALTER TABLE orders ADD COLUMN note TEXT, ENGINE = InnoDB, ROW_FORMAT=DYNAMIC",
            Mysql,
        ) else {
            panic!("not an ALTER TABLE")
        };
        assert_eq!(actions.len(), 3);
        assert!(matches!(
            &actions[0],
            AlterAction::Parsed(op) if matches!(**op, AlterTableOperation::AddColumn { .. })
        ));
        assert_eq!(actions[1], AlterAction::Engine("InnoDB".into()));
        assert_eq!(
            actions[2],
            AlterAction::TableOption {
                name: "ROW_FORMAT".into(),
                value: "DYNAMIC".into()
            }
        );
        assert!(matches!(
            recognized("ALTER TABLE `t` DISABLE KEYS", Mysql),
            RecognizedKind::AlterTable { actions, .. } if actions == [AlterAction::Keys { enable: false }]
        ));
        assert!(matches!(
            recognized(
                "ALTER TABLE t ADD PARTITION (PARTITION p2 VALUES LESS THAN (20))",
                Mysql
            ),
            RecognizedKind::AlterTable { .. }
        ));
        assert!(matches!(
            recognized("ALTER TABLE orders ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8", Mysql),
            RecognizedKind::AlterTable { actions, .. } if actions.len() == 2
        ));
        assert!(matches!(
            recognized(
                "ALTER TABLE log EXCHANGE PARTITION p1 WITH TABLE log_archive",
                Mysql
            ),
            RecognizedKind::AlterTable { .. }
        ));
        not_recognized(
            "ALTER TABLE orders ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE",
            Mysql,
        );
        not_recognized("ALTER TABLE members RENAME INDEX a b", Mysql);
        not_recognized("ALTER TABLE t CONVERT TO CHARACTER utf8mb4", Mysql);
        // One bad clause spoils the statement, even beside a known one.
        not_recognized("ALTER TABLE t ENGINE=InnoDB, ADD COLUMN", Mysql);
        // All clauses known to sqlparser: the error is elsewhere, not a gap of sqlparser.
        not_recognized("ALTER TABLE t ADD COLUMN a INT NOT NUL", Mysql);
    }

    #[test]
    fn mariadb_guards_of_alter_table_clauses() {
        let RecognizedKind::AlterTable { table, actions } = recognized(
            "ALTER TABLE members ADD COLUMN IF NOT EXISTS nick VARCHAR(20) NULL AFTER name, \
             DROP INDEX IF EXISTS members_nick, DROP FOREIGN KEY IF EXISTS members_plan_fk",
            Mysql,
        ) else {
            panic!("not an ALTER TABLE")
        };
        assert_eq!(table, "members");
        assert!(matches!(
            &actions[0],
            AlterAction::Parsed(op) if matches!(
                &**op,
                AlterTableOperation::AddColumn { if_not_exists: true, column_def, .. }
                    if column_def.name.value == "nick"
            )
        ));
        assert!(matches!(
            &actions[1],
            AlterAction::Parsed(op) if matches!(&**op, AlterTableOperation::DropIndex { name } if name.value == "members_nick")
        ));
        assert!(matches!(
            &actions[2],
            AlterAction::Parsed(op) if matches!(&**op, AlterTableOperation::DropForeignKey { name, .. } if name.value == "members_plan_fk")
        ));
        for sql in [
            "ALTER TABLE t ADD INDEX IF NOT EXISTS i (c)",
            "ALTER TABLE t ADD UNIQUE KEY IF NOT EXISTS i (c)",
            "ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY IF NOT EXISTS (c) REFERENCES p (id)",
            "ALTER TABLE t MODIFY COLUMN IF EXISTS c BIGINT NOT NULL",
            "ALTER TABLE t CHANGE COLUMN IF EXISTS c d INT",
            "ALTER TABLE t DROP KEY IF EXISTS i",
        ] {
            assert!(
                matches!(recognized(sql, Mysql), RecognizedKind::AlterTable { .. }),
                "{sql}"
            );
        }
        // A guard that does not fit the verb, or a bad clause behind a good guard, stays an error.
        not_recognized("ALTER TABLE t ADD COLUMN IF EXISTS c INT", Mysql);
        not_recognized("ALTER TABLE t DROP INDEX IF NOT EXISTS i", Mysql);
        not_recognized(
            "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT NOT NUL",
            Mysql,
        );
        not_recognized("ALTER TABLE t DROP INDEX IF EXISTS", Mysql);
        // sqlparser reads `DROP COLUMN IF EXISTS` itself: such a statement is not a gap.
        assert!(Parser::parse_sql(
            parser_dialect(Mysql),
            "ALTER TABLE t DROP COLUMN IF EXISTS c"
        )
        .is_ok());
    }

    #[test]
    fn mysql_partitioned_tables() {
        let sql = "CREATE TABLE `events` (\n  `id` bigint NOT NULL,\n  `at` date NOT NULL,\n  \
                   PRIMARY KEY (`id`, `at`)\n) ENGINE=InnoDB\n\
                   PARTITION BY RANGE (YEAR(`at`)) (\n  PARTITION p2023 VALUES LESS THAN (2024),\n  \
                   PARTITION pmax VALUES LESS THAN MAXVALUE\n)";
        assert!(matches!(
            recognized(sql, Mysql),
            RecognizedKind::CreatePartitionedTable { table, .. } if table == "events"
        ));
        assert!(matches!(
            recognized("CREATE TABLE h (id INT) PARTITION BY HASH (id) PARTITIONS 4", Mysql),
            RecognizedKind::CreatePartitionedTable { table, .. } if table == "h"
        ));
        not_recognized(
            "CREATE TABLE h (id INT) PARTITION BY HASH (id) PARTITIONS",
            Mysql,
        );
        not_recognized(
            "CREATE TABLE t (id INT,) PARTITION BY HASH (id) PARTITIONS 4",
            Mysql,
        );
    }

    #[test]
    fn mysql_prepared_statements() {
        assert_eq!(
            recognized(
                "PREPARE createIndexIfNotExists FROM @preparedStatement",
                Mysql
            ),
            RecognizedKind::Prepare {
                name: "createIndexIfNotExists".into(),
                from: PreparedText::Variable("@preparedStatement".into())
            }
        );
        assert_eq!(
            recognized("PREPARE s FROM 'ALTER TABLE t ADD c INT'", Mysql),
            RecognizedKind::Prepare {
                name: "s".into(),
                from: PreparedText::Literal("ALTER TABLE t ADD c INT".into())
            }
        );
        assert_eq!(
            recognized("DROP PREPARE s", Mysql),
            RecognizedKind::DropPrepare { name: "s".into() }
        );
        not_recognized("PREPARE s FROM", Mysql);
        not_recognized("PREPARE s FROM @@sql_mode", Mysql);
        not_recognized("PREPARE s FROM @a @b", Mysql);
        not_recognized("PREPARE s FROM CONCAT('a', 'b')", Mysql);
        not_recognized("DROP PREPARE s t", Mysql);
        // The rest of the idiom is sqlparser's own.
        for sql in [
            "EXECUTE s",
            "EXECUTE s USING @a, @b",
            "DEALLOCATE PREPARE s",
            "SET @s = (SELECT IF((SELECT COUNT(*) FROM INFORMATION_SCHEMA.STATISTICS \
             WHERE index_name = 'i') > 0, 'SELECT 1', 'CREATE INDEX i ON t (c)'))",
            "CALL MigrateRootId_Posts()",
            "UPDATE a JOIN b ON a.id = b.id SET a.x = b.y",
        ] {
            assert!(
                Parser::parse_sql(parser_dialect(Mysql), sql).is_ok(),
                "sqlparser no longer parses: {sql}"
            );
        }
    }

    #[test]
    fn mysql_assignments_and_select_into() {
        let RecognizedKind::Assignment { set } = recognized(
            "SET @sql := IF(@exists = 0, 'ALTER TABLE t ADD c INT', 'SELECT 1')",
            Mysql,
        ) else {
            panic!("not an assignment")
        };
        assert!(matches!(*set, Statement::Set(_)));
        assert!(matches!(
            recognized(
                "SELECT COUNT(*) FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_NAME = 'Posts' \
                 INTO ParentId_EXIST",
                Mysql
            ),
            RecognizedKind::SelectInto { variables, .. } if variables == ["ParentId_EXIST"]
        ));
        assert!(matches!(
            recognized("SELECT a, b FROM t LIMIT 1 INTO @x, @y", Mysql),
            RecognizedKind::SelectInto { variables, .. } if variables == ["@x", "@y"]
        ));
        not_recognized("SET @s := ", Mysql);
        not_recognized("SET @s := IF(1, 'a')) ", Mysql);
        not_recognized("SELECT a FROM t INTO 1", Mysql);
        not_recognized("SELECT a FROM t INTO @x @y", Mysql);
        not_recognized("SELECT a FROM t WHERE INTO @x", Mysql);
    }

    #[test]
    fn mysql_multi_table_update_and_do() {
        let RecognizedKind::MultiTableUpdate { tables, update } = recognized(
            "UPDATE Posts p, Channels c SET p.TeamId = c.TeamId WHERE p.ChannelId = c.Id",
            Mysql,
        ) else {
            panic!("not a multi-table update")
        };
        assert_eq!(tables, ["Posts", "Channels"]);
        assert!(matches!(*update, Statement::Update(_)));
        assert!(matches!(
            recognized("UPDATE LOW_PRIORITY `a`, `b` SET a.x = 1", Mysql),
            RecognizedKind::MultiTableUpdate { tables, .. } if tables == ["a", "b"]
        ));
        assert_eq!(recognized("DO 0", Mysql), RecognizedKind::Do);
        assert_eq!(
            recognized("DO SLEEP(1), RELEASE_LOCK('m')", Mysql),
            RecognizedKind::Do
        );
        not_recognized("UPDATE a, SET x = 1", Mysql);
        not_recognized("UPDATE a, b x = 1", Mysql);
        not_recognized("UPDATE a, b SET x = ", Mysql);
        not_recognized("DO", Mysql);
        not_recognized("DO 1 +", Mysql);
    }

    #[test]
    fn postgres_procedures() {
        assert_eq!(
            recognized(
                "CREATE OR REPLACE PROCEDURE billing.close_period(p_month date)\n\
                 LANGUAGE plpgsql AS $$\nBEGIN\n  UPDATE periods SET closed = true;\nEND;\n$$",
                Postgres
            ),
            RecognizedKind::CreateRoutine {
                name: "billing.close_period".into(),
                kind: RoutineKind::Procedure,
                table: None
            }
        );
        assert!(matches!(
            recognized(
                "CREATE PROCEDURE add_doctor(p_first varchar, p_spec varchar DEFAULT 'none', \
                 INOUT n int = NULL) AS $proc$ BEGIN NULL; END $proc$ LANGUAGE plpgsql \
                 SECURITY DEFINER",
                Postgres
            ),
            RecognizedKind::CreateRoutine {
                kind: RoutineKind::Procedure,
                ..
            }
        ));
        not_recognized("CREATE PROCEDURE p() LANGUAGE plpgsql", Postgres);
        not_recognized("CREATE PROCEDURE p( LANGUAGE plpgsql AS $$ $$", Postgres);
        not_recognized(
            "CREATE PROCEDURE p(a) LANGUAGE plpgsql AS $$ $$ AS $$ $$",
            Postgres,
        );
        not_recognized(
            "CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ $$ VOLATILE",
            Postgres,
        );
        assert!(Parser::parse_sql(parser_dialect(Postgres), "CALL p(1, 'a')").is_ok());
    }

    #[test]
    fn mysql_table_maintenance() {
        use MaintenanceCommand::*;
        for (sql, command, tables) in [
            ("OPTIMIZE TABLE members", Optimize, &["members"][..]),
            (
                "OPTIMIZE NO_WRITE_TO_BINLOG TABLE `members`, shop.orders",
                Optimize,
                &["members", "shop.orders"][..],
            ),
            (
                "OPTIMIZE LOCAL TABLES members NOWAIT",
                Optimize,
                &["members"][..],
            ),
            ("OPTIMIZE TABLE members WAIT 5", Optimize, &["members"][..]),
            ("REPAIR TABLE members", Repair, &["members"][..]),
            (
                "REPAIR NO_WRITE_TO_BINLOG TABLE members QUICK USE_FRM",
                Repair,
                &["members"][..],
            ),
            ("CHECK TABLE members", Check, &["members"][..]),
            (
                "CHECK TABLE members, orders FOR UPGRADE QUICK",
                Check,
                &["members", "orders"][..],
            ),
            ("CHECKSUM TABLE members", Checksum, &["members"][..]),
            (
                "CHECKSUM TABLE members, orders EXTENDED",
                Checksum,
                &["members", "orders"][..],
            ),
            (
                "ANALYZE NO_WRITE_TO_BINLOG TABLE members",
                Analyze,
                &["members"][..],
            ),
            (
                "ANALYZE LOCAL TABLE members, orders",
                Analyze,
                &["members", "orders"][..],
            ),
        ] {
            assert_eq!(
                recognized(sql, Mysql),
                RecognizedKind::TableMaintenance {
                    command,
                    tables: tables.iter().map(|t| t.to_string()).collect()
                },
                "{sql}"
            );
        }
        // The plain ANALYZE TABLE is sqlparser's.
        assert!(Parser::parse_sql(parser_dialect(Mysql), "ANALYZE TABLE members").is_ok());
        not_recognized("OPTIMIZE members", Mysql);
        not_recognized("OPTIMIZE TABLE", Mysql);
        not_recognized("OPTIMIZE TABLE members,", Mysql);
        not_recognized("OPTIMIZE TABLE members QUICK", Mysql);
        not_recognized("OPTIMIZE TABLE members WAIT", Mysql);
        not_recognized("CHECK NO_WRITE_TO_BINLOG TABLE members", Mysql);
        not_recognized("CHECK TABLE members USE_FRM", Mysql);
        not_recognized("CHECKSUM TABLE members QUICK EXTENDED", Mysql);
        not_recognized("CHECKSUM LOCAL TABLE members", Mysql);
        not_recognized("REPAIR TABLE members FAST", Mysql);
        not_recognized("ANALYZE LOCAL members", Mysql);
        not_recognized("ANALYZE LOCAL TABLE members UPDATE HISTOGRAM ON a", Mysql);
        // PostgreSQL has no such statements.
        assert_eq!(recognize("OPTIMIZE TABLE members", Postgres), None);
    }

    #[test]
    fn mysql_fulltext_and_spatial_indexes() {
        let RecognizedKind::CreateIndex {
            kind,
            name,
            table,
            create,
        } = recognized(
            "CREATE FULLTEXT INDEX posts_message ON `Posts` (Message, Hashtags)",
            Mysql,
        )
        else {
            panic!("not a CREATE INDEX")
        };
        assert_eq!(
            (kind, name.as_str(), table.as_str()),
            (IndexKind::Fulltext, "posts_message", "Posts")
        );
        let Statement::CreateIndex(create) = *create else {
            panic!("not sqlparser's CREATE INDEX")
        };
        assert_eq!(create.columns.len(), 2);
        let RecognizedKind::CreateIndex { kind, create, .. } = recognized(
            "CREATE SPATIAL INDEX places_pt ON places (pt) ALGORITHM=INPLACE LOCK=NONE",
            Mysql,
        ) else {
            panic!("not a CREATE INDEX")
        };
        assert_eq!(kind, IndexKind::Spatial);
        assert!(matches!(*create, Statement::CreateIndex(c) if c.alter_options.len() == 2));
        // sqlparser reads the ALTER TABLE forms itself.
        for sql in [
            "ALTER TABLE posts ADD FULLTEXT INDEX posts_message (message)",
            "ALTER TABLE posts ADD FULLTEXT KEY posts_message (message)",
            "ALTER TABLE places ADD SPATIAL INDEX places_pt (pt)",
        ] {
            assert!(
                Parser::parse_sql(parser_dialect(Mysql), sql).is_ok(),
                "{sql}"
            );
        }
        not_recognized("CREATE FULLTEXT posts_message ON posts (message)", Mysql);
        not_recognized("CREATE FULLTEXT INDEX ON posts (message)", Mysql);
        not_recognized("CREATE FULLTEXT INDEX posts_message ON posts", Mysql);
        not_recognized("CREATE FULLTEXT UNIQUE INDEX m ON posts (message)", Mysql);
        not_recognized("CREATE SPATIAL INDEX p ON places USING BTREE (pt)", Mysql);
        not_recognized(
            "CREATE FULLTEXT INDEX m ON posts (message) LOCK=SOMETIMES",
            Mysql,
        );
    }

    #[test]
    fn mysql_alter_table_rebuild_clauses() {
        let actions = |sql: &str| match recognized(sql, Mysql) {
            RecognizedKind::AlterTable { actions, .. } => actions,
            other => panic!("not an ALTER TABLE: {other:?}"),
        };
        assert_eq!(actions("ALTER TABLE members FORCE"), [AlterAction::Force]);
        let forced = actions("ALTER TABLE members FORCE, ALGORITHM=INPLACE, LOCK=NONE");
        assert_eq!(forced.len(), 3);
        assert_eq!(forced[0], AlterAction::Force);
        assert!(matches!(
            &forced[2],
            AlterAction::Parsed(op) if matches!(**op, AlterTableOperation::Lock { .. })
        ));
        assert_eq!(
            actions("ALTER TABLE members DISCARD TABLESPACE"),
            [AlterAction::Tablespace { import: false }]
        );
        assert_eq!(
            actions("ALTER TABLE `members` IMPORT TABLESPACE"),
            [AlterAction::Tablespace { import: true }]
        );
        assert_eq!(
            actions("ALTER TABLE members ORDER BY joined_at"),
            [AlterAction::OrderBy(vec!["joined_at".into()])]
        );
        // The commas after ORDER BY separate its columns, up to the next clause.
        let ordered =
            actions("ALTER TABLE members ORDER BY `joined_at` DESC, id ASC, FORCE, LOCK=SHARED");
        assert_eq!(ordered.len(), 3);
        assert_eq!(
            ordered[0],
            AlterAction::OrderBy(vec!["joined_at".into(), "id".into()])
        );
        assert_eq!(ordered[1], AlterAction::Force);
        let nocopy =
            actions("ALTER TABLE members ADD INDEX members_nick (nick), ALGORITHM = NOCOPY");
        assert_eq!(nocopy[1], AlterAction::AlgorithmNocopy);
        assert!(matches!(
            &nocopy[0],
            AlterAction::Parsed(op) if matches!(**op, AlterTableOperation::AddConstraint { .. })
        ));
        assert_eq!(
            actions("ALTER TABLE members ALGORITHM NOCOPY, ADD COLUMN a INT").len(),
            2
        );
        not_recognized("ALTER TABLE members FORCE ALL", Mysql);
        not_recognized("ALTER TABLE members DISCARD", Mysql);
        not_recognized("ALTER TABLE members IMPORT TABLESPACE t2", Mysql);
        not_recognized("ALTER TABLE members ORDER joined_at", Mysql);
        not_recognized("ALTER TABLE members ORDER BY", Mysql);
        not_recognized("ALTER TABLE members ORDER BY a DESC DESC", Mysql);
        not_recognized("ALTER TABLE members ORDER BY a, ", Mysql);
        not_recognized(
            "ALTER TABLE members ADD COLUMN a INT, ALGORITHM=NOCOPIES",
            Mysql,
        );
        not_recognized("ALTER TABLE members ALGORITHM=", Mysql);
    }

    #[test]
    fn sqlite_has_no_recognized_forms() {
        assert_eq!(recognize("PRAGMA foreign_keys = ON", Dialect::Sqlite), None);
    }
}
