//! `cargo xtask init-platform <repo>`: Bascule in a platform's own repository, the cargo-xtask
//! way.
//!
//! A platform team lives in its own repository (a PHP, Python or Rust application), not in
//! Bascule's. This command gives that repository the same `cargo xtask` as Bascule's workspace:
//!
//! - `xtask/`: a tiny binary crate, `platform-xtask`, whose `main` is one call to
//!   [`crate::platform_main`] of Bascule's developer library (this crate), a path dependency on
//!   the checkout (a git dependency works the same way). The library finds the repository from
//!   the calling crate's directory, so `patches/`, `target/bundles/` and the static runtime's
//!   build directory are the platform's, while the template and the runtime's source are the
//!   checkout's;
//! - `.cargo/config.toml`: the `xtask` alias (added to an existing file that has none);
//! - `Cargo.toml`: a workspace of its own (`members = ["xtask"]`, so no workspace above the
//!   repository adopts it) and `Cargo.lock`, the checkout's, so the build resolves to the versions
//!   Bascule is built and tested with, offline with what is already downloaded;
//! - `patches/<version>/`: the first patch, made by `new-patch` from `patch-template/`;
//! - `host.toml.example`: the reference host profile, every key commented;
//! - `/target/` in `.gitignore`.
//!
//! It checks everything before it writes anything: an `xtask/` that is not Bascule's, an `xtask`
//! alias that runs something else, an existing Cargo manifest (a Rust platform's own workspace,
//! which it does not edit: the message says the one change to make by hand), an existing first
//! patch or a different `host.toml.example` refuse the command, naming the file, and leave the
//! repository as it was.

use std::fs;
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context};

/// The name of the platform's `xtask` package: not `xtask`, which is the name of the library it
/// depends on (one package name per lockfile), and its binary's name too, so a target directory
/// shared with Bascule's workspace keeps Bascule's own `xtask` binary.
pub const PACKAGE: &str = "platform-xtask";

/// The value of the `xtask` alias in the platform's `.cargo/config.toml`.
pub const ALIAS: &str = "run --package platform-xtask --";

const XTASK_MANIFEST: &str = include_str!("init_platform/xtask-Cargo.toml.tmpl");
const XTASK_MAIN: &str = include_str!("init_platform/main.rs.tmpl");
const WORKSPACE_MANIFEST: &str = include_str!("init_platform/workspace-Cargo.toml.tmpl");
const CARGO_CONFIG: &str = include_str!("init_platform/config.toml.tmpl");

const CONFIG_FILE: &str = ".cargo/config.toml";
const HOST_EXAMPLE: &str = "host.toml.example";

#[derive(clap::Args)]
pub struct Args {
    /// The platform's repository (created when it does not exist).
    pub repo: PathBuf,
    /// The version of the first patch, written in patches/<VERSION>/.
    #[arg(long, default_value = "1.0.0")]
    pub version: String,
    /// The platform versions the first patch applies to [default: "<VERSION"].
    #[arg(long, value_name = "REQ")]
    pub from: Option<String>,
    /// The Bascule checkout the platform's xtask depends on [default: the one running].
    #[arg(long, value_name = "DIR")]
    pub bascule: Option<PathBuf>,
}

/// Everything the command will write, decided before anything is written.
#[derive(Debug)]
struct Plan {
    repo: PathBuf,
    bascule: PathBuf,
    /// New files: path relative to the repository, content.
    files: Vec<(PathBuf, String)>,
    /// `.cargo/config.toml`'s new content, when the alias must be added.
    config: Option<String>,
    /// `.gitignore`'s new content, when `/target/` must be added.
    gitignore: Option<String>,
    patch_dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let bascule = match &args.bascule {
        Some(dir) => dir.clone(),
        None => crate::workspace_root(),
    };
    let plan = plan(&args.repo, &bascule, &args.version, args.from.as_deref())?;
    write(&plan, &args)?;
    let repo = plan.repo.display();
    println!(
        "set up {repo} for Bascule (checkout {}):",
        plan.bascule.display()
    );
    println!("  xtask/               its `cargo xtask` ({PACKAGE}), Bascule's developer commands");
    println!("  .cargo/config.toml   the `xtask` alias");
    println!("  Cargo.toml, Cargo.lock   a workspace of its own, Bascule's lockfile");
    println!(
        "  {}/       the first patch",
        plan.patch_dir
            .strip_prefix(&plan.repo)
            .unwrap_or(&plan.patch_dir)
            .display()
    );
    println!(
        "  {HOST_EXAMPLE}    the host profile to adapt, as /etc/bascule/host.toml, on each host"
    );
    println!(
        "next: cd {repo} && cargo xtask lint patches/{v} && cargo xtask build-patch patches/{v}",
        v = args.version
    );
    Ok(())
}

