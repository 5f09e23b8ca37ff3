//! The Kubernetes examples of `runtime/kubernetes/`, checked offline: every manifest parsed, the
//! Helm chart rendered from its `values.yaml`, and what `bascule migrate` needs of them checked —
//! one attempt, a log that outlives the pod long enough, the command, the host profile mounted
//! where `--host` points and loadable by the runtime's own loader, the ConfigMaps and Secrets it
//! references present, the hook annotations and a Job name unique per revision.
//!
//! Each checker returns the list of problems it finds, so the tests can break a parsed manifest
//! field by field and show that every check refuses it.
//!
//! The chart's templates use only the simple placeholders `{{ .Values.<path> }}`,
//! `{{ .Release.Name|Namespace|Revision }}` and `{{ .Chart.Name|Version|AppVersion }}`;
//! [`render`] substitutes exactly those and refuses anything else, so what is checked here is
//! what Helm renders.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bascule::host::HostProfile;
use bascule_tests::workspace;
use serde_json::{json, Value};

fn examples_dir() -> PathBuf {
    workspace().join("runtime/kubernetes")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One YAML document, as JSON values (a manifest is a tree of maps, lists and scalars).
fn parse(text: &str, name: &str) -> Value {
    serde_norway::from_str(text).unwrap_or_else(|e| panic!("{name}: not valid YAML: {e}"))
}

fn parse_file(path: &Path) -> Value {
    parse(&read(path), &path.display().to_string())
}

/// The plain examples: the Job, and the ConfigMap and Secret it needs.
struct Plain {
    job: Value,
    configmap: Value,
    secret: Value,
}

fn plain() -> Plain {
    let dir = examples_dir();
    Plain {
        job: parse_file(&dir.join("job.yaml")),
        configmap: parse_file(&dir.join("configmap.yaml")),
        secret: parse_file(&dir.join("secret.example.yaml")),
    }
}

// --- What a migrate Job must be ---------------------------------------------------------------

/// The one container of a Job's pod.
fn container(job: &Value) -> &Value {
    &job["spec"]["template"]["spec"]["containers"][0]
}

/// The container's command line: `command` then `args`.
fn command_line(job: &Value) -> Vec<String> {
    let c = container(job);
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s.as_str().map_or_else(|| s.to_string(), str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut line = strings(&c["command"]);
    line.extend(strings(&c["args"]));
    line
}

/// The value of `--flag VALUE` or `--flag=VALUE`.
fn flag(line: &[String], name: &str) -> Option<String> {
    let eq = format!("{name}=");
    line.iter().enumerate().find_map(|(i, arg)| {
        if arg == name {
            line.get(i + 1).cloned()
        } else {
            arg.strip_prefix(&eq).map(str::to_string)
        }
    })
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64()
}

/// An object of `examples` of this kind and name.
fn find<'a>(examples: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
    examples
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
}

/// Whether a Secret or ConfigMap has `key` (`data` or `stringData`).
fn has_key(object: &Value, key: &str) -> bool {
    ["data", "stringData", "binaryData"]
        .iter()
        .any(|section| object[*section].get(key).is_some())
}

/// A Secret's value for `key`, from `stringData` (the examples hold no base64).
fn secret_value(object: &Value, key: &str) -> Option<String> {
    object["stringData"][key].as_str().map(str::to_string)
}

/// The volume mounted where the host profile (`--host`) is, with the key of the ConfigMap that
/// lands there: `(configmap name, key)`.
fn host_profile_source(job: &Value) -> Result<(String, String), String> {
    let line = command_line(job);
    let host = flag(&line, "--host").ok_or("the command has no --host")?;
    let host = Path::new(&host);
    let file = host
        .file_name()
        .and_then(|f| f.to_str())
        .ok_or("--host names no file")?;
    let mounts = container(job)["volumeMounts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mount = mounts
        .iter()
        .filter_map(|m| Some((m, m["mountPath"].as_str()?)))
        .find(|(m, path)| match m["subPath"].as_str() {
            Some(_) => Path::new(path) == host,
            None => host.parent() == Some(Path::new(path)),
        })
        .map(|(m, _)| m)
        .ok_or_else(|| format!("no volume is mounted where --host {} is", host.display()))?;
    let volume_name = mount["name"].as_str().unwrap_or_default();
    let volume = job["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .and_then(|vs| vs.iter().find(|v| v["name"] == volume_name))
        .ok_or_else(|| format!("the mount of --host names volume `{volume_name}`, not declared"))?;
    let configmap = volume["configMap"]["name"]
        .as_str()
        .ok_or_else(|| format!("volume `{volume_name}` (the host profile) is not a ConfigMap"))?;
    // The file at `--host`: a key projected there by `items`, else the key of the same name.
    let in_volume = mount["subPath"].as_str().unwrap_or(file);
    let key = match volume["configMap"]["items"].as_array() {
        Some(items) => items
            .iter()
            .find(|i| i["path"] == in_volume)
            .and_then(|i| i["key"].as_str())
            .ok_or_else(|| {
                format!(
                    "volume `{volume_name}` projects no item at `{in_volume}` (the --host file)"
                )
            })?
            .to_string(),
        None => in_volume.to_string(),
    };
    Ok((configmap.to_string(), key))
}

/// Every `(kind, name, key)` the Job's pod takes from a ConfigMap or Secret.
fn references(job: &Value) -> Vec<(&'static str, String, Option<String>)> {
    let mut found = Vec::new();
    let pod = &job["spec"]["template"]["spec"];
    for c in pod["containers"].as_array().into_iter().flatten() {
        for e in c["env"].as_array().into_iter().flatten() {
            for (kind, field) in [("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")] {
                let r = &e["valueFrom"][field];
                if let Some(name) = r["name"].as_str() {
                    found.push((
                        kind,
                        name.to_string(),
                        r["key"].as_str().map(str::to_string),
                    ));
                }
            }
        }
        for e in c["envFrom"].as_array().into_iter().flatten() {
            for (kind, field) in [("Secret", "secretRef"), ("ConfigMap", "configMapRef")] {
                if let Some(name) = e[field]["name"].as_str() {
                    found.push((kind, name.to_string(), None));
                }
            }
        }
    }
    for v in pod["volumes"].as_array().into_iter().flatten() {
        if let Some(name) = v["configMap"]["name"].as_str() {
            found.push(("ConfigMap", name.to_string(), None));
        }
        if let Some(name) = v["secret"]["secretName"].as_str() {
            found.push(("Secret", name.to_string(), None));
        }
    }
    found
}

/// What `bascule migrate` needs of a Job; empty when it has it all. `examples` are the objects
/// that exist beside it (ConfigMaps, Secrets).
fn job_problems(job: &Value, examples: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |p: String| problems.push(p);
    if job["kind"] != "Job" || job["apiVersion"] != "batch/v1" {
        problem(format!(
            "kind {} {}: a migrate runs once, as a batch/v1 Job",
            job["apiVersion"], job["kind"]
        ));
    }
    let spec = &job["spec"];
    if int(&spec["backoffLimit"]) != Some(0) {
        problem(format!(
            "backoffLimit is {} (absent means 6): a failed migrate is already undone, a retry fails the same way",
            spec["backoffLimit"]
        ));
    }
    let pod = &spec["template"]["spec"];
    if pod["restartPolicy"] != "Never" {
        problem(format!(
            "restartPolicy is {}, not Never: a restarted container would run migrate again",
            pod["restartPolicy"]
        ));
    }
    match int(&spec["ttlSecondsAfterFinished"]) {
        Some(ttl) if ttl >= 3600 => {}
        _ => problem(format!(
            "ttlSecondsAfterFinished is {}: set it, at least an hour, so a finished Job goes \
             away but a failed run's log can still be read",
            spec["ttlSecondsAfterFinished"]
        )),
    }
    if pod["containers"].as_array().map(Vec::len) != Some(1) {
        problem("the pod must have exactly one container, the migrate".into());
    }
    let line = command_line(job);
    let program = line.first().cloned().unwrap_or_default();
    if !program.ends_with("/bin/bascule") || line.get(1).map(String::as_str) != Some("migrate") {
        problem(format!(
            "the command is `{}`: it must run the bundle's bin/bascule migrate itself (no shell: its exit code is the Job's)",
            line.join(" ")
        ));
    }
    match flag(&line, "--bundle") {
        Some(bundle) if format!("{bundle}/bin/bascule") == program => {
            let version = bundle.rsplit_once("/bascule-").map(|(_, v)| v.to_string());
            let image = container(job)["image"].as_str().unwrap_or_default();
            let tag = image.rsplit_once(':').map(|(_, t)| t.to_string());
            if version.is_none() || version != tag {
                problem(format!(
                    "the image `{image}` is not tagged with the version of --bundle {bundle}"
                ));
            }
        }
        other => problem(format!(
            "--bundle is {other:?}: name the bundle whose bin/bascule the command runs"
        )),
    }
    if flag(&line, "--format").as_deref() != Some("json") {
        problem("no --format json: the Job's log must carry the run's result".into());
    }
    let lock_timeout = flag(&line, "--lock-timeout").and_then(|t| t.parse::<i64>().ok());
    match lock_timeout {
        Some(t) if t > 0 => match int(&spec["activeDeadlineSeconds"]) {
            Some(deadline) if deadline > t => {}
            _ => problem(format!(
                "activeDeadlineSeconds is {}: set it above --lock-timeout ({t} s) and the migrations' time",
                spec["activeDeadlineSeconds"]
            )),
        },
        _ => problem("no --lock-timeout SECONDS: say how long to wait for another run".into()),
    }
    if line.iter().any(|a| a == "--detach") {
        problem("--detach: the Job would end at once while its run dies with the pod".into());
    }
    match host_profile_source(job) {
        Ok((configmap, key)) => match find(examples, "ConfigMap", &configmap) {
            Some(object) if has_key(object, &key) => {}
            _ => problem(format!(
                "the host profile comes from ConfigMap `{configmap}` key `{key}`, which the examples do not have"
            )),
        },
        Err(what) => problem(what),
    }
    for (kind, name, key) in references(job) {
        match (find(examples, kind, &name), &key) {
            (Some(object), Some(key)) if !has_key(object, key) => problem(format!(
                "{kind} `{name}` has no key `{key}`, which the Job reads"
            )),
            (Some(_), _) => {}
            (None, _) => problem(format!(
                "{kind} `{name}`, which the Job reads, is not among the examples"
            )),
        }
    }
    let pod_security = &pod["securityContext"];
    let c = container(job);
    let security = &c["securityContext"];
    let user = int(&security["runAsUser"]).or(int(&pod_security["runAsUser"]));
    let non_root = security["runAsNonRoot"]
        .as_bool()
        .or(pod_security["runAsNonRoot"].as_bool());
    if non_root != Some(true) || user == Some(0) || user.is_none() {
        problem("the container must run as a non-root user (runAsNonRoot, runAsUser)".into());
    }
    if security["allowPrivilegeEscalation"] != false || security["readOnlyRootFilesystem"] != true {
        problem("set allowPrivilegeEscalation false and readOnlyRootFilesystem true".into());
    }
    if pod["automountServiceAccountToken"] != false {
        problem("migrate needs no Kubernetes API token: automountServiceAccountToken false".into());
    }
    if c["resources"]["requests"]["memory"].is_null()
        || c["resources"]["limits"]["memory"].is_null()
    {
        problem("set the container's memory request and limit".into());
    }
    if c["terminationMessagePolicy"] != "FallbackToLogsOnError" {
        problem(
            "terminationMessagePolicy FallbackToLogsOnError: a failed run's result shows in the pod's status"
                .into(),
        );
    }
    problems
}

/// The plain Job's name: `generateName`, so each `kubectl create` makes a Job of its own.
fn plain_naming_problems(job: &Value) -> Vec<String> {
    let metadata = &job["metadata"];
    if metadata["generateName"]
        .as_str()
        .is_some_and(|n| !n.is_empty())
        && metadata["name"].is_null()
    {
        Vec::new()
    } else {
        vec!["use metadata.generateName (and kubectl create): a Job of a fixed name left from the last run blocks the next".into()]
    }
}

// --- The host profile, loaded by the runtime ---------------------------------------------------

/// Loads the host profile the Job mounts with the runtime's own loader, the passwords given as
/// the Job gives them (each `password_env` from the Job's env, its value the example Secret's),
/// and checks what a Job needs of it; empty when all is well.
fn profile_problems(job: &Value, examples: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let Ok((configmap, key)) = host_profile_source(job) else {
        return vec!["the Job mounts no host profile".into()];
    };
    let Some(text) = find(examples, "ConfigMap", &configmap).and_then(|o| o["data"][&key].as_str())
    else {
        return vec![format!("ConfigMap `{configmap}` has no `{key}`")];
    };
    // The Job's environment, each secret resolved from the examples.
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for e in container(job)["env"].as_array().into_iter().flatten() {
        let Some(name) = e["name"].as_str() else {
            continue;
        };
        let value = match (&e["value"], &e["valueFrom"]["secretKeyRef"]) {
            (Value::String(v), _) => Some(v.clone()),
            (_, r) if r.is_object() => {
                find(examples, "Secret", r["name"].as_str().unwrap_or_default())
                    .and_then(|s| secret_value(s, r["key"].as_str().unwrap_or_default()))
            }
            _ => None,
        };
        if let Some(value) = value {
            env.insert(name.to_string(), value);
        }
    }
    // What the profile asks of its environment, read before the loader reads the environment.
    let raw: toml::Value = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return vec![format!("host.toml is not TOML: {e}")],
    };
    let classes = raw
        .get("databases")
        .and_then(toml::Value::as_table)
        .cloned()
        .unwrap_or_default();
    for (class, spec) in &classes {
        if let Some(var) = spec.get("password_env").and_then(toml::Value::as_str) {
            if !env.contains_key(var) {
                problems.push(format!(
                    "databases.{class}.password_env is `{var}`, which the Job's env does not set"
                ));
            }
        }
        if spec.get("password_file").is_some() {
            problems.push(format!(
                "databases.{class}.password_file: a Secret volume's files are root's, or group-readable with fsGroup, \
                 which Bascule refuses; give the password with password_env"
            ));
        }
    }
    for (name, value) in &env {
        if name.starts_with("BASCULE_") && name.ends_with("_PASSWORD") {
            std::env::set_var(name, value);
        }
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join(&key);
    std::fs::write(&path, text).expect("the profile is written");
    let profile = match HostProfile::load(&path) {
        Ok(profile) => profile,
        Err(e) => {
            problems.push(format!("the runtime refuses the host profile: {e}"));
            return problems;
        }
    };
    for (class, spec) in &profile.databases {
        if spec.engine == bascule_patch::Dialect::Sqlite {
            problems.push(format!(
                "databases.{class} is SQLite: files of one host, locked on no server; a Job migrates server databases"
            ));
        }
        for url in spec.servers() {
            if bascule_db::url_without_password(&url) == url {
                problems.push(format!(
                    "databases.{class}: {url} has no password once loaded"
                ));
            }
        }
    }
    // The state dir must be writable in a read-only root filesystem: on a mounted volume.
    let writable = container(job)["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["readOnly"] != true)
        .filter_map(|m| m["mountPath"].as_str())
        .any(|mount| profile.state_dir.starts_with(mount));
    if !writable {
        problems.push(format!(
            "platform.state_dir {} is on no writable volume of the Job",
            profile.state_dir.display()
        ));
    }
    problems
}

// --- Helm ----------------------------------------------------------------------------------

/// The `.Release` of a render.
struct Release {
    name: &'static str,
    namespace: &'static str,
    revision: u32,
}

fn lookup<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(root, |v, key| v.get(key))
}

/// Renders a template of the simple forms only: `{{ .Values.<path> }}` (a scalar of
/// values.yaml), `{{ .Release.Name }}`, `{{ .Release.Namespace }}`, `{{ .Release.Revision }}`,
/// `{{ .Chart.Name }}`, `{{ .Chart.Version }}`, `{{ .Chart.AppVersion }}`. Anything else —
/// a pipeline, a function, whitespace trimming, a missing value — is refused, so the render is
/// exactly Helm's.
fn render(
    template: &str,
    values: &Value,
    chart: &Value,
    release: &Release,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed `{{{{` in `{}`", &rest[start..]))?;
        let action = after[..end].trim();
        let text = match action {
            ".Release.Name" => release.name.to_string(),
            ".Release.Namespace" => release.namespace.to_string(),
            ".Release.Revision" => release.revision.to_string(),
            ".Chart.Name" => scalar(&chart["name"], action)?,
            ".Chart.Version" => scalar(&chart["version"], action)?,
            ".Chart.AppVersion" => scalar(&chart["appVersion"], action)?,
            _ => match action.strip_prefix(".Values.") {
                Some(path) if path.split('.').all(is_identifier) => scalar(
                    lookup(values, path)
                        .ok_or_else(|| format!("`{action}`: not in values.yaml"))?,
                    action,
                )?,
                _ => {
                    return Err(format!(
                        "`{{{{{action}}}}}` is not one of the simple placeholders"
                    ))
                }
            },
        };
        out.push_str(&text);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_identifier(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A scalar as Helm prints it: strings as they are, integers below a million as digits (Helm
/// reads numbers as float64 and prints larger ones as `1e+06`), booleans as words.
fn scalar(value: &Value, action: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => match n.as_i64() {
            Some(i) if i.abs() < 1_000_000 => Ok(i.to_string()),
            _ => Err(format!(
                "`{action}` is {n}: Helm would print it in float64 form; use an integer below a million"
            )),
        },
        _ => Err(format!("`{action}` is not a scalar of values.yaml")),
    }
}

/// The chart's templates rendered for `revision`, parsed, by file name.
fn render_chart(revision: u32) -> BTreeMap<String, Value> {
    let dir = examples_dir().join("helm");
    let values = parse_file(&dir.join("values.yaml"));
    let chart = parse_file(&dir.join("Chart.yaml"));
    let release = Release {
        name: "platform",
        namespace: "production",
        revision,
    };
    let mut rendered = BTreeMap::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir.join("templates"))
        .expect("helm/templates")
        .map(|e| e.expect("a template").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let text = render(&read(&path), &values, &chart, &release)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        rendered.insert(
            name.unwrap_or_default(),
            parse(&text, &path.display().to_string()),
        );
    }
    rendered
}

fn hook_events(object: &Value) -> Vec<String> {
    object["metadata"]["annotations"]["helm.sh/hook"]
        .as_str()
        .map(|s| s.split(',').map(|e| e.trim().to_string()).collect())
        .unwrap_or_default()
}

fn hook_weight(object: &Value) -> Option<i64> {
    // Helm reads the weight as a string: a bare number in YAML is not an annotation value.
    object["metadata"]["annotations"]["helm.sh/hook-weight"]
        .as_str()
        .and_then(|w| w.trim().parse().ok())
}

/// What the chart's hook needs: its events, weights and delete policy, a name unique per
/// revision, and the ConfigMaps and Secrets it reads either made by hooks that run before it or
/// pre-existing (`pre_existing`: the objects a release must find already there). `job` and
/// `next` are the Job rendered for two successive revisions; `chart` every object rendered.
fn hook_problems(
    job: &Value,
    next: &Value,
    chart: &[Value],
    pre_existing: &[Value],
) -> Vec<String> {
    let mut problems = Vec::new();
    let events = hook_events(job);
    for event in ["pre-install", "pre-upgrade"] {
        if !events.iter().any(|e| e == event) {
            problems.push(format!("the Job is not a `{event}` hook (helm.sh/hook)"));
        }
    }
    let Some(weight) = hook_weight(job) else {
        problems.push("the Job has no helm.sh/hook-weight (a quoted integer)".into());
        return problems;
    };
    let policy = job["metadata"]["annotations"]["helm.sh/hook-delete-policy"]
        .as_str()
        .unwrap_or_default();
    let policies: Vec<&str> = policy.split(',').map(str::trim).collect();
    for wanted in ["before-hook-creation", "hook-succeeded"] {
        if !policies.contains(&wanted) {
            problems.push(format!("helm.sh/hook-delete-policy lacks `{wanted}`"));
        }
    }
    if policies.contains(&"hook-failed") {
        problems.push("hook-failed would delete a failed run's Job, and its log with it".into());
    }
    let name = job["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() || name == next["metadata"]["name"].as_str().unwrap_or_default() {
        problems.push(format!(
            "the Job's name `{name}` is the same at the next revision: include .Release.Revision"
        ));
    }
    if name.len() > 63 {
        problems.push(format!(
            "the Job's name `{name}` is longer than 63 characters"
        ));
    }
    for (kind, referenced, _) in references(job) {
        match find(chart, kind, &referenced) {
            Some(object) => {
                let made_first = hook_weight(object).is_some_and(|w| w < weight);
                let same_events = events.iter().all(|e| hook_events(object).contains(e));
                if !made_first || !same_events {
                    problems.push(format!(
                        "{kind} `{referenced}` is rendered by the chart but not as a hook of the Job's events \
                         with a lower weight: the Job would not find it on install, or find the last revision's on upgrade"
                    ));
                }
            }
            None if find(pre_existing, kind, &referenced).is_some() => {}
            None => problems.push(format!(
                "{kind} `{referenced}` is neither made by the chart's hooks nor among the objects that must pre-exist"
            )),
        }
    }
    problems
}

// --- The tests -------------------------------------------------------------------------------

type JobMutation = Box<dyn Fn(&mut Value)>;
type HookMutation = Box<dyn Fn(&mut Value, &mut Value, &mut Vec<Value>)>;

/// A change to a Job.
fn jm(f: impl Fn(&mut Value) + 'static) -> JobMutation {
    Box::new(f)
}

/// A change to the hook Job, the next revision's, and the chart's objects.
fn hm(f: impl Fn(&mut Value, &mut Value, &mut Vec<Value>) + 'static) -> HookMutation {
    Box::new(f)
}

fn remove(object: &mut Value, key: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(key);
    }
}

#[test]
fn the_plain_job_has_what_migrate_needs() {
    let p = plain();
    let examples = vec![p.configmap.clone(), p.secret.clone()];
    assert_eq!(job_problems(&p.job, &examples), Vec::<String>::new());
    assert_eq!(plain_naming_problems(&p.job), Vec::<String>::new());
    assert_eq!(profile_problems(&p.job, &examples), Vec::<String>::new());
}

#[test]
fn the_host_profile_of_the_configmap_loads_with_its_passwords() {
    let p = plain();
    let examples = vec![p.configmap.clone(), p.secret.clone()];
    assert_eq!(profile_problems(&p.job, &examples), Vec::<String>::new());
    // Loaded again here to look at what the loader made of it.
    let text = p.configmap["data"]["host.toml"]
        .as_str()
        .expect("host.toml");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("host.toml");
    std::fs::write(&path, text).expect("written");
    let profile = HostProfile::load(&path).expect("the profile loads");
    assert_eq!(
        profile.databases.keys().collect::<Vec<_>>(),
        ["shop", "site"]
    );
    let site = &profile.databases["site"];
    assert_eq!(
        site.password_env.as_deref(),
        Some("BASCULE_SITE_DB_PASSWORD")
    );
    // The example Secret's password, percent-encoded into the url.
    let url = site.url.as_deref().expect("a url");
    assert!(url.contains(":change-me%3A%20site@"), "{url}");
    assert_eq!(profile.state_dir, Path::new("/var/lib/bascule/state"));
}

#[test]
fn every_check_of_the_job_can_fail() {
    let p = plain();
    let examples = vec![p.configmap.clone(), p.secret.clone()];
    let arg = |job: &mut Value, from: &str, to: &str| {
        let command = job["spec"]["template"]["spec"]["containers"][0]["command"]
            .as_array_mut()
            .expect("a command");
        let i = command.iter().position(|a| a == from).expect(from);
        command[i] = json!(to);
    };
    let cases: Vec<(&str, JobMutation)> = vec![
        ("batch/v1 Job", jm(|j| j["kind"] = json!("Pod"))),
        ("backoffLimit", jm(|j| j["spec"]["backoffLimit"] = json!(6))),
        (
            "backoffLimit",
            jm(|j| {
                remove(&mut j["spec"], "backoffLimit");
            }),
        ),
        (
            "restartPolicy",
            jm(|j| j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure")),
        ),
        (
            "ttlSecondsAfterFinished",
            jm(|j| {
                remove(&mut j["spec"], "ttlSecondsAfterFinished");
            }),
        ),
        (
            "ttlSecondsAfterFinished",
            jm(|j| j["spec"]["ttlSecondsAfterFinished"] = json!(0)),
        ),
        (
            "activeDeadlineSeconds",
            jm(|j| j["spec"]["activeDeadlineSeconds"] = json!(600)),
        ),
        ("--format json", jm(move |j| arg(j, "json", "text"))),
        (
            "--lock-timeout",
            jm(move |j| arg(j, "--lock-timeout", "--quiet")),
        ),
        (
            "bin/bascule migrate",
            jm(move |j| arg(j, "migrate", "plan")),
        ),
        (
            "no shell",
            jm(|j| {
                let c = &mut j["spec"]["template"]["spec"]["containers"][0];
                let line = c["command"].clone();
                c["command"] = json!(["sh", "-c"]);
                c["args"] = line;
            }),
        ),
        (
            "--bundle",
            jm(move |j| arg(j, "/opt/bascule/bascule-2.4.0", "/opt/other")),
        ),
        (
            "not tagged",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["image"] =
                    json!("platform-migrate:latest")
            }),
        ),
        (
            "--detach",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["command"]
                    .as_array_mut()
                    .expect("a command")
                    .push(json!("--detach"))
            }),
        ),
        (
            "where --host",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] =
                    json!("/etc/other")
            }),
        ),
        (
            "no item at `host.toml`",
            jm(|j| {
                j["spec"]["template"]["spec"]["volumes"][0]["configMap"]["items"][0]["path"] =
                    json!("profile.toml")
            }),
        ),
        (
            "not among the examples",
            jm(|j| {
                j["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] =
                    json!("elsewhere")
            }),
        ),
        (
            "not among the examples",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]
                    ["secretKeyRef"]["name"] = json!("db-other")
            }),
        ),
        (
            "has no key",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["env"][1]["valueFrom"]
                    ["secretKeyRef"]["key"] = json!("password")
            }),
        ),
        (
            "non-root",
            jm(|j| j["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = json!(0)),
        ),
        (
            "non-root",
            jm(|j| j["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = json!(false)),
        ),
        (
            "readOnlyRootFilesystem",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["securityContext"]
                    ["readOnlyRootFilesystem"] = json!(false)
            }),
        ),
        (
            "automountServiceAccountToken",
            jm(|j| j["spec"]["template"]["spec"]["automountServiceAccountToken"] = json!(true)),
        ),
        (
            "memory",
            jm(|j| j["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({})),
        ),
        (
            "terminationMessagePolicy",
            jm(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"] =
                    json!("File")
            }),
        ),
    ];
    for (expected, mutate) in &cases {
        let mut job = p.job.clone();
        mutate(&mut job);
        let problems = job_problems(&job, &examples);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "a job broken for `{expected}` gave {problems:#?}"
        );
    }
    let mut named = p.job.clone();
    named["metadata"]["name"] = json!("bascule-migrate");
    assert!(!plain_naming_problems(&named).is_empty());
    remove(&mut named["metadata"], "generateName");
    assert!(!plain_naming_problems(&named).is_empty());
}

