//! `-- bascule:allow <id> <reason>`: a finding the team has judged deliberate.
//!
//! # Which ids
//!
//! Every id a finding of a migration can carry, except those no marker may silence
//! ([`NEVER_SILENCED`]): the id of every rule, `idempotent-down` included, and of the pair check
//! ([`crate::rules::allowable_ids`]). An unknown id is an
//! error (`unknown-rule`) whose help names the closest valid id, or lists them all; an id that
//! must never be silenced is an error saying why. The reason is mandatory: a marker without one
//! is an error (`suppression-without-reason`) and silences nothing. Every silenced finding is
//! still listed in the report, with its reason.
//!
//! # Where the marker goes
//!
//! A marker belongs to the statement it precedes or stands inside (or follows on the same line,
//! after the `;`), and silences findings *about that statement*:
//!
//! - a rule's finding: on the `up.sql` statement it points at;
//! - `idempotent-down`: on the `down.sql` statement it points at;
//! - `down-undoes-up`: a finding placed in `down.sql` (a drop the up did not create, a guard
//!   that cannot see what it tests) on that `down.sql` statement; a finding placed in `up.sql`
//!   (something the down fails to undo) on that `up.sql` statement, or on a `down.sql` statement
//!   that acts on the same object (the `MODIFY` meant to restore a type, the rename meant to
//!   rename back).
//!
//! A migration that cannot be undone at all is not silenced finding by finding: it is declared
//! with `-- bascule:irreversible <reason>` (see [`crate`]).

use std::path::Path;

use bascule_patch::{marker_argument, marker_name, SqlStatement, ALLOW};
use bascule_sql::CheckedStatement;

use crate::{Finding, Report, Severity};

/// Finding ids no `allow` marker silences, each with why: what the message of a marker naming
/// one of them says.
pub const NEVER_SILENCED: &[(&str, &str)] = &[
    (
        "syntax",
        "a statement the checker cannot read is a parse error, never silenced: fix it, or mark \
         it `-- bascule:raw` if the database accepts it",
    ),
    (
        "split",
        "a script that cannot be cut into statements is a parse error, never silenced: close the \
         quote, comment or body it reports",
    ),
    (
        "empty-script",
        "an empty script is a parse error, never silenced: a migration that cannot be undone \
         says so with `-- bascule:irreversible <reason>` in down.sql",
    ),
    (
        "irreversible",
        "it reports a `-- bascule:irreversible` declaration, which is already the team's word",
    ),
    (
        "suppression-without-reason",
        "a marker without a reason is never silenced: give the reason",
    ),
    (
        "unknown-rule",
        "a marker naming no finding is never silenced: correct the id",
    ),
];

/// One `-- bascule:allow <id> <reason>` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub rule: String,
    pub reason: String,
}

/// The `allow` markers of a statement.
pub fn suppressions(statement: &SqlStatement) -> Vec<Allow> {
    statement
        .markers
        .iter()
        .filter_map(|m| {
            if marker_name(m) != ALLOW {
                return None;
            }
            let rest = marker_argument(m);
            let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some(Allow {
                rule: rule.trim_end_matches(':').to_string(),
                reason: reason.trim().trim_start_matches(':').trim().to_string(),
            })
        })
        .collect()
}

/// The reason of the statement's marker silencing `id`, if it has one with a reason.
pub fn allowed(statement: &SqlStatement, id: &str) -> Option<String> {
    suppressions(statement)
        .into_iter()
        .find(|a| a.rule == id && !a.reason.is_empty())
        .map(|a| a.reason)
}

/// Checks every `allow` marker of a script's statements into `report`: a reason is given, and
/// the id is one of `ids`, those a marker may silence ([`crate::rules::allowable_ids`]).
pub fn check_markers(
    path: &Path,
    script: &str,
    statements: &[CheckedStatement],
    ids: &[&str],
    report: &mut Report,
) {
    // A statement embedded in another (a `PREPARE`d string, a `DO` block's body) carries its
    // holder's markers: they are checked once, on the holder.
    for checked in statements.iter().filter(|s| s.is_written()) {
        let sql = &checked.statement;
        for allow in suppressions(sql) {
            let at = |rule: &str, message: String| {
                Finding::at(rule, Severity::Error, path, script, sql.offset, message)
            };
            let finding =
                if let Some((_, why)) = NEVER_SILENCED.iter().find(|(id, _)| *id == allow.rule) {
                    at(
                        "unknown-rule",
                        format!(
                            "`-- bascule:allow {}`: `{}` findings cannot be silenced",
                            allow.rule, allow.rule
                        ),
                    )
                    .with_help(*why)
                } else if !ids.contains(&allow.rule.as_str()) {
                    let help = match closest(&allow.rule, ids) {
                        Some(id) => format!(
                            "did you mean `{id}`? (`cargo xtask lint --rules` lists the rule ids)"
                        ),
                        None => format!("the ids an allow marker accepts: {}", ids.join(", ")),
                    };
                    at(
                        "unknown-rule",
                        format!("`-- bascule:allow {}`: no finding has this id", allow.rule),
                    )
                    .with_help(help)
                } else if allow.reason.is_empty() {
                    at(
                        "suppression-without-reason",
                        format!("`-- bascule:allow {}` has no reason", allow.rule),
                    )
                    .with_help(format!(
                        "say why it is safe here: `-- bascule:allow {} <reason>`",
                        allow.rule
                    ))
                } else {
                    continue;
                };
            report.add(finding, None);
        }
    }
}

/// The valid id closest to `id` (edit distance at most a third of its length, at least 2), the
/// typo's likely intent.
fn closest<'a>(id: &str, ids: &[&'a str]) -> Option<&'a str> {
    let limit = (id.chars().count() / 3).max(2);
    ids.iter()
        .map(|candidate| (edit_distance(id, candidate), *candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min()
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_gets_the_closest_id_and_nonsense_gets_the_list() {
        let ids = crate::rules::allowable_ids();
        assert!(ids.contains(&"down-undoes-up") && ids.contains(&"idempotent-down"));
        assert_eq!(closest("down-undo-up", &ids), Some("down-undoes-up"));
        assert_eq!(closest("droping-column", &ids), Some("dropping-column"));
        assert_eq!(closest("whatever", &ids), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
