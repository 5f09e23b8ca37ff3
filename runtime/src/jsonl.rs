//! Files of JSON lines that grow by appends: the host's `releases.jsonl`, a run's
//! `hitches.jsonl` and `testbook.jsonl`.
//!
//! An append writes whole lines in one `write` and syncs them before it returns, so a record
//! said to be kept is on disk. A crash can still tear the last line; reading skips a torn last
//! line (one with no newline after it) and reports any other bad line with its number.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum JsonlError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Malformed {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// Appends `records` to `path`, one line each, synced; creates the file if needed.
pub fn append<T: Serialize>(path: &Path, records: &[T]) -> Result<(), JsonlError> {
    let io = |source| JsonlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut lines = String::new();
    for record in records {
        lines.push_str(&serde_json::to_string(record).map_err(|e| io(std::io::Error::other(e)))?);
        lines.push('\n');
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io)?;
    file.write_all(lines.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io)
}

/// The records of `path`, in order; none when it does not exist.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, JsonlError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(JsonlError::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let mut records = Vec::new();
    for (i, (n, line)) in lines.iter().enumerate() {
        match serde_json::from_str(line) {
            Ok(record) => records.push(record),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(JsonlError::Malformed {
                    path: path.to_path_buf(),
                    line: n + 1,
                    message: e.to_string(),
                })
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_records_read_back_and_only_a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.jsonl");
        assert!(read::<Vec<u32>>(&path).unwrap().is_empty());
        append(&path, &[vec![1u32], vec![2]]).unwrap();
        append(&path, &[vec![3u32]]).unwrap();
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("[4");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(read::<Vec<u32>>(&path).unwrap(), [[1], [2], [3]]);
        std::fs::write(&path, "[1]\n[x\n[3]\n").unwrap();
        let err = read::<Vec<u32>>(&path).unwrap_err();
        assert!(err.to_string().contains("x.jsonl:2:"), "{err}");
    }
}
