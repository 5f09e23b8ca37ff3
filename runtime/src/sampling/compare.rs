//! Comparing before and after, page by page, against what the patch declares expected.
//!
//! For each page both normalised samples first lose the elements of the page's expected
//! selectors (a new block, a changed widget); then every line still added or removed must
//! contain an expected `text` or match an expected `regex` of that page. A page passes when
//! nothing differs, or when every difference is declared; any other difference fails the run.
//! The report lists the outcome per page type and shows the unexpected diffs.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use scraper::Selector;

use super::diff;
use super::fetch::Sample;
use super::normalise::remove_elements;
use super::panel::Target;
use super::{ClassPanel, ExpectedDifference, SamplingError};
use bascule_patch::{compile_regex, compile_selector};

/// What one page's comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    /// It differs, as the patch declares.
    Expected,
    /// It differs beyond what the patch declares: the diff (expected parts removed).
    Unexpected(String),
}

/// One page compared.
#[derive(Debug, Clone)]
pub struct PageResult {
    pub target: Target,
    pub verdict: Verdict,
}

/// The whole comparison.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub pages: Vec<PageResult>,
}

impl Comparison {
    pub fn unexpected(&self) -> impl Iterator<Item = &PageResult> {
        self.pages
            .iter()
            .filter(|p| matches!(p.verdict, Verdict::Unexpected(_)))
    }

    pub fn passed(&self) -> bool {
        self.unexpected().next().is_none()
    }

    /// The report: counts per page type, then up to `shown` unexpected diffs.
    pub fn report(&self, shown: usize) -> String {
        let sites: std::collections::BTreeSet<(&str, &str)> = self
            .pages
            .iter()
            .map(|p| (p.target.class.as_str(), p.target.site.as_str()))
            .collect();
        let mut out = format!(
            "core sampling: {} page(s) of {} site(s) compared\n",
            self.pages.len(),
            sites.len()
        );
        let mut per_page: BTreeMap<(String, String), [usize; 3]> = BTreeMap::new();
        for page in &self.pages {
            let key = (page.target.class.clone(), page.target.page.clone());
            let slot = match page.verdict {
                Verdict::Same => 0,
                Verdict::Expected => 1,
                Verdict::Unexpected(_) => 2,
            };
            per_page.entry(key).or_default()[slot] += 1;
        }
        for ((class, page), [same, expected, unexpected]) in &per_page {
            out.push_str(&format!(
                "  {class}/{page:<16} same {same:>4}   expected differences {expected:>4}   UNEXPECTED {unexpected:>4}\n"
            ));
        }
        let unexpected: Vec<&PageResult> = self.unexpected().collect();
        if unexpected.is_empty() {
            out.push_str("no unexpected difference\n");
            return out;
        }
        out.push_str(&format!(
            "{} page(s) differ in ways the patch does not declare (patch.toml [[sampling.<class>.expected]]):\n",
            unexpected.len()
        ));
        for page in unexpected.iter().take(shown) {
            if let Verdict::Unexpected(diff) = &page.verdict {
                out.push_str(diff);
                if !diff.ends_with('\n') {
                    out.push('\n');
                }
            }
        }
        if unexpected.len() > shown {
            out.push_str(&format!(
                "… and {} more page(s): see the diffs in the run directory\n",
                unexpected.len() - shown
            ));
        }
        out
    }
}

/// The expected differences of one page, compiled.
struct Expected {
    selectors: Vec<Selector>,
    texts: Vec<String>,
    regexes: Vec<Regex>,
}

impl Expected {
    fn of(panel: Option<&ClassPanel>, page: &str) -> Result<Expected, SamplingError> {
        let mut expected = Expected {
            selectors: Vec::new(),
            texts: Vec::new(),
            regexes: Vec::new(),
        };
        let declared: Vec<&ExpectedDifference> = panel
            .map(|p| p.expected.iter().filter(|e| e.page == page).collect())
            .unwrap_or_default();
        for e in declared {
            if let Some(s) = &e.selector {
                expected
                    .selectors
                    .push(compile_selector(s).map_err(SamplingError::Config)?);
            }
            if let Some(t) = &e.text {
                expected.texts.push(t.clone());
            }
            if let Some(r) = &e.regex {
                expected
                    .regexes
                    .push(compile_regex(r).map_err(SamplingError::Config)?);
            }
        }
        Ok(expected)
    }

    /// The sample without the expected elements; its `HTTP <status>` line stays out of the
    /// HTML parser.
    fn strip(&self, text: &str) -> String {
        if self.selectors.is_empty() {
            return text.to_string();
        }
        let (status, body) = text.split_once('\n').unwrap_or((text, ""));
        format!("{status}\n{}", remove_elements(body, &self.selectors))
    }

    fn covers(&self, line: &str) -> bool {
        self.texts.iter().any(|t| line.contains(t.as_str()))
            || self.regexes.iter().any(|r| r.is_match(line))
    }
}

