//! `[requirements]`: what the host must have before anything is touched.
//!
//! ```toml
//! [requirements]
//! commands = ["sh", "rsync"]          # found on PATH
//! min_free_mb = 100                   # beyond the size of the code
//! os = { id = "debian", version = ">=12" }   # /etc/os-release ID and VERSION_ID
//!
//! [requirements.software]             # a version range per program
//! nginx = ">=1.22"                    # a known program: Bascule knows how to ask it
//! php = ">=8.1, <9"
//! imagick = { version = ">=7", command = ["convert", "-version"], pattern = 'ImageMagick (\S+)' }
//!
//! [requirements.servers]              # the database server of a class (SELECT VERSION())
//! site = ">=10.6, <11.5"
//! ```
//!
//! A version found on the host is read leniently ([`found_version`]): its first `N[.N[.N]]`
//! is taken and padded with zeros, so `15.10 (Debian 15.10-0+deb12u1)` is 15.10.0 and
//! `10.11.6-MariaDB-0+deb12u1` is 10.11.6. Ranges are semver requirements, comma-separated; a
//! bare version (`"8.1"`) means `^8.1` (at least 8.1, below 9), as in Cargo.
//!
//! The software table is [`KNOWN_SOFTWARE`]: the command each program answers its version
//! to, and the pattern that picks the version out of its output (standard output and error
//! together: `nginx -v` writes to standard error). Any other program names its own `command`
//! and `pattern`, whose first capture group is the version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `[requirements]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requirements {
    /// Commands that must be found on `PATH`.
    #[serde(default)]
    pub commands: Vec<String>,
    /// Free space needed on the platform's filesystem, beyond the size of the code.
    #[serde(default)]
    pub min_free_mb: u64,
    /// The operating system release, from `/etc/os-release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRequirement>,
    /// `[requirements.software]`: programs and their version ranges.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub software: BTreeMap<String, SoftwareRequirement>,
    /// `[requirements.servers]`: the version range of each class's database servers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub servers: BTreeMap<String, String>,
}

/// `os = { id = "debian", version = ">=12" }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OsRequirement {
    /// `/etc/os-release` `ID` (`debian`, `ubuntu`, `rhel`…), compared exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// A range for `VERSION_ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One program of `[requirements.software]`: a range, or a range with how to ask the version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SoftwareRequirement {
    Range(String),
    Probe(SoftwareProbe),
}

/// `{ version = "…", command = [...], pattern = '…' }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftwareProbe {
    pub version: String,
    /// The program and its arguments; it prints its version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// A regex over its output; the first capture group is the version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
}

/// How to ask a program its version: the command, and the pattern whose first group it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionProbe {
    pub command: Vec<String>,
    pub pattern: String,
}

