//! The maintenance page: HTTP 503 with `Retry-After` and a courtesy page while the platform is
//! being changed.
//!
//! Two modes, from the host profile's `[maintenance]`:
//!
//! - **`flag-file`** ([`flag_file`]): the front web server (nginx) stays up and answers 503 with
//!   the page while a flag file exists; Bascule writes the page and the allowlist beside the flag,
//!   then the flag. `patch-template/maintenance/nginx-maintenance.conf` is the snippet that does
//!   this in nginx. Allowlisted client addresses (the team doing the acceptance) pass through to
//!   the app.
//! - **`builtin`** ([`builtin`]): no front server to rely on; Bascule itself listens on the web
//!   service's address *while that service is stopped* and answers every request with the page.
//!   Since `maintenance-on` runs before `stop-services`, the address is still taken then: the
//!   builtin server is a lodger that takes the port when the services have released it
//!   ([`take_port`], called by `stop-services` once every stop is verified) and gives it back
//!   before any service starts ([`release_port`]). It lives in the `bascule` process: a run that
//!   dies takes it down, and `bascule recover` runs without it.
//!
//! ```toml
//! [maintenance]
//! mode = "flag-file"                     # or "builtin"
//! flag_file = "/srv/maintenance/maintenance.flag"   # flag-file: page and allowlist go beside it
//! allow = ["192.0.2.10"]                 # flag-file: client addresses that pass through
//! # listen = "0.0.0.0:80"                # builtin: the web service's address
//! page_dir = "maintenance-page"          # index.html and its assets, inlined; default: a plain page
//! retry_after = 120                      # seconds, the Retry-After header (builtin)
//! ```
//!
//! The page is one HTML file with its assets inlined as `data:` URIs: during maintenance nothing
//! else may be there to serve a stylesheet or a logo.

pub mod builtin;
pub mod flag_file;
pub mod page;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use bascule_runlog::RunLog;

#[derive(Debug, thiserror::Error)]
pub enum MaintenanceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("maintenance page {path}: {what}")]
    Page { path: PathBuf, what: String },
    #[error("maintenance.listen {addr}: {what}")]
    Listen { addr: SocketAddr, what: String },
}

/// How the 503 page is served: by Bascule itself (`builtin`) or by the front web server when a
/// flag file exists (`flag-file`). Written `mode = …` in `[maintenance]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    Builtin,
    FlagFile,
}

/// The host profile's `[maintenance]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceSpec {
    pub mode: Method,
    /// builtin: where the web service listens, e.g. `0.0.0.0:80`.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// flag-file: the flag the front server tests.
    #[serde(default)]
    pub flag_file: Option<PathBuf>,
    /// `index.html` and its assets.
    #[serde(default)]
    pub page_dir: Option<PathBuf>,
    #[serde(default = "default_retry_after")]
    pub retry_after: u32,
    /// flag-file: client addresses that still reach the app.
    #[serde(default)]
    pub allow: Vec<IpAddr>,
}

fn default_retry_after() -> u32 {
    120
}

impl MaintenanceSpec {
    /// Refuses fields that do not fit the mode; resolves paths against the profile's directory.
    pub fn check_and_resolve(&mut self, base: &Path) -> Result<(), String> {
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        match self.mode {
            Method::Builtin => {
                if self.listen.is_none() {
                    return Err("maintenance: mode \"builtin\" needs `listen`, the web service's address, e.g. \"0.0.0.0:80\"".into());
                }
                if self.flag_file.is_some() {
                    return Err("maintenance: `flag_file` is for mode \"flag-file\"".into());
                }
                if !self.allow.is_empty() {
                    return Err("maintenance: `allow` needs mode \"flag-file\": in builtin mode the app is stopped, there is nothing to pass through to".into());
                }
            }
            Method::FlagFile => {
                let Some(flag) = &self.flag_file else {
                    return Err("maintenance: mode \"flag-file\" needs `flag_file`, the file the front web server tests".into());
                };
                if matches!(
                    flag.extension().and_then(|e| e.to_str()),
                    Some("html" | "allow")
                ) {
                    return Err(format!(
                        "maintenance.flag_file `{}`: the page and the allowlist are written beside it as .html and .allow; name the flag otherwise (e.g. maintenance.flag)",
                        flag.display()
                    ));
                }
                if self.listen.is_some() {
                    return Err("maintenance: `listen` is for mode \"builtin\"; in flag-file mode the front server listens".into());
                }
                self.flag_file = Some(resolve(flag));
            }
        }
        if let Some(dir) = &self.page_dir {
            let dir = resolve(dir);
            if !dir.join("index.html").is_file() {
                return Err(format!(
                    "maintenance.page_dir {}: no index.html there",
                    dir.display()
                ));
            }
            self.page_dir = Some(dir);
        }
        Ok(())
    }
}

/// Shows the maintenance page (idempotent).
pub fn open(spec: &MaintenanceSpec, log: &RunLog) -> Result<(), MaintenanceError> {
    let html = page::render(spec)?;
    match (spec.mode, spec.listen, &spec.flag_file) {
        (Method::Builtin, Some(addr), _) => {
            builtin::open(addr, html, spec.retry_after);
            log.line(format_args!(
                "maintenance: builtin server for {addr} (serves as soon as the port is free)"
            ));
            Ok(())
        }
        (_, _, Some(flag)) => {
            flag_file::open(flag, &html, &spec.allow)?;
            log.line(format_args!(
                "maintenance: flag {} written, page {}, {} allowed address(es)",
                flag.display(),
                flag_file::page_path(flag).display(),
                spec.allow.len()
            ));
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Takes the maintenance page down (idempotent).
pub fn close(spec: &MaintenanceSpec, log: &RunLog) -> Result<(), MaintenanceError> {
    match (spec.mode, &spec.flag_file) {
        (Method::Builtin, _) => {
            builtin::close();
            log.line("maintenance: builtin server stopped");
        }
        (Method::FlagFile, Some(flag)) => {
            flag_file::close(flag)?;
            log.line(format_args!("maintenance: flag {} removed", flag.display()));
        }
        (Method::FlagFile, None) => {}
    }
    Ok(())
}

/// Every service is stopped: the builtin server (if this process runs one) takes the address.
pub fn take_port(log: &RunLog) -> Result<(), MaintenanceError> {
    if let Some(addr) = builtin::take_port(Duration::from_secs(5))? {
        log.line(format_args!(
            "maintenance: builtin server answers 503 on {addr}"
        ));
    }
    Ok(())
}

/// A service is about to start: the builtin server (if any) gives the address back.
pub fn release_port(log: &RunLog) {
    if let Some(addr) = builtin::release_port() {
        log.line(format_args!("maintenance: builtin server released {addr}"));
    }
}
