//! Support for Bascule's end-to-end tests: real bundles, real demo hosts, and the host state
//! they compare before and after a run.
//!
//! The tests never trust an exit code alone: they capture [`HostState`] (from the demo crate,
//! which `cargo xtask demo` uses too) and compare it before and after.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

pub use demo_site::prod::{patch_dir, DemoHost, RunningServices};
pub use demo_site::snapshot::{db_state, tree_listing, DbState, HostState};

/// The workspace root.
pub fn workspace() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(Path::to_path_buf).unwrap_or(here)
}

/// Generates a demo host (see [`demo_site::prod::generate`]), once the `demo-site` server its
/// `web` service runs is built.
pub fn generate(dir: &Path, sites: usize) -> anyhow::Result<DemoHost> {
    demo_site_binary();
    demo_site::prod::generate(dir, sites)
}

/// The `demo-site` server, built once per test process with the same cargo and target directory
/// as the tests, so it lands beside them (`target/debug/demo-site`) where the generator finds it.
/// A fresh `cargo test -p bascule-tests` does not build other packages' binaries by itself.
pub fn demo_site_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| match xtask::demo_prod::ensure_demo_site_binary() {
        Ok(path) => path,
        Err(e) => panic!("cannot build the demo-site server: {e:#}"),
    })
}

/// The static runtime, built once per test process (cargo caches it across processes).
pub fn static_runtime() -> &'static Path {
    static RUNTIME: OnceLock<PathBuf> = OnceLock::new();
    RUNTIME.get_or_init(
        || match xtask::static_runtime::build_static_runtime(&workspace()) {
            Ok(path) => path,
            Err(e) => panic!("cannot build the static runtime: {e:#}"),
        },
    )
}

/// Copies the tree `from` to `to` (a patch source to derive another one from).
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        let target = to.join(entry.path().strip_prefix(from).unwrap_or(entry.path()));
        let copied = if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)
        } else {
            std::fs::copy(entry.path(), &target).map(|_| ())
        };
        copied.unwrap_or_else(|e| panic!("{}: {e}", target.display()));
    }
}

/// Writes `content` to the file `rel` of the unpacked bundle `tree` and rebuilds its entries in
/// MANIFEST.toml to match (a migration script's too), as someone who can write the tree would (or a test that derives a
/// bundle from another); returns the new SHA-256.
pub fn rewrite_bundle_file(tree: &Path, rel: &str, content: &str) -> String {
    std::fs::write(tree.join(rel), content).unwrap_or_else(|e| panic!("{rel}: {e}"));
    let mut manifest = bascule_bundle::Manifest::read(tree).unwrap_or_else(|e| panic!("{e}"));
    let sha = bascule_patch::sha256_hex(content.as_bytes());
    for file in manifest.files.iter_mut().filter(|f| f.path == rel) {
        file.size = content.len() as u64;
        file.sha256 = sha.clone();
    }
    // A migration's script is recorded twice: as a file, and in its migration's entry.
    for migration in manifest.migrations.iter_mut() {
        if rel == format!("{}/up.sql", migration.dir()) {
            migration.up_sha256 = sha.clone();
        } else if rel == format!("{}/down.sql", migration.dir()) {
            migration.down_sha256 = sha.clone();
        }
    }
    let toml = manifest.to_toml().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(tree.join(bascule_bundle::MANIFEST_FILE), toml)
        .unwrap_or_else(|e| panic!("{e}"));
    sha
}

/// Builds the bundle of a fixture patch (`2.0.0`, `2.0.0-broken`) once per test process and
/// returns the tarball.
pub fn fixture_bundle(version: &str) -> PathBuf {
    static BUNDLES: OnceLock<std::sync::Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let bundles = BUNDLES.get_or_init(Default::default);
    let mut bundles = match bundles.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(path) = bundles.get(version) {
        return path.clone();
    }
    let out = workspace()
        .join("target/test-bundles")
        .join(format!("{}-{version}", std::process::id()));
    let built = xtask::build_patch::build(&patch_dir(version), &out, Some(static_runtime()))
        .unwrap_or_else(|e| panic!("cannot build the {version} bundle: {e:#}"));
    bundles.insert(version.to_string(), built.path.clone());
    built.path
}

/// Unpacks a bundle tarball the way an operator does (`tar xzf`), in `into`.
pub fn untar(tarball: &Path, into: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(into)?;
    let status = Command::new("tar")
        .arg("xzf")
        .arg(tarball)
        .arg("-C")
        .arg(into)
        .status()
        .context("tar")?;
    if !status.success() {
        bail!("tar xzf {} failed", tarball.display());
    }
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.gz"))
        .context("bundle name")?;
    Ok(into.join(name))
}

/// Runs the bundle's own `bin/bascule` with `args` (plus the demo's `--host`, and
/// `--no-multiplexer` for runs) and the given environment.
pub fn bascule(bundle: &Path, demo: &DemoHost, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(bundle.join("bin/bascule"));
    command.args(args);
    if args.first() != Some(&"verify") {
        command.arg("--host").arg(&demo.host_profile);
    }
    if matches!(args.first(), Some(&"apply" | &"rollback" | &"recover")) {
        command.arg("--no-multiplexer");
    }
    // Automation confirms the patch's manual checklist items in advance, as tests are.
    if args.first() == Some(&"apply") {
        command.arg("--yes");
    }
    command
        .env_remove("TMUX")
        .env_remove("STY")
        .env_remove("BASCULE_FAIL_AT");
    for (key, value) in env {
        command.env(key, value);
    }
    match command.output() {
        Ok(output) => output,
        Err(e) => panic!("cannot run {}: {e}", bundle.join("bin/bascule").display()),
    }
}

/// The run directory a run printed (`…: log and journal in <dir>`).
pub fn run_dir_of(out: &Output) -> PathBuf {
    let said = String::from_utf8_lossy(&out.stdout);
    said.lines()
        .find_map(|l| l.split(": log and journal in ").nth(1))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no run directory in:\n{said}"))
}

/// stdout and stderr of a run, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "status: {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `bascule apply` in the background, paused right after `step` (`BASCULE_PAUSE_AT`): alive,
/// holding the host lock, until it is resumed.
pub struct PausedApply {
    pub child: Child,
    pub run_dir: PathBuf,
}

impl PausedApply {
    pub fn start(bundle: &Path, demo: &DemoHost, step: &str) -> PausedApply {
        let mut child = Command::new(bundle.join("bin/bascule"))
            .args(["apply", "--no-multiplexer", "--yes", "--host"])
            .arg(&demo.host_profile)
            .env("BASCULE_PAUSE_AT", step)
            .env("BASCULE_TODAY", "tue")
            .env_remove("BASCULE_FAIL_AT")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let marker = format!("paused-at-{step}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let runs = demo.state_dir.join("runs");
            let found = std::fs::read_dir(&runs)
                .into_iter()
                .flatten()
                .map(|e| e.unwrap().path())
                .find(|d| d.join(&marker).exists());
            if let Some(run_dir) = found {
                return PausedApply { child, run_dir };
            }
            if Instant::now() >= deadline || matches!(child.try_wait(), Ok(Some(_))) {
                let _ = child.kill();
                let out = child.wait_with_output().unwrap();
                panic!("the run never paused at {step}: {}", text(&out));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it with SIGKILL, as `kill -9` or the OOM killer would, and reaps it.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.code().is_none(), "killed by a signal: {status}");
    }

    pub fn resume(self) -> std::process::Output {
        std::fs::write(self.run_dir.join("resume"), "").unwrap();
        self.child.wait_with_output().unwrap()
    }
}
