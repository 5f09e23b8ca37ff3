//! `migrate`: every database of every class to the patch's version, in parallel.
//!
//! It starts from the survey `preflight` took when the run holds the database-side migration
//! locks (`apply` and `migrate` both do: nothing can have changed since), else from its own.
//! Before touching anything, one journal record lists every database with the version it is
//! at and whether it had a version table: that is all the undo needs, so recording it once
//! (one fsync) covers thousands of databases. Where a migration is one transaction (SQLite,
//! PostgreSQL) a database is always at a well-defined version; where it cannot be (MariaDB/MySQL
//! DDL, PostgreSQL `-- bascule:no-transaction`), its version row says `applying` until the last
//! statement ran (see [`bascule_db`]). The undo runs the down scripts of whatever is above each
//! database's own starting version — `applying` rows included — in reverse. In a downtime
//! window (an `apply` of a `mode = "downtime"` patch) a backend may make a database's migrations
//! one transaction ([`in_downtime`]); beside a serving application, each commits on its own.
//!
//! An `applying` row found here is *abandoned*: under the migration locks, the run that wrote it
//! is gone (killed, or its host lost). If this bundle ships that migration, migrate first
//! finishes its undo (its idempotent `down.sql`, then the row is deleted) and then applies it
//! again with the rest, so no database is left for a hand-made fix. The row's migration is above
//! the database's starting version, so this run's own undo would finish it the same way.
//!
//! Each version row names its run ([`db::Stamp`]). A run killed on one host may be followed by a
//! `bascule migrate` from another that finishes the job, and the new code may already rely on
//! it; a later `recover` of the killed run must then undo nothing. So when a database read ahead
//! shows a migration applied by another run since this one, the undo leaves *every* database
//! of the run as it is: a fleet half undone would be worse than either state. Databases that
//! are not read ahead (PostgreSQL database tenants, SQLite files: a connection each) are checked
//! one by one as the undo reaches them; such a database is left alone and named in the run log.
//! That is for `recover`, which must undo an interrupted run as far as it can. A `rollback` of a
//! committed run on top of which another run has migrated (a later bundle's `bascule migrate`)
//! is refused before any step is undone ([`Step::check_rollback`]): the code of before under
//! databases the later code relies on is not the host as it was.
//!
//! Under the migration locks (every run takes them, see [`crate::run`]) the undo first reads the
//! version tables in bulk where the backend allows it, skips the databases with nothing to undo
//! and spares the others a query; without the locks it reads each database right before acting.
//!
//! Work is spread over `workers` threads *per database server* ([`parallel::map_grouped`]), each
//! carrying one [`Session`] from database to database, so a server sees at most `workers`
//! connections from a run, however many tenants it holds. Progress: a bar on a terminal
//! ([`progress`]), a line about every tenth of the work in the run log. Each database's work
//! ends with a line of its own, `<class>/<name>: migrated in <ms> ms` (`undone in` for an undo):
//! its time, which `bascule log --slowest` ranks.

mod progress;

use crate::engine::{Context, Step, StepError};
use crate::journal::{DbStart, Intent, RunKind};
use crate::survey::{self, ClassSurvey, DbSurvey};
use bascule_db::parallel::{self, OnError};
use bascule_db::{self as db, read_state, DbError, DbTarget, Session, Stamp, VersionState};
use bascule_patch::Migration;
use bascule_patch::Mode;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

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
        check_abandoned(cx, &classes)?;
        let run = row_run(cx.run_id);
        cx.intend(Intent::Migrate {
            databases,
            run: Some(run.clone()),
        })?;
        for class in &classes {
            migrate_class(cx, class, &run)?;
        }
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents {
            if let Intent::Migrate { databases, run } = intent {
                undo_databases(cx, &with_passwords(cx, databases), run.as_deref())?;
            }
        }
        Ok(())
    }

    /// A rollback of a run that another run has migrated on top of since (a later bundle's
    /// `migrate`, from any host) would put the code of before back under databases that the
    /// later run's code relies on: refused, so the operator rolls back the later run first.
    fn check_rollback(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        for intent in intents {
            let Intent::Migrate {
                databases,
                run: Some(run),
            } = intent
            else {
                continue;
            };
            let databases = with_passwords(cx, databases);
            let work = with_states(cx, &databases, undo_workers(cx, &databases));
            if let Some((target, other)) = migrated_since(&work, run) {
                return Err(StepError::Failed(refusal(target, other)));
            }
            // Under the locks nothing changes them before the undo: it need not read them again.
            let (targets, states) = work
                .into_iter()
                .map(|(start, state)| (start.target.clone(), state))
                .unzip();
            cx.keep_states(targets, states);
        }
        Ok(())
    }
}