/// Checks the repository and the checkout and decides every write; writes nothing.
fn plan(repo: &Path, bascule: &Path, version: &str, from: Option<&str>) -> anyhow::Result<Plan> {
    semver::Version::parse(version)
        .with_context(|| format!("--version {version:?}: not a semver version (e.g. 1.0.0)"))?;
    if let Some(from) = from {
        semver::VersionReq::parse(from).with_context(|| {
            format!("--from {from:?}: not a semver requirement (e.g. \">=0.9.0, <1.0.0\")")
        })?;
    }
    let bascule = checkout(bascule)?;
    let repo = absolute(repo)?;
    if repo.symlink_metadata().is_ok() && !repo.is_dir() {
        bail!(
            "{}: not a directory; give the platform's repository",
            repo.display()
        );
    }
    if repo.starts_with(&bascule) || bascule.starts_with(&repo) {
        bail!(
            "{}: the platform's repository must be outside the Bascule checkout {} (and not hold it)",
            repo.display(),
            bascule.display()
        );
    }

    check_xtask_dir(&repo)?;
    let config = cargo_config(&repo)?;
    let write_workspace = workspace_manifest(&repo)?;
    let patch_dir = repo.join("patches").join(version);
    if patch_dir.symlink_metadata().is_ok() {
        bail!(
            "{}: the first patch already exists; nothing was changed. Choose another --version, or \
             start the next patch with `cargo xtask new-patch`",
            patch_dir.display()
        );
    }

    let mut files = Vec::new();
    let xtask_path = relative_path(&repo.join("xtask"), &bascule.join("xtask"));
    let xtask_path = toml::Value::String(xtask_path.to_string_lossy().into_owned()).to_string();
    files.push((
        PathBuf::from("xtask/Cargo.toml"),
        XTASK_MANIFEST.replace("{{xtask_path}}", &xtask_path),
    ));
    files.push((PathBuf::from("xtask/src/main.rs"), XTASK_MAIN.to_string()));
    if write_workspace {
        files.push((PathBuf::from("Cargo.toml"), WORKSPACE_MANIFEST.to_string()));
        files.push((
            PathBuf::from("Cargo.lock"),
            read(&bascule.join("Cargo.lock"))?,
        ));
    }
    let example = host_example(&bascule)?;
    let example_path = repo.join(HOST_EXAMPLE);
    if example_path.symlink_metadata().is_ok() {
        if fs::read_to_string(&example_path).ok().as_deref() != Some(example.as_str()) {
            bail!(
                "{}: already exists and is not Bascule's reference host profile; nothing was \
                 changed. Move it away and run init-platform again",
                example_path.display()
            );
        }
    } else {
        files.push((PathBuf::from(HOST_EXAMPLE), example));
    }

    Ok(Plan {
        gitignore: gitignore(&repo)?,
        repo,
        bascule,
        files,
        config,
        patch_dir,
    })
}

/// The Bascule checkout, absolute, once it is known to hold what the platform needs.
fn checkout(dir: &Path) -> anyhow::Result<PathBuf> {
    let dir = fs::canonicalize(dir).with_context(|| {
        format!(
            "--bascule {}: cannot find this directory; give the path of a Bascule checkout",
            dir.display()
        )
    })?;
    let manifest = dir.join("xtask/Cargo.toml");
    let is_xtask = fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .is_some_and(|t| package_name(&t) == Some("xtask"));
    if !is_xtask {
        bail!(
            "{}: not Bascule's developer library, so {} is not a Bascule checkout; give one with \
             --bascule",
            manifest.display(),
            dir.display()
        );
    }
    for needed in [
        "Cargo.lock",
        "patch-template/patch.toml",
        "runtime/host.toml",
    ] {
        let path = dir.join(needed);
        if !path.is_file() {
            bail!(
                "{}: missing from the Bascule checkout; is it complete?",
                path.display()
            );
        }
    }
    Ok(dir)
}

