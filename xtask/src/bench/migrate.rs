//! `cargo xtask bench migrate`: Bascule's migrate step on thousands of tenant databases of a
//! MariaDB or PostgreSQL server, side by side with what people use instead, in one run.
//!
//! The workload: N site databases (or schemas) of the demo platform at 1.0.0 on a throwaway
//! server ([`testdb`]), and a patch of 3 migrations each (add a column, create an index, a data
//! update). Contenders, each starting from the same 1.0.0 databases (the previous contender's
//! changes are undone, unmeasured, between them):
//!
//! - `bascule apply` of that patch: the whole run, and its migrate step alone (from the journal);
//!   then `bascule rollback` of all databases;
//! - MariaDB only: `dbmate up`, one invocation per database (`xargs -P<workers>`), as its users
//!   script a multi-tenant fleet;
//! - the command-line client (`mariadb` / `psql`), one invocation per database running the same
//!   three files (`xargs -P<workers>`): the same SQL work with none of the safety;
//! - the limit: the same statements through one persistent client session per worker (one
//!   concatenated script each, `USE db;` / `\c db` / `SET search_path` between databases) —
//!   about the server's own time;
//! - the limit again with the statements Bascule adds around the migrations (version-row
//!   writes; on PostgreSQL each migration's `BEGIN`/`COMMIT` going up, one transaction per
//!   database coming down), the very SQL it sends — the
//!   server's share of Bascule's bookkeeping, so that what remains between it and Bascule is
//!   Bascule's own cost.
//!
//! Every peer runs with as many processes or sessions as Bascule has workers per server.
//!
//! Then a run with nothing to apply: `bascule migrate` over `--idle-sites` databases already at
//! the bundle's version (the survey alone). When tenants are PostgreSQL databases, its floors are
//! measured too: a new connection to each database and `SELECT 1`, and a new connection to each
//! that reads its version table, nothing else.
//!
//! Before each measured command the server is left to finish its background writes
//! ([`Server::settle`]), so no contender pays for the one before it. Before the first, an
//! unmeasured pass of the limit (up, then down) takes the first touches of freshly created
//! tables, which would otherwise fall on whoever runs first. `--rounds K` measures Bascule and
//! the limits K times, each round from the same 1.0.0 databases, and reports the medians: runs
//! of about a second (2,000 PostgreSQL schemas) vary widely from one to the next. The two main
//! ratios are also given as the medians of each round's own ratio. The client loop and dbmate,
//! many times slower, are measured once.
//!
//! The server's sizing settings are printed as it runs them (MariaDB lowers its table cache to
//! what the open-files limit allows), and so is the server's own ratio of the down scripts to
//! the ups through persistent sessions: when a down statement costs the server more than its
//! up (MariaDB's `DROP INDEX` on a server holding thousands of databases), that ratio is the
//! floor under Bascule's rollback / apply.
//!
//! Every command runs under GNU `time`: wall time, peak RSS of the largest process, and the
//! client's CPU time (user + system, children included), which on a small machine is taken from
//! the server's cores. Figures are printed, never asserted.
//!
//! # Figures to expect
//!
//! On a 2-core machine with a throwaway MariaDB, the survey (`--idle-sites`, nothing to apply)
//! read 1,000 databases in about 0.1 s and 5,000 in about 2 s: one `information_schema` query,
//! then `UNION ALL` reads of 400 version tables per query, the table opens being server work
//! spread over `workers` connections. A PostgreSQL connection is bound to one database, so
//! per-database tenants cost a new connection each, which the printed floors show.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use demo_site::prod_server::{generate_on, Engine, ServerHost};

use super::measure::{bench_dir, measure, Measure};
use crate::{build_patch, static_runtime, workspace_root};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchEngine {
    Mariadb,
    Postgres,
    PostgresSchemas,
}

/// A running throwaway server.
enum Server {
    Mariadb(testdb::MariaDb),
    Postgres(testdb::PostgresServer),
}

impl Server {
    fn start(engine: BenchEngine) -> anyhow::Result<Server> {
        Ok(match engine {
            BenchEngine::Mariadb => {
                Server::Mariadb(testdb::MariaDb::start_sized(testdb::Size::Fleet)?)
            }
            _ => Server::Postgres(testdb::PostgresServer::start_sized(testdb::Size::Fleet)?),
        })
    }

