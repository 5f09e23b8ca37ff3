//! Packing a staging tree into a reproducible bundle tarball.
//!
//! Two passes over the tree: the first hashes every file (one at a time, streaming) to build the
//! manifest, which must be written *first* in the tarball; the second streams the files into the
//! archive, hashing them again so that a file changed between the passes fails the build instead
//! of shipping a bundle whose manifest lies.
//!
//! Every byte of the output is a function of the inputs: entries sorted by path, GNU headers with
//! uid/gid 0, no owner names, the given mtime, modes normalised to 0644/0755 (directories 0755),
//! gzip with mtime 0, no file name and a fixed level. The tarball is written beside `out` under a
//! temporary name and renamed into place, so a failed pack never leaves a half-written bundle.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};
use walkdir::WalkDir;

use super::{
    copy_hashed, normalise_mode, BuildInfo, BundleError, FileEntry, Manifest, MigrationEntry,
    PatchMeta, FORMAT, MANIFEST_FILE, MODE_EXEC,
};
use bascule_patch::sha256_hex;

/// Fixed so that the same input always compresses to the same bytes.
const GZIP_LEVEL: u32 = 6;
const WRITE_BUFFER: usize = 256 * 1024;

/// What the manifest says besides the file list, supplied by the build.
#[derive(Debug, Clone, PartialEq)]
pub struct PackMeta {
    pub patch: PatchMeta,
    pub build: BuildInfo,
    /// See [`Manifest::base_versions`].
    pub base_versions: std::collections::BTreeMap<String, u32>,
    pub migrations: Vec<MigrationEntry>,
}

/// A tarball written by [`pack`].
#[derive(Debug, Clone, PartialEq)]
pub struct PackedBundle {
    pub path: PathBuf,
    pub size: u64,
    /// SHA-256 of the tarball's bytes, for download checks; the bundle's identity is
    /// [`Manifest::digest`].
    pub sha256: String,
    pub manifest: Manifest,
}

/// One thing found in the staging tree.
enum Item {
    Dir(String),
    Entry(FileEntry),
}

impl Item {
    fn path(&self) -> &str {
        match self {
            Item::Dir(path) => path,
            Item::Entry(entry) => &entry.path,
        }
    }
}

/// Packs `staging` (the full bundle tree, without `MANIFEST.toml`) into `out` under the top
/// directory `top`, which must be `bascule-<meta.patch.version>`; every entry gets mtime `mtime`.
pub fn pack(
    staging: &Path,
    top: &str,
    meta: PackMeta,
    mtime: u64,
    out: &Path,
) -> Result<PackedBundle, BundleError> {
    check_out_is_outside(staging, out)?;
    let items = scan_staging(staging)?;
    let manifest = Manifest {
        format: FORMAT,
        patch: meta.patch,
        build: meta.build,
        base_versions: meta.base_versions,
        migrations: meta.migrations,
        files: items
            .iter()
            .filter_map(|item| match item {
                Item::Entry(entry) => Some(entry.clone()),
                Item::Dir(_) => None,
            })
            .collect(),
    };
    manifest.validate(&staging.join(MANIFEST_FILE))?;
    if top != manifest.top_dir() {
        return Err(BundleError::Staging {
            path: staging.to_path_buf(),
            what: format!(
                "the top directory `{top}` must be `{}`, after patch.version",
                manifest.top_dir()
            ),
        });
    }
    let text = manifest.to_toml()?;
    let (size, sha256) = write_atomically(out, |file| {
        write_tarball(file, staging, top, &items, &text, mtime)
    })?;
    Ok(PackedBundle {
        path: out.to_path_buf(),
        size,
        sha256,
        manifest,
    })
}

/// A tarball written inside the staging tree would be packed into itself.
fn check_out_is_outside(staging: &Path, out: &Path) -> Result<(), BundleError> {
    let staging_abs = staging
        .canonicalize()
        .map_err(BundleError::io(staging, "open the staging directory"))?;
    let out_dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let out_dir_abs = out_dir
        .canonicalize()
        .map_err(BundleError::io(out_dir, "open the output directory"))?;
    if out_dir_abs.starts_with(&staging_abs) {
        return Err(BundleError::Staging {
            path: out.to_path_buf(),
            what: "the tarball would be written inside the staging tree; write it elsewhere".into(),
        });
    }
    Ok(())
}