/// Refuses an existing `xtask/`: another tool's, or Bascule's from an earlier run.
fn check_xtask_dir(repo: &Path) -> anyhow::Result<()> {
    let dir = repo.join("xtask");
    if dir.symlink_metadata().is_err() {
        return Ok(());
    }
    let manifest = dir.join("Cargo.toml");
    let name = fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| toml::from_str::<toml::Table>(&text).ok())
        .and_then(|t| package_name(&t).map(str::to_string));
    match name.as_deref() {
        Some(PACKAGE) => bail!(
            "{}: this repository is already set up for Bascule; nothing was changed. Start a \
             patch with `cargo xtask new-patch patches/<version> --version <version>`",
            manifest.display()
        ),
        Some(other) => bail!(
            "{}: an xtask that is not Bascule's (package `{other}`); nothing was changed. Move it \
             away (or make it call xtask::platform_main) and run init-platform again",
            manifest.display()
        ),
        None => bail!(
            "{}: already exists and is not Bascule's xtask; nothing was changed. Move it away and \
             run init-platform again",
            dir.display()
        ),
    }
}

/// The new content of `.cargo/config.toml` when the alias must be added; refuses an `xtask`
/// alias that runs something else.
fn cargo_config(repo: &Path) -> anyhow::Result<Option<String>> {
    let path = repo.join(CONFIG_FILE);
    let legacy = repo.join(".cargo/config");
    if legacy.is_file() && !path.exists() {
        bail!(
            "{}: cargo's old configuration file name; rename it to config.toml and run \
             init-platform again (nothing was changed)",
            legacy.display()
        );
    }
    if path.symlink_metadata().is_err() {
        return Ok(Some(CARGO_CONFIG.to_string()));
    }
    let text = read(&path)?;
    let table: toml::Table = toml::from_str(&text).with_context(|| {
        format!(
            "{}: not valid TOML; fix it and run init-platform again (nothing was changed)",
            path.display()
        )
    })?;
    match alias_of(&table) {
        Some(Some(alias)) if alias == ALIAS => return Ok(None),
        Some(found) => bail!(
            "{}: an `xtask` alias that is not Bascule's ({}); nothing was changed. Remove it (the \
             alias becomes `xtask = {:?}`) and run init-platform again",
            path.display(),
            found.map_or_else(|| "not a string".to_string(), |a| format!("{a:?}")),
            ALIAS
        ),
        None => {}
    }
    let line = format!("xtask = {}", toml::Value::String(ALIAS.to_string()));
    let merged = if !table.contains_key("alias") {
        let mut text = text.clone();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(CARGO_CONFIG);
        text
    } else if let Some(at) = header_line(&text, "alias") {
        // Right after the `[alias]` header: the table's other aliases stay as they were.
        let mut lines: Vec<&str> = text.lines().collect();
        lines.insert(at + 1, &line);
        lines.join("\n") + "\n"
    } else {
        // The aliases are dotted keys (`alias.b = "build"`) before any table: one more.
        format!("alias.{line}\n{text}")
    };
    let parsed: Option<toml::Table> = toml::from_str(&merged).ok();
    if parsed.as_ref().and_then(alias_of) != Some(Some(ALIAS.to_string())) {
        bail!(
            "{}: cannot add the `xtask` alias to this file's [alias]; nothing was changed. Add \
             `{line}` to it by hand and run init-platform again",
            path.display()
        );
    }
    Ok(Some(merged))
}

/// `alias.xtask` of a Cargo configuration: `None` when absent, `Some(None)` when not a string.
fn alias_of(table: &toml::Table) -> Option<Option<String>> {
    let alias = table.get("alias")?.get("xtask")?;
    Some(alias.as_str().map(str::to_string))
}

/// The index of the line `[name]` (a table header, comments and spaces allowed).
fn header_line(text: &str, name: &str) -> Option<usize> {
    text.lines().position(|line| {
        let line = line.split('#').next().unwrap_or("").trim();
        line.strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .is_some_and(|l| l.trim() == name)
    })
}

