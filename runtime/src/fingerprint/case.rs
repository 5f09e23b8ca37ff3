//! `platform.case_sensitive`: whether the platform's filesystem tells `Logo.png` from
//! `logo.png`.
//!
//! The first seed's worst bug came from here: rehearsed on a filesystem that ignored case,
//! code that linked an image by the wrong case worked, and broke in production. It is tested,
//! not assumed: an entry of the directory the code lives in (the live release `current/`,
//! else `releases/`, else the platform root) is looked up under its name with the case of every letter swapped. That name is not in
//! the listing, so the lookup finding anything means the directory ignores case (the inode is
//! not compared: CIFS and some FUSE filesystems make inode numbers up). Reading suffices on a
//! real host; only a directory with no entry to try (a brand-new platform) gets a probe file,
//! created and removed at once — the one write `plan` and `bascule fingerprint` may make.

use std::fmt;
use std::path::{Path, PathBuf};

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

/// Tests the platform whose root is `root` where its code lives: the live release
/// (`current/`), else `releases/`, else the root (ext4 casefolding is set directory by
/// directory, and release directories are named by version, without a letter to swap).
pub fn case_sensitive(root: &Path) -> CaseSensitivity {
    let candidates = [
        root.join("current"),
        root.join("releases"),
        root.to_path_buf(),
    ];
    let dirs: Vec<&PathBuf> = candidates.iter().filter(|d| d.is_dir()).collect();
    let Some(last) = dirs.last() else {
        return CaseSensitivity::Unknown(format!("{}: no such directory", root.display()));
    };
    for dir in &dirs {
        match try_existing(dir) {
            Ok(Some(found)) => return found,
            Ok(None) => continue,
            Err(e) => return CaseSensitivity::Unknown(format!("{}: {e}", dir.display())),
        }
    }
    with_probe_file(last)
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
        match lookup(&root.join(&swapped)) {
            // Gone between the listing and now (another run's probe file): try the next.
            _ if std::fs::symlink_metadata(root.join(name)).is_err() => continue,
            found => return Ok(Some(found)),
        }
    }
    Ok(None)
}

fn with_probe_file(root: &Path) -> CaseSensitivity {
    let name = format!(".bascule-case-probe-{}", std::process::id());
    let probe = root.join(&name);
    if let Err(e) = std::fs::write(&probe, b"") {
        return CaseSensitivity::Unknown(format!("cannot create {}: {e}", probe.display()));
    }
    let found = lookup(&root.join(swap_case(&name)));
    let _ = std::fs::remove_file(&probe);
    found
}

/// Looks up `swapped`, a name not in its directory's listing under this case.
fn lookup(swapped: &Path) -> CaseSensitivity {
    match std::fs::symlink_metadata(swapped) {
        Ok(_) => CaseSensitivity::Insensitive,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CaseSensitivity::Sensitive,
        Err(e) => CaseSensitivity::Unknown(format!("{}: {e}", swapped.display())),
    }
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
        // The live release is where it looks first; its entries have letters.
        std::fs::create_dir_all(dir.path().join("releases/1.0.0/pages")).unwrap();
        std::os::unix::fs::symlink("releases/1.0.0", dir.path().join("current")).unwrap();
        assert_eq!(case_sensitive(dir.path()), CaseSensitivity::Sensitive);
        assert_eq!(
            std::fs::read_dir(dir.path().join("releases/1.0.0"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn a_name_found_under_the_other_case_means_the_directory_ignores_case() {
        // This machine has no case-insensitive filesystem to try (the qemu rehearsal test
        // has, in its casefold guest): a link stands for what such a lookup finds.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("current"), b"").unwrap();
        assert_eq!(
            lookup(&dir.path().join("current")),
            CaseSensitivity::Insensitive
        );
        assert_eq!(
            lookup(&dir.path().join("CURRENT")),
            CaseSensitivity::Sensitive
        );
        let unknown = lookup(&dir.path().join("current/CHILD"));
        assert!(matches!(unknown, CaseSensitivity::Unknown(_)), "{unknown}");
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
