//! `[policy]`: when a patch may start.
//!
//! The first rule of releases is "never on a Friday": a release that goes wrong late in the week
//! is repaired by whoever is left over the weekend. So by default `apply` refuses on Friday,
//! Saturday and Sunday, and a patch may also forbid hours of the day (`"18:00-08:00"`: evenings
//! and nights, when nobody who knows the platform is awake). Times are the host's local time,
//! which is where the people who answer the phone are. The check itself is the runtime's guard
//! step; this module only says whether a moment is forbidden, and why.

use chrono::{NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// When the patch may run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Days on which `apply` refuses to start (`mon` … `sun`), unless the operator writes why.
    #[serde(default = "friday_and_weekend")]
    pub forbidden_days: Vec<String>,
    /// Hours of the day on which `apply` refuses to start, as `"HH:MM-HH:MM"` ranges in the
    /// host's local time, start included, end excluded; a range may wrap midnight.
    #[serde(default)]
    pub forbidden_hours: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            forbidden_days: friday_and_weekend(),
            forbidden_hours: Vec::new(),
        }
    }
}

fn friday_and_weekend() -> Vec<String> {
    ["fri", "sat", "sun"].map(String::from).to_vec()
}

/// One forbidden range of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourRange {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl HourRange {
    /// Parses `"HH:MM-HH:MM"`; the error says what to write.
    pub fn parse(text: &str) -> Result<HourRange, String> {
        let wrong = || {
            format!("`{text}` is not a range of hours; write \"HH:MM-HH:MM\", e.g. \"18:00-08:00\"")
        };
        let (start, end) = text.split_once('-').ok_or_else(wrong)?;
        let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").map_err(|_| wrong());
        let range = HourRange {
            start: time(start)?,
            end: time(end)?,
        };
        if range.start == range.end {
            return Err(format!(
                "`{text}` is an empty range: its start and end are the same"
            ));
        }
        Ok(range)
    }

    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }
}

impl Policy {
    /// Every key's value well formed, or the message naming the key.
    pub fn validate(&self) -> Result<(), String> {
        for day in &self.forbidden_days {
            if weekday_from_name(day).is_none() {
                return Err(format!(
                    "policy.forbidden_days: `{day}` is not a day; write mon, tue, wed, thu, fri, sat or sun"
                ));
            }
        }
        for range in &self.forbidden_hours {
            HourRange::parse(range).map_err(|why| format!("policy.forbidden_hours: {why}"))?;
        }
        Ok(())
    }

    /// Why starting on `day` at `time` is forbidden, or `None` when it is allowed.
    pub fn forbids(&self, day: Weekday, time: NaiveTime) -> Option<String> {
        if self
            .forbidden_days
            .iter()
            .any(|d| weekday_from_name(d) == Some(day))
        {
            return Some(format!(
                "today is {day}, a day this patch's policy forbids (patch.toml [policy] forbidden_days)"
            ));
        }
        self.forbidden_hours.iter().find_map(|text| {
            let range = HourRange::parse(text).ok()?;
            range.contains(time).then(|| {
                format!(
                    "it is {}, within {text}, hours this patch's policy forbids (patch.toml [policy] forbidden_hours)",
                    time.format("%H:%M")
                )
            })
        })
    }
}

/// `mon` … `sun` to chrono's weekday.
pub fn weekday_from_name(name: &str) -> Option<Weekday> {
    use Weekday::*;
    Some(match name.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Mon,
        "tue" | "tuesday" => Tue,
        "wed" | "wednesday" => Wed,
        "thu" | "thursday" => Thu,
        "fri" | "friday" => Fri,
        "sat" | "saturday" => Sat,
        "sun" | "sunday" => Sun,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hh: u32, mm: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(hh, mm, 0).unwrap()
    }

    #[test]
    fn by_default_friday_and_the_weekend_are_forbidden_and_no_hour_is() {
        let policy = Policy::default();
        for day in [Weekday::Fri, Weekday::Sat, Weekday::Sun] {
            assert!(policy.forbids(day, at(10, 0)).is_some(), "{day}");
        }
        for day in [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu] {
            assert_eq!(policy.forbids(day, at(23, 30)), None, "{day}");
        }
    }

    #[test]
    fn hour_ranges_include_their_start_exclude_their_end_and_may_wrap_midnight() {
        let policy = Policy {
            forbidden_days: vec![],
            forbidden_hours: vec!["18:00-08:00".into(), "12:00-13:30".into()],
        };
        let forbidden = |t| policy.forbids(Weekday::Tue, t).is_some();
        assert!(forbidden(at(18, 0)));
        assert!(forbidden(at(23, 59)));
        assert!(forbidden(at(0, 0)));
        assert!(forbidden(at(7, 59)));
        assert!(!forbidden(at(8, 0)));
        assert!(!forbidden(at(17, 59)));
        assert!(forbidden(at(12, 0)));
        assert!(!forbidden(at(13, 30)));
        let why = policy.forbids(Weekday::Tue, at(19, 5)).unwrap();
        assert!(why.contains("19:05, within 18:00-08:00"), "{why}");
    }

    #[test]
    fn a_malformed_entry_is_refused_naming_its_key() {
        let policy = |days: &[&str], hours: &[&str]| Policy {
            forbidden_days: days.iter().map(|s| s.to_string()).collect(),
            forbidden_hours: hours.iter().map(|s| s.to_string()).collect(),
        };
        let error = policy(&["fry"], &[]).validate().unwrap_err();
        assert!(error.starts_with("policy.forbidden_days: `fry`"), "{error}");
        let error = policy(&[], &["18h-8h"]).validate().unwrap_err();
        assert!(
            error.starts_with("policy.forbidden_hours: `18h-8h` is not a range"),
            "{error}"
        );
        let error = policy(&[], &["08:00-08:00"]).validate().unwrap_err();
        assert!(error.contains("empty range"), "{error}");
        assert!(policy(&["fri"], &["18:00-08:00"]).validate().is_ok());
    }
}
