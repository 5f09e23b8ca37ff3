//! `cargo xtask new-patch`: start a patch source from `patch-template/`.
//!
//! The template is the documentation of the patch format that people actually read: every key
//! of `patch.toml` commented, an example migration with its down, a consistency check, and the
//! three documents a release team fills in (revision bulletin, manual checklist, test book).
//! Starting from it rather than from a blank page is how a release gets all of them.
//!
//! The template holds `{{version}}`, `{{from}}` and `{{title}}` placeholders; the copy is loaded
//! with [`Patch::load`] (and its documents with [`Documents::load`]) before we say it is done, so
//! a broken template is caught here and not at build time.
//!
//! # Hitches carried forward
//!
//! What went wrong on the day must not be forgotten by the next release. The team copies each
//! run's intervention sheet (`intervention.json` of the run directory) into the released patch's
//! `interventions/`; `new-patch` reads those of the previous patch (the sibling with the highest
//! version below the new one) and appends one manual checklist item, done outside the run, per
//! hitch still open: "Hitch from <prev> on <host> (run <run>): <text>".

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use bascule_patch::docs::{Documents, CHECKLIST_FILE};
use bascule_patch::{Patch, PatchInfo};
use serde::Deserialize;
use walkdir::WalkDir;

#[derive(clap::Args)]
pub struct Args {
    /// The directory to create, e.g. patches/2.4.0 (it must not exist).
    pub dir: PathBuf,
    /// The version the platform is at once the patch is applied, e.g. 2.4.0.
    #[arg(long)]
    pub version: String,
    /// The platform versions the patch applies to, e.g. ">=2.3.0, <2.4.0" [default: "<VERSION"].
    #[arg(long, value_name = "REQ")]
    pub from: Option<String>,
    /// A one-line title [default: "Release VERSION"].
    #[arg(long)]
    pub title: Option<String>,
}

/// The values put in place of the template's placeholders.
struct Values {
    version: String,
    from: String,
    title: String,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let template = crate::workspace_root().join("patch-template");
    let from = args.from.unwrap_or_else(|| format!("<{}", args.version));
    let info = parse_versions(&args.version, &from)?;
    let values = Values {
        version: info.version.to_string(),
        from: info.from.to_string(),
        title: args
            .title
            .unwrap_or_else(|| format!("Release {}", info.version)),
    };
    let parent = match args.dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let previous = crate::previous_patch_in(parent, &info.version);
    let hitches = match &previous {
        Some(previous) => open_hitches(&previous.dir)?,
        None => Vec::new(),
    };
    create(&template, &args.dir, &values)?;
    match &previous {
        Some(previous) => {
            let carried = carry_hitches(&args.dir, &previous.version.to_string(), &hitches)?;
            println!(
                "carried {carried} open hitch(es) from {} ({}) into docs/{CHECKLIST_FILE}",
                previous.version,
                previous.dir.join("interventions").display()
            );
        }
        None => println!(
            "no patch of a lower version beside {}: no hitch to carry",
            args.dir.display()
        ),
    }
    let patch = Patch::load(&args.dir).with_context(|| {
        format!(
            "{} was created but does not load; the template needs fixing",
            args.dir.display()
        )
    })?;
    if let Err(problems) = Documents::load(&args.dir) {
        let problems: Vec<String> = problems.iter().map(ToString::to_string).collect();
        bail!(
            "{} was created but its documents do not load:\n{}",
            args.dir.display(),
            problems.join("\n")
        );
    }
    println!(
        "created {} (version {}, from \"{}\")",
        args.dir.display(),
        patch.version(),
        patch.spec.patch.from
    );
    println!("next: set [code] source in patch.toml, replace migrations/main/0001_example, fill in docs/");
    Ok(())
}

/// An intervention sheet as the team copies it into `interventions/`: what new-patch reads of
/// it (other fields are ignored).
#[derive(Debug, Deserialize)]
struct Sheet {
    run: String,
    host: String,
    #[serde(default)]
    hitches: Vec<Hitch>,
}

/// One hitch of a run: something that went wrong, noted on the sheet.
#[derive(Debug, Deserialize)]
#[allow(dead_code)] // `by` and `at` are read to check the sheet, not shown.
struct Hitch {
    text: String,
    by: String,
    at: String,
    open: bool,
}

/// An open hitch of the previous patch, with the run it happened in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenHitch {
    pub run: String,
    pub host: String,
    pub text: String,
}

