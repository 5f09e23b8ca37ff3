//! `migrate`: every database of every class to the patch's version, in parallel.
//!
//! It starts from the survey `preflight` took when the run holds the database-side migration
//! locks (`apply` and `migrate` both do: nothing can have changed since), else from its own.
//! Before touching anything, one journal record lists every database with the version it is
//! at and whether it had a version table: that is all the undo needs, so recording it once
//! (one fsync) covers thousands of databases. Where a migration is one transaction (SQLite,
//! PostgreSQL) a database is always at a well-defined version; where it cannot be (MariaDB/MySQL
//! DDL, PostgreSQL `-- bascule:no-transaction`), its version row says `applying` until the last
//! statement ran (see [`crate::db`]). The undo runs the down scripts of whatever is above each
//! database's own starting version — `applying` rows included — in reverse.
//!
//! Under the migration locks (every run takes them, see [`crate::run`]) the undo first reads the
//! version tables in bulk where the backend allows it, skips the databases with nothing to undo
//! and spares the others a query; without the locks it reads each database right before acting.
//!
//! Work is spread over `workers` threads *per database server* ([`parallel::map_grouped`]), each
//! carrying one [`Session`] from database to database, so a server sees at most `workers`
//! connections from a run, however many tenants it holds. Progress: a bar on a terminal
//! ([`progress`]), a line about every tenth of the work in the run log.

mod progress;

use crate::db::{self, read_state, DbError, DbTarget, Session, VersionState};
use crate::engine::{Context, Step, StepError};
use crate::journal::{DbStart, Intent};
use crate::migration::Migration;
use crate::parallel::{self, OnError};
use crate::survey::{ClassSurvey, DbSurvey};

use progress::Progress;

pub struct Migrate;

impl Step for Migrate {
    fn name(&self) -> &'static str {
        "migrate"
    }

    fn summary(&self) -> &'static str {
        "every database of every class to the target version, in parallel"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let classes = cx.take_survey()?;
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

/// One database's work: where it is and what it still needs.
struct Work<'s> {
    db: &'s DbSurvey,
    pending: Vec<&'s Migration>,
}

fn migrate_class(cx: &Context<'_>, class: &ClassSurvey) -> Result<(), StepError> {
    let work: Vec<Work<'_>> = class
        .databases
        .iter()
        .map(|db| Work {
            db,
            pending: class.migrations.pending(db.state.version()).collect(),
        })
        .filter(|w| !w.pending.is_empty())
        .collect();
    let workers = cx.host.workers(&class.class);
    let servers = servers(class.databases.iter().map(|d| &d.target));
    cx.say(format_args!(
        "{}: {} of {} database(s) to migrate ({} read in {} ms), {} worker(s) per server on {} server(s)",
        class.class,
        work.len(),
        class.databases.len(),
        class.databases.len(),
        class.elapsed.as_millis(),
        workers,
        servers
    ));
    let version = cx.patch.version().to_string();
    let adopt = cx
        .host
        .databases
        .get(&class.class)
        .and_then(|c| c.adopt.as_ref());
    let progress = Progress::new(cx, &class.class, "migrated", work.len());
    let result = parallel::map_grouped(
        &work,
        |w| w.db.target.location.server().to_string(),
        workers,
        OnError::Stop,
        Session::new,
        |session, w| {
            session.with(&w.db.target, |conn| {
                if let (false, Some(baseline), Some(adopt)) =
                    (w.db.state.table_exists, w.db.state.adopted, adopt)
                {
                    cx.log.line(format_args!(
                        "{}: version table created at baseline {baseline} ({})",
                        w.db.target,
                        adopt.baseline_name()
                    ));
                    conn.record_baseline(baseline, adopt)?;
                }
                conn.apply_ups(&w.pending, &version, cx.log)
            })?;
            progress.tick();
            Ok::<_, DbError>(())
        },
    );
    progress.finish();
    result
        .map(|_| ())
        .map_err(|errors| summarize("migration", errors))
}

/// How many distinct servers hold these databases.
fn servers<'t>(targets: impl Iterator<Item = &'t DbTarget>) -> usize {
    let mut servers: Vec<&str> = targets.map(|t| t.location.server()).collect();
    servers.sort_unstable();
    servers.dedup();
    servers.len()
}

