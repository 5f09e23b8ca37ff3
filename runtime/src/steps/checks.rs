//! Consistency checks: queries that must return zero rows, run on every database of a class.
//!
//! They run in `preflight` (a platform already inconsistent is not upgraded) and in
//! `post-checks` (the migration must not have broken anything).

use crate::engine::{Context, StepError};
use bascule_db::parallel::{self, OnError};
use bascule_db::{self as db, DbError, Session};
use bascule_patch::{Check, Moment};

/// Runs the checks meant for `moment` on every database of every class of the patch.
pub fn run_checks(cx: &Context<'_>, moment: Moment) -> Result<(), StepError> {
    let mut failures = Vec::new();
    for class in cx.patch.spec.classes.keys() {
        let checks: Vec<Check> = cx
            .patch
            .checks(class)?
            .into_iter()
            .filter(|c| c.runs_at(moment))
            .collect();
        if checks.is_empty() {
            continue;
        }
        let targets = cx.host.discover(class)?;
        cx.say(format_args!(
            "{} check(s) on {} {class} database(s)",
            checks.len(),
            targets.len()
        ));
        // Like the migrate step: `workers` per server, each worker reusing its connection.
        let result = parallel::map_grouped(
            &targets,
            |t| t.location.server().to_string(),
            cx.host.workers(class),
            OnError::Continue,
            Session::new,
            |session, t| {
                session.with(t, |conn| {
                    let mut found = Vec::new();
                    for check in &checks {
                        let rows = conn.query_rows(&check.sql)?;
                        if !rows.is_empty() {
                            found.push(describe(t, check, &rows));
                        }
                    }
                    Ok::<_, DbError>(found)
                })
            },
        );
        match result {
            Ok(per_db) => failures.extend(per_db.into_iter().flatten()),
            Err(errors) => failures.extend(errors.into_iter().map(|(_, e)| e.to_string())),
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let shown = failures
        .iter()
        .take(10)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n  ");
    let more = failures.len().saturating_sub(10);
    let more = if more > 0 {
        format!("\n  … and {more} more")
    } else {
        String::new()
    };
    Err(StepError::Failed(format!(
        "{} consistency check failure(s):\n  {shown}{more}",
        failures.len()
    )))
}

fn describe(target: &db::DbTarget, check: &Check, rows: &[Vec<String>]) -> String {
    let first = rows
        .iter()
        .take(3)
        .map(|r| format!("({})", r.join(", ")))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{target}: checks/{}/{} returned {} row(s), e.g. {first}",
        target.class,
        check.name,
        rows.len()
    )
}
