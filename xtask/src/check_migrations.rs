//! `cargo xtask check-migrations <patch-dir> --db sqlite|mariadb|postgres [--url URL]`: the
//! dynamic round-trip check of every migration of a patch (what Liquibase calls
//! update-testing-rollback).
//!
//! The static lint reads the SQL; this command runs it. For every class of the patch, on a
//! scratch database holding the *previous* schema, each migration in order is:
//!
//! 1. dumped (S0), applied up, dumped (S1), applied down, dumped (S2): S2 must equal S0, or the
//!    down forgot something (the lines that differ are printed, e.g. an index still there);
//! 2. applied up again, dumped: it must equal S1 (the down left something that changes what the
//!    up does, or the up is not repeatable after its own down).
//!
//! A migration marked `-- bascule:irreversible <reason>` is applied up only and listed with its
//! reason: its down is not meant to restore the schema, so it is not a defect.
//!
//! # Going on after a defect
//!
//! One run reports every defect. After a failed round trip the scratch database is in no known
//! state, so it is rebuilt: a new database, the previous schema, then the ups of this patch that
//! held, up to and including the failed migration's (its up worked; its down is what is wrong).
//! The next migration finds the schema it expects. A migration whose *up* fails is left out of the
//! rebuild, and the report says that the migrations after it run without it. Gaps in the
//! numbering are fine: migrations are applied in number order, whatever numbers are missing.
//!
//! # The previous schema
//!
//! A patch lives in `patches/<version>/` beside the platform's earlier patches. The scratch
//! database gets, in order, the migrations of the earlier patches (lower version, same class and
//! dialect) numbered up to this patch's first migration minus one: exactly the schema a database
//! has when this patch finds it. A migration number found in several earlier patches (a fixed
//! re-release) is taken from the newest. With no earlier patch, the scratch database starts
//! empty.
//!
//! # Scratch databases
//!
//! SQLite: a file in a temporary directory. MariaDB and PostgreSQL: without `--url`, a private
//! throwaway server ([`testdb`]) started for the run; with `--url`, a database
//! `bascule_check_<pid>_<class>` (and `…_<n>` for each rebuild) created on that server and
//! dropped at the end.
//!
//! `--db mysql` is for patches written for MySQL 8: with `--url` it runs on that server (its
//! version is printed); without, the throwaway server is MariaDB, the only one the testdb crate
//! starts — Debian ships no MySQL server package — and a line says so, naming the MySQL server
//! when one is installed (`mysqld --version`), so a run on real MySQL is one `--url` away.
//!
//! Schema dumps come from [`bascule_db::Connection::schema_dump`], the same the runtime tests
//! use to prove rollbacks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bascule_db::sqlite::SqliteConnection;
use bascule_db::{self as db, Connection, DbTarget, Location, Stamp};
use bascule_patch::Migration;
use bascule_patch::{Dialect, Patch};
use bascule_runlog::RunLog;

/// The run the scratch databases' version rows name.
const RUN: &str = "check-migrations";

#[derive(clap::Args)]
pub struct Args {
    /// The patch source: the directory holding patch.toml (earlier patches are its siblings).
    pub patch_dir: PathBuf,
    /// The database to run the migrations on; it must fit the patch's dialect. `mysql` runs on
    /// the server given by --url; without one, on a throwaway MariaDB (Debian packages no MySQL
    /// server), saying so.
    #[arg(long, value_enum)]
    pub db: DbKind,
    /// An existing server to create the scratch databases on, e.g. mysql://root@127.0.0.1:3306
    /// [default: a private throwaway server].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DbKind {
    Sqlite,
    Mariadb,
    /// MySQL 8: the server of --url, else a throwaway MariaDB.
    Mysql,
    Postgres,
}

