//! `[timeouts]` of `patch.toml`: how long a migration may wait for a lock, and run a statement,
//! before the database gives up.
//!
//! The runtime sets these on every session it migrates with, and on every session an undo runs
//! downs with, before the first statement (see `bascule_db::timeouts` for the SQL per server).
//! A patch gives them for every class, and per class in a sub-table; the host profile's
//! `[databases.<class>]` overrides both (the operator knows the host's traffic):
//!
//! ```toml
//! [timeouts]
//! lock_timeout = "5s"                   # give up waiting for a lock after 5 seconds
//! statement_timeout = "off"             # never cut a statement short (index builds, backfills)
//! idle_in_transaction_timeout = "1min"  # PostgreSQL: end a session idle inside a transaction
//!
//! [timeouts.site]                       # class `site` only
//! lock_timeout = "2s"
//! ```
//!
//! A value is a duration with its unit (`500ms`, `5s`, `2min`, `1h`) or `"off"`. A bare number
//! is refused: seconds or milliseconds, a reader could not tell. `lock_timeout` cannot be
//! `"off"`: a migration waiting for a lock without limit makes every query on the table queue
//! behind it, which is the outage the timeout exists to prevent.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// A time limit: a duration, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeout {
    Off,
    After(Duration),
}

impl Timeout {
    /// The limit as a duration; `None` when off.
    pub fn duration(self) -> Option<Duration> {
        match self {
            Timeout::Off => None,
            Timeout::After(d) => Some(d),
        }
    }
}

const TIMEOUT_FORM: &str =
    "write a duration with its unit (\"500ms\", \"5s\", \"2min\", \"1h\") or \"off\"";

impl FromStr for Timeout {
    type Err = String;

    fn from_str(text: &str) -> Result<Timeout, String> {
        let trimmed = text.trim();
        if trimmed.eq_ignore_ascii_case("off") || trimmed == "0" {
            return Ok(Timeout::Off);
        }
        let split = trimmed
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(trimmed.len());
        let (number, unit) = trimmed.split_at(split);
        let bad = || format!("`{text}` is not a duration: {TIMEOUT_FORM}");
        let value: u64 = number.parse().map_err(|_| bad())?;
        let millis = match unit.trim() {
            "ms" => Some(value),
            "s" => value.checked_mul(1_000),
            "min" => value.checked_mul(60_000),
            "h" => value.checked_mul(3_600_000),
            "" => {
                return Err(format!(
                    "`{text}` has no unit (seconds or milliseconds?): {TIMEOUT_FORM}"
                ))
            }
            _ => return Err(bad()),
        }
        .filter(|ms| *ms <= MAX_MILLIS)
        .ok_or_else(|| format!("`{text}` is too long (at most 24h): {TIMEOUT_FORM}"))?;
        Ok(match millis {
            0 => Timeout::Off,
            ms => Timeout::After(Duration::from_millis(ms)),
        })
    }
}

