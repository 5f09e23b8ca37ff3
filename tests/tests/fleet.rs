//! A fleet rollout through Ansible, for real: the `bascule.fleet` collection (runtime/ansible)
//! built and installed with the set-up's `ansible-core`, driving hosts that are network
//! namespaces of this machine (each with its sshd, its platform, its `current` and its web
//! service on its own 127.0.0.1), their databases shared on one MariaDB on the namespaces'
//! bridge. Needs root.
//!
//! One network of seven namespaces and one MariaDB serve two fleets with their own databases:
//!
//! - fleet `a` (3 hosts, rolling mode, batches `[1, 2]`): check mode changes nothing and says
//!   every host would change; the rollout brings every host to 2.0.0 with each migration applied
//!   once, by the `bascule migrate` of the play's first host (every `apply` finds nothing
//!   pending); a second run changes nothing (`changed=0` in the recap);
//! - fleet `b` (4 hosts, downtime mode, one at a time, the third drifted: its service keeps
//!   serving 1.0.0, so the patch's smoke test fails there): the play fails at the third host, the
//!   two done hosts are rolled back latest first — the first one's rollback takes the schema back
//!   with it — every host is exactly as before (state digest, databases, `current`, services
//!   answering), and the fourth host is never touched; then, on its first host, a health gate
//!   that fails after the apply committed: the host rolls itself back in the rescue.
//!
//! The rollout's and the no-op run's times are printed, not asserted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bascule::host::HostProfile;
use bascule_db::{self as db, DbTarget, Location};
use bascule_tests::{demo_site_binary, static_runtime, text, untar, workspace};
use demo_site::fleet::{fleet_patch, generate_fleet, FleetDatabase, FleetHost, WEB_PORT};
use testdb::MariaDb;
use testhosts::{Fleet, Namespace};

