//! `cargo xtask build-patch`: a patch source in, one reproducible bundle out.
//!
//! The stages, in order, each refusing to go on if something is wrong, so that a broken patch
//! never yields a bundle someone could ship:
//!
//! 1. **load** `patch.toml` and the migrations (errors name the file and the key);
//! 2. **validate** every migration's SQL for its class's dialect, reporting *all* issues at once,
//!    then **lint** it ([`crate::lint`]): zero-downtime errors refuse the build, warnings are printed;
//!    then load the **documents** (`docs/*.toml`): every problem, at its file and line, refuses it;
//! 3. **snapshot** the code: copy `code.source` to a scratch directory, run `code.build` there
//!    (never in the developer's tree), keep `code.output` minus `code.exclude`;
//! 4. **stage** the patch files, the documents (their TOML sources, which the runtime reads, and
//!    each rendered as Markdown and as an HTML page, the bulletin with the migrations and the
//!    lint summary) and the static runtime;
//! 5. **pack** with [`bascule_bundle::pack`], to a temporary name renamed at the end: a failed
//!    build leaves nothing in `--out`;
//! 6. **sign**, with `--sign KEY`: a detached signature beside the tarball ([`crate::signing`]).
//!
//! The migrations of a class may skip numbers where the earlier patch ends (41, then 43): the
//! bundle alone could not tell a database at 41 is up to date for it, so the build reads the
//! sibling patches (as `check-migrations` does) and records that base version per class in the
//! manifest ([`base_versions`]).
//!
//! The mtime of every entry is `SOURCE_DATE_EPOCH` if set, else `patch.source_date_epoch`, so the
//! same inputs give the same bytes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bascule::fsutil::{copy_tree_with, FileCopy};
use bascule_bundle::{BuildInfo, MigrationEntry, PackMeta, PatchMeta};
use bascule_pages::documents::{self, BuildFacts, MigrationFact};
use bascule_patch::docs::{Documents, BULLETIN_FILE, CHECKLIST_FILE, TESTBOOK_FILE};
use bascule_patch::{Dialect, Patch};
use walkdir::WalkDir;
use xshell::{cmd, Shell};

use crate::static_runtime::{self, StaticRuntime};

