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
//! `-- bascule:allow <id> <reason>` before (or inside) a statement silences the finding `<id>`
//! about that statement: any rule's id, and the pair check's (`down-undoes-up`), in `up.sql` or
//! `down.sql` ([`suppressions`] says where each goes and which ids are never silenced). The
//! reason is mandatory — a suppression without one is itself an error
//! (`suppression-without-reason`) — and every suppressed finding is still listed in the report.
//! Statements marked `-- bascule:raw` are not parsed, so no rule sees them; they are counted as
//! unchecked.
//!
//! # Irreversible migrations
//!
//! A migration whose down cannot restore what its up removed (a legacy clean-up, rows deleted on
//! purpose) says so with `-- bascule:irreversible <reason>` in `down.sql` (which may hold nothing
//! else) or `up.sql`. Its down may then be empty, the pair check is skipped, and the report
//! carries a note `irreversible` with the reason at the marker, counted in the summary, so a
//! reviewer sees it; a marker without a reason is an error.
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
pub mod suppressions;

use std::path::{Path, PathBuf};

use serde::Serialize;
use sqlparser::ast::Statement;

use bascule_patch::{
    Dialect, IrreversibleMarker, LineIndex, Migration, Mode, Patch, Server, SqlStatement,
};
use bascule_sql::{
    check_script, CheckedStatement, IssueKind, Reading, Recognized, RecognizedKind, SqlIssue,
};

pub use history::History;
pub use report::Report;
pub use suppressions::{suppressions, Allow};

/// How bad a finding is: errors stop `build-patch`, warnings are printed, notes tell a reviewer
/// what the team declared (an irreversible migration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
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
    /// Embedded in another statement and run only under the condition it tests (the branch of
    /// an `IF(<the index exists>, 'SELECT 1', 'CREATE INDEX …')` a `PREPARE` runs, an `IF` in a
    /// `DO` block): the guard makes it safe to run twice.
    pub guarded: bool,
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
        let mut indexes = rules::down_undoes_up::KnownIndexes::default();
        let first = set.migrations.first().map_or(0, |m| m.id);
        let mut known = rules::down_undoes_up::KnownObjects::starting_at(first);
        for migration in &set.migrations {
            lint_migration(
                migration,
                dialect,
                server,
                mode,
                &history,
                &known,
                &mut report,
            );
            if migration.irreversible().is_none() {
                let restored =
                    rules::down_undoes_up::check_restored_indexes(migration, dialect, &indexes);
                for (finding, reason) in restored {
                    report.add(finding, reason);
                }
            }
            indexes.learn(migration, dialect);
            known.learn(migration, dialect);
        }
    }
    report.sort();
    report
}

/// Adds how each statement of a script was read to `readings`.
fn count_readings(statements: &[CheckedStatement], readings: &mut report::Readings) {
    for s in statements {
        if !s.is_written() {
            readings.embedded += 1;
            readings.opaque += usize::from(s.is_opaque());
            continue;
        }
        match &s.outcome {
            Reading::Parsed(_) => readings.parsed += 1,
            Reading::Recognized(_) => readings.recognized += 1,
            Reading::Invalid => readings.invalid += 1,
            Reading::Raw => {}
        }
    }
}

