//! `docs/checklist.toml`: the few manual steps a release needs, each at its moment.
//!
//! ```toml
//! [[item]]
//! text = "Last night's off-site backup is complete."    # no moment: done before the day
//!
//! [[item]]
//! text = "Tell support the maintenance page is up."
//! after = "maintenance-on"       # or before = "<step>": `bascule apply` stops there
//!
//! [[item]]
//! text = "Watch the error rate for a minute."
//! after = "finish"
//! manual = false                 # shown at its step, not waited for (default: true)
//! ```
//!
//! `apply` shows an item attached to a step right before (or after) that step and, for a manual
//! one, waits until the operator confirms it is done (`--yes` confirms all of them, and the log
//! says so). Items with no step are done outside the run; the checklist page lists them first.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{line_of, parse, read_source, DocError};

pub const CHECKLIST_FILE: &str = "checklist.toml";

/// The manual checklist.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Checklist {
    pub items: Vec<Item>,
    /// The source file, for messages that name an item's line.
    #[serde(skip)]
    pub path: std::path::PathBuf,
}

/// When an item is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "when", content = "step")]
pub enum Moment {
    /// Outside the run: the day before, or after the run is over.
    Outside,
    Before(String),
    After(String),
}

/// One manual step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub text: String,
    pub moment: Moment,
    /// Whether the run waits for someone to confirm it is done.
    pub manual: bool,
    /// The line of its `text` in the source.
    pub line: usize,
    /// The line of its `before` or `after` key (its `text`'s when it has neither).
    pub moment_line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    #[serde(default)]
    item: Vec<ItemSource>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemSource {
    text: Spanned<String>,
    before: Option<Spanned<String>>,
    after: Option<Spanned<String>>,
    #[serde(default = "yes")]
    manual: bool,
}

fn yes() -> bool {
    true
}

impl Checklist {
    /// Reads and checks `path`: every problem, each at its line. Step names are checked by
    /// [`Checklist::check_steps`].
    pub fn load(path: &Path) -> Result<Checklist, Vec<DocError>> {
        let text = read_source(path)?;
        let source: Source = parse(path, &text)?;
        let mut problems = Vec::new();
        let mut items = Vec::new();
        for (n, item) in source.item.into_iter().enumerate() {
            let line = line_of(&text, item.text.span().start);
            let words = item.text.into_inner();
            if words.trim().is_empty() {
                problems.push(DocError::at(
                    path,
                    line,
                    format!("item {}: `text` is empty; say what to do", n + 1),
                ));
            }
            let moment_line = item
                .before
                .as_ref()
                .or(item.after.as_ref())
                .map_or(line, |m| line_of(&text, m.span().start));
            let moment = match (item.before, item.after) {
                (Some(_), Some(after)) => {
                    problems.push(DocError::at(
                        path,
                        line_of(&text, after.span().start),
                        format!("item {}: both `before` and `after`; an item has one moment: keep one, or split the item", n + 1),
                    ));
                    Moment::Outside
                }
                (Some(step), None) => Moment::Before(step.into_inner()),
                (None, Some(step)) => Moment::After(step.into_inner()),
                (None, None) => Moment::Outside,
            };
            items.push(Item {
                text: words,
                moment,
                manual: item.manual,
                line,
                moment_line,
            });
        }
        if problems.is_empty() {
            Ok(Checklist {
                items,
                path: path.to_path_buf(),
            })
        } else {
            Err(problems)
        }
    }

    /// A problem for every item attached to a step not in `steps` (the run's step names).
    pub fn check_steps(&self, steps: &[&str]) -> Vec<DocError> {
        self.items
            .iter()
            .enumerate()
            .filter_map(|(n, item)| {
                let step = match &item.moment {
                    Moment::Before(s) | Moment::After(s) => s,
                    Moment::Outside => return None,
                };
                (!steps.contains(&step.as_str())).then(|| {
                    DocError::at(
                        &self.path,
                        item.moment_line,
                        format!(
                            "item {}: `{step}` is not a step of the run; the steps are: {}",
                            n + 1,
                            steps.join(", ")
                        ),
                    )
                })
            })
            .collect()
    }

    /// The items to do right before `step` (`after == false`) or right after it.
    pub fn at(&self, step: &str, after: bool) -> impl Iterator<Item = (usize, &Item)> {
        let step = step.to_string();
        self.items
            .iter()
            .enumerate()
            .filter(move |(_, item)| match &item.moment {
                Moment::Before(s) => !after && *s == step,
                Moment::After(s) => after && *s == step,
                Moment::Outside => false,
            })
            .map(|(n, item)| (n + 1, item))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Checklist, Vec<DocError>> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CHECKLIST_FILE);
        std::fs::write(&path, text).unwrap();
        Checklist::load(&path)
    }

    #[test]
    fn items_are_found_at_their_step() {
        let c = load(
            "[[item]]\ntext = \"backups\"\n[[item]]\ntext = \"tell support\"\nafter = \"maintenance-on\"\n[[item]]\ntext = \"look\"\nbefore = \"migrate\"\nmanual = false\n",
        )
        .unwrap();
        assert_eq!(c.items[0].moment, Moment::Outside);
        let after: Vec<_> = c
            .at("maintenance-on", true)
            .map(|(n, i)| (n, i.text.as_str()))
            .collect();
        assert_eq!(after, [(2, "tell support")]);
        assert_eq!(c.at("maintenance-on", false).count(), 0);
        let before: Vec<_> = c.at("migrate", false).collect();
        assert!(!before[0].1.manual);
        assert!(c.check_steps(&["maintenance-on", "migrate"]).is_empty());
    }

    #[test]
    fn an_unknown_step_is_named_with_the_known_ones() {
        let c = load("[[item]]\ntext = \"x\"\n\nafter = \"migrations\"\n").unwrap();
        let errors = c.check_steps(&["guard", "migrate"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line(), Some(4), "the line of its `after`");
        assert!(
            errors[0]
                .to_string()
                .contains("`migrations` is not a step of the run; the steps are: guard, migrate"),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn both_moments_and_an_empty_text_are_refused_together() {
        let errors = load("[[item]]\ntext = \"\"\nbefore = \"a\"\nafter = \"b\"\n").unwrap_err();
        let lines: Vec<_> = errors.iter().map(|e| e.line()).collect();
        assert_eq!(lines, [Some(2), Some(4)]);
    }
}
