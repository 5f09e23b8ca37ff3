//! Markdown written by people (a bulletin's details, a whole document) as HTML.
//!
//! The people who read these on the day — an operator on the host, a release manager in a
//! browser — should not need a Markdown viewer, so every bundle carries both forms. The page is
//! complete and self-contained ([`crate::page`]), and deterministic: the same
//! Markdown always gives the same bytes, which the reproducible bundle depends on.

use maud::{Markup, PreEscaped};
use pulldown_cmark::{html, Event, HeadingLevel, Options, Parser, Tag, TagEnd};

/// A complete HTML page for `markdown`; its title is the first level-1 heading, else `fallback`.
pub fn render_page(markdown: &str, fallback: &str, subtitle: &str) -> String {
    let title = first_heading(markdown).unwrap_or_else(|| fallback.to_string());
    crate::page::standalone(&title, subtitle, "", to_html(markdown))
}

/// `markdown` as HTML, to be placed in a page.
pub fn to_html(markdown: &str) -> Markup {
    let mut body = String::new();
    html::push_html(
        &mut body,
        Parser::new_ext(markdown, options()).map(no_raw_html),
    );
    PreEscaped(body)
}

/// Raw HTML in the Markdown is shown as text, not passed through: the text may come from an
/// operator's note or a bundle, and a page must not run or fetch what they wrote.
fn no_raw_html(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Html(text) | Event::InlineHtml(text) => Event::Text(text),
        other => other,
    }
}

fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_TASKLISTS | Options::ENABLE_STRIKETHROUGH
}

/// The text of the first `# heading`.
fn first_heading(markdown: &str) -> Option<String> {
    let mut inside = false;
    let mut text = String::new();
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Start(Tag::Heading {
                level: HeadingLevel::H1,
                ..
            }) => inside = true,
            Event::End(TagEnd::Heading(HeadingLevel::H1)) => return Some(text.trim().to_string()),
            Event::Text(t) | Event::Code(t) if inside => text.push_str(&t),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_comes_from_the_first_heading() {
        let page = render_page(
            "intro\n\n# Bulletin `2.0` & <more>\n\n- [ ] a",
            "bulletin",
            "v2",
        );
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>Bulletin 2.0 &amp; — v2</title>"));
        assert!(page.contains("type=\"checkbox\""));
        assert!(page.ends_with("</html>\n"));
        let page = render_page("# t\n\n<img src=\"http://x/\"> <b>b</b>\n", "t", "v");
        assert!(!page.contains("<img") && !page.contains("<b>"), "{page}");
        assert!(page.contains("&lt;img"));
    }

    #[test]
    fn falls_back_to_the_file_name_and_is_deterministic() {
        let a = render_page("no heading", "testbook", "v2");
        assert!(a.contains("<title>testbook — v2</title>"));
        assert_eq!(a, render_page("no heading", "testbook", "v2"));
    }
}
