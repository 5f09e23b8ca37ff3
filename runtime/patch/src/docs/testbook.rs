//! `docs/testbook.toml`: the acceptance test book, the cases people check by hand.
//!
//! ```toml
//! [[case]]
//! area = "team page"
//! steps = ["Open a site's team page.", "Compare with the members in the console."]
//! expected = "Every member has an avatar; same members, same order."
//! ```
//!
//! A case is named by its number, in the order written (`bascule accept --case 2 passed`):
//! the bundle is fixed, so the numbers are too. `steps` is one string or a list of them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{line_of, parse, read_source, DocError};

pub const TESTBOOK_FILE: &str = "testbook.toml";

/// The test book.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TestBook {
    pub cases: Vec<Case>,
}

/// One case; its number is its place in [`TestBook::cases`] plus one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Case {
    pub area: String,
    pub steps: Vec<String>,
    pub expected: String,
    /// The line of its `area` in the source.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(default)]
    case: Vec<CaseSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSource {
    area: Spanned<String>,
    steps: Spanned<Steps>,
    expected: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Steps {
    One(String),
    Many(Vec<String>),
}

impl TestBook {
    /// Reads and checks `path`: every problem, each at its line.
    pub fn load(path: &Path) -> Result<TestBook, Vec<DocError>> {
        let text = read_source(path)?;
        let source: Source = parse(path, &text)?;
        let mut problems = Vec::new();
        let mut cases = Vec::new();
        for (n, case) in source.case.into_iter().enumerate() {
            let mut empty = |key: &str, start: usize| {
                problems.push(DocError::at(
                    path,
                    line_of(&text, start),
                    format!("case {}: `{key}` is empty; a case says where, what to do and what to expect", n + 1),
                ))
            };
            let line = line_of(&text, case.area.span().start);
            if case.area.get_ref().trim().is_empty() {
                empty("area", case.area.span().start);
            }
            let steps_at = case.steps.span().start;
            let steps = match case.steps.into_inner() {
                Steps::One(s) => vec![s],
                Steps::Many(list) => list,
            };
            if steps.iter().all(|s| s.trim().is_empty()) {
                empty("steps", steps_at);
            }
            if case.expected.get_ref().trim().is_empty() {
                empty("expected", case.expected.span().start);
            }
            cases.push(Case {
                area: case.area.into_inner(),
                steps,
                expected: case.expected.into_inner(),
                line,
            });
        }
        if problems.is_empty() {
            Ok(TestBook { cases })
        } else {
            Err(problems)
        }
    }

    /// Case `number` (1-based), if there is one.
    pub fn case(&self, number: usize) -> Option<&Case> {
        number.checked_sub(1).and_then(|i| self.cases.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<TestBook, Vec<DocError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TESTBOOK_FILE);
        std::fs::write(&path, text).unwrap();
        TestBook::load(&path)
    }

    #[test]
    fn steps_are_one_string_or_a_list() {
        let book = load(
            "[[case]]\narea = \"home\"\nsteps = \"open it\"\nexpected = \"a heading\"\n\n[[case]]\narea = \"team\"\nsteps = [\"open\", \"compare\"]\nexpected = \"avatars\"\n",
        )
        .unwrap();
        assert_eq!(book.case(1).unwrap().steps, ["open it"]);
        assert_eq!(book.case(2).unwrap().steps.len(), 2);
        assert_eq!(book.case(2).unwrap().line, 7);
        assert!(book.case(0).is_none() && book.case(3).is_none());
    }

    #[test]
    fn a_case_without_expected_result_is_refused_at_its_line() {
        let errors = load("[[case]]\narea = \"home\"\nsteps = \"open it\"\n").unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().contains("expected"), "{}", errors[0]);
        assert_eq!(errors[0].line(), Some(1), "{}", errors[0]);
    }

    #[test]
    fn empty_fields_are_each_reported() {
        let errors = load("[[case]]\narea = \"\"\nsteps = []\nexpected = \"x\"\n").unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line()).collect();
        assert_eq!(lines, [Some(2), Some(3)]);
    }
}
