//! A rehearsal: N runs of one bundle on one target, each timed phase by phase.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::driver::{Driver, DriverError, RunDir};
use crate::outcome::RunOutcome;
use crate::payload::{self, RunSettings};
use crate::target::Target;

/// How to rehearse.
#[derive(Debug, Clone)]
pub struct RehearsalOptions {
    /// Runs, each from the snapshot.
    pub runs: usize,
    /// Roll each successful apply back (`bascule rollback`, a fresh process) and compare the
    /// state with the snapshot's.
    pub rollback: bool,
    /// Where the runs' directories go (`<dir>/run-<n>`); created.
    pub dir: PathBuf,
}

/// Wall-clock time of each phase of a run, on the developer's machine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Phases {
    pub revert: Duration,
    pub deliver: Duration,
    /// Boot, `run.sh`, power-off (for the ssh driver: `run.sh` only).
    pub execute: Duration,
    pub collect: Duration,
}

impl Phases {
    pub fn total(&self) -> Duration {
        self.revert + self.deliver + self.execute + self.collect
    }
}

/// One run: its phases, what it left, and the driver's error if a phase failed.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub number: usize,
    pub dir: PathBuf,
    pub phases: Phases,
    pub outcome: RunOutcome,
    pub error: Option<String>,
}

impl RunRecord {
    pub fn succeeded(&self) -> bool {
        self.error.is_none() && self.outcome.succeeded() && self.outcome.restored() != Some(false)
    }
}

/// Every run of a rehearsal.
#[derive(Debug, Clone)]
pub struct Rehearsal {
    pub target: String,
    pub bundle: String,
    pub rollback: bool,
    pub runs: Vec<RunRecord>,
}

impl Rehearsal {
    pub fn succeeded(&self) -> bool {
        !self.runs.is_empty() && self.runs.iter().all(RunRecord::succeeded)
    }
}

/// Rehearses `bundle` (a `.tar.gz`) on `target`.
pub fn rehearse(
    target: &Target,
    bundle: &Path,
    options: &RehearsalOptions,
) -> Result<Rehearsal, DriverError> {
    let mut driver = crate::drivers::open(target)?;
    rehearse_with(driver.as_mut(), target, bundle, options)
}

/// [`rehearse`] with a driver already opened.
pub fn rehearse_with(
    driver: &mut dyn Driver,
    target: &Target,
    bundle: &Path,
    options: &RehearsalOptions,
) -> Result<Rehearsal, DriverError> {
    let settings = RunSettings {
        host_profile: target.host_profile.clone(),
        rollback: options.rollback,
    };
    let mut runs = Vec::new();
    for number in 1..=options.runs {
        let dir = options.dir.join(format!("run-{number}"));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(DriverError::io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(DriverError::io(&dir))?;
        let run_dir = RunDir { dir, number };
        payload::write(&run_dir.payload(), bundle, &settings)?;
        let mut phases = Phases::default();
        let error = one_run(driver, &run_dir, target.timeout, &mut phases).err();
        // The payload is the bundle again, plus run.sh: not worth keeping per run.
        let _ = std::fs::remove_file(run_dir.payload());
        let outcome = RunOutcome::read(&run_dir.collected().join("out"));
        runs.push(RunRecord {
            number,
            dir: run_dir.dir.clone(),
            phases,
            outcome,
            error: error.map(|e| e.to_string()),
        });
    }
    Ok(Rehearsal {
        target: driver.describe(),
        bundle: bundle.file_name().map_or_else(
            || bundle.display().to_string(),
            |f| f.to_string_lossy().into_owned(),
        ),
        rollback: options.rollback,
        runs,
    })
}

fn one_run(
    driver: &mut dyn Driver,
    run: &RunDir,
    timeout: Duration,
    phases: &mut Phases,
) -> Result<(), DriverError> {
    let start = Instant::now();
    driver.revert(run)?;
    phases.revert = start.elapsed();
    let start = Instant::now();
    driver.deliver(run)?;
    phases.deliver = start.elapsed();
    let start = Instant::now();
    let executed = driver.execute(run, timeout);
    phases.execute = start.elapsed();
    // Collect even after a failed execution: what the guest wrote before dying explains it.
    let start = Instant::now();
    let collected = driver.collect(run);
    phases.collect = start.elapsed();
    executed.and(collected)
}
