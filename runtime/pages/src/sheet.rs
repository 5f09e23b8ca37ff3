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
    line(view.summary.trim_end().to_string());
    line("```".into());
    line(String::new());
    line("## Steps".into());
    line(String::new());
    line("| step | | took | |".into());
    line("|---|---|---:|---|".into());
    for bar in &view.steps {
        line(format!(
            "| {} | {} | {} | {} |",
            cell(&bar.name),
            bar.kind.css_class(),
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
        let tick = if item.answer == "refused" { " " } else { "x" };
        line(format!(
            "- [{tick}] {}. {} — {} by {} at {}",
            item.item,
            cell(&item.text),
            item.answer,
            cell(&item.by),
            item.at
        ));
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
            cell(&hitch.text),
            cell(&hitch.by),
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

/// `text` safe in a Markdown table cell: one line, no `|`.
fn cell(text: &str) -> String {
    text.replace('\n', " ").replace('|', "\\|")
}

fn code(text: &str) -> String {
    format!("`{}`", cell(text).replace('`', "'"))
}