/// Lists and hashes the staging tree, sorted by path (byte order).
fn scan_staging(staging: &Path) -> Result<Vec<Item>, BundleError> {
    let mut items = Vec::new();
    for dent in WalkDir::new(staging).follow_links(false).min_depth(1) {
        let dent = dent.map_err(|e| {
            let path = e.path().unwrap_or(staging).to_path_buf();
            BundleError::io(path, "read the staging tree")(e.into())
        })?;
        items.push(staging_item(staging, dent.path(), dent.file_type())?);
    }
    items.sort_unstable_by(|a, b| a.path().cmp(b.path()));
    Ok(items)
}

fn staging_item(
    staging: &Path,
    path: &Path,
    file_type: std::fs::FileType,
) -> Result<Item, BundleError> {
    let refuse = |what: &str| BundleError::Staging {
        path: path.to_path_buf(),
        what: what.to_string(),
    };
    let rel = path
        .strip_prefix(staging)
        .ok()
        .and_then(Path::to_str)
        .ok_or_else(|| refuse("the name is not UTF-8; rename it"))?
        .to_string();
    if rel == MANIFEST_FILE {
        return Err(refuse(
            "the staging tree must not contain MANIFEST.toml: pack writes it; remove it",
        ));
    }
    if file_type.is_dir() {
        Ok(Item::Dir(rel))
    } else if file_type.is_file() {
        hash_file(path, rel).map(Item::Entry)
    } else if file_type.is_symlink() {
        link_entry(path, rel).map(Item::Entry)
    } else {
        Err(refuse(
            "not a file, directory or symlink (fifo, socket or device); remove it",
        ))
    }
}

fn hash_file(path: &Path, rel: String) -> Result<FileEntry, BundleError> {
    let mut file = File::open(path).map_err(BundleError::io(path, "read"))?;
    let meta = file.metadata().map_err(BundleError::io(path, "stat"))?;
    let (size, sha256) =
        copy_hashed(&mut file, &mut io::sink()).map_err(BundleError::io(path, "read"))?;
    Ok(FileEntry {
        path: rel,
        size,
        sha256,
        mode: normalise_mode(meta.permissions().mode()),
        link: None,
    })
}

fn link_entry(path: &Path, rel: String) -> Result<FileEntry, BundleError> {
    let target = std::fs::read_link(path).map_err(BundleError::io(path, "read the symlink"))?;
    let target = target
        .to_str()
        .ok_or_else(|| BundleError::Staging {
            path: path.to_path_buf(),
            what: "the symlink target is not UTF-8; fix the link".into(),
        })?
        .to_string();
    Ok(FileEntry {
        path: rel,
        size: 0,
        sha256: sha256_hex(target.as_bytes()),
        // A symlink's own mode is always 0777, so it normalises to 0755.
        mode: MODE_EXEC,
        link: Some(target),
    })
}

/// Runs `write` on a temporary file beside `out` and renames it to `out` on success; removes it
/// on failure. Returns what `write` returned.
fn write_atomically<T>(
    out: &Path,
    write: impl FnOnce(File) -> Result<T, BundleError>,
) -> Result<T, BundleError> {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BundleError::Staging {
            path: out.to_path_buf(),
            what: "the output path has no file name".into(),
        })?;
    let partial = out.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let file = File::create(&partial).map_err(BundleError::io(&partial, "create"))?;
    let result = write(file).and_then(|value| {
        std::fs::rename(&partial, out)
            .map_err(BundleError::io(out, "rename the finished tarball to"))?;
        Ok(value)
    });
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&partial);
    }
    result
}

/// Writes the whole tarball to `file`; returns its size and sha256.
fn write_tarball(
    file: File,
    staging: &Path,
    top: &str,
    items: &[Item],
    manifest_text: &str,
    mtime: u64,
) -> Result<(u64, String), BundleError> {
    let out = HashingWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file));
    let gz = GzBuilder::new()
        .mtime(0)
        .write(out, Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(gz);
    let write_err = BundleError::io(staging, "write the tarball for");
    append_dir(&mut tar, top, mtime).map_err(write_err)?;
    let mut header = header(EntryType::Regular, 0o644, manifest_text.len() as u64, mtime);
    tar.append_data(
        &mut header,
        format!("{top}/{MANIFEST_FILE}"),
        manifest_text.as_bytes(),
    )
    .map_err(BundleError::io(staging, "write the tarball for"))?;
    for item in items {
        append_item(&mut tar, staging, top, item, mtime)?;
    }
    let finish_err = BundleError::io(staging, "finish the tarball for");
    let gz = tar.into_inner().map_err(finish_err)?;
    let out = gz
        .finish()
        .map_err(BundleError::io(staging, "finish the tarball for"))?;
    out.finish()
        .map_err(BundleError::io(staging, "flush the tarball for"))
}

