//! A production host's fingerprint against the rehearsal's: every key whose value differs,
//! each marked critical when the patch's `[fingerprint] critical` names it.
//!
//! A key only one side has is a difference too (shown as `(absent)`): a rehearsal whose guest
//! had no `/etc/os-release` differs from a host that has one.

use std::fmt::Write as _;

use super::Fingerprint;
use bascule_patch::FingerprintSpec;

/// One key on which the two fingerprints differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub key: String,
    pub rehearsed: Option<String>,
    pub here: Option<String>,
    pub critical: bool,
}

impl Difference {
    /// `key (critical): rehearsed → here`, one line for a log or a refusal.
    pub fn line(&self) -> String {
        let mark = if self.critical { " (critical)" } else { "" };
        format!(
            "{}{mark}: {} → {}",
            self.key,
            shown(&self.rehearsed),
            shown(&self.here)
        )
    }
}

/// A value as printed: `(absent)` for a key only the other side has.
fn shown(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "(absent)".into())
}

/// Every difference, in key order.
pub fn differences(
    rehearsed: &Fingerprint,
    here: &Fingerprint,
    spec: &FingerprintSpec,
) -> Vec<Difference> {
    let keys: std::collections::BTreeSet<&String> =
        rehearsed.facts.keys().chain(here.facts.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (a, b) = (rehearsed.facts.get(key), here.facts.get(key));
            (a != b).then(|| Difference {
                key: key.clone(),
                rehearsed: a.cloned(),
                here: b.cloned(),
                critical: spec.is_critical(key),
            })
        })
        .collect()
}

/// The differences as a table: `!` before a critical one.
pub fn render(differences: &[Difference]) -> String {
    let key_width = differences
        .iter()
        .map(|d| d.key.len())
        .max()
        .unwrap_or(3)
        .max(3);
    let rehearsed_width = differences
        .iter()
        .map(|d| shown(&d.rehearsed).chars().count())
        .max()
        .unwrap_or(0)
        .max("rehearsal".len());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "    {:<key_width$}  {:<rehearsed_width$}  this host",
        "key", "rehearsal"
    );
    for d in differences {
        let mark = if d.critical { "!" } else { " " };
        let _ = writeln!(
            out,
            "  {mark} {:<key_width$}  {:<rehearsed_width$}  {}",
            d.key,
            shown(&d.rehearsed),
            shown(&d.here)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(facts: &[(&str, &str)]) -> Fingerprint {
        Fingerprint {
            hostname: "h".into(),
            captured_at: "t".into(),
            facts: facts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn only_differing_keys_are_listed_and_the_critical_ones_marked() {
        let rehearsed = fingerprint(&[
            ("kernel", "6.1.0-18-amd64"),
            ("platform.case_sensitive", "no"),
            ("db.site.major", "10.6"),
            ("db.site.server", "10.6.18-MariaDB"),
            ("db.site.sql_mode", "STRICT_TRANS_TABLES"),
            ("locale", "C.UTF-8"),
        ]);
        let here = fingerprint(&[
            ("kernel", "6.1.0-18-amd64"),
            ("platform.case_sensitive", "yes"),
            ("db.site.major", "10.11"),
            ("db.site.server", "10.11.6-MariaDB-0+deb12u1"),
            ("db.site.sql_mode", "STRICT_TRANS_TABLES"),
            ("os", "Debian GNU/Linux 12 (bookworm)"),
            ("locale", "C.UTF-8"),
        ]);
        let found = differences(&rehearsed, &here, &FingerprintSpec::default());
        let keys: Vec<(&str, bool)> = found.iter().map(|d| (d.key.as_str(), d.critical)).collect();
        assert_eq!(
            keys,
            [
                ("db.site.major", true),
                ("db.site.server", false),
                ("os", false),
                ("platform.case_sensitive", true),
            ]
        );
        assert_eq!(
            found[3].line(),
            "platform.case_sensitive (critical): no → yes"
        );
        assert_eq!(
            found[2].line(),
            "os: (absent) → Debian GNU/Linux 12 (bookworm)"
        );
        assert!(differences(&here, &here, &FingerprintSpec::default()).is_empty());
    }
}
