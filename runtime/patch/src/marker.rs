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
//! # Other tools' markers
//!
//! Migrations imported from another tool keep that tool's way of saying "not in a transaction";
//! [`other_tool_no_transaction`] honours them as `-- bascule:no-transaction` is honoured, so they
//! need no rewriting. Each is a `--` comment line of its own, spelled as its tool reads it:
//!
//! | tool | comment line | where the tool reads it |
//! |---|---|---|
//! | sqlx | `-- no-transaction` | the first line of the file (sqlx reads the first bytes) |
//! | morph | `-- morph:nontransactional` | any line (by custom, the first) |
//! | dbmate | `-- migrate:up transaction:false`, `-- migrate:down transaction:false` | the section's header line |
//! | goose | `-- +goose NO TRANSACTION` | any line (goose reads it case-insensitively) |
//! | Flyway | `-- flyway:executeInTransaction=false` | any line (script configuration in the script) |
//! | Liquibase | `--changeset <author>:<id> runInTransaction:false` | the changeset's header line |
//!
//! golang-migrate has none: it runs each file as one multi-statement exec and leaves
//! transactions to the file itself.
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

/// The tool whose "run outside a transaction" comment the script carries, if any (the table in
/// the module's doc): `Some("dbmate")` for `-- migrate:up transaction:false`.
pub fn other_tool_no_transaction(script: &str) -> Option<&'static str> {
    let first_line = script.lines().next().map(str::trim);
    if first_line == Some("-- no-transaction") {
        return Some("sqlx");
    }
    comment_lines(script).find_map(|(_, comment)| {
        let mut words = comment.split_whitespace();
        let first = words.next().unwrap_or("");
        let mut rest = words;
        if comment == "morph:nontransactional" {
            Some("morph")
        } else if matches!(first, "migrate:up" | "migrate:down")
            && rest.any(|w| w == "transaction:false")
        {
            Some("dbmate")
        } else if comment.eq_ignore_ascii_case("+goose NO TRANSACTION") {
            Some("goose")
        } else if comment.replace(' ', "") == "flyway:executeInTransaction=false" {
            Some("Flyway")
        } else if first == "changeset" && rest.any(|w| w == "runInTransaction:false") {
            Some("Liquibase")
        } else {
            None
        }
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
    fn other_tools_no_transaction_comments_are_recognised_as_their_tools_write_them() {
        for (script, tool) in [
            (
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
                "sqlx",
            ),
            (
                "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY i ON t (a);",
                "morph",
            ),
            (
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);",
                "dbmate",
            ),
            (
                "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY i;",
                "dbmate",
            ),
            (
                "-- +goose Up\n-- +goose NO TRANSACTION\nCREATE INDEX CONCURRENTLY i ON t (a);",
                "goose",
            ),
            ("-- +goose no transaction\nSELECT 1;", "goose"),
            (
                "-- V5 index\n-- flyway:executeInTransaction=false\nSELECT 1;",
                "Flyway",
            ),
            (
                "--changeset ana:12 runInTransaction:false\nSELECT 1;",
                "Liquibase",
            ),
        ] {
            assert_eq!(other_tool_no_transaction(script), Some(tool), "{script}");
        }
        for script in [
            "-- no-transaction, but not a marker\nCREATE INDEX i ON t (c);",
            "SELECT 1;\n-- no-transaction\n",
            "-- migrate:up\nCREATE TABLE t (a INT);",
            "-- migrate:up transaction:true\nSELECT 1;",
            "-- morph:nontransactional is what we do not use here\nSELECT 1;",
            "--changeset ana:12\nSELECT 1;",
            "SELECT '-- +goose NO TRANSACTION';",
        ] {
            assert_eq!(other_tool_no_transaction(script), None, "{script}");
        }
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
