//! Reading one file of a patch or an unpacked bundle, before anything has vouched for it.
//!
//! A bundle tree is input from outside: `MANIFEST.toml -> /dev/zero` would fill memory, a fifo
//! would block forever, `patch.toml -> /etc/shadow` would quote a line of it in a parse error.
//! So every file is opened without following a symlink (`O_NOFOLLOW`) and without blocking
//! (`O_NONBLOCK`, so a fifo opens at once and is then refused), must be a regular file by the
//! `fstat` of what was opened (not a `stat` of the path, which could change in between), and
//! must fit the limit of its kind, checked before the first byte is read; the read itself stops
//! at the limit too, in case the file grows meanwhile.

use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

/// The most a TOML file of a patch or bundle may hold (`patch.toml`, `MANIFEST.toml`).
pub const MAX_TOML: u64 = 64 << 20;
/// The most one SQL file may hold (a migration's `up.sql`/`down.sql`, a check).
pub const MAX_SQL: u64 = 256 << 20;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is a {kind}, not a regular file: a patch or bundle holds regular files only; replace it with the file itself")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("{path} is {size} bytes, more than the {limit} bytes a file of its kind may hold")]
    TooBig {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
}

impl ReadError {
    /// The file that could not be read.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotRegular { path, .. }
            | ReadError::TooBig { path, .. } => path,
        }
    }
}

/// Opens `path` for reading if it is a regular file (see the module doc); returns it with its
/// size.
pub fn open_regular(path: &Path) -> Result<(File, u64), ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let flags = (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits();
    let file = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags as i32)
        .open(path)
    {
        Ok(file) => file,
        // ELOOP: the last component is a symlink; say so rather than "too many levels".
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(not_regular(path, "symlink"))
        }
        Err(e) => return Err(io(e)),
    };
    let meta = file.metadata().map_err(io)?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() {
            "directory"
        } else if kind.is_fifo() {
            "fifo"
        } else if kind.is_socket() {
            "socket"
        } else if kind.is_block_device() || kind.is_char_device() {
            "device"
        } else {
            "special file"
        };
        return Err(not_regular(path, what));
    }
    Ok((file, meta.len()))
}

fn not_regular(path: &Path, kind: &'static str) -> ReadError {
    ReadError::NotRegular {
        path: path.to_path_buf(),
        kind,
    }
}

/// The text of `path`, a regular file of at most `limit` bytes.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let (file, size) = open_regular(path)?;
    let too_big = |size| ReadError::TooBig {
        path: path.to_path_buf(),
        size,
        limit,
    };
    if size > limit {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| ReadError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("patch.toml");
        std::fs::write(&file, "version = \"1\"\n").unwrap();
        assert_eq!(read_text(&file, 100).unwrap(), "version = \"1\"\n");

        let big = read_text(&file, 4).unwrap_err();
        assert!(
            matches!(
                big,
                ReadError::TooBig {
                    size: 14,
                    limit: 4,
                    ..
                }
            ),
            "{big}"
        );

        let link = dir.path().join("link.toml");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let refused = read_text(&link, MAX_TOML).unwrap_err();
        assert!(refused.to_string().contains("is a symlink"), "{refused}");

        let fifo = dir.path().join("up.sql");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let refused = read_text(&fifo, MAX_SQL).unwrap_err();
        assert!(refused.to_string().contains("is a fifo"), "{refused}");

        let refused = read_text(dir.path(), MAX_SQL).unwrap_err();
        assert!(refused.to_string().contains("is a directory"), "{refused}");

        let missing = read_text(&dir.path().join("none"), MAX_SQL).unwrap_err();
        assert!(matches!(missing, ReadError::Io { .. }), "{missing}");
    }
}
