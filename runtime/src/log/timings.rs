//! How long a run's steps, databases and migration statements took, from its files alone.
//!
//! - A step's time is in the journal: `step-done` and `step-failed` carry `ms`, `undo-done`
//!   too (named `undo <step>`).
//! - A database's time is the line the migrate step ends its work with,
//!   `<class>/<name>: migrated in <ms> ms` (`undone in` for an undo, named `<db> (undo)`).
//! - A statement's line names its database and migration: `<db>: <number>_<name> up: <sql>` (the
//!   migration's directory name, its number of any width), or
//!   `<db>: <number>_<name> up: statement 2/3: <sql>`. SQLite and PostgreSQL write it as the
//!   statement starts (a statement that hangs is the last line of its database, in `--follow`
//!   as after a kill), so its time runs to the database's next line: the next statement, a
//!   version row, or the line ending the database's work. MariaDB/MySQL write it as the
//!   statement's result arrives, with its time: `… (<ms> ms)`. A statement whose database has
//!   no later line (the run is still at it, or was killed) has no time yet.
//!
//! A statement is counted once per database that ran it: its time is summed over them, with
//! the slowest of them named, since thousands of tenants run the same statements.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::{LogError, RunDir};
use crate::journal::{Event, Journal};

/// Something that took time: a step, a database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timed {
    pub name: String,
    pub ms: u64,
}

/// A migration statement, over every database that ran it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatementTime {
    /// `<number>_<name> up: <statement on one line>`.
    pub statement: String,
    /// Its time summed over the databases that ran it.
    pub ms: u64,
    /// How many databases ran it.
    pub databases: usize,
    /// The database where it took longest, and how long.
    pub slowest: Timed,
}

/// A run's times.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Timings {
    /// In the order the steps ran.
    pub steps: Vec<Timed>,
    /// In the order the databases finished.
    pub databases: Vec<Timed>,
    /// In the order they first ran.
    pub statements: Vec<StatementTime>,
}

impl Timings {
    /// The times of `run`, from its journal and its log (either may be missing: a run that
    /// died early, a copy of only one of them).
    pub fn read(run: &RunDir) -> Result<Timings, LogError> {
        let journal = run.journal_path();
        let events = if journal.is_file() {
            Journal::read(&journal)?
        } else {
            Vec::new()
        };
        let path = run.log_path();
        let log = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(source) => return Err(LogError::Io { path, source }),
        };
        Ok(Timings::from_parts(&events, &log))
    }

    /// The times that `events` (a journal) and `log` (an update.log) record.
    pub fn from_parts(events: &[Event], log: &str) -> Timings {
        let mut timings = Timings {
            steps: step_times(events),
            ..Timings::default()
        };
        let mut statements = Statements::default();
        // The statement each database is running, with the time its line was written.
        let mut running: HashMap<&str, (String, DateTime<FixedOffset>)> = HashMap::new();
        for (at, message) in log.lines().filter_map(stamped) {
            let Some((db, rest)) = database_line(message) else {
                continue;
            };
            if let Some((statement, started)) = running.remove(db) {
                let ms = u64::try_from((at - started).num_milliseconds()).unwrap_or(0);
                statements.add(statement, db, ms);
            }
            if let Some((what, ms)) = database_time(rest) {
                let name = match what {
                    "migrated" => db.to_string(),
                    _ => format!("{db} (undo)"),
                };
                add(&mut timings.databases, name, ms);
            } else if let Some((statement, took)) = statement(rest) {
                match took {
                    Some(ms) => statements.add(statement, db, ms),
                    None => {
                        running.insert(db, (statement, at));
                    }
                }
            }
        }
        timings.statements = statements.0;
        timings
    }
}

/// Adds `ms` to the entry `name` of `list`, or appends it: a step undone twice, a database
/// undone by two runs, count once each.
fn add(list: &mut Vec<Timed>, name: String, ms: u64) {
    match list.iter_mut().find(|t| t.name == name) {
        Some(timed) => timed.ms += ms,
        None => list.push(Timed { name, ms }),
    }
}

