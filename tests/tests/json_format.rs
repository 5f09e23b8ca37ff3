//! `--format json` of every run command, end to end: what `plan`, `apply`, `migrate`,
//! `rollback` and `status` print is one object that the schema checked in under
//! `runtime/schema/` accepts, and its `changed` says whether the host changed — checked against
//! the host's state, not against the exit code.

use std::path::{Path, PathBuf};
use std::process::Output;

use bascule_tests::{bascule, fixture_bundle, generate, text, untar, workspace, HostState};
use serde_json::Value;

const TUESDAY: [(&str, &str); 1] = [("BASCULE_TODAY", "tue")];

fn schema(name: &str) -> jsonschema::Validator {
    let path = workspace().join("runtime/schema").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Stdout as exactly one JSON object (nothing printed around it), valid against `schema`.
fn document(out: &Output, schema_file: &str) -> Value {
    let json: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", text(out)));
    let errors: Vec<String> = schema(schema_file)
        .iter_errors(&json)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{schema_file}: {errors:#?}\n{json:#}");
    json
}

fn run(bundle: &Path, demo: &bascule_tests::DemoHost, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    bascule(bundle, demo, &all, &TUESDAY)
}

fn steps_with(json: &Value, status: &str) -> usize {
    json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == status)
        .count()
}

fn migrated(json: &Value) -> u64 {
    json["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["migrated"].as_u64().unwrap())
        .sum()
}

fn setup(version: &str) -> (tempfile::TempDir, bascule_tests::DemoHost, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), 3).unwrap();
    let bundle = untar(&fixture_bundle(version), &dir.path().join("delivery")).unwrap();
    (dir, demo, bundle)
}

#[test]
fn plan_apply_status_and_rollback_say_in_json_what_they_did_to_the_host() {
    let (_dir, demo, bundle) = setup("2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();

    let plan = document(&run(&bundle, &demo, &["plan"]), "plan.schema.json");
    assert_eq!(
        (&plan["action"], &plan["changed"], &plan["platform"]),
        (
            &Value::from("apply"),
            &Value::from(true),
            &Value::from("1.0.0")
        )
    );
    let pending: u64 = plan["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pending"].as_u64().unwrap())
        .sum();
    assert!(pending > 0, "{plan:#}");
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "plan --format json");

    let out = run(&bundle, &demo, &["apply"]);
    assert!(out.status.success(), "{}", text(&out));
    let apply = document(&out, "run.schema.json");
    assert_eq!(apply["outcome"], "committed", "{apply:#}");
    assert_eq!(
        (&apply["ok"], &apply["changed"]),
        (&true.into(), &true.into())
    );
    assert_eq!(
        (&apply["platform_before"], &apply["platform_after"]),
        (&Value::from("1.0.0"), &Value::from("2.0.0"))
    );
    let steps = bascule::steps::apply_steps().len();
    assert_eq!(steps_with(&apply, "done"), steps, "{apply:#}");
    assert_eq!(migrated(&apply), pending, "every pending migration, once");
    assert!(Path::new(apply["report"].as_str().unwrap()).is_file());
    assert_ne!(
        HostState::capture(&demo).unwrap().current,
        before.current,
        "changed: true, and current moved"
    );

    let status = document(&run(&bundle, &demo, &["status"]), "status.schema.json");
    assert_eq!(status["platform"], "2.0.0");
    assert_eq!(status["platform_run"], apply["run"]);

    // Applied: the plan has nothing to do, and a second apply changes nothing.
    let again = document(&run(&bundle, &demo, &["plan"]), "plan.schema.json");
    assert_eq!(
        (&again["action"], &again["changed"]),
        (&Value::from("nothing to do"), &Value::from(false))
    );
    let applied = HostState::capture(&demo).unwrap();
    let out = run(&bundle, &demo, &["apply"]);
    let second = document(&out, "run.schema.json");
    assert_eq!(second["changed"], false, "{second:#}");
    assert_eq!(second["ok"], false);
    assert_eq!(
        out.status.code(),
        second["exit_code"].as_u64().map(|c| c as i32)
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&applied, "a second apply");

    let out = run(&bundle, &demo, &["rollback"]);
    assert!(out.status.success(), "{}", text(&out));
    let rollback = document(&out, "run.schema.json");
    assert_eq!(
        (
            &rollback["command"],
            &rollback["changed"],
            &rollback["platform_after"]
        ),
        (
            &Value::from("rollback"),
            &Value::from(true),
            &Value::from("1.0.0")
        )
    );
    assert_eq!(steps_with(&rollback, "undone"), steps, "{rollback:#}");
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "apply then rollback");
}

