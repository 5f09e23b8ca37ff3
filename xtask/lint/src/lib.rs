//! The migration linter: what `cargo xtask lint` and `build-patch` check before a bundle exists.
//!
//! Three checks of the migrations, one report (and [`documents`], the release documents checked
//! into the same report by `cargo xtask lint`):
//!
//! 1. **parse** — every statement of every `up.sql`/`down.sql` parses ([`bascule_sql`]); always
//!    errors, since a statement the database rejects fails the run;
//! 2. **pairs** — the down undoes the up ([`rules::down_undoes_up`]);
//! 3. **rules** — one [`Rule`] per schema change that breaks the *previous* version of the code
//!    during a rolling deploy, or locks a table for long ([`rules`]). Their findings are errors when
//!    the patch is `mode = "online"` and warnings in `downtime` mode (the platform is closed, so
//!    the old code reads nothing), except a few [`Level::Always`] and [`Level::Advice`] rules.
//!
//! # Why rules see earlier patches
//!
//! The safe way to make most breaking changes is several releases (the second seed: expand, let
//! the code follow, contract). A rule therefore gets a [`History`] built from the sibling patch
//! sources of lower versions (`patches/1.1.0/` for `patches/1.2.0/`): "phase 1 shipped" is a fact
//! in an earlier patch, and then phase 2 is safe. Patches that do not load are skipped: the
//! linter judges the patch given, not its ancestors.
//!
//! # Suppressions
//!
//! `-- bascule:allow <rule-id> <reason>` before (or inside) a statement silences that rule for that
//! statement. The reason is mandatory — a suppression without one is itself an error
//! (`suppression-without-reason`) — and every suppressed finding is still listed in the report.
//! Statements marked `-- bascule:raw` are not parsed, so no rule sees them; they are counted as
//! unchecked.
//!
//! # What the rules see
//!
//! The driver reads each script with [`bascule_sql::check_script`], the same reading the parse step
//! and the pair check use, so a rule sees every statement the database will run: those sqlparser
//! parsed go to [`Rule::check`] (with their AST), those only Bascule's recognizer read
//! (`DROP INDEX CONCURRENTLY`, `DETACH PARTITION`, MySQL `ALTER TABLE … ENGINE=`, …) go to
//! [`Rule::check_recognized`]; a MySQL `CREATE TABLE … PARTITION BY` is handed to `check` as the
//! `CREATE TABLE` without its partitioning clause. Every rule also sees the whole script
//! ([`RuleContext::script`]), for what is a property of the migration rather than of one statement
//! (a `SET lock_timeout` before the DDL, a `-- bascule:no-transaction` marker).

pub mod documents;
pub mod history;
pub mod report;
pub mod rules;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlparser::ast::Statement;

use bascule_patch::{
    marker_argument, marker_name, Dialect, LineIndex, Migration, Mode, Patch, Server, SqlStatement,
    ALLOW,
};
use bascule_sql::{
    check_script, CheckedStatement, IssueKind, Reading, Recognized, RecognizedKind, SqlIssue,
};

pub use history::History;
pub use report::Report;

/// How bad a finding is: errors stop `build-patch`, warnings are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// How a rule's findings are graded, given the patch's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Breaks the old code or locks a live table: an error in `online` mode, a warning in
    /// `downtime` mode (nothing runs against the database while the patch applies).
    ZeroDowntime,
    /// Wrong in any mode (e.g. `DROP DATABASE`, a `COMMIT` inside a migration): always an error.
    Always,
    /// Advice (better types, robust statements): always a warning.
    Advice,
}

impl Level {
    pub fn severity(self, mode: Mode) -> Severity {
        match (self, mode) {
            (Level::Always, _) | (Level::ZeroDowntime, Mode::Online) => Severity::Error,
            (Level::Advice, _) | (Level::ZeroDowntime, Mode::Downtime) => Severity::Warning,
        }
    }
}

/// One thing the linter says about one place of one script.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable kebab-case id: a rule id, `syntax`, `split`, `empty-script`, or a pair-check id.
    pub rule: String,
    pub severity: Severity,
    /// The script, relative to the patch root (`migrations/site/0002_add_avatar/up.sql`).
    pub path: PathBuf,
    /// 1-based line and column (in characters) in that file.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// The line of the file the finding points at, as written.
    pub excerpt: String,
    /// What to do instead: the safe recipe.
    pub help: Option<String>,
}