fn header(kind: EntryType, mode: u32, size: u64, mtime: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header
}

fn append_dir(tar: &mut tar::Builder<impl Write>, path: &str, mtime: u64) -> io::Result<()> {
    let mut header = header(EntryType::Directory, MODE_EXEC, 0, mtime);
    tar.append_data(&mut header, format!("{path}/"), io::empty())
}

fn append_item(
    tar: &mut tar::Builder<impl Write>,
    staging: &Path,
    top: &str,
    item: &Item,
    mtime: u64,
) -> Result<(), BundleError> {
    let source = match item {
        Item::Dir(rel) | Item::Entry(FileEntry { path: rel, .. }) => staging.join(rel),
    };
    let write_err = BundleError::io(&source, "add to the tarball");
    match item {
        Item::Dir(rel) => append_dir(tar, &format!("{top}/{rel}"), mtime).map_err(write_err),
        Item::Entry(entry) => match &entry.link {
            Some(target) => {
                let mut header = header(EntryType::Symlink, 0o777, 0, mtime);
                tar.append_link(&mut header, format!("{top}/{}", entry.path), target)
                    .map_err(write_err)
            }
            None => append_file(tar, &source, top, entry, mtime),
        },
    }
}

/// Streams one file into the archive, checking it still matches what the manifest recorded.
fn append_file(
    tar: &mut tar::Builder<impl Write>,
    source: &Path,
    top: &str,
    entry: &FileEntry,
    mtime: u64,
) -> Result<(), BundleError> {
    let file = File::open(source).map_err(BundleError::io(source, "read"))?;
    let mut reader = HashingReader::new(file.take(entry.size));
    let mut header = header(EntryType::Regular, entry.mode, entry.size, mtime);
    tar.append_data(&mut header, format!("{top}/{}", entry.path), &mut reader)
        .map_err(BundleError::io(source, "add to the tarball"))?;
    let (size, sha256) = reader.finish();
    if size != entry.size || sha256 != entry.sha256 {
        return Err(BundleError::Staging {
            path: source.to_path_buf(),
            what: "the file changed while the bundle was being packed; pack again".into(),
        });
    }
    Ok(())
}

/// Hashes what is read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (u64, String) {
        (self.size, format!("{:x}", self.hasher.finalize()))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}

/// Hashes and counts what is written through it, so the tarball's digest costs no second read.
struct HashingWriter {
    inner: BufWriter<File>,
    hasher: Sha256,
    size: u64,
}

