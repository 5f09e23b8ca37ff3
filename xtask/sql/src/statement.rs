//! One statement as the checker read it ([`CheckedStatement`]): its [`Reading`] and, for SQL
//! held inside another statement, where it was found ([`Embedded`]). The types the whole-script
//! check ([`crate::validate`]) and the reader of embedded SQL ([`crate::embedded`]) share, and
//! the one reading of a statement's text (`read`) they both use.

use sqlparser::ast::Statement;
use sqlparser::parser::{Parser, ParserError};

use super::parser::parser_dialect;
use super::recognize::{recognize, Recognized};
use bascule_patch::{Dialect, SqlStatement};

/// How the checker read one statement of a script.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// sqlparser parsed it: its AST (one statement, or none for a MySQL `/*! … */` comment that
    /// holds nothing).
    Parsed(Vec<Statement>),
    /// sqlparser rejected it, and [`recognize`] knows the form: accepted, and flagged so the report
    /// can say how much was read by Bascule's own recognizer.
    Recognized(Recognized),
    /// Marked `-- bascule:raw`: not parsed.
    Raw,
    /// Rejected, or cut by an unterminated construct: its issue is in [`crate::ScriptCheck::issues`].
    Invalid,
}

/// One statement and how it fared.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedStatement {
    /// The statement; for an embedded one, its text once the literal's escapes are undone, placed
    /// at its first character in the file, with the markers of the statement that holds it.
    pub statement: SqlStatement,
    pub outcome: Reading,
    /// `Some` when the statement is not written in the script but held in another one — a string
    /// a `PREPARE` runs, the body of a `DO` block or of a procedure the script calls — and read
    /// from there ([`crate::embedded`]). It follows the statement that holds it.
    pub embedded: Option<Embedded>,
}

impl CheckedStatement {
    /// What sqlparser made of the statement, when it parsed it.
    pub fn ast(&self) -> &[Statement] {
        match &self.outcome {
            Reading::Parsed(ast) => ast,
            _ => &[],
        }
    }

    /// What the recognizer made of the statement, when sqlparser could not.
    pub fn recognized(&self) -> Option<&Recognized> {
        match &self.outcome {
            Reading::Recognized(r) => Some(r),
            _ => None,
        }
    }

    /// Whether the statement is written in the script (not embedded in another one).
    pub fn is_written(&self) -> bool {
        self.embedded.is_none()
    }

    /// Whether the statement is SQL that exists only at run time and could not be read
    /// ([`crate::RecognizedKind::Opaque`]): what it does is unknown.
    pub fn is_opaque(&self) -> bool {
        matches!(
            &self.outcome,
            Reading::Recognized(Recognized {
                kind: crate::RecognizedKind::Opaque { .. }
            })
        )
    }
}

/// Where an embedded statement was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Embedded {
    pub within: Container,
    /// Byte offset in the file of the statement that holds it (for a statement embedded in an
    /// embedded one, of that one).
    pub holder: usize,
    /// It runs only under a condition: a branch of `IF(…)` or `CASE` in the expression a
    /// `PREPARE` runs, a branch of an `IF` or a loop's body in a block (or inside a statement
    /// that does). The idiom's guard (`IF(<the index exists>, 'SELECT 1', 'CREATE INDEX …')`)
    /// makes such a statement idempotent.
    pub conditional: bool,
}

/// What holds an embedded statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// A MySQL prepared statement: the string `PREPARE` takes, directly or through a variable.
    PreparedStatement,
    /// A PostgreSQL `DO` block, an `EXECUTE` inside it included.
    DoBlock,
    /// The body of a procedure the script creates and calls.
    RoutineBody,
}

impl Container {
    /// How reports name it: `prepared statement`, `DO block`, `routine body`.
    pub fn label(self) -> &'static str {
        match self {
            Container::PreparedStatement => "prepared statement",
            Container::DoBlock => "DO block",
            Container::RoutineBody => "routine body",
        }
    }
}

/// One statement's text read by sqlparser, or by the recognizer where sqlparser fails; the
/// parser's error when neither knows it.
pub(crate) fn read(text: &str, dialect: Dialect) -> Result<Reading, ParserError> {
    match Parser::parse_sql(parser_dialect(dialect), text) {
        Ok(ast) => Ok(Reading::Parsed(ast)),
        Err(error) => match recognize(text, dialect) {
            Some(recognized) => Ok(Reading::Recognized(recognized)),
            None => Err(error),
        },
    }
}
