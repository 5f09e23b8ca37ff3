//! Hitches: what went badly or oddly, noted by a person during or after a run
//! (`bascule note "…"`), one JSON line each in `<run>/hitches.jsonl`.

use std::path::Path;

use super::ReportError;
use crate::jsonl;
use bascule_pages::run_view::Hitch;

pub const HITCHES_FILE: &str = "hitches.jsonl";

/// Appends `hitch` to the run in `run_dir`, synced.
pub fn add(run_dir: &Path, hitch: &Hitch) -> Result<(), ReportError> {
    Ok(jsonl::append(&run_dir.join(HITCHES_FILE), &[hitch])?)
}

/// The hitches of the run in `run_dir`, in the order noted.
pub fn read(run_dir: &Path) -> Result<Vec<Hitch>, ReportError> {
    Ok(jsonl::read(&run_dir.join(HITCHES_FILE))?)
}