    fn url(&self) -> String {
        match self {
            Server::Mariadb(s) => s.url(),
            Server::Postgres(s) => s.url(),
        }
    }

    fn port(&self) -> u16 {
        match self {
            Server::Mariadb(s) => s.port(),
            Server::Postgres(s) => s.port(),
        }
    }

    /// `name value` of each sizing setting the server runs with.
    fn settings(&self) -> anyhow::Result<String> {
        let settings = match self {
            Server::Mariadb(s) => s.settings()?,
            Server::Postgres(s) => s.settings()?,
        };
        let shown: Vec<String> = settings.iter().map(|(n, v)| format!("{n} {v}")).collect();
        Ok(shown.join(", "))
    }

    /// Waits for the server's background writes to finish: every contender starts on a quiet
    /// server, not on the writes the previous one (or the generation) left behind.
    fn settle(&self) -> anyhow::Result<()> {
        match self {
            Server::Mariadb(s) => s.settle()?,
            Server::Postgres(s) => s.settle()?,
        }
        Ok(())
    }
}

fn engine_for(kind: BenchEngine, url: &str, prefix: &str) -> Engine {
    match kind {
        BenchEngine::Mariadb => Engine::Mariadb {
            url: url.into(),
            prefix: prefix.into(),
        },
        BenchEngine::Postgres | BenchEngine::PostgresSchemas => Engine::Postgres {
            url: url.into(),
            prefix: prefix.into(),
            per_schema: kind == BenchEngine::PostgresSchemas,
        },
    }
}

