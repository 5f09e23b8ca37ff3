//! Verifying a bundle: a tarball as it streams past, or an unpacked directory.
//!
//! Both sides apply the same rules: the manifest is validated first, then every entry must be in
//! it and match (size, sha256, exec bit, symlink target), nothing listed may be missing, and
//! directories are implicit. Sizes are compared before any data is read, so a lying header is
//! caught without hashing gigabytes.
//!
//! The tarball walk is shared with extraction through [`Sink`]: verification uses a sink that
//! drops everything, [`super::unpack`] one that writes. One walk means extraction can never
//! accept something verification would refuse.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use flate2::bufread::GzDecoder;
use tar::{Entries, Entry, EntryType};
use walkdir::WalkDir;

use super::paths::{ancestors, resolve_link, unsafe_reason};
use super::{copy_hashed, normalise_mode, BundleError, Field, FileEntry, Manifest, MANIFEST_FILE};

const READ_BUFFER: usize = 256 * 1024;
/// A manifest of 10,000 files is about 2 MB; anything far larger is not a manifest.
const MANIFEST_MAX: u64 = 64 * 1024 * 1024;
const TAR_BLOCK: u64 = 512;

type Tarball = GzDecoder<BufReader<File>>;

/// Verifies a bundle tarball without extracting anything and returns its manifest.
///
/// MANIFEST.toml must come right after the top directory; every later entry is checked against
/// it as it is read. Absolute paths, `..`, entries outside the top directory, hard links,
/// devices, fifos and symlinks leaving the bundle are refused; so are a truncated or corrupt
/// stream and any data after the end of the archive.
pub fn verify_tarball(path: &Path) -> Result<Manifest, BundleError> {
    scan_tarball(path, &mut CheckOnly).map(|scanned| scanned.manifest)
}

/// What a tarball walk found.
pub(crate) struct Scanned {
    /// The top directory, `bascule-<version>`.
    pub top: String,
    pub manifest: Manifest,
}

/// Receives the entries of a tarball walk once they passed every check that can be made before
/// their data is read. Paths are relative to the bundle root; the defaults do nothing.
pub(crate) trait Sink {
    /// The text of MANIFEST.toml, once validated.
    fn manifest(&mut self, _text: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn dir(&mut self, _rel: &str) -> Result<(), BundleError> {
        Ok(())
    }
    fn begin_file(&mut self, _entry: &FileEntry) -> Result<(), BundleError> {
        Ok(())
    }
    fn write(&mut self, _bytes: &[u8]) -> Result<(), BundleError> {
        Ok(())
    }
    fn end_file(&mut self) -> Result<(), BundleError> {
        Ok(())
    }
    fn symlink(&mut self, _entry: &FileEntry, _target: &str) -> Result<(), BundleError> {
        Ok(())
    }
}

/// The sink of a pure verification: writes nothing anywhere.
pub(crate) struct CheckOnly;

impl Sink for CheckOnly {}

/// Walks the tarball at `path`, checking everything and feeding `sink`.
pub(crate) fn scan_tarball(path: &Path, sink: &mut dyn Sink) -> Result<Scanned, BundleError> {
    let file = File::open(path).map_err(BundleError::io(path, "open the bundle"))?;
    let mut archive =
        tar::Archive::new(GzDecoder::new(BufReader::with_capacity(READ_BUFFER, file)));
    let mut walk = Walk {
        bundle: path,
        top: String::new(),
        seen: HashSet::new(),
    };
    let manifest = {
        let mut entries = archive.entries().map_err(|e| walk.stream_error(e))?;
        walk.top = walk.read_top(&mut entries)?;
        let (manifest, text) = walk.read_manifest(&mut entries)?;
        sink.manifest(&text)?;
        walk.check_entries(entries, &manifest, sink)?;
        manifest
    };
    check_end(path, archive.into_inner())?;
    check_nothing_missing(path, &manifest, &walk.seen)?;
    Ok(Scanned {
        top: walk.top,
        manifest,
    })
}

/// The state of one tarball walk.
struct Walk<'a> {
    bundle: &'a Path,
    top: String,
    /// Bundle-relative paths of the entries met so far, to refuse duplicates.
    seen: HashSet<String>,
}

