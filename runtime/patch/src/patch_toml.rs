//! The patch source format: `patch.toml` and the directories beside it.
//!
//! A patch source (`patches/<version>/` in the platform's repo) and an unpacked bundle share this
//! layout, so the same loader serves `cargo xtask build-patch` and `bascule apply`:
//!
//! ```text
//! patch.toml
//! migrations/<class>/<number>_<name>/up.sql + down.sql
//! checks/<class>/*.sql        consistency queries that must return zero rows
//! docs/bulletin.toml checklist.toml testbook.toml   the release documents (crate::docs); a
//!                             bundle adds each rendered as <name>.md and <name>.html
//! hooks/
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::acceptance::AcceptanceSpec;
use crate::class::ClassSpec;
use crate::fingerprint::FingerprintSpec;
use crate::migration::{MigrationError, MigrationSet};
use crate::policy::Policy;
use crate::requirements::Requirements;
use crate::sampling::ClassPanel;
use crate::smoke::SmokeCheck;
use crate::timeouts::TimeoutsSpec;

/// The file name of a patch's description, at the root of a patch source and of a bundle.
pub const PATCH_FILE: &str = "patch.toml";

/// Everything that can be wrong with a patch source.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error(transparent)]
    Migration(#[from] MigrationError),
    #[error(transparent)]
    File(#[from] crate::read::ReadError),
    #[error(transparent)]
    Adopt(#[from] crate::adopt::AdoptError),
}

/// Whether the platform is closed while the patch runs (the first seed) or stays up during a
/// rolling deploy (the second seed). Lint rules are errors in `online` mode, warnings otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Downtime,
    Online,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Downtime => "downtime",
            Mode::Online => "online",
        })
    }
}

/// `patch.toml`, as written by the developer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchSpec {
    pub patch: PatchInfo,
    pub code: CodeSpec,
    /// Database classes this patch migrates, by name (`main`, `site`, …).
    #[serde(default)]
    pub classes: BTreeMap<String, ClassSpec>,
    #[serde(default)]
    pub requirements: Requirements,
    #[serde(default)]
    pub policy: Policy,
    /// `[fingerprint]`: which differences from the rehearsal refuse a run.
    #[serde(default)]
    pub fingerprint: FingerprintSpec,
    /// `[[smoke]]`: checks run once the new code serves (run by the runtime's `smoke` step).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub smoke: Vec<SmokeCheck>,
    /// `[sampling.<class>]`: the core-sampling panel per site class (see [`ClassPanel`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sampling: BTreeMap<String, ClassPanel>,
    /// `[acceptance]`: the optional human gate (the runtime's `acceptance` step).
    #[serde(default)]
    pub acceptance: AcceptanceSpec,
    /// `[timeouts]` and `[timeouts.<class>]`: the lock and statement timeouts of every migration
    /// session (see [`crate::timeouts`]).
    #[serde(default, skip_serializing_if = "TimeoutsSpec::is_empty")]
    pub timeouts: TimeoutsSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchInfo {
    /// The version the platform is at once the patch is applied.
    pub version: semver::Version,
    /// The platform versions this patch applies to, e.g. `">=1.0.0, <2.0.0"`.
    pub from: semver::VersionReq,
    pub mode: Mode,
    #[serde(default)]
    pub title: String,
    /// Seconds since the epoch used as the mtime of every bundle entry, unless
    /// `SOURCE_DATE_EPOCH` is set: same inputs, same bytes.
    #[serde(default)]
    pub source_date_epoch: u64,
}

/// Where the code snapshot comes from and how it is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeSpec {
    /// The source tree, relative to the patch directory.
    pub source: PathBuf,
    /// Shell commands run, in order, in a scratch copy of `source`.
    #[serde(default)]
    pub build: Vec<String>,
    /// The directory of the scratch copy that becomes the release, after the build.
    #[serde(default = "dot")]
    pub output: PathBuf,
    /// Glob patterns (relative to `output`) left out of the snapshot.
    #[serde(default)]
    pub exclude: Vec<String>,
}

fn dot() -> PathBuf {
    PathBuf::from(".")
}

/// A loaded patch source or unpacked bundle: the spec, its migrations and where it lives.
#[derive(Debug, Clone)]
pub struct Patch {
    pub dir: PathBuf,
    pub spec: PatchSpec,
    pub migrations: MigrationSet,
    /// `adopt/<class>.toml`: the tool each class's migrations were imported from (see
    /// [`crate::AdoptMap`]).
    pub adopt: BTreeMap<String, crate::AdoptMap>,
}