#[test]
fn every_check_of_the_host_profile_can_fail() {
    let p = plain();
    let with_profile = |profile: &str| {
        let mut configmap = p.configmap.clone();
        configmap["data"]["host.toml"] = json!(profile);
        vec![configmap, p.secret.clone()]
    };
    let text = p.configmap["data"]["host.toml"]
        .as_str()
        .expect("host.toml")
        .to_string();
    let cases: Vec<(&str, Vec<Value>, Value)> = vec![
        // The runtime's loader refuses a key it does not know.
        (
            "refuses the host profile",
            with_profile(&text.replace("workers = 4", "worker = 4")),
            p.job.clone(),
        ),
        (
            "is SQLite",
            with_profile(&format!(
                "{text}\n[databases.main]\nengine = \"sqlite\"\npaths = [\"/var/lib/platform/main.sqlite\"]\n"
            )),
            p.job.clone(),
        ),
        (
            "does not set",
            with_profile(&text.replace("BASCULE_SHOP_DB_PASSWORD", "BASCULE_SHOP_PASSWORD_X")),
            p.job.clone(),
        ),
        (
            "password_env",
            with_profile(&text.replace(
                "password_env = \"BASCULE_SITE_DB_PASSWORD\"",
                "password_file = \"/etc/bascule/secrets/site\"",
            )),
            p.job.clone(),
        ),
        (
            "no writable volume",
            with_profile(&text.replace(
                "state_dir = \"/var/lib/bascule/state\"",
                "state_dir = \"/opt/state\"",
            )),
            p.job.clone(),
        ),
        ("does not set", vec![p.configmap.clone(), p.secret.clone()], {
            let mut job = p.job.clone();
            job["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"] =
                json!("SITE_PASSWORD");
            job
        }),
        ("no writable volume", vec![p.configmap.clone(), p.secret.clone()], {
            let mut job = p.job.clone();
            job["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][1]["readOnly"] =
                json!(true);
            job
        }),
    ];
    for (expected, examples, job) in &cases {
        let problems = profile_problems(job, examples);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "a profile broken for `{expected}` gave {problems:#?}"
        );
    }
}

