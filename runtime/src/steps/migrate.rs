//! `migrate`: every database of every class to the patch's version, in parallel.
//!
//! Before touching anything, one journal record lists every database with the version it is
//! at and whether it had a version table: that is all the undo needs, so recording it once
//! (one fsync) covers thousands of databases. Each migration runs in a transaction with its
//! version row, so a database is always at a well-defined version; the undo runs the down
//! scripts of whatever is above each database's own starting version, in reverse.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::db::{self, DbError};
use crate::engine::{Context, Step, StepError};
use crate::journal::{DbStart, Intent};
use crate::migration::Migration;
use crate::parallel::{self, OnError};
use crate::survey::{survey, ClassSurvey};

pub struct Migrate;

impl Step for Migrate {
    fn name(&self) -> &'static str {
        "migrate"
    }

    fn summary(&self) -> &'static str {
        "every database of every class to the target version, in parallel"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let classes = survey(cx.host, cx.patch)?;
        let problems: Vec<String> = classes.iter().flat_map(|c| c.problems()).collect();
        if !problems.is_empty() {
            return Err(StepError::Failed(problems.join("\n")));
        }
        let databases = classes
            .iter()
            .flat_map(|c| c.databases.iter())
            .map(|d| DbStart {
                target: d.target.clone(),
                version: d.state.version(),
                had_version_table: d.state.table_exists,
            })
            .collect();
        cx.intend(Intent::Migrate { databases })?;
        for class in &classes {
            migrate_class(cx, class)?;
        }
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents {
            if let Intent::Migrate { databases } = intent {
                undo_databases(cx, databases)?;
            }
        }
        Ok(())
    }
}

fn migrate_class(cx: &Context<'_>, class: &ClassSurvey) -> Result<(), StepError> {
    let work: Vec<(&db::DbTarget, Vec<&Migration>)> = class
        .databases
        .iter()
        .map(|d| {
            (
                &d.target,
                class
                    .migrations
                    .pending(d.state.version())
                    .collect::<Vec<_>>(),
            )
        })
        .filter(|(_, pending)| !pending.is_empty())
        .collect();
    let workers = cx.host.workers(&class.class);
    cx.say(format_args!(
        "{}: {} of {} database(s) to migrate, {} worker(s)",
        class.class,
        work.len(),
        class.databases.len(),
        workers
    ));
    let version = cx.patch.version().to_string();
    let done = AtomicUsize::new(0);
    let progress = Progress::new(cx, &class.class, work.len());
    let result = parallel::map(&work, workers, OnError::Stop, |(target, pending)| {
        let mut conn = db::connect(target)?;
        for m in pending {
            conn.apply_up(m, &version, cx.log)?;
        }
        progress.tick(done.fetch_add(1, Ordering::SeqCst) + 1);
        Ok::<_, DbError>(())
    });
    result
        .map(|_| ())
        .map_err(|errors| summarize("migration", errors))
}

fn undo_databases(cx: &Context<'_>, databases: &[DbStart]) -> Result<(), StepError> {
    let workers = databases
        .first()
        .map_or(1, |d| cx.host.workers(&d.target.class));
    cx.say(format_args!(
        "undo migrations on {} database(s)",
        databases.len()
    ));
    parallel::map(databases, workers, OnError::Continue, |start| {
        undo_database(cx, start)
    })
    .map(|_| ())
    .map_err(|errors| summarize("undo", errors))
}

/// Brings one database back to its starting version; does nothing if it is already there.
fn undo_database(cx: &Context<'_>, start: &DbStart) -> Result<(), DbError> {
    let mut conn = db::connect(&start.target)?;
    let state = conn.version_state()?;
    let migrations = cx.patch.migrations.class(&start.target.class);
    let mut above: Vec<u32> = state
        .applied
        .iter()
        .map(|a| a.id)
        .filter(|id| *id > start.version)
        .collect();
    above.sort_unstable_by(|a, b| b.cmp(a));
    for id in above {
        let migration = migrations.and_then(|c| c.get(id)).ok_or_else(|| DbError::Backend {
            db: start.target.to_string(),
            what: format!(
                "migration {id:04} is applied but is not in this bundle, so its down script is unknown; \
                 undo it with the bundle that applied it"
            ),
        })?;
        conn.apply_down(migration, cx.log)?;
    }
    if !start.had_version_table && state.table_exists {
        conn.drop_version_table(cx.log)?;
    }
    Ok(())
}

fn summarize(what: &str, errors: Vec<(usize, DbError)>) -> StepError {
    let count = errors.len();
    let shown: Vec<String> = errors.iter().take(5).map(|(_, e)| e.to_string()).collect();
    let more = if count > 5 {
        format!("\n… and {} more", count - 5)
    } else {
        String::new()
    };
    StepError::Failed(format!(
        "{count} {what} failure(s):\n{}{more}",
        shown.join("\n")
    ))
}

/// Progress lines for the operator: about every tenth of the work, and at the end.
struct Progress<'c, 'a> {
    cx: &'c Context<'a>,
    class: &'c str,
    total: usize,
    every: usize,
}

impl<'c, 'a> Progress<'c, 'a> {
    fn new(cx: &'c Context<'a>, class: &'c str, total: usize) -> Self {
        Progress {
            cx,
            class,
            total,
            every: (total / 10).max(1),
        }
    }

    fn tick(&self, done: usize) {
        if done.is_multiple_of(self.every) || done == self.total {
            self.cx.say(format_args!(
                "{}: {done}/{} migrated",
                self.class, self.total
            ));
        }
    }
}
