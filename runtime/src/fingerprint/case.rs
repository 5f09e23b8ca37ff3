//! `platform.case_sensitive`: whether the platform's filesystem tells `Logo.png` from
//! `logo.png`.
//!
//! The first seed's worst bug came from here: rehearsed on a filesystem that ignored case,
//! code that linked an image by the wrong case worked, and broke in production. It is tested,
//! not assumed: an entry of the platform root (`releases`, `current`, …) is looked up under its
//! name with the case of every letter swapped; the lookup finding the *same* inode means the
//! directory ignores case. Reading suffices on a real host; only a root with no entry to try
//! (a brand-new platform) gets a probe file, created and removed at once.

use std::fmt;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

/// The fingerprint key.
pub const KEY: &str = "platform.case_sensitive";

/// What the test found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseSensitivity {
    Sensitive,
    Insensitive,
    Unknown(String),
}

impl fmt::Display for CaseSensitivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaseSensitivity::Sensitive => f.write_str("yes"),
            CaseSensitivity::Insensitive => f.write_str("no"),
            CaseSensitivity::Unknown(why) => write!(f, "{}{why}", super::UNKNOWN),
        }
    }
}

/// Tests the directory `root`.
pub fn case_sensitive(root: &Path) -> CaseSensitivity {
    match try_existing(root) {
        Ok(Some(found)) => found,
        Ok(None) => with_probe_file(root),
        Err(e) => CaseSensitivity::Unknown(format!("{}: {e}", root.display())),
    }
}

/// The test on an entry already there; `None` when no entry has a letter to swap.
fn try_existing(root: &Path) -> std::io::Result<Option<CaseSensitivity>> {
    let names: Vec<String> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for name in &names {
        let swapped = swap_case(name);
        if swapped == *name || names.contains(&swapped) {
            continue;
        }
        return Ok(Some(same_entry(&root.join(name), &root.join(&swapped))?));
    }
    Ok(None)
}

fn with_probe_file(root: &Path) -> CaseSensitivity {
    let name = format!(".bascule-case-probe-{}", std::process::id());
    let probe = root.join(&name);
    if let Err(e) = std::fs::write(&probe, b"") {
        return CaseSensitivity::Unknown(format!("cannot create {}: {e}", probe.display()));
    }
    let found = same_entry(&probe, &root.join(swap_case(&name)))
        .unwrap_or_else(|e| CaseSensitivity::Unknown(e.to_string()));
    let _ = std::fs::remove_file(&probe);
    found
}

/// Whether `other` (the same name, other case) is the entry `path`.
fn same_entry(path: &Path, other: &Path) -> std::io::Result<CaseSensitivity> {
    let meta = std::fs::symlink_metadata(path)?;
    Ok(match std::fs::symlink_metadata(other) {
        Ok(found) if found.ino() == meta.ino() && found.dev() == meta.dev() => {
            CaseSensitivity::Insensitive
        }
        _ => CaseSensitivity::Sensitive,
    })
}

fn swap_case(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ordinary_directory_is_case_sensitive_and_keeps_no_probe() {
        let dir = tempfile::tempdir().unwrap();
        // Empty: a probe file is made, and removed.
        assert_eq!(case_sensitive(dir.path()), CaseSensitivity::Sensitive);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        // With entries, and one whose other-case twin exists beside it: still sensitive.
        std::fs::create_dir(dir.path().join("releases")).unwrap();
        std::fs::write(dir.path().join("Logo.png"), b"a").unwrap();
        std::fs::write(dir.path().join("lOGO.PNG"), b"b").unwrap();
        assert_eq!(case_sensitive(dir.path()), CaseSensitivity::Sensitive);
    }

    #[test]
    fn a_missing_root_is_unknown_and_says_where() {
        let found = case_sensitive(Path::new("/nonexistent/platform"));
        assert!(
            found.to_string().starts_with("unknown: ")
                && found.to_string().contains("/nonexistent/platform"),
            "{found}"
        );
    }
}