/// The programs Bascule knows how to ask, with the command and pattern each one needs.
pub const KNOWN_SOFTWARE: &[(&str, &[&str], &str)] = &[
    ("nginx", &["nginx", "-v"], r"nginx/(\d[^\s]*)"),
    ("apache2", &["apache2", "-v"], r"Apache/(\d[^\s]*)"),
    ("httpd", &["httpd", "-v"], r"Apache/(\d[^\s]*)"),
    ("php", &["php", "-v"], r"PHP (\d[^\s]*)"),
    ("python3", &["python3", "--version"], r"Python (\d[^\s]*)"),
    ("node", &["node", "--version"], r"v(\d[^\s]*)"),
    ("ruby", &["ruby", "--version"], r"ruby (\d[^\s]*)"),
    ("java", &["java", "-version"], r#"version "(\d[^"]*)""#),
    ("openssl", &["openssl", "version"], r"OpenSSL (\d[^\s]*)"),
    ("git", &["git", "--version"], r"git version (\d[^\s]*)"),
    ("rsync", &["rsync", "--version"], r"version (\d[^\s]*)"),
    (
        "redis-server",
        &["redis-server", "--version"],
        r"v=(\d[^\s]*)",
    ),
    ("memcached", &["memcached", "-V"], r"memcached (\d[^\s]*)"),
    (
        "mariadb",
        &["mariadb", "--version"],
        r"(\d+\.\d+\.\d+)-MariaDB",
    ),
    // `Ver 8.0.36` (MySQL 8), `Ver 14.14 Distrib 5.7.44` (5.7: 14.14 is the client's own
    // number), `Ver 15.1 Distrib 10.11.6-MariaDB`, `from 11.4.2-MariaDB` (MariaDB 11).
    (
        "mysql",
        &["mysql", "--version"],
        r"(?:Distrib |from |Ver )(\d+\.\d+\.\d+)",
    ),
    ("psql", &["psql", "--version"], r"\(PostgreSQL\) (\d[^\s]*)"),
    ("sqlite3", &["sqlite3", "--version"], r"^(\d[^\s]*)"),
    ("tar", &["tar", "--version"], r"tar\)? (\d[^\s]*)"),
];

impl SoftwareRequirement {
    /// The range as written.
    pub fn range(&self) -> &str {
        match self {
            SoftwareRequirement::Range(range) => range,
            SoftwareRequirement::Probe(probe) => &probe.version,
        }
    }

    /// How to ask `name` its version: its own `command`/`pattern`, else [`KNOWN_SOFTWARE`].
    pub fn probe(&self, name: &str) -> Option<VersionProbe> {
        let known = KNOWN_SOFTWARE.iter().find(|(known, _, _)| *known == name);
        let (own_command, own_pattern) = match self {
            SoftwareRequirement::Range(_) => (None, None),
            SoftwareRequirement::Probe(p) => (p.command.clone(), p.pattern.clone()),
        };
        let command = own_command
            .or_else(|| known.map(|(_, c, _)| c.iter().map(|s| s.to_string()).collect()))?;
        let pattern = own_pattern.or_else(|| known.map(|(_, _, p)| p.to_string()))?;
        Some(VersionProbe { command, pattern })
    }
}

/// A range as a semver requirement: `">=1.22"`, `">=8.1, <9"`, `"8.1"` (= `^8.1`). Leading
/// zeros are dropped, as [`found_version`] drops them: Ubuntu's `">=22.04"` is `>=22.4`.
pub fn parse_range(range: &str) -> Result<semver::VersionReq, String> {
    semver::VersionReq::parse(&without_leading_zeros(range.trim())).map_err(|e| {
        format!("`{range}` is not a version range ({e}); write e.g. \">=1.22\" or \">=8.1, <9\"")
    })
}

/// A version as a program reports it, read leniently: its first `N[.N[.N]]`, padded with zeros
/// (`1.22.1`, `12` → 12.0.0, `15.10 (Debian …)` → 15.10.0, `10.11.6-MariaDB` → 10.11.6).
pub fn found_version(text: &str) -> Option<semver::Version> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = [0u64; 3];
    for (slot, piece) in parts.iter_mut().zip(text[start..].split('.')) {
        let digits: String = piece.chars().take_while(|c| c.is_ascii_digit()).collect();
        if digits.is_empty() {
            break;
        }
        *slot = digits.parse().ok()?;
        if digits.len() != piece.len() {
            break;
        }
    }
    Some(semver::Version::new(parts[0], parts[1], parts[2]))
}

/// `22.04` → `22.4`, `>=10.05, <11` → `>=10.5, <11`: each run of digits without its leading
/// zeros (a lone `0` stays).
fn without_leading_zeros(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_number = false;
    while let Some(c) = chars.next() {
        let starts_number = c.is_ascii_digit() && !in_number;
        in_number = c.is_ascii_digit();
        let next_is_digit = chars.peek().is_some_and(|n| n.is_ascii_digit());
        if starts_number && c == '0' && next_is_digit {
            in_number = false;
            continue;
        }
        out.push(c);
    }
    out
}