#[derive(clap::Args)]
pub struct Args {
    /// The patch source: the directory holding patch.toml.
    pub patch_dir: PathBuf,
    /// Where to write bascule-<version>.tar.gz [default: <workspace>/target/bundles].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Ship this runtime binary instead of building one; it must be statically linked.
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
    /// Sign the bundle with this secret key (`cargo xtask keygen`): writes
    /// `bascule-<version>.tar.gz.minisig` beside it, which hosts that pin the public key require.
    /// The key's password is read from BASCULE_KEY_PASSWORD, else asked.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// What a successful build produced.
#[derive(Debug)]
pub struct Built {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
    pub files: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let out = args
        .out
        .unwrap_or_else(|| crate::project_root().join("target").join("bundles"));
    let built = build(&args.patch_dir, &out, args.runtime.as_deref())?;
    if let Some(key) = &args.sign {
        let signature = crate::signing::sign_bundle(&built.path, key)?;
        eprintln!("signed: {}", signature.display());
    }
    Ok(())
}

/// Builds the bundle of the patch source at `patch_dir` into `out`.
pub fn build(patch_dir: &Path, out: &Path, runtime: Option<&Path>) -> anyhow::Result<Built> {
    let patch = load(patch_dir)?;
    validate(&patch)?;
    let base_versions = base_versions(&patch);
    let lint = crate::lint::check_before_build(&patch)?;
    let documents = load_documents(&patch)?;
    let runtime = match runtime {
        Some(path) => static_runtime::inspect(path)?,
        None => static_runtime::inspect(&static_runtime::build_for_project()?)?,
    };
    eprintln!("runtime: {} ({})", runtime.path.display(), runtime.target);
    let staging = tempfile::tempdir().context("cannot create a staging directory")?;
    let clock = std::time::Instant::now();
    snapshot_code(&patch, staging.path())?;
    let snapshot = clock.elapsed();
    stage_patch_files(&patch, staging.path())?;
    stage_docs(&patch, &documents, &lint, staging.path())?;
    stage_runtime(&runtime, staging.path())?;
    let clock = std::time::Instant::now();
    let built = pack(&patch, &runtime, &base_versions, staging.path(), out)?;
    eprintln!(
        "time:   snapshot {:.2} s, pack {:.2} s",
        snapshot.as_secs_f64(),
        clock.elapsed().as_secs_f64()
    );
    report(&patch, &base_versions, &built);
    Ok(built)
}

/// Loads the patch source. `PatchError`'s message already names the file and embeds its cause,
/// so it is shown as one message rather than as an error chain that would repeat the cause.
fn load(patch_dir: &Path) -> anyhow::Result<Patch> {
    Patch::load(patch_dir)
        .map_err(|e| anyhow::anyhow!("cannot load the patch source {}:\n{e}", patch_dir.display()))
}

// ---------------------------------------------------------------------------------------------
// validate

/// Checks every migration of every class; prints all issues and fails if there is any.
fn validate(patch: &Patch) -> anyhow::Result<()> {
    let mut issues = Vec::new();
    let mut raw = 0;
    for migration in patch.migrations.iter() {
        let dialect = dialect_of(patch, &migration.class)?;
        match bascule_sql::validate_migration(&patch.dir, migration, dialect) {
            Ok(report) => raw += report.raw,
            Err(found) => issues.extend(found),
        }
    }
    for issue in &issues {
        eprintln!("{issue}\n");
    }
    if !issues.is_empty() {
        bail!(
            "{} SQL issue(s) in the migrations of {}; nothing was built",
            issues.len(),
            patch.dir.display()
        );
    }
    if raw > 0 {
        eprintln!(
            "note: {raw} raw statement(s) are shipped unchecked (the SQL parser does not know them)"
        );
    }
    Ok(())
}

/// Per class, the version a database must be at for this patch when the numbering skips numbers
/// between the earlier patches and this one: their last number below this patch's first. The
/// earlier patches are the ones the lint reads (siblings with lower versions that load; a
/// directory beside them that is not a patch, or a broken one, is no release), of the same
/// dialect. Classes whose numbers follow on, or that no earlier patch has, are left out; the
/// manifest then holds nothing new.
pub fn base_versions(patch: &Patch) -> BTreeMap<String, u32> {
    let earlier = bascule_lint::history::earlier_patches(patch);
    let mut bases = BTreeMap::new();
    for (class, own) in &patch.migrations.classes {
        let theirs = earlier
            .iter()
            .filter_map(|p| p.migrations.class(class))
            .filter(|c| c.dialect == own.dialect)
            .flat_map(|c| c.migrations.iter());
        if let Some(base) = own.boundary_base(theirs) {
            bases.insert(class.clone(), base);
        }
    }
    bases
}

fn dialect_of(patch: &Patch, class: &str) -> anyhow::Result<Dialect> {
    match patch.spec.classes.get(class) {
        Some(spec) => Ok(spec.dialect),
        None => bail!(
            "{}: class `{class}` has migrations but no [classes.{class}] with its dialect",
            patch.dir.join(bascule_patch::PATCH_FILE).display()
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// snapshot

/// Copies `code.source` to a scratch directory, builds it there, stages `code.output`.
fn snapshot_code(patch: &Patch, staging: &Path) -> anyhow::Result<()> {
    let code = &patch.spec.code;
    let source = patch.dir.join(&code.source);
    if !source.is_dir() {
        bail!(
            "{}: code.source: {} is not a directory",
            patch.dir.join(bascule_patch::PATCH_FILE).display(),
            source.display()
        );
    }
    let excluded = |rel: &Path| is_excluded(&code.exclude, rel);
    let is_git = |rel: &Path| rel.file_name() == Some(".git".as_ref());
    if code.build.is_empty() {
        // Nothing will write to the tree: stage it straight from the source, linked.
        let output = source.join(&code.output);
        let skip = |rel: &Path| is_git(rel) || excluded(rel);
        return copy_tree(&output, &staging.join("code"), &skip, FileCopy::LinkOrCopy);
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let work = scratch.path().join("src");
    // A real copy: build commands may write in place, and must never touch the source.
    copy_tree(&source, &work, &is_git, FileCopy::Copy)?;
    run_build_commands(&work, &code.build)?;
    let output = work.join(&code.output);
    if !output.is_dir() {
        bail!(
            "code.output: {} is not a directory after the build",
            code.output.display()
        );
    }
    copy_tree(
        &output,
        &staging.join("code"),
        &excluded,
        FileCopy::LinkOrCopy,
    )
}

/// Runs each build command with `sh -c` in `dir`; a failure shows the command and its stderr.
fn run_build_commands(dir: &Path, commands: &[String]) -> anyhow::Result<()> {
    let sh = Shell::new()?;
    sh.change_dir(dir);
    for command in commands {
        eprintln!("build: $ {command}");
        let output = cmd!(sh, "sh -c {command}")
            .quiet()
            .ignore_status()
            .output()
            .with_context(|| format!("cannot run the build command `{command}`"))?;
        if !output.status.success() {
            bail!(
                "the build command `{command}` failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    Ok(())
}

/// Copies a tree (see [`bascule::fsutil::copy_tree_with`]) with the context of an error.
fn copy_tree(
    from: &Path,
    to: &Path,
    skip: &dyn Fn(&Path) -> bool,
    how: FileCopy,
) -> anyhow::Result<()> {
    copy_tree_with(from, to, skip, how)
        .map(|_| ())
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))
}

/// Whether a path (relative to `code.output`) matches an exclude pattern, by its whole relative
/// path or by its file name.
fn is_excluded(patterns: &[String], rel: &Path) -> bool {
    let path = rel.to_string_lossy();
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    patterns
        .iter()
        .any(|p| glob_match(p, &path) || glob_match(p, &name))
}

/// A small glob: `*` and `?` within one path segment, `**` for any number of segments.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    let pat: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((p, rest)) => segs.split_first().is_some_and(|(s, tail)| {
            let p: Vec<char> = p.chars().collect();
            let s: Vec<char> = s.chars().collect();
            match_segment(&p, &s) && match_segments(rest, tail)
        }),
    }
}

fn match_segment(p: &[char], s: &[char]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some(('*', rest)) => (0..=s.len()).any(|i| match_segment(rest, &s[i..])),
        Some(('?', rest)) => !s.is_empty() && match_segment(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_segment(rest, &s[1..]),
    }
}

// ---------------------------------------------------------------------------------------------
// stage

/// patch.toml, migrations/, checks/, hooks/, adopt/ (modes kept).
fn stage_patch_files(patch: &Patch, staging: &Path) -> anyhow::Result<()> {
    let file = bascule_patch::PATCH_FILE;
    fs::copy(patch.dir.join(file), staging.join(file))
        .with_context(|| format!("cannot copy {}", patch.dir.join(file).display()))?;
    for dir in [
        "migrations",
        "checks",
        "hooks",
        bascule_patch::adopt::ADOPT_DIR,
    ] {
        let from = patch.dir.join(dir);
        if from.is_dir() {
            copy_tree(&from, &staging.join(dir), &|_| false, FileCopy::Copy)?;
        }
    }
    Ok(())
}

/// Loads `docs/{bulletin,checklist,testbook}.toml` and checks the checklist's steps against the
/// run's; prints every problem as `file:line: message` and fails if there is any.
fn load_documents(patch: &Patch) -> anyhow::Result<Documents> {
    let problems = bascule_lint::documents::problems(&patch.dir, &crate::lint::run_steps());
    if problems.is_empty() {
        return Documents::load(&patch.dir).map_err(|problems| {
            let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
            anyhow::anyhow!(
                "the documents changed while they were read:\n{}",
                problems.join("\n")
            )
        });
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    bail!(
        "{} problem(s) in the documents of {}; nothing was built (see `cargo xtask lint {}`)",
        problems.len(),
        patch.dir.display(),
        patch.dir.display()
    )
}

/// What the bulletin shows of the build: version, title, migrations, lint counts.
fn build_facts(patch: &Patch, lint: &bascule_lint::Report) -> BuildFacts {
    BuildFacts {
        version: patch.version().to_string(),
        title: patch.spec.patch.title.clone(),
        migrations: patch
            .migrations
            .iter()
            .map(|m| MigrationFact {
                class: m.class.clone(),
                name: m.label(),
                what: documents::what_of(&m.up),
            })
            .collect(),
        lint: crate::lint::counts(lint),
    }
}

/// `docs/`: the three sources as written (the runtime reads the checklist and the test book),
/// and each rendered as `<name>.md` and `<name>.html`.
fn stage_docs(
    patch: &Patch,
    docs: &Documents,
    lint: &bascule_lint::Report,
    staging: &Path,
) -> anyhow::Result<()> {
    let from = patch.dir.join("docs");
    let to = staging.join("docs");
    fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    for name in [BULLETIN_FILE, CHECKLIST_FILE, TESTBOOK_FILE] {
        fs::copy(from.join(name), to.join(name))
            .with_context(|| format!("cannot copy {}", from.join(name).display()))?;
    }
    let facts = build_facts(patch, lint);
    let version = &facts.version;
    let steps = crate::lint::run_steps();
    let rendered = [
        (
            "bulletin",
            documents::bulletin_markdown(&docs.bulletin, &facts),
            documents::bulletin_page(&docs.bulletin, &facts),
        ),
        (
            "checklist",
            documents::checklist_markdown(&docs.checklist, version, &steps),
            documents::checklist_page(&docs.checklist, version, &steps),
        ),
        (
            "testbook",
            documents::testbook_markdown(&docs.testbook, version),
            documents::testbook_page(&docs.testbook, version),
        ),
    ];
    for (name, markdown, page) in rendered {
        write(&to.join(format!("{name}.md")), markdown.as_bytes())?;
        write(&to.join(format!("{name}.html")), page.as_bytes())?;
    }
    Ok(())
}

fn stage_runtime(runtime: &StaticRuntime, staging: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let bin = staging.join("bin");
    fs::create_dir_all(&bin).with_context(|| format!("cannot create {}", bin.display()))?;
    let dest = bin.join("bascule");
    fs::copy(&runtime.path, &dest)
        .with_context(|| format!("cannot copy the runtime {}", runtime.path.display()))?;
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {} executable", dest.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

// ---------------------------------------------------------------------------------------------
// pack

/// Packs `staging` to `<out>/bascule-<version>.tar.gz`, through a temporary name.
fn pack(
    patch: &Patch,
    runtime: &StaticRuntime,
    base_versions: &BTreeMap<String, u32>,
    staging: &Path,
    out: &Path,
) -> anyhow::Result<Built> {
    let mtime = source_date_epoch(patch)?;
    let top = format!("bascule-{}", patch.version());
    let files = count_files(staging)?;
    fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join(format!("{top}.tar.gz"));
    let partial = out.join(format!(".{top}.tar.gz.partial-{}", std::process::id()));
    let meta = pack_meta(patch, runtime, base_versions, mtime);
    let packed = match bascule_bundle::pack(staging, &top, meta, mtime, &partial) {
        Ok(packed) => packed,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e).with_context(|| format!("cannot pack {}", path.display()));
        }
    };
    if let Err(e) = fs::rename(&partial, &path) {
        let _ = fs::remove_file(&partial);
        return Err(e).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(Built {
        path,
        size: packed.size,
        sha256: packed.sha256,
        files,
    })
}

fn pack_meta(
    patch: &Patch,
    runtime: &StaticRuntime,
    base_versions: &BTreeMap<String, u32>,
    mtime: u64,
) -> PackMeta {
    let info = &patch.spec.patch;
    let migrations = patch
        .migrations
        .iter()
        .map(|m| MigrationEntry {
            class: m.class.clone(),
            id: m.id,
            name: m.name.clone(),
            up_sha256: m.checksum.clone(),
            down_sha256: bascule_patch::sha256_hex(m.down.as_bytes()),
            dir_name: (m.label() != format!("{:04}_{}", m.id, m.name)).then(|| m.label()),
        })
        .collect();
    PackMeta {
        patch: PatchMeta {
            version: info.version.to_string(),
            from: info.from.to_string(),
            mode: info.mode.to_string(),
            title: info.title.clone(),
        },
        build: BuildInfo {
            bascule_version: env!("CARGO_PKG_VERSION").to_string(),
            source_date_epoch: mtime,
            runtime_target: runtime.target.clone(),
        },
        base_versions: base_versions.clone(),
        migrations,
    }
}

/// `SOURCE_DATE_EPOCH` if set (the reproducible-builds convention), else the patch's own.
fn source_date_epoch(patch: &Patch) -> anyhow::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH=`{value}` is not a number of seconds since the epoch")
        }),
        Err(_) => Ok(patch.spec.patch.source_date_epoch),
    }
}