impl Finding {
    /// A finding at byte `offset` of `script`, the text of the file at `path`; line, column and
    /// excerpt are computed from the script.
    pub fn at(
        rule: &str,
        severity: Severity,
        path: &Path,
        script: &str,
        offset: usize,
        message: impl Into<String>,
    ) -> Finding {
        let lines = LineIndex::new(script);
        let (line, column) = lines.position(offset);
        Finding {
            rule: rule.to_string(),
            severity,
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            excerpt: lines.line_text(line).to_string(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Finding {
        self.help = Some(help.into());
        self
    }

    /// A parse-validation issue as a finding: always an error.
    pub fn from_issue(issue: SqlIssue) -> Finding {
        let rule = match issue.kind {
            IssueKind::Syntax => "syntax",
            IssueKind::Split => "split",
            IssueKind::Empty => "empty-script",
        };
        Finding {
            rule: rule.to_string(),
            severity: Severity::Error,
            path: issue.path,
            line: issue.line,
            column: issue.column,
            message: issue.message,
            excerpt: issue.statement_excerpt,
            help: issue.help,
        }
    }
}

/// What a rule reports: a message, and where in the statement (byte offset into
/// [`SqlStatement::text`]; 0 is the statement's first character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub offset: usize,
    pub message: String,
}

impl Hit {
    pub fn new(message: impl Into<String>) -> Hit {
        Hit {
            offset: 0,
            message: message.into(),
        }
    }

    /// Points the hit at the first occurrence of `needle` (ASCII case-insensitive) in the
    /// statement's text, as a whole word and outside comments and string literals, or leaves it
    /// at the statement's start. A column `name` in `CREATE TABLE user_names (…, name …)` is the
    /// word on its own line, not the end of the table's name.
    pub fn near(mut self, text: &str, needle: &str) -> Hit {
        if let Some(at) = find_word_ci(text, needle) {
            self.offset = at;
        }
        self
    }
}

/// Byte offset of the first ASCII-case-insensitive occurrence of `needle` in `haystack`.
pub fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let hay = haystack.as_bytes();
    let needle = needle.as_bytes();
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// Byte offset of the first ASCII-case-insensitive occurrence of `needle` in the SQL `text` that
/// stands as a word of its own (no letter, digit, `_` or `$` right before or after it) and is
/// not inside a comment or a `'…'` literal; failing that, the first occurrence in code as part
/// of a longer word; failing that, none.
pub fn find_word_ci(text: &str, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    let code = code_mask(text);
    let hay = text.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let mut first_in_code = None;
    let mut from = 0;
    while let Some(found) = find_ci(&text[from..], needle) {
        let at = from + found;
        let end = at + needle.len();
        if code[at] {
            let alone = (at == 0 || !word(hay[at - 1])) && (end >= hay.len() || !word(hay[end]));
            if alone {
                return Some(at);
            }
            first_in_code.get_or_insert(at);
        }
        from = at + text[at..].chars().next().map_or(1, char::len_utf8);
    }
    first_in_code
}

/// For each byte of `text`: whether it is SQL code, not a `--` or `/* */` comment nor a `'…'`
/// string literal (quotes doubled inside).
fn code_mask(text: &str) -> Vec<bool> {
    let bytes = text.as_bytes();
    let mut mask = vec![true; bytes.len()];
    let mut i = 0;
    while i < bytes.len() {
        let end = if bytes[i..].starts_with(b"--") {
            bytes[i..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(bytes.len(), |n| i + n)
        } else if bytes[i..].starts_with(b"/*") {
            find_ci(&text[i + 2..], "*/").map_or(bytes.len(), |n| i + 2 + n + 2)
        } else if bytes[i] == b'\'' {
            let mut j = i + 1;
            loop {
                match bytes.get(j) {
                    None => break bytes.len(),
                    Some(b'\'') if bytes.get(j + 1) == Some(&b'\'') => j += 2,
                    Some(b'\'') => break j + 1,
                    Some(_) => j += 1,
                }
            }
        } else {
            i += 1;
            continue;
        };
        mask[i..end].iter_mut().for_each(|m| *m = false);
        i = end;
    }
    mask
}

/// One parsed statement of an `up.sql`.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub sql: SqlStatement,
    pub ast: Statement,
}

/// One statement of an `up.sql` that sqlparser rejects and Bascule's recognizer read.
#[derive(Debug, Clone)]
pub struct RecognizedStatement {
    pub sql: SqlStatement,
    pub recognized: Recognized,
}

/// A statement as the splitter cut it, whatever read it.
pub trait HasSql {
    fn sql(&self) -> &SqlStatement;
}

impl HasSql for Parsed {
    fn sql(&self) -> &SqlStatement {
        &self.sql
    }
}

impl HasSql for RecognizedStatement {
    fn sql(&self) -> &SqlStatement {
        &self.sql
    }
}

/// What a rule sees when it checks one statement: a [`Parsed`] one for [`Rule::check`], a
/// [`RecognizedStatement`] for [`Rule::check_recognized`].
pub struct RuleContext<'a, S = Parsed> {
    pub dialect: Dialect,
    /// The server the class names (`[classes.<name>] server`), if it does: rules suggest what
    /// it accepts, and what every server of the dialect accepts when it is `None`.
    pub server: Option<Server>,
    pub mode: Mode,
    pub migration: &'a Migration,
    /// The statement checked.
    pub statement: &'a S,
    /// The parsed statements before it in the same `up.sql`.
    pub before: &'a [Parsed],
    /// Every statement of the `up.sql`, in order, with how it was read (raw ones included).
    pub script: &'a [CheckedStatement],
    /// What earlier patches of the same repo did to this class.
    pub history: &'a History,
}

impl<S: HasSql> RuleContext<'_, S> {
    pub fn text(&self) -> &str {
        &self.statement.sql().text
    }

