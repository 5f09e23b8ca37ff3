//! The rehearsal record: the fingerprints of the rehearsals a bundle passed, kept beside it.
//!
//! `cargo xtask rehearse` writes `bascule-<version>.rehearsal.json` next to the bundle's
//! tarball: the bundle's manifest digest and, per rehearsal target, when it passed, how many
//! runs, and the guest's fingerprint as its own run recorded it. The operator copies it with
//! the tarball; unpacked beside it (`bascule-2.0.0/` and `bascule-2.0.0.rehearsal.json`), the
//! runtime finds it by itself, or is given it with `--rehearsal FILE`. The record is not inside
//! the bundle because the bundle is built, and its digest fixed, before it is rehearsed.
//!
//! A record made for another bundle (another digest) proves nothing about this one: the host
//! then counts as not rehearsed. Of several rehearsals, the one closest to this host is the
//! one compared: fewest critical differences, then fewest differences.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::compare::{self, Difference};
use super::{read_json, write_json, Fingerprint, FingerprintError};
use bascule_patch::FingerprintSpec;

/// What the record's file name adds to the bundle's (`bascule-2.0.0` + this).
pub const RECORD_SUFFIX: &str = ".rehearsal.json";

/// `bascule-<version>.rehearsal.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RehearsalRecord {
    /// The bundle's version.
    pub version: String,
    /// The manifest digest of the bundle rehearsed.
    pub bundle_digest: String,
    /// One entry per target, the latest passing rehearsal on it.
    pub rehearsals: Vec<Rehearsal>,
}

/// One passing rehearsal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rehearsal {
    /// The target's name (`target.toml`).
    pub target: String,
    /// `qemu`, `libvirt`, `ssh`…
    pub driver: String,
    /// When it passed (RFC 3339).
    pub at: String,
    /// How many runs passed, each from the reverted snapshot.
    pub runs: u32,
    /// The guest's fingerprint, as its first `apply` recorded it.
    pub fingerprint: Fingerprint,
}

/// Where the record of the bundle at `bundle` (its tarball or its unpacked directory) is.
pub fn record_path(bundle: &Path) -> PathBuf {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar.gz").unwrap_or(&name);
    bundle.with_file_name(format!("{stem}{RECORD_SUFFIX}"))
}

/// The record to compare with: the one given (`--rehearsal`), else the one beside the bundle.
pub fn record_for(given: Option<&Path>, bundle_root: &Path) -> PathBuf {
    given.map_or_else(|| record_path(bundle_root), Path::to_path_buf)
}

impl RehearsalRecord {
    pub fn read(path: &Path) -> Result<RehearsalRecord, FingerprintError> {
        read_json(path)
    }

    pub fn write(&self, path: &Path) -> Result<(), FingerprintError> {
        write_json(path, self)
    }

    /// Adds `rehearsal` to the record at `path`, replacing the target's earlier one; a record of
    /// another bundle there is replaced whole.
    pub fn add_to(
        path: &Path,
        version: &str,
        bundle_digest: &str,
        rehearsal: Rehearsal,
    ) -> Result<RehearsalRecord, FingerprintError> {
        let mut record = match RehearsalRecord::read(path) {
            Ok(record) if record.bundle_digest == bundle_digest => record,
            _ => RehearsalRecord {
                version: version.to_string(),
                bundle_digest: bundle_digest.to_string(),
                rehearsals: Vec::new(),
            },
        };
        record.rehearsals.retain(|r| r.target != rehearsal.target);
        record.rehearsals.push(rehearsal);
        record.rehearsals.sort_by(|a, b| a.target.cmp(&b.target));
        record.write(path)?;
        Ok(record)
    }
}

impl RehearsalRecord {
    /// Removes `target`'s rehearsal of the bundle `bundle_digest` from the record at `path`, if
    /// it holds one: a later failure on the same target outweighs an earlier pass. Returns
    /// whether it did.
    pub fn forget(
        path: &Path,
        bundle_digest: &str,
        target: &str,
    ) -> Result<bool, FingerprintError> {
        let mut record = match RehearsalRecord::read(path) {
            Ok(record) if record.bundle_digest == bundle_digest => record,
            _ => return Ok(false),
        };
        let before = record.rehearsals.len();
        record.rehearsals.retain(|r| r.target != target);
        if record.rehearsals.len() == before {
            return Ok(false);
        }
        record.write(path)?;
        Ok(true)
    }
}

