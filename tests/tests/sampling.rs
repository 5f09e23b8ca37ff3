//! Core sampling and smoke tests end to end: real HTTP, real bundles, real demo hosts.
//!
//! - normalisation over HTTP: a page that embeds a fresh CSRF token and timestamp at every
//!   request compares equal with itself; a changed price in its product list does not;
//! - an undeclared HTML difference (`2.0.0-regression`: the shop drops the cents) and a failing
//!   smoke test each roll the whole run back: services on the old code, old `current`,
//!   databases identical (host state compared);
//! - the acceptance gate: `bascule abort` from another process rolls back, `bascule accept`
//!   lets the run finish.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bascule::http::{Client, Roots};
use bascule::sampling::compare::compare;
use bascule::sampling::fetch::fetch_all;
use bascule::sampling::panel::Target;
use bascule::sampling::ClassPanel;
use bascule_patch::Moment;
use bascule_tests::{bascule, generate, run_dir_of, text, untar, workspace, DemoHost, HostState};

/// A shop page with a fresh CSRF token and "generated at" time per request; `cents` says
/// whether prices show their cents.
fn serve_shop(cents: Arc<AtomicBool>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let counter = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let cents = cents.load(Ordering::SeqCst);
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let price = if cents { "12.90" } else { "12" };
            let body = format!(
                "<!DOCTYPE html>\n<html><head><meta name=\"csrf-token\" content=\"tok{n:08x}\"></head>\n<body>\n\
                 <form method=\"post\"><input type=\"hidden\" name=\"authenticity_token\" value=\"a{n}b{n}\"></form>\n\
                 <table class=\"products\">\n<tr><td>Ceramic mug</td><td class=\"price\">{price} €</td></tr>\n</table>\n\
                 <footer>generated at 2024-06-04T10:{:02}:{:02}Z</footer>\n</body></html>\n",
                n % 60,
                (n * 7) % 60
            );
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn over_http_fresh_tokens_and_timestamps_compare_equal_and_a_changed_price_does_not() {
    let cents = Arc::new(AtomicBool::new(true));
    let addr = serve_shop(Arc::clone(&cents));
    let dir = tempfile::tempdir().unwrap();
    let targets = vec![Target {
        class: "site".into(),
        site: "shop-1".into(),
        page: "shop".into(),
        url: format!("http://{addr}/shop-1/shop"),
    }];
    let panels: BTreeMap<String, ClassPanel> = BTreeMap::from([(
        "site".to_string(),
        ClassPanel {
            pages: vec!["shop".into()],
            ..ClassPanel::default()
        },
    )]);
    let client = Client::new(Duration::from_secs(5), &Roots::public());
    let fetch = |moment| fetch_all(&targets, &panels, &client, 2, dir.path(), moment).unwrap();

    let before = fetch(Moment::Before);
    let again = fetch(Moment::After);
    let raw_before =
        std::fs::read_to_string(dir.path().join("before/site/shop-1/shop.raw.html")).unwrap();
    let raw_after =
        std::fs::read_to_string(dir.path().join("after/site/shop-1/shop.raw.html")).unwrap();
    assert_ne!(
        raw_before, raw_after,
        "the server sends a fresh token and time"
    );
    let same = compare(&before, &again, &panels, &dir.path().join("diff")).unwrap();
    assert!(same.passed(), "{}", same.report(3));

    cents.store(false, Ordering::SeqCst);
    let changed = fetch(Moment::After);
    let comparison = compare(&before, &changed, &panels, &dir.path().join("diff")).unwrap();
    assert!(!comparison.passed());
    let report = comparison.report(3);
    assert!(
        report.contains("-<tr><td>Ceramic mug</td><td class=\"price\">12.90 €</td></tr>"),
        "{report}"
    );
    assert!(
        report.contains("+<tr><td>Ceramic mug</td><td class=\"price\">12 €</td></tr>"),
        "{report}"
    );
    assert!(dir.path().join("diff/site/shop-1/shop.diff").is_file());
}

fn setup(sites: usize, bundle: &Path) -> (tempfile::TempDir, DemoHost, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), sites).unwrap();
    let bundle = untar(bundle, &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

/// A real HTTP GET of `path` on the demo app: (status, body).
fn get(demo: &DemoHost, path: &str) -> (u16, String) {
    let response = Client::new(Duration::from_secs(5), &Roots::public())
        .get(&format!("{}{path}", demo.base_url()))
        .unwrap();
    (response.status, response.body)
}

/// The one run directory of the demo host.
fn only_run(demo: &DemoHost) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(demo.state_dir.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    runs[0].clone()
}

#[test]
fn an_undeclared_html_difference_rolls_everything_back() {
    let bundle = bascule_tests::fixture_bundle("2.0.0-regression");
    let (_dir, demo, bundle) = setup(12, &bundle);
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let shop = format!("/{}/shop", demo.sites[0]);
    let shop_before = get(&demo, &shop);
    assert_eq!(shop_before.0, 200);

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAILED at step `sample-after`"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("site/shop"), "{}", text(&out));
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("-<tr><td>") && l.contains(".")),
        "the old price, with cents, is shown: {}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "undeclared difference");
    assert_eq!(
        get(&demo, &shop),
        shop_before,
        "the old shop page is served again"
    );

    let run = only_run(&demo);
    let diff =
        std::fs::read_to_string(run.join(format!("samples/diff/site/{}/shop.diff", demo.sites[0])))
            .unwrap();
    assert!(diff.contains("class=\"price\""), "{diff}");
    let report = std::fs::read_to_string(run.join("samples/report.txt")).unwrap();
    assert!(report.contains("site/team"), "{report}");
    // The run's report page shows the comparison and each page's diff.
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        page.contains(&format!("<code>site/{}/shop.diff</code>", demo.sites[0])),
        "{page}"
    );
    assert!(
        page.contains("class=&quot;price&quot;"),
        "the diff, escaped: {page}"
    );
    for page in ["home", "team", "blog", "shop"] {
        assert!(
            run.join(format!(
                "samples/before/site/{}/{page}.raw.html",
                demo.sites[0]
            ))
            .is_file(),
            "{page} sampled before"
        );
    }
}