impl DbKind {
    fn dialect(self) -> Dialect {
        match self {
            DbKind::Sqlite => Dialect::Sqlite,
            DbKind::Mariadb | DbKind::Mysql => Dialect::Mysql,
            DbKind::Postgres => Dialect::Postgres,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Mariadb => "mariadb",
            DbKind::Mysql => "mysql",
            DbKind::Postgres => "postgres",
        }
    }
}

/// The outcome of a check: what to print and how many migrations passed, failed, were applied
/// up only (irreversible) or could not be checked.
#[derive(Debug, Default)]
pub struct Report {
    pub text: String,
    pub ok: usize,
    pub failed: usize,
    pub irreversible: usize,
    pub unchecked: usize,
}

impl Report {
    /// `3 ok, 2 FAILED[, 1 irreversible][, 4 not checked]`.
    fn summary(&self) -> String {
        let mut line = format!("{} ok, {} FAILED", self.ok, self.failed);
        if self.irreversible > 0 {
            line.push_str(&format!(", {} irreversible", self.irreversible));
        }
        if self.unchecked > 0 {
            line.push_str(&format!(", {} not checked", self.unchecked));
        }
        line
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = check(&args.patch_dir, args.db, args.url.as_deref())?;
    print!("{}", report.text);
    if report.failed > 0 {
        bail!(
            "{} migration(s) failed the round trip (up, down, up again)",
            report.failed
        );
    }
    Ok(())
}

/// Runs the round trip of every migration of the patch at `patch_dir` on `kind`.
pub fn check(patch_dir: &Path, kind: DbKind, url: Option<&str>) -> anyhow::Result<Report> {
    let patch = Patch::load(patch_dir)?;
    let classes = classes_to_check(&patch, kind)?;
    let earlier = earlier_patches(&patch)?;
    let mut scratch = Scratch::new(kind, url)?;
    let mut report = Report::default();
    writeln!(
        report.text,
        "check-migrations {} on {}",
        patch.version(),
        kind.name()
    )?;
    if let Some(note) = &scratch.note {
        writeln!(report.text, "{note}")?;
    }
    let result = classes.iter().try_for_each(|class| {
        let previous = previous_migrations(&patch, &earlier, class)?;
        check_class(&mut report, class, &patch, &previous, &mut scratch)
    });
    scratch.cleanup();
    result?;
    writeln!(report.text, "{}", report.summary())?;
    Ok(report)
}

/// The classes with migrations, all of whose dialect must fit `kind`.
fn classes_to_check(patch: &Patch, kind: DbKind) -> anyhow::Result<Vec<String>> {
    let mut classes = Vec::new();
    for (class, migrations) in &patch.migrations.classes {
        if migrations.migrations.is_empty() {
            continue;
        }
        let dialect = migrations.dialect.unwrap_or(Dialect::Sqlite);
        if dialect != kind.dialect() {
            bail!(
                "{}: class `{class}` is written for {dialect}; check it with --db {}",
                patch.dir.display(),
                fitting(dialect).name()
            );
        }
        classes.push(class.clone());
    }
    if classes.is_empty() {
        bail!(
            "{}: the patch has no migrations to check",
            patch.dir.display()
        );
    }
    Ok(classes)
}

fn fitting(dialect: Dialect) -> DbKind {
    match dialect {
        Dialect::Sqlite => DbKind::Sqlite,
        Dialect::Mysql => DbKind::Mariadb,
        Dialect::Postgres => DbKind::Postgres,
    }
}

/// The patches beside `patch` (siblings holding a patch.toml) with a lower version, oldest first.
fn earlier_patches(patch: &Patch) -> anyhow::Result<Vec<Patch>> {
    let Some(parent) = patch.dir.parent() else {
        return Ok(Vec::new());
    };
    let own = patch
        .dir
        .canonicalize()
        .unwrap_or_else(|_| patch.dir.clone());
    let mut earlier = Vec::new();
    let entries = std::fs::read_dir(parent)
        .with_context(|| format!("{}: cannot list the earlier patches", parent.display()))?;
    for entry in entries {
        let dir = entry?.path();
        let is_own = dir.canonicalize().is_ok_and(|d| d == own);
        if is_own || !dir.join(bascule_patch::PATCH_FILE).is_file() {
            continue;
        }
        let sibling = Patch::load(&dir)
            .with_context(|| format!("loading the earlier patch {}", dir.display()))?;
        if sibling.version() < patch.version() {
            earlier.push(sibling);
        }
    }
    earlier.sort_by(|a, b| a.version().cmp(b.version()));
    Ok(earlier)
}

/// The migrations that build the schema `patch` finds for `class`: numbered below its first
/// migration, newest patch first for a number shipped twice, in number order.
fn previous_migrations<'p>(
    patch: &Patch,
    earlier: &'p [Patch],
    class: &str,
) -> anyhow::Result<Vec<(&'p Patch, &'p Migration)>> {
    let Some(own) = patch.migrations.class(class) else {
        return Ok(Vec::new());
    };
    let base = own.base_version();
    let mut by_id: BTreeMap<u32, (&Patch, &Migration)> = BTreeMap::new();
    for older in earlier {
        let Some(theirs) = older.migrations.class(class) else {
            continue;
        };
        if theirs.dialect != own.dialect {
            continue;
        }
        for m in theirs.migrations.iter().filter(|m| m.id <= base) {
            by_id.insert(m.id, (older, m));
        }
    }
    // Gaps are fine; no earlier migration at all is a missing patch.
    if base > 0 && by_id.is_empty() {
        bail!(
            "{}: class `{class}` starts at migration {}, but no earlier patch beside it has a migration of it: \
             the previous schema cannot be built (keep the earlier patches in sibling directories)",
            patch.dir.display(),
            own.migrations.first().map(Migration::label).unwrap_or_default()
        );
    }
    Ok(by_id.into_values().collect())
}

