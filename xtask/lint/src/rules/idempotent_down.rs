//! `idempotent-down`: a `down.sql` statement that fails when what it undoes is absent, in a
//! migration that is not all or nothing.
//!
//! # Why
//!
//! On MariaDB/MySQL every DDL statement commits on its own, and so does each statement of a
//! PostgreSQL migration marked `-- bascule:no-transaction`. Bascule writes such a migration's
//! version row `applying` before its first statement and `applied` after its last (see
//! the `bascule-db` crate); when anything stops it in between — a failing statement, a killed server, a
//! killed run — the undo runs the migration's whole `down.sql` on a database where only some of
//! the up ran. Every down statement must therefore succeed whether or not the thing it removes
//! (or restores) is there: `DROP TABLE IF EXISTS`, `ALTER TABLE … DROP COLUMN IF EXISTS`,
//! `DROP INDEX IF EXISTS`, `ADD COLUMN IF NOT EXISTS`, `CREATE INDEX IF NOT EXISTS` (MariaDB has
//! `IF [NOT] EXISTS` for tables, columns, indexes, foreign keys and constraints). A down that
//! stops on "can't DROP 'x'; check that it exists" leaves the database half-migrated, which is
//! what this rule exists to prevent. Always an error where it applies.
//!
//! The rule reads the down's text, not an AST: the check only needs the statement's shape, and
//! MariaDB's guards reach the AST only partly (see [`bascule_sql::recognize`](mod@bascule_sql::recognize)). Data statements
//! (`UPDATE`, `INSERT`, `DELETE`) are not judged.

use std::path::Path;

use crate::{suppressions, Finding, Hit, Level, Report, Rule, RuleContext};
use bascule_patch::split_statements;
use bascule_patch::Dialect;
use bascule_patch::Migration;
use bascule_patch::{Flavour, Server};

pub const ID: &str = "idempotent-down";

pub struct IdempotentDown;

impl Rule for IdempotentDown {
    fn id(&self) -> &'static str {
        ID
    }
    fn summary(&self) -> &'static str {
        "a down.sql statement that fails when what it undoes is absent (non-transactional migrations)"
    }
    fn explanation(&self) -> &'static str {
        "MySQL/MariaDB commit each DDL statement (and PostgreSQL does outside a transaction, in a \
         `-- bascule:no-transaction` migration): a migration stopped half-way is undone by running \
         its whole down.sql, so every down statement must succeed whether or not the up \
         statement it undoes ran."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        let more = if dialect == Dialect::Mysql {
            "; MariaDB also has ALTER TABLE … ADD COLUMN|INDEX IF NOT EXISTS, DROP INDEX|FOREIGN KEY \
             IF EXISTS and MODIFY|CHANGE COLUMN IF EXISTS (RENAME TABLE IF EXISTS is not read by \
             Bascule's SQL parser: put `-- bascule:raw` on the line before it)"
        } else {
            "; DROP INDEX CONCURRENTLY IF EXISTS"
        };
        format!(
            "write every down statement so it can run when its up statement did not: DROP TABLE|INDEX … \
             IF EXISTS, CREATE … IF NOT EXISTS, ALTER TABLE … DROP COLUMN IF EXISTS{more}"
        )
    }
    fn level(&self) -> Level {
        Level::Always
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    /// Up statements are not this rule's business: [`check_down`] reads the down.
    fn check(&self, _cx: &RuleContext<'_>) -> Vec<Hit> {
        Vec::new()
    }
}

/// Checks every statement of `m`'s `down.sql` into `report`, honouring
/// `-- bascule:allow idempotent-down <reason>`.
pub fn check_down(m: &Migration, dialect: Dialect, server: Option<Server>, report: &mut Report) {
    if !m.runs_outside_transaction(dialect) {
        return;
    }
    let path = m.down_path();
    for statement in split_statements(&m.down, dialect) {
        let reason = suppressions(&statement)
            .into_iter()
            .find(|a| a.rule == ID && !a.reason.is_empty())
            .map(|a| a.reason);
        for problem in problems(&statement.text) {
            let finding = finding(&path, &m.down, statement.offset, &problem, dialect, server);
            report.add(finding, reason.clone());
        }
        if server.is_some_and(|s| s.is(Flavour::Mysql)) {
            for clause in mariadb_only(&statement.text) {
                let finding = Finding::at(
                    ID,
                    Level::Always.severity(bascule_patch::Mode::Online),
                    &path,
                    &m.down,
                    statement.offset,
                    format!("{clause} is MariaDB's: MySQL 8 rejects it, and the undo stops here"),
                )
                .with_help(help(dialect, server));
                report.add(finding, reason.clone());
            }
        }
    }
}