/// The three migrations: (name, up, down) per dialect.
fn migrations(kind: BenchEngine) -> [(&'static str, &'static str, &'static str); 3] {
    match kind {
        BenchEngine::Mariadb => [
            (
                "add_column",
                "ALTER TABLE members ADD COLUMN nickname VARCHAR(100) NULL;\n",
                "ALTER TABLE members DROP COLUMN IF EXISTS nickname;\n",
            ),
            (
                "index_email",
                "CREATE INDEX members_email ON members (email);\n",
                "DROP INDEX IF EXISTS members_email ON members;\n",
            ),
            (
                "fill_nickname",
                "UPDATE members SET nickname = SUBSTRING_INDEX(name, ' ', 1) WHERE nickname IS NULL;\n",
                "UPDATE members SET nickname = NULL;\n",
            ),
        ],
        _ => [
            (
                "add_column",
                "ALTER TABLE members ADD COLUMN nickname TEXT;\n",
                "ALTER TABLE members DROP COLUMN IF EXISTS nickname;\n",
            ),
            (
                "index_email",
                "CREATE INDEX members_email ON members (email);\n",
                "DROP INDEX IF EXISTS members_email;\n",
            ),
            (
                "fill_nickname",
                "UPDATE members SET nickname = split_part(name, ' ', 1) WHERE nickname IS NULL;\n",
                "UPDATE members SET nickname = NULL;\n",
            ),
        ],
    }
}

/// The up script with Bascule's version-row writes between its statements.
const UP_WITH_ROWS: &str = "up-with-rows.sql";
/// The down script with Bascule's version-row writes; it leaves no row behind.
const DOWN_WITH_ROWS: &str = "down-with-rows.sql";

/// The up and down scripts of the three migrations (ids 2 to 4, as in the patch) with the
/// statements Bascule's backend adds around them: the version-row writes, and on PostgreSQL
/// each migration's `BEGIN` and `COMMIT`.
fn bookkeeping_scripts(kind: BenchEngine) -> (String, String) {
    let all: Vec<bascule_patch::Migration> = migrations(kind)
        .iter()
        .zip(2..)
        .map(|((name, up, down), id)| bascule_patch::Migration::new("site", id, name, up, down))
        .collect();
    let ups: Vec<&bascule_patch::Migration> = all.iter().collect();
    let downs: Vec<&bascule_patch::Migration> = all.iter().rev().collect();
    match kind {
        BenchEngine::Mariadb => (
            bascule_db::mysql::up_script(&ups, bascule_db::Stamp::new("1.1.0", "bench")),
            bascule_db::mysql::down_script(&downs),
        ),
        BenchEngine::Postgres | BenchEngine::PostgresSchemas => (
            bascule_db::postgres::up_script(&ups, bascule_db::Stamp::new("1.1.0", "bench")),
            bascule_db::postgres::down_script(&downs),
        ),
    }
}

/// The bench patch source: 1.1.0 with the three site migrations, beside nothing else.
fn write_patch(dir: &Path, kind: BenchEngine) -> anyhow::Result<PathBuf> {
    let patch = dir.join("patch-1.1.0");
    let dialect = if kind == BenchEngine::Mariadb {
        "mysql"
    } else {
        "postgres"
    };
    for (i, (name, up, down)) in migrations(kind).iter().enumerate() {
        let m = patch.join(format!("migrations/site/{:04}_{name}", i + 2));
        std::fs::create_dir_all(&m)?;
        std::fs::write(m.join("up.sql"), up)?;
        std::fs::write(m.join("down.sql"), down)?;
    }
    // The patch is `target/bench/<name>/patch-1.1.0`: four levels below the workspace.
    let code = Path::new("../../../../fixtures/demo-platform/code-v1");
    std::fs::write(
        patch.join("patch.toml"),
        format!(
            "[patch]\nversion = \"1.1.0\"\nfrom = \">=1.0.0, <1.1.0\"\nmode = \"downtime\"\n\
             title = \"bench: add column, index, data update\"\n\n[code]\nsource = \"{}\"\n\n\
             [classes.site]\ndialect = \"{dialect}\"\n",
            code.display()
        ),
    )?;
    std::fs::create_dir_all(patch.join("docs"))?;
    for name in ["bulletin.toml", "checklist.toml", "testbook.toml"] {
        std::fs::write(patch.join("docs").join(name), "# a benchmark patch\n")?;
    }
    Ok(patch)
}

/// What `cargo xtask bench migrate` measures.
pub struct Options {
    pub kind: BenchEngine,
    pub sites: usize,
    /// Databases of the separate nothing-to-apply run (0: none).
    pub idle_sites: usize,
    pub skip_dbmate: bool,
    /// How many times Bascule and the limits are measured; figures are their medians.
    pub rounds: usize,
}

/// The contenders measured in every round, from the same 1.0.0 databases.
struct Round {
    apply: Measure,
    migrate_s: f64,
    rollback: Measure,
    undo_s: f64,
    limit: Measure,
    limit_down: Measure,
    up_with_rows: Measure,
    down_with_rows: Measure,
}

/// Bascule's run and its commands.
struct Bascule<'a> {
    bin: String,
    profile: String,
    host: &'a ServerHost,
}

impl Bascule<'_> {
    fn run(&self, command: &str) -> anyhow::Result<Measure> {
        let mut args = vec![command, "--host", &self.profile, "--quiet"];
        if command != "migrate" {
            args.push("--no-multiplexer");
        }
        if command == "apply" {
            args.extend(["--allow-forbidden-time", "a benchmark", "--yes"]);
        }
        measure(&self.bin, &args, None)
    }
}

