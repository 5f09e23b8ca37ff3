//! `cargo xtask import`: another migration tool's directory turned into a Bascule patch source.
//!
//! A team arriving with dbmate, golang-migrate, Flyway, Sqitch or Liquibase migrations keeps
//! them and their databases' history. One module per tool reads its layout into an ordered list
//! of [`Imported`] migrations — the tool's id, a name, the up, the down taken from the tool's
//! down/undo/revert/rollback, the checksum the tool records — and what it cannot import
//! ([`Skipped`], with why). This module writes them as `patches/<version>/` from the patch
//! template: `migrations/<class>/<NNNN>_<name>/{up,down}.sql`, numbered in the tool's order, each
//! script starting with a comment naming its origin, and `adopt/<class>.toml` (see
//! [`bascule_patch::AdoptMap`]), which lets a host start each tenant at the version the tool's
//! history table records (`[databases.<class>] adopt = { tool = "…" }`).
//!
//! A migration the tool has no down for gets a `down.sql` that says so in a comment and does
//! nothing: `cargo xtask lint` then reports what the up does that the down does not undo
//! (`down-undoes-up`), and the import lists it. Adding a tool: a module here and a line in
//! [`TOOLS`].

mod dbmate;
mod flyway;
mod golang_migrate;
mod liquibase;
mod sqitch;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bascule_patch::{AdoptMap, AdoptedMigration, Dialect, Patch, Tool};

/// One migration read from another tool's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// What the tool calls it in its history table (dbmate/golang-migrate/Flyway version,
    /// Sqitch change name, Liquibase `author:id`).
    pub tool_id: String,
    /// A Bascule name: lower case, digits and `_`.
    pub name: String,
    /// The file the up comes from, relative to the tool's directory (and the changeset).
    pub origin: String,
    pub up: String,
    /// The down and the file it comes from; `None`: the tool has none for it.
    pub down: Option<(String, String)>,
    /// The checksum the tool records for it, where it records one.
    pub checksum: Option<String>,
}

/// Something of the tool's directory that is not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub origin: String,
    pub why: String,
}

/// What a tool's directory holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub migrations: Vec<Imported>,
    pub skipped: Vec<Skipped>,
    /// Sqitch: the plan's project.
    pub project: Option<String>,
    /// Changes made to the scripts on the way (e.g. Sqitch's `BEGIN;`/`COMMIT;` removed).
    pub notes: Vec<String>,
}

/// Reads a tool's migrations directory.
pub type Reader = fn(&Path) -> anyhow::Result<Source>;

/// Every tool and its reader.
pub const TOOLS: &[(Tool, Reader)] = &[
    (Tool::Dbmate, dbmate::read),
    (Tool::GolangMigrate, golang_migrate::read),
    (Tool::Flyway, flyway::read),
    (Tool::Sqitch, sqitch::read),
    (Tool::Liquibase, liquibase::read),
];

#[derive(clap::Args)]
pub struct Args {
    /// The tool the migrations were written for.
    #[arg(long, value_parser = tool_name)]
    pub from: Tool,
    /// The tool's migrations directory (Sqitch: the directory of sqitch.plan).
    pub dir: PathBuf,
    /// The patch source to create, e.g. patches/1.0.0 (absent or empty).
    #[arg(long)]
    pub into: PathBuf,
    /// The database class the migrations belong to.
    #[arg(long, default_value = "main")]
    pub class: String,
    /// The SQL dialect of the class.
    #[arg(long, default_value = "sqlite", value_parser = dialect_name)]
    pub dialect: Dialect,
    /// The patch's version [default: the name of the `--into` directory].
    #[arg(long)]
    pub version: Option<String>,
}

fn tool_name(name: &str) -> Result<Tool, String> {
    Tool::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
        format!("`{name}` is not a tool: one of {}", known.join(", "))
    })
}

