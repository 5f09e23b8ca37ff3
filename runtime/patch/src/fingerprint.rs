//! `[fingerprint]`: which differences between a production host and the rehearsal that passed
//! refuse a run.
//!
//! Every run records the host's environment fingerprint (the runtime's `fingerprint` module):
//! flat keys such as `os.version_id`, `kernel`, `platform.case_sensitive`,
//! `software.nginx`, `db.site.major`, `db.site.sql_mode`. `bascule plan` and `apply` list every
//! key on which the host differs from the rehearsal; a key matching one of `critical` refuses
//! `apply` unless the operator writes a reason (`--accept-differences`).
//!
//! ```toml
//! [fingerprint]
//! critical = ["platform.case_sensitive", "db.*.major", "db.*.lower_case_table_names",
//!             "db.*.sql_mode", "software.php"]
//! require_rehearsal = false   # true: no passing rehearsal refuses too (unless a reason is given)
//! ```
//!
//! A pattern is a key whose segments may be `*` (any one segment); a pattern ending in `.**`
//! matches every key below it (`software.**`).

use serde::{Deserialize, Serialize};

/// The first segment of every fingerprint key: what a pattern may start with.
pub const FINGERPRINT_ROOTS: &[&str] = &[
    "os",
    "kernel",
    "arch",
    "locale",
    "time_zone",
    "platform",
    "software",
    "db",
];

/// The facts of a database class (`db.<class>.<fact>`): what `bascule-db`'s `ServerFacts` gives
/// for each backend (its tests keep this list complete).
pub const DB_FACTS: &[&str] = &[
    "engine",
    "server",
    "major",
    "sql_mode",
    "lower_case_table_names",
    "charset",
    "collation",
    "time_zone",
    "encoding",
    "ctype",
    "locale_provider",
    "icu_locale",
    "standard_conforming_strings",
];

/// `[fingerprint]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FingerprintSpec {
    /// Keys (or patterns) whose difference from the rehearsal refuses `apply`.
    #[serde(default = "default_critical")]
    pub critical: Vec<String>,
    /// Refuse to run a bundle that has no passing rehearsal (unless the operator gives a
    /// reason), instead of only saying so.
    #[serde(default)]
    pub require_rehearsal: bool,
}

impl Default for FingerprintSpec {
    fn default() -> Self {
        FingerprintSpec {
            critical: default_critical(),
            require_rehearsal: false,
        }
    }
}

/// What the design calls critical: case sensitivity, the database server's major version,
/// `lower_case_table_names` and the SQL mode.
pub fn default_critical() -> Vec<String> {
    [
        "platform.case_sensitive",
        "db.*.major",
        "db.*.lower_case_table_names",
        "db.*.sql_mode",
    ]
    .map(String::from)
    .to_vec()
}

impl FingerprintSpec {
    /// Whether a difference in `key` refuses a run.
    pub fn is_critical(&self, key: &str) -> bool {
        self.critical
            .iter()
            .any(|pattern| key_matches(pattern, key))
    }

    /// Checks every pattern names facts a fingerprint can hold: a typo would silently make a
    /// critical fact uncompared. `classes` and `software` are the patch's.
    pub fn validate(&self, classes: &[&str], software: &[&str]) -> Result<(), String> {
        for pattern in &self.critical {
            check_pattern(pattern, classes, software)
                .map_err(|why| format!("fingerprint.critical: `{pattern}` {why}"))?;
        }
        Ok(())
    }
}

/// Whether `pattern` can match a key of a fingerprint of this patch.
fn check_pattern(pattern: &str, classes: &[&str], software: &[&str]) -> Result<(), String> {
    let segments: Vec<&str> = pattern.split('.').collect();
    if let Some(position) = segments.iter().position(|s| *s == "**") {
        if position + 1 != segments.len() {
            return Err("has `**` before its end; `**` may only end a pattern".into());
        }
    }
    let one_of = |segment: &str, known: &[&str], what: &str| {
        if segment == "*" || segment == "**" || known.contains(&segment) {
            Ok(())
        } else {
            Err(format!(
                "names no {what}: write one of {}",
                known.join(", ")
            ))
        }
    };
    match segments[..] {
        ["kernel" | "arch" | "locale" | "time_zone" | "os"] => Ok(()),
        ["os", fact] => one_of(fact, &["id", "version_id"], "OS fact"),
        ["platform", fact] => one_of(fact, &["case_sensitive"], "platform fact"),
        ["software", name] => one_of(name, software, "program of [requirements.software]"),
        ["db", "**"] => Ok(()),
        ["db", class, fact] => {
            one_of(class, classes, "class of this patch")?;
            one_of(fact, DB_FACTS, "database fact")
        }
        [root, ..] if !FINGERPRINT_ROOTS.contains(&root) => Err(format!(
            "names no fingerprint key; keys start with {}",
            FINGERPRINT_ROOTS.join(", ")
        )),
        _ => Err("names no fingerprint key: see patch-template/patch.toml [fingerprint]".into()),
    }
}

/// `db.*.major` matches `db.site.major`; `software.**` matches `software.nginx`.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    let mut pattern = pattern.split('.');
    let mut key = key.split('.');
    loop {
        match (pattern.next(), key.next()) {
            (Some("**"), Some(_)) => return true,
            (Some(p), Some(k)) if p == "*" || p == k => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_one_segment_or_everything_below() {
        assert!(key_matches("db.*.major", "db.site.major"));
        assert!(!key_matches("db.*.major", "db.site.server"));
        assert!(!key_matches("db.*.major", "db.major"));
        assert!(key_matches("software.**", "software.nginx"));
        assert!(!key_matches("software.**", "software"));
        assert!(key_matches("kernel", "kernel"));
        assert!(!key_matches("kernel", "kernel.release"));
    }

    #[test]
    fn the_default_critical_keys_are_the_design_s() {
        let spec = FingerprintSpec::default();
        assert!(spec.is_critical("platform.case_sensitive"));
        assert!(spec.is_critical("db.site.major"));
        assert!(spec.is_critical("db.main.lower_case_table_names"));
        assert!(spec.is_critical("db.site.sql_mode"));
        assert!(!spec.is_critical("kernel"));
        assert!(!spec.is_critical("db.site.server"));
    }

    #[test]
    fn a_pattern_that_names_no_fact_is_refused() {
        let check = |pattern: &str| {
            FingerprintSpec {
                critical: vec![pattern.into()],
                require_rehearsal: false,
            }
            .validate(&["site"], &["nginx"])
        };
        for good in [
            "db.*.major",
            "db.site.sql_mode",
            "db.**",
            "software.nginx",
            "software.**",
            "kernel",
            "os.version_id",
            "platform.case_sensitive",
        ] {
            check(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for (bad, why) in [
            ("database.*.major", "keys start with"),
            ("db.*.sqlmode", "names no database fact"),
            ("db.shop.major", "names no class of this patch"),
            ("db.**.major", "`**` may only end"),
            ("software.php", "names no program"),
            ("platform.case", "names no platform fact"),
            ("kernel.release", "names no fingerprint key"),
        ] {
            let error = check(bad).expect_err(bad);
            assert!(
                error.starts_with(&format!("fingerprint.critical: `{bad}`")) && error.contains(why),
                "{bad}: {error}"
            );
        }
    }
}