/// An HTTP server answering every request with 500 and an error page.
fn serve_errors() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let body = "database connection lost\nretry later\n";
            let _ = write!(
                stream,
                "HTTP/1.1 500 Internal Server Error\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

#[test]
fn a_failing_smoke_test_rolls_everything_back_and_shows_the_response() {
    let bundle = bascule_tests::fixture_bundle("2.0.0");
    let (_dir, demo, bundle) = setup(6, &bundle);
    // The health check (path "/_health" on [sampling] base_url) goes to a server that fails.
    let broken = serve_errors();
    let profile = std::fs::read_to_string(&demo.host_profile).unwrap();
    let base = format!("base_url = \"{}\"", demo.base_url());
    assert!(profile.contains(&base), "{profile}");
    std::fs::write(
        &demo.host_profile,
        profile.replace(&base, &format!("base_url = \"http://{broken}\"")),
    )
    .unwrap();
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();

    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAILED at step `smoke`"), "{}", text(&out));
    assert!(
        stdout.contains("smoke test `health`: expected HTTP 200"),
        "{}",
        text(&out)
    );
    assert!(
        stdout.contains("database connection lost"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "failing smoke test");
}

/// The 2.0.0 patch with `[acceptance] enabled`, built once per test process.
fn gated_bundle() -> PathBuf {
    static BUNDLE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUNDLE
        .get_or_init(|| {
            let base = workspace()
                .join("target/test-patches")
                .join(std::process::id().to_string());
            let patch = base.join("2.0.0-gate");
            if patch.exists() {
                std::fs::remove_dir_all(&patch).unwrap();
            }
            bascule_tests::copy_dir(&bascule_tests::patch_dir("2.0.0"), &patch);
            let toml = std::fs::read_to_string(patch.join("patch.toml")).unwrap();
            let toml = toml.replace(
                "source = \"../../code-v2\"",
                "source = \"../../../../fixtures/demo-platform/code-v2\"",
            ) + "\n[acceptance]\nenabled = true\ntimeout = 120\n";
            std::fs::write(patch.join("patch.toml"), toml).unwrap();
            let built = xtask::build_patch::build(
                &patch,
                &base.join("out"),
                Some(bascule_tests::static_runtime()),
            )
            .unwrap();
            built.path
        })
        .clone()
}

/// Starts `bascule apply` in the background and waits until its run waits at the gate.
fn apply_until_the_gate(bundle: &Path, demo: &DemoHost) -> std::process::Child {
    let mut child = std::process::Command::new(bundle.join("bin/bascule"))
        .args(["apply", "--no-multiplexer", "--yes", "--host"])
        .arg(&demo.host_profile)
        .env("BASCULE_TODAY", "tue")
        .env_remove("TMUX")
        .env_remove("STY")
        .env_remove("BASCULE_FAIL_AT")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !waits_at_gate(demo) {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("the run never reached the acceptance gate: {}", text(&out));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

/// Whether the run holding the demo host's lock waits at its acceptance gate (its journal).
fn waits_at_gate(demo: &DemoHost) -> bool {
    let lock = demo.state_dir.join("lock");
    let Some(holder) = bascule::host_lock::read_holder(&lock) else {
        return false;
    };
    let journal = demo
        .state_dir
        .join("runs")
        .join(holder.run)
        .join("journal.jsonl");
    bascule::journal::Journal::read(&journal)
        .is_ok_and(|events| bascule::gate::waiting_at(&events).is_some())
}

#[test]
fn bascule_abort_at_the_acceptance_gate_rolls_back_and_accept_finishes() {
    let bundle = gated_bundle();
    let (_dir, demo, bundle) = setup(6, &bundle);
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();

    let refused = bascule(&bundle, &demo, &["accept"], &[]);
    assert_eq!(
        refused.status.code(),
        Some(2),
        "no run waits: {}",
        text(&refused)
    );

    let child = apply_until_the_gate(&bundle, &demo);
    let abort = bascule(&bundle, &demo, &["abort"], &[]);
    assert!(abort.status.success(), "{}", text(&abort));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("test book (docs/testbook.md") && stdout.contains("  case 1: "),
        "the test book is shown: {}",
        text(&out)
    );
    assert!(
        stdout.contains("FAILED at step `acceptance`: aborted by"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "aborted at the acceptance gate");

    let child = apply_until_the_gate(&bundle, &demo);
    // The team records the cases as it goes; a failed case holds the acceptance back.
    let record = |args: &[&str]| {
        let out = bascule(&bundle, &demo, args, &[]);
        assert!(out.status.success(), "{}", text(&out));
    };
    record(&[
        "accept",
        "--case",
        "1=passed",
        "--case",
        "2=failed",
        "--comment",
        "no avatar",
    ]);
    let refused = bascule(&bundle, &demo, &["accept"], &[]);
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(
        text(&refused).contains("case(s) 2 of the test book failed"),
        "{}",
        text(&refused)
    );
    let wrong = bascule(&bundle, &demo, &["accept", "--case", "3=maybe"], &[]);
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong));
    record(&["accept", "--case", "2=passed", "--case", "3=skipped"]);
    record(&["accept"]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let sheet = sheet_of(&out);
    let results = testbook_results(&sheet);
    assert_eq!(
        &results[..4],
        ["passed", "passed", "skipped", "not recorded"],
        "{sheet}"
    );
    assert!(sheet["testbook"][0]["by"].is_string());
    let platform = std::fs::read_to_string(demo.state_dir.join("platform.toml")).unwrap();
    assert!(platform.contains("version = \"2.0.0\""), "{platform}");
    assert_eq!(get(&demo, "/_health"), (200, "ok 2.0.0\n".to_string()));

    // Interactively: each case asked in turn on `accept`'s terminal, then whether to accept.
    let back = bascule(&bundle, &demo, &["rollback"], &[]);
    assert!(back.status.success(), "{}", text(&back));
    let child = apply_until_the_gate(&bundle, &demo);
    let mut accept = std::process::Command::new(bundle.join("bin/bascule"))
        .args(["accept", "--interactive", "--host"])
        .arg(&demo.host_profile)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut answers = accept.stdin.take().unwrap();
        // An unknown answer is asked again; case 2 fails, so the acceptance is refused.
        answers.write_all(b"p\nmaybe\nf\ns\np\np\np\ny\n").unwrap();
    }
    let answered = accept.wait_with_output().unwrap();
    assert!(!answered.status.success(), "{}", text(&answered));
    assert!(
        text(&answered).contains("case 6: "),
        "every case asked: {}",
        text(&answered)
    );
    assert!(
        text(&answered).contains("case(s) 2 of the test book failed"),
        "{}",
        text(&answered)
    );
    record(&["accept", "--case", "2=passed"]);
    record(&["accept"]);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let sheet = sheet_of(&out);
    let results = testbook_results(&sheet);
    assert_eq!(
        results,
        ["passed", "passed", "skipped", "passed", "passed", "passed"],
        "{sheet}"
    );
}

/// The intervention sheet of the run `out` printed.
fn sheet_of(out: &std::process::Output) -> serde_json::Value {
    let path = run_dir_of(out).join("intervention.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Each test-book case's result on `sheet`, in order.
fn testbook_results(sheet: &serde_json::Value) -> Vec<&str> {
    sheet["testbook"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|case| case["result"].as_str().unwrap_or("?"))
        .collect()
}