fn finding(
    path: &Path,
    script: &str,
    offset: usize,
    problem: &str,
    dialect: Dialect,
    server: Option<Server>,
) -> Finding {
    Finding::at(
        ID,
        Level::Always.severity(bascule_patch::Mode::Online),
        path,
        script,
        offset,
        format!("{problem}: the undo of a half-applied migration stops here"),
    )
    .with_help(help(dialect, server))
}

/// The idiom MySQL 8 has for a guarded column or index change: ask INFORMATION_SCHEMA, then
/// run the statement or a no-op through PREPARE.
pub const PREPARE_IDIOM: &str = "SET @s = (SELECT IF(EXISTS(SELECT 1 FROM \
     information_schema.columns WHERE table_schema = DATABASE() AND table_name = 't' AND \
     column_name = 'c'), 'ALTER TABLE t DROP COLUMN c', 'SELECT 1')); PREPARE stmt FROM @s; \
     EXECUTE stmt; DEALLOCATE PREPARE stmt; (information_schema.statistics and index_name for \
     an index)";

/// What to suggest, for the class's server: only what it accepts, and on a MySQL class with no
/// server named, only what both MySQL 8 and MariaDB accept.
pub fn help(dialect: Dialect, server: Option<Server>) -> String {
    if dialect != Dialect::Mysql || server.is_some_and(|s| s.is(Flavour::Mariadb)) {
        return IdempotentDown.recipe(dialect);
    }
    let unnamed = if server.is_none() {
        "; MariaDB also has ALTER TABLE … DROP COLUMN|INDEX IF EXISTS and ADD … IF NOT EXISTS: \
         name the server (`server = \"mariadb 10.11\"` under [classes.<name>]) to use them"
    } else {
        ""
    };
    format!(
        "write every down statement so it can run when its up statement did not: DROP TABLE … \
         IF EXISTS, CREATE TABLE … IF NOT EXISTS, CREATE OR REPLACE VIEW; MySQL 8 has no IF \
         [NOT] EXISTS for columns, indexes or foreign keys, so guard those with \
         INFORMATION_SCHEMA and PREPARE: {PREPARE_IDIOM}{unnamed}"
    )
}