impl Walk<'_> {
    fn stream_error(&self, e: io::Error) -> BundleError {
        stream_error(self.bundle, e)
    }

    fn next<'e>(
        &self,
        entries: &mut Entries<'e, Tarball>,
    ) -> Result<Option<Entry<'e, Tarball>>, BundleError> {
        entries.next().transpose().map_err(|e| self.stream_error(e))
    }

    /// The entry's name as stored, refused unless it is a safe relative path.
    fn name(&self, entry: &Entry<'_, Tarball>) -> Result<String, BundleError> {
        let bytes = entry.path_bytes();
        let name = String::from_utf8_lossy(&bytes).into_owned();
        let unsafe_path = |why: &str| BundleError::UnsafePath {
            bundle: self.bundle.to_path_buf(),
            entry: name.clone(),
            why: why.to_string(),
        };
        if std::str::from_utf8(&bytes).is_err() {
            return Err(unsafe_path("the name is not UTF-8"));
        }
        // Directories are stored with a trailing slash; it is the only empty component allowed.
        let trimmed = if entry.header().entry_type().is_dir() {
            name.strip_suffix('/').unwrap_or(&name)
        } else {
            &name
        };
        match unsafe_reason(trimmed) {
            Some(why) => Err(unsafe_path(why)),
            None => Ok(name),
        }
    }

    /// The bundle-relative path of a (safe) entry name; refuses names outside the top directory.
    fn relative<'n>(&self, name: &'n str) -> Result<&'n str, BundleError> {
        let name = name.strip_suffix('/').unwrap_or(name);
        if name == self.top {
            return Err(BundleError::Duplicate {
                bundle: self.bundle.to_path_buf(),
                entry: name.to_string(),
            });
        }
        name.strip_prefix(&self.top)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| BundleError::UnsafePath {
                bundle: self.bundle.to_path_buf(),
                entry: name.to_string(),
                why: format!("outside the top directory `{}/`", self.top),
            })
    }

    fn layout(&self, what: String) -> BundleError {
        BundleError::Layout {
            bundle: self.bundle.to_path_buf(),
            what,
        }
    }

    /// The first entry: the top directory, a single path component.
    fn read_top(&self, entries: &mut Entries<'_, Tarball>) -> Result<String, BundleError> {
        let entry = self
            .next(entries)?
            .ok_or_else(|| self.layout("the tarball is empty".into()))?;
        let name = self.name(&entry)?;
        let top = name.strip_suffix('/').unwrap_or(&name);
        if !entry.header().entry_type().is_dir() || top.contains('/') {
            return Err(self.layout(format!(
                "the first entry must be the bundle's top directory, found `{name}`"
            )));
        }
        Ok(top.to_string())
    }

    /// The second entry: `<top>/MANIFEST.toml`, read and validated; returns it with its text.
    fn read_manifest(
        &self,
        entries: &mut Entries<'_, Tarball>,
    ) -> Result<(Manifest, String), BundleError> {
        let not_first = |found: String| BundleError::ManifestNotFirst {
            bundle: self.bundle.to_path_buf(),
            found,
        };
        let mut entry = self
            .next(entries)?
            .ok_or_else(|| not_first("the end of the archive".into()))?;
        let name = self.name(&entry)?;
        let expected = format!("{}/{MANIFEST_FILE}", self.top);
        if name != expected || !entry.header().entry_type().is_file() {
            return Err(not_first(name));
        }
        let source = self.bundle.join(&name);
        if entry.size() > MANIFEST_MAX {
            return Err(BundleError::InvalidManifest {
                path: source,
                what: format!("{} bytes is too large for a manifest", entry.size()),
            });
        }
        let mut text = String::new();
        entry
            .read_to_string(&mut text)
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData => BundleError::InvalidManifest {
                    path: source.clone(),
                    what: "not UTF-8".into(),
                },
                _ => self.stream_error(e),
            })?;
        let manifest = Manifest::parse(&text, &source)?;
        if manifest.top_dir() != self.top {
            return Err(self.layout(format!(
                "the top directory `{}` does not match the manifest's version {}",
                self.top, manifest.patch.version
            )));
        }
        Ok((manifest, text))
    }

    /// Every entry after the manifest.
    fn check_entries(
        &mut self,
        mut entries: Entries<'_, Tarball>,
        manifest: &Manifest,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        let index = manifest.index();
        let expected = |rel: &str| index.get(rel).copied();
        while let Some(mut entry) = self.next(&mut entries)? {
            let name = self.name(&entry)?;
            let rel = self.relative(&name)?.to_string();
            if !self.seen.insert(rel.clone()) {
                return Err(BundleError::Duplicate {
                    bundle: self.bundle.to_path_buf(),
                    entry: name,
                });
            }
            let check = EntryCheck {
                bundle: self.bundle,
                name: &name,
                rel: &rel,
            };
            check.parents(&expected)?;
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                check.dir(expected(&rel), sink)?;
            } else if kind.is_file() {
                let listed = check.listed(expected(&rel), false)?;
                check.file(&mut entry, listed, sink)?;
            } else if kind.is_symlink() {
                let target = check.link_target(&entry, &expected)?;
                let listed = check.listed(expected(&rel), true)?;
                check.link(&target, listed, sink)?;
            } else {
                return Err(check.unsupported(kind));
            }
        }
        Ok(())
    }
}