/// Why a rollback is refused: `other` has migrated `target` since. A `bascule migrate` run
/// records no platform version, so no `rollback` ever undoes it: the way on is forward.
fn refusal(target: &DbTarget, other: &str) -> String {
    let since = format!(
        "run {other} has migrated {target} since the run this rollback undoes, and may rely on it"
    );
    if is_migrate_run(other) {
        format!(
            "{since}; no command undoes a `bascule migrate`, so this run can no longer be rolled \
             back: fix forward with a new patch"
        )
    } else {
        format!("{since}: roll that run back first (with its bundle, on its host), then this one")
    }
}

/// Whether a version row's run name ([`row_run`]) is a `bascule migrate`'s: its run id comes
/// before the `@`.
fn is_migrate_run(row_run: &str) -> bool {
    let id = row_run.split('@').next().unwrap_or(row_run);
    RunKind::of_run_id(id) == Some(RunKind::Migrate)
}

/// What this run's version rows name it: its id is only unique on its host (a timestamp), and
/// runs on two hosts may start in the same second, so the host's name, the process id and a
/// random number follow (containers often share a host name pattern and run as process 1).
fn row_run(run_id: &str) -> String {
    use std::hash::BuildHasher;
    let uname = rustix::system::uname();
    let host = uname.nodename().to_string_lossy();
    let random = std::collections::hash_map::RandomState::new().hash_one(run_id) as u32;
    format!("{run_id}@{host}:{}:{random:08x}", std::process::id())
}

/// Announces the abandoned `applying` rows this run will finish undoing; refuses to touch them
/// without the migration locks, which alone prove the run that wrote them is gone.
fn check_abandoned(cx: &Context<'_>, classes: &[ClassSurvey]) -> Result<(), StepError> {
    let abandoned = survey::with_abandoned(classes);
    if abandoned.is_empty() {
        return Ok(());
    }
    let mut listed = abandoned
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if abandoned.len() > 5 {
        listed.push_str(&format!(", and {} more", abandoned.len() - 5));
    }
    if !cx.holds_db_locks() {
        return Err(StepError::Failed(format!(
            "half-applied migrations on {listed}: only a run holding the migration locks may finish their undo"
        )));
    }
    cx.say(format_args!(
        "{} database(s) hold migrations left half-applied by an interrupted run: {listed}; \
         their undo is finished (down.sql) before they are migrated again",
        abandoned.len()
    ));
    Ok(())
}

/// One database's work: where it is and what it still needs.
struct Work<'s> {
    db: &'s DbSurvey,
    /// Migrations left `applying` by a gone run, newest first: their undo comes first.
    abandoned: Vec<&'s Migration>,
    pending: Vec<&'s Migration>,
}

