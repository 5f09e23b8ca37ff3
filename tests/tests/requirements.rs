//! Versions in requirements, on real software of this machine: nginx as `nginx -v` reports it,
//! the OS release from `/etc/os-release`, the SQLite the runtime embeds. A host outside a range
//! is refused before any change (host state compared), a host within passes; `plan` lists
//! them; every run records the host's fingerprint.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use bascule_tests::{
    bascule, copy_dir, generate, patch_dir, static_runtime, text, untar, workspace,
};
use bascule_tests::{DemoHost, HostState};

/// A 2.0.0 bundle whose patch.toml has `extra` appended, built once per `name`.
fn bundle_with(name: &str, extra: &str, into: &Path) -> PathBuf {
    static BUILT: OnceLock<Mutex<BTreeMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    let tarball = built.entry(name.to_string()).or_insert_with(|| {
        let work = workspace()
            .join("target/test-patches")
            .join(format!("{}-requirements", std::process::id()))
            .join(name);
        let patch = work.join("2.0.0");
        let _ = std::fs::remove_dir_all(&patch);
        copy_dir(&patch_dir("2.0.0"), &patch);
        // The patch sits 5 levels below the workspace.
        let toml = std::fs::read_to_string(patch.join("patch.toml"))
            .unwrap()
            .replace(
                "\"../../code-v2\"",
                "\"../../../../../fixtures/demo-platform/code-v2\"",
            );
        std::fs::write(patch.join("patch.toml"), format!("{toml}\n{extra}")).unwrap();
        xtask::build_patch::build(&patch, &work.join("out"), Some(static_runtime()))
            .unwrap_or_else(|e| panic!("cannot build {}: {e:#}", patch.display()))
            .path
    });
    untar(tarball, into).unwrap()
}

/// nginx's version as nginx prints it (`nginx version: nginx/1.22.1`, on standard error).
fn nginx_version() -> String {
    let out = Command::new(nginx())
        .arg("-v")
        .output()
        .expect("nginx is installed by scripts/setup.sh");
    let printed = String::from_utf8_lossy(&out.stderr).into_owned();
    printed
        .split("nginx/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("nginx -v printed {printed:?}"))
        .to_string()
}

fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is installed by scripts/setup.sh")
}

/// PATH with nginx's directory on it (an unprivileged PATH may lack /usr/sbin).
fn path_with_nginx() -> String {
    let dir = nginx().parent().unwrap().display().to_string();
    format!("{}:{dir}", std::env::var("PATH").unwrap_or_default())
}

fn os_release(field: &str) -> String {
    let text = std::fs::read_to_string("/etc/os-release").expect("/etc/os-release");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{field}=")))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_else(|| panic!("no {field} in /etc/os-release"))
}

fn run(bundle: &Path, demo: &DemoHost, args: &[&str]) -> std::process::Output {
    let path = path_with_nginx();
    bascule(
        bundle,
        demo,
        args,
        &[("BASCULE_TODAY", "tue"), ("PATH", path.as_str())],
    )
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_host_below_a_version_range_is_refused_before_any_change_and_plan_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), 3).unwrap();
    let bundle = bundle_with(
        "too-new",
        "[requirements.software]\nnginx = \">=1.99\"\n\n[requirements.os]\nversion = \">=999\"\n",
        &dir.path().join("delivery"),
    );
    let found = nginx_version();
    let release = os_release("VERSION_ID");

    let plan = run(&bundle, &demo, &["plan"]);
    assert!(plan.status.success(), "{}", text(&plan));
    let plan = stdout(&plan);
    assert!(plan.contains("\nRequirements\n"), "{plan}");
    let nginx_line = plan
        .lines()
        .find(|l| l.trim_start().starts_with("nginx >=1.99"))
        .unwrap_or_else(|| panic!("no nginx line in:\n{plan}"));
    assert!(
        nginx_line.contains(" NO ") && nginx_line.contains(&found),
        "{nginx_line}"
    );
    assert!(plan.contains("`bascule apply` would refuse"), "{plan}");

    let before = HostState::capture(&demo).unwrap();
    let out = run(&bundle, &demo, &["apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains("FAILED at step `preflight`"),
        "{}",
        text(&out)
    );
    assert!(
        said.contains(&format!(
            "nginx >=1.99 (patch.toml requirements.software.nginx): {found} is outside `>=1.99`"
        )),
        "{}",
        text(&out)
    );
    assert!(
        said.contains(&format!(
            "OS release >=999 (patch.toml requirements.os.version): {release} is outside `>=999`"
        )),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "refused for its requirements");
}