#[test]
fn the_image_unpacks_the_bundle_where_the_job_runs_it() {
    let dockerfile = read(&examples_dir().join("Dockerfile.example"));
    let job = plain().job;
    let bundle = flag(&command_line(&job), "--bundle").expect("--bundle");
    let parent = Path::new(&bundle)
        .parent()
        .expect("a parent")
        .display()
        .to_string();
    assert!(
        dockerfile.contains(&format!("WORKDIR {parent}\n")),
        "Dockerfile.example must unpack into {parent}"
    );
    assert!(dockerfile.contains("tar -xzf bascule-${VERSION}.tar.gz"));
    let user = int(&job["spec"]["template"]["spec"]["securityContext"]["runAsUser"]);
    assert!(
        dockerfile.contains(&format!("USER {}", user.expect("runAsUser"))),
        "the image's user is the Job's"
    );
}

#[test]
fn the_helm_hook_has_what_migrate_needs() {
    let first = render_chart(1);
    let second = render_chart(2);
    let job = &first["migrate-job.yaml"];
    let next = &second["migrate-job.yaml"];
    let chart: Vec<Value> = first.values().cloned().collect();
    let pre_existing = vec![plain().secret];
    let mut examples = chart.clone();
    examples.extend(pre_existing.iter().cloned());
    assert_eq!(job_problems(job, &examples), Vec::<String>::new());
    assert_eq!(
        hook_problems(job, next, &chart, &pre_existing),
        Vec::<String>::new()
    );
    assert_eq!(profile_problems(job, &examples), Vec::<String>::new());
    assert_eq!(job["metadata"]["name"], "platform-migrate-1");
    assert_eq!(next["metadata"]["name"], "platform-migrate-2");
    // The chart requires the Secret to pre-exist: it renders none.
    assert!(chart.iter().all(|o| o["kind"] != "Secret"));
}

