//! `mode = "flag-file"`: the front web server shows the page while the flag exists.
//!
//! Beside the flag `F` (e.g. `maintenance.flag`) Bascule writes the page `F` with extension
//! `.html` and the allowlist `F` with extension `.allow`: a directory holding one empty file per
//! allowed client address, so the front server can test `-f <dir>/$remote_addr` at each request
//! without being reloaded. Opening writes the page and the allowlist first and the flag last, so
//! the front server never shows a maintenance window without its page; closing removes the flag
//! first.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::MaintenanceError;

/// Where the page is written, beside the flag.
pub fn page_path(flag: &Path) -> PathBuf {
    flag.with_extension("html")
}

/// The allowlist directory, beside the flag.
pub fn allow_dir(flag: &Path) -> PathBuf {
    flag.with_extension("allow")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MaintenanceError + '_ {
    move |source| MaintenanceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes the page, the allowlist, then the flag.
pub fn open(flag: &Path, html: &str, allow: &[IpAddr]) -> Result<(), MaintenanceError> {
    let dir = flag.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let page = page_path(flag);
    let partial = flag.with_extension("html.partial");
    std::fs::write(&partial, html).map_err(io(&partial))?;
    std::fs::rename(&partial, &page).map_err(io(&page))?;
    let allowed = allow_dir(flag);
    remove_dir_if_exists(&allowed)?;
    std::fs::create_dir(&allowed).map_err(io(&allowed))?;
    for address in allow {
        let entry = allowed.join(address.to_string());
        std::fs::write(&entry, "").map_err(io(&entry))?;
    }
    let stamp = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    std::fs::write(flag, format!("maintenance since {stamp}\n")).map_err(io(flag))
}

/// Removes the flag, then the allowlist and the page. Harmless if they are gone.
pub fn close(flag: &Path) -> Result<(), MaintenanceError> {
    remove_file_if_exists(flag)?;
    remove_dir_if_exists(&allow_dir(flag))?;
    remove_file_if_exists(&page_path(flag))
}

fn remove_file_if_exists(path: &Path) -> Result<(), MaintenanceError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

fn remove_dir_if_exists(path: &Path) -> Result<(), MaintenanceError> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_writes_page_allowlist_and_flag_and_close_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("m/maintenance.flag");
        let allow = ["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()];
        open(&flag, "<p>closed</p>", &allow).unwrap();
        assert!(flag.is_file());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("m/maintenance.html")).unwrap(),
            "<p>closed</p>"
        );
        assert!(dir.path().join("m/maintenance.allow/127.0.0.1").is_file());
        assert!(dir.path().join("m/maintenance.allow/::1").is_file());
        open(&flag, "<p>again</p>", &allow[..1]).unwrap();
        assert!(
            !dir.path().join("m/maintenance.allow/::1").exists(),
            "the allowlist is rewritten"
        );
        close(&flag).unwrap();
        close(&flag).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path().join("m")).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
