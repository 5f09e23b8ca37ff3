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

    pub fn validate(&self) -> Result<(), String> {
        for pattern in &self.critical {
            let root = pattern.split('.').next().unwrap_or_default();
            if !FINGERPRINT_ROOTS.contains(&root) {
                return Err(format!(
                    "fingerprint.critical: `{pattern}` names no fingerprint key; keys start with {}",
                    FINGERPRINT_ROOTS.join(", ")
                ));
            }
        }
        Ok(())
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
    fn a_pattern_outside_the_fingerprint_is_refused() {
        let spec = FingerprintSpec {
            critical: vec!["database.*.major".into()],
            require_rehearsal: false,
        };
        let error = spec.validate().expect_err("unknown root");
        assert!(error.contains("database.*.major"), "{error}");
    }
}
