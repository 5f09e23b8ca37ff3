//! The release documents a patch carries in `docs/`, as structured sources.
//!
//! ```text
//! docs/bulletin.toml    the revision bulletin: one [[entry]] per change (feature, improvement,
//!                       fix, security), with its title, details and ticket
//! docs/checklist.toml   the manual steps: one [[item]] each, attached `before` or `after` a
//!                       named step of the run (or to neither: done outside the run)
//! docs/testbook.toml    the acceptance test book: one [[case]] each (area, steps, expected)
//! ```
//!
//! They are TOML, not Markdown, because the runtime acts on them: `apply` shows each checklist
//! item at its step and waits for the manual ones; the acceptance gate records each test-book
//! case by its number. The bundle carries each document rendered as Markdown and as an HTML
//! page too (for people), made at build time from these sources.
//!
//! Loading gathers every problem of a document at once, each with the file and line at fault
//! ([`DocError`]), so a developer fixes them in one pass. Which step names exist is the
//! runtime's knowledge, not this crate's: [`Checklist::check_steps`] takes the list.

mod bulletin;
mod checklist;
mod error;
mod testbook;

use std::path::Path;

pub use bulletin::{Bulletin, Entry, EntryKind, BULLETIN_FILE};
pub use checklist::{Checklist, Item, Moment as ItemMoment, CHECKLIST_FILE};
pub use error::DocError;
pub use testbook::{Case, TestBook, TESTBOOK_FILE};

/// The three documents of a patch or an unpacked bundle.
#[derive(Debug, Clone, Default)]
pub struct Documents {
    pub bulletin: Bulletin,
    pub checklist: Checklist,
    pub testbook: TestBook,
}

impl Documents {
    /// Reads `<root>/docs/`; every problem of every file, or the documents. A missing file is a
    /// problem: a release without its bulletin, checklist or test book is not finished.
    pub fn load(root: &Path) -> Result<Documents, Vec<DocError>> {
        let docs = root.join("docs");
        let bulletin = Bulletin::load(&docs.join(BULLETIN_FILE));
        let checklist = Checklist::load(&docs.join(CHECKLIST_FILE));
        let testbook = TestBook::load(&docs.join(TESTBOOK_FILE));
        match (bulletin, checklist, testbook) {
            (Ok(bulletin), Ok(checklist), Ok(testbook)) => Ok(Documents {
                bulletin,
                checklist,
                testbook,
            }),
            (b, c, t) => Err([b.err(), c.err(), t.err()]
                .into_iter()
                .flatten()
                .flatten()
                .collect()),
        }
    }

    /// What a run needs of the documents: the checklist and the test book, each empty where
    /// its file is absent (a bundle built without them), every problem otherwise.
    pub fn load_for_run(root: &Path) -> Result<Documents, Vec<DocError>> {
        let docs = root.join("docs");
        let optional = |name: &str| {
            let path = docs.join(name);
            path.exists().then_some(path)
        };
        let checklist = optional(CHECKLIST_FILE)
            .map(|p| Checklist::load(&p))
            .unwrap_or_else(|| Ok(Checklist::default()));
        let testbook = optional(TESTBOOK_FILE)
            .map(|p| TestBook::load(&p))
            .unwrap_or_else(|| Ok(TestBook::default()));
        match (checklist, testbook) {
            (Ok(checklist), Ok(testbook)) => Ok(Documents {
                bulletin: Bulletin::default(),
                checklist,
                testbook,
            }),
            (c, t) => Err([c.err(), t.err()].into_iter().flatten().flatten().collect()),
        }
    }
}

/// Reads `path`, a document source of at most 1 MiB, or the problem.
fn read_source(path: &Path) -> Result<String, Vec<DocError>> {
    const LIMIT: u64 = 1 << 20;
    if !path.exists() {
        return Err(vec![DocError::Missing {
            file: path.to_path_buf(),
        }]);
    }
    crate::read::read_text(path, LIMIT).map_err(|e| vec![DocError::Read(e)])
}

/// Parses `text` (the content of `path`) as TOML into `T`, the parse error at its line.
fn parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, Vec<DocError>> {
    toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
        vec![DocError::at(path, line, e.message())]
    })
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