/// The open hitches of the sheets in `<patch>/interventions/*.json`, sheets in file-name order.
pub fn open_hitches(patch: &Path) -> anyhow::Result<Vec<OpenHitch>> {
    let dir = patch.join("interventions");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut sheets: Vec<PathBuf> = fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && p.is_file())
        .collect();
    sheets.sort();
    let mut open = Vec::new();
    for path in sheets {
        let text =
            fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let sheet: Sheet = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not an intervention sheet (run, host, hitches [{{text, by, at, open}}])",
                path.display()
            )
        })?;
        for hitch in sheet.hitches.into_iter().filter(|h| h.open) {
            open.push(OpenHitch {
                run: sheet.run.clone(),
                host: sheet.host.clone(),
                text: hitch.text,
            });
        }
    }
    Ok(open)
}

/// Appends one manual item, outside the run, per hitch to `<dir>/docs/checklist.toml`; how
/// many.
pub fn carry_hitches(dir: &Path, previous: &str, hitches: &[OpenHitch]) -> anyhow::Result<usize> {
    if hitches.is_empty() {
        return Ok(0);
    }
    let path = dir.join("docs").join(CHECKLIST_FILE);
    let mut text =
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!(
        "\n# Hitches still open in {previous}'s intervention sheets, carried by `cargo xtask new-patch`.\n"
    ));
    for hitch in hitches {
        let words = format!(
            "Hitch from {previous} on {} (run {}): {}",
            hitch.host,
            hitch.run,
            hitch.text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        text.push_str(&format!(
            "\n[[item]]\ntext = {}\nmanual = true\n",
            toml::Value::String(words)
        ));
    }
    fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(hitches.len())
}

/// Reads `--version` and `--from` exactly as `patch.toml` will, so a typo fails here.
fn parse_versions(version: &str, from: &str) -> anyhow::Result<PatchInfo> {
    let mut table = toml::Table::new();
    table.insert("version".into(), version.into());
    table.insert("from".into(), from.into());
    table.insert("mode".into(), "downtime".into());
    PatchInfo::deserialize(table)
        .map_err(|e| anyhow::anyhow!("--version {version:?} / --from {from:?}: {}", e.message()))
}

/// Copies the patch template to `dir`, which must not exist, for `version` applying `from`
/// with `title`: what `cargo xtask import` starts from.
pub fn create_from_template(
    dir: &Path,
    version: &str,
    from: &str,
    title: &str,
) -> anyhow::Result<()> {
    let info = parse_versions(version, from)?;
    let values = Values {
        version: info.version.to_string(),
        from: info.from.to_string(),
        title: title.to_string(),
    };
    create(
        &crate::workspace_root().join("patch-template"),
        dir,
        &values,
    )
}

/// Copies `template` to `dir`, which must not exist, substituting placeholders in every file.
fn create(template: &Path, dir: &Path, values: &Values) -> anyhow::Result<()> {
    if dir.symlink_metadata().is_ok() {
        bail!("{} already exists; choose a new directory", dir.display());
    }
    if !template.is_dir() {
        bail!("{}: the patch template is missing", template.display());
    }
    for entry in WalkDir::new(template).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot walk {}", template.display()))?;
        let rel = entry.path().strip_prefix(template)?;
        let dest = dir.join(rel);
        if entry.file_type().is_dir() {
            fs::create_dir_all(&dest)
                .with_context(|| format!("cannot create {}", dest.display()))?;
        } else {
            copy_file(entry.path(), &dest, values)?;
        }
    }
    Ok(())
}

fn copy_file(src: &Path, dest: &Path, values: &Values) -> anyhow::Result<()> {
    let text = fs::read_to_string(src).with_context(|| format!("cannot read {}", src.display()))?;
    let in_toml = src.extension().is_some_and(|e| e == "toml");
    let text = substitute(&text, values, in_toml);
    fs::write(dest, text).with_context(|| format!("cannot write {}", dest.display()))?;
    let permissions = fs::metadata(src)
        .with_context(|| format!("cannot read {}", src.display()))?
        .permissions();
    fs::set_permissions(dest, permissions)
        .with_context(|| format!("cannot set the mode of {}", dest.display()))
}