#[test]
fn every_check_of_the_helm_hook_can_fail() {
    let first = render_chart(1);
    let second = render_chart(2);
    let job = &first["migrate-job.yaml"];
    let next = &second["migrate-job.yaml"];
    let chart: Vec<Value> = first.values().cloned().collect();
    let pre_existing = vec![plain().secret];
    let annotation = |object: &mut Value, key: &str, value: Value| {
        object["metadata"]["annotations"][key] = value;
    };
    let cases: Vec<(&str, HookMutation)> = vec![
        (
            "`pre-upgrade` hook",
            hm(move |j, _, _| annotation(j, "helm.sh/hook", json!("pre-install"))),
        ),
        (
            "`pre-install` hook",
            hm(move |j, _, _| annotation(j, "helm.sh/hook", json!("post-install"))),
        ),
        (
            "hook-weight",
            hm(move |j, _, _| annotation(j, "helm.sh/hook-weight", json!(0))),
        ),
        (
            "lacks `before-hook-creation`",
            hm(move |j, _, _| annotation(j, "helm.sh/hook-delete-policy", json!("hook-succeeded"))),
        ),
        (
            "lacks `hook-succeeded`",
            hm(move |j, _, _| {
                annotation(
                    j,
                    "helm.sh/hook-delete-policy",
                    json!("before-hook-creation"),
                )
            }),
        ),
        (
            "hook-failed",
            hm(move |j, _, _| {
                annotation(
                    j,
                    "helm.sh/hook-delete-policy",
                    json!("before-hook-creation,hook-succeeded,hook-failed"),
                )
            }),
        ),
        (
            "same at the next revision",
            hm(|j, n, _| {
                j["metadata"]["name"] = json!("platform-migrate");
                n["metadata"]["name"] = json!("platform-migrate");
            }),
        ),
        (
            "longer than 63",
            hm(|j, _, _| j["metadata"]["name"] = json!(format!("{}-1", "x".repeat(63)))),
        ),
        (
            "lower weight",
            hm(move |_, _, chart| {
                for object in chart.iter_mut().filter(|o| o["kind"] == "ConfigMap") {
                    annotation(object, "helm.sh/hook-weight", json!("5"));
                }
            }),
        ),
        (
            "lower weight",
            hm(|_, _, chart| {
                for object in chart.iter_mut().filter(|o| o["kind"] == "ConfigMap") {
                    remove(&mut object["metadata"], "annotations");
                }
            }),
        ),
        (
            "must pre-exist",
            hm(|j, _, _| {
                j["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]
                    ["secretKeyRef"]["name"] = json!("rendered-nowhere")
            }),
        ),
    ];
    for (expected, mutate) in &cases {
        let (mut job, mut next, mut chart) = (job.clone(), next.clone(), chart.clone());
        mutate(&mut job, &mut next, &mut chart);
        let problems = hook_problems(&job, &next, &chart, &pre_existing);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "a hook broken for `{expected}` gave {problems:#?}"
        );
    }
}