fn step_times(events: &[Event]) -> Vec<Timed> {
    let mut steps = Vec::new();
    for event in events {
        match event {
            Event::StepDone { step, ms, .. } | Event::StepFailed { step, ms, .. } => {
                add(&mut steps, step.clone(), *ms)
            }
            Event::UndoDone { step, ms, .. } => add(&mut steps, format!("undo {step}"), *ms),
            _ => {}
        }
    }
    steps
}

#[derive(Default)]
struct Statements(Vec<StatementTime>);

impl Statements {
    fn add(&mut self, statement: String, db: &str, ms: u64) {
        let slowest = Timed {
            name: db.to_string(),
            ms,
        };
        match self.0.iter_mut().find(|s| s.statement == statement) {
            Some(s) => {
                s.ms += ms;
                s.databases += 1;
                if ms > s.slowest.ms {
                    s.slowest = slowest;
                }
            }
            None => self.0.push(StatementTime {
                statement,
                ms,
                databases: 1,
                slowest,
            }),
        }
    }
}

/// `-- <time> : <message>`: the time and the message (`None` for an output line, `   | …`).
fn stamped(line: &str) -> Option<(DateTime<FixedOffset>, &str)> {
    let (at, message) = line.strip_prefix("-- ")?.split_once(" : ")?;
    Some((DateTime::parse_from_rfc3339(at).ok()?, message))
}

/// `<class>/<name>: <rest>`: a line about one database.
fn database_line(message: &str) -> Option<(&str, &str)> {
    let (db, rest) = message.split_once(": ")?;
    (db.contains('/') && !db.contains(char::is_whitespace)).then_some((db, rest))
}

/// `migrated in <ms> ms` / `undone in <ms> ms`.
fn database_time(rest: &str) -> Option<(&str, u64)> {
    let (what, time) = rest.split_once(" in ")?;
    if what != "migrated" && what != "undone" {
        return None;
    }
    Some((what, time.strip_suffix(" ms")?.parse().ok()?))
}

/// `<number>_<name> up|down: [statement k/n: ]<sql>[ (<ms> ms)]`: the statement as
/// `<number>_<name> up: <sql>`, and the time its line carries, if any. Version-row lines are the
/// bookkeeping between statements, not statements.
fn statement(rest: &str) -> Option<(String, Option<u64>)> {
    let (label, text) = rest.split_once(": ")?;
    let (migration, direction) = label.rsplit_once(' ')?;
    let numbered = bascule_patch::parse_dir_name(migration).is_ok();
    if !numbered || !matches!(direction, "up" | "down") || text.starts_with("version row") {
        return None;
    }
    let (sql, took) = match counted(text) {
        // Only a counted line may carry its time: a statement's own text is never cut.
        Some(sql) => match timed(sql) {
            Some((sql, ms)) => (sql, Some(ms)),
            None => (sql, None),
        },
        None => (text, None),
    };
    Some((format!("{label}: {sql}"), took))
}

/// `statement k/n: <sql>`: the SQL.
fn counted(text: &str) -> Option<&str> {
    let (count, sql) = text.strip_prefix("statement ")?.split_once(": ")?;
    let (k, n) = count.split_once('/')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(k) && digits(n)).then_some(sql)
}

