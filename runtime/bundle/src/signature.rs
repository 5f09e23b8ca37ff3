//! Signed bundles: who built this tarball, proven by a detached signature beside it.
//!
//! ```text
//! bascule-2.0.0.tar.gz           the bundle
//! bascule-2.0.0.tar.gz.minisig   its signature, in minisign's format (ed25519)
//! ```
//!
//! # Why it looks like this
//!
//! - **minisign's format, verified by `minisign-verify`.** A team can check a bundle with the
//!   stock `minisign -Vm bascule-2.0.0.tar.gz -p team.pub`, and the host links a small,
//!   dependency-free verifier instead of crypto written here. Signatures are pre-hashed
//!   (BLAKE2b), so the tarball is read as a stream, never held in memory.
//! - **The signature covers the tarball's bytes**, and its *trusted comment* (signed too) says
//!   what they are: version, the `from` range and the manifest digest ([`TrustedComment`]).
//!   The digest is what ties an *unpacked tree* to the signature: a tree whose `MANIFEST.toml`
//!   hashes to the signed digest, and whose files match that manifest, is the signed bundle.
//!   So a manifest rebuilt after a file was swapped (the classic way to make a tampered bundle
//!   "verify") no longer matches anything the team signed.
//! - **Checked before anything is parsed.** [`verify_signed_tarball`] checks the signature
//!   over the raw bytes first, then the manifest as a stream: a tarball nobody trusted never
//!   reaches the tar or TOML parsers.
//! - **The verifier must not live inside what it verifies.** A bundle's own `bin/bascule`
//!   cannot vouch for the bundle it came in; the host's installed `bascule` (see the runtime's
//!   trusted-runtime notes) runs this check, with the keys the host profile pins.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::{BundleError, Manifest};

/// What a signature file's name adds to its tarball's.
pub const SIGNATURE_SUFFIX: &str = ".minisig";

/// The first field of every trusted comment Bascule writes: other minisign signatures of the
/// same key (of something that is not a bundle) are not mistaken for a bundle's.
const COMMENT_TAG: &str = "bascule-bundle";

/// Why a bundle's signature does not prove it was built by the team.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error(
        "{tarball}: not signed ({signature} does not exist), and this host trusts only signed \
         bundles ({keys}). Ask the release team for the signature built with \
         `cargo xtask build-patch --sign`, and put it beside the tarball"
    )]
    Missing {
        tarball: PathBuf,
        signature: PathBuf,
        keys: String,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a minisign signature ({what}); it may have been damaged: fetch it again")]
    Malformed { path: PathBuf, what: String },
    #[error("{source_name}: not a minisign public key ({what}): give the base64 line of the team's `.pub` file (`cargo xtask keygen` prints it)")]
    BadKey { source_name: String, what: String },
    #[error(
        "{signature}: made by a key this host does not trust ({keys}). If the team's key changed, \
         pin its new public key in the host profile's [trust] public_keys; otherwise do not use \
         this bundle"
    )]
    UnknownKey { signature: PathBuf, keys: String },
    #[error(
        "{tarball}: its signature {signature} does not match: the tarball was changed after it \
         was signed. Do not use it; fetch the bundle again from the release team"
    )]
    Forged {
        tarball: PathBuf,
        signature: PathBuf,
    },
    #[error("{signature}: its trusted comment is not a Bascule bundle's ({comment}): this signature is for something else")]
    NotABundle { signature: PathBuf, comment: String },
    #[error(
        "{bundle}: the team signed the bundle with manifest digest {signed}, this one's is \
         {found}: its files were changed after it was signed. Unpack the signed tarball again"
    )]
    OtherManifest {
        bundle: PathBuf,
        signed: String,
        found: String,
    },
}

/// A public key the host trusts, with where it was pinned (for messages).
#[derive(Debug, Clone)]
pub struct TrustedKey {
    key: minisign_verify::PublicKey,
    /// The base64 text of the key, as pinned.
    text: String,
    /// Where it was pinned, e.g. `host.toml trust.public_keys[0]`.
    pub source: String,
}