impl Patch {
    /// Reads `dir/patch.toml` and every migration of every declared class.
    pub fn load(dir: &Path) -> Result<Patch, PatchError> {
        let spec = PatchSpec::read(&dir.join(PATCH_FILE))?;
        let migrations = MigrationSet::load(dir, &spec.classes)?;
        let adopt = crate::AdoptMap::load_dir(dir)?;
        for (class, map) in &adopt {
            let path = dir
                .join(crate::adopt::ADOPT_DIR)
                .join(format!("{class}.toml"));
            let invalid = |what: String| PatchError::Invalid {
                path: path.clone(),
                what,
            };
            let Some(ours) = migrations.class(class) else {
                return Err(invalid(format!(
                    "class `{class}` is not declared in patch.toml; add `[classes.{class}]` or remove this file"
                )));
            };
            if let Some(m) = map.migrations.iter().find(|m| ours.get(m.number).is_none()) {
                return Err(invalid(format!(
                    "migration {:04} (`{}` of {}) is not in migrations/{class}/",
                    m.number, m.id, map.tool
                )));
            }
        }
        Ok(Patch {
            dir: dir.to_path_buf(),
            spec,
            migrations,
            adopt,
        })
    }

    pub fn version(&self) -> &semver::Version {
        &self.spec.patch.version
    }

    /// The consistency checks of a class: `checks/<class>/*.sql`, sorted by file name.
    pub fn checks(&self, class: &str) -> Result<Vec<Check>, PatchError> {
        Check::load_dir(&self.dir.join("checks").join(class))
    }
}

impl PatchSpec {
    pub fn read(path: &Path) -> Result<PatchSpec, PatchError> {
        let text = crate::read::read_text(path, crate::read::MAX_TOML)?;
        let spec: PatchSpec = toml::from_str(&text).map_err(|source| PatchError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        spec.validate(path)?;
        Ok(spec)
    }

    fn validate(&self, path: &Path) -> Result<(), PatchError> {
        let invalid = |what: String| PatchError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        self.policy.validate().map_err(invalid)?;
        if self.code.source.is_absolute() {
            return Err(invalid(format!(
                "code.source: `{}` must be relative to the patch directory",
                self.code.source.display()
            )));
        }
        let classes: Vec<&str> = self.classes.keys().map(String::as_str).collect();
        self.requirements.validate(&classes).map_err(invalid)?;
        let software: Vec<&str> = self
            .requirements
            .software
            .keys()
            .map(String::as_str)
            .collect();
        self.fingerprint
            .validate(&classes, &software)
            .map_err(invalid)?;
        crate::smoke::validate(&self.smoke).map_err(invalid)?;
        crate::sampling::validate(&self.sampling).map_err(invalid)?;
        self.timeouts.validate(&self.classes).map_err(invalid)?;
        Ok(())
    }
}

/// When a consistency check runs: both before and after the migration unless its file name says
/// otherwise (`*.before.sql`, `*.after.sql`), since a check may need the new schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckWhen {
    Both,
    BeforeOnly,
    AfterOnly,
}

/// One consistency query: it passes when it returns zero rows.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: String,
    pub sql: String,
    pub when: CheckWhen,
}

impl Check {
    fn load_dir(dir: &Path) -> Result<Vec<Check>, PatchError> {
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let read_err = |source| PatchError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map_err(read_err)?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let path = dir.join(&name);
                let sql = crate::read::read_text(&path, crate::read::MAX_SQL)?;
                let when = if name.ends_with(".before.sql") {
                    CheckWhen::BeforeOnly
                } else if name.ends_with(".after.sql") {
                    CheckWhen::AfterOnly
                } else {
                    CheckWhen::Both
                };
                Ok(Check { name, sql, when })
            })
            .collect()
    }

    /// Whether the check runs at `moment` of a run.
    pub fn runs_at(&self, moment: Moment) -> bool {
        match moment {
            Moment::Before => self.when != CheckWhen::AfterOnly,
            Moment::After => self.when != CheckWhen::BeforeOnly,
        }
    }
}

/// Before or after the release changes the host: when consistency checks run (preflight,
/// post-checks) and which pages a sample holds (sample-before, sample-after).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Before,
    After,
}

impl Moment {
    /// `before` or `after`: the name of the samples' directory, and of the moment in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Moment::Before => "before",
            Moment::After => "after",
        }
    }
}