/// Builds the previous schema of `class` on a scratch database, then round-trips each of its
/// migrations, rebuilding the schema after each failure so the next ones are checked too.
fn check_class(
    report: &mut Report,
    class: &str,
    patch: &Patch,
    previous: &[(&Patch, &Migration)],
    scratch: &mut Scratch,
) -> anyhow::Result<()> {
    let log = RunLog::discard();
    let sources: BTreeSet<String> = previous
        .iter()
        .map(|(p, _)| p.version().to_string())
        .collect();
    writeln!(
        report.text,
        "class {class}: previous schema from {} migration(s){}",
        previous.len(),
        if sources.is_empty() {
            String::new()
        } else {
            format!(" of {}", sources.into_iter().collect::<Vec<_>>().join(", "))
        }
    )?;
    let migrations = patch
        .migrations
        .class(class)
        .map(|c| c.migrations.as_slice())
        .unwrap_or_default();
    let version = patch.version().to_string();
    let mut conn = scratch.rebuild(class, previous, &[], &version, &log)?;
    // The ups that held, in order: what a rebuilt schema replays.
    let mut held: Vec<&Migration> = Vec::new();
    for (i, m) in migrations.iter().enumerate() {
        let label = m.label();
        let outcome = match m.irreversible() {
            Some(reason) => match conn.apply_up(m, Stamp::new(&version, RUN), &log) {
                Ok(()) => Outcome::Irreversible(reason.to_string()),
                Err(e) => Outcome::UpFails(format!("{} fails: {e}", m.up_path().display())),
            },
            None => round_trip(conn.as_mut(), m, &version, &log)?,
        };
        let rest = &migrations[i + 1..];
        match outcome {
            Outcome::Ok => {
                report.ok += 1;
                writeln!(report.text, "  {label} ... ok")?;
                held.push(m);
                continue;
            }
            Outcome::Irreversible(reason) => {
                report.irreversible += 1;
                let reason = if reason.is_empty() {
                    "(no reason given)"
                } else {
                    &reason
                };
                writeln!(report.text, "  {label} ... irreversible: {reason}")?;
                held.push(m);
                continue;
            }
            Outcome::UpFails(problem) => {
                report.failed += 1;
                writeln!(report.text, "  {label} ... FAILED")?;
                write_indented(&mut report.text, &problem)?;
                if !rest.is_empty() {
                    writeln!(
                        report.text,
                        "      the migrations after it are checked on the schema without it"
                    )?;
                }
            }
            Outcome::Defect(problems) => {
                report.failed += 1;
                writeln!(report.text, "  {label} ... FAILED")?;
                for problem in problems {
                    write_indented(&mut report.text, &problem)?;
                }
                held.push(m);
            }
        }
        if rest.is_empty() {
            break;
        }
        match scratch.rebuild(class, previous, &held, &version, &log) {
            Ok(rebuilt) => conn = rebuilt,
            Err(e) => {
                writeln!(
                    report.text,
                    "  the schema cannot be rebuilt after {label}: {e:#}"
                )?;
                for m in rest {
                    report.unchecked += 1;
                    writeln!(report.text, "  {} ... not checked", m.label())?;
                }
                break;
            }
        }
    }
    Ok(())
}