/// Compares `before` and `after` (same targets, same order) and writes a diff file per page
/// that differs in `diff_dir` (`<class>/<site>/<page>.diff`).
pub fn compare(
    before: &[Sample],
    after: &[Sample],
    panels: &BTreeMap<String, ClassPanel>,
    diff_dir: &Path,
) -> Result<Comparison, SamplingError> {
    let mut cache: BTreeMap<(String, String), Expected> = BTreeMap::new();
    let mut comparison = Comparison::default();
    for (b, a) in before.iter().zip(after) {
        let target = &b.target;
        let key = (target.class.clone(), target.page.clone());
        if !cache.contains_key(&key) {
            let expected = Expected::of(panels.get(&target.class), &target.page)?;
            cache.insert(key.clone(), expected);
        }
        let Some(expected) = cache.get(&key) else {
            continue;
        };
        let verdict = judge(b, a, expected);
        if verdict != Verdict::Same {
            let label = target.label();
            let text = diff::unified(
                &b.normalised,
                &a.normalised,
                &format!("before/{label}"),
                &format!("after/{label}"),
            );
            let path = diff_dir.join(format!("{}.diff", target.file_stem()));
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(SamplingError::io(dir))?;
            }
            std::fs::write(&path, text).map_err(SamplingError::io(&path))?;
        }
        comparison.pages.push(PageResult {
            target: target.clone(),
            verdict,
        });
    }
    Ok(comparison)
}

fn judge(before: &Sample, after: &Sample, expected: &Expected) -> Verdict {
    if before.normalised == after.normalised {
        return Verdict::Same;
    }
    let b = expected.strip(&before.normalised);
    let a = expected.strip(&after.normalised);
    let uncovered = diff::changed_lines(&b, &a)
        .iter()
        .any(|(_, line)| !expected.covers(line));
    if !uncovered {
        return Verdict::Expected;
    }
    let label = before.target.label();
    Verdict::Unexpected(diff::unified(
        &b,
        &a,
        &format!("before/{label}"),
        &format!("after/{label}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(site: &str, page: &str, body: &str) -> Sample {
        Sample {
            target: Target {
                class: "site".into(),
                site: site.into(),
                page: page.into(),
                url: format!("http://h/{site}/{page}"),
            },
            status: 200,
            normalised: format!("HTTP 200\n{body}"),
        }
    }

    fn panel() -> BTreeMap<String, ClassPanel> {
        let panel: ClassPanel = toml::from_str(
            r#"
pages = ["home", "team", "shop"]
[[expected]]
page = "home"
text = "Welcome to"
[[expected]]
page = "team"
selector = "img.avatar"
"#,
        )
        .unwrap();
        BTreeMap::from([("site".to_string(), panel)])
    }

    const SHOP_BEFORE: &str = "<html><body><h1>site-0001</h1>\n<table class=\"products\">\n<tr><td>Ceramic mug</td><td class=\"price\">12.90 €</td></tr>\n<tr><td>Desk lamp</td><td class=\"price\">45.00 €</td></tr>\n</table>\n</body></html>\n";

    #[test]
    fn declared_differences_pass_and_a_changed_price_fails_with_its_diff() {
        let dir = tempfile::tempdir().unwrap();
        let before = vec![
            sample("site-0001", "home", "<h2>News</h2>\n"),
            sample("site-0001", "team", "<ul>\n<li>Léa</li>\n</ul>\n"),
            sample("site-0001", "shop", SHOP_BEFORE),
            sample("site-0002", "shop", SHOP_BEFORE),
        ];
        let after = vec![
            sample(
                "site-0001",
                "home",
                "<h2>Welcome to site-0001</h2>\n<h2>News</h2>\n",
            ),
            sample(
                "site-0001",
                "team",
                "<ul>\n<li><img class=\"avatar\" src=\"/a/1.png\" alt=\"\"> Léa</li>\n</ul>\n",
            ),
            sample(
                "site-0001",
                "shop",
                &SHOP_BEFORE.replace("12.90", "12").replace("45.00", "45"),
            ),
            sample("site-0002", "shop", SHOP_BEFORE),
        ];
        let comparison = compare(&before, &after, &panel(), dir.path()).unwrap();
        let verdicts: Vec<&Verdict> = comparison.pages.iter().map(|p| &p.verdict).collect();
        assert_eq!(verdicts[0], &Verdict::Expected);
        assert_eq!(verdicts[1], &Verdict::Expected);
        assert!(matches!(verdicts[2], Verdict::Unexpected(_)));
        assert_eq!(verdicts[3], &Verdict::Same);
        assert!(!comparison.passed());
        assert!(dir.path().join("site/site-0001/shop.diff").is_file());
        assert!(!dir.path().join("site/site-0002/shop.diff").exists());
        insta::assert_snapshot!(comparison.report(5));
    }

    #[test]
    fn an_expected_text_does_not_excuse_other_lines_of_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let before = vec![sample(
            "site-0001",
            "home",
            "<h2>News</h2>\n<p>3 posts</p>\n",
        )];
        let after = vec![sample(
            "site-0001",
            "home",
            "<h2>Welcome to site-0001</h2>\n<h2>News</h2>\n<p>0 posts</p>\n",
        )];
        let comparison = compare(&before, &after, &panel(), dir.path()).unwrap();
        assert!(!comparison.passed());
    }

    #[test]
    fn a_page_that_now_fails_is_a_difference() {
        let dir = tempfile::tempdir().unwrap();
        let before = vec![sample("site-0001", "team", "<ul></ul>\n")];
        let mut after = vec![sample("site-0001", "team", "no such column: avatar\n")];
        after[0].normalised = after[0].normalised.replace("HTTP 200", "HTTP 500");
        let comparison = compare(&before, &after, &panel(), dir.path()).unwrap();
        assert!(!comparison.passed());
        assert!(comparison.report(1).contains("+HTTP 500"));
    }
}
