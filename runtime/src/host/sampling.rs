//! `[sampling]` of the host profile: where the sites of each class answer, and which of them stand
//! for the others (explicit sites plus N random ones, seeded). The runtime's `sampling` module
//! fetches the panel; `runtime/host.toml` documents every key.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[sampling]` of the host profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSampling {
    /// The platform's base URL: smoke test `path`s without a class are relative to it.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Seed of the random choice of sites.
    #[serde(default)]
    pub seed: u64,
    /// Pages fetched at once.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Seconds a request may take, connection included.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Per site class (a database class: its databases are its sites).
    #[serde(default)]
    pub classes: BTreeMap<String, HostClassSampling>,
}

fn default_workers() -> usize {
    8
}

fn default_timeout() -> u64 {
    10
}

/// `[sampling.classes.<class>]` of the host profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostClassSampling {
    /// A site's base URL, with `{site}` for the site's name, e.g. `http://127.0.0.1:8080/{site}/`.
    pub site_url: String,
    /// Sites always sampled.
    #[serde(default)]
    pub sites: Vec<String>,
    /// How many more, chosen at random among the others.
    #[serde(default)]
    pub random: usize,
}

impl HostSampling {
    /// Refuses what cannot work, when the profile is loaded.
    pub fn check(&self) -> Result<(), String> {
        if self.workers == 0 || self.timeout_secs == 0 {
            return Err("sampling: `workers` and `timeout_secs` must be at least 1".into());
        }
        for (class, spec) in &self.classes {
            if !spec.site_url.contains("{site}") {
                return Err(format!(
                    "sampling.classes.{class}.site_url `{}` has no `{{site}}`: write where a site's pages are, \
                     e.g. `http://127.0.0.1:8080/{{site}}/`",
                    spec.site_url
                ));
            }
            if !spec.site_url.starts_with("http://") && !spec.site_url.starts_with("https://") {
                return Err(format!(
                    "sampling.classes.{class}.site_url `{}` must be an http:// or https:// URL",
                    spec.site_url
                ));
            }
        }
        Ok(())
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs)
    }
}