/// The MariaDB-only guards of one statement (`DROP COLUMN IF EXISTS` in an `ALTER TABLE`,
/// `DROP INDEX IF EXISTS`, `CREATE INDEX IF NOT EXISTS`, `RENAME TABLE IF EXISTS`), as words.
pub fn mariadb_only(sql: &str) -> Vec<String> {
    let tokens = tokens(sql);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["DROP", "INDEX", "IF", "EXISTS", ..] => vec!["DROP INDEX IF EXISTS".to_string()],
        ["RENAME", "TABLE", "IF", "EXISTS", ..] => vec!["RENAME TABLE IF EXISTS".to_string()],
        ["CREATE", rest @ ..] => {
            let at = rest.iter().position(|w| *w == "INDEX");
            match at {
                Some(at) if starts_with(&rest[at + 1..], &["IF", "NOT", "EXISTS"]) => {
                    vec!["CREATE INDEX IF NOT EXISTS".to_string()]
                }
                _ => Vec::new(),
            }
        }
        ["ALTER", "TABLE", rest @ ..] => {
            let rest = skip(rest, &["IF", "EXISTS"]);
            let Some((_table, clauses)) = rest.split_first() else {
                return Vec::new();
            };
            clauses
                .split(|w| *w == ",")
                .filter_map(|clause| {
                    let (verb, kind) = (clause.first()?, clause.get(1)?);
                    let guarded = clause.windows(2).any(|w| w == ["IF", "EXISTS"])
                        || clause.windows(3).any(|w| w == ["IF", "NOT", "EXISTS"]);
                    let mysql_has = *verb == "DROP" && matches!(*kind, "CHECK" | "CONSTRAINT")
                        || matches!(*kind, "PARTITION");
                    (guarded
                        && matches!(*verb, "DROP" | "ADD" | "MODIFY" | "CHANGE" | "RENAME")
                        && !mysql_has)
                        .then(|| {
                            let kind = if matches!(*verb, "MODIFY" | "CHANGE") {
                                "COLUMN"
                            } else {
                                kind_name(kind)
                            };
                            let guard = if *verb == "ADD" {
                                "IF NOT EXISTS"
                            } else {
                                "IF EXISTS"
                            };
                            format!("{verb} {kind} {guard}")
                        })
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// What in one down statement fails when its object is absent (or, for a re-creation, present).
pub fn problems(sql: &str) -> Vec<String> {
    let tokens = tokens(sql);
    let words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["DROP", rest @ ..] => drop_object(rest).into_iter().collect(),
        ["CREATE", rest @ ..] => create_object(rest).into_iter().collect(),
        ["RENAME", "TABLE", rest @ ..] if !starts_with(rest, &["IF", "EXISTS"]) => {
            vec!["RENAME TABLE without IF EXISTS".to_string()]
        }
        ["ALTER", "TABLE", rest @ ..] => alter_table(rest),
        _ => Vec::new(),
    }
}

const OBJECTS: &[&str] = &[
    "TABLE",
    "TABLES",
    "VIEW",
    "INDEX",
    "TRIGGER",
    "PROCEDURE",
    "FUNCTION",
    "SEQUENCE",
    "EVENT",
    "TYPE",
];

/// `DROP [TEMPORARY] <object> [CONCURRENTLY] IF EXISTS`.
fn drop_object(rest: &[&str]) -> Option<String> {
    let rest = skip(rest, &["TEMPORARY"]);
    let (object, rest) = rest.split_first()?;
    if !OBJECTS.contains(object) {
        return None;
    }
    let rest = skip(rest, &["CONCURRENTLY"]);
    (!starts_with(rest, &["IF", "EXISTS"])).then(|| format!("DROP {object} without IF EXISTS"))
}

/// `CREATE [OR REPLACE] [UNIQUE|…] <object> [CONCURRENTLY] IF NOT EXISTS`.
fn create_object(rest: &[&str]) -> Option<String> {
    if starts_with(rest, &["OR", "REPLACE"]) {
        return None;
    }
    let at = rest.iter().position(|w| OBJECTS.contains(w))?;
    let object = rest[at];
    let after = skip(&rest[at + 1..], &["CONCURRENTLY"]);
    (!starts_with(after, &["IF", "NOT", "EXISTS"]))
        .then(|| format!("CREATE {object} without IF NOT EXISTS (or OR REPLACE)"))
}

/// Each clause of `ALTER TABLE <name> clause, clause …`.
fn alter_table(rest: &[&str]) -> Vec<String> {
    let rest = skip(rest, &["IF", "EXISTS"]);
    let Some((_table, clauses)) = rest.split_first() else {
        return Vec::new();
    };
    clauses
        .split(|w| *w == ",")
        .filter_map(|clause| alter_clause(skip(clause, &["ONLY"])))
        .collect()
}

fn alter_clause(clause: &[&str]) -> Option<String> {
    let head = clause.iter().take(6).copied().collect::<Vec<_>>();
    let has = |phrase: &[&str]| head.windows(phrase.len()).any(|w| w == phrase);
    match clause {
        ["DROP", "PRIMARY", "KEY", ..] => {
            Some("DROP PRIMARY KEY (it has no IF EXISTS form: keep it out of non-transactional downs)".into())
        }
        ["ADD", "PRIMARY", "KEY", ..] => {
            Some("ADD PRIMARY KEY (it has no IF NOT EXISTS form: keep it out of non-transactional downs)".into())
        }
        ["DROP", kind, ..] if !has(&["IF", "EXISTS"]) => {
            Some(format!("DROP {} without IF EXISTS", kind_name(kind)))
        }
        ["ADD", kind, ..] if !has(&["IF", "NOT", "EXISTS"]) => {
            Some(format!("ADD {} without IF NOT EXISTS", kind_name(kind)))
        }
        ["RENAME", kind, ..] if !has(&["IF", "EXISTS"]) => Some(format!(
            "RENAME {} without IF EXISTS",
            if matches!(*kind, "TO" | "AS") { "TO" } else { *kind }
        )),
        ["CHANGE", ..] if !has(&["IF", "EXISTS"]) => Some("CHANGE COLUMN without IF EXISTS".into()),
        _ => None,
    }
}

/// The object a clause names, as written in messages (`FOREIGN` → `FOREIGN KEY`).
fn kind_name(word: &str) -> &str {
    match word {
        "FOREIGN" => "FOREIGN KEY",
        word if is_kind(word) => word,
        _ => "COLUMN",
    }
}

fn is_kind(word: &str) -> bool {
    matches!(
        word,
        "COLUMN"
            | "INDEX"
            | "KEY"
            | "UNIQUE"
            | "FULLTEXT"
            | "SPATIAL"
            | "FOREIGN"
            | "CONSTRAINT"
            | "CHECK"
            | "PARTITION"
    )
}

fn starts_with(words: &[&str], phrase: &[&str]) -> bool {
    words.len() >= phrase.len() && &words[..phrase.len()] == phrase
}

fn skip<'w, 'a>(words: &'w [&'a str], optional: &[&str]) -> &'w [&'a str] {
    if starts_with(words, optional) {
        &words[optional.len()..]
    } else {
        words
    }
}

/// The statement's words, upper-cased (quoted identifiers keep their case, without quotes),
/// commas of the top level as `,`, comments and string literals dropped, parentheses' contents
/// dropped (column lists and definitions do not matter here).
fn tokens(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        match c {
            '-' if next == Some('-') => i = skip_to_eol(&chars, i),
            '#' => i = skip_to_eol(&chars, i),
            '/' if next == Some('*') => {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            }
            '\'' | '"' | '`' => {
                let start = i + 1;
                i = start;
                while i < chars.len() && chars[i] != c {
                    i += 1;
                }
                if c != '\'' && depth == 0 {
                    out.push(chars[start..i.min(chars.len())].iter().collect());
                }
                i += 1;
            }
            '(' => {
                depth += 1;
                i += 1;
            }
            ')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            ',' if depth == 0 => {
                out.push(",".to_string());
                i += 1;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.' | '$'))
                {
                    i += 1;
                }
                if depth == 0 {
                    out.push(chars[start..i].iter().collect::<String>().to_uppercase());
                }
            }
            _ => i += 1,
        }
    }
    out
}