/// A problem under its migration's line, each of its lines indented (a database error may hold
/// several: the statement after the message).
fn write_indented(text: &mut String, problem: &str) -> std::fmt::Result {
    for line in problem.lines() {
        writeln!(text, "      {line}")?;
    }
    Ok(())
}

/// What checking one migration found.
enum Outcome {
    /// Up, down, up again: the schemas agree.
    Ok,
    /// Marked irreversible, with its reason: applied up only.
    Irreversible(String),
    /// Its up fails: the schema goes on without it.
    UpFails(String),
    /// Its up works, its down or its second up does not: the problems, one per line.
    Defect(Vec<String>),
}

/// Up, down, up again on `conn`.
fn round_trip(
    conn: &mut dyn Connection,
    m: &Migration,
    version: &str,
    log: &RunLog,
) -> anyhow::Result<Outcome> {
    let up = "up.sql";
    let down = m.down_path().display().to_string();
    let before = conn.schema_dump()?;
    if let Err(e) = conn.apply_up(m, Stamp::new(version, RUN), log) {
        return Ok(Outcome::UpFails(format!(
            "{} fails: {e}",
            m.up_path().display()
        )));
    }
    let after_up = conn.schema_dump()?;
    if let Err(e) = conn.apply_down(m, log) {
        return Ok(Outcome::Defect(vec![format!(
            "{down} fails right after {up}: {e}"
        )]));
    }
    let after_down = conn.schema_dump()?;
    if after_down != before {
        let mut problems = vec![format!(
            "{down} does not undo up.sql: the schema after down differs from before up"
        )];
        problems.extend(diff(&before, &after_down, "after down.sql"));
        return Ok(Outcome::Defect(problems));
    }
    if let Err(e) = conn.apply_up(m, Stamp::new(version, RUN), log) {
        return Ok(Outcome::Defect(vec![format!(
            "{up} fails when applied again after {down}: {e}"
        )]));
    }
    let again = conn.schema_dump()?;
    if again != after_up {
        let mut problems = vec![format!(
            "{up} applied again after {down} gives another schema than the first time"
        )];
        problems.extend(diff(&after_up, &again, "after up.sql again"));
        return Ok(Outcome::Defect(problems));
    }
    Ok(Outcome::Ok)
}

/// Readable differences between two dumps: what is still there, what is missing.
pub fn diff(expected: &[String], actual: &[String], when: &str) -> Vec<String> {
    let expected_set: BTreeSet<&String> = expected.iter().collect();
    let actual_set: BTreeSet<&String> = actual.iter().collect();
    let extra = actual_set
        .difference(&expected_set)
        .map(|line| format!("  {line} is still there {when}"));
    let missing = expected_set
        .difference(&actual_set)
        .map(|line| format!("  {line} is missing {when}"));
    extra.chain(missing).collect()
}

