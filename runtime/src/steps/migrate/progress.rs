//! Progress of the migrate step: a bar on a terminal, plain lines in the run log.
//!
//! On a terminal (standard output, verbose runs) an `indicatif` bar shows done/total, the rate
//! and the time left. The run log always gets a line about every tenth of the work and at the
//! end, so a run started from a deploy system (no terminal) still says how far it got.

use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Context;

pub(super) struct Progress<'c, 'a> {
    cx: &'c Context<'a>,
    what: &'c str,
    verb: &'static str,
    total: usize,
    every: usize,
    done: AtomicUsize,
    started: Instant,
    bar: Option<ProgressBar>,
}

impl<'c, 'a> Progress<'c, 'a> {
    pub(super) fn new(
        cx: &'c Context<'a>,
        what: &'c str,
        verb: &'static str,
        total: usize,
    ) -> Self {
        let bar = (cx.options.verbose && std::io::stdout().is_terminal() && total > 0).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "   {prefix} [{bar:30}] {pos}/{len} {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(what.to_string());
            bar
        });
        Progress {
            cx,
            what,
            verb,
            total,
            every: (total / 10).max(1),
            done: AtomicUsize::new(0),
            started: Instant::now(),
            bar,
        }
    }

    /// One more database done.
    pub(super) fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if done.is_multiple_of(self.every) || done == self.total {
            let seconds = self.started.elapsed().as_secs_f64().max(0.001);
            self.cx.log.line(format_args!(
                "{}: {done}/{} {}, {:.0}/s",
                self.what,
                self.total,
                self.verb,
                done as f64 / seconds
            ));
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        if self.bar.is_some() || self.total > 0 {
            self.cx.say(format_args!(
                "{}: {}/{} {} in {} ms",
                self.what,
                self.done.load(Ordering::SeqCst),
                self.total,
                self.verb,
                self.started.elapsed().as_millis()
            ));
        }
    }
}