/// The checks of one entry.
struct EntryCheck<'a> {
    bundle: &'a Path,
    /// As stored in the tarball, for messages.
    name: &'a str,
    rel: &'a str,
}

impl EntryCheck<'_> {
    /// No ancestor may be a file or symlink of the manifest: writing below a symlink lands
    /// wherever it points.
    fn parents<'m>(
        &self,
        expected: &impl Fn(&str) -> Option<&'m FileEntry>,
    ) -> Result<(), BundleError> {
        match ancestors(self.rel).find(|a| expected(a).is_some()) {
            Some(parent) => Err(BundleError::UnsafePath {
                bundle: self.bundle.to_path_buf(),
                entry: self.name.to_string(),
                why: format!("its parent `{parent}` is a file or symlink"),
            }),
            None => Ok(()),
        }
    }

    fn mismatch(&self, field: Field, expected: String, found: String) -> BundleError {
        BundleError::Mismatch {
            bundle: self.bundle.to_path_buf(),
            entry: self.name.to_string(),
            field,
            expected,
            found,
        }
    }

    fn unsupported(&self, kind: EntryType) -> BundleError {
        let kind = if kind.is_hard_link() {
            "hard link".to_string()
        } else if kind.is_character_special() || kind.is_block_special() {
            "device".to_string()
        } else if kind.is_fifo() {
            "fifo".to_string()
        } else {
            format!(
                "tar entry of type `{}`",
                char::from(kind.as_byte()).escape_default()
            )
        };
        BundleError::UnsupportedType {
            bundle: self.bundle.to_path_buf(),
            entry: self.name.to_string(),
            kind,
        }
    }

    fn dir(&self, listed: Option<&FileEntry>, sink: &mut dyn Sink) -> Result<(), BundleError> {
        if let Some(listed) = listed {
            return Err(self.mismatch(Field::Kind, kind_of(listed).into(), "directory".into()));
        }
        sink.dir(self.rel)
    }

    /// The manifest's entry for this path, which must be a symlink iff `is_link`.
    fn listed<'m>(
        &self,
        listed: Option<&'m FileEntry>,
        is_link: bool,
    ) -> Result<&'m FileEntry, BundleError> {
        let listed = listed.ok_or_else(|| BundleError::UnknownEntry {
            bundle: self.bundle.to_path_buf(),
            entry: self.name.to_string(),
        })?;
        if listed.link.is_some() != is_link {
            let found = if is_link { "symlink" } else { "file" };
            return Err(self.mismatch(Field::Kind, kind_of(listed).into(), found.into()));
        }
        Ok(listed)
    }

    /// Header checks first, then the data, hashed as it streams into `sink`.
    fn file(
        &self,
        entry: &mut Entry<'_, Tarball>,
        listed: &FileEntry,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        let mode = entry
            .header()
            .mode()
            .map_err(|e| stream_error(self.bundle, e))?;
        if normalise_mode(mode) != listed.mode {
            return Err(self.mismatch(
                Field::Mode,
                format!("{:o}", listed.mode),
                format!("{:o}", mode),
            ));
        }
        if entry.size() != listed.size {
            return Err(self.mismatch(
                Field::Size,
                listed.size.to_string(),
                entry.size().to_string(),
            ));
        }
        sink.begin_file(listed)?;
        let sha256 = stream_into(entry, sink).map_err(|e| match e {
            StreamError::Read(e) => stream_error(self.bundle, e),
            StreamError::Sink(e) => e,
        })?;
        sink.end_file()?;
        if sha256 != listed.sha256 {
            return Err(self.mismatch(Field::Sha256, listed.sha256.clone(), sha256));
        }
        Ok(())
    }

    /// The symlink's target, refused if it leaves the bundle (checked even for links the
    /// manifest does not list, so the more serious problem is the one reported).
    fn link_target<'m>(
        &self,
        entry: &Entry<'_, Tarball>,
        expected: &impl Fn(&str) -> Option<&'m FileEntry>,
    ) -> Result<String, BundleError> {
        let bytes = entry.link_name_bytes().unwrap_or_default();
        let target = String::from_utf8_lossy(&bytes).into_owned();
        let is_symlink = |p: &str| expected(p).is_some_and(|f| f.link.is_some());
        resolve_link(self.rel, &target, is_symlink).map_err(|why| BundleError::UnsafePath {
            bundle: self.bundle.to_path_buf(),
            entry: self.name.to_string(),
            why,
        })?;
        Ok(target)
    }

    fn link(
        &self,
        target: &str,
        listed: &FileEntry,
        sink: &mut dyn Sink,
    ) -> Result<(), BundleError> {
        let expected = listed.link.as_deref().unwrap_or_default();
        if target != expected {
            return Err(self.mismatch(Field::Link, expected.into(), target.into()));
        }
        sink.symlink(listed, target)
    }
}

