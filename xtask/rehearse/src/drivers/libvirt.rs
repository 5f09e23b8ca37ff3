//! `driver = "libvirt"`: a domain of a libvirt daemon, reverted to an internal snapshot.
//!
//! ```toml
//! [libvirt]
//! uri = "qemu:///system"      # the connection (virsh -c)
//! domain = "bascule-iso-prod" # the domain, defined beforehand (see below)
//! snapshot = "iso-prod"       # its internal snapshot, taken with the domain shut off
//! virsh_timeout_secs = 60     # one virsh command that takes longer is killed and fails
//! ```
//!
//! Everything goes through `virsh`, each command under coreutils' `timeout` so that a hung
//! daemon fails the run instead of hanging the rehearsal, with `LC_ALL=C` so that its answers
//! (`shut off`) read the same everywhere. A run is:
//!
//! 1. **revert**: `virsh destroy` if the domain still runs (a run killed half-way), then
//!    `virsh snapshot-revert <domain> <snapshot>` (≈ 60 ms: `qemu-img snapshot -a` on the
//!    system disk, and the snapshot's definition back);
//! 2. **deliver**: the payload (`run.payload()`, a plain tar) attached read-only as `vdb` and
//!    an empty results disk ([`crate::disks`], in `run.scratch()`) as `vdc`, both raw, with
//!    `virsh attach-disk --config`. After the revert, not before: an internal snapshot must
//!    cover every disk of the domain and only qcow2 disks can have one, so the snapshot holds
//!    `vda` alone, and reverting to it drops the transfer disks of the previous run again;
//! 3. **execute**: `virsh start`, then `virsh domstate` every 100 ms until `shut off` (the
//!    guest's init powers off; the domain must destroy itself on power-off, reboot and crash,
//!    so a crash ends the run too). Past the target's `timeout_secs`, counted from `start`,
//!    `virsh destroy` and a [`DriverError::Timeout`]; an error or a panic on the way destroys
//!    the domain as well. The serial console, when the domain logs it to a file, is copied to
//!    `run.console()` (libvirt truncates the file at each start);
//! 4. **collect**: the results disk read into `run.collected()`, the transfer disks detached
//!    (`--config`) so that the domain is left with its system disk only, the scratch removed.
//!
//! **Permissions.** With `qemu:///system`, libvirt runs qemu as its own user (`libvirt-qemu`
//! on Debian) and, with `dynamic_ownership = 1` (the default of `qemu.conf`), chowns every
//! disk, kernel and initrd to it for the run and back afterwards (not read-only disks: the
//! payload stays `libvirt-qemu`'s, which does not stop the rehearsal removing it). What it
//! cannot change is the directories on the way: qemu must be able to traverse them. So the
//! driver makes `run.scratch()` 0755, adds the search bit to the run's own directory, and
//! refuses, naming it, a directory above that other users cannot traverse (a `tempfile`
//! directory in `/tmp` is 0700). `qemu:///session` runs qemu as the caller: no such check.
//!
//! **A domain from a guest image.** [`define_from_image`] makes the domain the driver expects
//! from a directory built by `cargo xtask vm-image` ([`crate::guest`]): it copies the image's
//! kernel, initrd and `base.qcow2` into a working directory of the caller's (libvirt chowns
//! what it boots from, and the shared image must not change owner under another user's
//! feet), brings the copy to the image's `iso-prod` state and drops that qcow2-level snapshot
//! (libvirt's own snapshot of the same name would otherwise be a second one, and
//! `qemu-img snapshot -a iso-prod` takes the first), then defines the domain and takes its
//! internal snapshot with `virsh snapshot-create-as <domain> iso-prod`. The domain
//! ([`domain_xml`]): `type='qemu'` (TCG), direct kernel boot with `console=ttyS0 quiet
//! panic=-1`, `<features><acpi/></features>` (without it, older libvirt such as bookworm's 9.0
//! passes `-no-acpi`, which qemu 10 refuses; the guest powers off through ACPI), `destroy` on
//! power-off, reboot and crash, the serial console to `console.log` in the working directory,
//! no network interface, no memory balloon, and `vda` as its only disk. [`undefine`] removes
//! it again (destroyed first if it runs, with its snapshots' metadata; the working directory
//! is the caller's to remove).
//!
//! By hand, the same domain is a copy of the image's files, `qemu-img snapshot -d iso-prod` on
//! the copied disk, `virsh define` of [`domain_xml`]'s output and
//! `virsh snapshot-create-as <domain> iso-prod` with the domain shut off. The daemons must
//! run: `virtlogd` (libvirt's qemu driver logs through it) and `libvirtd` (or the modular
//! `virtqemud`); without systemd, start them by hand (`virtlogd -d`, `libvirtd -d`).

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::disks;
use crate::driver::{Driver, DriverError, RunDir};
use crate::guest::{GuestImage, SNAPSHOT};
use crate::process::run;
use crate::target::Target;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_uri")]
    uri: String,
    domain: String,
    #[serde(default = "default_snapshot")]
    snapshot: String,
    #[serde(default = "default_virsh_timeout")]
    virsh_timeout_secs: u64,
}