/// Whether `found` (as the program printed it) is within `range`: `Err` says why not.
pub fn check_range(found: &str, range: &str) -> Result<(), String> {
    let req = parse_range(range)?;
    let version =
        found_version(found).ok_or_else(|| format!("`{found}` does not contain a version"))?;
    if req.matches(&version) {
        Ok(())
    } else {
        Err(format!("{found} is outside `{range}`"))
    }
}

impl Requirements {
    /// Checks every range and probe; `classes` are the patch's database classes. The error
    /// names the key.
    pub fn validate(&self, classes: &[&str]) -> Result<(), String> {
        if let Some(os) = &self.os {
            if let Some(range) = &os.version {
                parse_range(range).map_err(|e| format!("requirements.os.version: {e}"))?;
            }
            if os.id.is_none() && os.version.is_none() {
                return Err("requirements.os: give `id`, `version` or both".into());
            }
        }
        for (name, software) in &self.software {
            let key = format!("requirements.software.{name}");
            parse_range(software.range()).map_err(|e| format!("{key}: {e}"))?;
            let Some(probe) = software.probe(name) else {
                let known: Vec<&str> = KNOWN_SOFTWARE.iter().map(|(n, _, _)| *n).collect();
                return Err(format!(
                    "{key}: Bascule does not know how to ask `{name}` its version; write \
                     {name} = {{ version = \"{}\", command = [\"{name}\", \"--version\"], pattern = '…(\\S+)' }} \
                     (known programs: {})",
                    software.range(),
                    known.join(", ")
                ));
            };
            if probe.command.is_empty() {
                return Err(format!("{key}.command: give the program and its arguments"));
            }
            let regex = regex::Regex::new(&probe.pattern)
                .map_err(|e| format!("{key}.pattern: not a regex: {e}"))?;
            if regex.captures_len() < 2 {
                return Err(format!(
                    "{key}.pattern: `{}` has no capture group; put the version in ( )",
                    probe.pattern
                ));
            }
        }
        for (class, range) in &self.servers {
            let key = format!("requirements.servers.{class}");
            if !classes.contains(&class.as_str()) {
                return Err(format!(
                    "{key}: `{class}` is not a class of this patch ([classes.{class}] is missing)"
                ));
            }
            parse_range(range).map_err(|e| format!("{key}: {e}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirements(text: &str) -> Requirements {
        toml::from_str(text).expect("requirements")
    }

    #[test]
    fn found_versions_are_read_leniently() {
        let cases = [
            ("1.22.1", "1.22.1"),
            ("12", "12.0.0"),
            ("15.10 (Debian 15.10-0+deb12u1)", "15.10.0"),
            ("10.11.6-MariaDB-0+deb12u1", "10.11.6"),
            ("3.45.0", "3.45.0"),
            ("v20.1.0-rc2", "20.1.0"),
            ("1.2.3.4", "1.2.3"),
        ];
        for (text, expected) in cases {
            assert_eq!(
                found_version(text).map(|v| v.to_string()).as_deref(),
                Some(expected),
                "{text}"
            );
        }
        assert_eq!(found_version("unknown"), None);
    }

    #[test]
    fn a_range_is_checked_against_what_the_program_printed() {
        assert!(check_range("1.22.1", ">=1.22").is_ok());
        let refused = check_range("1.22.1", ">=1.99").expect_err("below the range");
        assert!(
            refused.contains("1.22.1") && refused.contains(">=1.99"),
            "{refused}"
        );
        assert!(check_range("8.3.1", ">=8.1, <9").is_ok());
        assert!(check_range("9.0.0", ">=8.1, <9").is_err());
        // A bare version is a caret range, as in Cargo.
        assert!(check_range("8.4", "8.1").is_ok());
        assert!(check_range("9.0", "8.1").is_err());
        // Ubuntu's release numbers.
        assert!(check_range("22.04", ">=22.04").is_ok());
        assert!(check_range("20.04", ">=22.04").is_err());
        assert!(check_range("24.10", ">=22.04, <24.04").is_err());
        assert_eq!(without_leading_zeros(">=10.05, <11.0"), ">=10.5, <11.0");
    }

    #[test]
    fn known_patterns_read_what_the_programs_print() {
        let cases = [
            ("nginx", "nginx version: nginx/1.22.1\n", "1.22.1"),
            (
                "php",
                "PHP 8.2.7 (cli) (built: Jun  9 2023 19:37:27) (NTS)\n",
                "8.2.7",
            ),
            ("python3", "Python 3.11.2\n", "3.11.2"),
            ("node", "v20.11.1\n", "20.11.1"),
            (
                "openssl",
                "OpenSSL 3.0.15 3 Sep 2024 (Library: OpenSSL 3.0.15 3 Sep 2024)\n",
                "3.0.15",
            ),
            (
                "mysql",
                "mysql  Ver 8.0.36 for Linux on x86_64 (MySQL Community Server - GPL)\n",
                "8.0.36",
            ),
            (
                "mysql",
                "mysql  Ver 14.14 Distrib 5.7.44, for Linux (x86_64) using  EditLine wrapper\n",
                "5.7.44",
            ),
            (
                "mysql",
                "mysql  Ver 15.1 Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)\n",
                "10.11.6",
            ),
            (
                "mysql",
                "mysql from 11.4.2-MariaDB, client 15.2 for debian-linux-gnu (x86_64)\n",
                "11.4.2",
            ),
            (
                "mariadb",
                "mariadb from 11.4.2-MariaDB, client 15.2 for debian-linux-gnu\n",
                "11.4.2",
            ),
            (
                "psql",
                "psql (PostgreSQL) 15.10 (Debian 15.10-0+deb12u1)\n",
                "15.10",
            ),
            ("git", "git version 2.39.5\n", "2.39.5"),
            (
                "java",
                "openjdk version \"17.0.13\" 2024-10-15\n",
                "17.0.13",
            ),
        ];
        for (name, output, expected) in cases {
            let (_, _, pattern) = KNOWN_SOFTWARE.iter().find(|(n, _, _)| *n == name).unwrap();
            let found = regex::Regex::new(pattern)
                .unwrap()
                .captures(output)
                .and_then(|c| c.get(1))
                .map(|m| m.as_str());
            assert_eq!(found, Some(expected), "{name}: {output}");
        }
    }

    #[test]
    fn a_known_program_needs_only_its_range() {
        let req = requirements("[software]\nnginx = \">=1.22\"\n");
        req.validate(&[]).expect("valid");
        let probe = req.software["nginx"].probe("nginx").expect("known");
        assert_eq!(probe.command, ["nginx", "-v"]);
        let version = regex::Regex::new(&probe.pattern)
            .unwrap()
            .captures("nginx version: nginx/1.22.1\n")
            .and_then(|c| c.get(1))
            .map(|m| m.as_str());
        assert_eq!(version, Some("1.22.1"));
    }

    #[test]
    fn every_known_pattern_compiles_with_a_group() {
        for (name, command, pattern) in KNOWN_SOFTWARE {
            let regex = regex::Regex::new(pattern).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(regex.captures_len() >= 2, "{name}");
            assert!(!command.is_empty(), "{name}");
        }
    }

    #[test]
    fn bad_requirements_name_their_key() {
        let cases = [
            (
                "[software]\nfrobnicate = \">=1\"\n",
                "requirements.software.frobnicate",
            ),
            (
                "[software]\nnginx = \"at least 1.22\"\n",
                "requirements.software.nginx",
            ),
            (
                "[software.x]\nversion = \">=1\"\ncommand = [\"x\"]\npattern = 'x \\S+'\n",
                "requirements.software.x.pattern",
            ),
            ("[servers]\nnope = \">=10\"\n", "requirements.servers.nope"),
            ("[os]\nversion = \"twelve\"\n", "requirements.os.version"),
        ];
        for (text, key) in cases {
            let error = requirements(text).validate(&["site"]).expect_err(text);
            assert!(error.starts_with(key), "{text}: {error}");
        }
        requirements("[servers]\nsite = \">=10.6\"\n")
            .validate(&["site"])
            .expect("a class of the patch");
    }
}
