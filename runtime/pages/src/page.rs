//! The standalone HTML page every rendering ends in: inline style, no script, nothing fetched.

use maud::{html, Markup, PreEscaped, DOCTYPE};

/// Forbids the page every fetch — scripts, styles, images, fonts, frames, connections — except
/// its own inline style and `data:` images: what it shows is all in the file.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = "body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em;\
line-height:1.5;color:#222}code,pre{font-family:monospace;background:#f4f4f4}pre{padding:.5em;\
overflow-x:auto;white-space:pre-wrap;word-break:break-word}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;\
text-align:left;vertical-align:top}.subtitle{color:#666;font-size:.9em}\
.ok{color:#1a7f37}.bad{color:#b3261e}.num{text-align:right}";

/// A complete page: `title` in the tab and as the first heading's neighbour `subtitle`, then
/// `body`; `extra_style` is appended to the shared style.
pub fn standalone(title: &str, subtitle: &str, extra_style: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CONTENT_SECURITY_POLICY);
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — " (subtitle) }
                style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
            }
            body {
                p.subtitle { (subtitle) }
                (body)
            }
        }
    }
    .into_string()
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_and_nothing_is_fetched() {
        let page = standalone("a <b>", "x&y", "", html! { p { "<script>" } });
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>a &lt;b&gt; — x&amp;y</title>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script"));
        assert!(page.contains("default-src 'none'"));
    }
}