/// The connection when `target.toml` names none.
pub const DEFAULT_URI: &str = "qemu:///system";

fn default_uri() -> String {
    DEFAULT_URI.into()
}
fn default_snapshot() -> String {
    SNAPSHOT.into()
}
fn default_virsh_timeout() -> u64 {
    60
}

/// How often `execute` asks whether the guest has powered off.
const POLL: Duration = Duration::from_millis(100);

/// The transfer disks' targets in the guest (what its init reads and writes).
const PAYLOAD_DEV: &str = "vdb";
const RESULTS_DEV: &str = "vdc";

/// `virsh -c <uri>`, each command with a deadline.
#[derive(Debug, Clone)]
pub struct Virsh {
    pub uri: String,
    pub timeout: Duration,
}

impl Virsh {
    pub fn new(uri: &str) -> Virsh {
        Virsh {
            uri: uri.to_string(),
            timeout: Duration::from_secs(default_virsh_timeout()),
        }
    }

    /// Runs `virsh -q -c <uri> <args>`: its stdout, or an error with its stderr. A command
    /// past the deadline is killed (TERM, then KILL 5 s later) and fails.
    pub fn run<I, S>(&self, args: I) -> Result<String, DriverError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let secs = self.timeout.as_secs().max(1);
        let mut command = Command::new("timeout");
        command
            .arg("--kill-after=5")
            .arg(secs.to_string())
            .args(["virsh", "-q", "-c"])
            .arg(&self.uri)
            .args(args)
            .env("LC_ALL", "C");
        run(&mut command).map_err(|e| match e {
            // timeout(1): 124 when it sent TERM, 137 when it had to KILL.
            DriverError::Command { command, what }
                if what.starts_with("exit status: 124") || what.starts_with("exit status: 137") =>
            {
                DriverError::Command {
                    command,
                    what: format!(
                        "no answer within {secs} s: killed (does the libvirt daemon run?)"
                    ),
                }
            }
            other => other,
        })
    }

    /// The domain's state as `virsh domstate` says it: `running`, `shut off`, …
    pub fn state(&self, domain: &str) -> Result<String, DriverError> {
        Ok(self.run(["domstate", domain])?.trim().to_string())
    }

    /// Whether `domain` is defined (or runs) on this connection.
    pub fn has_domain(&self, domain: &str) -> Result<bool, DriverError> {
        Ok(self
            .run(["list", "--all", "--name"])?
            .lines()
            .any(|name| name.trim() == domain))
    }

    /// Stops `domain` now if it runs (`virsh destroy`: qemu killed, no guest shutdown).
    pub fn destroy_if_running(&self, domain: &str) -> Result<(), DriverError> {
        if self.state(domain)? == "shut off" {
            return Ok(());
        }
        match self.run(["destroy", domain]) {
            Ok(_) => Ok(()),
            // It powered off between the two commands.
            Err(_) if self.state(domain)? == "shut off" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The libvirt driver.
pub struct Libvirt {
    virsh: Virsh,
    domain: String,
    snapshot: String,
    /// Where the domain's serial console goes, if to a file.
    console: Option<PathBuf>,
    /// Whether qemu runs as another user than ours (`qemu:///system`).
    system: bool,
}

pub fn open(target: &Target) -> Result<Box<dyn Driver>, DriverError> {
    let config: Config = target.driver_config()?;
    if config.domain.trim().is_empty() {
        return Err(target.invalid("domain", "must name a domain").into());
    }
    if config.virsh_timeout_secs == 0 {
        return Err(target
            .invalid("virsh_timeout_secs", "must be at least 1")
            .into());
    }
    let virsh = Virsh {
        uri: config.uri.clone(),
        timeout: Duration::from_secs(config.virsh_timeout_secs),
    };
    let xml = virsh
        .run(["dumpxml", "--inactive", config.domain.as_str()])
        .map_err(|e| {
            target.invalid(
                "domain",
                format!(
                    "cannot read domain `{}` at {}: {e} (define one from a guest image with \
                     bascule_rehearse::drivers::libvirt::define_from_image)",
                    config.domain, config.uri
                ),
            )
        })?;
    let snapshots = virsh.run(["snapshot-list", config.domain.as_str(), "--name"])?;
    if !snapshots.lines().any(|s| s.trim() == config.snapshot) {
        let have: Vec<&str> = snapshots
            .lines()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        return Err(target
            .invalid(
                "snapshot",
                format!(
                    "domain `{}` has no snapshot `{}` (it has: {}): take it with the domain \
                     shut off, `virsh snapshot-create-as {} {}`",
                    config.domain,
                    config.snapshot,
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    },
                    config.domain,
                    config.snapshot
                ),
            )
            .into());
    }
    Ok(Box::new(Libvirt {
        system: !config.uri.contains("/session"),
        virsh,
        domain: config.domain,
        snapshot: config.snapshot,
        console: serial_file(&xml),
    }))
}

impl Libvirt {
    fn results_disk(run_dir: &RunDir) -> PathBuf {
        run_dir.scratch().join("results.disk")
    }

    /// `run.scratch()` created 0755, and every directory above it traversable by qemu.
    fn prepare_scratch(&self, run_dir: &RunDir) -> Result<(), DriverError> {
        let scratch = run_dir.scratch();
        std::fs::create_dir_all(&scratch).map_err(DriverError::io(&scratch))?;
        set_mode(&scratch, 0o755)?;
        if self.system {
            let meta = std::fs::metadata(&run_dir.dir).map_err(DriverError::io(&run_dir.dir))?;
            let mode = meta.permissions().mode() & 0o7777;
            if mode & 0o001 == 0 {
                set_mode(&run_dir.dir, mode | 0o011)?;
            }
            check_traversable(&scratch)?;
        }
        Ok(())
    }

    fn attach(&self, file: &Path, dev: &str, readonly: bool) -> Result<(), DriverError> {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("attach-disk"),
            OsStr::new(&self.domain),
            file.as_os_str(),
            OsStr::new(dev),
            OsStr::new("--config"),
            OsStr::new("--targetbus"),
            OsStr::new("virtio"),
            OsStr::new("--driver"),
            OsStr::new("qemu"),
            OsStr::new("--subdriver"),
            OsStr::new("raw"),
        ];
        if readonly {
            args.extend([OsStr::new("--mode"), OsStr::new("readonly")]);
        }
        self.virsh.run(args).map(drop)
    }

    /// The serial console of the last start, into `run.console()`; a note there if there is
    /// none to copy (the rehearsal goes on: the results disk is what counts).
    fn copy_console(&self, run_dir: &RunDir) -> Result<(), DriverError> {
        let into = run_dir.console();
        let text = match &self.console {
            Some(log) => match std::fs::read(log) {
                Ok(bytes) => bytes,
                Err(e) => format!(
                    "(cannot read the domain's console, {}: {e})\n",
                    log.display()
                )
                .into_bytes(),
            },
            None => format!(
                "(domain `{}` logs no serial console to a file: add <serial type='file'>)\n",
                self.domain
            )
            .into_bytes(),
        };
        std::fs::write(&into, text).map_err(DriverError::io(&into))
    }
}

