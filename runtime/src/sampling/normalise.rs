//! What changes at every request is not a difference: normalisation before comparing.
//!
//! Two fetches of the same page a second apart differ by a fresh CSRF token, a CSP nonce, a
//! cache-busting `?v=` and "generated at" timestamps. Left as they are, every page would
//! differ and the comparison would be worthless; so they are replaced by placeholders, the
//! same on both sides. The built-in rules cover what web platforms commonly embed:
//!
//! - CSRF tokens: the `value` of hidden inputs named `csrf…`, `_csrf`, `_token`,
//!   `authenticity_token`, `csrfmiddlewaretoken`; the `content` of `<meta name="csrf-token">`;
//! - nonces: `nonce="…"`;
//! - cache busting: `?v=`, `?ver=`, `?version=`, `?_=`, `?t=`, `?ts=`, `?cb=`, `?rev=` values,
//!   and hex hashes in asset names (`app.3f9a1c2e.js`);
//! - timestamps: ISO 8601 date-times, HTTP dates, `d/m/Y H:i`. Dates *without* a time are left
//!   alone: a page's "now" always has a time, while a bare date is usually content (a post's
//!   publication date) whose change is a real difference.
//!
//! The patch adds its own rules: a regex and its replacement, or a CSS selector whose elements
//! are removed (through `scraper`, an HTML5 parser: the page is parsed and re-serialised, and the
//! matching elements' serialisation removed from it, so both sides go through the same parser).

use regex::Regex;
use scraper::{Html, Selector};

use super::{ClassPanel, NormaliseRule};
use bascule_patch::{compile_regex, compile_selector};

/// A built-in rule: a regex and what each match becomes.
struct Builtin {
    regex: Regex,
    rewrite: Rewrite,
}