fn kind_of(entry: &FileEntry) -> &'static str {
    if entry.link.is_some() {
        "symlink"
    } else {
        "file"
    }
}

enum StreamError {
    Read(io::Error),
    Sink(BundleError),
}

/// Reads an entry's data to the end, feeding `sink`; returns its sha256.
fn stream_into(entry: &mut impl Read, sink: &mut dyn Sink) -> Result<String, StreamError> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        hasher.update(&buf[..n]);
        sink.write(&buf[..n]).map_err(StreamError::Sink)?;
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// A read error in the middle of the stream: the download is cut short or damaged.
fn stream_error(bundle: &Path, e: io::Error) -> BundleError {
    let bundle = bundle.to_path_buf();
    let detail = e.to_string();
    if e.kind() == io::ErrorKind::UnexpectedEof {
        BundleError::Truncated { bundle, detail }
    } else {
        BundleError::Corrupt { bundle, detail }
    }
}

/// After the last entry: at least one more zero block (tar's end marker), only zeros until the
/// end of the gzip stream, whose checksum is verified by reading it, and nothing after it.
fn check_end(bundle: &Path, mut gz: Tarball) -> Result<(), BundleError> {
    let mut trailer = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = gz.read(&mut buf).map_err(|e| stream_error(bundle, e))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Err(BundleError::Corrupt {
                bundle: bundle.to_path_buf(),
                detail: "data after the end of the archive".into(),
            });
        }
        trailer += n as u64;
    }
    if trailer < TAR_BLOCK {
        return Err(BundleError::Truncated {
            bundle: bundle.to_path_buf(),
            detail: "the end-of-archive marker is missing".into(),
        });
    }
    let mut rest = gz.into_inner();
    let extra = rest
        .fill_buf()
        .map_err(BundleError::io(bundle, "read the bundle"))?;
    if !extra.is_empty() {
        return Err(BundleError::Corrupt {
            bundle: bundle.to_path_buf(),
            detail: "bytes after the end of the gzip stream".into(),
        });
    }
    Ok(())
}

fn check_nothing_missing(
    bundle: &Path,
    manifest: &Manifest,
    seen: &HashSet<String>,
) -> Result<(), BundleError> {
    match manifest.files.iter().find(|f| !seen.contains(&f.path)) {
        Some(missing) => Err(BundleError::Missing {
            bundle: bundle.to_path_buf(),
            entry: missing.path.clone(),
        }),
        None => Ok(()),
    }
}

