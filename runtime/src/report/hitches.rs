//! Hitches: what went badly or oddly, noted by a person during or after a run
//! (`bascule note "…"`), one JSON line each in `<run>/hitches.jsonl`.

use std::io::Write as _;
use std::path::Path;

use super::ReportError;
use bascule_pages::run_view::Hitch;

pub const HITCHES_FILE: &str = "hitches.jsonl";

/// Appends `hitch` to the run in `run_dir`, synced.
pub fn add(run_dir: &Path, hitch: &Hitch) -> Result<(), ReportError> {
    let path = run_dir.join(HITCHES_FILE);
    let io = |source| ReportError::Io {
        path: path.clone(),
        source,
    };
    let mut line = serde_json::to_string(hitch).map_err(|e| io(std::io::Error::other(e)))?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// The hitches of the run in `run_dir`, in the order noted.
pub fn read(run_dir: &Path) -> Result<Vec<Hitch>, ReportError> {
    let path = run_dir.join(HITCHES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ReportError::Io { path, source }),
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).map_err(|e| ReportError::Malformed {
                path: path.clone(),
                line: n + 1,
                message: e.to_string(),
            })
        })
        .collect()
}