fn migrate_class(cx: &Context<'_>, class: &ClassSurvey, run: &str) -> Result<(), StepError> {
    let work: Vec<Work<'_>> = class
        .databases
        .iter()
        .map(|db| Work {
            db,
            abandoned: class.abandoned(db).unwrap_or_default(),
            pending: class.migrations.pending(db.state.version()).collect(),
        })
        .filter(|w| {
            !w.pending.is_empty() || !w.abandoned.is_empty() || adopts_history(cx, class, w.db)
        })
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
    let stamp = Stamp {
        patch: &version,
        run,
    };
    let downtime = in_downtime(cx);
    let baseline_name = cx
        .host
        .databases
        .get(&class.class)
        .and_then(|c| c.adopt.as_ref())
        .map(|adopt| match adopt {
            db::AdoptSpec::Counter(counter) => counter.baseline_name(),
            db::AdoptSpec::Tool(tool) => tool.baseline_name(class.dialect),
        });
    let progress = Progress::new(cx, &class.class, "migrated", work.len());
    let timeouts = session_timeouts(cx);
    let result = parallel::map_grouped(
        &work,
        |w| w.db.target.location.server().to_string(),
        workers,
        OnError::Stop,
        || Session::migrating(timeouts.clone()),
        |session, w| {
            let clock = Instant::now();
            session.with(&w.db.target, |conn| {
                if let (false, Some(baseline), Some(origin)) =
                    (w.db.state.table_exists, w.db.state.adopted, &baseline_name)
                {
                    cx.log.line(format_args!(
                        "{}: version table created at baseline {baseline} ({origin})",
                        w.db.target,
                    ));
                    conn.record_baseline(baseline, origin)?;
                }
                if !w.abandoned.is_empty() {
                    cx.log.line(format_args!(
                        "{}: finishing the undo of {} migration(s) left half-applied",
                        w.db.target,
                        w.abandoned.len()
                    ));
                    conn.apply_downs(&w.abandoned, cx.log)?;
                }
                if downtime {
                    conn.apply_ups_in_downtime(&w.pending, stamp, cx.log)
                } else {
                    conn.apply_ups(&w.pending, stamp, cx.log)
                }
            })?;
            log_time(cx, &w.db.target, "migrated", clock);
            progress.tick();
            Ok::<_, DbError>(())
        },
    );
    progress.finish();
    result
        .map(|_| ())
        .map_err(|errors| summarize("migration", errors))
}

/// Whether `db` starts from another tool's history ([`db::adopt`]) and gets its baseline row
/// even with nothing to migrate: the next patch's bundle carries no `adopt/<class>.toml`, so
/// this is the run that records where the tool left it (and its undo drops the table again).
fn adopts_history(cx: &Context<'_>, class: &ClassSurvey, db: &DbSurvey) -> bool {
    let tool = cx
        .host
        .databases
        .get(&class.class)
        .and_then(|c| c.adopt.as_ref())
        .is_some_and(|a| a.tool().is_some());
    tool && !db.state.table_exists && db.state.adopted.is_some()
}

/// Whether nothing serves the platform while this run migrates: an `apply` (it stops the
/// services and shows the maintenance page first) of a patch declared `mode = "downtime"` (the
/// platform is down everywhere). Then a database's migrations may hold their locks until the
/// last one is done ([`db::Connection::apply_ups_in_downtime`]); `bascule migrate` runs beside
/// the serving application, and an online patch expects traffic.
fn in_downtime(cx: &Context<'_>) -> bool {
    cx.kind() == RunKind::Apply && cx.patch.spec.patch.mode == Mode::Downtime
}

/// The lock and statement timeouts of every session that migrates (an undo's, raised by
/// [`db::MigrationTimeouts::for_undo`]): the patch's `[timeouts]`, overridden by the host
/// profile's `[databases.<class>]` ([`db::timeouts`]).
fn session_timeouts(cx: &Context<'_>) -> db::MigrationTimeouts {
    let host = cx
        .host
        .databases
        .iter()
        .map(|(class, spec)| (class.clone(), spec.timeouts()))
        .collect();
    db::MigrationTimeouts::resolve(&cx.patch.spec.timeouts, &host)
}

/// How many distinct servers hold these databases.
fn servers<'t>(targets: impl Iterator<Item = &'t DbTarget>) -> usize {
    let mut servers: Vec<&str> = targets.map(|t| t.location.server()).collect();
    servers.sort_unstable();
    servers.dedup();
    servers.len()
}

