//! The release documents as people read them: the revision bulletin, the manual checklist and
//! the test book, each as Markdown and as one standalone HTML page.
//!
//! The sources ([`bascule_patch::docs`]) hold only what people write. The bulletin adds what the
//! build knows ([`BuildFacts`]: the version and title, the migrations the bundle carries, the
//! lint run's counts); the checklist is ordered by the run's steps, which the caller gives
//! (the runtime's `apply_steps()` names), so this crate knows nothing of the engine.
//!
//! Every function is pure: the same documents and facts give the same bytes, which the
//! reproducible bundle depends on.

use std::fmt::Write as _;

use bascule_patch::docs::{Bulletin, Checklist, EntryKind, ItemMoment, TestBook};

/// What the build knows that the bulletin shows, gathered by `build-patch`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildFacts {
    /// The patch's version (`2.0.0`).
    pub version: String,
    /// The patch's one-line title; empty when it has none.
    pub title: String,
    /// The bundle's migrations, in the order the bulletin lists them (grouped by class).
    pub migrations: Vec<MigrationFact>,
    /// The counts of the build's lint run.
    pub lint: LintCounts,
}

/// One migration of the bundle, as the bulletin lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFact {
    pub class: String,
    /// `NNNN_name`, as its directory is named.
    pub name: String,
    /// What it does: the first comment line of its `up.sql` ([`what_of`]), if any.
    pub what: Option<String>,
}

/// The counts of a lint run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LintCounts {
    pub errors: usize,
    /// Warnings other than advisories.
    pub warnings: usize,
    /// Warnings of the advice rules.
    pub advisories: usize,
    /// Findings silenced by `-- bascule:allow`, each with its reason.
    pub suppressed: usize,
}

/// What a migration does, from its `up.sql`: its first `--` comment that is not a
/// `-- bascule:` marker — the comment's first sentence, which may run over several comment
/// lines — or `None`.
pub fn what_of(up_sql: &str) -> Option<String> {
    let mut words: Vec<&str> = Vec::new();
    for line in up_sql.lines().map(str::trim) {
        let text = match line.strip_prefix("--").map(str::trim) {
            Some(text) if text.starts_with("bascule:") => None,
            other => other,
        };
        match text {
            Some("") | None if words.is_empty() => continue,
            Some("") | None => break,
            Some(text) => {
                for word in text.split_whitespace() {
                    words.push(word);
                    if word.ends_with('.') || word.ends_with('?') || word.ends_with('!') {
                        return Some(words.join(" "));
                    }
                }
            }
        }
    }
    (!words.is_empty()).then(|| words.join(" "))
}

/// The subtitle of every page of a bundle: `bascule-<version>`.
fn subtitle(version: &str) -> String {
    format!("bascule-{version}")
}

/// The bulletin as Markdown: the title line, the summary, the entries by kind (in
/// [`EntryKind::ALL`] order), the database changes and the lint summary.
pub fn bulletin_markdown(bulletin: &Bulletin, facts: &BuildFacts) -> String {
    let mut out = String::new();
    if facts.title.trim().is_empty() {
        let _ = writeln!(out, "# Revision bulletin — {}", facts.version);
    } else {
        let _ = writeln!(
            out,
            "# Revision bulletin — {}: {}",
            facts.version,
            facts.title.trim()
        );
    }
    if let Some(summary) = bulletin.summary.as_deref().map(str::trim) {
        if !summary.is_empty() {
            let _ = write!(out, "\n{summary}\n");
        }
    }
    for kind in EntryKind::ALL {
        let mut entries = bulletin.of_kind(kind).peekable();
        if entries.peek().is_none() {
            continue;
        }
        let _ = write!(out, "\n## {}\n\n", kind.heading());
        for entry in entries {
            let _ = write!(out, "- **{}**", one_line(&entry.title));
            if let Some(ticket) = &entry.ticket {
                let _ = write!(out, " ({})", one_line(ticket));
            }
            let details = entry.details.as_deref().map(str::trim).unwrap_or("");
            let mut lines = details.lines();
            match lines.next() {
                Some(first) => {
                    let _ = writeln!(out, " — {}", first.trim());
                }
                None => out.push('\n'),
            }
            for line in lines {
                if line.trim().is_empty() {
                    out.push('\n');
                } else {
                    let _ = writeln!(out, "  {}", line.trim());
                }
            }
        }
    }
    out.push_str("\n## Database changes\n\n");
    if facts.migrations.is_empty() {
        out.push_str("None: this release changes no database.\n");
    }
    let mut class: Option<&str> = None;
    for m in &facts.migrations {
        if class != Some(m.class.as_str()) {
            if class.is_some() {
                out.push('\n');
            }
            let _ = write!(out, "### {}\n\n", m.class);
            class = Some(&m.class);
        }
        match &m.what {
            Some(what) => {
                let _ = writeln!(out, "- `{}` — {}", m.name, one_line(what));
            }
            None => {
                let _ = writeln!(out, "- `{}`", m.name);
            }
        }
    }
    let lint = facts.lint;
    let _ = write!(
        out,
        "\n## Lint\n\n{}, {}, {}, {} suppressed.\n",
        plural(lint.errors, "error", "errors"),
        plural(lint.warnings, "warning", "warnings"),
        plural(lint.advisories, "advisory", "advisories"),
        lint.suppressed
    );
    out
}