/// Whether this bundle was rehearsed, and how this host differs from its closest rehearsal.
#[derive(Debug, Clone)]
pub enum Verdict {
    NotRehearsed {
        why: String,
    },
    Rehearsed {
        record: PathBuf,
        rehearsal: Box<Rehearsal>,
        differences: Vec<Difference>,
    },
}

/// Compares `here` with the closest rehearsal in the record at `path`.
pub fn verdict(path: &Path, digest: &str, here: &Fingerprint, spec: &FingerprintSpec) -> Verdict {
    let record = match RehearsalRecord::read(path) {
        Ok(record) => record,
        Err(FingerprintError::Io { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound =>
        {
            return Verdict::NotRehearsed {
                why: format!(
                    "no rehearsal record ({} not found; `cargo xtask rehearse` writes it beside the bundle)",
                    path.display()
                ),
            }
        }
        Err(e) => return Verdict::NotRehearsed { why: e.to_string() },
    };
    if record.bundle_digest != digest {
        return Verdict::NotRehearsed {
            why: format!(
                "{} records the rehearsal of another bundle (digest {}, this one is {digest})",
                path.display(),
                record.bundle_digest
            ),
        };
    }
    let closest = record
        .rehearsals
        .into_iter()
        .map(|r| {
            let differences = compare::differences(&r.fingerprint, here, spec);
            (r, differences)
        })
        .min_by_key(|(_, d)| (d.iter().filter(|d| d.critical).count(), d.len()));
    match closest {
        Some((rehearsal, differences)) => Verdict::Rehearsed {
            record: path.to_path_buf(),
            rehearsal: Box::new(rehearsal),
            differences,
        },
        None => Verdict::NotRehearsed {
            why: format!("{} lists no passing rehearsal", path.display()),
        },
    }
}

impl Verdict {
    /// The critical differences: what refuses `apply` without a reason.
    pub fn critical(&self) -> Vec<&Difference> {
        match self {
            Verdict::NotRehearsed { .. } => Vec::new(),
            Verdict::Rehearsed { differences, .. } => {
                differences.iter().filter(|d| d.critical).collect()
            }
        }
    }

    /// The account `plan` prints, one paragraph and the table of differences.
    pub fn render(&self) -> String {
        match self {
            Verdict::NotRehearsed { why } => format!(
                "  NOT REHEARSED: {why}.\n  Nothing shows how this bundle behaves on an environment like this one.\n"
            ),
            Verdict::Rehearsed {
                record,
                rehearsal,
                differences,
            } => {
                let name = record
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                let mut out = format!(
                    "  rehearsed on `{}` ({}, {} run(s) passed, {}; record {name})\n",
                    rehearsal.target, rehearsal.driver, rehearsal.runs, rehearsal.at
                );
                let critical = self.critical().len();
                if differences.is_empty() {
                    out.push_str(
                        "  this host matches the rehearsal in every fact: rehearsed on an environment like this one.\n",
                    );
                    return out;
                }
                let verdict = if critical == 0 {
                    "none critical: `bascule apply` proceeds, and its report lists them".to_string()
                } else {
                    format!(
                        "{critical} critical (!): NOT rehearsed on an environment like this one; \
                         `bascule apply` refuses unless given --accept-differences \"<why it is safe>\""
                    )
                };
                out.push_str(&format!(
                    "  this host differs from it in {} fact(s), {verdict}\n",
                    differences.len()
                ));
                out.push_str(&compare::render(differences));
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_sits_beside_the_tarball_or_the_unpacked_bundle() {
        assert_eq!(
            record_path(Path::new("/srv/bascule-2.0.0.tar.gz")),
            Path::new("/srv/bascule-2.0.0.rehearsal.json")
        );
        assert_eq!(
            record_path(Path::new("/srv/bascule-2.0.0")),
            Path::new("/srv/bascule-2.0.0.rehearsal.json")
        );
    }

    fn rehearsal(target: &str, facts: &[(&str, &str)]) -> Rehearsal {
        Rehearsal {
            target: target.into(),
            driver: "qemu".into(),
            at: "2026-12-01T10:00:00+00:00".into(),
            runs: 3,
            fingerprint: Fingerprint {
                hostname: "guest".into(),
                captured_at: "2026-12-01T10:00:00+00:00".into(),
                facts: facts
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            },
        }
    }

    #[test]
    fn the_closest_rehearsal_of_this_bundle_is_compared_and_another_bundle_s_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bascule-2.0.0.rehearsal.json");
        let spec = FingerprintSpec::default();
        let here = rehearsal(
            "here",
            &[("platform.case_sensitive", "yes"), ("kernel", "6.18")],
        )
        .fingerprint;
        assert!(matches!(
            verdict(&path, "d1", &here, &spec),
            Verdict::NotRehearsed { .. }
        ));
        let casefold = rehearsal(
            "casefold",
            &[("platform.case_sensitive", "no"), ("kernel", "6.1")],
        );
        RehearsalRecord::add_to(&path, "2.0.0", "d1", casefold).unwrap();
        let verdict1 = verdict(&path, "d1", &here, &spec);
        assert_eq!(verdict1.critical().len(), 1, "{verdict1:?}");
        let plain = rehearsal(
            "plain",
            &[("platform.case_sensitive", "yes"), ("kernel", "6.1")],
        );
        let record = RehearsalRecord::add_to(&path, "2.0.0", "d1", plain).unwrap();
        assert_eq!(record.rehearsals.len(), 2);
        match verdict(&path, "d1", &here, &spec) {
            Verdict::Rehearsed {
                rehearsal,
                differences,
                ..
            } => {
                assert_eq!(rehearsal.target, "plain");
                assert_eq!(differences.len(), 1);
                assert!(!differences[0].critical);
            }
            other => panic!("{other:?}"),
        }
        let other = verdict(&path, "d2", &here, &spec);
        match &other {
            Verdict::NotRehearsed { why } => assert!(why.contains("another bundle"), "{why}"),
            _ => panic!("{other:?}"),
        }
        // A failure on a target takes its earlier pass out.
        assert!(RehearsalRecord::forget(&path, "d1", "casefold").unwrap());
        assert!(!RehearsalRecord::forget(&path, "d1", "casefold").unwrap());
        assert_eq!(RehearsalRecord::read(&path).unwrap().rehearsals.len(), 1);
        // A record for a new build replaces the old one whole.
        let record = RehearsalRecord::add_to(&path, "2.0.0", "d2", rehearsal("x", &[])).unwrap();
        assert_eq!(record.rehearsals.len(), 1);
    }

    #[test]
    fn plan_s_account_of_a_rehearsal_with_differences() {
        let here = rehearsal(
            "here",
            &[
                ("platform.case_sensitive", "yes"),
                ("db.site.major", "10.11"),
                ("db.site.server", "10.11.6-MariaDB-0+deb12u1"),
                ("kernel", "6.18.0"),
                ("os", "Debian GNU/Linux 12 (bookworm)"),
                ("locale", "C.UTF-8"),
            ],
        )
        .fingerprint;
        let guest = rehearsal(
            "iso-prod-casefold",
            &[
                ("platform.case_sensitive", "no"),
                ("db.site.major", "10.6"),
                ("db.site.server", "10.6.18-MariaDB"),
                ("kernel", "6.1.0-18-amd64"),
                ("os", "unknown: no /etc/os-release or /usr/lib/os-release"),
                ("locale", "C.UTF-8"),
            ],
        );
        let verdict = Verdict::Rehearsed {
            record: PathBuf::from("/srv/bascule-2.0.0.rehearsal.json"),
            differences: compare::differences(
                &guest.fingerprint,
                &here,
                &FingerprintSpec::default(),
            ),
            rehearsal: Box::new(guest),
        };
        insta::assert_snapshot!(verdict.render());
        let not = Verdict::NotRehearsed {
            why: "no rehearsal record (/srv/bascule-2.0.0.rehearsal.json not found; `cargo xtask rehearse` writes it beside the bundle)".into(),
        };
        insta::assert_snapshot!("not_rehearsed", not.render());
    }
}
