//! Core sampling ("non-régression par carottage"): the same panel of pages fetched before the
//! release and after it, normalised, compared; any difference the patch did not declare fails
//! the run.
//!
//! Smoke tests prove the platform answers; they cannot see a price that lost its cents or a
//! block that vanished from one page type. Sampling sees those, because it compares what the
//! platform *served* before with what it serves now, for a representative panel:
//!
//! - [`panel`]: which pages (the patch's `[sampling.<class>] pages`) of which sites (the host
//!   profile's `[sampling.classes.<class>]`: explicit sites plus N random ones, seeded, so a rerun
//!   samples the same sites);
//! - [`fetch`]: fetched in parallel over real HTTP, kept raw and normalised in the run
//!   directory (`<run>/samples/before|after/<class>/<site>/<page>.raw.html` and `.html`);
//! - [`normalise`]: what differs at every request is not a difference (CSRF tokens, nonces,
//!   cache-busting query strings, timestamps, plus the patch's own regex and selector rules);
//! - [`compare`]: page by page, differences the patch declares expected (by selector or by
//!   text/regex) pass, anything else fails; [`diff`] writes a unified line diff per page
//!   (`<run>/samples/diff/`).
//!
//! # In the host profile
//!
//! ```toml
//! [sampling]
//! base_url = "http://127.0.0.1:8080"      # smoke test paths without a class are relative to it
//! seed = 2024                             # the random sites are the same at every run
//! workers = 8                             # pages fetched at once
//! timeout_secs = 10                       # per request
//!
//! [sampling.classes.site]                 # a database class: its databases are its sites
//! site_url = "http://127.0.0.1:8080/{site}/"
//! sites = ["site-0001"]                   # always sampled
//! random = 5                              # plus this many others, chosen with `seed`
//! ```
//!
//! # In the patch
//!
//! ```toml
//! [sampling.site]
//! pages = ["home", "team", "shop"]        # relative to the class's site_url
//!
//! [[sampling.site.normalise]]             # more "not a difference" rules
//! regex = 'rendered in \d+ ms'            # or selector = "div.random-quote"
//! replace = "rendered in {ms}"
//!
//! [[sampling.site.expected]]              # differences this release makes on purpose
//! page = "team"
//! selector = "img.avatar"                 # or text = "…" / regex = "…" (changed lines)
//! reason = "avatars on the team page"
//! ```

pub mod compare;
pub mod diff;
pub mod fetch;
pub mod normalise;
pub mod panel;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use panel::{HostClassSampling, HostSampling};

/// Why sampling could not run or did not pass.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Differences(String),
}

impl SamplingError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SamplingError + '_ {
        move |source| SamplingError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl From<SamplingError> for crate::engine::StepError {
    fn from(error: SamplingError) -> Self {
        match error {
            SamplingError::Io { path, source } => crate::engine::StepError::Io { path, source },
            other => crate::engine::StepError::Failed(other.to_string()),
        }
    }
}

/// `[sampling.<class>]` of `patch.toml`: the panel of one site class.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassPanel {
    /// Pages of every sampled site, relative to the class's `site_url`.
    pub pages: Vec<String>,
    /// Extra normalisation rules, on top of the built-in ones.
    #[serde(default)]
    pub normalise: Vec<NormaliseRule>,
    /// Differences this release makes on purpose.
    #[serde(default)]
    pub expected: Vec<ExpectedDifference>,
}

/// A patch's own "this is not a difference" rule: a regex replaced, or elements removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormaliseRule {
    #[serde(default)]
    pub regex: Option<String>,
    /// What a `regex` match becomes.
    #[serde(default = "ignored")]
    pub replace: String,
    /// A CSS selector: matching elements are removed.
    #[serde(default)]
    pub selector: Option<String>,
    /// Pages the rule applies to (default: every page of the panel).
    #[serde(default)]
    pub pages: Vec<String>,
}

fn ignored() -> String {
    "{ignored}".to_string()
}

/// A difference the patch declares expected on one page: the elements of a selector (removed
/// from both sides before comparing), or changed lines containing a text or matching a regex.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedDifference {
    pub page: String,
    #[serde(default)]
    pub selector: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    /// Why, for the report.
    #[serde(default)]
    pub reason: String,
}

impl NormaliseRule {
    fn applies_to(&self, page: &str) -> bool {
        self.pages.is_empty() || self.pages.iter().any(|p| p == page)
    }
}

/// Checks a patch's `[sampling]`: every class has pages, every rule says one thing and its
/// regex or selector compiles.
pub fn validate(panels: &std::collections::BTreeMap<String, ClassPanel>) -> Result<(), String> {
    for (class, panel) in panels {
        if panel.pages.is_empty() {
            return Err(format!(
                "sampling.{class}: `pages` is empty; list the pages to sample, or remove the section"
            ));
        }
        for (i, rule) in panel.normalise.iter().enumerate() {
            let at = format!("sampling.{class}.normalise[{i}]");
            match (&rule.regex, &rule.selector) {
                (Some(regex), None) => {
                    normalise::compile_regex(regex).map_err(|e| format!("{at}: {e}"))?;
                }
                (None, Some(selector)) => {
                    normalise::compile_selector(selector).map_err(|e| format!("{at}: {e}"))?;
                }
                _ => return Err(format!("{at}: give exactly one of `regex` or `selector`")),
            };
        }
        for (i, expected) in panel.expected.iter().enumerate() {
            let at = format!("sampling.{class}.expected[{i}] (page `{}`)", expected.page);
            if !panel.pages.contains(&expected.page) {
                return Err(format!(
                    "{at}: the page is not in sampling.{class}.pages; add it there or fix the name"
                ));
            }
            match (&expected.selector, &expected.text, &expected.regex) {
                (Some(selector), None, None) => {
                    normalise::compile_selector(selector).map_err(|e| format!("{at}: {e}"))?;
                }
                (None, Some(_), None) => {}
                (None, None, Some(regex)) => {
                    normalise::compile_regex(regex).map_err(|e| format!("{at}: {e}"))?;
                }
                _ => {
                    return Err(format!(
                        "{at}: give exactly one of `selector`, `text` or `regex`"
                    ))
                }
            }
        }
    }
    Ok(())
}