pub fn run(options: Options) -> anyhow::Result<()> {
    let Options {
        kind,
        sites,
        idle_sites,
        skip_dbmate,
        rounds,
    } = options;
    let rounds = rounds.max(1);
    let dir = bench_dir(&format!("migrate-{kind:?}").to_lowercase())?;
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!("bench migrate: {kind:?}, {sites} site databases, 3 migrations each, {cores} cores");
    let server = Server::start(kind)?;
    println!("  server: {}", server.settings()?);
    let clock = Instant::now();
    let host = generate_on(
        &dir.join("host"),
        sites,
        &engine_for(kind, &server.url(), "b_"),
    )?;
    let generated = clock.elapsed().as_secs_f64();
    println!(
        "  generated 1 main + {sites} sites at 1.0.0 in {generated:.1} s ({:.0} databases/s)",
        sites as f64 / generated.max(0.001)
    );

    // The peers run with as many processes or sessions as Bascule has workers on the server,
    // so the comparison is of the work, not of the parallelism.
    let parallel = bascule::host::HostProfile::load(&host.host_profile)?.workers("site");
    println!("  parallelism: {parallel} (Bascule's workers per server, and every peer's)");

    let runtime = static_runtime::build_static_runtime(&workspace_root())?;
    let patch = write_patch(&dir, kind)?;
    let built = build_patch::build(&patch, &dir.join("bundles"), Some(&runtime))?;
    let delivery = dir.join("delivery");
    std::fs::create_dir_all(&delivery)?;
    let bundle = bascule_bundle::unpack(&built.path, &delivery)?;
    let bascule = Bascule {
        bin: bundle.join("bin/bascule").to_string_lossy().into_owned(),
        profile: host.host_profile.to_string_lossy().into_owned(),
        host: &host,
    };
    let peers = Peers::new(&dir, kind, &server, &host, parallel)?;

    // Whoever first migrates freshly created databases pays for first touches (a table's first
    // instant ALTER, its first index build): an unmeasured pass of the limit takes them, as
    // long-lived production databases have.
    server.settle()?;
    let warm_up = peers.persistent()?;
    server.settle()?;
    peers.reset()?;
    println!(
        "  warm-up: the limit's up and down once, unmeasured (up {:.2} s)",
        warm_up.seconds
    );

    let mut all = Vec::new();
    let mut idle = None;
    for round in 1..=rounds {
        let (measured, nothing_to_apply) = measure_round(&bascule, &peers, &server, round == 1)?;
        idle = idle.or(nothing_to_apply);
        if rounds > 1 {
            println!(
                "  round {round}: migrate step {:.2} s, limit {:.2} s ({:.2}x); undo {:.2} s ({:.2}x the migrate step)",
                measured.migrate_s,
                measured.limit.seconds,
                measured.migrate_s / measured.limit.seconds.max(0.001),
                measured.undo_s,
                measured.undo_s / measured.migrate_s.max(0.001),
            );
        }
        all.push(measured);
    }
    let idle = idle.context("the first round measures the run with nothing to apply")?;
    let median = Medians(&all);

    // Two floors: a bare connection, and a connection that reads the version table, the least
    // any tool must do to know where each database stands.
    let version_query = format!(
        "SELECT id, name, checksum, state FROM {} ORDER BY id",
        bascule_db::VERSION_TABLE
    );
    let connection_floor = match kind {
        BenchEngine::Postgres => {
            server.settle()?;
            let bare = peers.connection_floor("SELECT 1")?;
            server.settle()?;
            Some((bare, peers.connection_floor(&version_query)?))
        }
        _ => None,
    };
    server.settle()?;
    let client_loop = peers.client_loop()?;
    peers.reset()?;
    let dbmate = if kind == BenchEngine::Mariadb && !skip_dbmate {
        server.settle()?;
        let m = peers.dbmate()?;
        peers.reset()?;
        peers.drop_dbmate_tables()?;
        Some(m)
    } else {
        None
    };

    let n = sites as f64;
    let rate = |seconds: f64| n / seconds.max(0.001);
    let of_rounds = if rounds > 1 {
        format!(" (median of {rounds} rounds)")
    } else {
        String::new()
    };
    println!(
        "\n  {:<60} {:>8}  {:>8}  {:>9}  {:>10}",
        of_rounds, "wall", "dbs/s", "peak RSS", "client CPU"
    );
    let show = |label: &str, m: &Measure| {
        println!(
            "  {label:<60} {:>7.2}s  {:>8.0}  {:>7.1}MiB  {:>9.2}s",
            m.seconds,
            rate(m.seconds),
            m.max_rss_kib as f64 / 1024.0,
            m.cpu_seconds
        )
    };
    // A figure with no process of its own: wall time and rate only.
    let part = |label: &str, seconds: f64| {
        println!("  {label:<60} {seconds:>7.2}s  {:>8.0}", rate(seconds))
    };
    let apply = median.measure(|r| r.apply);
    let rollback = median.measure(|r| r.rollback);
    let migrate_s = median.seconds(|r| r.migrate_s);
    let undo_s = median.seconds(|r| r.undo_s);
    let persistent = median.measure(|r| r.limit);
    let persistent_down = median.measure(|r| r.limit_down);
    let up_with_rows = median.measure(|r| r.up_with_rows);
    let down_with_rows = median.measure(|r| r.down_with_rows);
    show("bascule apply (whole run)", &apply);
    part("  of which the migrate step (journal)", migrate_s);
    show("bascule rollback (whole run)", &rollback);
    part("  of which the undo of migrate (journal)", undo_s);
    show("bascule migrate, nothing to apply (first round)", &idle);
    if let Some((bare, reading)) = connection_floor {
        part(
            &format!("  a connection per database, SELECT 1 (x{parallel})"),
            bare,
        );
        part(
            &format!("  a connection per database, its version table read (x{parallel})"),
            reading,
        );
    }
    if let Some(dbmate) = &dbmate {
        show(
            &format!("dbmate up per database (xargs -P{parallel}, once)"),
            dbmate,
        );
    }
    show(
        &format!(
            "{} per database (xargs -P{parallel}, once)",
            peers.client_name()
        ),
        &client_loop,
    );
    let sessions = |what: &str| {
        format!(
            "{} persistent sessions x{parallel}{what}",
            peers.client_name()
        )
    };
    show(&sessions(" (limit)"), &persistent);
    show(&sessions(", down scripts"), &persistent_down);
    show(&sessions(" + version rows"), &up_with_rows);
    show(&sessions(", downs + version rows"), &down_with_rows);
    println!("\n  ratios (lower is better for Bascule):");
    let ratio =
        |label: &str, a: f64, b: f64| println!("    {label:<46} {:>6.2}x", a / b.max(0.001));
    if let Some(dbmate) = &dbmate {
        ratio(
            "dbmate loop / bascule migrate step:",
            dbmate.seconds,
            migrate_s,
        );
    }
    ratio(
        "client loop / bascule migrate step:",
        client_loop.seconds,
        migrate_s,
    );
    ratio(
        "bascule migrate step / persistent limit:",
        migrate_s,
        persistent.seconds,
    );
    ratio(
        "bascule whole apply / persistent limit:",
        apply.seconds,
        persistent.seconds,
    );
    ratio(
        "rollback undo of migrate / migrate step:",
        undo_s,
        migrate_s,
    );
    // When the server's own downs cost more than its ups, no undo can match the apply.
    ratio(
        "server's own: down scripts / limit:",
        persistent_down.seconds,
        persistent.seconds,
    );
    ratio(
        "rollback undo / persistent down scripts:",
        undo_s,
        persistent_down.seconds,
    );
    ratio(
        "bascule migrate step / limit + version rows:",
        migrate_s,
        up_with_rows.seconds,
    );
    ratio(
        "rollback undo / downs + version rows:",
        undo_s,
        down_with_rows.seconds,
    );
    if rounds > 1 {
        // The ratio of two medians may pair a fast round's figure with a slow round's when the
        // machine drifts; a round's own ratio compares figures measured a minute apart.
        ratio(
            "median of the rounds' migrate step / limit:",
            median.seconds(|r| r.migrate_s / r.limit.seconds.max(0.001)),
            1.0,
        );
        ratio(
            "median of the rounds' undo / migrate step:",
            median.seconds(|r| r.undo_s / r.migrate_s.max(0.001)),
            1.0,
        );
    }
    if let Some((bare, reading)) = connection_floor {
        ratio(
            "nothing to apply / connection per database:",
            idle.seconds,
            bare,
        );
        ratio(
            "nothing to apply / connection + version read:",
            idle.seconds,
            reading,
        );
    }

    if idle_sites > 0 {
        idle_run(&dir, kind, &server, &runtime, idle_sites)?;
    }
    Ok(())
}

