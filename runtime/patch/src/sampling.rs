//! `[sampling.<class>]` of `patch.toml`: the core-sampling panel of a site class (pages, extra
//! normalisation rules, differences expected on purpose), checked when the patch is loaded: every
//! regex and CSS selector compiles here, so a typo fails the build, not a production run. The
//! runtime's `sampling` module fetches, normalises and compares.
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

use regex::Regex;
use scraper::Selector;
use serde::{Deserialize, Serialize};

/// Compiles a rule's regex, with an error that says what to fix.
pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid regex `{pattern}`: {e}"))
}

/// Compiles a CSS selector, with an error that says what to fix.
pub fn compile_selector(selector: &str) -> Result<Selector, String> {
    Selector::parse(selector).map_err(|e| format!("invalid CSS selector `{selector}`: {e}"))
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
    /// Whether the rule applies to a page of the panel.
    pub fn applies_to(&self, page: &str) -> bool {
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
                    compile_regex(regex).map_err(|e| format!("{at}: {e}"))?;
                }
                (None, Some(selector)) => {
                    compile_selector(selector).map_err(|e| format!("{at}: {e}"))?;
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
                    compile_selector(selector).map_err(|e| format!("{at}: {e}"))?;
                }
                (None, Some(_), None) => {}
                (None, None, Some(regex)) => {
                    compile_regex(regex).map_err(|e| format!("{at}: {e}"))?;
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