/// Destroys the domain when dropped, unless disarmed: a run that fails or panics half-way
/// leaves no guest running.
struct Running<'a> {
    virsh: &'a Virsh,
    domain: &'a str,
    armed: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = self.virsh.destroy_if_running(self.domain);
        }
    }
}

impl Driver for Libvirt {
    fn describe(&self) -> String {
        format!(
            "libvirt (domain {}, snapshot {}) at {}",
            self.domain, self.snapshot, self.virsh.uri
        )
    }

    fn revert(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        self.prepare_scratch(run_dir)?;
        self.virsh.destroy_if_running(&self.domain)?;
        self.virsh
            .run([
                "snapshot-revert",
                self.domain.as_str(),
                self.snapshot.as_str(),
            ])
            .map(drop)
    }

    fn deliver(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        let results = Self::results_disk(run_dir);
        disks::create_results_disk(&results)?;
        let payload = run_dir.payload();
        if !payload.is_file() {
            return Err(DriverError::Other(format!(
                "{}: no payload to deliver",
                payload.display()
            )));
        }
        self.attach(&payload, PAYLOAD_DEV, true)?;
        self.attach(&results, RESULTS_DEV, false)
    }

    fn execute(&mut self, run_dir: &RunDir, timeout: Duration) -> Result<(), DriverError> {
        let deadline = Instant::now() + timeout;
        self.virsh.run(["start", self.domain.as_str()])?;
        let mut running = Running {
            virsh: &self.virsh,
            domain: &self.domain,
            armed: true,
        };
        let ended = loop {
            if self.virsh.state(&self.domain)? == "shut off" {
                break true;
            }
            if Instant::now() >= deadline {
                break false;
            }
            std::thread::sleep(POLL);
        };
        if !ended {
            self.virsh.destroy_if_running(&self.domain)?;
        }
        running.armed = false;
        self.copy_console(run_dir)?;
        if ended {
            Ok(())
        } else {
            Err(DriverError::Timeout {
                what: format!("domain {}", self.domain),
                secs: timeout.as_secs(),
                log: run_dir.console(),
            })
        }
    }