/// Verifies an unpacked bundle directory against its `MANIFEST.toml` and returns the manifest.
///
/// Every file and symlink must be listed and match (size, sha256, exec bit, link target);
/// nothing listed may be missing; directories are implicit; symlinks are never followed and may
/// not point out of the tree; anything else (fifo, socket, device) is refused.
pub fn verify_dir(root: &Path) -> Result<Manifest, BundleError> {
    let manifest = Manifest::read(root)?;
    let index = manifest.index();
    let mut seen = HashSet::new();
    for dent in WalkDir::new(root).follow_links(false).min_depth(1) {
        let dent = dent.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            BundleError::io(path, "read the bundle directory")(e.into())
        })?;
        let rel = dir_relative(root, dent.path())?;
        if rel == MANIFEST_FILE && dent.file_type().is_file() {
            continue;
        }
        let check = DirCheck {
            root,
            path: dent.path(),
            rel: &rel,
        };
        check.entry(dent.file_type(), |p| index.get(p).copied())?;
        seen.insert(rel);
    }
    check_nothing_missing(root, &manifest, &seen)?;
    Ok(manifest)
}

fn dir_relative(root: &Path, path: &Path) -> Result<String, BundleError> {
    path.strip_prefix(root)
        .ok()
        .and_then(Path::to_str)
        .map(str::to_string)
        .ok_or_else(|| BundleError::UnknownEntry {
            bundle: root.to_path_buf(),
            entry: path.display().to_string(),
        })
}

/// The checks of one entry of an unpacked bundle.
struct DirCheck<'a> {
    root: &'a Path,
    path: &'a Path,
    rel: &'a str,
}