    /// Whether some statement of the `up.sql` carries `-- bascule:<marker>` (e.g.
    /// `no-transaction`), alone or followed by words.
    pub fn script_has_marker(&self, marker: &str) -> bool {
        self.script.iter().any(|s| s.statement.has_marker(marker))
    }
}

/// A zero-downtime (or hygiene) rule over one statement at a time.
pub trait Rule: Sync {
    /// Stable kebab-case id, used in reports and in `-- bascule:allow <id> <reason>`.
    fn id(&self) -> &'static str;
    /// One line: what the rule catches.
    fn summary(&self) -> &'static str;
    /// Why it matters (shown by `--explain` and in docs).
    fn explanation(&self) -> &'static str;
    /// The safe way, phase by phase: shown as `= help:` under each finding.
    fn recipe(&self, dialect: Dialect) -> String;
    fn level(&self) -> Level {
        Level::ZeroDowntime
    }
    /// The dialects the rule applies to.
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Sqlite, Dialect::Mysql, Dialect::Postgres]
    }
    /// Checks a statement sqlparser parsed.
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit>;
    /// Checks a statement only the recognizer read ([`bascule_sql::recognize`](mod@bascule_sql::recognize)); most rules have
    /// nothing to say about those forms.
    fn check_recognized(&self, _cx: &RuleContext<'_, RecognizedStatement>) -> Vec<Hit> {
        Vec::new()
    }
}

/// Errors of the lint driver itself (the patch cannot be loaded).
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    #[error(transparent)]
    Patch(#[from] bascule_patch::PatchError),
}

/// Lints the patch source at `dir`, with the history of its sibling patches of lower versions.
pub fn lint_dir(dir: &Path) -> Result<Report, LintError> {
    let patch = Patch::load(dir)?;
    let earlier = history::earlier_patches(&patch);
    Ok(lint_patch(&patch, &earlier))
}

/// Lints a loaded patch: parse validation, pair check and every rule on every `up.sql`.
/// `earlier` are the patches released before it (any order).
pub fn lint_patch(patch: &Patch, earlier: &[Patch]) -> Report {
    let mode = patch.spec.patch.mode;
    let mut report = Report {
        mode,
        ..Report::default()
    };
    for (class, set) in &patch.migrations.classes {
        let dialect = set.dialect.unwrap_or(Dialect::Sqlite);
        let server = patch.spec.classes.get(class).and_then(|c| c.server);
        let history = History::of_class(earlier, class, dialect);
        for migration in &set.migrations {
            lint_migration(migration, dialect, server, mode, &history, &mut report);
        }
    }
    report.sort();
    report
}

/// Lints one migration into `report`.
pub fn lint_migration(
    m: &Migration,
    dialect: Dialect,
    server: Option<Server>,
    mode: Mode,
    history: &History,
    report: &mut Report,
) {
    report.migrations += 1;
    let up = check_script(&m.up_path(), &m.up, dialect);
    let down = check_script(&m.down_path(), &m.down, dialect);
    for check in [&up, &down] {
        report.statements += check.statements.len();
        report.unchecked += check
            .statements
            .iter()
            .filter(|s| s.outcome == Reading::Raw)
            .count();
        report
            .findings
            .extend(check.issues.iter().cloned().map(Finding::from_issue));
    }
    for finding in rules::down_undoes_up::check_pair(m, dialect) {
        report.add(finding, None);
    }
    rules::idempotent_down::check_down(m, dialect, server, report);
    let mut parsed: Vec<Parsed> = Vec::new();
    for checked in &up.statements {
        if let Some(p) = as_parsed(checked) {
            parsed.push(p);
            if let Some((statement, before)) = parsed.split_last() {
                let cx = RuleContext {
                    dialect,
                    server,
                    mode,
                    migration: m,
                    statement,
                    before,
                    script: &up.statements,
                    history,
                };
                run_rules(&cx, report, |rule| rule.check(&cx));
            }
        } else if let Some(recognized) = checked.recognized() {
            let statement = RecognizedStatement {
                sql: checked.statement.clone(),
                recognized: recognized.clone(),
            };
            let cx = RuleContext {
                dialect,
                server,
                mode,
                migration: m,
                statement: &statement,
                before: &parsed,
                script: &up.statements,
                history,
            };
            run_rules(&cx, report, |rule| rule.check_recognized(&cx));
        }
    }
}