    fn collect(&mut self, run_dir: &RunDir) -> Result<(), DriverError> {
        let scratch = run_dir.scratch();
        let read = disks::read_results_disk(&Self::results_disk(run_dir), &run_dir.collected());
        // Back to the system disk alone; the next revert would drop them too.
        let detached = [PAYLOAD_DEV, RESULTS_DEV].iter().try_for_each(|dev| {
            self.virsh
                .run(["detach-disk", self.domain.as_str(), dev, "--config"])
                .map(drop)
        });
        read?;
        detached?;
        std::fs::remove_dir_all(&scratch).map_err(DriverError::io(&scratch))
    }
}

/// The serial console's file in a domain's XML, if it logs to one.
pub fn serial_file(xml: &str) -> Option<PathBuf> {
    let start = xml.find("<serial type='file'>")?;
    let serial = &xml[start..];
    let serial = &serial[..serial.find("</serial>")?];
    const SOURCE: &str = "<source path='";
    let path = &serial[serial.find(SOURCE)? + SOURCE.len()..];
    let path = &path[..path.find('\'')?];
    Some(PathBuf::from(xml_unescape(path)))
}

/// A domain that [`define_from_image`] made.
#[derive(Debug, Clone)]
pub struct DefinedDomain {
    pub uri: String,
    pub name: String,
    /// The working directory: the system disk, kernel, initrd and console log.
    pub work_dir: PathBuf,
    /// The serial console's file.
    pub console: PathBuf,
}

