//! `MANIFEST.toml`: what a bundle holds, and the rules a manifest must follow to be trusted.
//!
//! The manifest is checked on its own ([`Manifest::validate`]) before any entry is compared with
//! it, so the comparison can rely on it: paths are safe and unique, symlinks stay inside, each
//! migration's scripts are listed with the digests the migration claims.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::paths::{ancestors, resolve_link, unsafe_reason};
use super::{BundleError, MODE_EXEC, MODE_FILE};
use bascule_patch::{sha256_hex, MigrationSet};

/// The manifest's file name, at the bundle root.
pub const MANIFEST_FILE: &str = "MANIFEST.toml";

/// The manifest format this code reads and writes.
pub const FORMAT: u32 = 1;

/// TOML integers are signed 64-bit: larger values could be written by nobody and read by nothing.
const TOML_INT_MAX: u64 = i64::MAX as u64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`]; a newer format is refused rather than half understood.
    pub format: u32,
    pub patch: PatchMeta,
    pub build: BuildInfo,
    /// Per class, the version a database must be at for this bundle, when it is not the number
    /// before the class's first migration: the numbering skips numbers between the earlier
    /// patches and this one (`site = 41` when they end at 41 and this bundle starts at 43).
    /// Absent for every other class, and the table with them, so such manifests are unchanged.
    /// See [`bascule_patch::ClassMigrations::recorded_base`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub base_versions: BTreeMap<String, u32>,
    pub migrations: Vec<MigrationEntry>,
    /// Every file and symlink of the bundle except the manifest itself, sorted by path.
    pub files: Vec<FileEntry>,
}

/// What the patch is, copied from `patch.toml` so a bundle can be identified without unpacking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchMeta {
    pub version: String,
    pub from: String,
    pub mode: String,
    pub title: String,
}

/// How the bundle was built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildInfo {
    pub bascule_version: String,
    /// The `SOURCE_DATE_EPOCH` of the build, also the mtime of every entry.
    pub source_date_epoch: u64,
    pub runtime_target: String,
}

/// One migration the bundle carries; its scripts are also listed in [`Manifest::files`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MigrationEntry {
    pub class: String,
    pub id: u32,
    pub name: String,
    pub up_sha256: String,
    pub down_sha256: String,
    /// The directory's name as written, when it is not `<NNNN>_<name>` (`000003_create_teams`,
    /// `17_add-index`); absent for four-digit names, so their manifests are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir_name: Option<String>,
}

impl MigrationEntry {
    /// `migrations/<class>/<number>_<name>`, the directory of the scripts in the bundle.
    pub fn dir(&self) -> String {
        match &self.dir_name {
            Some(dir_name) => format!("migrations/{}/{dir_name}", self.class),
            None => format!("migrations/{}/{:04}_{}", self.class, self.id, self.name),
        }
    }
}

/// One file or symlink of the bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the bundle root, `/`-separated, in normal form.
    pub path: String,
    pub size: u64,
    pub sha256: String,
    /// 0o644 or 0o755: only the exec bit is kept (symlinks, being 0777, get 0o755).
    pub mode: u32,
    /// The target of a symlink, as stored in the link; such an entry has size 0 and the sha256
    /// of the target string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

impl Manifest {
    /// Reads and validates `<bundle_root>/MANIFEST.toml`.
    pub fn read(bundle_root: &Path) -> Result<Manifest, BundleError> {
        let path = bundle_root.join(MANIFEST_FILE);
        let text = bascule_patch::read::read_text(&path, bascule_patch::read::MAX_TOML)?;
        Manifest::parse(&text, &path)
    }

    /// Parses and validates manifest text; `source` names where it came from, for errors.
    pub fn parse(text: &str, source: &Path) -> Result<Manifest, BundleError> {
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| BundleError::InvalidManifest {
                path: source.to_path_buf(),
                what: e.to_string(),
            })?;
        manifest.validate(source)?;
        Ok(manifest)
    }

    /// The canonical TOML text, as written into bundles.
    pub fn to_toml(&self) -> Result<String, BundleError> {
        toml::to_string(self).map_err(|e| BundleError::InvalidManifest {
            path: MANIFEST_FILE.into(),
            what: format!("cannot serialise: {e}"),
        })
    }

    /// The bundle's identity: lower-case hex SHA-256 of [`Manifest::to_toml`], which is exactly
    /// the `MANIFEST.toml` that [`super::pack`] writes.
    pub fn digest(&self) -> String {
        match self.to_toml() {
            Ok(text) => sha256_hex(text.as_bytes()),
            // Serialisation only fails on an integer above i64::MAX, which `validate` refuses;
            // hashing the debug form keeps the digest total and still content-derived.
            Err(_) => sha256_hex(format!("{self:?}").as_bytes()),
        }
    }

    /// The directory name every bundle of this version is packed under: `bascule-<version>`.
    pub fn top_dir(&self) -> String {
        format!("bascule-{}", self.patch.version)
    }

    /// Gives each class of `migrations` the base version this manifest records for it, so the
    /// runtime asks a database to be where the build found the earlier patches end.
    pub fn set_base_versions(&self, migrations: &mut MigrationSet) {
        for (class, base) in &self.base_versions {
            if let Some(class) = migrations.classes.get_mut(class) {
                class.recorded_base = Some(*base);
            }
        }
    }

    /// Checks the rules every later comparison relies on; `source` names the manifest in errors.
    pub fn validate(&self, source: &Path) -> Result<(), BundleError> {
        let invalid = |what: String| BundleError::InvalidManifest {
            path: source.to_path_buf(),
            what,
        };
        if self.format != FORMAT {
            return Err(invalid(format!(
                "format {} is not supported by this bascule, which reads format {FORMAT}; \
                 use the bascule shipped in the bundle (bin/bascule)",
                self.format
            )));
        }
        self.validate_version().map_err(invalid)?;
        if self.build.source_date_epoch > TOML_INT_MAX {
            return Err(invalid("build.source_date_epoch is out of range".into()));
        }
        self.validate_files(source)?;
        self.validate_migrations().map_err(invalid)
    }

    fn validate_version(&self) -> Result<(), String> {
        let version = &self.patch.version;
        if version.is_empty() || version.contains(['/', '\0']) || version == ".." {
            return Err(format!(
                "patch.version `{version}` cannot name the bundle's directory"
            ));
        }
        Ok(())
    }

    fn validate_files(&self, source: &Path) -> Result<(), BundleError> {
        let by_path = self.index();
        let mut previous: Option<&str> = None;
        for entry in &self.files {
            if previous.is_some_and(|p| p.as_bytes() >= entry.path.as_bytes()) {
                return Err(BundleError::InvalidManifest {
                    path: source.to_path_buf(),
                    what: format!(
                        "`{}` is out of order or listed twice: files must be sorted by path",
                        entry.path
                    ),
                });
            }
            previous = Some(&entry.path);
            entry.validate(source, &by_path)?;
        }
        Ok(())
    }

    fn validate_migrations(&self) -> Result<(), String> {
        for (class, base) in &self.base_versions {
            let first = self
                .migrations
                .iter()
                .filter(|m| &m.class == class)
                .map(|m| m.id)
                .min();
            match first {
                Some(first) if *base < first => {}
                Some(first) => {
                    return Err(format!(
                        "base_versions.{class} = {base} is not below the class's first migration ({first})"
                    ))
                }
                None => {
                    return Err(format!(
                        "base_versions.{class}: the bundle has no migration of class `{class}`"
                    ))
                }
            }
        }
        let by_path = self.index();
        for migration in &self.migrations {
            let dir = migration.dir();
            for (script, sha256) in [
                ("up.sql", &migration.up_sha256),
                ("down.sql", &migration.down_sha256),
            ] {
                let path = format!("{dir}/{script}");
                match by_path.get(path.as_str()) {
                    Some(file) if file.link.is_none() && &file.sha256 == sha256 => {}
                    Some(_) => {
                        return Err(format!(
                            "migration `{dir}`: `{path}` does not have the sha256 the migration records"
                        ))
                    }
                    None => return Err(format!("migration `{dir}`: `{path}` is not listed")),
                }
            }
        }
        Ok(())
    }

    /// The entries by path.
    pub(crate) fn index(&self) -> HashMap<&str, &FileEntry> {
        self.files.iter().map(|f| (f.path.as_str(), f)).collect()
    }
}

impl FileEntry {
    fn validate(
        &self,
        source: &Path,
        by_path: &HashMap<&str, &FileEntry>,
    ) -> Result<(), BundleError> {
        let unsafe_path = |why: String| BundleError::UnsafePath {
            bundle: source.to_path_buf(),
            entry: self.path.clone(),
            why,
        };
        let invalid = |what: String| BundleError::InvalidManifest {
            path: source.to_path_buf(),
            what: format!("`{}`: {what}", self.path),
        };
        if let Some(why) = unsafe_reason(&self.path) {
            return Err(unsafe_path(why.into()));
        }
        if self.path == MANIFEST_FILE {
            return Err(invalid("the manifest cannot list itself".into()));
        }
        // A file or link as a parent would make later entries land somewhere else on disk.
        if let Some(parent) = ancestors(&self.path).find(|a| by_path.contains_key(a)) {
            return Err(unsafe_path(format!(
                "its parent `{parent}` is a file or symlink"
            )));
        }
        if self.mode != MODE_FILE && self.mode != MODE_EXEC {
            return Err(invalid(format!(
                "mode {:o} is neither 644 nor 755",
                self.mode
            )));
        }
        if self.size > TOML_INT_MAX {
            return Err(invalid("size is out of range".into()));
        }
        if !is_sha256_hex(&self.sha256) {
            return Err(invalid(format!("`{}` is not a sha256", self.sha256)));
        }
        match &self.link {
            Some(target) => self.validate_link(target, by_path).map_err(|e| match e {
                LinkProblem::Unsafe(why) => unsafe_path(why),
                LinkProblem::Invalid(what) => invalid(what),
            }),
            None => Ok(()),
        }
    }

    fn validate_link(
        &self,
        target: &str,
        by_path: &HashMap<&str, &FileEntry>,
    ) -> Result<(), LinkProblem> {
        if self.size != 0 || self.sha256 != sha256_hex(target.as_bytes()) {
            return Err(LinkProblem::Invalid(
                "a symlink must have size 0 and the sha256 of its target".into(),
            ));
        }
        let is_symlink = |p: &str| by_path.get(p).is_some_and(|f| f.link.is_some());
        resolve_link(&self.path, target, is_symlink)
            .map(drop)
            .map_err(LinkProblem::Unsafe)
    }
}

enum LinkProblem {
    Unsafe(String),
    Invalid(String),
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{file_entry, manifest};

    #[test]
    fn toml_round_trip() {
        let m = manifest(vec![file_entry("code/a.php", b"<?php")]);
        let text = m.to_toml().unwrap();
        assert_eq!(Manifest::parse(&text, Path::new("M")).unwrap(), m);
        assert_eq!(m.digest(), sha256_hex(text.as_bytes()));
    }

    #[test]
    fn unsorted_or_duplicate_files_are_refused() {
        let m = manifest(vec![file_entry("b", b""), file_entry("a", b"")]);
        assert!(matches!(
            m.validate(Path::new("M")),
            Err(BundleError::InvalidManifest { .. })
        ));
        let m = manifest(vec![file_entry("a", b""), file_entry("a", b"")]);
        assert!(m.validate(Path::new("M")).is_err());
    }

    #[test]
    fn escaping_symlink_in_manifest_is_unsafe() {
        let target = "../../etc/passwd";
        let link = FileEntry {
            path: "code/l".into(),
            size: 0,
            sha256: sha256_hex(target.as_bytes()),
            mode: MODE_EXEC,
            link: Some(target.into()),
        };
        let err = manifest(vec![link]).validate(Path::new("M")).unwrap_err();
        assert!(matches!(err, BundleError::UnsafePath { ref entry, .. } if entry == "code/l"));
    }

    #[test]
    fn file_below_a_file_is_unsafe() {
        let m = manifest(vec![file_entry("a", b""), file_entry("a/b", b"")]);
        assert!(matches!(
            m.validate(Path::new("M")),
            Err(BundleError::UnsafePath { .. })
        ));
    }

    #[test]
    fn migrations_must_match_their_scripts() {
        let mut m = manifest(vec![
            file_entry("migrations/site/0002_avatar/down.sql", b"down"),
            file_entry("migrations/site/0002_avatar/up.sql", b"up"),
        ]);
        m.migrations.push(MigrationEntry {
            class: "site".into(),
            id: 2,
            name: "avatar".into(),
            up_sha256: sha256_hex(b"up"),
            down_sha256: sha256_hex(b"down"),
            dir_name: None,
        });
        m.validate(Path::new("M")).unwrap();
        m.migrations[0].up_sha256 = sha256_hex(b"other");
        assert!(m.validate(Path::new("M")).is_err());
    }

    #[test]
    fn a_migration_named_with_another_width_is_found_under_its_own_directory() {
        let mut m = manifest(vec![
            file_entry("migrations/site/000003_add-index_v6.0/down.sql", b"down"),
            file_entry("migrations/site/000003_add-index_v6.0/up.sql", b"up"),
        ]);
        let entry = MigrationEntry {
            class: "site".into(),
            id: 3,
            name: "add-index_v6.0".into(),
            up_sha256: sha256_hex(b"up"),
            down_sha256: sha256_hex(b"down"),
            dir_name: None,
        };
        m.migrations.push(entry.clone());
        assert!(m.validate(Path::new("M")).is_err(), "0003_ is not listed");
        m.migrations[0].dir_name = Some("000003_add-index_v6.0".into());
        m.validate(Path::new("M")).unwrap();
        let toml = m.to_toml().unwrap();
        assert!(
            toml.contains("dir_name = \"000003_add-index_v6.0\""),
            "{toml}"
        );
        assert!(!manifest(vec![]).to_toml().unwrap().contains("dir_name"));
    }

    fn gap_manifest() -> Manifest {
        let mut m = manifest(vec![
            file_entry("migrations/site/000043_add_avatar/down.sql", b"down"),
            file_entry("migrations/site/000043_add_avatar/up.sql", b"up"),
        ]);
        m.migrations.push(MigrationEntry {
            class: "site".into(),
            id: 43,
            name: "add_avatar".into(),
            up_sha256: sha256_hex(b"up"),
            down_sha256: sha256_hex(b"down"),
            dir_name: Some("000043_add_avatar".into()),
        });
        m
    }

    #[test]
    fn a_base_version_is_written_only_when_recorded_and_read_back() {
        let follows = gap_manifest();
        let text = follows.to_toml().unwrap();
        assert!(!text.contains("base_versions"), "{text}");
        let parsed = Manifest::parse(&text, Path::new("M")).unwrap();
        assert!(parsed.base_versions.is_empty());
        assert_eq!(
            parsed.to_toml().unwrap(),
            text,
            "same bytes after a round trip"
        );

        let mut gap = gap_manifest();
        gap.base_versions.insert("site".into(), 41);
        let text = gap.to_toml().unwrap();
        assert!(text.contains("[base_versions]\nsite = 41\n"), "{text}");
        let parsed = Manifest::parse(&text, Path::new("M")).unwrap();
        assert_eq!(parsed, gap);
        assert_ne!(
            gap.digest(),
            follows.digest(),
            "the base is part of the identity"
        );

        let mut set = MigrationSet::default();
        set.classes.insert("site".into(), Default::default());
        set.classes.insert("main".into(), Default::default());
        parsed.set_base_versions(&mut set);
        assert_eq!(set.classes["site"].recorded_base, Some(41));
        assert_eq!(set.classes["main"].recorded_base, None);
    }

    #[test]
    fn a_base_version_must_be_below_a_migration_of_its_class() {
        for (class, base, what) in [
            (
                "site",
                43,
                "base_versions.site = 43 is not below the class's first migration (43)",
            ),
            (
                "main",
                1,
                "base_versions.main: the bundle has no migration of class `main`",
            ),
        ] {
            let mut m = gap_manifest();
            m.base_versions.insert(class.into(), base);
            let err = m.validate(Path::new("M")).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
    }
}