impl HashingWriter {
    fn new(inner: BufWriter<File>) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// Flushes and syncs the file, so the rename that follows publishes complete bytes.
    fn finish(self) -> io::Result<(u64, String)> {
        let file = self.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok((self.size, format!("{:x}", self.hasher.finalize())))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{meta, packed, staging, write, LONG, MTIME, TOP};
    use tempfile::TempDir;

    #[test]
    fn same_inputs_give_identical_bytes() {
        let tmp = TempDir::new().unwrap();
        let (staging, first) = packed(tmp.path());
        let again = tmp.path().join("again.tar.gz");
        let second = pack(&staging, TOP, meta(), MTIME, &again).unwrap();
        assert_eq!(
            std::fs::read(&first.path).unwrap(),
            std::fs::read(&again).unwrap()
        );
        assert_eq!(first.sha256, second.sha256);
        assert_eq!(first.size, std::fs::metadata(&again).unwrap().len());
        assert_eq!(first.sha256, sha256_hex(&std::fs::read(&again).unwrap()));
    }

    #[test]
    fn file_times_and_permission_noise_do_not_change_the_bytes() {
        let tmp = TempDir::new().unwrap();
        let (_, first) = packed(tmp.path());
        // The same tree, created later, with group/other bits that differ.
        let other = TempDir::new().unwrap();
        let staging = staging(other.path());
        write(&staging, "code/index.php", b"<?php echo 'hello';\n", 0o600);
        write(&staging, "bin/bascule", b"\x7fELF pretend binary", 0o700);
        let out = other.path().join("b.tar.gz");
        let second = pack(&staging, TOP, meta(), MTIME, &out).unwrap();
        assert_eq!(first.sha256, second.sha256);
    }

    #[test]
    fn layout_of_the_tarball() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let bytes = std::fs::read(&packed.path).unwrap();
        assert_eq!(&bytes[4..8], &[0, 0, 0, 0], "gzip mtime must be 0");
        assert_eq!(bytes[3] & 0x08, 0, "gzip must not record a file name");

        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let header = entry.header();
            assert_eq!(header.mtime().unwrap(), MTIME);
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
            assert_eq!(header.username_bytes(), Some(&b""[..]));
            assert!(header.as_gnu().is_some());
            let mode = header.mode().unwrap();
            if header.entry_type().is_dir() {
                assert_eq!(mode, 0o755);
            } else if header.entry_type().is_file() {
                assert!(mode == 0o644 || mode == 0o755, "{mode:o}");
            }
            names.push(String::from_utf8(entry.path_bytes().into_owned()).unwrap());
        }
        assert_eq!(names[0], "bascule-2.0.0/");
        assert_eq!(names[1], "bascule-2.0.0/MANIFEST.toml");
        let rest: Vec<&str> = names[2..].iter().map(|n| n.trim_end_matches('/')).collect();
        let mut sorted = rest.clone();
        sorted.sort_unstable();
        assert_eq!(rest, sorted, "entries must be sorted by path");
        assert!(
            names.contains(&format!("{TOP}/{LONG}")),
            "long names survive"
        );
        assert!(
            names.contains(&format!("{TOP}/hooks/")),
            "empty dirs are kept"
        );
    }

    #[test]
    fn manifest_lists_files_with_modes_and_links() {
        let tmp = TempDir::new().unwrap();
        let (_, packed) = packed(tmp.path());
        let files = packed.manifest.index();
        assert_eq!(files["bin/bascule"].mode, 0o755);
        assert_eq!(files["code/a-b.php"].mode, 0o644);
        let link = files["code/current.php"];
        assert_eq!(link.link.as_deref(), Some("index.php"));
        assert_eq!(
            (link.size, link.sha256.clone()),
            (0, sha256_hex(b"index.php"))
        );
        assert!(!files.contains_key("hooks"), "directories are implicit");
        let paths: Vec<&str> = packed
            .manifest
            .files
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort_unstable();
        assert_eq!(paths, sorted);
    }

    #[test]
    fn staging_with_a_manifest_is_refused() {
        let tmp = TempDir::new().unwrap();
        let staging = staging(tmp.path());
        write(&staging, MANIFEST_FILE, b"", 0o644);
        let out = tmp.path().join("b.tar.gz");
        let err = pack(&staging, TOP, meta(), MTIME, &out).unwrap_err();
        assert!(matches!(err, BundleError::Staging { .. }), "{err:?}");
        assert!(!out.exists());
    }

    #[test]
    fn escaping_symlink_in_staging_is_refused() {
        let tmp = TempDir::new().unwrap();
        let staging = staging(tmp.path());
        std::os::unix::fs::symlink("../../etc/passwd", staging.join("code/passwd")).unwrap();
        let out = tmp.path().join("b.tar.gz");
        let err = pack(&staging, TOP, meta(), MTIME, &out).unwrap_err();
        assert!(matches!(err, BundleError::UnsafePath { .. }), "{err:?}");
        assert!(!out.exists());
    }

    #[test]
    fn wrong_top_and_output_inside_staging_are_refused() {
        let tmp = TempDir::new().unwrap();
        let staging = staging(tmp.path());
        let out = tmp.path().join("b.tar.gz");
        let err = pack(&staging, "bascule-1.0.0", meta(), MTIME, &out).unwrap_err();
        assert!(matches!(err, BundleError::Staging { .. }), "{err:?}");
        let inside = staging.join("docs/b.tar.gz");
        let err = pack(&staging, TOP, meta(), MTIME, &inside).unwrap_err();
        assert!(matches!(err, BundleError::Staging { .. }), "{err:?}");
        assert!(!out.exists() && !inside.exists());
    }

    #[test]
    fn missing_migration_script_is_refused() {
        let tmp = TempDir::new().unwrap();
        let staging = staging(tmp.path());
        std::fs::remove_file(staging.join("migrations/site/0001_init/down.sql")).unwrap();
        let out = tmp.path().join("b.tar.gz");
        let err = pack(&staging, TOP, meta(), MTIME, &out).unwrap_err();
        assert!(
            matches!(err, BundleError::InvalidManifest { .. }),
            "{err:?}"
        );
    }
}