fn skip_to_eol(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i] != '\n' {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Report, Severity};

    fn migration(up: &str, down: &str) -> Migration {
        Migration::new("site", 2, "change", up, down)
    }

    fn findings(dialect: Dialect, up: &str, down: &str) -> Report {
        let mut report = Report::default();
        check_down(&migration(up, down), dialect, None, &mut report);
        report
    }

    fn findings_on(server: &str, up: &str, down: &str) -> Report {
        let server: Server = server.parse().unwrap();
        let mut report = Report::default();
        check_down(
            &migration(up, down),
            Dialect::Mysql,
            Some(server),
            &mut report,
        );
        report
    }

    #[test]
    fn the_server_chooses_what_is_suggested() {
        let down = "ALTER TABLE members DROP COLUMN nick;";
        let mysql = findings_on("mysql 8.0", UP, down);
        assert_eq!(mysql.findings.len(), 1, "{:?}", mysql.findings);
        let help = mysql.findings[0].help.clone().unwrap_or_default();
        assert!(!help.contains("DROP COLUMN IF EXISTS"), "{help}");
        assert!(help.contains("PREPARE stmt FROM @s"), "{help}");
        assert!(help.contains("information_schema.columns"), "{help}");
        // No server named: only what both accept, and how to get MariaDB's forms.
        let unnamed = findings(Dialect::Mysql, UP, down);
        let help = unnamed.findings[0].help.clone().unwrap_or_default();
        assert!(help.contains("PREPARE stmt FROM @s"), "{help}");
        assert!(help.contains("name the server"), "{help}");
        // MariaDB: its own IF EXISTS forms.
        let maria = findings_on("mariadb 10.11", UP, down);
        let help = maria.findings[0].help.clone().unwrap_or_default();
        assert!(help.contains("DROP COLUMN IF EXISTS"), "{help}");
        assert!(!help.contains("PREPARE"), "{help}");
    }

    #[test]
    fn mariadb_guards_fail_on_mysql_8() {
        let down = "ALTER TABLE members DROP COLUMN IF EXISTS nick, DROP INDEX IF EXISTS i;\n\
                    DROP INDEX IF EXISTS members_nick ON members;\n\
                    ALTER TABLE members DROP CHECK IF EXISTS c;\n\
                    DROP TABLE IF EXISTS badges;";
        let mysql = findings_on("mysql 8.0", UP, down);
        let shown: Vec<&str> = mysql.findings.iter().map(|f| f.message.as_str()).collect();
        assert_eq!(
            shown,
            [
                "DROP COLUMN IF EXISTS is MariaDB's: MySQL 8 rejects it, and the undo stops here",
                "DROP INDEX IF EXISTS is MariaDB's: MySQL 8 rejects it, and the undo stops here",
                "DROP INDEX IF EXISTS is MariaDB's: MySQL 8 rejects it, and the undo stops here",
            ]
        );
        assert_eq!(findings_on("mariadb 10.11", UP, down).findings, []);
        assert_eq!(findings(Dialect::Mysql, UP, down).findings, []);
        // The PREPARE idiom is what MySQL 8 runs: nothing to say.
        let idiom = "SET @s = (SELECT IF(EXISTS(SELECT 1 FROM information_schema.columns \
                     WHERE table_name = 'members' AND column_name = 'nick'), \
                     'ALTER TABLE members DROP COLUMN nick', 'SELECT 1'));\n\
                     PREPARE stmt FROM @s;\nEXECUTE stmt;\nDEALLOCATE PREPARE stmt;";
        assert_eq!(findings_on("mysql 8.0", UP, idiom).findings, []);
    }

    const UP: &str = "ALTER TABLE members ADD COLUMN nick VARCHAR(40);\nCREATE INDEX members_nick ON members (nick);";

    #[test]
    fn fires_on_downs_that_need_what_they_undo() {
        let down = "DROP INDEX members_nick ON members;\n\
                    ALTER TABLE members DROP COLUMN nick, ADD COLUMN old_nick INT;\n\
                    DROP TABLE badges;\n\
                    CREATE TABLE stats (id INT);\n\
                    ALTER TABLE members DROP FOREIGN KEY members_site, DROP INDEX members_email;\n\
                    RENAME TABLE a TO b;\n\
                    ALTER TABLE posts RENAME COLUMN title TO headline;\n\
                    ALTER TABLE posts DROP nick;";
        let report = findings(Dialect::Mysql, UP, down);
        let shown: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("{}:{}: {}", f.line, f.column, f.message))
            .collect();
        assert!(report
            .findings
            .iter()
            .all(|f| f.severity == Severity::Error && f.rule == ID));
        assert!(report.findings.iter().all(|f| f.path.ends_with("down.sql")));
        insta::assert_snapshot!(shown.join("\n"));
    }

    #[test]
    fn quiet_on_idempotent_downs_and_transactional_migrations() {
        let down = "-- undo the nick\n\
                    DROP INDEX IF EXISTS members_nick ON members;\n\
                    ALTER TABLE members DROP COLUMN IF EXISTS nick, ADD COLUMN IF NOT EXISTS old_nick INT;\n\
                    ALTER TABLE members DROP FOREIGN KEY IF EXISTS fk, DROP INDEX IF EXISTS i, MODIFY plan VARCHAR(30) NOT NULL;\n\
                    DROP TABLE IF EXISTS badges;\n\
                    CREATE TABLE IF NOT EXISTS stats (id INT, name VARCHAR(20), PRIMARY KEY (id));\n\
                    CREATE OR REPLACE VIEW v AS SELECT 1;\n\
                    RENAME TABLE IF EXISTS a TO b;\n\
                    UPDATE members SET plan = 'starter' WHERE plan = 'free';";
        assert_eq!(findings(Dialect::Mysql, UP, down).findings, []);
        // PostgreSQL in a transaction: rolled back whole, any down is fine.
        assert_eq!(
            findings(Dialect::Postgres, UP, "DROP INDEX members_nick;").findings,
            []
        );
        assert_eq!(
            findings(Dialect::Sqlite, UP, "DROP INDEX members_nick;").findings,
            []
        );
    }

    #[test]
    fn postgres_no_transaction_migrations_need_idempotent_downs() {
        let up =
            "-- bascule:no-transaction\nCREATE INDEX CONCURRENTLY members_nick ON members (nick);";
        let report = findings(
            Dialect::Postgres,
            up,
            "DROP INDEX CONCURRENTLY members_nick;",
        );
        assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
        assert_eq!(
            report.findings[0].message,
            "DROP INDEX without IF EXISTS: the undo of a half-applied migration stops here"
        );
        let quiet = findings(
            Dialect::Postgres,
            up,
            "DROP INDEX CONCURRENTLY IF EXISTS members_nick;",
        );
        assert_eq!(quiet.findings, []);
    }

    #[test]
    fn a_reasoned_allow_suppresses_it() {
        let down = "-- bascule:allow idempotent-down the table is created by this migration's first statement only\nDROP TABLE badges;";
        let report = findings(Dialect::Mysql, UP, down);
        assert_eq!(report.findings, []);
        assert_eq!(report.suppressed.len(), 1);
    }
}
