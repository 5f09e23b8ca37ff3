//! `cargo xtask new-patch`: start a patch source from `patch-template/`.
//!
//! The template is the documentation of the patch format that people actually read: every key
//! of `patch.toml` commented, an example migration with its down, a consistency check, and the
//! three documents a release team fills in (revision bulletin, manual checklist, test book).
//! Starting from it rather than from a blank page is how a release gets all of them.
//!
//! The template holds `{{version}}`, `{{from}}` and `{{title}}` placeholders; the copy is loaded
//! with [`Patch::load`] before we say it is done, so a broken template is caught here and not at
//! build time.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
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
    create(&template, &args.dir, &values)?;
    let patch = Patch::load(&args.dir).with_context(|| {
        format!(
            "{} was created but does not load; the template needs fixing",
            args.dir.display()
        )
    })?;
    println!(
        "created {} (version {}, from \"{}\")",
        args.dir.display(),
        patch.version(),
        patch.spec.patch.from
    );
    println!("next: set [code] source in patch.toml, replace migrations/main/0001_example, fill in docs/");
    Ok(())
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
