//! `cargo xtask bench`: speed and memory, measured side by side with a peer in one run.
//!
//! - `bench build-patch`: `build-patch` of a generated code tree (10,000 files, ~100 MB by
//!   default) against `tar czf` of the same tree: the floor for "read everything, compress it".
//! - `bench apply`: `bascule apply` of the demo 2.0.0 bundle on N SQLite site databases against
//!   a parallel loop of the `sqlite3` client running the same `up.sql` files (`xargs -P`), which
//!   does the same SQL work with none of Bascule's safety (no journal, no version table, no undo).
//!   The rollback is timed too.
//!
//! - `bench rehearse`: one rehearsal run and three, per driver, and each run's phases.
//!
//! Every measured command runs as a child under GNU `time`, which reports wall time and peak
//! resident memory. Figures are printed, never asserted: benchmarks are not tests.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{build_patch, static_runtime, workspace_root};

mod measure;
mod migrate;
mod rehearse;
mod sampling;

use measure::{bench_dir, ensure_gnu_time, measure, Measure};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Migrate step on N MariaDB/PostgreSQL tenant databases, against dbmate, client loops and
    /// persistent client sessions (see xtask/src/bench/migrate.rs).
    Migrate {
        /// Site databases (or schemas).
        #[arg(long, default_value_t = 2_000)]
        sites: usize,
        #[arg(long, value_enum, default_value = "mariadb")]
        engine: migrate::BenchEngine,
        /// Databases of the nothing-to-apply run (0: skip it).
        #[arg(long, default_value_t = 5_000)]
        idle_sites: usize,
        /// Leave dbmate out (it takes minutes at N = 2,000).
        #[arg(long)]
        skip_dbmate: bool,
        /// Measure Bascule and the persistent-session limits this many times, each round from
        /// the same 1.0.0 databases, and report the medians (short runs vary from one to the
        /// next).
        #[arg(long, default_value_t = 1)]
        rounds: usize,
    },
    /// Time and peak memory of build-patch on a big code tree, against `tar czf`.
    BuildPatch {
        /// Files in the generated code tree.
        #[arg(long, default_value_t = 10_000)]
        files: usize,
        /// Total size of the tree, in MiB.
        #[arg(long, default_value_t = 100)]
        mib: usize,
    },
    /// Time of apply (and rollback) on N SQLite site databases, against a `sqlite3` loop.
    Apply {
        /// Site databases on the demo host.
        #[arg(long, default_value_t = 1_000)]
        sites: usize,
    },
    /// Time of the core-sampling fetch (sites × pages from the demo app), against `xargs curl`.
    Sampling {
        #[arg(long, default_value_t = 50)]
        sites: usize,
        /// Pages per site (at most 10).
        #[arg(long, default_value_t = 10)]
        pages: usize,
        /// Parallel requests, on both sides.
        #[arg(long, default_value_t = 8)]
        workers: usize,
    },
    /// One rehearsal run and three, per driver, split into revert, deliver, boot, apply and
    /// collect (see xtask/src/bench/rehearse.rs).
    Rehearse,
    /// The measured child of `bench sampling`: fetch a panel.tsv into a directory.
    #[command(hide = true)]
    SamplingFetch {
        panel: PathBuf,
        out: PathBuf,
        #[arg(long, default_value_t = 8)]
        workers: usize,
    },
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ensure_gnu_time()?;
    match args.what {
        What::BuildPatch { files, mib } => bench_build_patch(files, mib),
        What::Apply { sites } => bench_apply(sites),
        What::Rehearse => rehearse::run(),
        What::Sampling {
            sites,
            pages,
            workers,
        } => sampling::bench(sites, pages, workers),
        What::SamplingFetch {
            panel,
            out,
            workers,
        } => sampling::fetch(&panel, &out, workers),
        What::Migrate {
            sites,
            engine,
            idle_sites,
            skip_dbmate,
            rounds,
        } => migrate::run(migrate::Options {
            kind: engine,
            sites,
            idle_sites,
            skip_dbmate,
            rounds,
        }),
    }
}

fn xtask_exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe().context("cannot locate the xtask binary")
}

fn bench_build_patch(files: usize, mib: usize) -> anyhow::Result<()> {
    let dir = bench_dir("build-patch")?;
    let tree = dir.join("code");
    let bytes = generate_tree(&tree, files, mib * 1024 * 1024)?;
    let patch = write_bench_patch(&dir, &tree)?;
    let runtime = static_runtime::build_static_runtime(&workspace_root())?;
    println!(
        "build-patch: {files} files, {:.1} MiB of code",
        bytes as f64 / (1024.0 * 1024.0)
    );
    let xtask = xtask_exe()?;
    let xtask = xtask.to_string_lossy();
    let out = dir.join("out");
    let out_arg = out.to_string_lossy();
    let bascule = build_patch_args(&patch, &out_arg, &runtime);
    let args: Vec<&str> = bascule.iter().map(String::as_str).collect();
    let ours = measure(&xtask, &args, None)?;
    let tar_out = dir.join("peer.tar.gz");
    let peer = measure(
        "tar",
        &[
            "czf",
            &tar_out.to_string_lossy(),
            "-C",
            &tree.to_string_lossy(),
            ".",
        ],
        None,
    )?;
    ours.show("cargo xtask build-patch (validate, snapshot, pack)");
    peer.show("tar czf (same tree)");
    println!(
        "  ratio build-patch / tar czf: {:.2}×",
        ours.seconds / peer.seconds.max(0.01)
    );
    Ok(())
}