/// The definition of a rehearsal domain: TCG, direct kernel boot, `vda` only, console to a
/// file, no network, destroyed on power-off, reboot and crash.
pub fn domain_xml(
    name: &str,
    image: &GuestImage,
    console: &Path,
    memory_mb: u32,
    cpus: u32,
) -> String {
    let path = |p: &Path| xml_escape(&p.display().to_string());
    format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <description>bascule rehearsal guest</description>
  <memory unit='MiB'>{memory_mb}</memory>
  <vcpu>{cpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>{cmdline}</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <controller type='usb' model='none'/>
    <serial type='file'>
      <source path='{console}'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='{console}'/>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
",
        name = xml_escape(name),
        kernel = path(&image.kernel),
        initrd = path(&image.initrd),
        cmdline = xml_escape(&super::qemu::kernel_args("")),
        disk = path(&image.disk),
        console = path(console),
    )
}

/// Defines `domain` at `uri` from the guest image in `image_dir` (built by `cargo xtask
/// vm-image`), with its files copied into `work_dir` (created, made 0755), and takes its
/// internal snapshot `iso-prod` ([`SNAPSHOT`]). Fails if `domain` exists already; a domain
/// half made is undefined again.
pub fn define_from_image(
    uri: &str,
    domain: &str,
    image_dir: &Path,
    work_dir: &Path,
) -> Result<DefinedDomain, DriverError> {
    let image = GuestImage::in_dir(image_dir);
    if !image.exists() {
        return Err(DriverError::Other(format!(
            "{} does not hold vmlinuz, initramfs.cpio.gz and base.qcow2: build it with \
             `cargo xtask vm-image`",
            image_dir.display()
        )));
    }
    let virsh = Virsh::new(uri);
    if virsh.has_domain(domain)? {
        return Err(DriverError::Other(format!(
            "domain `{domain}` exists already at {uri}: undefine it first"
        )));
    }
    std::fs::create_dir_all(work_dir).map_err(DriverError::io(work_dir))?;
    let work_dir = std::fs::canonicalize(work_dir).map_err(DriverError::io(work_dir))?;
    set_mode(&work_dir, 0o755)?;
    if !uri.contains("/session") {
        check_traversable(&work_dir)?;
    }
    let copy = GuestImage {
        kernel: work_dir.join("vmlinuz"),
        initrd: work_dir.join("initramfs.cpio.gz"),
        disk: work_dir.join("prod.qcow2"),
    };
    for (from, to) in [
        (&image.kernel, &copy.kernel),
        (&image.initrd, &copy.initrd),
        (&image.disk, &copy.disk),
    ] {
        std::fs::copy(from, to).map_err(DriverError::io(from))?;
        set_mode(to, 0o644)?;
    }
    // The image's own snapshot: its state becomes the copy's current one, then it goes, so
    // that libvirt's snapshot is the only `iso-prod` of the disk.
    if qcow2_has_snapshot(&copy.disk, SNAPSHOT)? {
        run(Command::new("qemu-img")
            .args(["snapshot", "-a", SNAPSHOT])
            .arg(&copy.disk))?;
        while qcow2_has_snapshot(&copy.disk, SNAPSHOT)? {
            run(Command::new("qemu-img")
                .args(["snapshot", "-d", SNAPSHOT])
                .arg(&copy.disk))?;
        }
    }
    let console = work_dir.join("console.log");
    let xml_path = work_dir.join("domain.xml");
    let xml = domain_xml(domain, &copy, &console, 1024, 1);
    std::fs::write(&xml_path, xml).map_err(DriverError::io(&xml_path))?;
    virsh.run([OsStr::new("define"), xml_path.as_os_str()])?;
    let snapshot = virsh.run([
        "snapshot-create-as",
        domain,
        SNAPSHOT,
        "--description",
        "bascule rehearsal: the ISO-prod state every run starts from",
    ]);
    if let Err(e) = snapshot {
        let _ = undefine(uri, domain);
        return Err(e);
    }
    Ok(DefinedDomain {
        uri: uri.to_string(),
        name: domain.to_string(),
        work_dir,
        console,
    })
}