/// One round: Bascule's apply and rollback (with, when `idle`, the run with nothing to apply
/// between them), then the limits, each from the same 1.0.0 databases on a settled server.
fn measure_round(
    bascule: &Bascule<'_>,
    peers: &Peers,
    server: &Server,
    idle: bool,
) -> anyhow::Result<(Round, Option<Measure>)> {
    let state = &bascule.host.state_dir;
    server.settle()?;
    let apply = bascule.run("apply")?;
    let migrate_ms = step_ms(state, "apply", "StepDone")?;
    let nothing_to_apply = if idle {
        server.settle()?;
        Some(bascule.run("migrate")?)
    } else {
        None
    };
    server.settle()?;
    let rollback = bascule.run("rollback")?;
    let undo_ms = step_ms(state, "rollback", "UndoDone")?;
    server.settle()?;
    let limit = peers.persistent()?;
    server.settle()?;
    // The reset after the limit is itself measured: the down scripts through persistent
    // sessions, the server time the undo cannot go below.
    let limit_down = peers.reset()?;
    // The same limit with the version-row writes (and, on PostgreSQL, the transactions)
    // Bascule adds: what is left between it and Bascule is Bascule's own cost.
    server.settle()?;
    let up_with_rows = peers.persistent_script(UP_WITH_ROWS)?;
    server.settle()?;
    let down_with_rows = peers.persistent_script(DOWN_WITH_ROWS)?;
    let round = Round {
        apply,
        migrate_s: migrate_ms as f64 / 1000.0,
        rollback,
        undo_s: undo_ms as f64 / 1000.0,
        limit,
        limit_down,
        up_with_rows,
        down_with_rows,
    };
    Ok((round, nothing_to_apply))
}