fn build_patch_args(patch: &Path, out: &str, runtime: &Path) -> Vec<String> {
    vec![
        "build-patch".into(),
        patch.to_string_lossy().into_owned(),
        "--out".into(),
        out.into(),
        "--runtime".into(),
        runtime.to_string_lossy().into_owned(),
    ]
}

/// A code-like tree: text files of varied sizes in nested directories, deterministic.
fn generate_tree(root: &Path, files: usize, total: usize) -> anyhow::Result<u64> {
    let mut seed: u64 = 0x5eed;
    let average = (total / files.max(1)).max(1);
    let mut written = 0u64;
    for index in 0..files {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let size = average / 2 + (seed >> 33) as usize % average.max(1);
        let path = root
            .join(format!("module{:02}", index % 40))
            .join(format!("part{:02}", (index / 40) % 25))
            .join(format!("file{index:05}.php"));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut text = String::with_capacity(size + 80);
        let mut line = 0u64;
        while text.len() < size {
            line += 1;
            let word = seed.wrapping_add(line.wrapping_mul(2654435761)) % 100_000;
            text.push_str(&format!(
                "    $value{word} = compute_{index}($input, {line}); // step {word}\n"
            ));
        }
        written += text.len() as u64;
        std::fs::write(&path, text)?;
    }
    Ok(written)
}

fn write_bench_patch(dir: &Path, tree: &Path) -> anyhow::Result<PathBuf> {
    let patch = dir.join("patch");
    let migration = patch.join("migrations/main/0001_bench");
    std::fs::create_dir_all(&migration)?;
    std::fs::write(
        migration.join("up.sql"),
        "CREATE TABLE bench (id INTEGER PRIMARY KEY, label TEXT);\n",
    )?;
    std::fs::write(migration.join("down.sql"), "DROP TABLE bench;\n")?;
    let source = pathdiff(tree, &patch);
    std::fs::write(
        patch.join("patch.toml"),
        format!(
            "[patch]\nversion = \"9.9.9\"\nfrom = \"*\"\nmode = \"downtime\"\ntitle = \"benchmark\"\n\n\
             [code]\nsource = \"{}\"\n\n[classes.main]\ndialect = \"sqlite\"\n",
            source.display()
        ),
    )?;
    Ok(patch)
}

/// `tree` relative to `from` (both under the same bench directory).
fn pathdiff(tree: &Path, from: &Path) -> PathBuf {
    let mut up = PathBuf::new();
    let mut base = from;
    loop {
        if let Ok(rest) = tree.strip_prefix(base) {
            return up.join(rest);
        }
        up.push("..");
        match base.parent() {
            Some(parent) => base = parent,
            None => return tree.to_path_buf(),
        }
    }
}

fn bench_apply(sites: usize) -> anyhow::Result<()> {
    let dir = bench_dir("apply")?;
    let runtime = static_runtime::build_static_runtime(&workspace_root())?;
    let bundle = build_patch::build(
        &demo_site::prod::patch_dir("2.0.0"),
        &dir.join("bundles"),
        Some(&runtime),
    )?;
    let delivery = dir.join("delivery");
    std::fs::create_dir_all(&delivery)?;
    let root = bascule_bundle::unpack(&bundle.path, &delivery)?;
    let ours_host = demo_site::prod::generate(&dir.join("host-bascule"), sites)?;
    let peer_host = demo_site::prod::generate(&dir.join("host-sqlite3"), sites)?;
    // The web service runs, as in production: apply samples its pages before and after.
    let _services = ours_host.start_services()?;
    println!("apply: demo 2.0.0 on 1 main + {sites} site SQLite databases");

    let bascule_bin = root.join("bin/bascule");
    let bin = bascule_bin.to_string_lossy();
    let host = ours_host.host_profile.to_string_lossy().into_owned();
    let run = |command: &str| {
        measure(
            &bin,
            &[command, "--host", &host, "--no-multiplexer", "--quiet"],
            None,
        )
    };
    let apply = measure(
        &bin,
        &[
            "apply",
            "--host",
            &host,
            "--no-multiplexer",
            "--allow-forbidden-time",
            "a benchmark",
            "--yes",
            "--quiet",
        ],
        None,
    )?;
    let rollback = run("rollback")?;
    let peer = sqlite3_loop(&peer_host, &root)?;
    apply.show("bascule apply (all steps, journal, checks)");
    rollback.show("bascule rollback");
    peer.show("xargs -P2 sqlite3 < up.sql (no safety)");
    println!(
        "  ratio apply / sqlite3 loop: {:.2}×; rollback / apply: {:.2}×",
        apply.seconds / peer.seconds.max(0.01),
        rollback.seconds / apply.seconds.max(0.01)
    );
    Ok(())
}

/// The peer: the same up scripts, fed to the `sqlite3` client, two databases at a time.
fn sqlite3_loop(host: &demo_site::prod::DemoHost, bundle: &Path) -> anyhow::Result<Measure> {
    let site_up = bundle.join("migrations/site/0002_add_avatar/up.sql");
    let main_up = bundle.join("migrations/main/0002_site_features/up.sql");
    let list = host.data_dir.join("sites.txt");
    let names: Vec<String> = host
        .sites
        .iter()
        .map(|s| host.site_db(s).to_string_lossy().into_owned())
        .collect();
    std::fs::write(&list, names.join("\n"))?;
    let script = format!(
        "sqlite3 {main} < {main_up} && xargs -P2 -I{{}} sh -c 'sqlite3 {{}} < {site_up}' < {list}",
        main = host.main_db().display(),
        main_up = main_up.display(),
        site_up = site_up.display(),
        list = list.display()
    );
    measure("sh", &["-c", &script], None)
}