enum Rewrite {
    /// Replace with this template (`$1` etc. allowed).
    Template(&'static str),
    /// Inside the matched tag, replace the value of this attribute with this placeholder.
    Attribute(Regex, &'static str),
}

fn builtins() -> Result<Vec<Builtin>, String> {
    let attr =
        |name: &str| compile_regex(&format!(r#"(?i)\b{name}\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)"#));
    let template = |pattern: &str, with: &'static str| -> Result<Builtin, String> {
        Ok(Builtin {
            regex: compile_regex(pattern)?,
            rewrite: Rewrite::Template(with),
        })
    };
    Ok(vec![
        Builtin {
            regex: compile_regex(
                r#"(?is)<input\b[^>]*\bname\s*=\s*["']?(?:csrf[\w-]*|_csrf|_token|authenticity_token|csrfmiddlewaretoken)["'\s/>][^>]*>"#,
            )?,
            rewrite: Rewrite::Attribute(attr("value")?, "value=\"{csrf}\""),
        },
        Builtin {
            regex: compile_regex(r#"(?is)<meta\b[^>]*\bname\s*=\s*["']?csrf[\w-]*["'\s/>][^>]*>"#)?,
            rewrite: Rewrite::Attribute(attr("content")?, "content=\"{csrf}\""),
        },
        template(
            r#"(?i)\bnonce\s*=\s*("[^"]*"|'[^']*')"#,
            "nonce=\"{nonce}\"",
        )?,
        template(
            r#"(?i)([?&](?:amp;)?(?:v|ver|version|_|t|ts|cb|rev)=)[^&"'\s<>#]+"#,
            "${1}{v}",
        )?,
        template(
            r"(?i)\b([\w-]+?)[.-][0-9a-f]{8,}(\.(?:js|mjs|css|map|png|jpe?g|gif|svg|webp|woff2?|ttf))\b",
            "${1}.{hash}${2}",
        )?,
        template(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
            "{datetime}",
        )?,
        template(
            r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT\b",
            "{datetime}",
        )?,
        template(
            r"\b\d{1,2}/\d{1,2}/\d{4},? \d{1,2}:\d{2}(?::\d{2})?\b",
            "{datetime}",
        )?,
    ])
}

/// The normalisation of one page: the built-in rules, then the patch's own.
pub struct Normaliser {
    builtins: Vec<Builtin>,
    regexes: Vec<(Regex, String)>,
    selectors: Vec<Selector>,
}

impl Normaliser {
    /// The rules of `panel` that apply to `page`.
    pub fn for_page(panel: &ClassPanel, page: &str) -> Result<Normaliser, String> {
        let rules: Vec<&NormaliseRule> = panel
            .normalise
            .iter()
            .filter(|r| r.applies_to(page))
            .collect();
        let mut regexes = Vec::new();
        let mut selectors = Vec::new();
        for rule in rules {
            if let Some(regex) = &rule.regex {
                regexes.push((compile_regex(regex)?, rule.replace.clone()));
            }
            if let Some(selector) = &rule.selector {
                selectors.push(compile_selector(selector)?);
            }
        }
        Ok(Normaliser {
            builtins: builtins()?,
            regexes,
            selectors,
        })
    }

    /// Only the built-in rules.
    pub fn builtin() -> Result<Normaliser, String> {
        Normaliser::for_page(&ClassPanel::default(), "")
    }

    pub fn apply(&self, html: &str) -> String {
        let mut text = html.to_string();
        for builtin in &self.builtins {
            text = match &builtin.rewrite {
                Rewrite::Template(with) => builtin.regex.replace_all(&text, *with).into_owned(),
                Rewrite::Attribute(attr, with) => builtin
                    .regex
                    .replace_all(&text, |c: &regex::Captures<'_>| {
                        attr.replace_all(&c[0], *with).into_owned()
                    })
                    .into_owned(),
            };
        }
        for (regex, with) in &self.regexes {
            text = regex.replace_all(&text, with.as_str()).into_owned();
        }
        if self.selectors.is_empty() {
            text
        } else {
            remove_elements(&text, &self.selectors)
        }
    }
}

/// Marks where an element was removed, until the blank lines it leaves are dropped.
const HOLE: char = '\u{1}';

/// The page re-serialised by the HTML parser, without the elements matching `selectors`.
///
/// A removed element leaves no trace: the space right after it (between it and the text it
/// preceded) goes with it, and so does a line it leaves blank. Both sides of a comparison go
/// through this same function, so the parser's re-serialisation is not a difference.
pub fn remove_elements(html: &str, selectors: &[Selector]) -> String {
    let document = Html::parse_document(html);
    let mut text = document.html();
    for selector in selectors {
        for element in document.select(selector) {
            let outer = element.html();
            if let Some(at) = text.find(&outer) {
                let mut end = at + outer.len();
                let after_tag = text[..at].ends_with('>') || text[..at].ends_with('\n');
                if after_tag && text[end..].starts_with(' ') {
                    end += 1;
                }
                text.replace_range(at..end, &HOLE.to_string());
            }
        }
    }
    text.split_inclusive('\n')
        .filter(|line| !(line.contains(HOLE) && line.trim().chars().all(|c| c == HOLE)))
        .collect::<String>()
        .replace(HOLE, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(token: &str, nonce: &str, at: &str, version: &str) -> String {
        format!(
            r#"<!DOCTYPE html>
<html><head><meta name="csrf-token" content="{token}">
<script nonce="{nonce}" src="/assets/app.{version}.js?v={version}"></script></head>
<body><form><input type="hidden" name="_token" value="{token}"><input name="q" value="shoes"></form>
<p>Generated at {at} — Last-Modified: Tue, 04 Jun 2024 10:2{}:00 GMT — 04/06/2024 10:22</p>
<p>Published 2024-05-01</p>
</body></html>"#,
            version.len() % 10
        )
    }

    #[test]
    fn fresh_tokens_nonces_busters_and_timestamps_compare_equal() {
        let normaliser = Normaliser::builtin().unwrap();
        let first = normaliser.apply(&page(
            "a1b2c3",
            "n0nce1",
            "2024-06-04T10:22:01Z",
            "3f9a1c2e",
        ));
        let second = normaliser.apply(&page(
            "zz9988",
            "other",
            "2024-06-04 10:22:07.123+02:00",
            "0badc0ffee",
        ));
        assert_eq!(first, second);
        insta::assert_snapshot!(first);
    }

    #[test]
    fn a_user_input_value_and_a_bare_date_are_kept() {
        let normaliser = Normaliser::builtin().unwrap();
        let text = normaliser.apply(&page("t", "n", "2024-06-04T10:22:01Z", "3f9a1c2e"));
        assert!(text.contains(r#"name="q" value="shoes""#), "{text}");
        assert!(text.contains("Published 2024-05-01"), "{text}");
    }

    #[test]
    fn a_changed_price_is_still_a_difference() {
        let normaliser = Normaliser::builtin().unwrap();
        let shop = |price: &str| {
            normaliser.apply(&format!(
                "<table><tr><td>Mug</td><td class=\"price\">{price} €</td></tr></table>\n<p>at 2024-06-04T10:22:0{}Z</p>",
                price.len()
            ))
        };
        assert_ne!(shop("12.90"), shop("12"));
    }

    #[test]
    fn selectors_remove_elements_without_a_trace() {
        let selectors = [
            compile_selector("img.avatar").unwrap(),
            compile_selector("h2.welcome").unwrap(),
        ];
        let before = "<ul>\n<li><img class=\"avatar\" src=\"a.png\"> Léa</li>\n</ul>\n<h2 class=\"welcome\">Hi</h2>\n<h2>News</h2>\n";
        let after = "<ul>\n<li>Léa</li>\n</ul>\n<h2>News</h2>\n";
        assert_eq!(
            remove_elements(before, &selectors),
            remove_elements(after, &selectors)
        );
    }

    #[test]
    fn patch_rules_apply_to_their_pages_only() {
        let panel = ClassPanel {
            pages: vec!["home".into(), "shop".into()],
            normalise: vec![NormaliseRule {
                regex: Some(r"rendered in \d+ ms".into()),
                replace: "rendered in {ms}".into(),
                selector: None,
                pages: vec!["home".into()],
            }],
            expected: Vec::new(),
        };
        let home = Normaliser::for_page(&panel, "home").unwrap();
        let shop = Normaliser::for_page(&panel, "shop").unwrap();
        assert_eq!(home.apply("rendered in 12 ms"), "rendered in {ms}");
        assert_eq!(shop.apply("rendered in 12 ms"), "rendered in 12 ms");
    }
}