/// Where the scratch databases live, and what to clean up afterwards.
struct Scratch {
    kind: DbKind,
    /// The server's URL (MariaDB, PostgreSQL).
    url: String,
    /// Databases created on a server we do not own, dropped by `cleanup`.
    created: Vec<String>,
    /// How many databases each class has had (a rebuild makes a new one).
    made: BTreeMap<String, usize>,
    /// A line to print before the classes: which server stands in for which.
    note: Option<String>,
    dir: tempfile::TempDir,
    _mariadb: Option<testdb::MariaDb>,
    _postgres: Option<testdb::PostgresServer>,
}

impl Scratch {
    fn new(kind: DbKind, url: Option<&str>) -> anyhow::Result<Scratch> {
        let mut scratch = Scratch {
            kind,
            url: url.unwrap_or_default().to_string(),
            created: Vec::new(),
            made: BTreeMap::new(),
            note: None,
            dir: tempfile::tempdir().context("cannot create a scratch directory")?,
            _mariadb: None,
            _postgres: None,
        };
        if let (Some(url), DbKind::Mysql) = (url, kind) {
            scratch.note = Some(format!("server: {}", server_sql::mysql_version(url)?));
        }
        if url.is_some() || kind == DbKind::Sqlite {
            return Ok(scratch);
        }
        let hint = "start one, or pass --url of a server to use";
        match kind {
            DbKind::Mysql => {
                let server = testdb::MariaDb::start()
                    .with_context(|| format!("cannot start a scratch MariaDB server; {hint}"))?;
                scratch.url = server.url();
                scratch._mariadb = Some(server);
                scratch.note = Some(mysql_stand_in(installed_mysql().as_deref()));
            }
            DbKind::Mariadb => {
                let server = testdb::MariaDb::start()
                    .with_context(|| format!("cannot start a scratch MariaDB server; {hint}"))?;
                scratch.url = server.url();
                scratch._mariadb = Some(server);
            }
            DbKind::Postgres => {
                let server = testdb::PostgresServer::start()
                    .with_context(|| format!("cannot start a scratch PostgreSQL server; {hint}"))?;
                scratch.url = server.url();
                scratch._postgres = Some(server);
            }
            DbKind::Sqlite => {}
        }
        Ok(scratch)
    }

    /// A new database for `class` holding the previous schema, then the ups of `held`: where
    /// the checks start, and where they go on after a failure.
    fn rebuild(
        &mut self,
        class: &str,
        previous: &[(&Patch, &Migration)],
        held: &[&Migration],
        version: &str,
        log: &RunLog,
    ) -> anyhow::Result<Box<dyn Connection>> {
        let target = self.database(class)?;
        let mut conn = db::connect(&target)?;
        for (older, m) in previous {
            conn.apply_up(m, Stamp::new(&older.version().to_string(), RUN), log)
                .with_context(|| format!("building the previous schema of class `{class}`"))?;
        }
        for m in held {
            conn.apply_up(m, Stamp::new(version, RUN), log)
                .with_context(|| format!("applying {} up again", m.label()))?;
        }
        Ok(conn)
    }

    /// A new, empty database for `class`: `bascule_check_<pid>_<class>`, then `…_<n>`.
    fn database(&mut self, class: &str) -> anyhow::Result<DbTarget> {
        let made = self.made.entry(class.to_string()).or_default();
        let suffix = match *made {
            0 => String::new(),
            n => format!("_{n}"),
        };
        *made += 1;
        let name = format!("bascule_check_{}_{class}{suffix}", std::process::id());
        let location = match self.kind {
            DbKind::Sqlite => {
                let path = self.dir.path().join(format!("{class}{suffix}.sqlite"));
                SqliteConnection::create(class, &path)?;
                Location::SqliteFile(path)
            }
            DbKind::Mariadb | DbKind::Mysql => {
                server_sql::mysql(&self.url, &format!("CREATE DATABASE `{name}`"))?;
                self.created.push(name.clone());
                Location::Mysql {
                    url: self.url.clone(),
                    database: name,
                }
            }
            DbKind::Postgres => {
                server_sql::postgres(&self.url, &format!("CREATE DATABASE \"{name}\""))?;
                self.created.push(name.clone());
                Location::Postgres {
                    url: self.url.clone(),
                    database: name,
                    schema: None,
                }
            }
        };
        Ok(DbTarget {
            class: class.to_string(),
            name: class.to_string(),
            location,
        })
    }