/// The checklist as Markdown: the items done outside the run first ("Before the day"), then
/// those attached to a step, in the order of `steps` (the run's step names), before-items of a
/// step ahead of its after-items. Items naming a step not in `steps` come last, as written.
pub fn checklist_markdown(checklist: &Checklist, version: &str, steps: &[&str]) -> String {
    let mut out = format!("# Manual checklist — {version}\n");
    let outside: Vec<_> = checklist
        .items
        .iter()
        .filter(|i| i.moment == ItemMoment::Outside)
        .collect();
    if !outside.is_empty() {
        out.push_str("\n## Before the day\n\n");
        for item in outside {
            let _ = writeln!(out, "- [ ] {}", one_line(&item.text));
        }
    }
    let mut during = Vec::new();
    for step in steps {
        for after in [false, true] {
            during.extend(checklist.at(step, after).map(|(_, item)| item));
        }
    }
    during.extend(checklist.items.iter().filter(|i| match &i.moment {
        ItemMoment::Before(s) | ItemMoment::After(s) => !steps.contains(&s.as_str()),
        ItemMoment::Outside => false,
    }));
    if !during.is_empty() {
        out.push_str("\n## During the run\n\n");
        for item in during {
            let (when, step) = match &item.moment {
                ItemMoment::Before(s) => ("before", s),
                ItemMoment::After(s) => ("after", s),
                ItemMoment::Outside => continue,
            };
            let how = if item.manual { "manual" } else { "shown only" };
            let _ = writeln!(
                out,
                "- [ ] {} ({when} `{step}`; {how})",
                one_line(&item.text)
            );
        }
    }
    if checklist.items.is_empty() {
        out.push_str("\nNothing to do by hand for this release.\n");
    }
    out
}

/// The test book as Markdown: one numbered row per case (area, steps, expected) with a blank
/// result column to fill in.
pub fn testbook_markdown(testbook: &TestBook, version: &str) -> String {
    let mut out = format!("# Test book — {version}\n\n");
    if testbook.cases.is_empty() {
        out.push_str("No case to test by hand for this release.\n");
        return out;
    }
    out.push_str("| # | Area | Steps | Expected | Result |\n");
    out.push_str("|---|------|-------|----------|--------|\n");
    for (n, case) in testbook.cases.iter().enumerate() {
        let steps: Vec<String> = case.steps.iter().map(|s| cell(s)).collect();
        let steps = if steps.len() == 1 {
            steps.concat()
        } else {
            steps
                .iter()
                .enumerate()
                .map(|(i, s)| format!("{}. {s}", i + 1))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | |",
            n + 1,
            cell(&case.area),
            steps,
            cell(&case.expected)
        );
    }
    out
}

/// The bulletin as one standalone HTML page.
pub fn bulletin_page(bulletin: &Bulletin, facts: &BuildFacts) -> String {
    crate::markdown::render_page(
        &bulletin_markdown(bulletin, facts),
        "bulletin",
        &subtitle(&facts.version),
    )
}

/// The checklist as one standalone HTML page.
pub fn checklist_page(checklist: &Checklist, version: &str, steps: &[&str]) -> String {
    crate::markdown::render_page(
        &checklist_markdown(checklist, version, steps),
        "checklist",
        &subtitle(version),
    )
}

/// The test book as one standalone HTML page.
pub fn testbook_page(testbook: &TestBook, version: &str) -> String {
    crate::markdown::render_page(
        &testbook_markdown(testbook, version),
        "testbook",
        &subtitle(version),
    )
}