/// The statement as the AST rules see it: what sqlparser parsed (exactly one statement), or the
/// `CREATE TABLE` of a MySQL partitioned table without its partitioning clause.
fn as_parsed(checked: &CheckedStatement) -> Option<Parsed> {
    let ast = match &checked.outcome {
        Reading::Parsed(ast) if ast.len() == 1 => ast[0].clone(),
        Reading::Recognized(Recognized {
            kind: RecognizedKind::CreatePartitionedTable { create, .. },
        }) => (**create).clone(),
        _ => return None,
    };
    Some(Parsed {
        sql: checked.statement.clone(),
        ast,
    })
}

/// The statements of `up.sql` the AST rules see (raw and broken ones are not checked by the
/// rules; the parse step reports the broken ones).
pub fn parse_up(m: &Migration, dialect: Dialect) -> Vec<Parsed> {
    parse_script(&m.up, dialect)
}

/// Splits and reads a script like the driver does; the statements the AST rules see.
pub fn parse_script(script: &str, dialect: Dialect) -> Vec<Parsed> {
    check_script(Path::new("up.sql"), script, dialect)
        .statements
        .iter()
        .filter_map(as_parsed)
        .collect()
}

/// Runs every rule of the dialect on one statement through `check`, honouring its suppressions.
fn run_rules<S: HasSql>(
    cx: &RuleContext<'_, S>,
    report: &mut Report,
    check: impl Fn(&dyn Rule) -> Vec<Hit>,
) {
    let m = cx.migration;
    let sql = cx.statement.sql();
    let allows = suppressions(sql);
    for allow in &allows {
        if allow.reason.is_empty() {
            let finding = Finding::at(
                "suppression-without-reason",
                Severity::Error,
                &m.up_path(),
                &m.up,
                sql.offset,
                format!("`-- bascule:allow {}` has no reason", allow.rule),
            )
            .with_help(format!(
                "say why it is safe here: `-- bascule:allow {} <reason>`",
                allow.rule
            ));
            report.add(finding, None);
        } else if rules::by_id(&allow.rule).is_none() {
            let finding = Finding::at(
                "unknown-rule",
                Severity::Error,
                &m.up_path(),
                &m.up,
                sql.offset,
                format!("`-- bascule:allow {}`: no rule has this id", allow.rule),
            )
            .with_help("`cargo xtask lint --rules` lists the rule ids");
            report.add(finding, None);
        }
    }
    for rule in rules::all() {
        if !rule.dialects().contains(&cx.dialect) {
            continue;
        }
        for hit in check(*rule) {
            let finding = Finding::at(
                rule.id(),
                rule.level().severity(cx.mode),
                &m.up_path(),
                &m.up,
                sql.offset + hit.offset,
                hit.message,
            )
            .with_help(rule.recipe(cx.dialect));
            let reason = allows
                .iter()
                .find(|a| a.rule == rule.id() && !a.reason.is_empty())
                .map(|a| a.reason.clone());
            report.add(finding, reason);
        }
    }
}

/// One `-- bascule:allow <rule-id> <reason>` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    pub rule: String,
    pub reason: String,
}

/// The `allow` markers of a statement.
pub fn suppressions(statement: &SqlStatement) -> Vec<Allow> {
    statement
        .markers
        .iter()
        .filter_map(|m| {
            if marker_name(m) != ALLOW {
                return None;
            }
            let rest = marker_argument(m);
            let (rule, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some(Allow {
                rule: rule.trim_end_matches(':').to_string(),
                reason: reason.trim().trim_start_matches(':').trim().to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_points_at_the_word_not_at_a_longer_name_holding_it() {
        let text = "CREATE TABLE user_names (\n  id bigint,\n  name varchar(50)\n);";
        let hit = Hit::new("…").near(text, "name");
        assert_eq!(&text[hit.offset..hit.offset + 4], "name");
        assert_eq!(text[..hit.offset].lines().count(), 3, "on the third line");
        // Not in a comment nor a literal either.
        let text = "-- the name column\nALTER TABLE t ADD COLUMN x TEXT DEFAULT 'name', ADD COLUMN name TEXT;";
        let at = find_word_ci(text, "NAME").unwrap();
        assert_eq!(&text[at - 7..at], "COLUMN ");
        // Part of a longer word only when the word is nowhere on its own; absent: none.
        assert_eq!(find_word_ci("ALTER TABLE names", "name"), Some(12));
        assert_eq!(find_word_ci("SELECT 1 -- name", "name"), None);
        assert_eq!(Hit::new("…").near("SELECT 1", "name").offset, 0);
    }
}