#[test]
fn a_failed_run_is_unchanged_and_a_refused_one_is_an_object_too() {
    let (_dir, demo, bundle) = setup("2.0.0");
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let out = bascule(
        &bundle,
        &demo,
        &["apply", "--format", "json"],
        &[("BASCULE_TODAY", "tue"), ("BASCULE_FAIL_AT", "smoke")],
    );
    let failed = document(&out, "run.schema.json");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        (
            &failed["outcome"],
            &failed["ok"],
            &failed["changed"],
            &failed["exit_code"]
        ),
        (
            &Value::from("rolled back"),
            &Value::from(false),
            &Value::from(false),
            &Value::from(1)
        )
    );
    assert_eq!(steps_with(&failed, "failed"), 1, "{failed:#}");
    let failed_step = failed["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap();
    assert_eq!(failed_step["name"], "smoke");
    assert!(failed["errors"][0].as_str().unwrap().starts_with("smoke: "));
    assert_eq!(
        steps_with(&failed, "undone"),
        steps_with(&failed, "done") + 1,
        "each step done is undone, and the failed one too"
    );
    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "a failed apply");

    // Refused before any run started: a host profile that does not exist.
    let out = std::process::Command::new(bundle.join("bin/bascule"))
        .args(["apply", "--no-multiplexer", "--yes", "--format", "json"])
        .args(["--host", "/nonexistent/host.toml"])
        .output()
        .unwrap();
    let refused = document(&out, "run.schema.json");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(refused["outcome"], "refused");
    assert_eq!(refused["run"], Value::Null);
    assert!(
        refused["errors"][0]
            .as_str()
            .unwrap()
            .contains("/nonexistent/host.toml"),
        "{refused:#}"
    );
}

#[test]
fn migrate_changes_the_host_once_then_reports_nothing_changed() {
    let (_dir, demo, bundle) = setup("2.0.0");
    let out = run(&bundle, &demo, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    let first = document(&out, "run.schema.json");
    assert_eq!(
        (&first["command"], &first["changed"]),
        (&"migrate".into(), &true.into())
    );
    assert!(migrated(&first) > 0, "{first:#}");
    let migrated_once = HostState::capture(&demo).unwrap();
    let out = run(&bundle, &demo, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out));
    let second = document(&out, "run.schema.json");
    assert_eq!(
        (&second["ok"], &second["changed"]),
        (&true.into(), &false.into())
    );
    assert_eq!(migrated(&second), 0, "{second:#}");
    let after = HostState::capture(&demo).unwrap();
    assert_eq!(
        after.databases, migrated_once.databases,
        "nothing migrated twice"
    );
}

#[test]
fn the_schemas_refuse_what_their_readers_could_not_rely_on() {
    let run = schema("run.schema.json");
    let good = serde_json::json!({
        "format": "bascule.run.v1", "command": "apply", "outcome": "committed", "ok": true,
        "changed": true, "exit_code": 0, "run": "r", "run_dir": "/d", "report": null,
        "version": "2.0.0", "platform_before": "1.0.0", "platform_after": "2.0.0",
        "steps": [{"name": "preflight", "status": "done", "start_ms": 0, "duration_ms": 3, "error": null}],
        "classes": [], "errors": [], "summary": "done"
    });
    assert!(run.is_valid(&good));
    for (key, bad) in [
        ("changed", Value::Null),
        ("exit_code", Value::from(7)),
        ("outcome", Value::from("maybe")),
        ("format", Value::from("bascule.run.v2")),
    ] {
        let mut doc = good.clone();
        doc[key] = bad;
        assert!(!run.is_valid(&doc), "{key} accepted: {doc}");
    }
    let mut extra = good.clone();
    extra["undocumented"] = true.into();
    assert!(
        !run.is_valid(&extra),
        "a field the schema does not document"
    );
}