/// Whether to write the workspace's `Cargo.toml` and `Cargo.lock`: yes in a repository without
/// one; no when an existing workspace already lists `xtask`; an existing manifest that does not
/// is refused, with the change to make by hand.
fn workspace_manifest(repo: &Path) -> anyhow::Result<bool> {
    let path = repo.join("Cargo.toml");
    if path.symlink_metadata().is_err() {
        let lock = repo.join("Cargo.lock");
        if lock.symlink_metadata().is_ok() {
            bail!(
                "{}: a lockfile without a Cargo.toml beside it; remove it (init-platform writes \
                 Bascule's) and run init-platform again (nothing was changed)",
                lock.display()
            );
        }
        return Ok(true);
    }
    let table: toml::Table = toml::from_str(&read(&path)?).with_context(|| {
        format!(
            "{}: not valid TOML; fix it and run init-platform again (nothing was changed)",
            path.display()
        )
    })?;
    let lists_xtask = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .is_some_and(|m| m.iter().any(|v| v.as_str() == Some("xtask")));
    if lists_xtask {
        return Ok(false);
    }
    bail!(
        "{}: this repository already has a Cargo manifest, which init-platform does not edit; \
         nothing was changed. Add \"xtask\" to its [workspace] members (add a [workspace] \
         section if it is a single package), then run init-platform again: it writes xtask/ \
         and leaves Cargo.toml and Cargo.lock to you",
        path.display()
    )
}

/// The reference host profile, with a line saying where it comes from.
fn host_example(bascule: &Path) -> anyhow::Result<String> {
    let reference = read(&bascule.join("runtime/host.toml"))?;
    Ok(format!(
        "# Bascule's reference host profile (runtime/host.toml), copied by `cargo xtask \
         init-platform`.\n# Adapt it to each host as /etc/bascule/host.toml; \
         `bascule plan --host FILE` shows what it finds.\n#\n{reference}"
    ))
}

/// `.gitignore`'s new content when it does not ignore `target/` yet.
fn gitignore(repo: &Path) -> anyhow::Result<Option<String>> {
    let path = repo.join(".gitignore");
    let text = if path.symlink_metadata().is_ok() {
        read(&path)?
    } else {
        String::new()
    };
    let ignored = text
        .lines()
        .map(str::trim)
        .any(|l| matches!(l, "target" | "target/" | "/target" | "/target/"));
    if ignored {
        return Ok(None);
    }
    let mut text = text;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str("# cargo xtask's builds and bundles\n/target/\n");
    Ok(Some(text))
}

/// Writes the plan: the first patch (`new-patch`, which checks the template), then the files.
fn write(plan: &Plan, args: &Args) -> anyhow::Result<()> {
    fs::create_dir_all(&plan.repo)
        .with_context(|| format!("cannot create {}", plan.repo.display()))?;
    crate::new_patch::run(crate::new_patch::Args {
        dir: plan.patch_dir.clone(),
        version: args.version.clone(),
        from: args.from.clone(),
        title: None,
    })?;
    for (rel, text) in &plan.files {
        write_file(&plan.repo.join(rel), text)?;
    }
    if let Some(text) = &plan.config {
        write_file(&plan.repo.join(CONFIG_FILE), text)?;
    }
    if let Some(text) = &plan.gitignore {
        write_file(&plan.repo.join(".gitignore"), text)?;
    }
    if plan
        .files
        .iter()
        .any(|(rel, _)| rel == Path::new("Cargo.lock"))
    {
        prune_lockfile(&plan.repo);
    }
    Ok(())
}

/// Lets cargo rewrite the copied lockfile for the platform's workspace, offline: the checkout's
/// versions kept, the packages the platform does not build dropped, its `xtask` added — what the
/// first build would do, done now so the repository is clean after it. Only a warning when it
/// cannot: the first build does it then.
fn prune_lockfile(repo: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = std::process::Command::new(cargo)
        .args(["metadata", "--offline", "--format-version", "1"])
        .current_dir(repo)
        .output();
    let failed = match output {
        Ok(out) if out.status.success() => return,
        Ok(out) => String::from_utf8_lossy(&out.stderr).trim().to_string(),
        Err(e) => e.to_string(),
    };
    eprintln!(
        "warning: cargo could not update {} offline ({failed}); the first `cargo xtask` will",
        repo.join("Cargo.lock").display()
    );
}