/// Lints one migration into `report`.
pub fn lint_migration(
    m: &Migration,
    dialect: Dialect,
    server: Option<Server>,
    mode: Mode,
    history: &History,
    known: &rules::down_undoes_up::KnownObjects,
    report: &mut Report,
) {
    report.migrations += 1;
    let up = check_script(&m.up_path(), &m.up, dialect);
    let down = check_script(&m.down_path(), &m.down, dialect);
    let irreversible = m.irreversible_marker();
    let allowable = rules::allowable_ids();
    for (check, path, script) in [(&up, m.up_path(), &m.up), (&down, m.down_path(), &m.down)] {
        // Statements as written; embedded ones (a `PREPARE`d string, a `DO` block's body) are
        // checked like them, and unchecked when their text is known only at run time.
        report.statements += check.statements.iter().filter(|s| s.is_written()).count();
        count_readings(&check.statements, &mut report.readings);
        report.unchecked += check
            .statements
            .iter()
            .filter(|s| s.outcome == Reading::Raw || s.is_opaque())
            .count();
        // An irreversible migration's down may hold nothing but its marker.
        let empty_down_allowed = irreversible.is_some() && path == m.down_path();
        report.findings.extend(
            check
                .issues
                .iter()
                .filter(|i| !(empty_down_allowed && i.kind == IssueKind::Empty))
                .cloned()
                .map(Finding::from_issue),
        );
        suppressions::check_markers(&path, script, &check.statements, &allowable, report);
    }
    match irreversible {
        Some(marker) => report.add(irreversible_finding(m, &marker), None),
        None => {
            for (finding, reason) in rules::down_undoes_up::check_pair(m, dialect, known) {
                report.add(finding, reason);
            }
        }
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

/// What the report says of a migration declared `-- bascule:irreversible <reason>`, at the
/// marker: a note with the reason (the pair check is skipped, `rollback` past it is refused), or
/// an error when the marker gives no reason.
fn irreversible_finding(m: &Migration, marker: &IrreversibleMarker<'_>) -> Finding {
    let (path, script) = if marker.file == "up.sql" {
        (m.up_path(), &m.up)
    } else {
        (m.down_path(), &m.down)
    };
    let line_start: usize = script
        .split_inclusive('\n')
        .take(marker.line.saturating_sub(1))
        .map(str::len)
        .sum();
    let indent = script[line_start..].len() - script[line_start..].trim_start().len();
    let offset = line_start + indent;
    if marker.reason.is_empty() {
        return Finding::at(
            "irreversible",
            Severity::Error,
            &path,
            script,
            offset,
            "`-- bascule:irreversible` gives no reason",
        )
        .with_help(
            "say why the migration cannot be undone: `-- bascule:irreversible <reason>`; \
             `plan` and a refused `rollback` show the reason",
        );
    }
    Finding::at(
        "irreversible",
        Severity::Note,
        &path,
        script,
        offset,
        format!(
            "migration {} is declared irreversible: {}",
            m.dir
                .file_name()
                .map_or_else(|| m.name.clone(), |n| n.to_string_lossy().into_owned()),
            marker.reason
        ),
    )
    .with_help(
        "its down.sql is not checked against its up.sql, and `rollback` past it is refused \
         before anything is undone",
    )
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
        guarded: checked.embedded.is_some_and(|e| e.conditional),
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

/// Runs every rule of the dialect on one statement through `check`, honouring its suppressions
/// (whose markers [`suppressions::check_markers`] has checked).
fn run_rules<S: HasSql>(
    cx: &RuleContext<'_, S>,
    report: &mut Report,
    check: impl Fn(&dyn Rule) -> Vec<Hit>,
) {
    let m = cx.migration;
    let sql = cx.statement.sql();
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
            if rule.level() == Level::Advice {
                report.advice.insert(rule.id().to_string(), rule.summary());
            }
            report.add(finding, suppressions::allowed(sql, rule.id()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lint(dialect: Dialect, up: &str, down: &str) -> Report {
        let m = Migration::new("site", 7, "purge_sessions", up, down);
        let mut report = Report {
            mode: Mode::Online,
            ..Report::default()
        };
        lint_migration(
            &m,
            dialect,
            None,
            Mode::Online,
            &History::default(),
            &Default::default(),
            &mut report,
        );
        report.sort();
        report
    }

    fn rules_of(report: &Report) -> Vec<&str> {
        report.findings.iter().map(|f| f.rule.as_str()).collect()
    }

    #[test]
    fn the_pair_checks_id_is_accepted_and_its_finding_listed_as_suppressed() {
        let report = lint(
            Dialect::Sqlite,
            "-- bascule:allow down-undoes-up the index is kept across rollbacks on purpose\n\
             CREATE INDEX members_email ON members (email);\n",
            "SELECT 1;\n",
        );
        assert!(report.findings.is_empty(), "{}", report.render_human());
        assert_eq!(report.suppressed.len(), 1);
        assert_eq!(report.suppressed[0].finding.rule, "down-undoes-up");
        assert_eq!(
            report.suppressed[0].reason,
            "the index is kept across rollbacks on purpose"
        );
        // In the down: a drop of what the up did not create, and an idempotent-down finding.
        let report = lint(
            Dialect::Postgres,
            "ALTER TABLE posts ADD COLUMN remote_id TEXT;\n",
            "-- bascule:no-transaction\n\
             ALTER TABLE posts DROP COLUMN IF EXISTS remote_id;\n\
             -- bascule:allow down-undoes-up left over by 5.x, empty since\n\
             -- bascule:allow idempotent-down the table exists on every server of this class\n\
             DROP TABLE old_posts;\n",
        );
        let in_down: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.path.ends_with("down.sql"))
            .collect();
        assert!(in_down.is_empty(), "{}", report.render_human());
        let mut silenced: Vec<&str> = report
            .suppressed
            .iter()
            .map(|s| s.finding.rule.as_str())
            .collect();
        silenced.sort();
        assert_eq!(silenced, ["down-undoes-up", "idempotent-down"]);
    }

    #[test]
    fn bad_allow_markers_are_errors_wherever_they_stand() {
        let report = lint(
            Dialect::Mysql,
            "-- bascule:allow syntax the server takes it\nSELECT 1;\n",
            "-- bascule:allow down-undo-up typo\nSELECT 1;\n\
             -- bascule:allow whatever nobody knows\nSELECT 2;\n\
             -- bascule:allow down-undoes-up\nSELECT 3;\n",
        );
        assert_eq!(
            rules_of(&report),
            [
                "unknown-rule",
                "unknown-rule",
                "suppression-without-reason",
                "unknown-rule"
            ],
            "{}",
            report.render_human()
        );
        let by_line = |path: &str, line: usize| {
            report
                .findings
                .iter()
                .find(|f| f.path.ends_with(path) && f.line == line)
                .unwrap_or_else(|| panic!("nothing at {path}:{line}: {}", report.render_human()))
        };
        let never = by_line("up.sql", 2);
        assert!(
            never
                .message
                .contains("`syntax` findings cannot be silenced"),
            "{never:?}"
        );
        assert!(
            never.help.as_deref().unwrap_or("").contains("parse error"),
            "{never:?}"
        );
        let typo = by_line("down.sql", 2);
        assert_eq!(
            typo.help.as_deref(),
            Some("did you mean `down-undoes-up`? (`cargo xtask lint --rules` lists the rule ids)")
        );
        let unknown = by_line("down.sql", 4);
        let help = unknown.help.as_deref().unwrap_or("");
        assert!(
            help.contains("down-undoes-up") && help.contains("prefer-text-field"),
            "{help}"
        );
        assert_eq!(by_line("down.sql", 6).rule, "suppression-without-reason");
    }

    #[test]
    fn an_irreversible_migration_may_have_an_empty_down_and_is_not_pair_checked() {
        let up = "DELETE FROM Sessions WHERE Props LIKE '%legacy%';\n";
        // Without the marker: the empty down speaks.
        assert_eq!(
            rules_of(&lint(Dialect::Mysql, up, "-- nothing\n")),
            ["empty-script"]
        );
        let report = lint(
            Dialect::Mysql,
            up,
            "-- bascule:irreversible the legacy sessions were migrated in 5.2; nothing to restore\n",
        );
        assert_eq!(
            rules_of(&report),
            ["irreversible"],
            "{}",
            report.render_human()
        );
        let note = &report.findings[0];
        assert_eq!(note.severity, Severity::Note);
        assert!(
            note.path.ends_with("down.sql") && note.line == 1,
            "{note:?}"
        );
        assert_eq!(report.notes(), 1);
        assert!(!report.has_errors());
        insta::assert_snapshot!(report.render_human());
        // In the up, with a down that does something all the same: the pair check, which
        // would want the table back, is skipped.
        let up =
            "-- bascule:irreversible: rows merged into sessions\nDROP TABLE legacy_sessions;\n";
        let pair = |report: &Report| {
            let mut ids: Vec<&str> = rules_of(report)
                .into_iter()
                .filter(|r| ["irreversible", "down-undoes-up", "empty-script"].contains(r))
                .collect();
            ids.sort();
            ids.join(" ")
        };
        assert_eq!(
            pair(&lint(Dialect::Postgres, up, "SELECT 1;\n")),
            "irreversible"
        );
        let plain = up.replace("-- bascule:irreversible: rows merged into sessions\n", "");
        assert_eq!(
            pair(&lint(Dialect::Postgres, &plain, "SELECT 1;\n")),
            "down-undoes-up"
        );
        // Without a reason: an error.
        let report = lint(Dialect::Postgres, &plain, "-- bascule:irreversible\n");
        assert_eq!(pair(&report), "irreversible");
        assert_eq!(report.findings[0].severity, Severity::Error);
        assert!(report.findings[0].message.contains("gives no reason"));
    }

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
