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
        let manifest = walk.read_manifest(&mut entries)?;
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

    /// The second entry: `<top>/MANIFEST.toml`, read and validated.
    fn read_manifest(&self, entries: &mut Entries<'_, Tarball>) -> Result<Manifest, BundleError> {
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
        Ok(manifest)
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
        let mut file = File::open(self.path).map_err(BundleError::io(self.path, "read"))?;
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
        let (_, sha256) =
            copy_hashed(&mut file, &mut io::sink()).map_err(BundleError::io(self.path, "read"))?;
        if sha256 != listed.sha256 {
            return Err(self.mismatch(Field::Sha256, listed.sha256.clone(), sha256));
        }
        Ok(())
    }
}
