//! `cargo xtask rehearse` with the libvirt driver, on the demo's real ISO-prod guest: a domain
//! defined from the image, its internal snapshot reverted before each run, the bundle applied
//! and rolled back twice. The test starts the daemons it needs (virtlogd, libvirtd) when none
//! answers, and a guard ([`testhosts::LibvirtDaemons`]) stops what it started and undefines the
//! domain, so that nothing is left running, even when an assertion fails.

mod common;

use std::time::{Duration, Instant};

use bascule_rehearse::drivers::libvirt::Virsh;
use bascule_rehearse::{report, RehearsalOptions, Target};
use testhosts::{qemu_of, LibvirtDaemons};

const URI: &str = "qemu:///system";

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
        let mut libvirt = LibvirtDaemons::start(URI, &daemons)
            .unwrap_or_else(|e| panic!("no libvirt daemon: {e}"));
        let daemons_up = started.elapsed();
        let defined = libvirt
            .define_from_image(&domain, image, &root.join("domain"))
            .unwrap_or_else(|e| panic!("cannot define the domain: {e}"));
        eprintln!(
            "libvirt answering after {daemons_up:?} ({} daemons started), domain defined after {:?}",
            libvirt.started(),
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
