//! The bundle format: one reproducible `bascule-<version>.tar.gz` that carries a whole release.
//!
//! ```text
//! bascule-2.0.0/
//!   MANIFEST.toml   size, sha256 and mode of every file; patch metadata; build info
//!   bin/bascule  patch.toml  code/...  migrations/...  checks/...  hooks/...  docs/...
//! ```
//!
//! # Why it looks like this
//!
//! - **The manifest is the bundle's identity.** It lists every file with its digest, so the
//!   SHA-256 of its text ([`Manifest::digest`]) names the whole content. A host records that digest
//!   when it applies a bundle; the journal and `recover` rely on it to know which bundle did what.
//! - **The manifest comes first in the tarball**, right after the top directory. A verifier can
//!   then check every later entry *as it streams past*, in one pass, without extracting anything
//!   and without holding the archive in memory: [`verify_tarball`] writes nothing to disk, so a
//!   hostile or damaged download never touches the host's file system.
//! - **Reproducible bytes.** The same tree, metadata and mtime give the same tarball
//!   ([`pack`]): entries sorted by path, fixed mtime/uid/gid, empty owner names, modes normalised
//!   to 0644/0755, gzip without timestamp or file name. Two builds can then be compared with `cmp`,
//!   and a rebuilt bundle keeps its digest.
//! - **Closed world.** Everything in the archive must be in the manifest and everything in the
//!   manifest must be in the archive; directories are implicit. Absolute paths, `..`, hard links,
//!   devices, fifos and symlinks that leave the tree are refused outright (see [`paths`]), because
//!   the bundle is unpacked as root on production hosts.
//! - **Extraction is all or nothing.** [`unpack`] verifies first, then extracts into a temporary
//!   directory beside the target — re-checking every digest, in case the file changed in between —
//!   and renames it into place only when complete. A failed unpack leaves no partial tree.
//!
//! - **Signed by the team, checked by the host** ([`signature`]): a detached minisign signature
//!   beside the tarball covers its bytes and names its manifest digest, so an unpacked tree is
//!   tied to it too.
//!
//! Every error names the tarball or directory and the entry at fault, and says what to do.

mod manifest;
mod pack;
pub mod paths;
pub mod signature;
mod unpack;
mod verify;

#[cfg(test)]
mod testutil;

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use sha2::{Digest, Sha256};

pub use manifest::{
    BuildInfo, FileEntry, Manifest, MigrationEntry, PatchMeta, FORMAT, MANIFEST_FILE,
};
pub use pack::{pack, PackMeta, PackedBundle};
pub use unpack::unpack;
pub use verify::{verify_dir, verify_tarball};

/// Mode recorded for files and symlinks without the exec bit.
pub const MODE_FILE: u32 = 0o644;
/// Mode recorded for executables (and directories, in the tarball).
pub const MODE_EXEC: u32 = 0o755;

/// Which property of an entry disagrees with the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Size,
    Sha256,
    Mode,
    /// The symlink target.
    Link,
    /// File, directory or symlink: the entry is not the kind the manifest says.
    Kind,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Size => "size",
            Field::Sha256 => "sha256",
            Field::Mode => "mode",
            Field::Link => "symlink target",
            Field::Kind => "type",
        })
    }
}

/// Everything that can be wrong with a bundle, its tarball or the tree it is packed from.
///
/// `bundle` is the tarball or bundle directory at fault; `entry` the path inside it, as stored
/// (with the top directory for tarball entries, relative to the bundle root for directories).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("{path}: cannot {action}: {source}")]
    Io {
        path: PathBuf,
        action: &'static str,
        source: io::Error,
    },
    #[error(
        "{bundle}: truncated tarball ({detail}): the download was cut short; download it again"
    )]
    Truncated { bundle: PathBuf, detail: String },
    #[error("{bundle}: truncated or corrupt tarball ({detail}); download it again")]
    Corrupt { bundle: PathBuf, detail: String },
    #[error("{bundle}: entry `{entry}` escapes the bundle ({why}); refusing to use it: the bundle may be malicious, get it from a trusted source")]
    UnsafePath {
        bundle: PathBuf,
        entry: String,
        why: String,
    },
    #[error("{bundle}: entry `{entry}` is a {kind}, which a bundle may not contain; rebuild the bundle with `cargo xtask build-patch`")]
    UnsupportedType {
        bundle: PathBuf,
        entry: String,
        kind: String,
    },
    /// A file of an unpacked bundle that is not a regular file, or too big to read.
    #[error(transparent)]
    File(#[from] bascule_patch::read::ReadError),
    #[error("{bundle}: entry `{entry}` is not in MANIFEST.toml: the bundle was modified after it was built; download it again")]
    UnknownEntry { bundle: PathBuf, entry: String },
    #[error("{bundle}: `{entry}` is listed in MANIFEST.toml but absent: the bundle is incomplete; download it again")]
    Missing { bundle: PathBuf, entry: String },
    #[error(
        "{bundle}: entry `{entry}` appears twice: the bundle was tampered with; download it again"
    )]
    Duplicate { bundle: PathBuf, entry: String },
    #[error("{bundle}: entry `{entry}` {field} mismatch (MANIFEST.toml: {expected}, found: {found}): the bundle is corrupt or was modified; download it again")]
    Mismatch {
        bundle: PathBuf,
        entry: String,
        field: Field,
        expected: String,
        found: String,
    },
    #[error("{bundle}: MANIFEST.toml must be the first entry after the top directory, found `{found}`: this is not a bascule bundle, or it was repacked by hand; use the tarball built by `cargo xtask build-patch`")]
    ManifestNotFirst { bundle: PathBuf, found: String },
    #[error("{bundle}: {what}; use the tarball built by `cargo xtask build-patch`")]
    Layout { bundle: PathBuf, what: String },
    #[error("{path}: invalid manifest: {what}")]
    InvalidManifest { path: PathBuf, what: String },
    #[error("{path}: cannot be packed: {what}")]
    Staging { path: PathBuf, what: String },
    #[error("{path} already exists: remove it first or unpack somewhere else")]
    TargetExists { path: PathBuf },
    #[error(transparent)]
    Signature(#[from] signature::SignatureError),
}

impl BundleError {
    fn io(path: impl Into<PathBuf>, action: &'static str) -> impl FnOnce(io::Error) -> BundleError {
        let path = path.into();
        move |source| BundleError::Io {
            path,
            action,
            source,
        }
    }
}

/// The mode the manifest records for a file with permission bits `mode`: only the exec bit
/// survives, because umask and checkout tools make the other bits noise.
pub fn normalise_mode(mode: u32) -> u32 {
    if mode & 0o111 != 0 {
        MODE_EXEC
    } else {
        MODE_FILE
    }
}

/// Copies `reader` to `sink` while hashing it, one buffer at a time so a large file never sits in
/// memory. Returns the byte count and the lower-case hex SHA-256.
fn copy_hashed(reader: &mut dyn Read, sink: &mut dyn Write) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        sink.write_all(&buf[..n])?;
        size += n as u64;
    }
    Ok((size, format!("{:x}", hasher.finalize())))
}
