//! The `ssh` rehearsal driver against a real sshd, with this machine as the "production host".
//!
//! sshd runs from a private configuration on 127.0.0.1 and a free port, with a throwaway host
//! key and client key; when `/run/sshd` (its privilege-separation directory) is missing, it runs
//! in a mount namespace of its own with a tmpfs on `/run`, so the machine is left as it was. The
//! host is a demo 1.0.0 host in a tempdir; the revert command puts it back the way a filesystem
//! snapshot would (stop the `web` service, restore the files, start it again). Guards
//! ([`testhosts::Sshd`], [`testhosts::RevertibleHost`]) kill sshd and the demo's server when
//! dropped, so nothing outlives the test, even when it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use bascule_rehearse::driver::RunDir;
use bascule_rehearse::{DriverError, RehearsalOptions, Target};
use demo_site::snapshot::{tree_listing, HostState};
use testhosts::{alive, keygen, known_hosts_line, processes_in, PidService, RevertibleHost, Sshd};

fn workspace() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

fn sh(command: &mut Command) -> String {
    let output = command.output().expect("start a command");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn target_toml(
    host_profile: &Path,
    port: u16,
    user: &str,
    known_hosts: &str,
    workdir: &Path,
) -> String {
    format!(
        "driver = \"ssh\"\nhost_profile = \"{}\"\ntimeout_secs = 180\n\n[ssh]\nhost = \"127.0.0.1\"\n\
         port = {port}\nuser = \"{user}\"\nidentity = \"ssh/client_key\"\nknown_hosts = \"{known_hosts}\"\n\
         revert = \"sh revert.sh\"\nrevert_timeout_secs = 60\nready_timeout_secs = 20\n\
         connect_timeout_secs = 5\nworkdir = \"{}\"\n",
        host_profile.display(),
        workdir.display()
    )
}

fn target(dir: &Path, name: &str, text: &str) -> Target {
    let path = dir.join(name);
    fs::write(&path, text).expect("write the target");
    Target::parse(&path, text).expect("parse the target")
}

#[test]
fn rehearses_twice_over_ssh_with_rollback_and_refuses_an_unknown_host_key() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("a tempdir");
    let t = tmp.path().to_path_buf();
    let user = sh(Command::new("id").arg("-un")).trim().to_string();

    // sshd writes ssh/known_hosts itself, with its own host key.
    let sshd = Sshd::start(&t.join("ssh"), &user).unwrap_or_else(|e| panic!("sshd: {e}"));
    let port = sshd.port();
    keygen(&t.join("ssh/other_host_key"), "not-the-host").expect("make another host key");
    fs::write(
        t.join("ssh/wrong_known_hosts"),
        known_hosts_line(&t.join("ssh/other_host_key"), port).expect("its known_hosts line"),
    )
    .expect("write the wrong known_hosts");

    // The production host, and its snapshot.
    xtask::demo_prod::ensure_demo_site_binary().expect("build the demo-site server");
    let demo = demo_site::prod::generate(&t.join("host"), 3).expect("generate the demo host");
    let web = PidService::from_host_profile(&demo.host_profile, "web").expect("the web service");
    let host = RevertibleHost::snapshot(&t, &web).unwrap_or_else(|e| panic!("snapshot: {e}"));

    let runtime = xtask::static_runtime::build_static_runtime(&workspace())
        .unwrap_or_else(|e| panic!("cannot build the static runtime: {e:#}"));
    let bundle = xtask::build_patch::build(
        &demo_site::prod::patch_dir("2.0.0"),
        &t.join("bundle"),
        Some(&runtime),
    )
    .unwrap_or_else(|e| panic!("cannot build the 2.0.0 bundle: {e:#}"))
    .path;
    let prepared = started.elapsed();

    // Two runs, each from the snapshot, each rolled back.
    let workdir = t.join("remote/work");
    let good = target(
        &t,
        "target.toml",
        &target_toml(&demo.host_profile, port, &user, "ssh/known_hosts", &workdir),
    );
    let rehearsed = Instant::now();
    let rehearsal = bascule_rehearse::rehearse(
        &good,
        &bundle,
        &RehearsalOptions {
            runs: 2,
            rollback: true,
            dir: t.join("rehearsal"),
        },
    )
    .unwrap_or_else(|e| panic!("the rehearsal did not start: {e}"));
    let rehearsed = rehearsed.elapsed();
    assert_eq!(
        rehearsal.target,
        format!("ssh {user}@127.0.0.1:{port} (revert: sh revert.sh)")
    );
    for run in &rehearsal.runs {
        let console = fs::read_to_string(run.dir.join("console.log")).unwrap_or_default();
        let run_log = fs::read_to_string(run.dir.join("collected/out/run.log")).unwrap_or_default();
        let apply = fs::read_to_string(run.dir.join("collected/out/apply.out")).unwrap_or_default();
        assert!(
            run.succeeded(),
            "run {} failed: {:?}\nconsole:\n{console}\nrun.log:\n{run_log}\napply.out:\n{apply}",
            run.number,
            run.error
        );
        assert!(run.outcome.finished);
        assert_eq!(run.outcome.apply_status, Some(0));
        assert_eq!(run.outcome.rollback_status, Some(0));
        assert_eq!(run.outcome.restored(), Some(true), "run {}", run.number);
        let before = run.outcome.digest_before.as_ref().expect("a digest before");
        assert!(
            before.iter().any(|l| l == "version 1.0.0"),
            "run {} did not start from 1.0.0: {before:?}",
            run.number
        );
        let applied = run.outcome.digest_applied.as_ref().expect("a digest after");
        assert!(applied.iter().any(|l| l == "version 2.0.0"), "{applied:?}");
        for log in ["apply", "rollback"] {
            // The guest's runtime leaves the same report and sheet as a production run.
            for file in ["update.log", "report.html", "intervention.json"] {
                let path = run.dir.join(format!("collected/out/runs/{log}/{file}"));
                assert!(path.is_file(), "{} is missing", path.display());
            }
        }
        assert!(run.dir.join("collected/out/exit_code").is_file());
        assert!(!run.dir.join("payload.tar").exists());
        eprintln!(
            "run {}: revert {:.2}s deliver {:.2}s execute {:.2}s collect {:.2}s (total {:.2}s)",
            run.number,
            run.phases.revert.as_secs_f64(),
            run.phases.deliver.as_secs_f64(),
            run.phases.execute.as_secs_f64(),
            run.phases.collect.as_secs_f64(),
            run.phases.total().as_secs_f64()
        );
    }
    assert!(rehearsal.succeeded());
    assert_eq!(rehearsal.runs.len(), 2);
    assert_eq!(
        rehearsal.runs[0].outcome.digest_before, rehearsal.runs[1].outcome.digest_before,
        "the runs did not start from the same state"
    );
    assert_eq!(host.reverts(), 2, "one revert per run");
    assert!(!workdir.exists(), "the work directory was left behind");

    // A known_hosts holding another key: refused before anything happens to the host.
    let listing = tree_listing(&t.join("host")).expect("list the host");
    let state = HostState::capture(&demo).expect("capture the host");
    assert!(state.web.starts_with("ok 1.0.0"), "web: {}", state.web);
    let wrong = target(
        &t,
        "wrong.toml",
        &target_toml(
            &demo.host_profile,
            port,
            &user,
            "ssh/wrong_known_hosts",
            &workdir,
        ),
    );
    let refused = bascule_rehearse::rehearse(
        &wrong,
        &bundle,
        &RehearsalOptions {
            runs: 1,
            rollback: true,
            dir: t.join("rehearsal-wrong"),
        },
    );
    let err = match refused {
        Ok(r) => panic!("a wrong host key was accepted: {:?}", r.runs),
        Err(e) => e.to_string(),
    };
    eprintln!("refused: {err}");
    assert!(err.contains("the host's key (it sent SHA256:"), "{err}");
    assert!(err.contains("is not the one"), "{err}");
    assert!(err.contains("wrong_known_hosts"), "{err}");
    assert!(err.contains("Host key verification failed"), "{err}");
    assert_eq!(host.reverts(), 2, "the revert ran with a wrong host key");
    assert!(!workdir.exists());
    assert!(!t.join("rehearsal-wrong/run-1").exists());
    assert_eq!(
        tree_listing(&t.join("host")).expect("list the host"),
        listing,
        "the host's files changed"
    );
    HostState::capture(&demo)
        .expect("capture the host")
        .assert_same(&state, "after the refused rehearsal");

    // No known_hosts at all: said so, nothing tried.
    let missing = Target::parse(
        &t.join("missing.toml"),
        &target_toml(&demo.host_profile, port, &user, "ssh/absent", &workdir),
    )
    .expect("parse");
    let err = match bascule_rehearse::drivers::open(&missing) {
        Ok(_) => panic!("a missing known_hosts was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("ssh.known_hosts") && err.contains("does not exist"),
        "{err}"
    );

    // Past the deadline, the ssh client and the remote run are both killed.
    let mut driver = bascule_rehearse::drivers::open(&good).expect("open the driver");
    let run = RunDir {
        dir: t.join("timeout/run-1"),
        number: 1,
    };
    fs::create_dir_all(run.dir.join("payload")).expect("create the run dir");
    fs::write(
        run.dir.join("payload/run.sh"),
        "mkdir -p \"$2\"\nsleep 300 &\necho $! >\"$2/sleeper.pid\"\nwait\n",
    )
    .expect("write run.sh");
    sh(Command::new("tar")
        .arg("-cf")
        .arg(run.payload())
        .arg("-C")
        .arg(run.dir.join("payload"))
        .arg("run.sh"));
    driver.deliver(&run).expect("deliver");
    match driver.execute(&run, Duration::from_secs(2)) {
        Err(DriverError::Timeout { secs: 2, .. }) => {}
        other => panic!("not a timeout: {other:?}"),
    }
    driver.collect(&run).expect("collect");
    let sleeper: u32 = fs::read_to_string(run.collected().join("out/sleeper.pid"))
        .expect("the sleeper's pid came back")
        .trim()
        .parse()
        .expect("a pid");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(sleeper) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!alive(sleeper), "the remote run outlived its timeout");
    assert!(!run.collected().join("out/exit_code").exists());
    assert!(!workdir.exists());
    drop(driver);

    // Nothing of the test keeps running.
    let web_pid = host.service_pid();
    let sshd_pid = sshd.pid();
    drop(host);
    drop(sshd);
    if let Some(pid) = web_pid {
        assert!(!alive(pid), "the web server ({pid}) still runs");
    }
    assert!(!alive(sshd_pid), "sshd ({sshd_pid}) still runs");
    let left = processes_in(&t);
    assert!(left.is_empty(), "processes left running: {left:#?}");
    eprintln!(
        "prepared in {:.1}s, rehearsed (2 runs) in {:.1}s, test {:.1}s",
        prepared.as_secs_f64(),
        rehearsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}