fn count_files(dir: &Path) -> anyhow::Result<usize> {
    let mut count = 0;
    for entry in WalkDir::new(dir) {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        count += usize::from(!entry.file_type().is_dir());
    }
    Ok(count)
}

fn report(patch: &Patch, base_versions: &BTreeMap<String, u32>, built: &Built) {
    println!("bundle: {}", built.path.display());
    println!("size:   {} ({} bytes)", human_size(built.size), built.size);
    println!("sha256: {}", built.sha256);
    println!("files:  {} (+ MANIFEST.toml)", built.files);
    for (class, migrations) in &patch.migrations.classes {
        let after = match (base_versions.get(class), migrations.migrations.first()) {
            (Some(base), Some(first)) => format!(
                ", after {base}, the earlier patches' last (the numbering skips to {})",
                first.number()
            ),
            _ => String::new(),
        };
        println!(
            "migrations: {class}: {} ({}){after}",
            migrations.migrations.len(),
            migrations
                .dialect
                .map_or_else(|| "?".to_string(), |d| d.to_string())
        );
    }
}

/// `12.3 MiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("*.log", "app.log"));
        assert!(!glob_match("*.log", "logs/app.log"));
        assert!(glob_match("**/*.log", "logs/app.log"));
        assert!(glob_match("**/*.log", "app.log"));
        assert!(glob_match("tmp/**", "tmp"));
        assert!(glob_match("tmp/**", "tmp/a/b"));
        assert!(glob_match("a/**/z", "a/z"));
        assert!(glob_match("a/**/z", "a/b/c/z"));
        assert!(!glob_match("a/**/z", "a/b/c/y"));
        assert!(glob_match("file?.txt", "file1.txt"));
        assert!(!glob_match("file?.txt", "file10.txt"));
        assert!(glob_match("./node_modules/", "node_modules"));
        assert!(glob_match("é?", "éà"));
    }

    #[test]
    fn excludes_match_path_or_name() {
        let patterns = vec!["*.pyc".to_string(), "var/cache".to_string()];
        assert!(is_excluded(&patterns, Path::new("a/b/x.pyc")));
        assert!(is_excluded(&patterns, Path::new("var/cache")));
        assert!(!is_excluded(&patterns, Path::new("other/var/cache/x")));
        assert!(!is_excluded(&patterns, Path::new("a/b/x.py")));
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(2048), "2.0 KiB");
        assert_eq!(human_size(12_897_485), "12.3 MiB");
    }
}
