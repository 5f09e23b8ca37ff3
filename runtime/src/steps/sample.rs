//! `sample-before` and `sample-after`: core sampling around the release (see `sampling`).
//!
//! `sample-before` runs before the maintenance page goes up, while the old code still serves
//! the public: it fetches the panel and keeps it in `<run>/samples/before/` (with the list of
//! what was sampled in `<run>/samples/panel.tsv`). `sample-after` runs once the new code serves
//! and the smoke tests pass: it fetches the same pages into `after/`, compares, writes the
//! diffs in `diff/` and the report in `samples/report.txt`, and fails the run on any difference
//! the patch does not declare. Neither changes the host; the undo has nothing to do, and the
//! samples stay in the run directory for whoever examines the run.

use std::path::Path;

use crate::engine::{Context, Step, StepError};
use crate::http::Client;
use crate::journal::Intent;
use crate::sampling::compare::compare;
use crate::sampling::fetch::{fetch_all, read_all, samples_dir};
use crate::sampling::panel::{targets, Target};
use crate::sampling::SamplingError;
use bascule_patch::Moment;

const PANEL_FILE: &str = "panel.tsv";
const REPORT_FILE: &str = "report.txt";
/// Unexpected diffs shown in the error; every one is in `samples/diff/`.
const SHOWN: usize = 3;

pub struct SampleBefore;
pub struct SampleAfter;

impl Step for SampleBefore {
    fn name(&self) -> &'static str {
        "sample-before"
    }

    fn summary(&self) -> &'static str {
        "fetch the patch's panel of pages on the host's sample of sites, before anything changes"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let panels = &cx.patch.spec.sampling;
        if panels.is_empty() {
            cx.say("no sampling configured (patch.toml [sampling.<class>])");
            return Ok(());
        }
        let targets = targets(cx.host, panels)?;
        let samples = samples_dir(cx.run_dir);
        write_panel(&samples, &targets)?;
        if targets.is_empty() {
            cx.say("no site sampled (host profile [sampling.classes.<class>])");
            return Ok(());
        }
        let (client, workers) = client(cx);
        let clock = std::time::Instant::now();
        let fetched = fetch_all(&targets, panels, &client, workers, &samples, Moment::Before)?;
        cx.say(format_args!(
            "{} page(s) sampled in {} ms, {workers} worker(s): {}",
            fetched.len(),
            clock.elapsed().as_millis(),
            samples.join("before").display()
        ));
        Ok(())
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

impl Step for SampleAfter {
    fn name(&self) -> &'static str {
        "sample-after"
    }

    fn summary(&self) -> &'static str {
        "fetch the same pages again, normalise, compare: any undeclared difference fails"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let panels = &cx.patch.spec.sampling;
        let samples = samples_dir(cx.run_dir);
        let Some(targets) = read_panel(&samples)? else {
            if panels.is_empty() {
                cx.say("no sampling configured (patch.toml [sampling.<class>])");
                return Ok(());
            }
            return Err(StepError::Failed(format!(
                "{}: no panel was sampled before the release, so there is nothing to compare with; \
                 the run directory was altered",
                samples.join(PANEL_FILE).display()
            )));
        };
        if targets.is_empty() {
            cx.say("no site sampled (host profile [sampling.classes.<class>])");
            return Ok(());
        }
        let before = read_all(&targets, &samples, Moment::Before)?;
        let (client, workers) = client(cx);
        let after = fetch_all(&targets, panels, &client, workers, &samples, Moment::After)?;
        let comparison = compare(&before, &after, panels, &samples.join("diff"))?;
        let report = comparison.report(SHOWN);
        let path = samples.join(REPORT_FILE);
        std::fs::write(&path, comparison.report(usize::MAX)).map_err(StepError::io(&path))?;
        cx.log.output(&report);
        if comparison.passed() {
            for line in report.lines() {
                cx.say(line);
            }
            return Ok(());
        }
        Err(SamplingError::Differences(format!(
            "{report}every diff: {}",
            samples.join("diff").display()
        ))
        .into())
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

fn client(cx: &Context<'_>) -> (Client, usize) {
    match &cx.host.sampling {
        Some(s) => (Client::new(s.timeout(), &cx.host.https), s.workers),
        None => (
            Client::new(std::time::Duration::from_secs(10), &cx.host.https),
            8,
        ),
    }
}

/// `samples/panel.tsv`: class, site, page, URL per line; what `sample-after` fetches again.
fn write_panel(samples: &Path, targets: &[Target]) -> Result<(), StepError> {
    std::fs::create_dir_all(samples).map_err(StepError::io(samples))?;
    let text: String = targets
        .iter()
        .map(|t| format!("{}\t{}\t{}\t{}\n", t.class, t.site, t.page, t.url))
        .collect();
    let path = samples.join(PANEL_FILE);
    std::fs::write(&path, text).map_err(StepError::io(&path))
}

fn read_panel(samples: &Path) -> Result<Option<Vec<Target>>, StepError> {
    let path = samples.join(PANEL_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StepError::io(&path)(e)),
    };
    text.lines()
        .enumerate()
        .map(|(i, line)| match line.split('\t').collect::<Vec<_>>()[..] {
            [class, site, page, url] => Ok(Target {
                class: class.into(),
                site: site.into(),
                page: page.into(),
                url: url.into(),
            }),
            _ => Err(StepError::Failed(format!(
                "{}:{}: not `class<TAB>site<TAB>page<TAB>url`; the run directory was altered",
                path.display(),
                i + 1
            ))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}