impl TrustedKey {
    /// Parses a minisign public key: its base64 line, or a whole `.pub` file's text.
    pub fn parse(text: &str, source: &str) -> Result<TrustedKey, SignatureError> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with("untrusted comment:"))
            .unwrap_or("");
        let key =
            minisign_verify::PublicKey::from_base64(line).map_err(|e| SignatureError::BadKey {
                source_name: source.to_string(),
                what: e.to_string(),
            })?;
        Ok(TrustedKey {
            key,
            text: line.to_string(),
            source: source.to_string(),
        })
    }

    /// A short name for the key in messages: the start of its base64 text.
    pub fn short(&self) -> String {
        let end = self.text.len().min(16);
        format!("{}…", &self.text[..end])
    }
}

/// The signed facts of a bundle, carried by its signature's trusted comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedComment {
    /// The tarball's file name when it was signed.
    pub file: String,
    pub version: String,
    pub from: String,
    /// [`Manifest::digest`] of the bundle.
    pub manifest: String,
}

impl TrustedComment {
    pub fn of(manifest: &Manifest, file: &str) -> TrustedComment {
        TrustedComment {
            file: file.to_string(),
            version: manifest.patch.version.clone(),
            from: manifest.patch.from.clone(),
            manifest: manifest.digest(),
        }
    }

    /// Tab-separated `key:value` fields, as minisign's own trusted comments are written.
    pub fn to_line(&self) -> String {
        format!(
            "{COMMENT_TAG}\tfile:{}\tversion:{}\tfrom:{}\tmanifest:{}",
            self.file, self.version, self.from, self.manifest
        )
    }

    fn parse(line: &str) -> Option<TrustedComment> {
        let mut fields = line.split('\t');
        if fields.next() != Some(COMMENT_TAG) {
            return None;
        }
        let mut value = |key: &str| fields.next()?.strip_prefix(key)?.strip_prefix(':');
        Some(TrustedComment {
            file: value("file")?.to_string(),
            version: value("version")?.to_string(),
            from: value("from")?.to_string(),
            manifest: value("manifest")?.to_string(),
        })
    }
}

/// A signature checked against a trusted key.
#[derive(Debug, Clone)]
pub struct Signed {
    /// Where the key that made it was pinned.
    pub key_source: String,
    pub key: String,
    pub comment: TrustedComment,
}

/// The signature file of `tarball`: beside it, its name plus [`SIGNATURE_SUFFIX`].
pub fn signature_path(tarball: &Path) -> PathBuf {
    let mut name = tarball.as_os_str().to_owned();
    name.push(SIGNATURE_SUFFIX);
    PathBuf::from(name)
}

/// Checks that `signature` is one of `keys`' signatures of the bytes of `tarball`, reading the
/// tarball as a stream; returns what the signature vouches for.
pub fn verify_signature(
    tarball: &Path,
    signature: &Path,
    keys: &[TrustedKey],
) -> Result<Signed, SignatureError> {
    let sig = read_signature(tarball, signature, keys)?;
    let comment =
        TrustedComment::parse(sig.trusted_comment()).ok_or_else(|| SignatureError::NotABundle {
            signature: signature.to_path_buf(),
            comment: sig.trusted_comment().to_string(),
        })?;
    for key in keys {
        let mut stream = match key.key.verify_stream(&sig) {
            Ok(stream) => stream,
            Err(minisign_verify::Error::UnexpectedKeyId) => continue,
            Err(e) => return Err(malformed(signature, e)),
        };
        hash_file(tarball, &mut |chunk| stream.update(chunk))?;
        return match stream.finalize() {
            Ok(()) => Ok(Signed {
                key_source: key.source.clone(),
                key: key.short(),
                comment,
            }),
            Err(_) => Err(SignatureError::Forged {
                tarball: tarball.to_path_buf(),
                signature: signature.to_path_buf(),
            }),
        };
    }
    Err(SignatureError::UnknownKey {
        signature: signature.to_path_buf(),
        keys: describe_keys(keys),
    })
}

