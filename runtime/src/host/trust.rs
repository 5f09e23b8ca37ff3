//! `[trust]` of the host profile: the release team's public keys this host pins. Once any is
//! pinned, `apply` and `migrate` run only bundles signed by one of them, and `verify` checks
//! the signature first (see `bascule_bundle::signature` and `crate::trusted`).
//!
//! ```toml
//! [trust]
//! public_keys = ["RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"]
//! public_key_files = ["/etc/bascule/team.pub"]
//! ```

use std::path::{Path, PathBuf};

use bascule_bundle::signature::TrustedKey;
use serde::Deserialize;

/// The host profile's `[trust]`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSpec {
    /// Public keys, each the base64 line of a minisign `.pub` file.
    #[serde(default)]
    pub public_keys: Vec<String>,
    /// Public key files (`cargo xtask keygen`'s `.pub`, or the stock tool's).
    #[serde(default)]
    pub public_key_files: Vec<PathBuf>,
}

impl TrustSpec {
    /// Every pinned key, parsed; an unreadable or malformed one is an error naming its key.
    pub fn keys(&self, profile: &Path) -> Result<Vec<TrustedKey>, String> {
        let name = profile.file_name().map_or_else(
            || profile.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut keys = Vec::new();
        for (i, text) in self.public_keys.iter().enumerate() {
            let source = format!("{name} trust.public_keys[{i}]");
            keys.push(TrustedKey::parse(text, &source).map_err(|e| e.to_string())?);
        }
        let base = profile.parent().unwrap_or(Path::new("."));
        for (i, file) in self.public_key_files.iter().enumerate() {
            let path = base.join(file);
            let source = format!("{name} trust.public_key_files[{i}] ({})", path.display());
            let text = read_key_file(&path).map_err(|e| format!("{source}: cannot read: {e}"))?;
            keys.push(TrustedKey::parse(&text, &source).map_err(|e| e.to_string())?);
        }
        Ok(keys)
    }
}

/// A public key file is two short lines: a few kilobytes at most is read.
fn read_key_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(4096)
        .read_to_string(&mut text)?;
    Ok(text)
}