/// Removes `domain` from `uri`: destroyed if it runs, undefined with its snapshots'
/// metadata (the disks are left to their owner). Nothing to do if it is not defined.
pub fn undefine(uri: &str, domain: &str) -> Result<(), DriverError> {
    let virsh = Virsh::new(uri);
    if !virsh.has_domain(domain)? {
        return Ok(());
    }
    virsh.destroy_if_running(domain)?;
    virsh
        .run(["undefine", domain, "--snapshots-metadata"])
        .map(drop)
}

fn qcow2_has_snapshot(disk: &Path, name: &str) -> Result<bool, DriverError> {
    let list = run(Command::new("qemu-img")
        .args(["snapshot", "-l", "-U"])
        .arg(disk))?;
    // "ID  TAG  VM_SIZE  DATE  VM_CLOCK  ICOUNT" rows.
    Ok(list
        .lines()
        .any(|line| line.split_whitespace().nth(1) == Some(name)))
}

fn set_mode(path: &Path, mode: u32) -> Result<(), DriverError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(DriverError::io(path))
}

/// Every directory from `/` to `dir` can be traversed by other users (libvirt's qemu user).
fn check_traversable(dir: &Path) -> Result<(), DriverError> {
    let dir = std::fs::canonicalize(dir).map_err(DriverError::io(dir))?;
    for ancestor in dir.ancestors() {
        let meta = std::fs::metadata(ancestor).map_err(DriverError::io(ancestor))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o001 == 0 {
            return Err(DriverError::Other(format!(
                "{}: other users cannot traverse it (mode {mode:04o}), and libvirt's qemu runs \
                 as its own user (libvirt-qemu): `chmod o+x {}`, or rehearse in another directory",
                ancestor.display(),
                ancestor.display()
            )));
        }
    }
    Ok(())
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_boots_the_image_with_vda_only_and_its_console_file_is_found_again() {
        let image = GuestImage::in_dir(Path::new("/w/it's & <here>"));
        let xml = domain_xml(
            "rehearse",
            &image,
            Path::new("/w/it's & <here>/console.log"),
            512,
            1,
        );
        assert!(xml.starts_with("<domain type='qemu'>"), "{xml}");
        assert!(xml.contains("<features><acpi/></features>"), "{xml}");
        assert!(xml.contains("<cmdline>console=ttyS0 quiet panic=-1</cmdline>"));
        assert!(xml.contains("<on_crash>destroy</on_crash>"));
        assert!(xml.contains("<memballoon model='none'/>"));
        assert_eq!(xml.matches("<disk ").count(), 1, "{xml}");
        assert!(!xml.contains("<interface"), "{xml}");
        assert!(
            xml.contains("/w/it&apos;s &amp; &lt;here&gt;/base.qcow2"),
            "{xml}"
        );
        assert_eq!(
            serial_file(&xml),
            Some(PathBuf::from("/w/it's & <here>/console.log"))
        );
        assert_eq!(serial_file("<domain><serial type='pty'/></domain>"), None);
    }

    #[test]
    fn a_target_without_a_domain_is_refused_before_virsh_runs() {
        let target = Target::parse(
            Path::new("/t/target.toml"),
            "driver = \"libvirt\"\n[libvirt]\nuri = \"test:///default\"\n",
        )
        .unwrap();
        let err = open(&target).err().unwrap().to_string();
        assert!(err.contains("domain"), "{err}");
    }
}
