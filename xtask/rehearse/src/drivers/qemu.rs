//! `driver = "qemu"`: a guest run by qemu directly, no daemon.
//!
//! ```toml
//! [qemu]
//! image = "../target/vm/iso-prod"   # a directory holding vmlinuz, initramfs.cpio.gz, base.qcow2
//! snapshot = "overlay"              # overlay: a fresh qcow2 overlay over base.qcow2 per run;
//!                                   # internal: a working copy reverted to its `iso-prod` snapshot
//! accel = "auto"                    # auto: KVM if a probe boot works, else TCG; or "tcg", "kvm"
//! memory_mb = 1024
//! cpus = 1
//! append = ""                       # more kernel arguments (read by the image's boot scripts)
//! ```
//!
//! Revert is `qemu-img create -b` (≈ 10 ms) or `qemu-img snapshot -a` (≈ 6 ms); base.qcow2 is
//! never written. Delivery and collection are the raw transfer disks of [`crate::disks`]. The
//! guest runs with `-nic none` (no iPXE, no network), `-no-reboot` and `panic=-1`, so a crash
//! ends qemu instead of hanging it; the deadline kills it otherwise. KVM is tried, never
//! required: a host can expose `/dev/kvm` and still fail to run a guest with it, so `auto`
//! boots the image once under KVM with no payload and keeps KVM only if that boot powers off
//! cleanly; the answer is cached beside the image.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::disks;
use crate::driver::{Driver, DriverError, RunDir};
use crate::guest::{GuestImage, SNAPSHOT};
use crate::process::{run, Guarded};
use crate::target::Target;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    image: String,
    #[serde(default = "default_snapshot")]
    snapshot: String,
    #[serde(default = "default_accel")]
    accel: String,
    #[serde(default = "default_memory")]
    memory_mb: u32,
    #[serde(default = "default_cpus")]
    cpus: u32,
    #[serde(default)]
    append: String,
}

fn default_snapshot() -> String {
    "overlay".into()
}
fn default_accel() -> String {
    "auto".into()
}
fn default_memory() -> u32 {
    1024
}
fn default_cpus() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revert {
    Overlay,
    Internal,
}

/// The qemu driver.
pub struct Qemu {
    image: GuestImage,
    image_dir: PathBuf,
    revert: Revert,
    accel: String,
    memory_mb: u32,
    cpus: u32,
    append: String,
    /// For `internal`: the working copy, reverted before each run.
    work: Option<tempfile::TempDir>,
    /// This run's system disk.
    disk: PathBuf,
}

pub fn open(target: &Target) -> Result<Box<dyn Driver>, DriverError> {
    let config: Config = target.driver_config()?;
    let image_dir = target.resolve(&config.image);
    let image_dir = std::fs::canonicalize(&image_dir).unwrap_or(image_dir);
    let image = GuestImage::in_dir(&image_dir);
    if !image.exists() {
        return Err(target
            .invalid(
                "image",
                format!(
                    "{} does not hold vmlinuz, initramfs.cpio.gz and base.qcow2: build it with `cargo xtask vm-image`",
                    image_dir.display()
                ),
            )
            .into());
    }
    let revert = match config.snapshot.as_str() {
        "overlay" => Revert::Overlay,
        "internal" => Revert::Internal,
        other => {
            return Err(target
                .invalid(
                    "snapshot",
                    format!("`{other}`: say \"overlay\" or \"internal\""),
                )
                .into())
        }
    };
    let accel = match config.accel.as_str() {
        "tcg" | "kvm" => config.accel.clone(),
        "auto" => probe_accel(&image, &image_dir)?,
        other => {
            return Err(target
                .invalid(
                    "accel",
                    format!("`{other}`: say \"auto\", \"tcg\" or \"kvm\""),
                )
                .into())
        }
    };
    let work = match revert {
        Revert::Overlay => None,
        Revert::Internal => {
            let work = tempfile::tempdir().map_err(DriverError::io(Path::new("/tmp")))?;
            let copy = work.path().join("prod.qcow2");
            std::fs::copy(&image.disk, &copy).map_err(DriverError::io(&image.disk))?;
            Some(work)
        }
    };
    Ok(Box::new(Qemu {
        image,
        image_dir,
        revert,
        accel,
        memory_mb: config.memory_mb,
        cpus: config.cpus,
        append: config.append,
        work,
        disk: PathBuf::new(),
    }))
}