/// Undoes what run `run` (`None`: a journal that did not record it) did to `databases`.
fn undo_databases(
    cx: &Context<'_>,
    databases: &[DbStart],
    run: Option<&str>,
) -> Result<(), StepError> {
    let workers = undo_workers(cx, databases);
    cx.say(format_args!(
        "undo migrations on {} database(s), {workers} worker(s) per server",
        databases.len()
    ));
    let work = with_states(cx, databases, workers);
    if let Some((target, other)) = run.and_then(|run| migrated_since(&work, run)) {
        cx.note(format_args!(
            "run {other} has migrated {target} since this run: it now depends on what this run \
             migrated, so none of the {} database(s) is undone",
            databases.len()
        ));
        return Ok(());
    }
    let progress = Progress::new(cx, "undo", "checked", databases.len());
    let left = AtomicUsize::new(0);
    let timeouts = session_timeouts(cx).for_undo();
    let result = parallel::map_grouped(
        &work,
        |(d, _)| d.target.location.server().to_string(),
        workers,
        OnError::Continue,
        || Session::migrating(timeouts.clone()),
        |session, (start, known)| {
            let result = undo_one(cx, session, start, known.as_ref(), run);
            if let Ok(Undo::MigratedSince(other)) = &result {
                left.fetch_add(1, Ordering::Relaxed);
                cx.log.line(format_args!(
                    "{}: left as it is: run {other} has migrated it since",
                    start.target
                ));
            }
            progress.tick();
            result
        },
    );
    progress.finish();
    let left = left.into_inner();
    if left > 0 {
        cx.note(format_args!(
            "{left} database(s) left as they are: another run has migrated them since (see update.log)"
        ));
    }
    result
        .map(|_| ())
        .map_err(|errors| summarize("undo", errors))
}

/// `databases` as the journal names them (servers without their passwords), with the
/// passwords the host profile gives those servers now.
fn with_passwords(cx: &Context<'_>, databases: &[DbStart]) -> Vec<DbStart> {
    let credentials = cx.host.credentials();
    databases
        .iter()
        .map(|start| DbStart {
            target: credentials.attach(&start.target),
            ..start.clone()
        })
        .collect()
}

/// The workers per server of an undo: those of the databases' class.
fn undo_workers(cx: &Context<'_>, databases: &[DbStart]) -> usize {
    databases
        .first()
        .map_or(1, |d| cx.host.workers(&d.target.class))
}

/// Each database with its version state, where it could be read ahead ([`read_ahead`]), or
/// as a rollback's check just read it ([`Context::keep_states`]).
fn with_states<'d>(
    cx: &Context<'_>,
    databases: &'d [DbStart],
    workers: usize,
) -> Vec<(&'d DbStart, Option<VersionState>)> {
    let targets: Vec<DbTarget> = databases.iter().map(|d| d.target.clone()).collect();
    let states = match cx.take_states(&targets) {
        Some(states) => states,
        None => read_ahead(cx, &targets, workers),
    };
    databases.iter().zip(states).collect()
}

/// The first database read ahead that another run than `run` has migrated since `run` did.
fn migrated_since<'w>(
    work: &'w [(&DbStart, Option<VersionState>)],
    run: &str,
) -> Option<(&'w DbTarget, &'w str)> {
    work.iter().find_map(|(start, state)| {
        let other = state
            .as_ref()?
            .migrated_by_another_run(run, start.version)?;
        Some((&start.target, other))
    })
}

/// What the undo of one database is to do.
enum Plan<'p> {
    Undo(UndoPlan<'p>),
    /// Nothing: this other run has applied a migration on it since.
    MigratedSince(String),
}

/// What the undo did to one database.
enum Undo {
    /// Back at its starting version (or it already was).
    Done,
    /// Left alone: this other run has applied a migration on it since.
    MigratedSince(String),
}

