//! After a rehearsal passes: the guest's fingerprint kept beside the bundle, so production can
//! be compared with it.
//!
//! The fingerprint is the one the guest's own `bascule apply` recorded in its run directory
//! (`runs/apply/fingerprint.json`, collected with the run), not one taken from outside: the
//! same runtime captures it in the guest and on the production host. Every run of a rehearsal
//! starts from the same snapshot, so their fingerprints agree; one that does not is a target
//! that is not a snapshot, and is refused. The record format and its place are the runtime's
//! (`bascule::fingerprint::rehearsal`).

use std::path::{Path, PathBuf};

use bascule::fingerprint::rehearsal::{self as record, RehearsalRecord};
use bascule::fingerprint::{Fingerprint, FingerprintError, FINGERPRINT_FILE};

use crate::rehearsal::Rehearsal;
use crate::target::Target;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("the rehearsal did not pass: only a passing rehearsal is recorded")]
    NotPassed,
    #[error(transparent)]
    Fingerprint(#[from] FingerprintError),
    #[error(transparent)]
    Bundle(#[from] bascule_bundle::BundleError),
    #[error("runs {0} and {1} recorded different fingerprints ({2}): the target does not start every run from one snapshot")]
    Unstable(usize, usize, String),
}

/// After a failed rehearsal: takes `target`'s earlier pass of this same bundle out of the record
/// beside it, if there is one; returns the record's path when it did.
pub fn forget(target: &Target, bundle: &Path) -> Result<Option<PathBuf>, RecordError> {
    let manifest = bascule_bundle::verify_tarball(bundle)?;
    let path = record::record_path(bundle);
    let forgotten = RehearsalRecord::forget(&path, &manifest.digest(), &target.name())?;
    Ok(forgotten.then_some(path))
}

/// Adds the passing `rehearsal` of `bundle` on `target` to the record beside `bundle`, and
/// returns the record's path.
pub fn keep(rehearsal: &Rehearsal, target: &Target, bundle: &Path) -> Result<PathBuf, RecordError> {
    if !rehearsal.succeeded() {
        return Err(RecordError::NotPassed);
    }
    let mut fingerprints = Vec::new();
    for run in &rehearsal.runs {
        // Read again rather than trusting `outcome.fingerprint`: a missing or garbled file is an
        // error here, with its path.
        let path = run.outcome.dir.join("runs/apply").join(FINGERPRINT_FILE);
        fingerprints.push((run.number, Fingerprint::read(&path)?));
    }
    let (first_number, first) = fingerprints
        .first()
        .cloned()
        .ok_or(RecordError::NotPassed)?;
    for (number, other) in &fingerprints[1..] {
        if other.facts != first.facts {
            let keys: std::collections::BTreeSet<&String> = first
                .facts
                .keys()
                .chain(other.facts.keys())
                .filter(|k| first.facts.get(*k) != other.facts.get(*k))
                .collect();
            let keys: Vec<&str> = keys.into_iter().map(String::as_str).collect();
            return Err(RecordError::Unstable(
                first_number,
                *number,
                keys.join(", "),
            ));
        }
    }
    let manifest = bascule_bundle::verify_tarball(bundle)?;
    let path = record::record_path(bundle);
    RehearsalRecord::add_to(
        &path,
        &manifest.patch.version.to_string(),
        &manifest.digest(),
        record::Rehearsal {
            target: target.name(),
            driver: target.driver.clone(),
            at: chrono::Local::now().to_rfc3339(),
            runs: u32::try_from(rehearsal.runs.len()).unwrap_or(u32::MAX),
            fingerprint: first,
        },
    )?;
    Ok(path)
}