impl Qemu {
    fn command(&self, disk: &Path, transfer: Option<(&Path, &Path)>, accel: &str) -> Command {
        let mut qemu = Command::new("qemu-system-x86_64");
        qemu.args(["-accel", accel, "-m"])
            .arg(self.memory_mb.to_string())
            .arg("-smp")
            .arg(self.cpus.to_string())
            .args(["-nographic", "-no-reboot", "-nic", "none", "-kernel"])
            .arg(&self.image.kernel)
            .arg("-initrd")
            .arg(&self.image.initrd)
            .arg("-append")
            .arg(kernel_args(&self.append))
            .arg("-drive")
            .arg(format!("file={},format=qcow2,if=virtio", disk.display()));
        if let Some((payload, results)) = transfer {
            qemu.arg("-drive")
                .arg(format!(
                    "file={},format=raw,if=virtio,readonly=on",
                    payload.display()
                ))
                .arg("-drive")
                .arg(format!("file={},format=raw,if=virtio", results.display()));
        }
        qemu
    }
}

/// The kernel command line: serial console, quiet, and a panic ends qemu (`-no-reboot`).
pub fn kernel_args(extra: &str) -> String {
    format!("console=ttyS0 quiet panic=-1 {extra}")
        .trim()
        .to_string()
}

impl Driver for Qemu {
    fn describe(&self) -> String {
        format!(
            "qemu ({}, {} revert, {} MiB, {} cpu) on {}",
            self.accel.to_uppercase(),
            match self.revert {
                Revert::Overlay => "overlay",
                Revert::Internal => "internal-snapshot",
            },
            self.memory_mb,
            self.cpus,
            self.image_dir.display()
        )
    }

    fn revert(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        let scratch = run_dir.scratch();
        std::fs::create_dir_all(&scratch).map_err(DriverError::io(&scratch))?;
        match (&self.work, self.revert) {
            (Some(work), Revert::Internal) => {
                self.disk = work.path().join("prod.qcow2");
                run(Command::new("qemu-img")
                    .args(["snapshot", "-a", SNAPSHOT])
                    .arg(&self.disk))?;
            }
            _ => {
                self.disk = scratch.join("system.qcow2");
                run(Command::new("qemu-img")
                    .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                    .arg(&self.image.disk)
                    .arg(&self.disk))?;
            }
        }
        Ok(())
    }

    fn deliver(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        disks::create_results_disk(&run_dir.scratch().join("results.disk"))
    }

    fn execute(&mut self, run_dir: &RunDir, timeout: Duration) -> Result<(), DriverError> {
        let payload = run_dir.payload();
        let results = run_dir.scratch().join("results.disk");
        let mut qemu = self.command(&self.disk, Some((&payload, &results)), &self.accel);
        let mut guest = Guarded::spawn(&mut qemu, &run_dir.console())?;
        match guest.wait_for(timeout)? {
            Some(_) => Ok(()),
            None => Err(DriverError::Timeout {
                what: "the guest".into(),
                secs: timeout.as_secs(),
                log: run_dir.console(),
            }),
        }
    }

    fn collect(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        let scratch = run_dir.scratch();
        disks::read_results_disk(&scratch.join("results.disk"), &run_dir.collected())?;
        std::fs::remove_dir_all(&scratch).map_err(DriverError::io(&scratch))
    }
}

/// `kvm` if the image boots and powers off under KVM within 30 s, else `tcg`; cached in
/// `<image>/accel` (delete it to probe again).
fn probe_accel(image: &GuestImage, image_dir: &Path) -> Result<String, DriverError> {
    let cache = image_dir.join("accel");
    if let Ok(answer) = std::fs::read_to_string(&cache) {
        let answer = answer.trim();
        if answer == "kvm" || answer == "tcg" {
            return Ok(answer.to_string());
        }
    }
    let usable = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let answer = if usable && kvm_boots(image)? {
        "kvm"
    } else {
        "tcg"
    };
    // A read-only image directory only costs the probe again next time.
    let _ = std::fs::write(&cache, format!("{answer}\n"));
    Ok(answer.to_string())
}

fn kvm_boots(image: &GuestImage) -> Result<bool, DriverError> {
    let dir = tempfile::tempdir().map_err(DriverError::io(Path::new("/tmp")))?;
    let disk = dir.path().join("probe.qcow2");
    run(Command::new("qemu-img")
        .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
        .arg(&image.disk)
        .arg(&disk))?;
    let probe = Qemu {
        image: image.clone(),
        image_dir: PathBuf::new(),
        revert: Revert::Overlay,
        accel: "kvm".into(),
        memory_mb: 512,
        cpus: 1,
        append: String::new(),
        work: None,
        disk: disk.clone(),
    };
    let console = dir.path().join("console.log");
    let mut guest = Guarded::spawn(&mut probe.command(&disk, None, "kvm"), &console)?;
    let status = guest.wait_for(Duration::from_secs(30))?;
    let log = std::fs::read_to_string(&console).unwrap_or_default();
    Ok(status.is_some_and(|s| s.success()) && log.contains("rehearse-init: done"))
}
