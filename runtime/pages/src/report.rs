//! The run report: one page to see a run at a glance — the waterfall of its steps, per class
//! the migration figures and the slowest databases and statements, the checklist and the test
//! book, the sample comparison, the smoke results, and the log.

use maud::{html, Markup};

use crate::page;
use crate::run_view::{duration, RunView};
use crate::waterfall;

const STYLE: &str = ".outcome{font-size:1.3em;font-weight:bold}.committed{color:#1a7f37}\
.failed{color:#b3261e}pre.log{max-height:40em;font-size:.85em}";

/// The report as one standalone HTML page.
pub fn html(view: &RunView) -> String {
    let total = view
        .steps
        .iter()
        .map(|b| b.start_ms + b.ms)
        .max()
        .unwrap_or(0);
    let body = html! {
        h1 { "Run " (view.run) }
        p.outcome.committed[view.outcome == "committed"].failed[view.outcome != "committed"] {
            (view.kind) " " (view.version) ": " (view.outcome)
        }
        table {
            tr { th { "operator" } td { (view.operator) } }
            tr { th { "host" } td { (view.host) } }
            tr { th { "bundle" } td { (view.version) " " code { (view.bundle_digest) } } }
            tr { th { "signed by" } td { (view.signer.as_deref().unwrap_or("not verified against a pinned key")) } }
            tr { th { "started" } td { (view.started) } }
            tr { th { "ended" } td { (view.ended.as_deref().unwrap_or("—")) } }
            tr { th { "downtime" } td { (view.downtime_ms.map_or("none".into(), duration)) } }
        }
        pre { (view.summary) }
        h2 { "Steps" }
        (waterfall::svg(&view.steps, total))
        (classes(view))
        (statements(view))
        (people(view))
        h2 { "Sample comparison" }
        @match &view.samples {
            Some(text) => pre { (text) },
            None => p { "No pages were compared in this run." },
        }
        @for d in &view.sample_diffs {
            details.diff open {
                summary { code { (d.page) } }
                pre { (d.diff) }
            }
        }
        h2 { "Smoke tests" }
        @if view.smoke.is_empty() { p { "No smoke test ran in this run." } }
        @else { pre { @for line in &view.smoke { (line) "\n" } } }
        h2 { "Log" }
        @if view.log_truncated { p { "The log is long: here is its end; update.log in the run directory has it all." } }
        pre.log { (view.log) }
    };
    page::standalone(
        &format!("Run {}", view.run),
        &format!("bascule {} {}", view.kind, view.version),
        &format!("{STYLE}{}", waterfall::STYLE),
        body,
    )
}

fn classes(view: &RunView) -> Markup {
    html! {
        h2 { "Migrations" }
        @if view.classes.is_empty() { p { "No database was migrated or undone." } }
        @for class in &view.classes {
            h3 { "class " (class.class) }
            p { (class.migrated) " database(s) migrated, " (class.undone) " undone, "
                (duration(class.total_ms)) " in all." }
            table {
                tr { th { "slowest databases" } th.num { "took" } }
                @for (name, ms) in &class.slowest { tr { td { (name) } td.num { (duration(*ms)) } } }
            }
        }
    }
}

fn statements(view: &RunView) -> Markup {
    html! {
        @if !view.slowest_statements.is_empty() {
            h3 { "Slowest statements" }
            table {
                tr { th { "statement" } th.num { "total" } th.num { "databases" } th { "slowest on" } }
                @for s in &view.slowest_statements {
                    tr { td { code { (s.statement) } } td.num { (duration(s.ms)) } td.num { (s.databases) }
                         td { (s.slowest_database) " (" (duration(s.slowest_ms)) ")" } }
                }
            }
        }
    }
}

fn people(view: &RunView) -> Markup {
    html! {
        h2 { "Checklist" }
        @if view.checklist.is_empty() { p { "No checklist item was due during this run." } }
        ul { @for c in &view.checklist { li { (c.item) ". " (c.text) " — " (c.answer) " by " (c.by) " at " (c.at) } } }
        h2 { "Test book" }
        @if view.testbook.is_empty() { p { "The bundle has no test book." } }
        @else {
            table {
                tr { th { "#" } th { "area" } th { "expected" } th { "result" } th { "by" } }
                @for c in &view.testbook {
                    tr { td { (c.case) } td { (c.area) } td { (c.expected) }
                         td.ok[c.result == "passed"].bad[c.result == "failed"] { (c.result) }
                         td { (c.by.as_deref().unwrap_or("")) } }
                }
            }
        }
        h2 { "Hitches" }
        @if view.hitches.is_empty() { p { "None noted." } }
        ul { @for h in &view.hitches { li { (h.text) " — " (h.by) " at " (h.at) @if h.open { " (open)" } } } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_view::tests::failed_apply;

    #[test]
    fn the_report_of_a_failed_apply_has_its_undo_bars_and_escapes_text() {
        let page = html(&failed_apply());
        assert_eq!(page.matches("class=\"bar step\"").count(), 2);
        assert_eq!(page.matches("class=\"bar failed\"").count(), 1);
        assert_eq!(page.matches("class=\"bar undo\"").count(), 3);
        assert!(page.contains("the &lt;b&gt;migrate&lt;/b&gt; step was slow"));
        assert!(page.contains("1 min 04 s"), "the downtime");
        assert!(!page.contains("<script"));
        assert!(
            page.contains(
                "<summary><code>site/a/shop.diff</code></summary><pre>-12.50 €\n+12 €\n</pre>"
            ),
            "{page}"
        );
    }
}
