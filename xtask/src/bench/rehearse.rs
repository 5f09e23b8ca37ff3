//! `bench rehearse`: what one rehearsal run costs, per driver, and where the time goes.
//!
//! For each driver configuration, the demo 2.0.0 bundle is rehearsed once and then three times,
//! and every run is split into its phases as the developer's machine sees them (revert, deliver,
//! execute, collect) and, inside the target, as the target's clock sees them (`run.sh`'s
//! timeline: unpacking and the first digest, the apply, the second digest). The configurations:
//!
//! - **qemu**, on the demo's ISO-prod guest, with a qcow2 overlay per run and with the image's
//!   internal snapshot;
//! - **libvirt**, on a domain defined from the same image with
//!   [`define_from_image`](bascule_rehearse::drivers::libvirt::define_from_image) at
//!   `qemu:///system` (its internal snapshot reverted per run), undefined afterwards; the
//!   daemons are the machine's if they answer, else started for the benchmark and stopped
//!   after it;
//! - **ssh**, on a demo 1.0.0 host with as many sites as the guest, generated on this machine
//!   (`demo_site::prod::generate`), through an sshd of the benchmark's own on 127.0.0.1; the
//!   revert command stops the host's `web` service, restores the host from a copy taken
//!   before the first run and starts the service again.
//!
//! Boot is what `execute` spends outside `run.sh`: for qemu and libvirt, qemu's start, the
//! kernel, the init and the services, and the power-off; for ssh, the ssh session around
//! `run.sh` (no boot). The daemons, the domain, sshd and the host's service belong to guards of
//! `fixtures/testhosts`, so nothing is left running after the benchmark, even when it fails.
//! The goal the figures are read against: one qemu rehearsal of the demo under 15 s on a 2-core
//! machine without KVM.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use bascule_rehearse::rehearsal::RunRecord;
use bascule_rehearse::{RehearsalOptions, Target};
use testhosts::{LibvirtDaemons, PidService, RevertibleHost, Sshd};

use super::measure::bench_dir;
use crate::{build_patch, demo_prod, static_runtime, vm_image, workspace_root};

/// The libvirt connection the libvirt driver is measured on.
const LIBVIRT_URI: &str = "qemu:///system";

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

/// The libvirt configuration: `domain` at `uri`, reverted to its `iso-prod` snapshot.
pub fn libvirt_config(uri: &str, domain: &str) -> Config {
    Config {
        name: "libvirt, internal".into(),
        target_toml: format!(
            "driver = \"libvirt\"\ntimeout_secs = 300\n[libvirt]\nuri = \"{uri}\"\n\
             domain = \"{domain}\"\nsnapshot = \"iso-prod\"\n"
        ),
    }
}

/// The ssh configuration: `user@127.0.0.1` on `sshd`'s port with its client key and its
/// `known_hosts`, the local host's profile, and the revert command of [`RevertibleHost`] (the
/// target file goes in the host's directory, where the command runs).
pub fn ssh_config(sshd: &Sshd, user: &str, host_profile: &Path, workdir: &Path) -> Config {
    Config {
        name: "ssh, local sshd".into(),
        target_toml: format!(
            "driver = \"ssh\"\nhost_profile = \"{}\"\ntimeout_secs = 300\n\n[ssh]\n\
             host = \"127.0.0.1\"\nport = {}\nuser = \"{user}\"\nidentity = \"{}\"\n\
             known_hosts = \"{}\"\nrevert = \"{}\"\nrevert_timeout_secs = 120\n\
             ready_timeout_secs = 20\nconnect_timeout_secs = 5\nworkdir = \"{}\"\n",
            host_profile.display(),
            sshd.port(),
            sshd.client_key().display(),
            sshd.known_hosts().display(),
            RevertibleHost::REVERT_COMMAND,
            workdir.display()
        ),
    }
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
        "rehearse: demo 2.0.0 on the ISO-prod guest and on a demo host over ssh ({} sites), \
         one run then three, per driver",
        vm_image::DEFAULT_SITES
    );
    let mut one_qemu_run = None;
    for config in qemu_configs(&image) {
        let one = measure(&config, &dir, &dir, &bundle)?;
        if config.name == "qemu, overlay" {
            one_qemu_run = Some(one);
        }
    }
    bench_libvirt(&dir.join("libvirt"), &image, &bundle)?;
    bench_ssh(&dir.join("ssh"), &bundle)?;
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

/// The libvirt driver on a domain defined from `image` for the benchmark; the guard undefines
/// it and stops the daemons it started, whatever happens.
fn bench_libvirt(dir: &Path, image: &Path, bundle: &Path) -> anyhow::Result<()> {
    let domain = format!("bascule-bench-rehearse-{}", std::process::id());
    {
        let mut libvirt = LibvirtDaemons::start(LIBVIRT_URI, &dir.join("daemons"))
            .context("starting the libvirt daemons")?;
        libvirt
            .define_from_image(&domain, image, &dir.join("domain"))
            .with_context(|| format!("defining the domain {domain}"))?;
        measure(&libvirt_config(LIBVIRT_URI, &domain), dir, dir, bundle)?;
    }
    let left = testhosts::qemu_of(&domain);
    anyhow::ensure!(left.is_empty(), "qemu left running for {domain}: {left:?}");
    let left = testhosts::processes_mentioning(&dir.join("daemons").display().to_string());
    anyhow::ensure!(left.is_empty(), "libvirt daemons left running: {left:?}");
    Ok(())
}

/// The ssh driver on a demo host generated in `dir/host`, through an sshd in `dir/ssh`; the
/// guards stop sshd (with its sessions) and the host's service, whatever happens.
fn bench_ssh(dir: &Path, bundle: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = std::fs::canonicalize(dir)?;
    {
        let user = testhosts::current_user()?;
        let sshd = Sshd::start(&dir.join("ssh"), &user).context("starting sshd")?;
        demo_prod::ensure_demo_site_binary()?;
        let demo = demo_site::prod::generate(&dir.join("host"), vm_image::DEFAULT_SITES)
            .context("generating the demo host")?;
        let web = PidService::from_host_profile(&demo.host_profile, "web")?;
        let host = RevertibleHost::snapshot(&dir, &web).context("taking the host's snapshot")?;
        let config = ssh_config(&sshd, &user, &demo.host_profile, &dir.join("remote/work"));
        measure(&config, host.dir(), &dir, bundle)?;
    }
    let left = testhosts::processes_in(&dir);
    anyhow::ensure!(left.is_empty(), "processes left running: {left:#?}");
    Ok(())
}

/// Rehearses `bundle` with `config` once, then three times, and prints the three runs' phases;
/// the total of the single run. The target file goes in `target_dir`, the runs under `dir`.
fn measure(
    config: &Config,
    target_dir: &Path,
    dir: &Path,
    bundle: &Path,
) -> anyhow::Result<Duration> {
    let slug = config.name.replace([',', ' '], "-");
    let path = target_dir.join(format!("{slug}.toml"));
    std::fs::write(&path, &config.target_toml)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let target = Target::load(&path)?;
    let mut totals = Vec::new();
    for runs in [1, 3] {
        let rehearsal = bascule_rehearse::rehearse(
            &target,
            bundle,
            &RehearsalOptions {
                runs,
                rollback: false,
                dir: dir.join(format!("{slug}-runs-{runs}")),
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
    }
    Ok(totals[0])
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
