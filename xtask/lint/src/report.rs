//! The lint report and its two renderings: human (like rustc) and JSON (for CI).
//!
//! The JSON field names are a stable interface: `mode`, `summary` {`errors`, `warnings`,
//! `suppressed`, `unchecked`, `statements`, `migrations`}, `findings` and `suppressed`
//! (each {`rule`, `severity`, `path`, `line`, `column`, `message`, `excerpt`, `help`}, the
//! suppressed ones with a `reason`). New fields may be added; none will be renamed.

use std::fmt::Write as _;

use serde::Serialize;

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
    /// Statements marked `-- bascule:raw`: not parsed, not checked.
    pub unchecked: usize,
    /// Statements of every script, raw ones included.
    pub statements: usize,
    pub migrations: usize,
}

impl Default for Report {
    fn default() -> Self {
        Report {
            mode: Mode::Downtime,
            findings: Vec::new(),
            suppressed: Vec::new(),
            unchecked: 0,
            statements: 0,
            migrations: 0,
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
    pub suppressed: usize,
    pub unchecked: usize,
    pub statements: usize,
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
            suppressed: self.suppressed.len(),
            unchecked: self.unchecked,
            statements: self.statements,
            migrations: self.migrations,
        }
    }

    /// The report as a person reads it: every finding like rustc, the suppressed ones listed,
    /// then one summary line.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            out.push_str(&render_finding(finding));
            out.push_str("\n\n");
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
        format!(
            "lint ({}): {}, {}, {} suppressed, {} unchecked ({} in {})",
            self.mode,
            plural(s.errors, "error"),
            plural(s.warnings, "warning"),
            s.suppressed,
            s.unchecked,
            plural(s.statements, "statement"),
            plural(s.migrations, "migration"),
        )
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
}
