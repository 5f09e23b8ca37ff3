//! The `-- bascule:<directive>` markers of migration scripts, and the one way to match them.
//!
//! A marker is a comment the splitter attaches to a statement ([`crate::SqlStatement::markers`]
//! holds the text after `bascule:`, trimmed). Its *name* is its first word, ended by whitespace,
//! `:` or `(` ([`marker_name`]); what follows is its argument ([`marker_argument`]). Every
//! reader — the splitter, the PostgreSQL backend ([`crate::Migration::runs_outside_transaction`]),
//! the lint rules, suppressions and history — goes through these two functions, so a marker means
//! the same thing on the developer's machine and on the host.
//!
//! | marker | read by | meaning |
//! |---|---|---|
//! | `raw` | SQL checker | the database accepts this statement, the checker does not: count it unchecked |
//! | `no-transaction` | PostgreSQL backend, lint | the migration runs outside a transaction (`CREATE INDEX CONCURRENTLY`) |
//! | `allow <rule> <reason>` | lint | the finding of `<rule>` on this statement is deliberate |
//! | `phase unused <table>[.<column>]` | lint history | an earlier release stopped using what a later one drops |
//! | `irreversible <reason>` | lint, `plan`, `rollback`, `check-migrations` | the down cannot restore what the up removed; the reason says why |
//!
//! `irreversible` is a property of the whole migration, not of one statement: it may stand in
//! `down.sql` with no statement after it (the down then does nothing), so it is read as a comment
//! line of its own ([`comment_markers`]), wherever it stands, rather than from the statements the
//! splitter returns.

/// The prefix of a marker comment: `-- bascule:raw`.
pub const MARKER_PREFIX: &str = "bascule:";
/// `-- bascule:raw`: the statement is not parsed, only counted as unchecked.
pub const RAW: &str = "raw";
/// `-- bascule:no-transaction`: a PostgreSQL migration that runs outside a transaction.
pub const NO_TRANSACTION: &str = "no-transaction";
/// `-- bascule:allow <rule> <reason>`: a lint finding suppressed, with its reason.
pub const ALLOW: &str = "allow";
/// `-- bascule:phase unused <table>[.<column>]`: a fact for the lint history.
pub const PHASE: &str = "phase";
/// `-- bascule:irreversible <reason>`: the migration's down cannot restore what its up removed
/// (a legacy clean-up, data dropped on purpose); `rollback` past it is refused.
pub const IRREVERSIBLE: &str = "irreversible";

/// The markers written as comment lines of their own (`-- bascule:<directive>`, whitespace
/// before it allowed), with their 1-based line: `(3, "irreversible the old rows are gone")`.
/// Unlike the splitter, this finds a marker with no statement after it.
pub fn comment_markers(script: &str) -> impl Iterator<Item = (usize, &str)> {
    comment_lines(script).filter_map(|(line, comment)| {
        comment
            .strip_prefix(MARKER_PREFIX)
            .map(|marker| (line, marker.trim()))
    })
}

/// The text after `--` of every line that is a `--` comment of its own, trimmed, with its
/// 1-based line.
fn comment_lines(script: &str) -> impl Iterator<Item = (usize, &str)> {
    script.lines().enumerate().filter_map(|(i, line)| {
        line.trim_start()
            .strip_prefix("--")
            .map(|comment| (i + 1, comment.trim()))
    })
}

/// The name of a marker directive: `allow(drop-column) …` → `allow`.
pub fn marker_name(marker: &str) -> &str {
    marker
        .split(|c: char| c.is_whitespace() || c == ':' || c == '(')
        .next()
        .unwrap_or("")
}

/// What follows a marker's name, trimmed, a `:` after the name dropped:
/// `allow drop-column unused since 2.2` → `drop-column unused since 2.2`.
pub fn marker_argument(marker: &str) -> &str {
    let rest = &marker[marker_name(marker).len()..];
    let rest = rest.trim_start();
    rest.strip_prefix(':').unwrap_or(rest).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_ends_at_whitespace_a_colon_or_a_parenthesis() {
        assert_eq!(marker_name("allow drop-column: unused"), "allow");
        assert_eq!(marker_name("allow(drop-column)"), "allow");
        assert_eq!(marker_name("phase: unused t"), "phase");
        assert_eq!(marker_name("no-transaction"), "no-transaction");
        assert_eq!(marker_name("phaser unused t"), "phaser");
    }

    #[test]
    fn the_argument_is_what_follows_the_name() {
        assert_eq!(
            marker_argument("allow drop-column: unused"),
            "drop-column: unused"
        );
        assert_eq!(marker_argument("phase: unused t.c"), "unused t.c");
        assert_eq!(marker_argument("phase unused t"), "unused t");
        assert_eq!(marker_argument("raw"), "");
        assert_eq!(marker_argument("allow(drop-column)"), "(drop-column)");
    }

    #[test]
    fn comment_markers_are_whole_comment_lines_with_their_line() {
        let script = "-- a note\n  -- bascule:irreversible the rows are gone \nSELECT 1; -- bascule:raw\n--bascule:phase unused t\n";
        let found: Vec<_> = comment_markers(script).collect();
        assert_eq!(
            found,
            [(2, "irreversible the rows are gone"), (4, "phase unused t")]
        );
    }
}
