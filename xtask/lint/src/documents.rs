//! The release documents checked like the migrations: `docs/bulletin.toml`, `checklist.toml`
//! and `testbook.toml` exist and are well formed ([`bascule_patch::docs`]), and every checklist
//! item names a step of the run. Each problem is an error finding (rule `document`) at its file
//! and line, so `cargo xtask lint` shows it rustc-like beside the SQL findings and fails on it.
//!
//! Which steps exist is the runtime's knowledge: the caller passes their names (xtask gives
//! `bascule::steps::apply_steps()`'s), so this crate stays a developer crate without the engine.

use std::path::Path;

use bascule_patch::docs::{Checklist, DocError, Documents, CHECKLIST_FILE};
use bascule_patch::LineIndex;

use crate::{Finding, Severity};

/// The rule id of every document finding.
pub const RULE: &str = "document";

/// Every problem of the documents of the patch source at `root`, as findings whose paths are
/// relative to `root`; `steps` are the names of the run's steps, in order.
pub fn check_documents(root: &Path, steps: &[&str]) -> Vec<Finding> {
    problems(root, steps)
        .iter()
        .map(|e| finding(root, e))
        .collect()
}

/// Every problem of the documents at `root`: each file's, then the checklist's unknown steps
/// (checked whenever the checklist itself loads, whatever the other files say).
pub fn problems(root: &Path, steps: &[&str]) -> Vec<DocError> {
    let mut problems = Documents::load(root).err().unwrap_or_default();
    if let Ok(checklist) = Checklist::load(&root.join("docs").join(CHECKLIST_FILE)) {
        problems.extend(checklist.check_steps(steps));
    }
    problems
}

/// A document problem as a finding: at its line (the first where it has none), the line's
/// text as the excerpt, the caret at its first non-blank character.
pub fn finding(root: &Path, error: &DocError) -> Finding {
    let file = error.file();
    let path = file.strip_prefix(root).unwrap_or(file).to_path_buf();
    let line = error.line().unwrap_or(1).max(1);
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let excerpt = if error.line().is_some() {
        LineIndex::new(&text).line_text(line).to_string()
    } else {
        String::new()
    };
    let column = excerpt.chars().take_while(|c| c.is_whitespace()).count() + 1;
    let message = match error {
        DocError::At { message, .. } => message.clone(),
        other => other.to_string(),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Finding {
        rule: RULE.to_string(),
        severity: Severity::Error,
        path,
        line,
        column,
        message,
        excerpt,
        help: Some(format!(
            "the format of {name} is in patch-template/docs/{name}, every key commented"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(bulletin: &str, checklist: &str, testbook: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let docs = dir.path().join("docs");
        std::fs::create_dir_all(&docs).unwrap();
        for (name, text) in [
            ("bulletin.toml", bulletin),
            ("checklist.toml", checklist),
            ("testbook.toml", testbook),
        ] {
            if !text.is_empty() {
                std::fs::write(docs.join(name), text).unwrap();
            }
        }
        dir
    }

    #[test]
    fn well_formed_documents_have_no_finding() {
        let dir = patch(
            "summary = \"s\"\n",
            "[[item]]\ntext = \"x\"\nafter = \"migrate\"\n",
            "# none\n",
        );
        assert!(check_documents(dir.path(), &["migrate"]).is_empty());
    }

    #[test]
    fn an_unknown_step_is_found_once_the_documents_load() {
        let dir = patch(
            "summary = \"s\"\n",
            "[[item]]\ntext = \"x\"\n  after = \"migrations\"\n",
            "# none\n",
        );
        let findings = check_documents(dir.path(), &["migrate"]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(
            (f.path.to_str(), f.line, f.column, f.excerpt.as_str()),
            (
                Some("docs/checklist.toml"),
                3,
                3,
                "  after = \"migrations\""
            )
        );
        assert!(f.message.contains("`migrations` is not a step"), "{f:?}");
    }

    #[test]
    fn a_missing_document_is_an_error_without_excerpt() {
        let dir = patch("summary = \"s\"\n", "", "# none\n");
        let findings = check_documents(dir.path(), &[]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].path.to_str(), Some("docs/checklist.toml"));
        assert_eq!((findings[0].line, findings[0].excerpt.as_str()), (1, ""));
        assert!(findings[0].message.contains("is missing"));
    }
}