/// The median of each figure over the rounds (the lower middle one for an even count).
struct Medians<'r>(&'r [Round]);

impl Medians<'_> {
    fn measure(&self, figure: impl Fn(&Round) -> Measure) -> Measure {
        let mut values: Vec<Measure> = self.0.iter().map(figure).collect();
        values.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
        values[(values.len() - 1) / 2]
    }

    fn seconds(&self, figure: impl Fn(&Round) -> f64) -> f64 {
        let mut values: Vec<f64> = self.0.iter().map(figure).collect();
        values.sort_by(f64::total_cmp);
        values[(values.len() - 1) / 2]
    }
}

/// `bascule migrate` with the 1.0.0 bundle over `sites` databases already at 1.0.0.
fn idle_run(
    dir: &Path,
    kind: BenchEngine,
    server: &Server,
    runtime: &Path,
    sites: usize,
) -> anyhow::Result<()> {
    let clock = Instant::now();
    let engine = engine_for(kind, &server.url(), "i_");
    let host = generate_on(&dir.join("idle-host"), sites, &engine)?;
    println!(
        "\n  nothing to apply: generated {sites} more sites in {:.1} s",
        clock.elapsed().as_secs_f64()
    );
    let built = build_patch::build(
        &engine.patch_dir("1.0.0"),
        &dir.join("bundles-idle"),
        Some(runtime),
    )?;
    let delivery = dir.join("delivery-idle");
    std::fs::create_dir_all(&delivery)?;
    let bundle = bascule_bundle::unpack(&built.path, &delivery)?;
    let bin = bundle.join("bin/bascule");
    let profile = host.host_profile.to_string_lossy().into_owned();
    server.settle()?;
    let idle = measure(
        &bin.to_string_lossy(),
        &["migrate", "--host", &profile, "--quiet"],
        None,
    )?;
    idle.show(&format!(
        "bascule migrate over {} databases, nothing to apply",
        sites + 1
    ));
    Ok(())
}

/// The `ms` of `event` for the migrate step in the journal of the newest run of `kind`.
fn step_ms(state: &Path, kind: &str, event: &str) -> anyhow::Result<u64> {
    let runs = state.join("runs");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&runs)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().contains(&format!("-{kind}")))
        .collect();
    dirs.sort();
    let journal = dirs
        .last()
        .with_context(|| format!("no {kind} run in {}", runs.display()))?
        .join("journal.jsonl");
    for line in std::fs::read_to_string(&journal)?.lines() {
        let value: serde_json::Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => continue,
        };
        let text = value.to_string();
        if text.contains(&format!("\"{}\"", kebab(event))) && text.contains("\"migrate\"") {
            if let Some(ms) = find_ms(&value) {
                return Ok(ms);
            }
        }
    }
    bail!("{}: no {event} of the migrate step", journal.display())
}

