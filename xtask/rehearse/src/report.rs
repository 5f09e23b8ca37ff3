//! What a rehearsal prints: a summary per run, then what differed across runs.
//!
//! Written for the developer who will decide whether the bundle goes to production: each run
//! says how it ended, how long each phase took (revert, deliver, boot, the run itself,
//! collect), the slowest steps of the apply, whether the undo brought the snapshot's state
//! back (digests compared), and, for a failure, the failing step and the lines of `update.log`
//! around it. The comparison says whether every run started from the same state, ended the
//! same way, took comparable time per step, and sampled the same pages.

use std::fmt::Write as _;
use std::time::Duration;

use bascule::fingerprint::Fingerprint;

use crate::outcome::RunOutcome;
use crate::rehearsal::{Rehearsal, RunRecord};

/// The whole report.
pub fn render(rehearsal: &Rehearsal) -> String {
    let mut out = String::new();
    let runs = rehearsal.runs.len();
    let _ = writeln!(
        out,
        "Rehearsal of {} on {}",
        rehearsal.bundle, rehearsal.target
    );
    let _ = writeln!(
        out,
        "{runs} run{}, each from the snapshot: apply{}\n",
        if runs == 1 { "" } else { "s" },
        if rehearsal.rollback {
            ", then rollback in a fresh process"
        } else {
            ""
        }
    );
    for run in &rehearsal.runs {
        render_run(&mut out, run);
        out.push('\n');
    }
    if runs > 1 {
        render_comparison(&mut out, &rehearsal.runs);
    }
    let verdict = if rehearsal.succeeded() {
        "REHEARSAL PASSED"
    } else {
        "REHEARSAL FAILED"
    };
    let failed = rehearsal.runs.iter().filter(|r| !r.succeeded()).count();
    let _ = writeln!(out, "{verdict}: {} of {runs} runs succeeded", runs - failed);
    out
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn short(digest: Option<&str>) -> String {
    digest.map_or_else(|| "missing".to_string(), |d| d.chars().take(12).collect())
}

/// The first word of `version …` in a digest.
fn version(lines: &Option<Vec<String>>) -> String {
    lines
        .as_ref()
        .and_then(|l| l.iter().find_map(|l| l.strip_prefix("version ")))
        .unwrap_or("unknown")
        .to_string()
}

fn render_run(out: &mut String, run: &RunRecord) {
    let o = &run.outcome;
    let word = if run.succeeded() {
        "SUCCEEDED"
    } else {
        "FAILED"
    };
    let p = &run.phases;
    let inside = o.between("start", "end");
    let boot = inside.map(|t| {
        p.execute
            .saturating_sub(Duration::from_secs_f64(t.max(0.0)))
    });
    let _ = writeln!(
        out,
        "run {}: {word} in {} (revert {}, deliver {}, boot and power-off {}, run {}, collect {})",
        run.number,
        secs(p.total()),
        secs(p.revert),
        secs(p.deliver),
        boot.map_or_else(|| "?".into(), secs),
        inside.map_or_else(|| "?".into(), |t| format!("{t:.1} s")),
        secs(p.collect),
    );
    if let Some(error) = &run.error {
        let _ = writeln!(out, "  driver        {error}");
    }
    if !o.finished && run.error.is_none() {
        let _ = writeln!(
            out,
            "  unfinished    the target never reported the end of run.sh (see {})",
            run.dir.join("console.log").display()
        );
    }
    if let Some(error) = &o.error {
        let _ = writeln!(out, "  refused       {error}");
    }
    if o.digest_before.is_some() {
        let _ = writeln!(
            out,
            "  started from  {} (state digest {})",
            version(&o.digest_before),
            short(RunOutcome::digest_of(&o.digest_before))
        );
    }
    if let Some(fingerprint) = &o.fingerprint {
        let _ = writeln!(out, "  environment   {}", environment(fingerprint));
    }
    if let Some(status) = o.apply_status {
        let slowest = slowest_steps(o);
        let _ = writeln!(
            out,
            "  apply         exit {status} in {}; slowest steps: {slowest}",
            o.between("apply", "applied")
                .map_or_else(|| "?".into(), |t| format!("{t:.1} s")),
        );
    }
    if let Some(step) = o.failed_step() {
        let error = step.failed.as_deref().unwrap_or("");
        // "4 smoke test failure(s):" says little alone: the line after it names the first.
        let mut lines = error.lines();
        let mut first = lines.next().unwrap_or("").to_string();
        if first.ends_with(':') {
            if let Some(next) = lines.next() {
                first = format!("{first} {}", next.trim());
            }
        }
        let _ = writeln!(out, "  failed step   {}: {first}", step.step);
        let _ = writeln!(
            out,
            "  undone        {} step{}, in reverse: {}",
            o.undone.len(),
            if o.undone.len() == 1 { "" } else { "s" },
            o.undone
                .iter()
                .map(|s| s.step.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if let Some(status) = o.rollback_status {
        let _ = writeln!(
            out,
            "  rollback      exit {status} in {}",
            o.between("rollback", "rolled-back")
                .map_or_else(|| "?".into(), |t| format!("{t:.1} s")),
        );
    }
    match o.restored() {
        Some(true) => {
            let _ = writeln!(
                out,
                "  state after   the snapshot's, restored (every database, current, releases, services)"
            );
        }
        Some(false) => {
            let after = if o.apply_status == Some(0) {
                &o.digest_rolled_back
            } else {
                &o.digest_applied
            };
            let _ = writeln!(
                out,
                "  state after   NOT the snapshot's: the undo left differences:"
            );
            for line in differing_lines(&o.digest_before, after) {
                let _ = writeln!(out, "                {line}");
            }
        }
        None if o.apply_status == Some(0) => {
            let _ = writeln!(
                out,
                "  state after   {} (not rolled back; digest {})",
                version(&o.digest_applied),
                short(RunOutcome::digest_of(&o.digest_applied))
            );
        }
        None => {}
    }
    if !o.log_excerpt.is_empty() && !run.succeeded() {
        let _ = writeln!(out, "  update.log around the failure:");
        for line in &o.log_excerpt {
            let _ = writeln!(out, "    | {line}");
        }
    }
    let _ = writeln!(out, "  run directory {}", o.dir.join("runs").display());
    // The guest's runtime wrote the same report as production's: open them side by side.
    for kind in ["apply", "rollback"] {
        let page = o.dir.join("runs").join(kind).join("report.html");
        if page.is_file() {
            let _ = writeln!(out, "  {kind:<13} report {}", page.display());
        }
    }
}

/// The facts of a guest's fingerprint that decide most: OS, kernel, case sensitivity, each
/// class's database server.
fn environment(fingerprint: &Fingerprint) -> String {
    let fact = |key: &str| fingerprint.facts.get(key).map_or("?", String::as_str);
    let mut parts = vec![
        format!("os {}", fact("os")),
        format!("kernel {}", fact("kernel")),
        format!("case-sensitive {}", fact("platform.case_sensitive")),
    ];
    for (key, server) in &fingerprint.facts {
        let Some(class) = key
            .strip_prefix("db.")
            .and_then(|k| k.strip_suffix(".server"))
        else {
            continue;
        };
        let engine = fact(&format!("db.{class}.engine"));
        parts.push(format!("{class} {engine} {server}"));
    }
    parts.join(", ")
}

fn slowest_steps(o: &RunOutcome) -> String {
    let mut steps: Vec<_> = o.steps.iter().collect();
    steps.sort_by(|a, b| b.ms.cmp(&a.ms).then(a.step.cmp(&b.step)));
    let shown: Vec<String> = steps
        .iter()
        .take(3)
        .map(|s| format!("{} {:.1} s", s.step, s.ms as f64 / 1000.0))
        .collect();
    if shown.is_empty() {
        "none recorded".into()
    } else {
        shown.join(", ")
    }
}

/// Lines of `b` not in `a` (as `+`) and of `a` not in `b` (as `-`), without the digest line.
fn differing_lines(a: &Option<Vec<String>>, b: &Option<Vec<String>>) -> Vec<String> {
    let (a, b) = (a.clone().unwrap_or_default(), b.clone().unwrap_or_default());
    let keep = |l: &&String| !l.starts_with("digest ");
    let mut lines: Vec<String> = a
        .iter()
        .filter(keep)
        .filter(|l| !b.contains(l))
        .map(|l| format!("- {l}"))
        .collect();
    lines.extend(
        b.iter()
            .filter(keep)
            .filter(|l| !a.contains(l))
            .map(|l| format!("+ {l}")),
    );
    lines
}

fn render_comparison(out: &mut String, runs: &[RunRecord]) {
    let _ = writeln!(out, "Across the {} runs:", runs.len());
    let first = &runs[0].outcome;
    let starts: Vec<Option<&str>> = runs
        .iter()
        .map(|r| RunOutcome::digest_of(&r.outcome.digest_before))
        .collect();
    if starts.iter().all(|d| d.is_some() && *d == starts[0]) {
        let _ = writeln!(
            out,
            "  start state   identical in every run ({}, digest {})",
            version(&first.digest_before),
            short(starts[0])
        );
    } else {
        let _ = writeln!(
            out,
            "  start state   DIFFERENT: the target was not reverted to the same snapshot"
        );
        for run in &runs[1..] {
            for line in differing_lines(&first.digest_before, &run.outcome.digest_before) {
                let _ = writeln!(out, "    run {}: {line}", run.number);
            }
        }
    }
    let outcome = |r: &RunRecord| {
        if r.succeeded() {
            "succeeded".to_string()
        } else {
            match r.outcome.failed_step() {
                Some(step) => format!("failed at {}", step.step),
                None => "failed".to_string(),
            }
        }
    };
    let outcomes: Vec<String> = runs.iter().map(outcome).collect();
    if outcomes.iter().all(|o| *o == outcomes[0]) {
        let _ = writeln!(
            out,
            "  outcome       the same in every run: {}",
            outcomes[0]
        );
    } else {
        let listed: Vec<String> = runs
            .iter()
            .zip(&outcomes)
            .map(|(r, o)| format!("run {} {o}", r.number))
            .collect();
        let _ = writeln!(out, "  outcome       DIFFERENT: {}", listed.join("; "));
    }
    let _ = writeln!(out, "  step times    {}", step_spread(runs));
    let pages: Vec<&std::collections::BTreeMap<String, String>> =
        runs.iter().map(|r| &r.outcome.sampled).collect();
    if pages[0].is_empty() {
        let _ = writeln!(out, "  sampled pages none sampled after the switch");
    } else if pages.iter().all(|p| *p == pages[0]) {
        let _ = writeln!(
            out,
            "  sampled pages the same {} pages in every run",
            pages[0].len()
        );
    } else {
        let differing: Vec<&String> = pages[0]
            .keys()
            .chain(pages.iter().flat_map(|p| p.keys()))
            .filter(|k| pages.iter().any(|p| p.get(*k) != pages[0].get(*k)))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let _ = writeln!(
            out,
            "  sampled pages DIFFERENT between runs: {}",
            differing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    out.push('\n');
}

/// The steps whose duration varied most between runs (min–max), or that they were steady.
fn step_spread(runs: &[RunRecord]) -> String {
    let mut spreads: Vec<(String, u64, u64)> = Vec::new();
    for step in runs.iter().flat_map(|r| r.outcome.steps.iter()) {
        match spreads.iter_mut().find(|(name, _, _)| *name == step.step) {
            Some((_, min, max)) => {
                *min = (*min).min(step.ms);
                *max = (*max).max(step.ms);
            }
            None => spreads.push((step.step.clone(), step.ms, step.ms)),
        }
    }
    // Varied: more than 0.5 s and more than half of the fastest.
    let mut varied: Vec<&(String, u64, u64)> = spreads
        .iter()
        .filter(|(_, min, max)| max - min > 500 && (max - min) * 2 > *min)
        .collect();
    varied.sort_by_key(|s| std::cmp::Reverse(s.2 - s.1));
    if varied.is_empty() {
        return "steady: no step varied by more than half its time (and 0.5 s)".into();
    }
    varied
        .iter()
        .take(3)
        .map(|(name, min, max)| {
            format!(
                "{name} {:.1}–{:.1} s",
                *min as f64 / 1000.0,
                *max as f64 / 1000.0
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::StepTime;
    use crate::rehearsal::Phases;
    use std::path::PathBuf;

    fn step(name: &str, ms: u64) -> StepTime {
        StepTime {
            step: name.into(),
            ms,
            failed: None,
        }
    }

    fn digest(version: &str, sha: &str) -> Option<Vec<String>> {
        Some(vec![
            format!("version {version}"),
            format!("current releases/{version}"),
            format!("digest {sha}"),
        ])
    }

    fn run(number: usize, outcome: RunOutcome) -> RunRecord {
        RunRecord {
            number,
            dir: PathBuf::from(format!("/r/run-{number}")),
            phases: Phases {
                revert: Duration::from_millis(12),
                deliver: Duration::from_millis(3),
                execute: Duration::from_millis(7_400),
                collect: Duration::from_millis(40),
            },
            outcome,
            error: None,
        }
    }

    fn passed(number: usize, migrate_ms: u64) -> RunRecord {
        run(
            number,
            RunOutcome {
                dir: PathBuf::from(format!("/r/run-{number}/collected/out")),
                finished: true,
                apply_status: Some(0),
                rollback_status: Some(0),
                digest_before: digest("1.0.0", "aaaaaaaaaaaaaaaa"),
                digest_applied: digest("2.0.0", "bbbbbbbbbbbbbbbb"),
                digest_rolled_back: digest("1.0.0", "aaaaaaaaaaaaaaaa"),
                steps: vec![
                    step("preflight", 300),
                    step("migrate", migrate_ms),
                    step("smoke", 200),
                ],
                timeline: vec![
                    ("start".into(), 2.3),
                    ("apply".into(), 4.4),
                    ("applied".into(), 6.4),
                    ("rollback".into(), 6.5),
                    ("rolled-back".into(), 7.0),
                    ("end".into(), 7.1),
                ],
                sampled: [("site/site-0001/home.html".to_string(), "x".to_string())].into(),
                fingerprint: Some(Fingerprint {
                    facts: [
                        ("os", "unknown: no /etc/os-release or /usr/lib/os-release"),
                        ("kernel", "6.1.0-18-amd64"),
                        ("platform.case_sensitive", "no"),
                        ("db.main.engine", "sqlite"),
                        ("db.main.server", "3.46.0"),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                    ..Fingerprint::default()
                }),
                ..RunOutcome::default()
            },
        )
    }

    #[test]
    fn the_report_reads_like_a_release_note() {
        let mut failed = passed(2, 2_600);
        failed.outcome.apply_status = Some(1);
        failed.outcome.rollback_status = None;
        failed.outcome.digest_applied = digest("1.0.0", "aaaaaaaaaaaaaaaa");
        failed.outcome.steps[1].failed =
            Some("site-0011: UNIQUE constraint failed: members.email".into());
        failed.outcome.steps.truncate(2);
        failed.outcome.undone = vec![step("migrate", 90), step("preflight", 1)];
        failed.outcome.log_excerpt = vec![
            "-- 2026-01-01T00:00:00Z : site-0011: CREATE UNIQUE INDEX members_email ON members (email)".into(),
            "-- 2026-01-01T00:00:00Z : site-0011: FAILED: UNIQUE constraint failed: members.email".into(),
        ];
        failed.outcome.sampled.clear();
        let rehearsal = Rehearsal {
            target: "qemu (TCG, overlay revert, 1024 MiB, 1 cpu) on /images/iso-prod".into(),
            bundle: "bascule-2.0.0.tar.gz".into(),
            rollback: true,
            runs: vec![passed(1, 900), failed],
        };
        insta::assert_snapshot!(render(&rehearsal));
    }

    #[test]
    fn a_run_from_another_state_is_named() {
        let mut second = passed(2, 900);
        second.outcome.digest_before = digest("2.0.0", "cccccccccccccccc");
        let text = render(&Rehearsal {
            target: "t".into(),
            bundle: "b".into(),
            rollback: true,
            runs: vec![passed(1, 900), second],
        });
        assert!(text.contains("start state   DIFFERENT"), "{text}");
        assert!(text.contains("run 2: + version 2.0.0"), "{text}");
    }
}