#[test]
fn the_render_substitutes_only_the_simple_placeholders() {
    let values = json!({"a": {"b": "x", "n": 900, "big": 1_000_000, "list": [1]}});
    let chart = json!({"name": "c", "version": "0.1.0", "appVersion": "2.4.0"});
    let release = Release {
        name: "r",
        namespace: "ns",
        revision: 7,
    };
    let ok = |t: &str| render(t, &values, &chart, &release);
    assert_eq!(
        ok("{{ .Release.Name }}-{{ .Release.Revision }} {{ .Values.a.b }} {{.Values.a.n}} {{ .Chart.AppVersion }} {{ .Release.Namespace }}"),
        Ok("r-7 x 900 2.4.0 ns".to_string())
    );
    for refused in [
        "{{ .Values.a.b | quote }}",
        "{{ include \"x\" . }}",
        "{{- .Values.a.b }}",
        "{{ .Values.a.missing }}",
        "{{ .Values.a.big }}",
        "{{ .Values.a.list }}",
        "{{ .Values.a }}",
        "{{ .Capabilities.KubeVersion }}",
        "{{ .Values.a.b ",
    ] {
        assert!(ok(refused).is_err(), "{refused} was rendered");
    }
}

#[test]
fn the_readme_names_every_example_and_the_traps() {
    let dir = examples_dir();
    let readme = read(&dir.join("README.md"));
    for file in [
        "job.yaml",
        "configmap.yaml",
        "secret.example.yaml",
        "Dockerfile.example",
        "helm/templates/migrate-job.yaml",
        "helm/templates/host-profile.yaml",
        "helm/values.yaml",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
        assert!(readme.contains(file), "README.md does not name {file}");
    }
    for trap in [
        "ttlSecondsAfterFinished",
        "BackoffLimitExceeded",
        "helm#4010",
        "#10809",
        "init container",
    ] {
        assert!(readme.contains(trap), "README.md does not speak of {trap}");
    }
}