/// Checks the signature of `tarball`, then the tarball against its manifest, as two streams,
/// and that the signature vouches for that very manifest.
pub fn verify_signed_tarball(
    tarball: &Path,
    signature: &Path,
    keys: &[TrustedKey],
) -> Result<(Manifest, Signed), BundleError> {
    let signed = verify_signature(tarball, signature, keys)?;
    let manifest = crate::verify_tarball(tarball)?;
    check_manifest(&signed, &manifest, tarball)?;
    Ok((manifest, signed))
}

/// Checks that `manifest` (of the tarball or tree `bundle`) is the one `signed` vouches for.
pub fn check_manifest(
    signed: &Signed,
    manifest: &Manifest,
    bundle: &Path,
) -> Result<(), SignatureError> {
    let found = manifest.digest();
    if signed.comment.manifest != found {
        return Err(SignatureError::OtherManifest {
            bundle: bundle.to_path_buf(),
            signed: signed.comment.manifest.clone(),
            found,
        });
    }
    Ok(())
}

/// The keys, for messages: how many, and where they were pinned.
fn describe_keys(keys: &[TrustedKey]) -> String {
    let named: Vec<String> = keys
        .iter()
        .map(|k| format!("{} from {}", k.short(), k.source))
        .collect();
    format!("trusted keys: {}", named.join(", "))
}

/// A signature file is a few hundred bytes; anything larger is not one.
const SIGNATURE_MAX: u64 = 64 * 1024;

fn read_signature(
    tarball: &Path,
    signature: &Path,
    keys: &[TrustedKey],
) -> Result<minisign_verify::Signature, SignatureError> {
    let io = |source| SignatureError::Io {
        path: signature.to_path_buf(),
        source,
    };
    let file = match std::fs::File::open(signature) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(SignatureError::Missing {
                tarball: tarball.to_path_buf(),
                signature: signature.to_path_buf(),
                keys: describe_keys(keys),
            })
        }
        Err(e) => return Err(io(e)),
    };
    let mut text = String::new();
    file.take(SIGNATURE_MAX + 1)
        .read_to_string(&mut text)
        .map_err(io)?;
    if text.len() as u64 > SIGNATURE_MAX {
        return Err(SignatureError::Malformed {
            path: signature.to_path_buf(),
            what: format!("larger than {SIGNATURE_MAX} bytes"),
        });
    }
    minisign_verify::Signature::decode(&text).map_err(|e| malformed(signature, e))
}

fn malformed(path: &Path, error: minisign_verify::Error) -> SignatureError {
    SignatureError::Malformed {
        path: path.to_path_buf(),
        what: error.to_string(),
    }
}

fn hash_file(path: &Path, update: &mut dyn FnMut(&[u8])) -> Result<(), SignatureError> {
    let io = |source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trusted_comment_reads_back_and_other_comments_are_not_a_bundle_s() {
        let comment = TrustedComment {
            file: "bascule-2.0.0.tar.gz".into(),
            version: "2.0.0".into(),
            from: "^1.0.0".into(),
            manifest: "ab12".into(),
        };
        assert_eq!(TrustedComment::parse(&comment.to_line()), Some(comment));
        assert_eq!(
            TrustedComment::parse("timestamp:1633700835\tfile:test\tprehashed"),
            None
        );
    }

    #[test]
    fn a_key_is_read_from_its_line_or_its_pub_file_and_garbage_is_named() {
        let line = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3";
        let file = format!("untrusted comment: minisign public key\n{line}\n");
        assert_eq!(TrustedKey::parse(&file, "x").unwrap().text, line);
        assert_eq!(
            TrustedKey::parse(line, "x").unwrap().short(),
            "RWQf6LRCGA9i53ml…"
        );
        let bad = TrustedKey::parse("not a key", "host.toml trust.public_keys[1]").unwrap_err();
        assert!(
            bad.to_string()
                .starts_with("host.toml trust.public_keys[1]: not a minisign public key"),
            "{bad}"
        );
    }
}
