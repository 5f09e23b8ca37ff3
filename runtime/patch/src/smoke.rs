//! `[[smoke]]` of `patch.toml`: the smoke tests a patch declares, checked when the patch is
//! loaded. The runtime's `smoke` step runs them.
//!
//! ```toml
//! [[smoke]]
//! name = "health"
//! path = "/_health"                # relative to the host's [sampling] base_url (or url = "http://…")
//! status = 200                     # the default
//! contains = "ok"
//!
//! [[smoke]]
//! name = "home shows the site name"
//! class = "site"                   # per site: relative to [sampling.classes.site] site_url
//! sites = "sample"                 # or "all"
//! path = "home"
//! contains = "<h1>{site}</h1>"     # {site} is the site's name (in `regex` too, escaped)
//!
//! [[smoke]]
//! name = "release files"
//! command = "test -f current/VERSION && cat current/VERSION"   # sh -c, in the platform root
//! stdout_contains = "2.0.0"
//! ```

use serde::{Deserialize, Serialize};

/// Which sites of a class an HTTP check runs on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteChoice {
    /// The host profile's sample (explicit sites plus the seeded random ones).
    #[default]
    Sample,
    All,
}

/// One `[[smoke]]` entry of `patch.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeCheck {
    pub name: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    #[serde(default)]
    pub sites: SiteChoice,
    #[serde(default = "ok_status")]
    pub status: u16,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub stdout_contains: Option<String>,
    /// Seconds a command may run (HTTP checks use the host's `[sampling] timeout_secs`).
    #[serde(default = "command_timeout")]
    pub timeout: u64,
}

fn ok_status() -> u16 {
    200
}

fn command_timeout() -> u64 {
    60
}

/// Checks `[[smoke]]` entries when the patch is loaded.
pub fn validate(checks: &[SmokeCheck]) -> Result<(), String> {
    for (i, check) in checks.iter().enumerate() {
        let at = format!("smoke[{i}] `{}`", check.name);
        let targets = [
            check.url.is_some(),
            check.path.is_some(),
            check.command.is_some(),
        ];
        if targets.iter().filter(|t| **t).count() != 1 {
            return Err(format!(
                "{at}: give exactly one of `url`, `path` or `command`"
            ));
        }
        if check.command.is_some()
            && (check.contains.is_some() || check.regex.is_some() || check.class.is_some())
        {
            return Err(format!(
                "{at}: a command check takes `stdout_contains`, not `contains`, `regex` or `class`"
            ));
        }
        if check.command.is_none() && check.stdout_contains.is_some() {
            return Err(format!("{at}: `stdout_contains` is for command checks"));
        }
        if check.url.is_some() && check.class.is_some() {
            return Err(format!(
                "{at}: with `class`, give a `path` relative to the class's site_url, not a `url`"
            ));
        }
        if let Some(regex) = &check.regex {
            regex::Regex::new(&regex.replace("{site}", "site"))
                .map_err(|e| format!("{at}: invalid regex `{regex}`: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> SmokeCheck {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn checks_say_one_thing() {
        let two = check("name = \"x\"\npath = \"/a\"\ncommand = \"true\"");
        assert!(validate(&[two]).unwrap_err().contains("exactly one"));
        let mixed = check("name = \"x\"\ncommand = \"true\"\ncontains = \"a\"");
        assert!(validate(&[mixed]).unwrap_err().contains("stdout_contains"));
        let bad = check("name = \"x\"\npath = \"/a\"\nregex = \"(\"");
        assert!(validate(&[bad]).unwrap_err().contains("invalid regex"));
    }
}
