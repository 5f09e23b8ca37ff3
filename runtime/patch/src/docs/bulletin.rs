//! `docs/bulletin.toml`: the revision bulletin, one entry per change people will notice.
//!
//! ```toml
//! summary = "Avatars on the team page."       # optional: one paragraph above the entries
//!
//! [[entry]]
//! kind = "feature"                            # feature | improvement | fix | security
//! title = "Member avatars"
//! details = "The team page shows an avatar next to each member."   # optional, Markdown
//! ticket = "DEMO-12"                          # optional
//! ```
//!
//! The rendered bulletin adds what the build knows (the migrations, the lint summary); the
//! source holds only what people write.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{line_of, parse, read_source, DocError};

pub const BULLETIN_FILE: &str = "bulletin.toml";

/// The revision bulletin.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Bulletin {
    pub summary: Option<String>,
    pub entries: Vec<Entry>,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    pub title: String,
    pub details: Option<String>,
    pub ticket: Option<String>,
    /// The line of its `title` in the source.
    pub line: usize,
}

/// What kind of change an entry is; the bulletin groups entries by kind, in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Feature,
    Improvement,
    Fix,
    Security,
}

impl EntryKind {
    pub const ALL: [EntryKind; 4] = [
        EntryKind::Feature,
        EntryKind::Improvement,
        EntryKind::Fix,
        EntryKind::Security,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Feature => "feature",
            EntryKind::Improvement => "improvement",
            EntryKind::Fix => "fix",
            EntryKind::Security => "security",
        }
    }

    /// The heading of the bulletin's section for this kind.
    pub fn heading(self) -> &'static str {
        match self {
            EntryKind::Feature => "New features",
            EntryKind::Improvement => "Improvements",
            EntryKind::Fix => "Fixes",
            EntryKind::Security => "Security",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    summary: Option<String>,
    #[serde(default)]
    entry: Vec<EntrySource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySource {
    kind: EntryKind,
    title: Spanned<String>,
    details: Option<String>,
    ticket: Option<Spanned<String>>,
}

impl Bulletin {
    /// Reads and checks `path`: every problem, each at its line.
    pub fn load(path: &Path) -> Result<Bulletin, Vec<DocError>> {
        let text = read_source(path)?;
        let source: Source = parse(path, &text)?;
        let mut problems = Vec::new();
        let mut entries = Vec::new();
        for (n, entry) in source.entry.into_iter().enumerate() {
            let line = line_of(&text, entry.title.span().start);
            let title = entry.title.into_inner();
            if title.trim().is_empty() {
                problems.push(DocError::at(
                    path,
                    line,
                    format!(
                        "entry {}: `title` is empty; write what changed in a few words",
                        n + 1
                    ),
                ));
            } else if title.contains('\n') {
                problems.push(DocError::at(
                    path,
                    line,
                    format!("entry {}: `title` spans several lines; keep it to one and put the rest in `details`", n + 1),
                ));
            }
            let ticket = match entry.ticket {
                Some(t) if t.get_ref().trim().is_empty() => {
                    problems.push(DocError::at(
                        path,
                        line_of(&text, t.span().start),
                        format!(
                            "entry {}: `ticket` is empty; name the ticket or leave the key out",
                            n + 1
                        ),
                    ));
                    None
                }
                t => t.map(Spanned::into_inner),
            };
            entries.push(Entry {
                kind: entry.kind,
                title,
                details: entry.details,
                ticket,
                line,
            });
        }
        if problems.is_empty() {
            Ok(Bulletin {
                summary: source.summary,
                entries,
            })
        } else {
            Err(problems)
        }
    }

    /// The entries of `kind`, in the order written.
    pub fn of_kind(&self, kind: EntryKind) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(move |e| e.kind == kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Bulletin, Vec<DocError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(BULLETIN_FILE);
        std::fs::write(&path, text).unwrap();
        Bulletin::load(&path)
    }

    fn messages(errors: Vec<DocError>) -> Vec<String> {
        errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.line().unwrap_or(0),
                    e.to_string().rsplit(": ").next().unwrap_or("")
                )
            })
            .collect()
    }

    #[test]
    fn reads_entries_in_order_with_their_lines() {
        let b = load(
            "summary = \"s\"\n\n[[entry]]\nkind = \"fix\"\ntitle = \"A\"\nticket = \"T-1\"\n\n[[entry]]\nkind = \"feature\"\ntitle = \"B\"\n",
        )
        .unwrap();
        assert_eq!(b.entries.len(), 2);
        assert_eq!((b.entries[0].kind, b.entries[0].line), (EntryKind::Fix, 5));
        assert_eq!(b.entries[1].title, "B");
        assert_eq!(b.of_kind(EntryKind::Feature).count(), 1);
    }

    #[test]
    fn an_unknown_kind_is_refused_at_its_line() {
        let errors = load("[[entry]]\nkind = \"feat\"\ntitle = \"A\"\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line(), Some(2), "{}", errors[0]);
        assert!(errors[0].to_string().contains("feature"), "{}", errors[0]);
    }

    #[test]
    fn every_empty_title_is_reported_at_once() {
        let errors = load(
            "[[entry]]\nkind = \"fix\"\ntitle = \"\"\n[[entry]]\nkind = \"fix\"\ntitle = \" \"\nticket = \"\"\n",
        )
        .unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line()).collect();
        assert_eq!(lines, [Some(3), Some(6), Some(7)], "{:?}", messages(errors));
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let errors =
            load("[[entry]]\nkind = \"fix\"\ntitle = \"A\"\ntciket = \"x\"\n").unwrap_err();
        assert_eq!(errors[0].line(), Some(4), "{}", errors[0]);
    }
}