/// Within every range, and with a patch that requires a rehearsal it never had: `plan` says it
/// would refuse, `apply` refuses (host unchanged), then runs with the operator's reason, which
/// its report keeps; the run records the host's fingerprint.
#[test]
fn a_host_within_every_range_passes_and_its_run_records_the_fingerprint() {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), 3).unwrap();
    let id = os_release("ID");
    let release = os_release("VERSION_ID");
    let bundle = bundle_with(
        "within",
        &format!(
            "[requirements.software]\nnginx = \">=1.18\"\n\n\
             [requirements.os]\nid = \"{id}\"\nversion = \">={release}\"\n\n\
             [requirements.servers]\nmain = \">=3.30\"\nsite = \">=3.30\"\n\n\
             [fingerprint]\nrequire_rehearsal = true\n"
        ),
        &dir.path().join("delivery"),
    );
    let _services = demo.start_services().unwrap();
    let plan = stdout(&run(&bundle, &demo, &["plan"]));
    let found = nginx_version();
    let nginx_line = plan
        .lines()
        .find(|l| l.trim_start().starts_with("nginx >=1.18"))
        .unwrap_or_else(|| panic!("no nginx line in:\n{plan}"));
    assert!(
        nginx_line.contains(" ok ") && nginx_line.contains(&found),
        "{nginx_line}"
    );
    assert!(
        plan.contains("NOT REHEARSED: no rehearsal record"),
        "{plan}"
    );
    assert!(
        plan.contains("the patch requires it ([fingerprint] require_rehearsal)"),
        "{plan}"
    );

    // A record given with --rehearsal is the one read; one made for another bundle proves
    // nothing about this one.
    let other = dir.path().join("elsewhere.rehearsal.json");
    std::fs::write(
        &other,
        r#"{"version": "2.0.0", "bundle_digest": "0000", "rehearsals": []}"#,
    )
    .unwrap();
    let plan = stdout(&run(
        &bundle,
        &demo,
        &["plan", "--rehearsal", other.to_str().unwrap()],
    ));
    assert!(
        plan.contains(&format!(
            "NOT REHEARSED: {} records the rehearsal of another bundle (digest 0000",
            other.display()
        )),
        "{plan}"
    );

    let before = HostState::capture(&demo).unwrap();
    let refused = run(&bundle, &demo, &["apply"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        stdout(&refused).contains("this bundle was not rehearsed"),
        "{}",
        text(&refused)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "refused for want of a rehearsal");

    let reason = "hotfix: the rehearsal guest is being rebuilt";
    let out = run(&bundle, &demo, &["apply", "--accept-differences", reason]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let said = stdout(&out);
    assert!(
        said.contains(&format!("requirement nginx >=1.18: {found} found")),
        "{said}"
    );
    assert!(
        said.contains("NOTE: not rehearsed (no rehearsal record"),
        "{said}"
    );

    let run_dir = said
        .lines()
        .find_map(|l| l.split(": log and journal in ").nth(1))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no run directory in:\n{said}"));
    let fingerprint: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("fingerprint.json")).unwrap())
            .unwrap();
    let facts = &fingerprint["facts"];
    assert_eq!(facts["software.nginx"], found.as_str());
    assert_eq!(facts["os.id"], id.as_str());
    assert_eq!(facts["os.version_id"], release.as_str());
    assert_eq!(facts["platform.case_sensitive"], "yes");
    assert_eq!(facts["db.site.engine"], "sqlite");
    assert_eq!(facts["db.main.encoding"], "UTF-8");
    let kernel = Command::new("uname").arg("-r").output().unwrap();
    assert_eq!(
        facts["kernel"],
        String::from_utf8_lossy(&kernel.stdout).trim()
    );
    for file in ["report.txt", "update.log"] {
        let content = std::fs::read_to_string(run_dir.join(file)).unwrap();
        assert!(content.contains(reason), "{file}:\n{content}");
    }

    // `bascule fingerprint` prints the same facts.
    let printed = stdout(&run(&bundle, &demo, &["fingerprint"]));
    assert!(
        printed
            .lines()
            .any(|l| l.starts_with("software.nginx") && l.ends_with(&found)),
        "{printed}"
    );
}
