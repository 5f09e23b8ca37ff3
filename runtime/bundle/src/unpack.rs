//! Safe, all-or-nothing extraction of a bundle tarball.
//!
//! 1. [`verify_tarball`](super::verify_tarball)'s walk runs first and writes nothing: a bad
//!    tarball is refused before the file system is touched.
//! 2. The same walk runs again with a sink that writes, into a fresh temporary directory beside
//!    the target. Every check is repeated, so a tarball swapped between the passes is caught.
//!    Files are created with `O_EXCL` and the manifest forbids entries below symlinks, so nothing
//!    is ever written through a link.
//! 3. The temporary directory is renamed to `<into>/<top>` with `RENAME_NOREPLACE`, so a bundle
//!    already there (or one unpacked concurrently) is never replaced.
//!
//! On any failure the temporary directory is removed: the caller sees either the complete,
//! verified bundle or nothing.

use std::fs::{DirBuilder, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::verify::{scan_tarball, CheckOnly, Scanned, Sink};
use super::{BundleError, FileEntry, MANIFEST_FILE, MODE_EXEC, MODE_FILE};

/// Verifies `tarball`, then extracts it to `<into>/<top>` and returns that path, the bundle
/// root. Refuses if `<into>/<top>` already exists; leaves nothing behind on failure.
pub fn unpack(tarball: &Path, into: &Path) -> Result<PathBuf, BundleError> {
    let verified = scan_tarball(tarball, &mut CheckOnly)?;
    unpack_verified(tarball, into, &verified)
}

/// Everything after the first, read-only walk found `verified`.
fn unpack_verified(
    tarball: &Path,
    into: &Path,
    verified: &Scanned,
) -> Result<PathBuf, BundleError> {
    let target = into.join(&verified.top);
    refuse_existing(&target)?;
    let staging = make_temp_dir(into, &verified.top)?;
    let result =
        extract(tarball, &staging, &verified.manifest).and_then(|()| publish(&staging, &target));
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_dir_all(&staging);
    }
    result.map(|()| target)
}

fn refuse_existing(target: &Path) -> Result<(), BundleError> {
    match std::fs::symlink_metadata(target) {
        Ok(_) => Err(BundleError::TargetExists {
            path: target.to_path_buf(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(BundleError::io(target, "check")(e)),
    }
}

/// A new, empty directory `<into>/.<top>.unpacking-<pid>-<n>`, on the same file system as the
/// target so the final rename is atomic.
fn make_temp_dir(into: &Path, top: &str) -> Result<PathBuf, BundleError> {
    let pid = std::process::id();
    let mut attempt = 0;
    loop {
        let dir = into.join(format!(".{top}.unpacking-{pid}-{attempt}"));
        match DirBuilder::new().mode(MODE_EXEC).create(&dir) {
            Ok(()) => return set_mode(&dir, MODE_EXEC).map(|()| dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1;
            }
            Err(e) => return Err(BundleError::io(dir, "create the unpack directory")(e)),
        }
    }
}

/// The second, writing walk; its manifest must be the one the first walk verified.
fn extract(tarball: &Path, staging: &Path, verified: &super::Manifest) -> Result<(), BundleError> {
    let mut sink = Extract {
        root: staging.to_path_buf(),
        current: None,
    };
    let scanned = scan_tarball(tarball, &mut sink)?;
    if &scanned.manifest != verified {
        return Err(BundleError::Layout {
            bundle: tarball.to_path_buf(),
            what: "the tarball changed while it was being unpacked".into(),
        });
    }
    Ok(())
}

/// Moves the finished tree into place without ever replacing an existing one.
fn publish(staging: &Path, target: &Path) -> Result<(), BundleError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, staging, CWD, target, RenameFlags::NOREPLACE) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::EXIST) | Err(rustix::io::Errno::NOTEMPTY) => {
            Err(BundleError::TargetExists {
                path: target.to_path_buf(),
            })
        }
        // Some file systems lack RENAME_NOREPLACE: fall back to check-then-rename.
        Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOSYS) => {
            refuse_existing(target)?;
            std::fs::rename(staging, target)
                .map_err(BundleError::io(target, "rename the bundle to"))
        }
        Err(e) => Err(BundleError::io(target, "rename the bundle to")(e.into())),
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), BundleError> {
    // Explicit, because the umask would otherwise decide the bundle's permissions.
    std::fs::set_permissions(path, Permissions::from_mode(mode))
        .map_err(BundleError::io(path, "set the permissions of"))
}

/// The sink that writes the bundle under `root`.
struct Extract {
    root: PathBuf,
    current: Option<(PathBuf, File)>,
}

impl Extract {
    /// Creates the parents of `path`; tarballs from `pack` list them, others may not.
    fn parents(&self, path: &Path) -> Result<(), BundleError> {
        match path.parent() {
            Some(parent) => DirBuilder::new()
                .recursive(true)
                .mode(MODE_EXEC)
                .create(parent)
                .map_err(BundleError::io(parent, "create")),
            None => Ok(()),
        }
    }
}

