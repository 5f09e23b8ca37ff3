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
//! `bascule_check_<pid>_<class>` created on that server and dropped at the end.
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
    /// The database to run the migrations on; it must fit the patch's dialect.
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
    Postgres,
}

impl DbKind {
    fn dialect(self) -> Dialect {
        match self {
            DbKind::Sqlite => Dialect::Sqlite,
            DbKind::Mariadb => Dialect::Mysql,
            DbKind::Postgres => Dialect::Postgres,
        }
    }

    fn name(self) -> &'static str {
        match self {
            DbKind::Sqlite => "sqlite",
            DbKind::Mariadb => "mariadb",
            DbKind::Postgres => "postgres",
        }
    }
}

/// The outcome of a check: what to print and how many migrations failed.
#[derive(Debug, Default)]
pub struct Report {
    pub text: String,
    pub ok: usize,
    pub failed: usize,
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
    let result = classes.iter().try_for_each(|class| {
        let previous = previous_migrations(&patch, &earlier, class)?;
        let target = scratch.database(class)?;
        check_class(&mut report, class, &patch, &previous, &target)
    });
    scratch.cleanup();
    result?;
    writeln!(report.text, "{} ok, {} FAILED", report.ok, report.failed)?;
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
    if let Some(missing) = (1..=base).find(|id| !by_id.contains_key(id)) {
        bail!(
            "{}: class `{class}` starts at migration {:04}, but no earlier patch beside it has migration {missing:04}: \
             the previous schema cannot be built (keep the earlier patches in sibling directories)",
            patch.dir.display(),
            base + 1
        );
    }
    Ok(by_id.into_values().collect())
}

/// Builds the previous schema on `target`, then round-trips each migration of `class`.
fn check_class(
    report: &mut Report,
    class: &str,
    patch: &Patch,
    previous: &[(&Patch, &Migration)],
    target: &DbTarget,
) -> anyhow::Result<()> {
    let log = RunLog::discard();
    let mut conn = db::connect(target)?;
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
    for (older, m) in previous {
        conn.apply_up(m, Stamp::new(&older.version().to_string(), RUN), &log)
            .with_context(|| format!("building the previous schema of class `{class}`"))?;
    }
    let migrations = patch
        .migrations
        .class(class)
        .map(|c| c.migrations.as_slice())
        .unwrap_or_default();
    let version = patch.version().to_string();
    for (i, m) in migrations.iter().enumerate() {
        let problems = round_trip(conn.as_mut(), m, &version, &log)?;
        if problems.is_empty() {
            report.ok += 1;
            writeln!(report.text, "  {} ... ok", m.label())?;
            continue;
        }
        report.failed += 1;
        writeln!(report.text, "  {} ... FAILED", m.label())?;
        for line in problems {
            writeln!(report.text, "      {line}")?;
        }
        for rest in &migrations[i + 1..] {
            writeln!(
                report.text,
                "  {} ... not checked (the schema is no longer known after a failure)",
                rest.label()
            )?;
        }
        break;
    }
    Ok(())
}

/// Up, down, up again on `conn`; the problems found, empty when the round trip holds.
fn round_trip(
    conn: &mut dyn Connection,
    m: &Migration,
    version: &str,
    log: &RunLog,
) -> anyhow::Result<Vec<String>> {
    let up = "up.sql";
    let down = m.down_path().display().to_string();
    let before = conn.schema_dump()?;
    if let Err(e) = conn.apply_up(m, Stamp::new(version, RUN), log) {
        return Ok(vec![format!("{} fails: {e}", m.up_path().display())]);
    }
    let after_up = conn.schema_dump()?;
    if let Err(e) = conn.apply_down(m, log) {
        return Ok(vec![format!("{down} fails right after {up}: {e}")]);
    }
    let after_down = conn.schema_dump()?;
    if after_down != before {
        let mut problems = vec![format!(
            "{down} does not undo up.sql: the schema after down differs from before up"
        )];
        problems.extend(diff(&before, &after_down, "after down.sql"));
        return Ok(problems);
    }
    if let Err(e) = conn.apply_up(m, Stamp::new(version, RUN), log) {
        return Ok(vec![format!(
            "{up} fails when applied again after {down}: {e}"
        )]);
    }
    let again = conn.schema_dump()?;
    if again != after_up {
        let mut problems = vec![format!(
            "{up} applied again after {down} gives another schema than the first time"
        )];
        problems.extend(diff(&after_up, &again, "after up.sql again"));
        return Ok(problems);
    }
    Ok(Vec::new())
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
            dir: tempfile::tempdir().context("cannot create a scratch directory")?,
            _mariadb: None,
            _postgres: None,
        };
        if url.is_some() || kind == DbKind::Sqlite {
            return Ok(scratch);
        }
        let hint = "start one, or pass --url of a server to use";
        match kind {
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

    /// A new, empty database for `class`.
    fn database(&mut self, class: &str) -> anyhow::Result<DbTarget> {
        let name = format!("bascule_check_{}_{class}", std::process::id());
        let location = match self.kind {
            DbKind::Sqlite => {
                let path = self.dir.path().join(format!("{class}.sqlite"));
                SqliteConnection::create(class, &path)?;
                Location::SqliteFile(path)
            }
            DbKind::Mariadb => {
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
                DbKind::Mariadb => {
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

/// Server-level statements (create and drop the scratch databases).
mod server_sql {
    use anyhow::Context;
    use mysql::prelude::Queryable as _;

    pub fn mysql(url: &str, sql: &str) -> anyhow::Result<()> {
        let opts = mysql::Opts::from_url(url).context("--url is not a mysql:// URL")?;
        let mut conn = mysql::Conn::new(opts).context("cannot connect to the MariaDB server")?;
        conn.query_drop(sql).with_context(|| sql.to_string())
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
