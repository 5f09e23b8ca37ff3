//! What a run leaves for people, end to end: the intervention sheet and the report of a real
//! apply, of a failing one and of a rollback, the host's release history, the checklist
//! confirmed from another terminal, hitches, and the report page opened in a real headless
//! Chromium (Debian's `chromium`, installed by the set-up).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bascule_pages::run_view::{BarKind, RunView};
use bascule_tests::{
    bascule, fixture_bundle, generate, rewrite_bundle_file, run_dir_of, text, untar, workspace,
    DemoHost, HostState,
};

fn setup(sites: usize, version: &str) -> (tempfile::TempDir, DemoHost, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), sites).unwrap();
    let bundle = untar(&fixture_bundle(version), &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

fn sheet(run_dir: &Path) -> RunView {
    let json = std::fs::read_to_string(run_dir.join("intervention.json"))
        .unwrap_or_else(|e| panic!("{}: {e}", run_dir.display()));
    serde_json::from_str(&json).unwrap()
}

fn count(view: &RunView, kind: BarKind) -> usize {
    view.steps.iter().filter(|b| b.kind == kind).count()
}

fn steps() -> usize {
    bascule::steps::apply_steps().len()
}

#[test]
fn an_apply_and_its_rollback_leave_their_sheets_reports_and_history() {
    let (_dir, demo, bundle) = setup(4, "2.0.0");
    let _services = demo.start_services().unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let run = run_dir_of(&out);
    for file in ["intervention.md", "intervention.html", "report.html"] {
        assert!(run.join(file).is_file(), "{file} in {}", run.display());
    }
    let view = sheet(&run);
    assert_eq!(view.outcome, "committed");
    assert_eq!(
        (view.kind.as_str(), view.version.as_str()),
        ("apply", "2.0.0")
    );
    assert_eq!(count(&view, BarKind::Step), steps(), "{:?}", view.steps);
    assert_eq!(view.steps.len(), steps());
    // The page went up in maintenance-on and came down in maintenance-off: the downtime lies
    // between those two steps' ends, within the run.
    let end_of = |name: &str| {
        let bar = view.steps.iter().find(|b| b.name == name).unwrap();
        bar.start_ms + bar.ms
    };
    let downtime = view.downtime_ms.expect("the maintenance page was shown");
    assert!(
        downtime > 0 && downtime <= end_of("maintenance-off"),
        "{downtime}"
    );
    assert!(
        downtime >= end_of("maintenance-off") - end_of("maintenance-on"),
        "{downtime}"
    );
    let site = view.classes.iter().find(|c| c.class == "site").unwrap();
    assert_eq!((site.migrated, site.undone), (4, 0));
    assert!(
        view.checklist
            .iter()
            .any(|c| c.answer == "confirmed" && c.by.starts_with("--yes")),
        "the manual items were confirmed by --yes: {:?}",
        view.checklist
    );
    assert!(
        !view.testbook.is_empty(),
        "the test book's cases are listed"
    );
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d", "[time]"),
        (r"\d{8}T\d{6}-2\.0\.0-apply", "[run]"),
        (r"\| \d+(\.\d+)? (ms|s) \|", "| [took] |"),
        (r"\| \d+ min \d+ s \|", "| [took] |"),
        (r"`[0-9a-f]{64}`", "`[digest]`"),
        (r"(Operator|Host) \| [^|]+ \|", "$1 | [who] |"),
        (r"by --yes \([^)]*\)", "by --yes ([who])"),
        (r"Downtime \| [^|]+ \|", "Downtime | [took] |"),
        (r"(?s)```text\n.*?```", "```text\n[summary]\n```"),
    ]}, {
        insta::assert_snapshot!("intervention_sheet_of_a_demo_apply", std::fs::read_to_string(run.join("intervention.md")).unwrap());
    });

    let out = bascule(&bundle, &demo, &["rollback"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let rollback = sheet(&run_dir_of(&out));
    assert_eq!(
        (rollback.kind.as_str(), rollback.outcome.as_str()),
        ("rollback", "committed")
    );
    assert!(count(&rollback, BarKind::Undo) > 0, "{:?}", rollback.steps);
    assert!(
        rollback.downtime_ms.is_some(),
        "a rollback shows the page too"
    );

    let history = bascule(&bundle, &demo, &["history", "--format", "json"], &[]);
    assert!(history.status.success(), "{}", text(&history));
    let releases: Vec<serde_json::Value> = serde_json::from_slice(&history.stdout).unwrap();
    let field = |i: usize, key: &str| releases[i][key].as_str().unwrap_or("-").to_string();
    assert_eq!(releases.len(), 2, "{releases:?}");
    assert_eq!(
        [
            field(0, "kind"),
            field(0, "from"),
            field(0, "to"),
            field(0, "outcome")
        ],
        ["apply", "1.0.0", "2.0.0", "committed"]
    );
    assert_eq!(
        [field(1, "kind"), field(1, "from"), field(1, "to")],
        ["rollback", "2.0.0", "1.0.0"]
    );
    assert_eq!(releases[0]["downtime_ms"].as_u64(), Some(downtime));
    let table = bascule(&bundle, &demo, &["history"], &[]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains(&view.run) && table.contains("1.0.0 → 2.0.0"),
        "{table}"
    );

    // The report of a run, as JSON, is the sheet's data; as text, it names its pages.
    let json = bascule(
        &bundle,
        &demo,
        &["report", &view.run, "--format", "json"],
        &[],
    );
    let again: RunView = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(again.steps, view.steps);
    let said = bascule(&bundle, &demo, &["report", &view.run], &[]);
    assert!(
        String::from_utf8_lossy(&said.stdout).contains("report.html"),
        "{}",
        text(&said)
    );
}

#[test]
fn a_failed_apply_has_a_report_with_its_undo_and_chromium_draws_one_bar_per_step() {
    let (dir, demo, bundle) = setup(6, "2.0.0-broken");
    let _services = demo.start_services().unwrap();
    let out = bascule(&bundle, &demo, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let run = run_dir_of(&out);
    let view = sheet(&run);
    assert_eq!(view.outcome, "rolled back");
    let failed: Vec<_> = view
        .steps
        .iter()
        .filter(|b| b.kind == BarKind::Failed)
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", view.steps);
    assert_eq!(failed[0].name, "migrate");
    let done = count(&view, BarKind::Step);
    let undone = count(&view, BarKind::Undo);
    assert_eq!(
        undone,
        done + 1,
        "every started step undone: {:?}",
        view.steps
    );
    let site = view.classes.iter().find(|c| c.class == "site").unwrap();
    assert!(site.undone > 0, "{site:?}");

    let (dom, requests) = chromium(&run.join("report.html"), dir.path(), "failed-apply");
    assert_eq!(dom.matches("class=\"bar step\"").count(), done, "{dom}");
    assert_eq!(dom.matches("class=\"bar failed\"").count(), 1);
    assert_eq!(dom.matches("class=\"bar undo\"").count(), undone);
    assert!(requests.is_empty(), "the page fetched {requests:?}");

    // The check can fail: the same page without its Content-Security-Policy and with one
    // image from the network is seen fetching it.
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    let csp = format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{}\">",
        bascule_pages::page::CONTENT_SECURITY_POLICY
    );
    assert!(page.contains(&csp), "the page forbids every fetch");
    let leaky = page.replace(&csp, "").replacen(
        "<body>",
        "<body><img src=\"http://127.0.0.1:9/leak.png\">",
        1,
    );
    let control = dir.path().join("leaky.html");
    std::fs::write(&control, leaky).unwrap();
    let (_, leaked) = chromium(&control, dir.path(), "control");
    assert_eq!(leaked, ["http://127.0.0.1:9/leak.png"]);

    let (_dir2, demo2, bundle2) = setup(3, "2.0.0");
    let _services2 = demo2.start_services().unwrap();
    let out = bascule(&bundle2, &demo2, &["apply"], &[("BASCULE_TODAY", "tue")]);
    assert!(out.status.success(), "{}", text(&out));
    let html = run_dir_of(&out).join("report.html");
    let (dom, requests) = chromium(&html, dir.path(), "demo-apply");
    assert_eq!(dom.matches("class=\"bar step\"").count(), steps(), "{dom}");
    assert_eq!(dom.matches("class=\"bar undo\"").count(), 0);
    assert!(requests.is_empty(), "the page fetched {requests:?}");
}

/// Opens `page` in headless Chromium: its DOM once drawn, and every URL it requested other
/// than the page itself (from Chromium's own network log). Leaves a screenshot under
/// `target/report-screenshots/<name>.png`.
fn chromium(page: &Path, scratch: &Path, name: &str) -> (String, Vec<String>) {
    let shots = workspace().join("target/report-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let netlog = scratch.join(format!("{name}.netlog.json"));
    let profile = scratch.join(format!("{name}.profile"));
    let url = format!("file://{}", page.display());
    let common = |command: &mut Command| {
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .args([
                "--disable-background-networking",
                "--disable-component-update",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .stdin(Stdio::null());
    };
    let mut dump = Command::new("chromium");
    common(&mut dump);
    dump.arg(format!("--log-net-log={}", netlog.display()))
        .args(["--net-log-capture-mode=Everything", "--dump-dom"])
        .arg(&url);
    let out = dump
        .output()
        .expect("chromium (installed by scripts/setup.sh)");
    assert!(out.status.success(), "{}", text(&out));
    let mut shot = Command::new("chromium");
    common(&mut shot);
    shot.arg(format!(
        "--screenshot={}",
        shots.join(format!("{name}.png")).display()
    ))
    .arg("--window-size=1100,1400")
    .arg(&url);
    let shot_out = shot.output().unwrap();
    assert!(shot_out.status.success(), "{}", text(&shot_out));
    assert!(shots.join(format!("{name}.png")).is_file());
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        requested_urls(&netlog, &url),
    )
}

/// The URLs the page itself requested, other than itself, from a Chromium network log: jobs
/// whose initiator is an origin (the browser's own background requests, updates and the like,
/// have "not an origin").
fn requested_urls(netlog: &Path, page: &str) -> Vec<String> {
    let text = std::fs::read_to_string(netlog).unwrap();
    // Chromium may leave the final `]}` off when it exits at once.
    let log: serde_json::Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .unwrap_or_else(|e| panic!("{}: {e}", netlog.display()));
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    assert!(start_job.is_u64(), "a network log names its event types");
    let mut urls: Vec<String> = log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"] == start_job)
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| *u != page)
        .map(String::from)
        .collect();
    urls.sort();
    urls.dedup();
    urls
}

/// Without --yes and without a terminal, `apply` waits at a manual checklist item until
/// `bascule confirm`; a hitch noted meanwhile is on the sheet; `bascule abort` at an item
/// rolls the host back to exactly where it was.
#[test]
fn a_manual_checklist_item_waits_for_confirm_or_abort() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();

    let child = apply_until_an_item(&bundle, &demo);
    let abort = bascule(&bundle, &demo, &["abort"], &[]);
    assert!(abort.status.success(), "{}", text(&abort));
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("was not done"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "aborted at a checklist item");

    // Left unanswered for the patch's [acceptance] timeout, an item aborts the run.
    let patch = std::fs::read_to_string(bundle.join("patch.toml")).unwrap();
    rewrite_bundle_file(
        &bundle,
        "patch.toml",
        &format!("{patch}\n[acceptance]\ntimeout = 1\n"),
    );
    let child = apply_until_an_item(&bundle, &demo);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("nobody answered within 1 s"),
        "{}",
        text(&out)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "an item nobody answered");
    rewrite_bundle_file(&bundle, "patch.toml", &patch);

    let child = apply_until_an_item(&bundle, &demo);
    let accept = bascule(&bundle, &demo, &["accept"], &[]);
    assert!(
        !accept.status.success(),
        "accept does not answer a checklist item: {}",
        text(&accept)
    );
    let case = bascule(&bundle, &demo, &["accept", "--case", "1=passed"], &[]);
    assert!(
        text(&case).contains("not waiting at the acceptance gate (it waits at checklist 5)"),
        "{}",
        text(&case)
    );
    let note = bascule(&bundle, &demo, &["note", "support was told late"], &[]);
    assert!(note.status.success(), "{}", text(&note));
    let live = bascule(&bundle, &demo, &["report", "--format", "json"], &[]);
    let live: RunView = serde_json::from_slice(&live.stdout).unwrap();
    assert_eq!(live.outcome, "in progress");
    let journal = newest_journal(&demo).unwrap();
    let answered = || {
        bascule::journal::Journal::read(&journal)
            .unwrap()
            .iter()
            .filter(|e| matches!(e, bascule::journal::Event::Checklist { .. }))
            .count()
    };
    let mut confirmed = 0;
    loop {
        let before = answered();
        let confirm = bascule(&bundle, &demo, &["confirm"], &[]);
        assert!(confirm.status.success(), "{}", text(&confirm));
        confirmed += 1;
        while answered() == before {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if !wait_for_item_or_end(&demo, std::time::Duration::from_secs(120)) {
            break;
        }
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let view = sheet(&run_dir_of(&out));
    let manual: Vec<_> = view
        .checklist
        .iter()
        .filter(|c| c.answer == "confirmed")
        .collect();
    assert_eq!(manual.len(), confirmed, "{:?}", view.checklist);
    assert!(
        manual.iter().all(|c| !c.by.starts_with("--yes")),
        "{manual:?}"
    );
    assert_eq!(view.hitches.len(), 1);
    assert!(view.hitches[0].open && view.hitches[0].text == "support was told late");
    let md = std::fs::read_to_string(run_dir_of(&out).join("intervention.md")).unwrap();
    assert!(md.contains("support was told late"), "{md}");

    // A hitch noted after the run redraws its sheet at once.
    let late = bascule(
        &bundle,
        &demo,
        &["note", "--closed", "the <b>smoke</b> test was slow"],
        &[],
    );
    assert!(late.status.success(), "{}", text(&late));
    let html = std::fs::read_to_string(run_dir_of(&out).join("intervention.html")).unwrap();
    assert!(
        html.contains("the &lt;b&gt;smoke&lt;/b&gt; test was slow"),
        "escaped: {html}"
    );
}

/// `apply` without --yes and without a terminal, until it waits at a checklist item.
fn apply_until_an_item(bundle: &Path, demo: &DemoHost) -> std::process::Child {
    let previous = newest_journal(demo);
    let child = Command::new(bundle.join("bin/bascule"))
        .args(["apply", "--no-multiplexer", "--host"])
        .arg(&demo.host_profile)
        .env("BASCULE_TODAY", "tue")
        .env_remove("TMUX")
        .env_remove("STY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while newest_journal(demo) == previous {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        wait_for_item_or_end(demo, std::time::Duration::from_secs(120)),
        "the run waits at a manual checklist item of 2.0.0"
    );
    child
}

/// Waits until the newest run waits at a checklist item (true) or has ended (false).
fn wait_for_item_or_end(demo: &DemoHost, limit: std::time::Duration) -> bool {
    use bascule::journal::Event;
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Some(journal) = newest_journal(demo) {
            let events = bascule::journal::Journal::read(&journal).unwrap_or_default();
            if bascule::gate::waiting_at(&events).is_some_and(|g| g.starts_with("checklist ")) {
                return true;
            }
            if events
                .iter()
                .any(|e| matches!(e, Event::RunCommitted { .. } | Event::RunRolledBack { .. }))
            {
                return false;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no checklist gate nor end within {limit:?}");
}

/// The journal of the newest run of the demo host.
fn newest_journal(demo: &DemoHost) -> Option<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(demo.state_dir.join("runs"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs.pop().map(|run| run.join("journal.jsonl"))
}

/// On a terminal (a pseudo-terminal from `script`), a manual item is asked there: `y` goes on,
/// `n` rolls the host back to exactly where it was; the sheet says who confirmed.
#[test]
fn a_manual_item_is_asked_on_the_run_terminal() {
    let (_dir, demo, bundle) = setup(3, "2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let on_a_terminal = |answers: &str| {
        let command = format!(
            "{} apply --no-multiplexer --host {}",
            bundle.join("bin/bascule").display(),
            demo.host_profile.display()
        );
        let mut script = Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env("BASCULE_TODAY", "tue")
            .env_remove("TMUX")
            .env_remove("STY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux)");
        {
            use std::io::Write as _;
            let mut stdin = script.stdin.take().unwrap();
            stdin.write_all(answers.as_bytes()).unwrap();
        }
        script.wait_with_output().unwrap()
    };

    let refused = on_a_terminal("y\nn\n");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains("done? [y = done, n = roll everything back]"),
        "{said}"
    );
    assert!(
        said.contains("checklist item 8 (after maintenance-on) was not done"),
        "{said}"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "an item answered no");

    let out = on_a_terminal("y\ny\ny\ny\n");
    assert!(out.status.success(), "{}", text(&out));
    let view = sheet(&newest_journal(&demo).unwrap().with_file_name(""));
    let confirmed: Vec<usize> = view
        .checklist
        .iter()
        .filter(|c| c.answer == "confirmed")
        .map(|c| c.item)
        .collect();
    assert_eq!(confirmed, [5, 8, 9, 10], "{:?}", view.checklist);
    assert!(view.checklist.iter().all(|c| !c.by.starts_with("--yes")));
}