fn undo_databases(cx: &Context<'_>, databases: &[DbStart]) -> Result<(), StepError> {
    let workers = databases
        .first()
        .map_or(1, |d| cx.host.workers(&d.target.class));
    cx.say(format_args!(
        "undo migrations on {} database(s), {workers} worker(s) per server",
        databases.len()
    ));
    let work: Vec<(&DbStart, Option<VersionState>)> = databases
        .iter()
        .zip(read_ahead(cx, databases, workers))
        .collect();
    let progress = Progress::new(cx, "undo", "checked", databases.len());
    let result = parallel::map_grouped(
        &work,
        |(d, _)| d.target.location.server().to_string(),
        workers,
        OnError::Continue,
        Session::new,
        |session, (start, known)| {
            let result = undo_one(cx, session, start, known.as_ref());
            progress.tick();
            result
        },
    );
    progress.finish();
    result
        .map(|_| ())
        .map_err(|errors| summarize("undo", errors))
}

/// The version state of `databases`, read in bulk where the backend allows it (see
/// [`db::versions`]) and the run holds the migration locks, so nothing but this undo changes
/// it until the undo reaches each database; `None` where each database must be read on its own.
fn read_ahead(
    cx: &Context<'_>,
    databases: &[DbStart],
    workers: usize,
) -> Vec<Option<VersionState>> {
    if !cx.holds_db_locks() {
        return vec![None; databases.len()];
    }
    let targets: Vec<DbTarget> = databases.iter().map(|d| d.target.clone()).collect();
    match db::versions::read_in_bulk(&targets, workers, None) {
        Ok(states) => states,
        Err(errors) => {
            for e in errors {
                cx.log.line(format_args!(
                    "undo: bulk read failed, reading each database: {e}"
                ));
            }
            vec![None; databases.len()]
        }
    }
}

/// What the undo of one database does: the downs to run, newest first, and whether the version
/// table goes too.
struct UndoPlan<'p> {
    downs: Vec<&'p Migration>,
    drop_version_table: bool,
}

impl UndoPlan<'_> {
    fn is_nothing(&self) -> bool {
        self.downs.is_empty() && !self.drop_version_table
    }
}

/// The downs bringing a database in `state` back to `start`: every migration above its starting
/// version (`applying` rows included), and the version table if the run created it.
fn undo_plan<'p>(
    cx: &Context<'p>,
    start: &DbStart,
    state: &VersionState,
) -> Result<UndoPlan<'p>, DbError> {
    let migrations = cx.patch.migrations.class(&start.target.class);
    let mut above: Vec<u32> = state
        .applied
        .iter()
        .filter(|a| a.state != db::RowState::Baseline)
        .map(|a| a.id)
        .filter(|id| *id > start.version)
        .collect();
    above.sort_unstable_by(|a, b| b.cmp(a));
    let downs = above
        .into_iter()
        .map(|id| {
            migrations.and_then(|c| c.get(id)).ok_or_else(|| DbError::Backend {
                db: start.target.to_string(),
                what: format!(
                    "migration {id:04} is applied but is not in this bundle, so its down script is unknown; \
                     undo it with the bundle that applied it"
                ),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(UndoPlan {
        downs,
        drop_version_table: !start.had_version_table && state.table_exists,
    })
}

/// Brings one database back to its starting version (`applying` rows included) through
/// `session`. `known` is its state if it was read ahead; then a database that needs nothing is
/// not even visited, else its state is read right before the undo.
fn undo_one(
    cx: &Context<'_>,
    session: &mut Session,
    start: &DbStart,
    known: Option<&VersionState>,
) -> Result<(), DbError> {
    match known {
        Some(state) => {
            let plan = undo_plan(cx, start, state)?;
            if plan.is_nothing() {
                return Ok(());
            }
            session.with(&start.target, |conn| carry_out(cx, conn, &plan))
        }
        None => session.with(&start.target, |conn| {
            let state = read_state(conn, None)?;
            carry_out(cx, conn, &undo_plan(cx, start, &state)?)
        }),
    }
}

fn carry_out(
    cx: &Context<'_>,
    conn: &mut dyn db::Connection,
    plan: &UndoPlan<'_>,
) -> Result<(), DbError> {
    conn.apply_downs(&plan.downs, cx.log)?;
    if plan.drop_version_table {
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
