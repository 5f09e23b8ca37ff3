//! `[https]` of the host profile: the CA that signs the platform's own certificates, trusted for
//! every `https://` request Bascule makes (smoke tests, core sampling, services' health checks)
//! besides the public web roots. `runtime/host.toml` documents it.
//!
//! ```toml
//! [https]
//! ca_file = "/etc/bascule/web-ca.pem"   # PEM, one or more CA certificates
//! ```
//!
//! The file is read and every certificate checked when the profile is loaded: a run never
//! starts with a CA that its first https:// request would find missing or unusable.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::http::Roots;

/// The host profile's `[https]`, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsSpec {
    /// A PEM file of CA certificates, relative to the profile's directory.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

impl HttpsSpec {
    /// The CAs trusted for `https://`: the public roots, plus `ca_file`'s, resolved against
    /// `base`. A missing, unreadable or invalid file is an error naming the key and the file.
    pub fn roots(&self, base: &Path) -> Result<Roots, String> {
        let Some(file) = &self.ca_file else {
            return Ok(Roots::public());
        };
        Roots::with_ca_file(&base.join(file)).map_err(|e| format!("https.ca_file: {e}"))
    }
}
