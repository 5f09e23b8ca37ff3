//! `cargo xtask rehearse` with the libvirt driver, on the demo's real ISO-prod guest: a domain
//! defined from the image, its internal snapshot reverted before each run, the bundle applied
//! and rolled back twice. The test starts the daemons it needs (virtlogd, libvirtd) when none
//! answers, and a guard stops what it started and undefines the domain, so that nothing is
//! left running, even when an assertion fails.

mod common;

use std::fs::File;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bascule_rehearse::drivers::libvirt::{self, Virsh};
use bascule_rehearse::{report, RehearsalOptions, Target};

const URI: &str = "qemu:///system";

/// The libvirt daemons for the test, and the domain it defined.
struct Libvirt {
    dir: PathBuf,
    /// Started by this test, in order; stopped in reverse.
    daemons: Vec<(&'static str, Child)>,
    /// Undefined (destroyed first if it runs) on drop.
    domain: Option<String>,
}

/// Whether a libvirt daemon answers on [`URI`].
fn answers() -> bool {
    Command::new("timeout")
        .args(["10", "virsh", "-q", "-c", URI, "version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Libvirt {
    /// Uses the machine's libvirt daemon if one answers; otherwise starts virtlogd (unless
    /// one listens already) and libvirtd, in the foreground as children of the test, with
    /// their pid files and logs in `dir`.
    fn start(dir: &Path) -> Libvirt {
        std::fs::create_dir_all(dir).expect("daemons' directory");
        let mut libvirt = Libvirt {
            dir: dir.to_path_buf(),
            daemons: Vec::new(),
            domain: None,
        };
        if answers() {
            return libvirt;
        }
        if UnixStream::connect("/run/libvirt/virtlogd-sock").is_err() {
            libvirt.spawn("virtlogd");
        }
        libvirt.spawn("libvirtd");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !answers() {
            for (name, child) in &mut libvirt.daemons {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("{name} exited ({status}): {}", read_log(&libvirt.dir, name));
                }
            }
            assert!(
                Instant::now() < deadline,
                "libvirtd does not answer after 60 s: {}",
                read_log(&libvirt.dir, "libvirtd")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        libvirt
    }

    fn spawn(&mut self, name: &'static str) {
        let log = File::create(self.dir.join(format!("{name}.log"))).expect("daemon log");
        let err = log.try_clone().expect("daemon log");
        let child = Command::new(name)
            .arg("--pid-file")
            .arg(self.dir.join(format!("{name}.pid")))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {name} (package libvirt-daemon-driver-qemu): {e}")
            });
        self.daemons.push((name, child));
    }
}

fn read_log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

/// The pid of the qemu running `domain`, if any (libvirt names it `-name guest=<domain>,…`).
fn qemu_of(domain: &str) -> Vec<u32> {
    common::processes_mentioning(&format!("guest={domain},"))
        .iter()
        .filter_map(|p| p.split(':').next()?.parse().ok())
        .collect()
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        if let Some(domain) = self.domain.take() {
            if let Err(e) = libvirt::undefine(URI, &domain) {
                eprintln!("cannot undefine {domain}: {e}");
            }
            // Last resort, if libvirt could not stop it: the qemu of our own domain, by pid.
            for pid in qemu_of(&domain) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
            let _ = std::fs::remove_file(format!("/var/log/libvirt/qemu/{domain}.log"));
        }
        while let Some((_, mut child)) = self.daemons.pop() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    Ok(Some(_)) => break,
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
    }
}

fn version_in(digest: &Option<Vec<String>>) -> Option<&str> {
    digest
        .as_ref()?
        .iter()
        .find_map(|l| l.strip_prefix("version "))
}

#[test]
fn two_rolled_back_runs_on_a_libvirt_domain_start_from_its_snapshot() {
    let ready = Instant::now();
    let image = common::image();
    let bundle = common::bundle("2.0.0");
    eprintln!("image and bundle ready after {:?}", ready.elapsed());
    let root = common::workspace()
        .join("target/test-rehearsals")
        .join(format!("libvirt-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let daemons = root.join("daemons");
    let domain = format!("bascule-rehearse-test-{}", std::process::id());
    {
        let started = Instant::now();
        let mut libvirt = Libvirt::start(&daemons);
        let daemons_up = started.elapsed();
        libvirt.domain = Some(domain.clone());
        let defined = libvirt::define_from_image(URI, &domain, image, &root.join("domain"))
            .unwrap_or_else(|e| panic!("cannot define the domain: {e}"));
        eprintln!(
            "libvirt answering after {daemons_up:?} ({} daemons started), domain defined after {:?}",
            libvirt.daemons.len(),
            started.elapsed() - daemons_up
        );
        assert!(defined.work_dir.join("prod.qcow2").is_file());

        let text = format!(
            "driver = \"libvirt\"\ntimeout_secs = 300\n[libvirt]\nuri = \"{URI}\"\n\
             domain = \"{domain}\"\nsnapshot = \"iso-prod\"\n"
        );
        let target = Target::parse(&root.join("target.toml"), &text).expect("target");
        let rehearsal = bascule_rehearse::rehearse(
            &target,
            &bundle,
            &RehearsalOptions {
                runs: 2,
                rollback: true,
                dir: root.join("runs"),
            },
        )
        .unwrap_or_else(|e| panic!("rehearsal could not run: {e}"));
        let text = report::render(&rehearsal);
        for run in &rehearsal.runs {
            let p = &run.phases;
            eprintln!(
                "run {}: revert {:?}, deliver {:?}, start..shut off {:?}, collect {:?}",
                run.number, p.revert, p.deliver, p.execute, p.collect
            );
        }
        assert_eq!(
            rehearsal.target,
            format!("libvirt (domain {domain}, snapshot iso-prod) at {URI}")
        );
        assert!(rehearsal.succeeded(), "{text}");
        let [first, second] = &rehearsal.runs[..] else {
            panic!("two runs expected:\n{text}");
        };
        for run in [first, second] {
            let o = &run.outcome;
            assert_eq!(run.error, None, "{text}");
            assert!(o.finished, "{text}");
            assert_eq!(version_in(&o.digest_before), Some("1.0.0"), "{text}");
            assert_eq!(version_in(&o.digest_applied), Some("2.0.0"), "{text}");
            assert_eq!(o.apply_status, Some(0), "{text}");
            assert_eq!(o.rollback_status, Some(0), "{text}");
            assert_eq!(o.restored(), Some(true), "{text}");
            assert_eq!(o.digest_before, o.digest_rolled_back, "{text}");
            let log = run.dir.join("collected/out/runs/apply/update.log");
            let log = std::fs::read_to_string(&log)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", log.display()));
            assert!(log.contains("run committed"), "{log}");
            assert!(run
                .dir
                .join("collected/out/runs/rollback/update.log")
                .is_file());
            let console = std::fs::read_to_string(run.dir.join("console.log")).expect("console");
            assert!(console.contains("rehearse-init: done"), "{console}");
            assert!(!run.dir.join("scratch").exists(), "scratch left behind");
        }
        assert_eq!(
            first.outcome.digest_before, second.outcome.digest_before,
            "{text}"
        );
        assert!(
            text.contains("start state   identical in every run (1.0.0"),
            "{text}"
        );
        // Left shut off, with its system disk only.
        let virsh = Virsh::new(URI);
        assert_eq!(virsh.state(&domain).expect("domstate"), "shut off");
        let disks = virsh
            .run(["domblklist", domain.as_str()])
            .expect("domblklist");
        let targets: Vec<&str> = disks
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(targets, ["vda"], "{disks}");

        // A guest past its deadline is destroyed, and the run fails with the timeout.
        let slow = Target {
            timeout: Duration::from_secs(1),
            ..target
        };
        let rehearsal = bascule_rehearse::rehearse(
            &slow,
            &bundle,
            &RehearsalOptions {
                runs: 1,
                rollback: false,
                dir: root.join("slow"),
            },
        )
        .unwrap_or_else(|e| panic!("rehearsal could not run: {e}"));
        let run = &rehearsal.runs[0];
        let error = run.error.as_deref().unwrap_or("");
        assert!(error.contains("did not end within 1 s: killed"), "{error}");
        assert!(!run.outcome.finished);
        assert!(!rehearsal.succeeded());
        assert_eq!(virsh.state(&domain).expect("domstate"), "shut off");
        assert_eq!(qemu_of(&domain), Vec::<u32>::new());
    }
    let left = qemu_of(&domain);
    assert!(left.is_empty(), "qemu left running for {domain}: {left:?}");
    let left = common::processes_mentioning(&daemons.display().to_string());
    assert!(left.is_empty(), "daemons left running: {left:?}");
    let _ = std::fs::remove_dir_all(&root);
}