fn kebab(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn find_ms(value: &serde_json::Value) -> Option<u64> {
    match value {
        serde_json::Value::Object(map) => map
            .get("ms")
            .and_then(|v| v.as_u64())
            .or_else(|| map.values().find_map(find_ms)),
        _ => None,
    }
}

/// The peers' scripts and commands.
struct Peers {
    dir: PathBuf,
    kind: BenchEngine,
    port: u16,
    url: String,
    /// Database names (per-database tenants) or schema names.
    tenants: Vec<String>,
    /// The database holding the schemas, when tenants are schemas.
    schema_db: Option<String>,
    cores: usize,
}

impl Peers {
    fn new(
        dir: &Path,
        kind: BenchEngine,
        server: &Server,
        host: &ServerHost,
        cores: usize,
    ) -> anyhow::Result<Peers> {
        let tenants: Vec<String> = host
            .site_targets()
            .iter()
            .map(|t| match &t.location {
                bascule_db::Location::Mysql { database, .. } => database.clone(),
                bascule_db::Location::Postgres {
                    schema: Some(s), ..
                } => s.clone(),
                bascule_db::Location::Postgres { database, .. } => database.clone(),
                bascule_db::Location::SqliteFile(p) => p.display().to_string(),
            })
            .collect();
        let peers = Peers {
            dir: dir.join("peers"),
            kind,
            port: server.port(),
            url: server.url(),
            tenants,
            schema_db: host.engine.schema_database(),
            cores,
        };
        std::fs::create_dir_all(&peers.dir)?;
        let all = migrations(kind);
        let up: String = all.iter().map(|m| m.1).collect();
        let down: String = all.iter().rev().map(|m| m.2).collect();
        std::fs::write(peers.dir.join("up.sql"), up)?;
        std::fs::write(peers.dir.join("down.sql"), down)?;
        let (up, down) = bookkeeping_scripts(kind);
        std::fs::write(peers.dir.join(UP_WITH_ROWS), up)?;
        std::fs::write(peers.dir.join(DOWN_WITH_ROWS), down)?;
        std::fs::write(
            peers.dir.join("tenants.txt"),
            peers.tenants.join("\n") + "\n",
        )?;
        Ok(peers)
    }

    fn client_name(&self) -> &'static str {
        if self.kind == BenchEngine::Mariadb {
            "mariadb client"
        } else {
            "psql"
        }
    }

    /// The client command for tenant `{}` (xargs substitutes it).
    fn client_for_tenant(&self) -> String {
        match (self.kind, &self.schema_db) {
            (BenchEngine::Mariadb, _) => {
                format!("mariadb -h127.0.0.1 -P{} -uroot {{}}", self.port)
            }
            (_, Some(db)) => format!(
                "PGOPTIONS='-c search_path={{}}' psql -q -v ON_ERROR_STOP=1 {}/{db}",
                self.url
            ),
            (_, None) => format!("psql -q -v ON_ERROR_STOP=1 {}/{{}}", self.url),
        }
    }

    fn client_loop(&self) -> anyhow::Result<Measure> {
        let script = format!(
            "xargs -P{} -I{{}} sh -c \"{} < {}\" < {}",
            self.cores,
            self.client_for_tenant().replace('"', "\\\""),
            self.dir.join("up.sql").display(),
            self.dir.join("tenants.txt").display()
        );
        measure("sh", &["-c", &script], None)
    }

    /// One script per core; `file` (up.sql or down.sql) repeated for each of its tenants.
    fn session_scripts(&self, file: &str) -> anyhow::Result<Vec<PathBuf>> {
        let body = std::fs::read_to_string(self.dir.join(file))?;
        let chunk = self.tenants.len().div_ceil(self.cores).max(1);
        let mut paths = Vec::new();
        for (i, part) in self.tenants.chunks(chunk).enumerate() {
            let mut script = String::new();
            if self.kind != BenchEngine::Mariadb {
                script.push_str("\\set ON_ERROR_STOP 1\n");
            }
            for tenant in part {
                match (self.kind, &self.schema_db) {
                    (BenchEngine::Mariadb, _) => script.push_str(&format!("USE `{tenant}`;\n")),
                    (_, Some(_)) => script.push_str(&format!("SET search_path TO {tenant};\n")),
                    (_, None) => script.push_str(&format!("\\c {tenant}\n")),
                }
                script.push_str(&body);
            }
            let path = self.dir.join(format!("{file}.session{i}"));
            std::fs::write(&path, script)?;
            paths.push(path);
        }
        Ok(paths)
    }

    fn sessions_command(&self, file: &str) -> anyhow::Result<String> {
        let client = match (self.kind, &self.schema_db) {
            (BenchEngine::Mariadb, _) => format!("mariadb -h127.0.0.1 -P{} -uroot", self.port),
            (_, Some(db)) => format!("psql -q {}/{db}", self.url),
            (_, None) => format!("psql -q {}/postgres", self.url),
        };
        let parts: Vec<String> = self
            .session_scripts(file)?
            .iter()
            .map(|p| format!("{client} < {} &", p.display()))
            .collect();
        Ok(format!("{} wait", parts.join(" ")))
    }

    fn persistent(&self) -> anyhow::Result<Measure> {
        self.persistent_script("up.sql")
    }

    /// `file` for every tenant through one persistent session per core.
    fn persistent_script(&self, file: &str) -> anyhow::Result<Measure> {
        measure("sh", &["-c", &self.sessions_command(file)?], None)
    }

    /// Back to 1.0.0 after a peer: the down scripts through persistent sessions; measured,
    /// for the one reset whose figure is shown.
    fn reset(&self) -> anyhow::Result<Measure> {
        measure("sh", &["-c", &self.sessions_command("down.sql")?], None)
    }

    /// dbmate's own table out of every tenant, after its run (not part of any figure).
    fn drop_dbmate_tables(&self) -> anyhow::Result<()> {
        let drops: String = self
            .tenants
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS `{t}`.schema_migrations;\n"))
            .collect();
        let path = self.dir.join("drop-dbmate.sql");
        std::fs::write(&path, drops)?;
        let command = format!(
            "mariadb -h127.0.0.1 -P{} -uroot < {}",
            self.port,
            path.display()
        );
        measure("sh", &["-c", &command], None)?;
        Ok(())
    }

    /// The floor of a survey when tenants are PostgreSQL databases: a new connection to each
    /// and `query` (`SELECT 1`, or the read of the version table), nothing else, `cores`
    /// threads, with the plain client. Seconds.
    fn connection_floor(&self, query: &str) -> anyhow::Result<f64> {
        let next = std::sync::atomic::AtomicUsize::new(0);
        let clock = Instant::now();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..self.cores)
                .map(|_| {
                    scope.spawn(|| -> anyhow::Result<()> {
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some(db) = self.tenants.get(i) else {
                                return Ok(());
                            };
                            let url = format!("{}/{db}", self.url);
                            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
                            client.simple_query(query)?;
                        }
                    })
                })
                .collect();
            for worker in workers {
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a connection thread panicked"))??;
            }
            Ok::<_, anyhow::Error>(())
        })?;
        Ok(clock.elapsed().as_secs_f64())
    }

    fn dbmate(&self) -> anyhow::Result<Measure> {
        if which("dbmate").is_none() {
            bail!("dbmate not found: run `bash scripts/setup.sh` (it installs it with npm)");
        }
        let migrations = self.dir.join("dbmate");
        std::fs::create_dir_all(&migrations)?;
        for (i, (name, up, down)) in migrations_for_dbmate(self.kind).iter().enumerate() {
            std::fs::write(
                migrations.join(format!("2024010100000{}_{name}.sql", i + 2)),
                format!("-- migrate:up\n{up}\n-- migrate:down\n{down}"),
            )?;
        }
        let script = format!(
            "xargs -P{} -I{{}} dbmate --no-dump-schema --migrations-dir {} --url mysql://root@127.0.0.1:{}/{{}} up < {} > /dev/null",
            self.cores,
            migrations.display(),
            self.port,
            self.dir.join("tenants.txt").display()
        );
        measure("sh", &["-c", &script], None)
    }
}

fn migrations_for_dbmate(kind: BenchEngine) -> [(&'static str, &'static str, &'static str); 3] {
    migrations(kind)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