/// Replaces the placeholders; inside a TOML string, the title is escaped.
fn substitute(text: &str, values: &Values, in_toml: bool) -> String {
    let title = if in_toml {
        values.title.replace('\\', "\\\\").replace('"', "\\\"")
    } else {
        values.title.clone()
    };
    text.replace("{{version}}", &values.version)
        .replace("{{from}}", &values.from)
        .replace("{{title}}", &title)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_hitches_of_the_previous_patch_become_checklist_items() {
        let root = tempfile::tempdir().unwrap();
        let write = |rel: &str, text: &str| {
            let path = root.path().join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        let patch = |v: &str| format!("[patch]\nversion = \"{v}\"\n");
        write("patches/1.0.0/patch.toml", &patch("1.0.0"));
        write(
            "patches/1.0.0/interventions/a.json",
            r#"{"run": "old", "host": "h", "hitches": [{"text": "too old", "by": "x", "at": "t", "open": true}]}"#,
        );
        write("patches/1.2.0/patch.toml", &patch("1.2.0"));
        write(
            "patches/1.2.0/interventions/web-2.json",
            r#"{"run": "20260101-0900", "host": "web-2", "patch": "1.2.0", "hitches": [
                {"text": "The cache purge hung \"twice\";\nkilled by hand", "by": "ana", "at": "09:12", "open": true},
                {"text": "Slow smoke", "by": "ana", "at": "09:20", "open": false, "note": "ok"}
            ]}"#,
        );
        write(
            "patches/1.2.0/interventions/web-1.json",
            r#"{"run": "20260101-0800", "host": "web-1", "hitches": [{"text": "503 page late", "by": "bo", "at": "08:03", "open": true}]}"#,
        );
        write("patches/1.2.0/interventions/notes.txt", "not a sheet");
        write("patches/2.0.0/patch.toml", &patch("2.0.0"));
        write(
            "patches/1.3.0/docs/checklist.toml",
            "[[item]]\ntext = \"Backups.\"",
        );

        let version = semver::Version::parse("1.3.0").unwrap();
        let previous = crate::previous_patch_in(&root.path().join("patches"), &version).unwrap();
        assert_eq!(previous.version.to_string(), "1.2.0");
        let hitches = open_hitches(&previous.dir).unwrap();
        let new = root.path().join("patches/1.3.0");
        assert_eq!(carry_hitches(&new, "1.2.0", &hitches).unwrap(), 2);

        let checklist =
            bascule_patch::docs::Checklist::load(&new.join("docs/checklist.toml")).unwrap();
        let items: Vec<(&str, bool)> = checklist
            .items
            .iter()
            .map(|i| (i.text.as_str(), i.manual))
            .collect();
        assert_eq!(
            items,
            [
                ("Backups.", true),
                ("Hitch from 1.2.0 on web-1 (run 20260101-0800): 503 page late", true),
                (
                    "Hitch from 1.2.0 on web-2 (run 20260101-0900): The cache purge hung \"twice\"; killed by hand",
                    true
                ),
            ]
        );
        assert!(checklist.items[1..]
            .iter()
            .all(|i| i.moment == bascule_patch::docs::ItemMoment::Outside));

        write("patches/1.2.0/interventions/bad.json", r#"{"run": "r"}"#);
        let err = open_hitches(&previous.dir).unwrap_err();
        assert!(format!("{err:#}").contains("bad.json"), "{err:#}");
        assert!(crate::previous_patch_in(
            &root.path().join("patches"),
            &semver::Version::parse("1.0.0").unwrap()
        )
        .is_none());
    }

    #[test]
    fn versions_are_checked_like_patch_toml() {
        let info = parse_versions("2.4.0", ">=2.3.0, <2.4.0").unwrap();
        assert_eq!(info.version.to_string(), "2.4.0");
        assert!(parse_versions("2.4", "<2.4.0").is_err());
        assert!(parse_versions("2.4.0", "about 2.3").is_err());
    }

    #[test]
    fn titles_are_escaped_in_toml_only() {
        let values = Values {
            version: "2.4.0".into(),
            from: ">=2.3.0, <2.4.0".into(),
            title: "The \"big\" one".into(),
        };
        let toml = substitute("v = \"{{version}}\" t = \"{{title}}\"", &values, true);
        assert_eq!(toml, "v = \"2.4.0\" t = \"The \\\"big\\\" one\"");
        assert_eq!(
            substitute("# {{title}}", &values, false),
            "# The \"big\" one"
        );
    }
}