impl DirCheck<'_> {
    fn entry<'m>(
        &self,
        file_type: std::fs::FileType,
        expected: impl Fn(&str) -> Option<&'m FileEntry>,
    ) -> Result<(), BundleError> {
        let listed = expected(self.rel);
        if file_type.is_dir() {
            return match listed {
                Some(listed) => Err(self.mismatch(Field::Kind, kind_of(listed), "directory")),
                None => Ok(()),
            };
        }
        if file_type.is_symlink() {
            let target = self.link_target(&expected)?;
            let listed = self.listed(listed, true)?;
            return self.link(&target, listed);
        }
        if file_type.is_file() {
            let listed = self.listed(listed, false)?;
            return self.file(listed);
        }
        Err(BundleError::UnsupportedType {
            bundle: self.root.to_path_buf(),
            entry: self.rel.to_string(),
            kind: "fifo, socket or device".into(),
        })
    }

    fn mismatch(
        &self,
        field: Field,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> BundleError {
        BundleError::Mismatch {
            bundle: self.root.to_path_buf(),
            entry: self.rel.to_string(),
            field,
            expected: expected.into(),
            found: found.into(),
        }
    }

    fn listed<'m>(
        &self,
        listed: Option<&'m FileEntry>,
        is_link: bool,
    ) -> Result<&'m FileEntry, BundleError> {
        let listed = listed.ok_or_else(|| BundleError::UnknownEntry {
            bundle: self.root.to_path_buf(),
            entry: self.rel.to_string(),
        })?;
        if listed.link.is_some() != is_link {
            let found = if is_link { "symlink" } else { "file" };
            return Err(self.mismatch(Field::Kind, kind_of(listed), found));
        }
        Ok(listed)
    }

    fn link_target<'m>(
        &self,
        expected: &impl Fn(&str) -> Option<&'m FileEntry>,
    ) -> Result<String, BundleError> {
        let target = std::fs::read_link(self.path)
            .map_err(BundleError::io(self.path, "read the symlink"))?;
        let target = target.to_string_lossy().into_owned();
        let is_symlink = |p: &str| expected(p).is_some_and(|f| f.link.is_some());
        resolve_link(self.rel, &target, is_symlink).map_err(|why| BundleError::UnsafePath {
            bundle: self.root.to_path_buf(),
            entry: self.rel.to_string(),
            why,
        })?;
        Ok(target)
    }

    fn link(&self, target: &str, listed: &FileEntry) -> Result<(), BundleError> {
        let expected = listed.link.as_deref().unwrap_or_default();
        if target != expected {
            return Err(self.mismatch(Field::Link, expected, target));
        }
        Ok(())
    }

    fn file(&self, listed: &FileEntry) -> Result<(), BundleError> {
        // Not a plain open: the walk saw a file, but the path may have changed since.
        let (file, _) = bascule_patch::read::open_regular(self.path)?;
        let meta = file
            .metadata()
            .map_err(BundleError::io(self.path, "stat"))?;
        let mode = normalise_mode(meta.permissions().mode());
        if mode != listed.mode {
            return Err(self.mismatch(
                Field::Mode,
                format!("{:o}", listed.mode),
                format!("{mode:o}"),
            ));
        }
        if meta.len() != listed.size {
            return Err(self.mismatch(
                Field::Size,
                listed.size.to_string(),
                meta.len().to_string(),
            ));
        }
        // At most the listed size plus one byte: a file that grows is a mismatch, not a hang.
        let (read, sha256) = copy_hashed(&mut file.take(listed.size + 1), &mut io::sink())
            .map_err(BundleError::io(self.path, "read"))?;
        if read != listed.size {
            return Err(self.mismatch(Field::Size, listed.size.to_string(), read.to_string()));
        }
        if sha256 != listed.sha256 {
            return Err(self.mismatch(Field::Sha256, listed.sha256.clone(), sha256));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{listing, packed, write, Craft, LONG, TOP};
    use crate::{unpack, MODE_EXEC};
    use std::path::PathBuf;
    use tempfile::TempDir;

    /// A packed bundle: (tempdir, staging tree, manifest).
    fn bundle() -> (TempDir, PathBuf, Manifest) {
        let tmp = TempDir::new().unwrap();
        let (staging, packed) = packed(tmp.path());
        (tmp, staging, packed.manifest)
    }

    /// Verifies a crafted tarball, asserting it fails and that nothing was written.
    fn rejects(dir: &Path, craft: Craft) -> BundleError {
        let path = craft.write_to(dir);
        let before = listing(dir);
        let err = verify_tarball(&path).expect_err("the tarball must be refused");
        assert_eq!(listing(dir), before, "verify_tarball wrote something");
        err
    }

    #[test]
    fn packed_tarball_verifies() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let before = listing(tmp.path());
        assert_eq!(verify_tarball(&packed.path).unwrap(), packed.manifest);
        assert_eq!(listing(tmp.path()), before);
        assert!(packed.manifest.files.iter().any(|f| f.path == LONG));
    }

    #[test]
    fn honest_crafted_tarball_verifies() {
        // Guards the helper the rejection tests rely on.
        let (tmp, staging, manifest) = bundle();
        let path = Craft::honest_except(&manifest, &staging, "").write_to(tmp.path());
        assert_eq!(verify_tarball(&path).unwrap(), manifest);
    }

    #[test]
    fn one_changed_byte_is_a_sha256_mismatch() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "code/index.php");
        craft.file(
            &format!("{TOP}/code/index.php"),
            b"<?php echo 'hellO';\n",
            0o644,
        );
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::Mismatch { field: Field::Sha256, entry, .. }
                if entry == "bascule-2.0.0/code/index.php"),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("sha256 mismatch"), "{message}");
        assert!(message.contains("download it again"), "{message}");
    }

    #[test]
    fn changed_size_and_mode_are_mismatches() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "code/index.php");
        craft.file(&format!("{TOP}/code/index.php"), b"<?php\n", 0o644);
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(
                err,
                BundleError::Mismatch {
                    field: Field::Size,
                    ..
                }
            ),
            "{err:?}"
        );

        let mut craft = Craft::honest_except(&manifest, &staging, "code/index.php");
        let content = std::fs::read(staging.join("code/index.php")).unwrap();
        craft.file(&format!("{TOP}/code/index.php"), &content, 0o755);
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(
                err,
                BundleError::Mismatch {
                    field: Field::Mode,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn truncated_tarball_is_refused() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let bytes = std::fs::read(&packed.path).unwrap();
        std::fs::write(&packed.path, &bytes[..bytes.len() / 2]).unwrap();
        let before = listing(tmp.path());
        let err = verify_tarball(&packed.path).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::Truncated { .. } | BundleError::Corrupt { .. }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("truncated"), "{err}");
        assert_eq!(listing(tmp.path()), before);
    }

    #[test]
    fn garbage_after_the_gzip_stream_is_refused() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let mut bytes = std::fs::read(&packed.path).unwrap();
        bytes.extend_from_slice(b"trailing");
        std::fs::write(&packed.path, &bytes).unwrap();
        let err = verify_tarball(&packed.path).unwrap_err();
        assert!(matches!(err, BundleError::Corrupt { .. }), "{err:?}");
    }

    #[test]
    fn tar_without_end_marker_is_truncated() {
        let (tmp, staging, manifest) = bundle();
        let tar = {
            let craft = Craft::honest_except(&manifest, &staging, "");
            let gz = craft.gzip();
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut tar)
                .unwrap();
            tar
        };
        // Cut at an entry boundary: the tar reader alone would see a clean end.
        let end = tar.len() - 1024;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar[..end]).unwrap();
        let path = tmp.path().join("cut.tar.gz");
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let err = verify_tarball(&path).unwrap_err();
        assert!(matches!(err, BundleError::Truncated { .. }), "{err:?}");
    }

    #[test]
    fn extra_entry_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.file(&format!("{TOP}/code/extra"), b"surprise", 0o644);
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::UnknownEntry { entry, .. } if entry == "bascule-2.0.0/code/extra"),
            "{err:?}"
        );
        assert!(err.to_string().contains("is not in MANIFEST.toml"), "{err}");
    }

    #[test]
    fn missing_entry_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let craft = Craft::honest_except(&manifest, &staging, "docs/bulletin.md");
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::Missing { entry, .. } if entry == "docs/bulletin.md"),
            "{err:?}"
        );
        assert!(err
            .to_string()
            .contains("`docs/bulletin.md` is listed in MANIFEST.toml but absent"));
    }

    #[test]
    fn duplicate_entry_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        let content = std::fs::read(staging.join("code/index.php")).unwrap();
        craft.file(&format!("{TOP}/code/index.php"), &content, 0o644);
        let err = rejects(tmp.path(), craft);
        assert!(matches!(err, BundleError::Duplicate { .. }), "{err:?}");
    }

    #[test]
    fn parent_dir_entries_are_refused() {
        for name in [
            "../evil",
            "bascule-2.0.0/../evil",
            "bascule-2.0.0/code/../../evil",
        ] {
            let (tmp, staging, manifest) = bundle();
            let mut craft = Craft::honest_except(&manifest, &staging, "");
            craft.raw(name.as_bytes(), tar::EntryType::Regular, b"pwned");
            let err = rejects(tmp.path(), craft);
            assert!(
                matches!(&err, BundleError::UnsafePath { entry, .. } if entry == name),
                "{name}: {err:?}"
            );
            assert!(err.to_string().contains("escapes the bundle"), "{err}");
        }
    }

    #[test]
    fn absolute_entry_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.raw(
            b"/etc/cron.d/evil",
            tar::EntryType::Regular,
            b"* * * * * root sh",
        );
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::UnsafePath { entry, .. } if entry == "/etc/cron.d/evil"),
            "{err:?}"
        );
    }

    #[test]
    fn entry_outside_the_top_dir_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.file("elsewhere/x", b"x", 0o644);
        let err = rejects(tmp.path(), craft);
        assert!(matches!(err, BundleError::UnsafePath { .. }), "{err:?}");
    }

    #[test]
    fn escaping_symlink_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.symlink(&format!("{TOP}/code/passwd"), "../../etc/passwd");
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::UnsafePath { entry, .. } if entry == "bascule-2.0.0/code/passwd"),
            "{err:?}"
        );
    }

    #[test]
    fn escaping_symlink_listed_in_the_manifest_is_refused() {
        let (tmp, staging, mut manifest) = bundle();
        let target = "../../etc/passwd";
        manifest.files.push(FileEntry {
            path: "code/passwd".into(),
            size: 0,
            sha256: bascule_patch::sha256_hex(target.as_bytes()),
            mode: MODE_EXEC,
            link: Some(target.into()),
        });
        manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut craft = Craft::honest_except(&manifest, &staging, "code/passwd");
        craft.symlink(&format!("{TOP}/code/passwd"), target);
        let err = rejects(tmp.path(), craft);
        assert!(matches!(err, BundleError::UnsafePath { .. }), "{err:?}");
    }

    #[test]
    fn hard_link_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.hardlink(&format!("{TOP}/code/shadow"), "/etc/shadow");
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::UnsupportedType { kind, .. } if kind == "hard link"),
            "{err:?}"
        );
    }

    #[test]
    fn fifo_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::honest_except(&manifest, &staging, "");
        craft.raw(b"bascule-2.0.0/code/pipe", tar::EntryType::Fifo, b"");
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(err, BundleError::UnsupportedType { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn manifest_not_first_is_refused() {
        let (tmp, staging, manifest) = bundle();
        let mut craft = Craft::new();
        craft.dir(TOP);
        let content = std::fs::read(staging.join("patch.toml")).unwrap();
        craft.file(&format!("{TOP}/patch.toml"), &content, 0o644);
        craft.manifest(&manifest);
        let err = rejects(tmp.path(), craft);
        assert!(
            matches!(&err, BundleError::ManifestNotFirst { found, .. } if found == "bascule-2.0.0/patch.toml"),
            "{err:?}"
        );
    }

    #[test]
    fn top_dir_must_match_the_version() {
        let (tmp, _, manifest) = bundle();
        let mut craft = Craft::new();
        craft.dir("bascule-9.9.9");
        let text = manifest.to_toml().unwrap();
        craft.file("bascule-9.9.9/MANIFEST.toml", text.as_bytes(), 0o644);
        let err = rejects(tmp.path(), craft);
        assert!(matches!(err, BundleError::Layout { .. }), "{err:?}");
    }

    /// An unpacked bundle, for the directory checks: (tempdir, bundle root).
    fn unpacked() -> (TempDir, PathBuf) {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let into = tmp.path().join("unpacked");
        std::fs::create_dir(&into).unwrap();
        let root = unpack(&packed.path, &into).unwrap();
        (tmp, root)
    }

    #[test]
    fn unpacked_dir_verifies() {
        let (_tmp, root) = unpacked();
        let manifest = verify_dir(&root).unwrap();
        assert_eq!(manifest.top_dir(), TOP);
    }

    #[test]
    fn dir_with_changed_byte_is_refused() {
        let (_tmp, root) = unpacked();
        write(&root, "code/index.php", b"<?php echo 'hellO';\n", 0o644);
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(&err, BundleError::Mismatch { field: Field::Sha256, entry, .. } if entry == "code/index.php"),
            "{err:?}"
        );
    }

    #[test]
    fn dir_with_lost_exec_bit_is_refused() {
        let (_tmp, root) = unpacked();
        let bin = root.join("bin/bascule");
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::Mismatch {
                    field: Field::Mode,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn dir_with_extra_file_is_refused() {
        let (_tmp, root) = unpacked();
        write(&root, "code/extra", b"x", 0o644);
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(&err, BundleError::UnknownEntry { entry, .. } if entry == "code/extra"),
            "{err:?}"
        );
    }

    #[test]
    fn dir_with_missing_file_is_refused() {
        let (_tmp, root) = unpacked();
        std::fs::remove_file(root.join("docs/bulletin.md")).unwrap();
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(&err, BundleError::Missing { entry, .. } if entry == "docs/bulletin.md"),
            "{err:?}"
        );
    }

    #[test]
    fn dir_with_escaping_symlink_is_refused() {
        let (_tmp, root) = unpacked();
        std::os::unix::fs::symlink("../../etc/passwd", root.join("code/passwd")).unwrap();
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(&err, BundleError::UnsafePath { entry, .. } if entry == "code/passwd"),
            "{err:?}"
        );
    }

    #[test]
    fn dir_with_retargeted_symlink_is_refused() {
        let (_tmp, root) = unpacked();
        let link = root.join("code/current.php");
        std::fs::remove_file(&link).unwrap();
        std::os::unix::fs::symlink("a-b.php", &link).unwrap();
        let err = verify_dir(&root).unwrap_err();
        assert!(
            matches!(
                err,
                BundleError::Mismatch {
                    field: Field::Link,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
