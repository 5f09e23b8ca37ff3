//! The `ssh` rehearsal driver against a real sshd, with this machine as the "production host".
//!
//! sshd runs from a private configuration on 127.0.0.1 and a free port, with a throwaway host
//! key and client key; when `/run/sshd` (its privilege-separation directory) is missing, it runs
//! in a mount namespace of its own with a tmpfs on `/run`, so the machine is left as it was. The
//! host is a demo 1.0.0 host in a tempdir; the revert command puts it back the way a filesystem
//! snapshot would (stop the `web` service, restore the files, start it again). Guards kill sshd
//! and the demo's server when dropped, so nothing outlives the test, even when it fails.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bascule_rehearse::driver::RunDir;
use bascule_rehearse::{DriverError, RehearsalOptions, Target};
use demo_site::snapshot::{tree_listing, HostState};

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

/// Whether `pid` runs (a zombie does not: it holds no port and runs no code).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Every process whose parent chain leads to `root` (read from /proc).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parents.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            parents
                .iter()
                .filter(|(_, p)| *p == parent)
                .map(|(c, _)| *c),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// Processes whose command line or working directory is under `dir`.
fn processes_in(dir: &Path) -> Vec<String> {
    let needle = dir.to_string_lossy().into_owned();
    let mut found = Vec::new();
    let me = std::process::id().to_string();
    let Ok(entries) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let cmdline = fs::read(entry.path().join("cmdline"))
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .unwrap_or_default();
        let cwd = fs::read_link(entry.path().join("cwd")).unwrap_or_default();
        if cmdline.contains(&needle) || cwd.starts_with(dir) {
            found.push(format!("{pid}: {cmdline} (in {})", cwd.display()));
        }
    }
    found
}

/// sshd, killed with whatever it started when dropped.
struct Sshd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Sshd {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let children = descendants(self.pid());
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in children {
            kill(pid, "KILL");
        }
    }
}

/// A free port on 127.0.0.1 now.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn keygen(path: &Path, comment: &str) {
    sh(Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path));
}

/// `[127.0.0.1]:port <type> <key>` for the public key beside `key`.
fn known_hosts_line(key: &Path, port: u16) -> String {
    let public = fs::read_to_string(key.with_extension("pub")).expect("read a public key");
    let key: Vec<&str> = public.split_whitespace().take(2).collect();
    format!("[127.0.0.1]:{port} {}\n", key.join(" "))
}

