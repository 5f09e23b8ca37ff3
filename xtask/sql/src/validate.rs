//! Checking that every statement of a script parses, with rustc-like messages.

use std::fmt;
use std::path::{Path, PathBuf};

use sqlparser::parser::ParserError;

use super::embedded;
use super::statement::{read, CheckedStatement, Reading};
use bascule_patch::Dialect;
use bascule_patch::{split_script, LineIndex, SqlStatement};

/// What kind of problem an [`SqlIssue`] is, so a caller can treat some differently (e.g. accept
/// an empty down script).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IssueKind {
    /// A statement the dialect's parser rejects.
    Syntax,
    /// A quote, comment or dollar quote never closed, or a `DELIMITER` without its argument:
    /// statement boundaries after it cannot be trusted.
    Split,
    /// The script has no statement at all.
    Empty,
}

/// One problem in one script, at one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlIssue {
    pub kind: IssueKind,
    /// The script, as shown in the message (relative to the patch root for migrations).
    pub path: PathBuf,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column in the file, in characters.
    pub column: usize,
    pub message: String,
    /// The line of the file the issue points at, as written.
    pub statement_excerpt: String,
    /// What to do about it, when there is something general to say.
    pub help: Option<String>,
}

impl fmt::Display for SqlIssue {
    /// Rendered like rustc:
    ///
    /// ```text
    /// error: syntax error (sqlite): Expected: NULL, found: NUL
    ///  --> migrations/site/0002_add_avatar/up.sql:3:48
    ///   |
    /// 3 | ALTER TABLE members ADD COLUMN avatar TEXT NOT NUL;
    ///   |                                                ^
    ///   = help: …
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.path.display(),
            self.line,
            self.column
        )?;
        writeln!(f, "{pad} |")?;
        if self.statement_excerpt.is_empty() {
            writeln!(f, "{number} |")?;
        } else {
            writeln!(f, "{number} | {}", self.statement_excerpt)?;
        }
        // Keep tabs under tabs so the caret lines up however the terminal shows them.
        let caret_pad: String = self
            .statement_excerpt
            .chars()
            .chain(std::iter::repeat(' '))
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {caret_pad}^")?;
        if let Some(help) = &self.help {
            write!(f, "\n{pad} = help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SqlIssue {}

/// Every issue, rendered and separated by blank lines, as a command prints them.
pub fn render_issues(issues: &[SqlIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Every statement of a script with its [`crate::Reading`], and every issue (split problems, syntax
/// errors, an empty script), sorted by position. Nothing stops at the first error. The
/// statements embedded in others follow their holder ([`CheckedStatement::embedded`]); they
/// never make an issue.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptCheck {
    pub statements: Vec<CheckedStatement>,
    pub issues: Vec<SqlIssue>,
}

/// Splits `sql` and parses each statement on its own, so one bad statement does not hide the
/// others. `path` is only used in messages.
///
/// On success, returns every statement, those marked `-- bascule:raw` included (flagged
/// [`SqlStatement::raw`], not parsed: the caller counts them as unchecked). A script without
/// any statement is an [`IssueKind::Empty`] issue; the caller decides whether that is acceptable.
/// A statement sqlparser rejects but [`crate::recognize::recognize`] knows is accepted; [`check_script`] tells which.
pub fn validate_script(
    path: &Path,
    sql: &str,
    dialect: Dialect,
) -> Result<Vec<SqlStatement>, Vec<SqlIssue>> {
    let check = check_script(path, sql, dialect);
    if check.issues.is_empty() {
        Ok(check.statements.into_iter().map(|s| s.statement).collect())
    } else {
        Err(check.issues)
    }
}

/// Like [`validate_script`], keeping every statement's [`crate::Reading`] (its AST, or what the
/// recognizer read) whether or not the script has issues.
pub fn check_script(path: &Path, sql: &str, dialect: Dialect) -> ScriptCheck {
    let split = split_script(sql, dialect);
    let lines = LineIndex::new(sql);
    let issue =
        |kind, (line, column): (usize, usize), message: String, help: Option<String>| SqlIssue {
            kind,
            path: path.to_path_buf(),
            line,
            column,
            message,
            statement_excerpt: lines.line_text(line).to_string(),
            help,
        };
    let mut issues: Vec<SqlIssue> = split
        .problems
        .iter()
        .map(|p| {
            issue(
                IssueKind::Split,
                (p.line, p.column),
                p.message.clone(),
                None,
            )
        })
        .collect();
    let mut statements = Vec::with_capacity(split.statements.len());
    for statement in split.statements {
        // A statement holding an unterminated construct is already reported; its parse error
        // would only say the same thing again.
        let broken = split
            .problems
            .iter()
            .any(|p| (statement.offset..=statement.end()).contains(&p.offset));
        let outcome = if statement.raw {
            Reading::Raw
        } else if broken {
            Reading::Invalid
        } else {
            match read(&statement.text, dialect) {
                Ok(reading) => reading,
                Err(error) => {
                    let (message, location) = parser_message(&error);
                    let position = match location {
                        Some(location) => file_position(&statement, location),
                        None => lines.position(statement.end()),
                    };
                    issues.push(issue(
                        IssueKind::Syntax,
                        position,
                        format!("syntax error ({dialect}): {message}"),
                        Some(format!(
                            "if {dialect} accepts this statement and only Bascule's parser \
                             does not, write `-- bascule:raw` on the line before it: it will \
                             run unchecked"
                        )),
                    ));
                    Reading::Invalid
                }
            }
        };
        statements.push(CheckedStatement {
            statement,
            outcome,
            embedded: None,
        });
    }
    if statements.is_empty() && split.problems.is_empty() {
        issues.push(issue(IssueKind::Empty, (1, 1), empty_message(path), None));
    }
    issues.sort_by_key(|i| (i.line, i.column));
    let statements = embedded::expand(statements, sql, dialect);
    ScriptCheck { statements, issues }
}

fn empty_message(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    if name == "down.sql" {
        format!("{name} has no statement; a down script must undo what up.sql does")
    } else {
        format!("{name} has no statement; a migration must do something")
    }
}

/// sqlparser's message without its position, and the position (line, column) inside the text
/// it was given, when it has one (not at the end of the input).
fn parser_message(error: &ParserError) -> (String, Option<(usize, usize)>) {
    const AT: &str = " at Line: ";
    let message = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.as_str(),
        ParserError::RecursionLimitExceeded => {
            return ("the statement is nested too deeply".into(), Some((1, 1)))
        }
    };
    let location = message.rfind(AT).and_then(|at| {
        let (line, column) = message[at + AT.len()..].split_once(", Column: ")?;
        let line: usize = line.trim().parse().ok()?;
        let column: usize = column.trim().parse().ok()?;
        Some((at, line, column))
    });
    let (message, location) = match location {
        Some((at, line, column)) if line > 0 => (&message[..at], Some((line, column))),
        _ => (message, None),
    };
    let message = message.replace("found: EOF", "found: the end of the statement");
    (message, location)
}

/// A (line, column) inside a statement's text to a (line, column) in the file: lines shift by
/// the statement's line; columns shift by its column only on its first line.
fn file_position(statement: &SqlStatement, (line, column): (usize, usize)) -> (usize, usize) {
    if line <= 1 {
        (statement.line, statement.column + column.saturating_sub(1))
    } else {
        (statement.line + line - 1, column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(sql: &str, dialect: Dialect) -> Vec<SqlIssue> {
        validate_script(Path::new("migrations/main/0001_x/up.sql"), sql, dialect)
            .expect_err("the script should have issues")
    }

    #[test]
    fn valid_sqlite_script() {
        let sql = "-- Members get an avatar.\n\
                   CREATE TABLE members (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                   ALTER TABLE members ADD COLUMN avatar TEXT;\n\
                   CREATE INDEX members_name ON members (name);\n\
                   INSERT INTO members (name) VALUES ('a;b'), ('it''s');\n\
                   UPDATE members SET avatar = 'x' WHERE id = 1;\n";
        let statements =
            validate_script(Path::new("up.sql"), sql, Dialect::Sqlite).expect("valid script");
        assert_eq!(statements.len(), 5);
        assert_eq!(statements[0].line, 2);
        assert!(statements.iter().all(|s| !s.raw));
    }

    #[test]
    fn third_statement_error_points_into_the_file() {
        let sql = "CREATE TABLE a (x INT);\n\
                   CREATE TABLE b (y INT);\n\
                   \n  INSERT INTO a VALUES (1); ALTER TABLE members ADD COLUMN avatar TEXT NOT NUL;\n\
                   CREATE TABLE c (z INT);\n";
        let found = issues(sql, Dialect::Sqlite);
        assert_eq!(found.len(), 1, "{}", render_issues(&found));
        let issue = &found[0];
        assert_eq!(issue.kind, IssueKind::Syntax);
        // sqlparser stops at `NOT` (it is not followed by `NULL`): column 72 of line 4.
        assert_eq!((issue.line, issue.column), (4, 72), "{issue}");
        assert_eq!(
            issue.statement_excerpt,
            "  INSERT INTO a VALUES (1); ALTER TABLE members ADD COLUMN avatar TEXT NOT NUL;"
        );
        assert!(issue.message.contains("NOT"), "{}", issue.message);
    }

    #[test]
    fn error_on_a_later_line_of_a_statement_keeps_its_own_column() {
        let sql = "SELECT 1;  CREATE TABLE t (\n  a INT,\n  b INT NOT NUL\n);";
        let found = issues(sql, Dialect::Sqlite);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].column), (3, 9), "{}", found[0]);
    }

    #[test]
    fn every_bad_statement_is_reported() {
        let sql = "SELEC 1;\nSELECT 2;\nCREATE TABLE (;\n";
        let found = issues(sql, Dialect::Postgres);
        assert_eq!(found.len(), 2, "{}", render_issues(&found));
        assert_eq!(found[0].line, 1);
        assert_eq!(found[1].line, 3);
    }

    #[test]
    fn error_at_end_of_statement_points_after_it() {
        let found = issues("SELECT 1;\nCREATE TABLE t (a INT;\n", Dialect::Sqlite);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].column), (2, 22), "{}", found[0]);
    }

    #[test]
    fn raw_statements_are_not_parsed_but_flagged() {
        let sql = "CREATE TABLE t (a INT);\n\
                   -- bascule:raw FTS5 options sqlparser does not know\n\
                   THIS IS NOT SQL AT ALL;\n\
                   SELECT 1;";
        let statements =
            validate_script(Path::new("up.sql"), sql, Dialect::Sqlite).expect("raw is skipped");
        let raw: Vec<bool> = statements.iter().map(|s| s.raw).collect();
        assert_eq!(raw, [false, true, false]);
    }

    #[test]
    fn empty_scripts_are_issues() {
        for sql in ["", "  \n", "-- nothing to do\n/* really */;\n"] {
            let found =
                validate_script(Path::new("m/down.sql"), sql, Dialect::Mysql).expect_err("empty");
            assert_eq!(found.len(), 1);
            assert_eq!(found[0].kind, IssueKind::Empty);
            assert!(found[0].message.starts_with("down.sql has no statement"));
        }
    }

    #[test]
    fn unterminated_string_is_reported_once() {
        let found = issues("SELECT 1;\nINSERT INTO t VALUES ('abc);\n", Dialect::Sqlite);
        assert_eq!(found.len(), 1, "{}", render_issues(&found));
        assert_eq!(found[0].kind, IssueKind::Split);
        assert_eq!((found[0].line, found[0].column), (2, 23));
    }

    #[test]
    fn triggers_and_functions_parse() {
        let sqlite = "CREATE TABLE t (a INT, b INT);\n\
                      CREATE TRIGGER t_ins AFTER INSERT ON t BEGIN\n  \
                        UPDATE t SET b = 1 WHERE a = new.a;\n  \
                        UPDATE t SET b = 2 WHERE a = new.a;\nEND;\n";
        let statements = validate_script(Path::new("up.sql"), sqlite, Dialect::Sqlite)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(statements.len(), 2);

        let postgres = "CREATE FUNCTION one() RETURNS integer AS $$\nBEGIN\n  RETURN 1;\nEND;\n$$ LANGUAGE plpgsql;\nSELECT one();";
        let statements = validate_script(Path::new("up.sql"), postgres, Dialect::Postgres)
            .unwrap_or_else(|e| panic!("{}", render_issues(&e)));
        assert_eq!(statements.len(), 2);
    }

    #[test]
    fn recognized_statements_are_accepted_and_flagged() {
        let sql = "CREATE INDEX CONCURRENTLY m_email ON members (email);\n\
                   DROP INDEX CONCURRENTLY m_email;\n\
                   REINDEX TABLE members;\n";
        let check = check_script(Path::new("up.sql"), sql, Dialect::Postgres);
        assert_eq!(check.issues, []);
        let outcomes: Vec<&str> = check
            .statements
            .iter()
            .map(|s| match &s.outcome {
                Reading::Parsed(_) => "parsed",
                Reading::Recognized(_) => "recognized",
                Reading::Raw => "raw",
                Reading::Invalid => "invalid",
            })
            .collect();
        assert_eq!(outcomes, ["parsed", "recognized", "recognized"]);
        assert_eq!(check.statements[0].ast().len(), 1);
        assert!(validate_script(Path::new("up.sql"), sql, Dialect::Postgres).is_ok());
    }

    #[test]
    fn an_unknown_statement_is_one_error_and_the_rest_is_still_checked() {
        let sql = "DROP INDEX CONCURRENTLY a;\n\
                   REINDEX TABLES members;\n\
                   DO $$ BEGIN NULL; END $$;\n\
                   SELEC 1;\n";
        let check = check_script(Path::new("up.sql"), sql, Dialect::Postgres);
        let lines: Vec<usize> = check.issues.iter().map(|i| i.line).collect();
        assert_eq!(lines, [2, 4], "{}", render_issues(&check.issues));
        assert_eq!(check.statements.len(), 4);
        assert!(check.statements[0].recognized().is_some());
        assert!(check.statements[2].recognized().is_some());
        assert_eq!(check.statements[3].outcome, Reading::Invalid);
    }

    #[test]
    fn tabs_keep_the_caret_aligned() {
        let issue = SqlIssue {
            kind: IssueKind::Syntax,
            path: PathBuf::from("up.sql"),
            line: 12,
            column: 4,
            message: "m".into(),
            statement_excerpt: "\tab cd".into(),
            help: None,
        };
        assert_eq!(
            issue.to_string(),
            "error: m\n  --> up.sql:12:4\n   |\n12 | \tab cd\n   | \t  ^"
        );
    }

    fn snapshot_of(sql: &str, dialect: Dialect) -> String {
        let path = Path::new("migrations/site/0002_add_avatar/up.sql");
        match validate_script(path, sql, dialect) {
            Ok(_) => panic!("expected an issue"),
            Err(found) => render_issues(&found),
        }
    }

    #[test]
    fn rendered_issue_sqlite() {
        insta::assert_snapshot!(snapshot_of(
            "CREATE TABLE members (id INTEGER PRIMARY KEY);\n\
             \n\
             ALTER TABLE members ADD COLUMN avatar TEXT NOT NUL;\n",
            Dialect::Sqlite
        ));
    }

    #[test]
    fn rendered_issue_mysql() {
        insta::assert_snapshot!(snapshot_of(
            "CREATE TABLE members (id INT PRIMARY KEY);\n\
             ALTER TABLE members\n  ADD COLUMN avatar VARCHAR(255) DEFAULT 'it\\'s;' NOT NULL,\n  ADD INDEX (avatar,;\n",
            Dialect::Mysql
        ));
    }

    #[test]
    fn rendered_issue_postgres() {
        insta::assert_snapshot!(snapshot_of(
            "CREATE TABLE members (id serial PRIMARY KEY);\n\
             CREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;\n\
             ALTER TABLE members ADD COLUMN avatar text NOT NUL, ADD COLUMN x int;\n",
            Dialect::Postgres
        ));
    }

    #[test]
    fn rendered_empty_script() {
        insta::assert_snapshot!(snapshot_of("-- nothing here\n", Dialect::Sqlite));
    }
}