/// The longest limit accepted: a day. PostgreSQL's settings are milliseconds in an `int`; a
/// longer limit is no limit in practice and is better written `"off"`.
const MAX_MILLIS: u64 = 24 * 3_600_000;

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Timeout::After(d) = self else {
            return f.write_str("off");
        };
        let ms = d.as_millis();
        match ms {
            _ if ms % 3_600_000 == 0 => write!(f, "{}h", ms / 3_600_000),
            _ if ms % 60_000 == 0 => write!(f, "{}min", ms / 60_000),
            _ if ms % 1_000 == 0 => write!(f, "{}s", ms / 1_000),
            _ => write!(f, "{ms}ms"),
        }
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timeout, D::Error> {
        struct TimeoutVisitor;
        impl Visitor<'_> for TimeoutVisitor {
            type Value = Timeout;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(TIMEOUT_FORM)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timeout, E> {
                text.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Timeout, E> {
                Err(E::custom(format!(
                    "`{n}` has no unit (seconds or milliseconds?): {TIMEOUT_FORM}"
                )))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Timeout, E> {
                self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
            }
        }
        deserializer.deserialize_any(TimeoutVisitor)
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The three limits, each `None` where this level does not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutSettings {
    /// How long a statement waits for a lock (PostgreSQL `lock_timeout`; MariaDB/MySQL
    /// `lock_wait_timeout` and `innodb_lock_wait_timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_timeout: Option<Timeout>,
    /// How long one statement may run (PostgreSQL `statement_timeout`; MariaDB
    /// `max_statement_time`; MySQL has no limit for DDL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<Timeout>,
    /// PostgreSQL: how long a session may sit idle inside a transaction
    /// (`idle_in_transaction_session_timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_in_transaction_timeout: Option<Timeout>,
}

/// The keys of [`TimeoutSettings`], as written.
pub const TIMEOUT_KEYS: [&str; 3] = [
    "lock_timeout",
    "statement_timeout",
    "idle_in_transaction_timeout",
];

impl TimeoutSettings {
    /// `self`, with what `over` says replacing it.
    pub fn overridden_by(self, over: &TimeoutSettings) -> TimeoutSettings {
        TimeoutSettings {
            lock_timeout: over.lock_timeout.or(self.lock_timeout),
            statement_timeout: over.statement_timeout.or(self.statement_timeout),
            idle_in_transaction_timeout: over
                .idle_in_transaction_timeout
                .or(self.idle_in_transaction_timeout),
        }
    }

    /// Refuses a `lock_timeout` that is off (the caller names the table the key is in).
    pub fn validate(&self) -> Result<(), String> {
        if self.lock_timeout == Some(Timeout::Off) {
            return Err(
                "lock_timeout cannot be \"off\": a migration waiting for a lock without \
                 limit makes every query on the table wait behind it; give a duration, e.g. \
                 \"5s\" (\"1min\" for a busy table)"
                    .to_string(),
            );
        }
        Ok(())
    }
}

/// `[timeouts]`: the limits for every class, and `[timeouts.<class>]` for one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeoutsSpec {
    pub all: TimeoutSettings,
    pub classes: BTreeMap<String, TimeoutSettings>,
}

impl TimeoutsSpec {
    /// Whether the patch says nothing of timeouts (the defaults apply).
    pub fn is_empty(&self) -> bool {
        self.all == TimeoutSettings::default() && self.classes.is_empty()
    }

    /// What the patch says for `class`: its sub-table over `[timeouts]`.
    pub fn for_class(&self, class: &str) -> TimeoutSettings {
        match self.classes.get(class) {
            Some(own) => self.all.overridden_by(own),
            None => self.all,
        }
    }

    /// Checks every table: `classes` are the patch's classes with their dialects; a sub-table
    /// must name one of them that runs on a server (SQLite has no lock timeout to set).
    pub fn validate(&self, classes: &BTreeMap<String, crate::ClassSpec>) -> Result<(), String> {
        self.all.validate().map_err(|e| format!("timeouts.{e}"))?;
        for (class, settings) in &self.classes {
            match classes.get(class) {
                None => {
                    return Err(format!(
                        "[timeouts.{class}]: the patch has no class `{class}`; declare \
                         [classes.{class}] or fix the name"
                    ))
                }
                Some(spec) if spec.dialect == crate::Dialect::Sqlite => {
                    return Err(format!(
                        "[timeouts.{class}]: class `{class}` is SQLite, which has no lock or \
                         statement timeouts to set; remove the table"
                    ))
                }
                Some(_) => settings
                    .validate()
                    .map_err(|e| format!("timeouts.{class}.{e}"))?,
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for TimeoutsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<TimeoutsSpec, D::Error> {
        let table = toml::Table::deserialize(deserializer)?;
        let mut spec = TimeoutsSpec::default();
        let mut limits = toml::Table::new();
        for (key, value) in table {
            match value {
                toml::Value::Table(class) if !TIMEOUT_KEYS.contains(&key.as_str()) => {
                    let settings = read_settings(&format!("timeouts.{key}"), class)
                        .map_err(de::Error::custom)?;
                    spec.classes.insert(key, settings);
                }
                value => {
                    limits.insert(key, value);
                }
            }
        }
        spec.all = read_settings("timeouts", limits).map_err(de::Error::custom)?;
        Ok(spec)
    }
}

/// The limits of one table (`at`, e.g. `timeouts.site`), every error naming its key.
fn read_settings(at: &str, table: toml::Table) -> Result<TimeoutSettings, String> {
    let mut settings = TimeoutSettings::default();
    for (key, value) in table {
        let slot = match key.as_str() {
            "lock_timeout" => &mut settings.lock_timeout,
            "statement_timeout" => &mut settings.statement_timeout,
            "idle_in_transaction_timeout" => &mut settings.idle_in_transaction_timeout,
            _ => {
                return Err(format!(
                    "{at}.{key}: unknown key; the keys are {}{}",
                    TIMEOUT_KEYS.join(", "),
                    if at == "timeouts" {
                        " and [timeouts.<class>] tables"
                    } else {
                        ""
                    }
                ))
            }
        };
        let text = match value {
            toml::Value::String(text) => text,
            other => other.to_string(),
        };
        *slot = Some(text.parse().map_err(|e| format!("{at}.{key}: {e}"))?);
    }
    Ok(settings)
}

impl Serialize for TimeoutsSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let all = [
            ("lock_timeout", self.all.lock_timeout),
            ("statement_timeout", self.all.statement_timeout),
            (
                "idle_in_transaction_timeout",
                self.all.idle_in_transaction_timeout,
            ),
        ];
        for (key, value) in all {
            if let Some(value) = value {
                map.serialize_entry(key, &value)?;
            }
        }
        for (class, settings) in &self.classes {
            map.serialize_entry(class, settings)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_unit() {
        let ms = |n| Timeout::After(Duration::from_millis(n));
        for (text, expected) in [
            ("500ms", ms(500)),
            ("5s", ms(5_000)),
            ("2min", ms(120_000)),
            ("1h", ms(3_600_000)),
            ("off", Timeout::Off),
            ("0", Timeout::Off),
            ("0s", Timeout::Off),
        ] {
            assert_eq!(text.parse::<Timeout>().unwrap(), expected, "{text}");
        }
        assert_eq!(ms(1_500).to_string(), "1500ms");
        assert_eq!(ms(120_000).to_string(), "2min");
        assert_eq!(Timeout::Off.to_string(), "off");
    }

    #[test]
    fn bad_durations_say_the_form() {
        for (text, why) in [
            ("5", "has no unit"),
            ("5 sec", "is not a duration"),
            ("-1s", "is not a duration"),
            ("25h", "is too long"),
        ] {
            let err = text.parse::<Timeout>().unwrap_err();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("\"5s\""), "{err}");
        }
    }

    /// `patch.toml` with `tail` after a minimal head declaring classes `site` (mysql) and
    /// `main` (sqlite): what reading it says.
    fn read_patch(tail: &str) -> Result<crate::PatchSpec, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patch.toml");
        std::fs::write(
            &path,
            format!(
                "[patch]\nversion = \"2.0.0\"\nfrom = \">=1.0.0\"\nmode = \"online\"\n\
                 [code]\nsource = \"src\"\n\
                 [classes.site]\ndialect = \"mysql\"\n[classes.main]\ndialect = \"sqlite\"\n{tail}"
            ),
        )
        .unwrap();
        crate::PatchSpec::read(&path).map_err(|e| e.to_string())
    }

    #[test]
    fn the_patch_gives_limits_for_all_classes_and_per_class() {
        let spec = read_patch(
            "[timeouts]\nlock_timeout = \"3s\"\nstatement_timeout = \"off\"\n\
             [timeouts.site]\nlock_timeout = \"1s\"\n",
        )
        .unwrap();
        let site = spec.timeouts.for_class("site");
        assert_eq!(
            site.lock_timeout,
            Some(Timeout::After(Duration::from_secs(1)))
        );
        assert_eq!(site.statement_timeout, Some(Timeout::Off));
        let other = spec.timeouts.for_class("main");
        assert_eq!(
            other.lock_timeout,
            Some(Timeout::After(Duration::from_secs(3)))
        );
        assert!(read_patch("").unwrap().timeouts.is_empty());
    }

    #[test]
    fn bad_limits_name_the_file_and_the_key() {
        for (tail, expected) in [
            (
                "[timeouts]\nlock_timeout = 5\n",
                "timeouts.lock_timeout: `5` has no unit",
            ),
            (
                "[timeouts]\nlock_timeout = \"off\"\n",
                "timeouts.lock_timeout cannot be \"off\"",
            ),
            (
                "[timeouts]\nlock_timout = \"5s\"\n",
                "timeouts.lock_timout: unknown key",
            ),
            (
                "[timeouts.site]\nstatement_timeout = \"soon\"\n",
                "timeouts.site.statement_timeout: `soon` is not a duration",
            ),
            (
                "[timeouts.site]\nlock_timout = \"5s\"\n",
                "timeouts.site.lock_timout: unknown key",
            ),
            (
                "[timeouts.site]\nlock_timeout = \"0\"\n",
                "timeouts.site.lock_timeout cannot be \"off\"",
            ),
            (
                "[timeouts.shop]\nlock_timeout = \"5s\"\n",
                "[timeouts.shop]: the patch has no class `shop`",
            ),
            (
                "[timeouts.main]\nlock_timeout = \"5s\"\n",
                "[timeouts.main]: class `main` is SQLite",
            ),
        ] {
            let err = read_patch(tail).unwrap_err();
            assert!(err.contains("patch.toml"), "{tail}: {err}");
            assert!(err.contains(expected), "{tail}: {err}");
        }
    }
}
