//! The environment fingerprint: what a host is, as facts that change how a release behaves.
//!
//! Every run records one in its run directory (`fingerprint.json`), a rehearsal's comes back
//! from the guest with its run directories, and `cargo xtask rehearse` keeps the fingerprint of
//! each passing rehearsal beside the bundle ([`rehearsal`]). On a production host, `plan` and
//! `apply` compare the host's fingerprint with the rehearsal's ([`compare`]): the seed's
//! case-sensitivity bug reached production because nobody could see that the rehearsal's
//! filesystem ignored case and production's did not.
//!
//! A fingerprint is a flat, sorted map of text facts, so two of them compare key by key and
//! print as diffable lines:
//!
//! ```text
//! arch                         x86_64
//! db.site.engine               mariadb
//! db.site.lower_case_table_names 0
//! db.site.major                10.11
//! db.site.server               10.11.6-MariaDB-0+deb12u1
//! db.site.sql_mode             STRICT_TRANS_TABLES,…
//! kernel                       6.1.0-18-amd64
//! locale                       C.UTF-8
//! os                           Debian GNU/Linux 12 (bookworm)
//! os.id                        debian
//! os.version_id                12
//! platform.case_sensitive      yes
//! software.nginx               1.22.1
//! time_zone                    Europe/Paris
//! ```
//!
//! Capture never fails: a fact that cannot be read is recorded as `unknown: <why>`, which is
//! itself worth comparing. Which facts are read is decided by the patch: the software it
//! declares (`[requirements.software]`) and the database classes it migrates. The probes live
//! in [`probe`] (the OS, kernel, locale, time zone and programs), [`case`] (the platform
//! filesystem) and [`databases`] (each class's servers); [`requirements`] checks the patch's
//! ranges against the facts.

pub mod case;
pub mod compare;
pub mod databases;
pub mod probe;
pub mod rehearsal;
pub mod requirements;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::HostProfile;
use bascule_patch::Patch;

/// The file of a run directory holding the host's fingerprint.
pub const FINGERPRINT_FILE: &str = "fingerprint.json";

/// The prefix of a fact that could not be read.
pub const UNKNOWN: &str = "unknown: ";

/// Everything that can go wrong reading or writing a fingerprint file.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a fingerprint or rehearsal record ({source}); it is written by Bascule, do not edit it")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// A host's facts, key → value, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The host's name when it was taken: shown, never compared.
    #[serde(default)]
    pub hostname: String,
    /// When it was taken (RFC 3339): shown, never compared.
    #[serde(default)]
    pub captured_at: String,
    pub facts: BTreeMap<String, String>,
}

impl Fingerprint {
    /// Reads every fact the patch needs on this host.
    pub fn capture(host: &HostProfile, patch: &Patch) -> Fingerprint {
        let mut facts = probe::system();
        facts.extend(probe::software(&patch.spec.requirements.software));
        facts.insert(
            case::KEY.to_string(),
            case::case_sensitive(&host.root).to_string(),
        );
        facts.extend(databases::facts(host, patch));
        Fingerprint {
            hostname: probe::hostname(),
            captured_at: chrono::Local::now().to_rfc3339(),
            facts,
        }
    }

    /// The fact `key`, if it was read.
    pub fn known(&self, key: &str) -> Option<&str> {
        self.facts
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.starts_with(UNKNOWN))
    }

    /// Writes `<dir>/fingerprint.json`.
    pub fn write(&self, dir: &Path) -> Result<(), FingerprintError> {
        let path = dir.join(FINGERPRINT_FILE);
        write_json(&path, self)
    }

    /// Reads a `fingerprint.json`.
    pub fn read(path: &Path) -> Result<Fingerprint, FingerprintError> {
        read_json(path)
    }

    /// One `key  value` line per fact, aligned: what `bascule fingerprint` prints.
    pub fn lines(&self) -> String {
        let width = self.facts.keys().map(String::len).max().unwrap_or(0);
        self.facts
            .iter()
            .map(|(key, value)| format!("{key:<width$}  {value}\n"))
            .collect()
    }
}

pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), FingerprintError> {
    let io = |source| FingerprintError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut text = serde_json::to_string_pretty(value).map_err(|e| io(e.into()))?;
    text.push('\n');
    // Written beside and renamed: a reader never sees half a record.
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text).map_err(io)?;
    std::fs::rename(&partial, path).map_err(io)
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
) -> Result<T, FingerprintError> {
    let text = std::fs::read_to_string(path).map_err(|source| FingerprintError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| FingerprintError::Parse {
        path: path.to_path_buf(),
        source,
    })
}
