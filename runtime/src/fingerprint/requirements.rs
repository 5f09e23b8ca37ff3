//! The patch's `[requirements]` against this host: every command, program, OS release and
//! database server range, with what was found. Preflight refuses on the first list with a
//! failure in it; `plan` prints the whole list.
//!
//! Versions come from the fingerprint ([`Fingerprint`]), so what preflight checks is what the
//! run records.

use super::databases::SEPARATOR;
use super::Fingerprint;
use bascule_patch::{check_range, Requirements};

/// One requirement and how this host meets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementCheck {
    /// The `patch.toml` key that declares it (`requirements.software.nginx`).
    pub key: String,
    /// What is required (`nginx >=1.22`).
    pub wanted: String,
    /// What the host has (`1.22.1`, `not found on PATH`).
    pub found: String,
    /// `Err` says why the host falls short.
    pub verdict: Result<(), String>,
}

impl RequirementCheck {
    pub fn ok(&self) -> bool {
        self.verdict.is_ok()
    }

    /// `requirements.software.nginx: nginx 1.22.1 is outside `>=1.99`` and what to do.
    pub fn refusal(&self) -> Option<String> {
        self.verdict
            .as_ref()
            .err()
            .map(|why| format!("{} (patch.toml {}): {why}", self.wanted, self.key))
    }
}

/// The refusal of a run whose host fails some of `checks`: one line per requirement unmet.
pub fn unmet(checks: &[RequirementCheck]) -> Option<String> {
    let refusals: Vec<String> = checks
        .iter()
        .filter_map(RequirementCheck::refusal)
        .collect();
    (!refusals.is_empty()).then(|| {
        format!(
            "this host does not meet {} requirement(s) of the patch:\n  {}",
            refusals.len(),
            refusals.join("\n  ")
        )
    })
}

/// Every requirement of `requirements`, checked against `fingerprint` and `PATH`.
pub fn check(requirements: &Requirements, fingerprint: &Fingerprint) -> Vec<RequirementCheck> {
    let mut checks = Vec::new();
    for command in &requirements.commands {
        let found = find_on_path(command);
        checks.push(RequirementCheck {
            key: "requirements.commands".into(),
            wanted: format!("command `{command}`"),
            found: if found.is_some() {
                "on PATH"
            } else {
                "not found on PATH"
            }
            .into(),
            verdict: found
                .map(|_| ())
                .ok_or_else(|| "not found on PATH; install it first".to_string()),
        });
    }
    if let Some(os) = &requirements.os {
        if let Some(id) = &os.id {
            let found = fact(fingerprint, "os.id");
            let verdict = if found == *id {
                Ok(())
            } else {
                Err(format!("this host runs `{found}`, not `{id}`"))
            };
            checks.push(RequirementCheck {
                key: "requirements.os.id".into(),
                wanted: format!("OS {id}"),
                found,
                verdict,
            });
        }
        if let Some(range) = &os.version {
            checks.push(ranged(
                fingerprint,
                "requirements.os.version",
                "OS release",
                "os.version_id",
                range,
            ));
        }
    }
    for (name, software) in &requirements.software {
        checks.push(ranged(
            fingerprint,
            &format!("requirements.software.{name}"),
            name,
            &format!("software.{name}"),
            software.range(),
        ));
    }
    for (class, range) in &requirements.servers {
        checks.push(ranged(
            fingerprint,
            &format!("requirements.servers.{class}"),
            &format!("database server of class `{class}`"),
            &format!("db.{class}.server"),
            range,
        ));
    }
    checks
}

/// A range checked against the fact `key` (every server's, for a class on several).
fn ranged(
    fingerprint: &Fingerprint,
    key: &str,
    what: &str,
    fact_key: &str,
    range: &str,
) -> RequirementCheck {
    let found = fact(fingerprint, fact_key);
    let verdict = match fingerprint.known(fact_key) {
        None if fact_key.starts_with("db.") => Err(format!(
            "its version could not be read ({found}); check the host profile's [databases] and that the server answers"
        )),
        None => Err(format!(
            "its version could not be read ({found}); install it, or fix its `command` and `pattern` in patch.toml"
        )),
        Some(values) => values
            .split(SEPARATOR)
            .try_for_each(|value| check_range(value, range))
            .map_err(|why| format!("{why}; upgrade it (or the range) before running this patch")),
    };
    RequirementCheck {
        key: key.to_string(),
        wanted: format!("{what} {range}"),
        found,
        verdict,
    }
}

fn fact(fingerprint: &Fingerprint, key: &str) -> String {
    fingerprint
        .facts
        .get(key)
        .cloned()
        .unwrap_or_else(|| format!("{}not recorded", super::UNKNOWN))
}

fn find_on_path(command: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_outside_its_range_is_refused_naming_software_version_range_and_key() {
        let requirements: Requirements = toml::from_str(
            "commands = [\"sh\"]\n[software]\nnginx = \">=1.99\"\nphp = \">=8.1\"\n[servers]\nsite = \">=10.6\"\n",
        )
        .unwrap();
        let fingerprint = Fingerprint {
            facts: [
                ("software.nginx", "1.22.1"),
                ("software.php", "unknown: `php` not found on PATH"),
                ("db.site.server", "10.11.6-MariaDB | 10.5.2-MariaDB"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
            ..Fingerprint::default()
        };
        let checks = check(&requirements, &fingerprint);
        let refusals: Vec<String> = checks.iter().filter_map(|c| c.refusal()).collect();
        assert!(checks[0].ok(), "{:?}", checks[0]);
        assert_eq!(refusals.len(), 3, "{refusals:#?}");
        assert!(
            refusals[0].starts_with(
                "nginx >=1.99 (patch.toml requirements.software.nginx): 1.22.1 is outside `>=1.99`"
            ),
            "{}",
            refusals[0]
        );
        assert!(refusals[1].contains("not found on PATH"), "{}", refusals[1]);
        assert!(
            refusals[2].contains("10.5.2-MariaDB is outside `>=10.6`"),
            "{}",
            refusals[2]
        );
    }
}
