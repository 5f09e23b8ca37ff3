//! The lint report and its two renderings: human (like rustc) and JSON (for CI).
//!
//! The JSON field names are a stable interface: `mode`, `summary` {`errors`, `warnings`,
//! `notes`, `suppressed`, `unchecked`, `statements`, `migrations`}, `findings` and `suppressed`
//! (each {`rule`, `severity`, `path`, `line`, `column`, `message`, `excerpt`, `help`}, the
//! suppressed ones with a `reason`). New fields may be added; none will be renamed.
//!
//! # Advice is counted, not spelled out
//!
//! A real project's first lint can hold hundreds of findings of one advice rule (a `varchar(n)`
//! in every table); printed like errors they bury the few that matter. The human report prints
//! errors, warnings and notes in full, and each [`Level::Advice`] rule as one line: its id, its
//! count, its summary and its first [`ADVICE_PLACES`] places. `--explain <id>` tells why; the JSON
//! report keeps every finding.

use std::fmt::Write as _;

use serde::Serialize;

use std::collections::BTreeMap;

use super::{Finding, Severity};
use bascule_patch::Mode;

/// Everything the linter found in one patch.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: Mode,
    /// Active findings: errors and warnings.
    pub findings: Vec<Finding>,
    /// Findings silenced by `-- bascule:allow`, with their reasons.
    pub suppressed: Vec<Suppressed>,
    /// Statements marked `-- bascule:raw`, and embedded SQL known only at run time (a `PREPARE`
    /// of a string built with `CONCAT(… @var …)`): not parsed, not checked.
    pub unchecked: usize,
    /// Statements of every script as written, raw ones included (not the SQL embedded in them).
    pub statements: usize,
    /// How those statements, and the SQL embedded in them, were read.
    pub readings: Readings,
    pub migrations: usize,
    /// The advice rules that fired, with their one-line summary: the human report counts their
    /// findings on one line each. Filled by the driver, which knows each rule's level.
    #[serde(skip)]
    pub advice: BTreeMap<String, &'static str>,
}

/// How the statements of a report were read: the figures that say how much the linter saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Readings {
    /// Written statements sqlparser parsed.
    pub parsed: usize,
    /// Written statements only Bascule's recognizer read.
    pub recognized: usize,
    /// Written statements neither could read (each is a `syntax` or `split` error).
    pub invalid: usize,
    /// Statements found inside others (a `PREPARE`d string, a `DO` block, a called procedure's
    /// body), read like written ones; `opaque` of them are known only at run time.
    pub embedded: usize,
    pub opaque: usize,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            mode: Mode::Downtime,
            findings: Vec::new(),
            suppressed: Vec::new(),
            unchecked: 0,
            statements: 0,
            readings: Readings::default(),
            migrations: 0,
            advice: BTreeMap::new(),
        }
    }
}

/// A finding silenced by `-- bascule:allow <rule> <reason>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppressed {
    #[serde(flatten)]
    pub finding: Finding,
    pub reason: String,
}

/// The counts of a report, as the summary line and the JSON `summary` show them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    /// Declarations a reviewer should see: irreversible migrations.
    pub notes: usize,
    pub suppressed: usize,
    pub unchecked: usize,
    pub statements: usize,
    /// In JSON only: the human summary line keeps to what a reviewer acts on.
    pub readings: Readings,
    pub migrations: usize,
}

impl Report {
    /// Adds a finding, suppressed when `reason` is given.
    pub fn add(&mut self, finding: Finding, reason: Option<String>) {
        match reason {
            Some(reason) => self.suppressed.push(Suppressed { finding, reason }),
            None => self.findings.push(finding),
        }
    }

    /// Orders findings by file, then position, then rule: the order a reader walks the files.
    pub fn sort(&mut self) {
        let key = |f: &Finding| (f.path.clone(), f.line, f.column, f.rule.clone());
        self.findings.sort_by_key(key);
        self.suppressed.sort_by_key(|s| key(&s.finding));
    }

    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn warnings(&self) -> usize {
        self.count(Severity::Warning)
    }

    pub fn notes(&self) -> usize {
        self.count(Severity::Note)
    }

    fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.errors() > 0
    }

    /// The rule ids of the active findings, in report order (duplicates kept).
    pub fn rules(&self) -> Vec<&str> {
        self.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    pub fn summary(&self) -> Summary {
        Summary {
            errors: self.errors(),
            warnings: self.warnings(),
            notes: self.notes(),
            suppressed: self.suppressed.len(),
            unchecked: self.unchecked,
            statements: self.statements,
            readings: self.readings,
            migrations: self.migrations,
        }
    }

    /// The report as a person reads it: every error, warning and note like rustc, each advice
    /// rule's findings counted on one line, the suppressed ones listed, then one summary line.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let (advice, full): (Vec<&Finding>, Vec<&Finding>) =
            self.findings.iter().partition(|f| self.is_advice(f));
        for finding in full {
            out.push_str(&render_finding(finding));
            out.push_str("\n\n");
        }
        if !advice.is_empty() {
            out.push_str(&self.render_advice(&advice));
            out.push('\n');
        }
        if !self.suppressed.is_empty() {
            out.push_str("suppressed:\n");
            for s in &self.suppressed {
                let f = &s.finding;
                let _ = writeln!(
                    out,
                    "  {}:{}:{}: {} ({})",
                    f.path.display(),
                    f.line,
                    f.column,
                    f.rule,
                    s.reason
                );
            }
            out.push('\n');
        }
        out.push_str(&self.summary_line());
        out.push('\n');
        out
    }

    /// `lint (online): 2 errors, 1 warning, 1 suppressed, 0 unchecked (14 statements in 3 migrations)`.
    pub fn summary_line(&self) -> String {
        let s = self.summary();
        let notes = if s.notes > 0 {
            format!(", {}", plural(s.notes, "note"))
        } else {
            String::new()
        };
        format!(
            "lint ({}): {}, {}{notes}, {} suppressed, {} unchecked ({} in {})",
            self.mode,
            plural(s.errors, "error"),
            plural(s.warnings, "warning"),
            s.suppressed,
            s.unchecked,
            plural(s.statements, "statement"),
            plural(s.migrations, "migration"),
        )
    }

    /// Whether a finding is a warning of an advice rule.
    fn is_advice(&self, f: &Finding) -> bool {
        f.severity == Severity::Warning && self.advice.contains_key(&f.rule)
    }

    /// The advice findings, one line per rule in the order of its first finding:
    ///
    /// ```text
    /// advice (`cargo xtask lint --explain <id>` says why; `--format json` lists every one):
    ///   prefer-text-field: 392 × new varchar(n) column (PostgreSQL), at a/up.sql:3:3, b/up.sql:2:5, c/up.sql:7:3 and 389 more
    /// ```
    fn render_advice(&self, advice: &[&Finding]) -> String {
        let mut rules: Vec<(&str, Vec<&Finding>)> = Vec::new();
        for f in advice {
            match rules.iter_mut().find(|(id, _)| *id == f.rule) {
                Some((_, found)) => found.push(f),
                None => rules.push((&f.rule, vec![f])),
            }
        }
        let mut out = String::from(
            "advice (`cargo xtask lint --explain <id>` says why; `--format json` lists every one):\n",
        );
        for (id, found) in rules {
            let summary = self.advice.get(id).copied().unwrap_or_default();
            let places: Vec<String> = found
                .iter()
                .take(ADVICE_PLACES)
                .map(|f| format!("{}:{}:{}", f.path.display(), f.line, f.column))
                .collect();
            let more = match found.len().saturating_sub(ADVICE_PLACES) {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let _ = writeln!(
                out,
                "  {id}: {} × {summary}, at {}{more}",
                found.len(),
                places.join(", ")
            );
        }
        out
    }

    /// The report as JSON (pretty-printed, stable field names).
    pub fn render_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            mode: Mode,
            summary: Summary,
            findings: &'a [Finding],
            suppressed: &'a [Suppressed],
        }
        let json = Json {
            mode: self.mode,
            summary: self.summary(),
            findings: &self.findings,
            suppressed: &self.suppressed,
        };
        serde_json::to_string_pretty(&json).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// How many places of each advice rule the human report names.
