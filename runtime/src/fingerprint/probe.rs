//! The facts of the system itself: OS release, kernel, architecture, locale, time zone, and the
//! versions of the programs a patch declares.
//!
//! Each is read the way the system documents it: `/etc/os-release` (os-release(5): `ID`,
//! `VERSION_ID`, `PRETTY_NAME`), uname(2), the system's locale (`/etc/default/locale`, or
//! systemd's `/etc/locale.conf`) and time zone (`/etc/timezone`, or the zone the
//! `/etc/localtime` link names). The system's, not this process's environment: the services run
//! with the system's, and an operator's SSH session (`SendEnv LANG`) would make two identical
//! hosts differ. A program is asked with its own command and the pattern of
//! `bascule_patch::KNOWN_SOFTWARE` (or the patch's), given ten seconds to answer.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::UNKNOWN;
use bascule_patch::SoftwareRequirement;

/// The os-release file (os-release(5)); `/usr/lib/os-release` is its fallback.
const OS_RELEASE: [&str; 2] = ["/etc/os-release", "/usr/lib/os-release"];

/// How long a program may take to print its version.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// OS, kernel, architecture, locale and time zone.
pub fn system() -> BTreeMap<String, String> {
    let mut facts = os_release();
    let uname = rustix::system::uname();
    facts.insert(
        "kernel".into(),
        uname.release().to_string_lossy().into_owned(),
    );
    facts.insert(
        "arch".into(),
        uname.machine().to_string_lossy().into_owned(),
    );
    facts.insert("locale".into(), locale());
    facts.insert("time_zone".into(), time_zone());
    facts
}

/// The host's name (shown beside a fingerprint, never compared).
pub fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// `os`, `os.id` and `os.version_id` from os-release.
fn os_release() -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let Some(text) = OS_RELEASE
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
    else {
        facts.insert(
            "os".into(),
            format!("{UNKNOWN}no {}", OS_RELEASE.join(" or ")),
        );
        return facts;
    };
    let fields = parse_os_release(&text);
    let field = |name: &str| fields.get(name).cloned();
    let pretty = field("PRETTY_NAME")
        .or_else(|| field("NAME"))
        .unwrap_or_else(|| format!("{UNKNOWN}no PRETTY_NAME"));
    facts.insert("os".into(), pretty);
    facts.insert(
        "os.id".into(),
        field("ID").unwrap_or_else(|| format!("{UNKNOWN}no ID")),
    );
    facts.insert(
        "os.version_id".into(),
        field("VERSION_ID").unwrap_or_else(|| format!("{UNKNOWN}no VERSION_ID")),
    );
    facts
}

/// `KEY=value` lines, values optionally quoted (os-release(5)).
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let value = value.trim();
            let unquoted = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            (key.trim().to_string(), unquoted.replace("\\\"", "\""))
        })
        .collect()
}

/// Where the system's locale is set: Debian's, then systemd's.
const LOCALE_FILES: [&str; 2] = ["/etc/default/locale", "/etc/locale.conf"];

/// The system's locale of character handling: `LC_ALL`, else `LC_CTYPE`, else `LANG` of its
/// locale file (POSIX's order of precedence).
fn locale() -> String {
    for path in LOCALE_FILES {
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        let fields = parse_os_release(&text);
        if let Some(value) = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|name| fields.get(*name).filter(|v| !v.is_empty()))
        {
            return value.clone();
        }
    }
    format!("C (no LANG in {})", LOCALE_FILES.join(" or "))
}

/// The system's time zone: `/etc/timezone`, else the zone `/etc/localtime` links to.
fn time_zone() -> String {
    if let Ok(text) = std::fs::read_to_string("/etc/timezone") {
        let zone = text.trim();
        if !zone.is_empty() {
            return zone.to_string();
        }
    }
    match std::fs::read_link("/etc/localtime") {
        Ok(target) => zone_of(&target),
        Err(_) if Path::new("/etc/localtime").exists() => "/etc/localtime (a file)".into(),
        Err(_) => "UTC (no /etc/timezone or /etc/localtime)".into(),
    }
}

/// `../usr/share/zoneinfo/Europe/Paris` → `Europe/Paris`.
fn zone_of(target: &Path) -> String {
    let text = target.to_string_lossy();
    match text.split_once("zoneinfo/") {
        Some((_, zone)) => zone.to_string(),
        None => text.into_owned(),
    }
}

/// `software.<name>`: the version each declared program reports.
pub fn software(declared: &BTreeMap<String, SoftwareRequirement>) -> BTreeMap<String, String> {
    declared
        .iter()
        .map(|(name, requirement)| {
            let version = match requirement.probe(name) {
                Some(probe) => ask_version(&probe.command, &probe.pattern)
                    .unwrap_or_else(|e| UNKNOWN.to_string() + &e),
                None => format!("{UNKNOWN}no command to ask its version"),
            };
            (format!("software.{name}"), version)
        })
        .collect()
}

/// Runs `command` and returns the first group of `pattern` over its standard output and error.
pub fn ask_version(command: &[String], pattern: &str) -> Result<String, String> {
    let (program, args) = command.split_first().ok_or("no command")?;
    let regex = regex::Regex::new(pattern).map_err(|e| format!("bad pattern: {e}"))?;
    let output = crate::child::run_bounded(program, args, PROBE_TIMEOUT)?;
    regex
        .captures(&output)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_string())
        .ok_or_else(|| {
            let first = output.lines().next().unwrap_or("").trim();
            format!(
                "`{}` printed no version matching `{pattern}` ({first:?})",
                command.join(" ")
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_values_are_unquoted() {
        let fields = parse_os_release(
            "# comment\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID='12'\n",
        );
        assert_eq!(fields["PRETTY_NAME"], "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(fields["ID"], "debian");
        assert_eq!(fields["VERSION_ID"], "12");
    }

    #[test]
    fn a_zone_is_named_after_zoneinfo() {
        assert_eq!(
            zone_of(Path::new("/usr/share/zoneinfo/Europe/Paris")),
            "Europe/Paris"
        );
        assert_eq!(zone_of(Path::new("/etc/zones/odd")), "/etc/zones/odd");
    }

    #[test]
    fn a_program_s_version_is_its_first_group_and_a_missing_one_is_named() {
        let sh = |script: &str| vec!["sh".to_string(), "-c".into(), script.into()];
        assert_eq!(
            ask_version(
                &sh("echo 'nginx version: nginx/1.22.1' >&2"),
                r"nginx/(\S+)"
            ),
            Ok("1.22.1".to_string())
        );
        let silent = ask_version(&sh("echo hello"), r"v(\d+)").expect_err("no match");
        assert!(
            silent.contains("printed no version") && silent.contains("hello"),
            "{silent}"
        );
        let missing =
            ask_version(&["no-such-program-xyz".to_string()], "(x)").expect_err("missing");
        assert!(missing.contains("not found on PATH"), "{missing}");
    }
}