fn write_file(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn package_name(table: &toml::Table) -> Option<&str> {
    table.get("package")?.get("name")?.as_str()
}

/// `path` made absolute and canonical as far as it exists (a repository to create is not).
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .context("cannot read the current directory")?
            .join(path)
    };
    let mut existing = path.as_path();
    let mut rest = Vec::new();
    while existing.symlink_metadata().is_err() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = fs::canonicalize(existing)
        .with_context(|| format!("cannot resolve {}", existing.display()))?;
    for name in rest.into_iter().rev() {
        if name == ".." || name == "." {
            bail!(
                "{}: give the repository's path without `..`",
                path.display()
            );
        }
        out.push(name);
    }
    Ok(out)
}

/// The path of `to` from the directory `from` (both absolute): relative when they share a
/// directory below the root (a checkout beside the repository: `../../bascule/xtask`), else
/// `to` itself.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let shares_a_directory = to_parts[..common]
        .iter()
        .any(|c| matches!(c, Component::Normal(_)));
    if !shares_a_directory {
        return to.to_path_buf();
    }
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_between_siblings_and_absolute_ones_across_the_root() {
        assert_eq!(
            relative_path(
                Path::new("/home/ana/my-platform/xtask"),
                Path::new("/home/ana/bascule/xtask")
            ),
            Path::new("../../bascule/xtask")
        );
        assert_eq!(
            relative_path(Path::new("/tmp/p/xtask"), Path::new("/work/bascule/xtask")),
            Path::new("/work/bascule/xtask")
        );
    }

    #[test]
    fn the_alias_joins_an_existing_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let cargo = dir.path().join(".cargo");
        fs::create_dir_all(&cargo).unwrap();
        let config = cargo.join("config.toml");

        fs::write(&config, "[build]\njobs = 2\n").unwrap();
        let merged = cargo_config(dir.path()).unwrap().unwrap();
        assert!(merged.starts_with("[build]\njobs = 2\n"), "{merged}");

        fs::write(&config, "[alias]\nb = \"build\"\n\n[build]\njobs = 2\n").unwrap();
        let merged = cargo_config(dir.path()).unwrap().unwrap();
        let table: toml::Table = toml::from_str(&merged).unwrap();
        assert_eq!(table["alias"]["b"].as_str(), Some("build"));
        assert_eq!(table["alias"]["xtask"].as_str(), Some(ALIAS));

        fs::write(&config, "alias.b = \"build\"\n[build]\njobs = 2\n").unwrap();
        let merged = cargo_config(dir.path()).unwrap().unwrap();
        let table: toml::Table = toml::from_str(&merged).unwrap();
        assert_eq!(table["alias"]["xtask"].as_str(), Some(ALIAS));

        fs::write(&config, format!("[alias]\nxtask = \"{ALIAS}\"\n")).unwrap();
        assert!(cargo_config(dir.path()).unwrap().is_none());

        fs::write(&config, "[alias]\nxtask = \"run -p tools --\"\n").unwrap();
        let err = format!("{:#}", cargo_config(dir.path()).unwrap_err());
        assert!(
            err.contains("config.toml") && err.contains("run -p tools"),
            "{err}"
        );
    }

    #[test]
    fn an_existing_workspace_is_used_only_when_it_lists_xtask() {
        let dir = tempfile::tempdir().unwrap();
        assert!(workspace_manifest(dir.path()).unwrap());
        let manifest = dir.path().join("Cargo.toml");
        fs::write(
            &manifest,
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        let err = format!("{:#}", workspace_manifest(dir.path()).unwrap_err());
        assert!(
            err.contains("Cargo.toml") && err.contains("[workspace] members"),
            "{err}"
        );
        fs::write(&manifest, "[workspace]\nmembers = [\"app\", \"xtask\"]\n").unwrap();
        assert!(!workspace_manifest(dir.path()).unwrap());
    }

    #[test]
    fn target_is_ignored_once() {
        let dir = tempfile::tempdir().unwrap();
        let added = gitignore(dir.path()).unwrap().unwrap();
        assert!(added.ends_with("/target/\n"));
        fs::write(dir.path().join(".gitignore"), "vendor/\ntarget\n").unwrap();
        assert!(gitignore(dir.path()).unwrap().is_none());
    }
}