fn dialect_name(name: &str) -> Result<Dialect, String> {
    match name {
        "sqlite" => Ok(Dialect::Sqlite),
        "mysql" => Ok(Dialect::Mysql),
        "postgres" => Ok(Dialect::Postgres),
        other => Err(format!("`{other}`: one of sqlite, mysql, postgres")),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let version = match &args.version {
        Some(v) => v.clone(),
        None => {
            let name = args
                .into
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if semver::Version::parse(&name).is_err() {
                bail!(
                    "--into {}: `{name}` is not a version; name the directory after it (patches/1.0.0) or pass --version",
                    args.into.display()
                );
            }
            name
        }
    };
    let report = import(
        &args.dir,
        args.from,
        &args.into,
        &args.class,
        args.dialect,
        &version,
    )?;
    println!("{}", report.summary);
    if !report.warnings.is_empty() {
        eprintln!("{}", report.warnings);
    }
    Ok(())
}

/// What an import did, for people: the summary on stdout, the migrations without a down and
/// what was not imported on stderr.
#[derive(Debug)]
pub struct Report {
    pub summary: String,
    pub warnings: String,
    pub without_down: Vec<String>,
    pub skipped: Vec<Skipped>,
}

/// Reads `dir` as `tool` lays it out and writes the patch source `into`.
pub fn import(
    dir: &Path,
    tool: Tool,
    into: &Path,
    class: &str,
    dialect: Dialect,
    version: &str,
) -> anyhow::Result<Report> {
    if !class
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || class.is_empty()
    {
        bail!("--class `{class}`: use lower-case letters, digits and `_`");
    }
    refuse_non_empty(into)?;
    let read = TOOLS
        .iter()
        .find(|(t, _)| *t == tool)
        .map(|(_, read)| read)
        .context("no reader for this tool")?;
    let source = read(dir).with_context(|| format!("cannot import {} ({tool})", dir.display()))?;
    if source.migrations.is_empty() {
        bail!(
            "{}: no {tool} migration found; is this the migrations directory?",
            dir.display()
        );
    }
    if source.migrations.len() > 9999 {
        bail!("{}: more than 9999 migrations", dir.display());
    }
    if into.exists() {
        fs::remove_dir(into).with_context(|| format!("cannot replace {}", into.display()))?;
    }
    crate::new_patch::create_from_template(
        into,
        version,
        &format!("<{version}"),
        &format!("Adopt the {tool} migrations"),
    )?;
    let written = write_patch(into, tool, class, dialect, &source);
    if let Err(e) = written {
        let _ = fs::remove_dir_all(into);
        return Err(e);
    }
    Patch::load(into)
        .with_context(|| format!("{} was written but does not load", into.display()))?;

    let without_down: Vec<String> = source
        .migrations
        .iter()
        .enumerate()
        .filter(|(_, m)| m.down.is_none())
        .map(|(i, m)| format!("{:04}_{} ({})", i + 1, m.name, m.origin))
        .collect();
    let mut summary = format!(
        "imported {} {tool} migration(s) from {} into {} (class `{class}`, {dialect}); adopt/{class}.toml maps them to the tool's ids",
        source.migrations.len(),
        dir.display(),
        into.display()
    );
    let _ = write!(
        summary,
        "\nhost profile: [databases.{class}] adopt = {{ tool = \"{tool}\" }} starts each tenant where its {tool} history stands"
    );
    let mut warnings = String::new();
    if !without_down.is_empty() {
        let _ = writeln!(
            warnings,
            "{} migration(s) have no down in {tool}: their down.sql says so and does nothing; write it (cargo xtask lint reports what it does not undo):",
            without_down.len()
        );
        for m in &without_down {
            let _ = writeln!(warnings, "  {m}");
        }
    }
    if !source.skipped.is_empty() {
        let _ = writeln!(warnings, "not imported:");
        for s in &source.skipped {
            let _ = writeln!(warnings, "  {}: {}", s.origin, s.why);
        }
    }
    for note in &source.notes {
        let _ = writeln!(warnings, "note: {note}");
    }
    Ok(Report {
        summary,
        warnings: warnings.trim_end().to_string(),
        without_down,
        skipped: source.skipped,
    })
}

/// `into` must not exist, or be an empty directory: an import never writes over a patch.
fn refuse_non_empty(into: &Path) -> anyhow::Result<()> {
    match fs::read_dir(into) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} exists and is not empty: import into a new directory (nothing was written)",
                    into.display()
                );
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => bail!("{}: {e}", into.display()),
    }
}