/// The version state of `targets`, read in bulk where the backend allows it (see
/// [`db::read_in_bulk`]) and the run holds the migration locks, so nothing but this undo changes
/// it until the undo reaches each database; `None` where each database must be read on its own.
fn read_ahead(cx: &Context<'_>, targets: &[DbTarget], workers: usize) -> Vec<Option<VersionState>> {
    if !cx.holds_db_locks() {
        return vec![None; targets.len()];
    }
    match db::read_in_bulk(targets, workers, None) {
        Ok(states) => states,
        Err(errors) => {
            for e in errors {
                cx.log.line(format_args!(
                    "undo: bulk read failed, reading each database: {e}"
                ));
            }
            vec![None; targets.len()]
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
/// version (`applying` rows included), and the version table if the run created it; or nothing,
/// when another run has migrated it since `run` did.
fn undo_plan<'p>(
    cx: &Context<'p>,
    start: &DbStart,
    state: &VersionState,
    run: Option<&str>,
) -> Result<Plan<'p>, DbError> {
    if let Some(other) = run.and_then(|run| state.migrated_by_another_run(run, start.version)) {
        return Ok(Plan::MigratedSince(other.to_string()));
    }
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
    Ok(Plan::Undo(UndoPlan {
        downs,
        drop_version_table: !start.had_version_table && state.table_exists,
    }))
}

/// Brings one database back to its starting version (`applying` rows included) through
/// `session`. `known` is its state if it was read ahead; then a database that needs nothing is
/// not even visited, else its state is read right before the undo.
fn undo_one(
    cx: &Context<'_>,
    session: &mut Session,
    start: &DbStart,
    known: Option<&VersionState>,
    run: Option<&str>,
) -> Result<Undo, DbError> {
    match known {
        Some(state) => match undo_plan(cx, start, state, run)? {
            Plan::Undo(plan) if plan.is_nothing() => Ok(Undo::Done),
            Plan::Undo(plan) => session
                .with(&start.target, |conn| {
                    carry_out(cx, conn, &start.target, &plan)
                })
                .map(|()| Undo::Done),
            Plan::MigratedSince(other) => Ok(Undo::MigratedSince(other)),
        },
        None => session.with(&start.target, |conn| {
            let state = read_state(conn, None)?;
            match undo_plan(cx, start, &state, run)? {
                Plan::Undo(plan) => carry_out(cx, conn, &start.target, &plan).map(|()| Undo::Done),
                Plan::MigratedSince(other) => Ok(Undo::MigratedSince(other)),
            }
        }),
    }
}

fn carry_out(
    cx: &Context<'_>,
    conn: &mut dyn db::Connection,
    target: &DbTarget,
    plan: &UndoPlan<'_>,
) -> Result<(), DbError> {
    let clock = Instant::now();
    // The down runs as written, however little it does: it is how the rest goes back.
    for m in &plan.downs {
        if let Some(reason) = m.irreversible() {
            cx.log.line(format_args!(
                "{target}: {} is irreversible ({reason}): its down runs as written and does not \
                 restore what its up removed",
                m.label()
            ));
        }
    }
    conn.undo(&plan.downs, plan.drop_version_table, cx.log)?;
    log_time(cx, target, "undone", clock);
    Ok(())
}

/// `<class>/<name>: migrated in <ms> ms`: the line ending a database's work in the run log. It
/// is the database's time for `bascule log --slowest`, and the end of its last statement, whose
/// line was written when it started.
fn log_time(cx: &Context<'_>, target: &DbTarget, done: &str, clock: Instant) {
    cx.log.line(format_args!(
        "{target}: {done} in {} ms",
        clock.elapsed().as_millis()
    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_migrate_run_is_told_from_its_row_run_name() {
        assert!(is_migrate_run(
            "20261122T003324-2.1.0-migrate@web1:42:0a1b2c3d"
        ));
        assert!(is_migrate_run(
            "20261122T003324-2.1.0-migrate.2@web1:42:0a1b2c3d"
        ));
        assert!(!is_migrate_run(
            "20261122T003324-2.0.0-apply@web1:42:0a1b2c3d"
        ));
        assert!(!is_migrate_run(
            "20261122T003324-2.0.0-apply.3@web1:42:0a1b2c3d"
        ));
    }
}