/// The venv `scripts/setup.sh` makes; its absence fails the test.
fn venv_bin(program: &str) -> PathBuf {
    let path = workspace().join("target/ansible-venv/bin").join(program);
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/setup.sh` (it installs ansible-core in target/ansible-venv)",
        path.display()
    );
    path
}

/// The controller's side: the collection built and installed offline, an ansible.cfg.
struct Controller {
    dir: PathBuf,
    config: PathBuf,
    /// ssh's control sockets: a short path (the masters end with the sshds they talk to).
    control: PathBuf,
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.control);
    }
}

impl Controller {
    fn new(dir: &Path) -> Controller {
        std::fs::create_dir_all(dir).unwrap();
        let build = dir.join("build");
        let collections = dir.join("collections");
        run_ok(
            Command::new(venv_bin("ansible-galaxy"))
                .args(["collection", "build", "--force", "--output-path"])
                .arg(&build)
                .arg(workspace().join("runtime/ansible")),
        );
        let tarball = std::fs::read_dir(&build)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
            .expect("ansible-galaxy built no collection tarball");
        run_ok(
            Command::new(venv_bin("ansible-galaxy"))
                .args(["collection", "install", "--offline", "--force", "-p"])
                .arg(&collections)
                .arg(&tarball),
        );
        assert!(collections
            .join("ansible_collections/bascule/fleet/plugins/modules/bascule.py")
            .is_file());
        let control = PathBuf::from(format!("/tmp/bfleet-{}", std::process::id()));
        std::fs::create_dir_all(&control).unwrap();
        let config = dir.join("ansible.cfg");
        std::fs::write(
            &config,
            format!(
                "[defaults]\ncollections_path = {collections}\nforks = 10\nnocolor = True\n\
                 retry_files_enabled = False\nlocal_tmp = {dir}/local-tmp\n\
                 interpreter_python = /usr/bin/python3\n\n\
                 [ssh_connection]\npipelining = True\ncontrol_path_dir = {control}\n\
                 ssh_args = -o ControlMaster=auto -o ControlPersist=60s\n",
                collections = collections.display(),
                dir = dir.display(),
                control = control.display(),
            ),
        )
        .unwrap();
        Controller {
            dir: dir.to_path_buf(),
            config,
            control,
        }
    }

    /// `ansible-playbook bascule.fleet.rollout` on `inventory`, with `args`.
    fn playbook(&self, inventory: &Path, args: &[&str]) -> Output {
        Command::new(venv_bin("ansible-playbook"))
            .arg("-i")
            .arg(inventory)
            .arg("bascule.fleet.rollout")
            .args(args)
            .env("ANSIBLE_CONFIG", &self.config)
            .env("ANSIBLE_NOCOLOR", "1")
            .env("PYTHONWARNINGS", "ignore")
            .env("HOME", &self.dir)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }
}

fn run_ok(command: &mut Command) -> String {
    let out = command
        .env("PYTHONWARNINGS", "ignore")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{command:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A fleet's hosts, each with its namespace.
struct Hosts<'a> {
    name: &'static str,
    hosts: Vec<(FleetHost, &'a Namespace)>,
}

impl Hosts<'_> {
    fn inventory_name(&self, i: usize) -> String {
        format!("{}-{i}", self.name)
    }

    /// A YAML (JSON) inventory of the hosts, in order, with the role's variables.
    fn inventory(&self, fleet: &Fleet, tarball: &Path, into: &Path) -> PathBuf {
        let hosts: serde_json::Map<String, serde_json::Value> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, (host, ns))| {
                (
                    self.inventory_name(i),
                    serde_json::json!({
                        "ansible_host": ns.address().to_string(),
                        "bascule_host_profile": host.host_profile,
                        "bascule_bundles_dir": host.dir.join("bundles"),
                        "bascule_trusted_runtime": host.state_dir.join("bin/bascule"),
                    }),
                )
            })
            .collect();
        let inventory = serde_json::json!({
            "platform": {
                "hosts": hosts,
                "vars": {
                    "ansible_user": "root",
                    "ansible_ssh_private_key_file": fleet.client_key(),
                    "ansible_ssh_common_args": fleet.ssh_options().join(" "),
                    "ansible_python_interpreter": "/usr/bin/python3",
                    "bascule_tarball": tarball,
                    "bascule_yes": true,
                    "bascule_allow_forbidden_time": "the fleet test runs on any day",
                    "bascule_lock_timeout": 120,
                    "bascule_health_url": format!("http://127.0.0.1:{WEB_PORT}/_health"),
                    "bascule_health_expect": "ok 2.0.0",
                    "bascule_health_retries": 5,
                    "bascule_health_delay": 1,
                }
            }
        });
        let path = into.join(format!("inventory-{}.json", self.name));
        std::fs::write(&path, serde_json::to_string_pretty(&inventory).unwrap()).unwrap();
        path
    }

    fn start_services(&self) {
        for (host, ns) in &self.hosts {
            let profile = HostProfile::load(&host.host_profile).unwrap();
            let start = profile.services[0].start.clone().unwrap();
            let status = ns
                .command("sh")
                .args(["-c", &start])
                .current_dir(&host.dir)
                .stdin(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success(), "{}: cannot start web", ns.name());
        }
        for (_, ns) in &self.hosts {
            health(ns);
        }
    }

    /// `bascule digest --host` on each host, inside its namespace (services are checked there).
    fn digests(&self, bundle: &Path) -> Vec<String> {
        self.hosts
            .iter()
            .map(|(host, ns)| {
                let out = ns
                    .command(bundle.join("bin/bascule"))
                    .arg("digest")
                    .arg("--host")
                    .arg(&host.host_profile)
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert!(out.status.success(), "digest: {}", text(&out));
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
            .collect()
    }

    fn currents(&self) -> Vec<PathBuf> {
        self.hosts
            .iter()
            .map(|(host, _)| std::fs::read_link(host.current()).unwrap())
            .collect()
    }

    fn healths(&self) -> Vec<String> {
        self.hosts.iter().map(|(_, ns)| health(ns)).collect()
    }
}

/// `/_health` of the host's web service, from inside its namespace, once it answers.
fn health(ns: &Namespace) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let out = ns
            .command("curl")
            .args(["-s", "--max-time", "5"])
            .arg(format!("http://127.0.0.1:{WEB_PORT}/_health"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        if out.status.success() && !out.stdout.is_empty() {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        assert!(Instant::now() < deadline, "{} does not answer", ns.name());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What identifies the content of every database of `prefix`: columns, indexes, each table's
/// checksum, the version table's rows; read as root, beside the hosts.
fn database_checksums(server: &MariaDb, prefix: &str) -> BTreeMap<String, Vec<Vec<String>>> {
    let target = |database: &str| DbTarget {
        class: "check".into(),
        name: database.into(),
        location: Location::Mysql {
            url: server.url(),
            database: database.into(),
        },
    };
    let rows = |database: &str, sql: &str| {
        db::connect(&target(database))
            .and_then(|mut c| c.query_rows(sql))
            .unwrap_or_else(|e| panic!("{database}: {sql}: {e}"))
    };
    let like = format!("{}%", prefix.replace('_', "\\_"));
    let databases = rows(
        "information_schema",
        &format!(
            "SELECT schema_name FROM information_schema.schemata \
             WHERE schema_name LIKE '{like}' ORDER BY schema_name"
        ),
    );
    assert!(!databases.is_empty(), "no database of prefix {prefix}");
    let mut all = BTreeMap::new();
    for database in databases.iter().map(|row| row[0].clone()) {
        let mut facts = rows(
            &database,
            "SELECT table_name, column_name, column_type, is_nullable, column_default \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             ORDER BY table_name, ordinal_position",
        );
        facts.extend(rows(
            &database,
            "SELECT table_name, index_name, seq_in_index, column_name, non_unique \
             FROM information_schema.statistics WHERE table_schema = DATABASE() \
             ORDER BY table_name, index_name, seq_in_index",
        ));
        let tables = rows(
            &database,
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = DATABASE() ORDER BY table_name",
        );
        for table in tables.iter().map(|row| row[0].clone()) {
            facts.extend(rows(
                &database,
                &format!("CHECKSUM TABLE `{table}` EXTENDED"),
            ));
        }
        all.insert(database, facts);
    }
    all
}

/// The rows of `database`'s version table, their first column: one per migration recorded.
fn version_rows(server: &MariaDb, database: &str) -> Vec<String> {
    let target = DbTarget {
        class: "check".into(),
        name: database.into(),
        location: Location::Mysql {
            url: server.url(),
            database: database.into(),
        },
    };
    db::connect(&target)
        .and_then(|mut c| c.query_rows("SELECT * FROM bascule_migrations ORDER BY 1"))
        .unwrap_or_else(|e| panic!("{database}: {e}"))
        .into_iter()
        .map(|row| row.first().cloned().unwrap_or_default())
        .collect()
}

/// `PLAY RECAP`: host → counter → value.
fn recap(out: &Output) -> BTreeMap<String, BTreeMap<String, u32>> {
    let said = String::from_utf8_lossy(&out.stdout);
    let lines = said
        .lines()
        .skip_while(|l| !l.starts_with("PLAY RECAP"))
        .skip(1);
    let mut hosts = BTreeMap::new();
    for line in lines {
        let Some((host, counters)) = line.split_once(" : ") else {
            continue;
        };
        let counters = counters
            .split_whitespace()
            .filter_map(|c| c.split_once('='))
            .map(|(k, v)| (k.to_string(), v.parse().unwrap_or(u32::MAX)))
            .collect();
        hosts.insert(host.trim().to_string(), counters);
    }
    assert!(!hosts.is_empty(), "no PLAY RECAP in:\n{}", text(out));
    hosts
}

/// The result lines of the task named `task`, every batch's: `changed: [a-0]`, …
fn task_lines(out: &Output, task: &str) -> Vec<String> {
    let said = String::from_utf8_lossy(&out.stdout);
    let header = format!("TASK [bascule.fleet.rollout : {task}]");
    let mut found = Vec::new();
    let mut inside = false;
    for line in said.lines() {
        if line.starts_with("TASK [") || line.starts_with("PLAY") {
            inside = line.starts_with(&header);
            continue;
        }
        if inside
            && [
                "ok: [",
                "changed: [",
                "skipping: [",
                "fatal: [",
                "failed: [",
            ]
            .iter()
            .any(|s| line.starts_with(s))
        {
            found.push(line.chars().take(120).collect());
        }
    }
    found
}

/// The status each host's result line of `task` starts with: host → `ok`, `changed`, `fatal`…
fn task_status(out: &Output, task: &str) -> BTreeMap<String, String> {
    task_lines(out, task)
        .iter()
        .filter_map(|line| {
            let (status, rest) = line.split_once(": [")?;
            let host = rest.split([']', ' ']).next()?;
            Some((host.to_string(), status.to_string()))
        })
        .collect()
}

/// Each host's runs, sorted, as `<kind> <outcome> migrated=<n>`: from their journals
/// (`bascule status` lists them, `bascule report --format json` reads each).
fn runs_of(hosts: &Hosts<'_>, bundle: &Path) -> Vec<Vec<String>> {
    let json = |host: &FleetHost, args: &[&str]| -> serde_json::Value {
        let out = Command::new(bundle.join("bin/bascule"))
            .args(args)
            .args(["--format", "json", "--host"])
            .arg(&host.host_profile)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    hosts
        .hosts
        .iter()
        .map(|(host, _)| {
            let status = json(host, &["status", "--last", "20"]);
            let mut runs: Vec<String> = status["runs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|run| {
                    let id = run["run"].as_str().unwrap();
                    let view = json(host, &["report", id]);
                    let migrated: u64 = view["classes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["migrated"].as_u64().unwrap())
                        .sum();
                    format!(
                        "{} {} migrated={migrated}",
                        view["kind"].as_str().unwrap(),
                        view["outcome"].as_str().unwrap()
                    )
                })
                .collect();
            // Sorted: run ids have a one-second resolution, so a migrate and the apply after it
            // may share their second, and `status` then lists them by name.
            runs.sort();
            runs
        })
        .collect()
}

fn assert_played(out: &Output, ok: bool) {
    assert_eq!(out.status.success(), ok, "ansible-playbook: {}", text(out));
}

/// Fleet `a`'s play: rolling mode, one host then two.
const ROLLING: &str = r#"{"bascule_serial": [1, 2], "bascule_mode": "rolling"}"#;

#[test]
fn a_fleet_rollout_through_ansible_applies_once_stops_and_rolls_every_host_back() {
    // Before anything is built: without the set-up's venv the test fails, saying so.
    venv_bin("ansible-playbook");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    demo_site_binary();

    // The bundle: the fleet's 2.0.0 (the demo's MariaDB patch with a /_health smoke test).
    let patch = fleet_patch(&dir.join("patch")).unwrap();
    let built = xtask::build_patch::build(&patch, &dir.join("bundles"), Some(static_runtime()))
        .unwrap_or_else(|e| panic!("cannot build the fleet's bundle: {e:#}"));
    let bundle = untar(&built.path, &dir.join("controller-bundle")).unwrap();
    let controller = Controller::new(&dir.join("controller"));

    // Seven namespaces with their sshds; one MariaDB on the bridge.
    let fleet = Fleet::start(&dir.join("fleet"), 7).unwrap();
    let bridge = fleet.network().bridge_address();
    let server = MariaDb::start_on(bridge.into()).unwrap();
    let octets = bridge.octets();
    let password = "fleet-pass-0f3c";
    server
        .create_user(
            "fleet",
            password,
            &format!("{}.{}.{}.%", octets[0], octets[1], octets[2]),
        )
        .unwrap();
    let url = server.url_on("fleet").unwrap();
    let database = |prefix: &str| FleetDatabase {
        url: url.clone(),
        password: password.into(),
        prefix: prefix.into(),
    };
    let namespaces = fleet.network().hosts();
    let a = Hosts {
        name: "a",
        hosts: generate_fleet(&dir.join("a"), &database("fa_"), 3, &[])
            .unwrap()
            .into_iter()
            .zip(&namespaces[0..3])
            .collect(),
    };
    let b = Hosts {
        name: "b",
        hosts: generate_fleet(&dir.join("b"), &database("fb_"), 4, &[2])
            .unwrap()
            .into_iter()
            .zip(&namespaces[3..7])
            .collect(),
    };
    a.start_services();
    b.start_services();
    let inventory_a = a.inventory(&fleet, &built.path, dir);
    let inventory_b = b.inventory(&fleet, &built.path, dir);

    // (a) Check mode on a fresh fleet: every host would change, nothing does.
    let digests = a.digests(&bundle);
    let databases = database_checksums(&server, "fa_");
    let out = controller.playbook(&inventory_a, &["--check", "-e", ROLLING]);
    assert_played(&out, true);
    for (host, counters) in recap(&out) {
        assert!(
            counters["changed"] > 0,
            "{host} would change: {}",
            text(&out)
        );
        assert_eq!(counters["failed"], 0, "{}", text(&out));
    }
    let apply = task_status(&out, "Apply the bundle");
    assert_eq!(apply.len(), 3, "{}", text(&out));
    assert!(apply.values().all(|s| s == "changed"), "{apply:?}");
    assert_eq!(a.digests(&bundle), digests, "check mode changed a host");
    assert_eq!(database_checksums(&server, "fa_"), databases);
    assert!(a.hosts.iter().all(|(h, _)| !h.dir.join("bundles").exists()));
    eprintln!("(a) check mode: every host would change, none did");

    // (b) The rollout: every host on 2.0.0, each migration applied once, by the first host.
    let started = Instant::now();
    let out = controller.playbook(&inventory_a, &["-e", ROLLING]);
    let rollout = started.elapsed();
    assert_played(&out, true);
    for (host, _) in &a.hosts {
        assert_eq!(
            std::fs::read_link(host.current()).unwrap(),
            Path::new("releases/2.0.0"),
            "{}",
            text(&out)
        );
    }
    assert_eq!(a.healths(), vec!["ok 2.0.0"; 3]);
    for name in ["fa_main", "fa_site_0001", "fa_site_0002", "fa_site_0003"] {
        let rows = version_rows(&server, name);
        assert_eq!(rows.len(), 2, "{name}: one row per migration: {rows:?}");
    }
    // Rolling mode: `bascule migrate` on the play's first host only, then `apply` everywhere.
    let runs = runs_of(&a, &bundle);
    assert_eq!(
        runs,
        vec![
            vec!["apply committed migrated=0", "migrate committed migrated=4"],
            vec!["apply committed migrated=0"],
            vec!["apply committed migrated=0"],
        ],
        "{}",
        text(&out)
    );
    eprintln!(
        "(b) rolling rollout of 2.0.0 over {} hosts in batches [1, 2]: {:.1} s; runs: {runs:?}",
        a.hosts.len(),
        rollout.as_secs_f64()
    );

    // (c) A second run changes nothing.
    let started = Instant::now();
    let out = controller.playbook(&inventory_a, &["-e", ROLLING]);
    let noop = started.elapsed();
    assert_played(&out, true);
    let counted = recap(&out);
    assert_eq!(counted.len(), 3);
    for (host, counters) in &counted {
        assert_eq!(counters["changed"], 0, "{host}: {}", text(&out));
    }
    assert_eq!(
        runs_of(&a, &bundle),
        runs,
        "the second run started a bascule run"
    );
    eprintln!(
        "(c) second run: changed=0 on every host, no bascule run started, {:.1} s",
        noop.as_secs_f64()
    );

    // (d) The third host drifted: the play stops there and every host is back as it was.
    let digests = b.digests(&bundle);
    let databases = database_checksums(&server, "fb_");
    let currents = b.currents();
    let started = Instant::now();
    let out = controller.playbook(&inventory_b, &["-e", r#"{"bascule_serial": 1}"#]);
    let failed = started.elapsed();
    assert_played(&out, false);
    let counted = recap(&out);
    assert_eq!(counted["b-2"]["failed"], 1, "{}", text(&out));
    assert_eq!(counted["b-2"]["rescued"], 1, "{}", text(&out));
    assert!(
        !counted.contains_key("b-3"),
        "b-3 was never played: {}",
        text(&out)
    );
    assert_eq!(
        task_status(&out, "Apply the bundle")["b-2"],
        "fatal",
        "{}",
        text(&out)
    );
    // Skipped in the batches that went well; then run by the failed batch's host on each done one.
    let rolled_back: Vec<String> =
        task_lines(&out, "Roll back every host this play changed, latest first")
            .into_iter()
            .filter(|line| line.contains(" -> "))
            .collect();
    assert_eq!(rolled_back.len(), 2, "{rolled_back:?}");
    assert!(
        rolled_back[0].starts_with("changed: [b-2 -> b-1"),
        "{rolled_back:?}"
    );
    assert!(
        rolled_back[1].starts_with("changed: [b-2 -> b-0"),
        "{rolled_back:?}"
    );
    assert_eq!(b.digests(&bundle), digests, "a host is not as it was");
    assert_eq!(database_checksums(&server, "fb_"), databases);
    assert_eq!(b.currents(), currents);
    assert_eq!(b.healths(), vec!["ok 1.0.0"; 4]);
    let untouched = &b.hosts[3].0;
    assert!(
        !untouched.dir.join("bundles").exists(),
        "b-3 got the bundle"
    );
    assert!(
        std::fs::read_dir(untouched.state_dir.join("runs"))
            .map_or(true, |mut d| d.next().is_none()),
        "b-3 ran bascule"
    );
    eprintln!(
        "(d) third host drifted: failed there, b-1 then b-0 rolled back, b-3 untouched, every \
         host as before; {:.1} s",
        failed.as_secs_f64()
    );

    // (e) The health gate fails after a committed apply: the rescue rolls that host back itself.
    let out = controller.playbook(
        &inventory_b,
        &[
            "--limit",
            "b-0:b-1",
            "-e",
            r#"{"bascule_serial": 1, "bascule_health_expect": "ok 9.9.9", "bascule_health_retries": 1}"#,
        ],
    );
    assert_played(&out, false);
    assert_eq!(task_status(&out, "Apply the bundle")["b-0"], "changed");
    assert_eq!(task_status(&out, "Health gate")["b-0"], "fatal");
    assert_eq!(
        task_status(
            &out,
            "Roll this host back (its apply committed, then the gate failed)"
        )["b-0"],
        "changed",
        "{}",
        text(&out)
    );
    assert!(!recap(&out).contains_key("b-1"), "{}", text(&out));
    assert_eq!(b.digests(&bundle), digests, "a host is not as it was");
    assert_eq!(database_checksums(&server, "fb_"), databases);
    assert_eq!(b.healths(), vec!["ok 1.0.0"; 4]);
    eprintln!("(e) health gate failed after b-0's apply committed: b-0 rolled itself back");

    eprintln!(
        "fleet of 3 hosts: rollout {:.1} s, no-op run {:.1} s",
        rollout.as_secs_f64(),
        noop.as_secs_f64()
    );
}