/// Starts sshd with keys and a configuration of its own in `dir`, listening on 127.0.0.1.
fn start_sshd(dir: &Path, user: &str) -> Sshd {
    fs::create_dir_all(dir).expect("create the sshd directory");
    keygen(&dir.join("host_key"), "bascule-test-host");
    keygen(&dir.join("client_key"), "bascule-test-client");
    fs::copy(dir.join("client_key.pub"), dir.join("authorized_keys"))
        .expect("write authorized_keys");
    let port = free_port();
    let config = dir.join("sshd_config");
    fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {dir}/host_key\nPidFile {dir}/sshd.pid\n\
             AuthorizedKeysFile {dir}/authorized_keys\nPermitRootLogin prohibit-password\n\
             PubkeyAuthentication yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             AllowUsers {user}\nStrictModes no\nUsePAM no\nX11Forwarding no\nAllowTcpForwarding no\n\
             LogLevel VERBOSE\n",
            dir = dir.display()
        ),
    )
    .expect("write sshd_config");
    // `-e`: sshd logs to stderr.
    let log = dir.join("sshd.log");
    let out = fs::File::create(&log).expect("create the sshd log");
    let err = out.try_clone().expect("clone the sshd log");
    let mut command = if Path::new("/run/sshd").is_dir() {
        let mut sshd = Command::new("/usr/sbin/sshd");
        sshd.args(["-D", "-e", "-f"]).arg(&config);
        sshd
    } else {
        // sshd running as root wants /run/sshd; make it in a tmpfs only this sshd sees.
        let mut unshare = Command::new("unshare");
        unshare
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(
                "mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 0755 /run/sshd \
                 && exec /usr/sbin/sshd -D -e -f \"$0\"",
            )
            .arg(&config);
        unshare
    };
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("start sshd");
    let mut sshd = Sshd { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = fs::read_to_string(&sshd.log).unwrap_or_default();
        if text.contains("Server listening on 127.0.0.1") {
            return sshd;
        }
        if let Ok(Some(status)) = sshd.child.try_wait() {
            panic!("sshd ended ({status}) before listening:\n{text}");
        }
        assert!(Instant::now() < deadline, "sshd does not listen:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The demo's `web` server, whatever started it last (the revert or `bascule apply`), stopped
/// when dropped.
struct Web {
    pid_file: PathBuf,
}

impl Web {
    fn pid(&self) -> Option<u32> {
        fs::read_to_string(&self.pid_file).ok()?.trim().parse().ok()
    }
}

impl Drop for Web {
    fn drop(&mut self) {
        let Some(pid) = self.pid() else { return };
        kill(pid, "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        kill(pid, "KILL");
    }
}

/// The revert command: what a filesystem snapshot rollback does to the demo host.
fn revert_script(start: &str, health_url: &str) -> String {
    format!(
        r#"#!/bin/sh
# Stop the host's service, put the snapshot's files back, start the service again.
cd "$(dirname "$0")" || exit 1
echo "revert" >>reverts.log
alive() {{ [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]; }}
if [ -f host/run/web.pid ]; then
    pid=$(cat host/run/web.pid)
    if [ -n "$pid" ] && alive "$pid"; then
        kill "$pid"
        n=0
        while alive "$pid"; do
            n=$((n + 1)); [ $n -gt 200 ] && {{ echo "web ($pid) does not stop" >&2; exit 1; }}
            sleep 0.05
        done
    fi
fi
rm -rf host && cp -a host.snapshot host || exit 1
cd host || exit 1
{start}
n=0
until curl -fsS -o /dev/null --max-time 1 '{health_url}'; do
    n=$((n + 1)); [ $n -gt 150 ] && {{ echo "web does not answer" >&2; exit 1; }}
    sleep 0.1
done
echo "reverted: web $(cat run/web.pid) answers"
"#
    )
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

fn reverts(dir: &Path) -> usize {
    fs::read_to_string(dir.join("reverts.log"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn rehearses_twice_over_ssh_with_rollback_and_refuses_an_unknown_host_key() {
    let started = Instant::now();
    let tmp = tempfile::tempdir().expect("a tempdir");
    let t = tmp.path().to_path_buf();
    let user = sh(Command::new("id").arg("-un")).trim().to_string();

    let sshd = start_sshd(&t.join("ssh"), &user);
    let port = sshd.port;
    fs::write(
        t.join("ssh/known_hosts"),
        known_hosts_line(&t.join("ssh/host_key"), port),
    )
    .expect("write known_hosts");
    keygen(&t.join("ssh/other_host_key"), "not-the-host");
    fs::write(
        t.join("ssh/wrong_known_hosts"),
        known_hosts_line(&t.join("ssh/other_host_key"), port),
    )
    .expect("write the wrong known_hosts");

    // The production host, and its snapshot.
    xtask::demo_prod::ensure_demo_site_binary().expect("build the demo-site server");
    let demo = demo_site::prod::generate(&t.join("host"), 3).expect("generate the demo host");
    let web = Web {
        pid_file: demo.web_pid_file.clone(),
    };
    sh(Command::new("cp")
        .arg("-a")
        .arg(t.join("host"))
        .arg(t.join("host.snapshot")));
    let profile: toml::Table =
        toml::from_str(&fs::read_to_string(&demo.host_profile).expect("read the host profile"))
            .expect("parse the host profile");
    let web_spec = &profile["services"].as_array().expect("services")[0];
    let start = web_spec["start"].as_str().expect("the web service's start");
    let health = web_spec["health_url"].as_str().expect("its health url");
    fs::write(t.join("revert.sh"), revert_script(start, health)).expect("write revert.sh");

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
            let path = run.dir.join(format!("collected/out/runs/{log}/update.log"));
            assert!(path.is_file(), "{} is missing", path.display());
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
    assert_eq!(reverts(&t), 2, "one revert per run");
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
    assert_eq!(reverts(&t), 2, "the revert ran with a wrong host key");
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
    let web_pid = web.pid();
    let sshd_pid = sshd.pid();
    drop(web);
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
