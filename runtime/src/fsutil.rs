//! File-system moves that must be safe against crashes: tree copies and atomic symlink switches.

use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;

/// How [`copy_tree_with`] puts a file in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileCopy {
    /// A copy of its own: for trees others may change (a release, a build directory).
    Copy,
    /// A hard link where the file system allows it, else a copy: for read-only staging of a
    /// tree nobody writes to, where copying 100 MB twice would be most of the work.
    LinkOrCopy,
}

/// Copies the tree `from` into `to` (which must not exist): files with their permissions,
/// symbolic links as links (never followed), directories. Returns the number of files.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<u64> {
    copy_tree_with(from, to, &|_| false, FileCopy::Copy)
}

/// [`copy_tree`], leaving out every entry (and what is below it) for which `skip` holds of its
/// path relative to `from`.
pub fn copy_tree_with(
    from: &Path,
    to: &Path,
    skip: &dyn Fn(&Path) -> bool,
    how: FileCopy,
) -> io::Result<u64> {
    let mut files = 0;
    let walk = walkdir::WalkDir::new(from)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.path()
                .strip_prefix(from)
                .map_or(true, |rel| rel.as_os_str().is_empty() || !skip(rel))
        });
    for entry in walk {
        let entry = entry.map_err(io::Error::other)?;
        let relative = entry.path().strip_prefix(from).map_err(io::Error::other)?;
        let dest = to.join(relative);
        let kind = entry.file_type();
        let placed = if kind.is_dir() {
            std::fs::create_dir_all(&dest)
        } else if kind.is_symlink() {
            std::fs::read_link(entry.path()).and_then(|target| symlink(target, &dest))
        } else if kind.is_file() {
            files += 1;
            place_file(entry.path(), &dest, how)
        } else {
            Err(io::Error::other(
                "neither a file, a directory nor a symbolic link",
            ))
        };
        placed.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} → {}: {e}", entry.path().display(), dest.display()),
            )
        })?;
    }
    Ok(files)
}

fn place_file(from: &Path, to: &Path, how: FileCopy) -> io::Result<()> {
    if how == FileCopy::LinkOrCopy && std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ())
}

/// Points the symbolic link `link` at `target`, atomically: a new link beside it, renamed over
/// it, then the directory synced. Readers see the old target or the new one, never no link.
pub fn switch_symlink(link: &Path, target: &Path) -> io::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let staging = dir.join(format!(".{name}.switch-{}", std::process::id()));
    match std::fs::remove_file(&staging) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    symlink(target, &staging)?;
    std::fs::rename(&staging, link)?;
    crate::state::sync_dir(dir)
}

/// Removes a directory tree if it exists; absent is fine (undos are idempotent).
pub fn remove_tree_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Flushes the whole file system holding `path` (one `syncfs`, instead of an fsync per file).
pub fn sync_filesystem(path: &Path) -> io::Result<()> {
    let dir = std::fs::File::open(path)?;
    rustix::fs::syncfs(&dir).map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_replaces_the_target_and_leaves_no_staging_link() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("current");
        switch_symlink(&link, Path::new("releases/1")).unwrap();
        switch_symlink(&link, Path::new("releases/2")).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("releases/2"));
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("current")]);
    }

    #[test]
    fn copy_keeps_links_as_links_and_modes() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("bin")).unwrap();
        std::fs::write(from.join("bin/run"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(from.join("bin/run"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        symlink("bin/run", from.join("run")).unwrap();
        let to = dir.path().join("to");
        assert_eq!(copy_tree(&from, &to).unwrap(), 1);
        assert_eq!(
            std::fs::read_link(to.join("run")).unwrap(),
            Path::new("bin/run")
        );
        let mode = std::fs::metadata(to.join("bin/run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
    }
}
