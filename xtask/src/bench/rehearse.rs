//! `bench rehearse`: what one rehearsal run costs, per driver, and where the time goes.
//!
//! For each driver configuration, the demo 2.0.0 bundle is rehearsed once and then three times
//! on the demo's ISO-prod guest, and every run is split into its phases as the developer's
//! machine sees them (revert, deliver, execute, collect) and, inside the target, as the
//! target's clock sees them (`run.sh`'s timeline: unpacking and the first digest, the apply,
//! the second digest). Boot is what `execute` spends outside `run.sh`: qemu's start, the
//! kernel, the init and the services, and the power-off. The goal the figures are read against:
//! one qemu rehearsal of the demo under 15 s on a 2-core machine without KVM.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bascule_rehearse::rehearsal::RunRecord;
use bascule_rehearse::{RehearsalOptions, Target};

use super::measure::bench_dir;
use crate::{build_patch, static_runtime, vm_image, workspace_root};

/// A driver configuration measured: a name and its target.toml.
pub struct Config {
    pub name: String,
    pub target_toml: String,
}

/// The qemu configurations, on the ISO-prod image in `image`.
pub fn qemu_configs(image: &Path) -> Vec<Config> {
    ["overlay", "internal"]
        .into_iter()
        .map(|snapshot| Config {
            name: format!("qemu, {snapshot}"),
            target_toml: format!(
                "driver = \"qemu\"\n[qemu]\nimage = \"{}\"\nsnapshot = \"{snapshot}\"\n",
                image.display()
            ),
        })
        .collect()
}

pub fn run() -> anyhow::Result<()> {
    let dir = bench_dir("rehearse")?;
    let image = workspace_root().join("target/vm/iso-prod");
    vm_image::ensure(&image, vm_image::DEFAULT_SITES, false)?;
    let runtime = static_runtime::build_static_runtime(&workspace_root())?;
    let bundle = build_patch::build(
        &demo_site::prod::patch_dir("2.0.0"),
        &dir.join("bundles"),
        Some(&runtime),
    )?
    .path;
    println!(
        "rehearse: demo 2.0.0 on the ISO-prod guest ({} sites), one run then three, per driver",
        vm_image::DEFAULT_SITES
    );
    let mut one_qemu_run = None;
    for config in qemu_configs(&image) {
        let path = dir.join(format!("{}.toml", config.name.replace([',', ' '], "-")));
        std::fs::write(&path, &config.target_toml)?;
        let target = Target::load(&path)?;
        let mut totals = Vec::new();
        for runs in [1, 3] {
            let rehearsal = bascule_rehearse::rehearse(
                &target,
                &bundle,
                &RehearsalOptions {
                    runs,
                    rollback: false,
                    dir: dir.join(format!("runs-{runs}")),
                },
            )
            .with_context(|| format!("rehearsing with {}", config.name))?;
            anyhow::ensure!(
                rehearsal.succeeded(),
                "a {} run failed:\n{}",
                config.name,
                bascule_rehearse::report::render(&rehearsal)
            );
            let total: Duration = rehearsal.runs.iter().map(|r| r.phases.total()).sum();
            totals.push(total);
            if runs == 3 {
                show(&config.name, &rehearsal.runs, totals[0], total);
            }
            if runs == 1 && config.name == "qemu, overlay" {
                one_qemu_run = Some(total);
            }
        }
    }
    if let Some(one) = one_qemu_run {
        println!(
            "goal: one qemu rehearsal under 15 s without KVM: {:.1} s, {}",
            one.as_secs_f64(),
            if one.as_secs_f64() < 15.0 {
                "met"
            } else {
                "NOT met"
            }
        );
    }
    Ok(())
}

/// The phases of a run, in seconds: revert, deliver, boot, in-target setup (unpack, digest),
/// apply, in-target rest (digests after), collect.
fn split(run: &RunRecord) -> [f64; 7] {
    let o = &run.outcome;
    let inside = o.between("start", "end").unwrap_or(0.0);
    let setup = o.between("start", "apply").unwrap_or(0.0);
    let apply = o.between("apply", "applied").unwrap_or(0.0);
    let p = &run.phases;
    [
        p.revert.as_secs_f64(),
        p.deliver.as_secs_f64(),
        (p.execute.as_secs_f64() - inside).max(0.0),
        setup,
        apply,
        (inside - setup - apply).max(0.0),
        p.collect.as_secs_f64(),
    ]
}

fn show(name: &str, runs: &[RunRecord], one: Duration, three: Duration) {
    const PHASES: [&str; 7] = [
        "revert",
        "deliver",
        "boot+off",
        "unpack+digest",
        "apply",
        "digest after",
        "collect",
    ];
    let mut mean = [0.0; 7];
    for run in runs {
        for (m, v) in mean.iter_mut().zip(split(run)) {
            *m += v / runs.len() as f64;
        }
    }
    let total: f64 = mean.iter().sum();
    println!(
        "\n{name}: 1 run {:.2} s; 3 runs {:.2} s ({:.2} s a run)",
        one.as_secs_f64(),
        three.as_secs_f64(),
        three.as_secs_f64() / 3.0
    );
    for (phase, seconds) in PHASES.iter().zip(mean) {
        println!(
            "  {phase:<14} {seconds:>6.2} s  {:>4.0} %",
            100.0 * seconds / total.max(1e-9)
        );
    }
}
