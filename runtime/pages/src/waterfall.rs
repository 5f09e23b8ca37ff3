//! The waterfall: every step of a run as a bar on one time axis, the undo steps of a failed
//! run in their own colour below the step that failed.
//!
//! Drawn as inline SVG by hand — a row per bar, a label, a scale — because it is a dozen
//! rectangles: a chart library would be more code than the chart. Each bar is a `rect` with the
//! classes `bar` and its kind (`step`, `failed`, `undo`, `undo-failed`, `unfinished`) and a
//! `data-step` naming it, so a test (or a person with developer tools) counts them.

use maud::{html, Markup};

use crate::run_view::{duration, Bar};

const ROW: u64 = 22;
const LABEL: u64 = 190;
const WIDTH: u64 = 640;
const AXIS: u64 = 24;

/// The style of the bars, for the page's `<style>`.
pub const STYLE: &str = ".bar.step{fill:#4c78a8}.bar.failed{fill:#b3261e}.bar.undo{fill:#e8a33d}\
.bar.undo-failed{fill:#7a1d16}.bar.unfinished{fill:#999}.waterfall text{font:12px sans-serif}\
.waterfall .tick{stroke:#ddd}";

/// The chart of `bars`, the time axis spanning `total_ms`.
pub fn svg(bars: &[Bar], total_ms: u64) -> Markup {
    let total = total_ms
        .max(bars.iter().map(|b| b.start_ms + b.ms).max().unwrap_or(0))
        .max(1);
    let height = AXIS + ROW * bars.len() as u64 + 4;
    let x = |ms: u64| LABEL + ms * WIDTH / total;
    let step = tick_step(total);
    let ticks: Vec<u64> = (0..=total / step).map(|i| i * step).collect();
    html! {
        svg.waterfall xmlns="http://www.w3.org/2000/svg" role="img"
            width=(LABEL + WIDTH + 60) height=(height)
            viewBox=(format!("0 0 {} {height}", LABEL + WIDTH + 60)) {
            title { "steps of the run on one time axis" }
            @for tick in &ticks {
                line.tick x1=(x(*tick)) x2=(x(*tick)) y1=(AXIS - 6) y2=(height) {}
                text x=(x(*tick)) y=(AXIS - 10) text-anchor="middle" { (duration(*tick)) }
            }
            @for (row, bar) in bars.iter().enumerate() {
                @let y = AXIS + ROW * row as u64;
                text x=(LABEL - 6) y=(y + 14) text-anchor="end" { (bar.label()) }
                rect class=(format!("bar {}", bar.kind.css_class())) data-step=(bar.name)
                    x=(x(bar.start_ms)) y=(y + 3)
                    width=((bar.ms * WIDTH / total).max(2)) height=(ROW - 6) {
                    title { (bar.label()) ": " (duration(bar.ms)) @if let Some(e) = &bar.error { " — " (e) } }
                }
                text x=(x(bar.start_ms) + (bar.ms * WIDTH / total).max(2) + 4) y=(y + 14) { (duration(bar.ms)) }
            }
        }
    }
}

/// A round interval (1, 2 or 5 times a power of ten milliseconds) giving at most six ticks.
fn tick_step(total: u64) -> u64 {
    let mut unit = 1;
    loop {
        for step in [unit, unit * 2, unit * 5] {
            if total / step <= 5 {
                return step;
            }
        }
        unit *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_view::BarKind;

    fn bar(name: &str, kind: BarKind, start_ms: u64, ms: u64) -> Bar {
        Bar {
            name: name.into(),
            kind,
            start_ms,
            ms,
            error: None,
        }
    }

    #[test]
    fn one_rect_per_bar_scaled_to_the_run() {
        let bars = [
            bar("guard", BarKind::Step, 0, 100),
            bar("migrate", BarKind::Failed, 100, 300),
            bar("guard", BarKind::Undo, 400, 100),
        ];
        let svg = svg(&bars, 500).into_string();
        assert_eq!(svg.matches("<rect class=\"bar ").count(), 3);
        assert!(svg.contains("class=\"bar failed\" data-step=\"migrate\""));
        assert!(svg.contains("undo guard"));
        // The failed bar starts a fifth of the way and spans three fifths of the axis.
        assert!(
            svg.contains(&format!("x=\"{}\"", LABEL + WIDTH / 5)),
            "{svg}"
        );
        assert!(
            svg.contains(&format!("width=\"{}\"", WIDTH * 3 / 5)),
            "{svg}"
        );
    }
}