    /// Drops the scratch databases (the throwaway server and directory go with `self`).
    fn cleanup(&mut self) {
        for name in std::mem::take(&mut self.created) {
            let dropped = match self.kind {
                DbKind::Mariadb | DbKind::Mysql => {
                    server_sql::mysql(&self.url, &format!("DROP DATABASE IF EXISTS `{name}`"))
                }
                DbKind::Postgres => server_sql::postgres(
                    &self.url,
                    &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                ),
                DbKind::Sqlite => Ok(()),
            };
            if let Err(e) = dropped {
                eprintln!("warning: could not drop the scratch database {name}: {e:#}");
            }
        }
    }
}

/// What `mysqld --version` says when it is MySQL's server (not MariaDB's, which answers to the
/// same name on some systems).
fn installed_mysql() -> Option<String> {
    let output = std::process::Command::new("mysqld")
        .arg("--version")
        .output()
        .ok()?;
    let version = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (version.contains("MySQL") && !version.contains("MariaDB")).then_some(version)
}

/// The line that says a throwaway MariaDB stands in for MySQL, and how to check on MySQL.
fn mysql_stand_in(installed: Option<&str>) -> String {
    match installed {
        Some(version) => format!(
            "note: running on a throwaway MariaDB, the only server started for a run; \
             MySQL is installed ({version}): start it and pass its --url to check on MySQL itself"
        ),
        None => "note: no MySQL server is installed (Debian packages only MariaDB): \
                 running on a throwaway MariaDB, where MySQL 8 may differ; pass --url of a MySQL \
                 server to check on MySQL itself"
            .to_string(),
    }
}

/// Server-level statements (create and drop the scratch databases).
mod server_sql {
    use anyhow::Context;
    use mysql::prelude::Queryable as _;

    pub fn mysql(url: &str, sql: &str) -> anyhow::Result<()> {
        let opts = mysql::Opts::from_url(url).context("--url is not a mysql:// URL")?;
        let mut conn = mysql::Conn::new(opts).context("cannot connect to the MariaDB server")?;
        conn.query_drop(sql).with_context(|| sql.to_string())
    }

    /// `VERSION()` of the server at `url`: `8.0.36`, `10.11.6-MariaDB-0+deb12u1`.
    pub fn mysql_version(url: &str) -> anyhow::Result<String> {
        let opts = mysql::Opts::from_url(url).context("--url is not a mysql:// URL")?;
        let mut conn = mysql::Conn::new(opts).context("cannot connect to the MySQL server")?;
        let version: Option<String> = conn.query_first("SELECT VERSION()")?;
        Ok(version.unwrap_or_default())
    }

    pub fn postgres(url: &str, sql: &str) -> anyhow::Result<()> {
        let mut config: postgres::Config = url.parse().context("--url is not a postgres:// URL")?;
        config.dbname("postgres");
        let mut client = config
            .connect(postgres::NoTls)
            .context("cannot connect to the PostgreSQL server")?;
        client.batch_execute(sql).with_context(|| sql.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_what_is_left_and_what_is_gone() {
        let before = vec!["table a".to_string(), "table b".to_string()];
        let after = vec!["index i on a (x)".to_string(), "table a".to_string()];
        assert_eq!(
            diff(&before, &after, "after down.sql"),
            [
                "  index i on a (x) is still there after down.sql",
                "  table b is missing after down.sql"
            ]
        );
    }
}