/// `<sql> (<ms> ms)`: the SQL and the time.
fn timed(text: &str) -> Option<(&str, u64)> {
    let (sql, time) = text.strip_suffix(" ms)")?.rsplit_once(" (")?;
    Some((sql, time.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[(&str, &str)]) -> String {
        lines
            .iter()
            .map(|(at, message)| format!("-- 2026-03-10T{at}+01:00 : {message}\n"))
            .collect()
    }

    #[test]
    fn a_statement_runs_until_its_database_s_next_line() {
        let log = log(&[
            ("10:00:00.000", "step migrate start"),
            (
                "10:00:00.010",
                "site/a: 0002_avatar up: ALTER TABLE members ADD avatar",
            ),
            (
                "10:00:00.015",
                "site/b: 0002_avatar up: ALTER TABLE members ADD avatar",
            ),
            (
                "10:00:00.110",
                "site/a: 0002_avatar up: UPDATE members SET avatar = ''",
            ),
            ("10:00:00.140", "site/a: migrated in 135 ms"),
            (
                "10:00:00.300",
                "site/b: 0002_avatar up: version row `applied`",
            ),
            ("10:00:00.320", "site/b: migrated in 310 ms"),
            // Its database has no later line: the run is still at it.
            (
                "10:00:00.400",
                "site/c: 0002_avatar up: ALTER TABLE members ADD avatar",
            ),
        ]);
        let timings = Timings::from_parts(&[], &log);
        let statement = |text: &str, ms, databases, slowest: &str, slowest_ms| StatementTime {
            statement: text.into(),
            ms,
            databases,
            slowest: Timed {
                name: slowest.into(),
                ms: slowest_ms,
            },
        };
        assert_eq!(
            timings.statements,
            [
                statement(
                    "0002_avatar up: ALTER TABLE members ADD avatar",
                    100 + 285,
                    2,
                    "site/b",
                    285
                ),
                statement(
                    "0002_avatar up: UPDATE members SET avatar = ''",
                    30,
                    1,
                    "site/a",
                    30
                ),
            ]
        );
        let names: Vec<(&str, u64)> = timings
            .databases
            .iter()
            .map(|t| (t.name.as_str(), t.ms))
            .collect();
        assert_eq!(names, [("site/a", 135), ("site/b", 310)]);
    }

    #[test]
    fn a_mariadb_line_carries_its_statement_s_time() {
        let log = log(&[
            (
                "10:00:00.000",
                "site/a: 0002_avatar up: version row `applying`",
            ),
            (
                "10:00:00.900",
                "site/a: 0002_avatar up: statement 1/2: ALTER TABLE members ADD avatar (880 ms)",
            ),
            (
                "10:00:00.950",
                "site/a: 0002_avatar up: statement 2/2: UPDATE t SET note = 'a (1 ms)' (40 ms)",
            ),
            ("10:00:00.960", "site/a: 0002_avatar down: DELETE FROM t"),
            ("10:00:01.060", "site/a: undone in 100 ms"),
        ]);
        let timings = Timings::from_parts(&[], &log);
        let found: Vec<(&str, u64)> = timings
            .statements
            .iter()
            .map(|s| (s.statement.as_str(), s.ms))
            .collect();
        assert_eq!(
            found,
            [
                ("0002_avatar up: ALTER TABLE members ADD avatar", 880),
                ("0002_avatar up: UPDATE t SET note = 'a (1 ms)'", 40),
                ("0002_avatar down: DELETE FROM t", 100),
            ]
        );
        assert_eq!(
            timings.databases,
            [Timed {
                name: "site/a (undo)".into(),
                ms: 100
            }]
        );
    }

    #[test]
    fn steps_and_undos_take_their_time_from_the_journal() {
        let at = || "2026-03-10T10:00:00.000+01:00".to_string();
        let events = [
            Event::StepDone {
                step: "guard".into(),
                at: at(),
                ms: 3,
            },
            Event::StepFailed {
                step: "migrate".into(),
                at: at(),
                ms: 400,
                error: "boom".into(),
            },
            Event::UndoDone {
                step: "migrate".into(),
                at: at(),
                ms: 90,
            },
        ];
        let steps: Vec<(String, u64)> = Timings::from_parts(&events, "")
            .steps
            .into_iter()
            .map(|t| (t.name, t.ms))
            .collect();
        assert_eq!(
            steps,
            [
                ("guard".into(), 3),
                ("migrate".into(), 400),
                ("undo migrate".into(), 90)
            ]
        );
    }

    #[test]
    fn lines_about_other_things_are_not_statements() {
        let log = log(&[
            ("10:00:00.000", "cannot write /srv/x/report.txt: disk full"),
            ("10:00:00.000", "release lock /var/lib/bascule/lock"),
            (
                "10:00:00.000",
                "site/a: version table created at baseline 3 (legacy)",
            ),
            ("10:00:00.000", "site/a: script: SELECT 1"),
            (
                "10:00:00.000",
                "main/main: 0001_x up: version row `applied`",
            ),
        ]);
        assert_eq!(Timings::from_parts(&[], &log), Timings::default());
    }
}
