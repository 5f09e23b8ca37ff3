//! The intervention sheet: who touched what, when, why, and what went well or badly.
//!
//! Written at the end of every run (success, failure, rollback), and again when someone adds
//! a hitch (`bascule note`), as Markdown and as a standalone HTML page; the same data is
//! `intervention.json`, which the next patch's `new-patch` reads for open hitches.

use crate::markdown;
use crate::run_view::{duration, RunView};

/// The sheet as Markdown.
pub fn markdown(view: &RunView) -> String {
    let mut md = String::new();
    let mut line = |text: String| {
        md.push_str(&text);
        md.push('\n');
    };
    line(format!(
        "# Intervention sheet — {} {}",
        view.kind, view.version
    ));
    line(String::new());
    line("| | |".into());
    line("|---|---|".into());
    for (key, value) in [
        ("Run", code(&view.run)),
        ("Operator", cell(&view.operator)),
        ("Host", cell(&view.host)),
        (
            "Bundle",
            format!("{} {}", cell(&view.version), code(&view.bundle_digest)),
        ),
        (
            "Signed by",
            view.signer
                .as_deref()
                .map_or("not verified against a pinned key".into(), code),
        ),
        ("Started", cell(&view.started)),
        ("Ended", view.ended.as_deref().map_or("—".into(), cell)),
        ("Outcome", format!("**{}**", cell(&view.outcome))),
        (
            "Downtime",
            view.downtime_ms
                .map_or("none (the maintenance page was not shown)".into(), duration),
        ),
    ] {
        line(format!("| {key} | {value} |"));
    }
    line(String::new());
    line("## How it ended".into());
    line(String::new());
    line("```text".into());
    line(view.summary.trim_end().replace("```", "'''"));
    line("```".into());
    line(String::new());
    line("## Steps".into());
    line(String::new());
    line("| step | | took | error |".into());
    line("|---|---|---:|---|".into());
    for bar in &view.steps {
        line(format!(
            "| {} | {} | {} | {} |",
            cell(&bar.label()),
            bar.kind.word(),
            duration(bar.ms),
            bar.error.as_deref().map(cell).unwrap_or_default()
        ));
    }
    line(String::new());
    line("## Checklist".into());
    line(String::new());
    if view.checklist.is_empty() {
        line("No checklist item was due during this run.".into());
    }
    for item in &view.checklist {
        let text = one_line(&item.text);
        line(match item.answer.as_str() {
            "shown" => format!("- {}. {text} — shown at its step at {}", item.item, item.at),
            answer => format!(
                "- [{}] {}. {text} — {answer} by {} at {}",
                if answer == "confirmed" { "x" } else { " " },
                item.item,
                one_line(&item.by),
                item.at
            ),
        });
    }
    line(String::new());
    line("## Test book".into());
    line(String::new());
    if view.testbook.is_empty() {
        line("The bundle has no test book.".into());
    } else {
        line("| # | area | expected | result | by | at | comment |".into());
        line("|---:|---|---|---|---|---|---|".into());
        for case in &view.testbook {
            line(format!(
                "| {} | {} | {} | {} | {} | {} | {} |",
                case.case,
                cell(&case.area),
                cell(&case.expected),
                case.result,
                case.by.as_deref().map(cell).unwrap_or_default(),
                case.at.as_deref().unwrap_or_default(),
                case.comment.as_deref().map(cell).unwrap_or_default()
            ));
        }
    }
    line(String::new());
    line("## Hitches".into());
    line(String::new());
    if view.hitches.is_empty() {
        line("None noted (`bascule note \"…\"` adds one, during or after the run).".into());
    }
    for hitch in &view.hitches {
        let state = if hitch.open { "open" } else { "closed" };
        line(format!(
            "- {} — {} at {} ({state})",
            one_line(&hitch.text),
            one_line(&hitch.by),
            hitch.at
        ));
    }
    md
}

/// The sheet as one standalone HTML page.
pub fn html(view: &RunView) -> String {
    markdown::render_page(
        &markdown(view),
        "intervention sheet",
        &format!("run {}", view.run),
    )
}

/// `text` on one line, for a list item.
fn one_line(text: &str) -> String {
    text.replace('\n', " ")
}

/// `text` safe in a Markdown table cell: one line, no `|`.
fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

fn code(text: &str) -> String {
    format!("`{}`", cell(text).replace('`', "'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_view::tests::failed_apply;

    #[test]
    fn a_failed_apply_sheet() {
        insta::assert_snapshot!(markdown(&failed_apply()));
    }

    #[test]
    fn operator_text_cannot_inject_markup() {
        let page = html(&failed_apply());
        assert!(
            page.contains("the &lt;b&gt;migrate&lt;/b&gt; step was slow"),
            "{page}"
        );
        assert!(!page.contains("<b>migrate"));
    }
}