pub const ADVICE_PLACES: usize = 3;

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// One finding like rustc:
///
/// ```text
/// error[dropping-column]: dropping column `avatar` of `members` breaks the code still running
///  --> migrations/site/0003_drop_avatar/up.sql:1:1
///   |
/// 1 | ALTER TABLE members DROP COLUMN avatar;
///   | ^
///   = help: …
/// ```
pub fn render_finding(f: &Finding) -> String {
    let severity = match f.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let number = f.line.to_string();
    let pad = " ".repeat(number.len());
    let mut out = String::new();
    let _ = writeln!(out, "{severity}[{}]: {}", f.rule, f.message);
    let _ = writeln!(out, "{pad}--> {}:{}:{}", f.path.display(), f.line, f.column);
    let _ = writeln!(out, "{pad} |");
    if f.excerpt.is_empty() {
        let _ = writeln!(out, "{number} |");
    } else {
        let _ = writeln!(out, "{number} | {}", f.excerpt);
    }
    let caret_pad: String = f
        .excerpt
        .chars()
        .chain(std::iter::repeat(' '))
        .take(f.column.saturating_sub(1))
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let _ = write!(out, "{pad} | {caret_pad}^");
    if let Some(help) = &f.help {
        let mut lines = help.lines();
        if let Some(first) = lines.next() {
            let _ = write!(out, "\n{pad} = help: {first}");
        }
        for line in lines {
            let _ = write!(out, "\n{pad}         {line}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding::at(
            "dropping-column",
            severity,
            Path::new("migrations/site/0003_drop/up.sql"),
            "-- drop it\n\tALTER TABLE members DROP COLUMN avatar;\n",
            32,
            "dropping column `avatar`",
        )
        .with_help("phase 1: …\nphase 2: …")
    }

    #[test]
    fn finding_points_at_line_and_column() {
        let f = finding(Severity::Error);
        assert_eq!((f.line, f.column), (2, 22));
        assert_eq!(f.excerpt, "\tALTER TABLE members DROP COLUMN avatar;");
        insta::assert_snapshot!(render_finding(&f));
    }

    #[test]
    fn summary_counts_each_kind() {
        let mut report = Report {
            mode: Mode::Online,
            unchecked: 2,
            statements: 7,
            migrations: 1,
            ..Report::default()
        };
        report.add(finding(Severity::Error), None);
        report.add(finding(Severity::Warning), None);
        report.add(finding(Severity::Warning), None);
        report.add(finding(Severity::Error), Some("unused since 1.1".into()));
        assert_eq!(
            report.summary_line(),
            "lint (online): 1 error, 2 warnings, 1 suppressed, 2 unchecked (7 statements in 1 migration)"
        );
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(json["summary"]["errors"], 1);
        assert_eq!(json["summary"]["suppressed"], 1);
        assert_eq!(json["suppressed"][0]["reason"], "unused since 1.1");
        assert_eq!(json["findings"][1]["severity"], "warning");
        assert_eq!(json["findings"][0]["line"], 2);
    }

    #[test]
    fn advice_is_one_counted_line_per_rule_and_json_keeps_every_finding() {
        let mut report = Report {
            mode: Mode::Online,
            statements: 392,
            migrations: 392,
            advice: [(
                "prefer-text-field".to_string(),
                "new varchar(n) column (PostgreSQL)",
            )]
            .into(),
            ..Report::default()
        };
        for n in 1..=392 {
            let path = format!("migrations/site/{n:06}_table_{n}/up.sql");
            let script = "CREATE TABLE t (\n  id bigint,\n  name varchar(50)\n);";
            let f = Finding::at(
                "prefer-text-field",
                Severity::Warning,
                Path::new(&path),
                script,
                script.find("name").unwrap(),
                "`t.name`: VARCHAR(50): changing its limit later rewrites the table under lock",
            );
            report.add(f, None);
        }
        report.add(finding(Severity::Error), None);
        report.sort();
        let human = report.render_human();
        assert_eq!(human.matches("prefer-text-field").count(), 1, "{human}");
        assert_eq!(
            human.matches("error[dropping-column]").count(),
            1,
            "{human}"
        );
        insta::assert_snapshot!(human);
        let json: serde_json::Value = serde_json::from_str(&report.render_json()).unwrap();
        assert_eq!(json["findings"].as_array().map(Vec::len), Some(393));
        assert_eq!(json["summary"]["warnings"], 392);
    }

    #[test]
    fn notes_are_counted_apart() {
        let mut report = Report::default();
        let mut note = finding(Severity::Note);
        note.rule = "irreversible".into();
        report.add(note, None);
        assert_eq!(report.notes(), 1);
        assert!(!report.has_errors());
        assert!(report
            .summary_line()
            .contains("0 warnings, 1 note, 0 suppressed"));
        assert!(report.render_human().starts_with("note[irreversible]: "));
    }
}