impl Sink for Extract {
    fn manifest(&mut self, text: &str) -> Result<(), BundleError> {
        let path = self.root.join(MANIFEST_FILE);
        std::fs::write(&path, text).map_err(BundleError::io(&path, "write"))?;
        set_mode(&path, MODE_FILE)
    }

    fn dir(&mut self, rel: &str) -> Result<(), BundleError> {
        let path = self.root.join(rel);
        DirBuilder::new()
            .recursive(true)
            .mode(MODE_EXEC)
            .create(&path)
            .map_err(BundleError::io(&path, "create"))?;
        set_mode(&path, MODE_EXEC)
    }

    fn begin_file(&mut self, entry: &FileEntry) -> Result<(), BundleError> {
        let path = self.root.join(&entry.path);
        self.parents(&path)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(entry.mode)
            .open(&path)
            .map_err(BundleError::io(&path, "create"))?;
        file.set_permissions(Permissions::from_mode(entry.mode))
            .map_err(BundleError::io(&path, "set the permissions of"))?;
        self.current = Some((path, file));
        Ok(())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BundleError> {
        match &mut self.current {
            Some((path, file)) => file
                .write_all(bytes)
                .map_err(BundleError::io(&*path, "write")),
            None => Ok(()),
        }
    }

    fn end_file(&mut self) -> Result<(), BundleError> {
        self.current = None;
        Ok(())
    }

    fn symlink(&mut self, entry: &FileEntry, target: &str) -> Result<(), BundleError> {
        let path = self.root.join(&entry.path);
        self.parents(&path)?;
        std::os::unix::fs::symlink(target, &path)
            .map_err(BundleError::io(&path, "create the symlink"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{listing, packed, Craft, TOP};
    use crate::{verify_dir, verify_tarball};
    use tempfile::TempDir;

    fn into_dir(tmp: &Path) -> PathBuf {
        let into = tmp.join("into");
        std::fs::create_dir(&into).unwrap();
        into
    }

    #[test]
    fn unpacks_a_verified_tree() {
        let tmp = TempDir::new().unwrap();
        let (staging, packed) = packed(tmp.path());
        let into = into_dir(tmp.path());
        let root = unpack(&packed.path, &into).unwrap();
        assert_eq!(root, into.join(TOP));
        assert_eq!(verify_dir(&root).unwrap(), packed.manifest);
        assert_eq!(
            std::fs::read(root.join("code/index.php")).unwrap(),
            std::fs::read(staging.join("code/index.php")).unwrap()
        );
        let mode = |p: &str| {
            std::fs::metadata(root.join(p))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode("bin/bascule"), 0o755);
        assert_eq!(mode("code/a-b.php"), 0o644);
        assert_eq!(mode("hooks"), 0o755);
        assert_eq!(
            std::fs::read_link(root.join("code/current.php")).unwrap(),
            Path::new("index.php")
        );
        // Only the bundle: no temporary directory left beside it.
        assert_eq!(std::fs::read_dir(&into).unwrap().count(), 1);
    }

    #[test]
    fn refuses_an_existing_target() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let into = into_dir(tmp.path());
        std::fs::create_dir(into.join(TOP)).unwrap();
        std::fs::write(into.join(TOP).join("keep"), b"mine").unwrap();
        let before = listing(&into);
        let err = unpack(&packed.path, &into).unwrap_err();
        assert!(matches!(err, BundleError::TargetExists { .. }), "{err:?}");
        assert_eq!(listing(&into), before);
    }

    #[test]
    fn bad_tarball_leaves_nothing() {
        let tmp = TempDir::new().unwrap();
        let (staging, packed) = packed(tmp.path());
        let mut craft = Craft::honest_except(&packed.manifest, &staging, "");
        craft.file(&format!("{TOP}/code/extra"), b"x", 0o644);
        let bad = craft.write_to(tmp.path());
        let into = into_dir(tmp.path());
        let err = unpack(&bad, &into).unwrap_err();
        assert!(matches!(err, BundleError::UnknownEntry { .. }), "{err:?}");
        assert_eq!(listing(&into), vec![into.clone()]);
    }

    #[test]
    fn failure_during_extraction_removes_the_partial_tree() {
        // A tarball that changes between the verifying and the writing pass: the second pass
        // has written files before it meets the tampered one.
        let tmp = TempDir::new().unwrap();
        let (staging, packed) = packed(tmp.path());
        let verified = scan_tarball(&packed.path, &mut CheckOnly).unwrap();
        let mut craft = Craft::honest_except(&packed.manifest, &staging, "patch.toml");
        craft.file(&format!("{TOP}/patch.toml"), b"tampered", 0o644);
        let swapped = craft.write_to(tmp.path());
        assert!(verify_tarball(&swapped).is_err());
        let into = into_dir(tmp.path());
        let err = unpack_verified(&swapped, &into, &verified).unwrap_err();
        assert!(matches!(err, BundleError::Mismatch { .. }), "{err:?}");
        assert_eq!(listing(&into), vec![into.clone()]);
    }
}