/// Replaces the template's example migration and check with the imported migrations and
/// `adopt/<class>.toml`, and declares the class with its dialect.
fn write_patch(
    into: &Path,
    tool: Tool,
    class: &str,
    dialect: Dialect,
    source: &Source,
) -> anyhow::Result<()> {
    for example in ["migrations", "checks"] {
        let path = into.join(example);
        if path.exists() {
            fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    let toml_path = into.join(bascule_patch::PATCH_FILE);
    let text = fs::read_to_string(&toml_path)
        .with_context(|| format!("cannot read {}", toml_path.display()))?;
    let declared = "[classes.main]\ndialect = \"sqlite\"";
    if !text.contains(declared) {
        bail!(
            "{}: the template no longer declares `{declared}`; the import needs fixing",
            toml_path.display()
        );
    }
    let text = text.replace(
        declared,
        &format!("[classes.{class}]\ndialect = \"{dialect}\""),
    );
    fs::write(&toml_path, text).with_context(|| format!("cannot write {}", toml_path.display()))?;

    let mut map = AdoptMap {
        tool,
        project: source.project.clone(),
        migrations: Vec::new(),
    };
    for (i, m) in source.migrations.iter().enumerate() {
        let number = i as u32 + 1;
        let dir = into
            .join("migrations")
            .join(class)
            .join(format!("{number:04}_{}", m.name));
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let up = format!(
            "-- imported from {tool} {}\n{}",
            m.origin,
            ensure_newline(&m.up)
        );
        let down = match &m.down {
            Some((origin, down)) => {
                format!("-- imported from {tool} {origin}\n{}", ensure_newline(down))
            }
            None => format!(
                "-- imported from {tool} {}: {tool} has no down for it.\n\
                 -- Write here the statements that undo up.sql: `bascule apply` runs them, in reverse\n\
                 -- order, if anything fails after the up ran (cargo xtask lint reports what is missing).\n",
                m.origin
            ),
        };
        write(&dir.join("up.sql"), &up)?;
        write(&dir.join("down.sql"), &down)?;
        map.migrations.push(AdoptedMigration {
            number,
            id: m.tool_id.clone(),
            checksum: m.checksum.clone(),
        });
    }
    let adopt = into.join(bascule_patch::adopt::ADOPT_DIR);
    fs::create_dir_all(&adopt).with_context(|| format!("cannot create {}", adopt.display()))?;
    write(&adopt.join(format!("{class}.toml")), &map.to_toml())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn ensure_newline(text: &str) -> String {
    let trimmed = text.trim_matches('\n');
    format!("{trimmed}\n")
}

/// A Bascule migration name from a tool's description: lower case, digits and single `_`.
pub(crate) fn bascule_name(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('_') && !name.is_empty() {
            name.push('_');
        }
    }
    let name = name.trim_end_matches('_').to_string();
    if name.is_empty() {
        "migration".to_string()
    } else {
        name
    }
}

/// The `.sql` files under `dir`, recursively, as paths relative to it, sorted.
pub(crate) fn sql_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        bail!("{} is not a directory", dir.display());
    }
    let mut files = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", dir.display()))?;
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "sql") {
            files.push(entry.path().strip_prefix(dir)?.to_path_buf());
        }
    }
    Ok(files)
}

pub(crate) fn read_text(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A script's text, `None` when it holds nothing but blanks and comments.
pub(crate) fn non_empty(text: &str) -> Option<String> {
    let meaningful = text
        .lines()
        .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
    meaningful.then(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The patch source an import of `fixtures/adopt/<tool>` writes: every file but the
    /// template's own, with its content.
    fn imported(tool: Tool, fixture: &str, dialect: Dialect) -> String {
        let fixtures = crate::workspace_root().join("fixtures/adopt").join(fixture);
        let out = tempfile::tempdir().unwrap();
        let into = out.path().join("1.0.0");
        let report = import(&fixtures, tool, &into, "main", dialect, "1.0.0").unwrap();
        let mut text = String::new();
        for sub in ["migrations", "adopt"] {
            for entry in walkdir::WalkDir::new(into.join(sub)).sort_by_file_name() {
                let entry = entry.unwrap();
                if entry.file_type().is_file() {
                    let rel = entry.path().strip_prefix(&into).unwrap();
                    let _ = writeln!(text, "=== {}", rel.display());
                    text.push_str(&fs::read_to_string(entry.path()).unwrap());
                }
            }
        }
        let _ = writeln!(text, "=== report\n{}", report.warnings);
        let classes = fs::read_to_string(into.join("patch.toml")).unwrap();
        assert!(classes.contains(&format!("[classes.main]\ndialect = \"{dialect}\"")));
        text
    }

    #[test]
    fn dbmate() {
        insta::assert_snapshot!(imported(
            Tool::Dbmate,
            "dbmate/db/migrations",
            Dialect::Sqlite
        ));
    }

    #[test]
    fn golang_migrate() {
        insta::assert_snapshot!(imported(
            Tool::GolangMigrate,
            "golang-migrate",
            Dialect::Sqlite
        ));
    }

    #[test]
    fn flyway() {
        insta::assert_snapshot!(imported(
            Tool::Flyway,
            "flyway/db/migration",
            Dialect::Sqlite
        ));
    }

    #[test]
    fn sqitch() {
        insta::assert_snapshot!(imported(Tool::Sqitch, "sqitch", Dialect::Postgres));
    }

    #[test]
    fn liquibase() {
        insta::assert_snapshot!(imported(Tool::Liquibase, "liquibase", Dialect::Sqlite));
    }

    #[test]
    fn a_non_empty_target_is_refused_and_left_as_it_was() {
        let out = tempfile::tempdir().unwrap();
        let into = out.path().join("1.0.0");
        fs::create_dir(&into).unwrap();
        fs::write(into.join("notes.txt"), "mine").unwrap();
        let fixtures = crate::workspace_root().join("fixtures/adopt/golang-migrate");
        let err = import(
            &fixtures,
            Tool::GolangMigrate,
            &into,
            "main",
            Dialect::Sqlite,
            "1.0.0",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("exists and is not empty"), "{err}");
        assert_eq!(fs::read_dir(&into).unwrap().count(), 1);
    }

    #[test]
    fn names_are_bascule_names() {
        assert_eq!(bascule_name("Create person table"), "create_person_table");
        assert_eq!(bascule_name("--add  Users!"), "add_users");
        assert_eq!(bascule_name("é"), "migration");
    }
}