/// Text on one line: line breaks become spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Text in a table cell: on one line, its pipes escaped.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use bascule_patch::docs::{Case, Documents, Entry, Item};

    use super::*;

    const STEPS: [&str; 15] = [
        "guard",
        "preflight",
        "sample-before",
        "maintenance-on",
        "stop-services",
        "install-code",
        "purge-caches",
        "migrate",
        "post-checks",
        "start-services",
        "smoke",
        "sample-after",
        "acceptance",
        "maintenance-off",
        "finish",
    ];

    fn demo_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo-platform/patches/2.0.0")
    }

    fn demo() -> Documents {
        Documents::load(&demo_dir()).unwrap_or_else(|errors| {
            panic!(
                "{}",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        })
    }

    fn demo_facts() -> BuildFacts {
        let up = |rel: &str| std::fs::read_to_string(demo_dir().join(rel)).unwrap_or_default();
        BuildFacts {
            version: "2.0.0".into(),
            title: "Member avatars, plan features".into(),
            migrations: vec![
                MigrationFact {
                    class: "main".into(),
                    name: "0002_site_features".into(),
                    what: what_of(&up("migrations/main/0002_site_features/up.sql")),
                },
                MigrationFact {
                    class: "site".into(),
                    name: "0002_add_avatar".into(),
                    what: what_of(&up("migrations/site/0002_add_avatar/up.sql")),
                },
            ],
            lint: LintCounts {
                errors: 0,
                warnings: 1,
                advisories: 2,
                suppressed: 1,
            },
        }
    }

    #[test]
    fn demo_bulletin() {
        insta::assert_snapshot!(bulletin_markdown(&demo().bulletin, &demo_facts()));
    }

    #[test]
    fn demo_checklist() {
        insta::assert_snapshot!(checklist_markdown(&demo().checklist, "2.0.0", &STEPS));
    }

    #[test]
    fn demo_testbook() {
        insta::assert_snapshot!(testbook_markdown(&demo().testbook, "2.0.0"));
    }

    #[test]
    fn what_is_the_first_comment_that_is_not_a_marker() {
        assert_eq!(
            what_of("-- bascule:no-transaction\n--\n  -- adds `bio`\n-- for the team page. More.\nALTER …"),
            Some("adds `bio` for the team page.".into())
        );
        assert_eq!(
            what_of("-- no full stop\nALTER …\n-- later"),
            Some("no full stop".into())
        );
        assert_eq!(what_of("ALTER TABLE t ADD c INT;\n"), None);
    }

    #[test]
    fn entries_are_grouped_by_kind_in_order() {
        let entry = |kind, title: &str, ticket: Option<&str>| Entry {
            kind,
            title: title.into(),
            details: None,
            ticket: ticket.map(Into::into),
            line: 1,
        };
        let bulletin = Bulletin {
            summary: None,
            entries: vec![
                entry(EntryKind::Security, "S", None),
                entry(EntryKind::Fix, "F1", Some("T-1")),
                entry(EntryKind::Feature, "N", None),
                entry(EntryKind::Fix, "F2", None),
            ],
        };
        let facts = BuildFacts {
            version: "1.2.0".into(),
            ..BuildFacts::default()
        };
        let md = bulletin_markdown(&bulletin, &facts);
        assert!(md.starts_with("# Revision bulletin — 1.2.0\n"), "{md}");
        let at = |s: &str| md.find(s).unwrap_or_else(|| panic!("no {s} in {md}"));
        assert!(at("## New features") < at("## Fixes") && at("## Fixes") < at("## Security"));
        assert!(at("- **F1** (T-1)") < at("- **F2**"));
        assert!(!md.contains("## Improvements"));
        assert!(md.contains("None: this release changes no database."));
        assert!(md.contains("0 errors, 0 warnings, 0 advisories, 0 suppressed."));
    }

    #[test]
    fn checklist_follows_the_step_order_given() {
        let item = |text: &str, moment, manual| Item {
            text: text.into(),
            moment,
            manual,
            line: 1,
            moment_line: 1,
        };
        let checklist = Checklist {
            items: vec![
                item("late", ItemMoment::After("b".into()), false),
                item("early", ItemMoment::Before("a".into()), true),
                item("stray", ItemMoment::After("zz".into()), true),
                item("outside", ItemMoment::Outside, true),
                item("b-before", ItemMoment::Before("b".into()), true),
            ],
            path: PathBuf::new(),
        };
        let md = checklist_markdown(&checklist, "1.0.0", &["a", "b"]);
        let order: Vec<&str> = md.lines().filter(|l| l.starts_with("- [ ]")).collect();
        assert_eq!(
            order,
            [
                "- [ ] outside",
                "- [ ] early (before `a`; manual)",
                "- [ ] b-before (before `b`; manual)",
                "- [ ] late (after `b`; shown only)",
                "- [ ] stray (after `zz`; manual)",
            ]
        );
    }

    #[test]
    fn testbook_cells_stay_in_their_column() {
        let book = TestBook {
            cases: vec![Case {
                area: "a|b".into(),
                steps: vec!["one\ntwo".into(), "three".into()],
                expected: "x".into(),
                line: 1,
            }],
        };
        let md = testbook_markdown(&book, "1.0.0");
        assert!(
            md.contains("| 1 | a\\|b | 1. one two<br>2. three | x | |"),
            "{md}"
        );
    }

    #[test]
    fn pages_are_standalone_and_titled() {
        let page = testbook_page(&demo().testbook, "2.0.0");
        assert!(page.contains("<title>Test book — 2.0.0 — bascule-2.0.0</title>"));
        assert!(page.contains("<table>"));
        let page = checklist_page(&demo().checklist, "2.0.0", &STEPS);
        assert!(page.contains("type=\"checkbox\""));
        let page = bulletin_page(&demo().bulletin, &demo_facts());
        assert!(page.contains("<h2>Database changes</h2>"));
    }
}
