//! `bascule plan`: what `apply` would do on this host, computed from the same survey, without
//! changing anything.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::engine::StepError;
use crate::fingerprint::rehearsal::{self, Verdict};
use crate::fingerprint::{requirements, Fingerprint};
use crate::host::HostProfile;
use crate::state::PlatformState;
use crate::steps::apply_steps;
use crate::survey::{survey, ClassSurvey};
use bascule_bundle::Manifest;
use bascule_patch::{CheckWhen, Patch};

/// What `apply` would do here: the plan as a person reads it and, for a program, its gist
/// (`bascule plan --format json`, described by `runtime/schema/plan.schema.json`).
#[derive(Debug, Serialize)]
pub struct Plan {
    /// `bascule.plan.v1`: changes that break a reader get a new version.
    pub format: &'static str,
    /// The bundle's version.
    pub version: String,
    /// The version the host's platform is at; `None` when none is recorded.
    pub platform: Option<String>,
    /// `apply`, `nothing to do` (the platform is already at the bundle's version) or `refused`.
    pub action: &'static str,
    /// Whether `apply` would change the host.
    pub changed: bool,
    /// Why `apply` would refuse, each a sentence.
    pub refusals: Vec<String>,
    /// The steps of `apply`, in order.
    pub steps: Vec<&'static str>,
    pub classes: Vec<PlannedClass>,
    /// The plan as `bascule plan` prints it.
    pub text: String,
}

/// One class of databases and what the patch would run there.
#[derive(Debug, Serialize)]
pub struct PlannedClass {
    pub class: String,
    pub databases: usize,
    /// Migrations still to run, summed over the databases.
    pub pending: usize,
    /// Those of them declared irreversible (`-- bascule:irreversible <reason>`): once they are
    /// applied, `rollback` is refused.
    pub irreversible: Vec<PlannedIrreversible>,
}

/// A migration `apply` would run that declares its down does not restore what its up removes.
#[derive(Debug, Serialize)]
pub struct PlannedIrreversible {
    /// The migration's directory name, e.g. `000117_drop_legacy_sessions`.
    pub migration: String,
    /// The reason its marker gives; empty when it gives none.
    pub reason: String,
    /// The databases it would run on.
    pub databases: usize,
}

impl Plan {
    /// Surveys the host; `trust` is what checking the bundle found
    /// ([`crate::trusted::check_bundle`]), `record` the rehearsal record to compare this host with.
    pub fn survey(
        host: &HostProfile,
        patch: &Patch,
        manifest: &Manifest,
        trust: &crate::trusted::Trust,
        record: &Path,
    ) -> Result<Plan, StepError> {
        let mut text = String::new();
        let classes = survey(host, patch)?;
        let fingerprint = Fingerprint::capture(host, patch);
        header(&mut text, host, patch, manifest, trust)?;
        let mut refusals = requirements_section(&mut text, patch, &fingerprint);
        refusals.extend(rehearsal_section(
            &mut text,
            patch,
            manifest,
            &fingerprint,
            record,
        ));
        databases(&mut text, &classes);
        irreversible(&mut text, &classes);
        checks(&mut text, patch)?;
        let checklist = match bascule_patch::docs::Documents::load_for_run(&patch.dir) {
            Ok(documents) => documents.checklist,
            Err(problems) => {
                refusals.extend(problems.iter().map(ToString::to_string));
                Default::default()
            }
        };
        steps(&mut text, &checklist);
        abandoned(&mut text, &classes);
        refusals.extend(classes.iter().flat_map(|c| c.problems()));
        let spec = &patch.spec.patch;
        let platform = PlatformState::read(&host.state_dir)?.map(|state| state.version);
        let action = action(platform.as_ref(), spec, &mut refusals);
        match action {
            "nothing to do" => {
                let _ = writeln!(
                    text,
                    "\nNothing to do: the platform is already at {}.",
                    spec.version
                );
            }
            _ => problems(&mut text, &refusals),
        }
        Ok(Plan {
            format: "bascule.plan.v1",
            version: spec.version.to_string(),
            platform: platform.map(|v| v.to_string()),
            action,
            changed: action == "apply",
            refusals,
            steps: apply_steps().iter().map(|step| step.name()).collect(),
            classes: classes
                .iter()
                .map(|class| PlannedClass {
                    class: class.class.clone(),
                    databases: class.databases.len(),
                    pending: class.pending_total(),
                    irreversible: irreversible_of(class),
                })
                .collect(),
            text,
        })
    }
}

/// What `apply` would do with the platform at `platform`: `nothing to do` when it is at the
/// patch's version already, else `apply` unless something refuses it — a version outside the
/// patch's `from`, none recorded (added to `refusals`), or what `refusals` holds already.
fn action(
    platform: Option<&semver::Version>,
    spec: &bascule_patch::PatchInfo,
    refusals: &mut Vec<String>,
) -> &'static str {
    match platform {
        Some(version) if *version == spec.version => "nothing to do",
        Some(version) if !spec.from.matches(version) => {
            refusals.push(format!(
                "the platform is at {version} but this patch applies to `{}` only",
                spec.from
            ));
            "refused"
        }
        None => {
            refusals.push("no platform version is recorded on this host".into());
            "refused"
        }
        Some(_) if refusals.is_empty() => "apply",
        Some(_) => "refused",
    }
}

/// Every requirement with what this host has; returns the refusals.
fn requirements_section(out: &mut String, patch: &Patch, fingerprint: &Fingerprint) -> Vec<String> {
    let checks = requirements::check(&patch.spec.requirements, fingerprint);
    let _ = writeln!(out, "\nRequirements");
    if checks.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let width = checks
        .iter()
        .map(|c| c.wanted.chars().count())
        .max()
        .unwrap_or(0);
    for check in &checks {
        let verdict = if check.ok() { "ok" } else { "NO" };
        let _ = writeln!(
            out,
            "  {:<width$}  {verdict:<2}  found {}",
            check.wanted, check.found
        );
    }
    checks.iter().filter_map(|c| c.refusal()).collect()
}

/// Whether the bundle was rehearsed on an environment like this one; returns the refusals.
fn rehearsal_section(
    out: &mut String,
    patch: &Patch,
    manifest: &Manifest,
    fingerprint: &Fingerprint,
    record: &Path,
) -> Vec<String> {
    let spec = &patch.spec.fingerprint;
    let verdict = rehearsal::verdict(record, &manifest.digest(), fingerprint, spec);
    let _ = writeln!(out, "\nRehearsal");
    out.push_str(&verdict.render());
    let critical = verdict.critical();
    match &verdict {
        Verdict::NotRehearsed { why } if spec.require_rehearsal => vec![format!(
            "not rehearsed ({why}) and the patch requires it ([fingerprint] require_rehearsal): \
             rehearse it, or give --accept-differences \"<why>\""
        )],
        _ if !critical.is_empty() => vec![format!(
            "{} critical difference(s) from the rehearsal ({}): give --accept-differences \"<why it is safe>\" to run anyway",
            critical.len(),
            critical.iter().map(|d| d.key.as_str()).collect::<Vec<_>>().join(", ")
        )],
        _ => Vec::new(),
    }
}

fn header(
    out: &mut String,
    host: &HostProfile,
    patch: &Patch,
    manifest: &Manifest,
    trust: &crate::trusted::Trust,
) -> Result<(), StepError> {
    let spec = &patch.spec.patch;
    let title = if spec.title.is_empty() {
        String::new()
    } else {
        format!(" — {}", spec.title)
    };
    let _ = writeln!(out, "Bascule plan: bundle {}{title}", spec.version);
    let _ = writeln!(
        out,
        "  bundle        {} files match MANIFEST.toml; {}",
        manifest.files.len(),
        trust.describe()
    );
    let _ = writeln!(out, "  host profile  {}", host.path.display());
    let current = PlatformState::read(&host.state_dir)?;
    let platform = match &current {
        Some(state) => {
            let fits = if spec.from.matches(&state.version) {
                "yes"
            } else {
                "NO"
            };
            format!(
                "{} → {}  (patch applies from `{}`: {fits})",
                state.version, spec.version, spec.from
            )
        }
        None => format!("unknown → {}  (no platform version recorded)", spec.version),
    };
    let _ = writeln!(out, "  platform      {platform}");
    let _ = writeln!(out, "  mode          {}", spec.mode);
    let code: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("code/"))
        .collect();
    let bytes: u64 = code.iter().map(|f| f.size).sum();
    let link = std::fs::read_link(host.current_link())
        .map_or("(none)".to_string(), |p| p.display().to_string());
    let _ = writeln!(
        out,
        "  code          releases/{} ({} files, {}); current → {link}",
        spec.version,
        code.len(),
        human_bytes(bytes)
    );
    Ok(())
}

fn databases(out: &mut String, classes: &[ClassSurvey]) {
    let _ = writeln!(out, "\nDatabases");
    if classes.is_empty() {
        let _ = writeln!(out, "  (this patch has no migrations)");
        return;
    }
    let _ = writeln!(
        out,
        "  {:<8} {:<8} {:>9}  {:<16} {:>8}  migrations",
        "class", "engine", "databases", "at version", "pending"
    );
    for class in classes {
        let versions: Vec<String> = class
            .versions()
            .iter()
            .map(|(v, n)| format!("{v} (×{n})"))
            .collect();
        let names: Vec<String> = class
            .migrations
            .migrations
            .iter()
            .map(|m| m.label())
            .collect();
        let _ = writeln!(
            out,
            "  {:<8} {:<8} {:>9}  {:<16} {:>8}  {}",
            class.class,
            class.dialect.to_string(),
            class.databases.len(),
            versions.join(", "),
            class.pending_total(),
            names.join(", ")
        );
    }
}

/// The migrations `apply` would run on at least one database of `class` that declare their
/// down does not restore what their up removed (`-- bascule:irreversible <reason>`).
fn irreversible_of(class: &ClassSurvey) -> Vec<PlannedIrreversible> {
    class
        .migrations
        .migrations
        .iter()
        .filter_map(|m| {
            let reason = m.irreversible()?;
            let databases = class
                .databases
                .iter()
                .filter(|d| m.id > d.state.version())
                .count();
            (databases > 0).then(|| PlannedIrreversible {
                migration: m.label(),
                reason: reason.to_string(),
                databases,
            })
        })
        .collect()
}

/// The irreversible migrations of every class: once they are applied, `rollback` is refused.
/// Nothing is printed when there are none.
fn irreversible(out: &mut String, classes: &[ClassSurvey]) {
    let lines: Vec<String> = classes
        .iter()
        .flat_map(|class| {
            irreversible_of(class).into_iter().map(|m| {
                let reason = if m.reason.is_empty() {
                    "(no reason given)"
                } else {
                    &m.reason
                };
                format!(
                    "  {} {}: {reason} (to apply on {} database(s))",
                    class.class, m.migration, m.databases
                )
            })
        })
        .collect();
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nIrreversible migrations (their down does not restore what their up removes: \
         once they are applied, `bascule rollback` is refused)"
    );
    for line in lines {
        let _ = writeln!(out, "{line}");
    }
}

fn checks(out: &mut String, patch: &Patch) -> Result<(), StepError> {
    let _ = writeln!(out, "\nConsistency checks (must return zero rows)");
    let mut any = false;
    for class in patch.spec.classes.keys() {
        for check in patch.checks(class)? {
            any = true;
            let when = match check.when {
                CheckWhen::Both => "before and after",
                CheckWhen::BeforeOnly => "before",
                CheckWhen::AfterOnly => "after",
            };
            let _ = writeln!(out, "  {class}: {} ({when})", check.name);
        }
    }
    if !any {
        let _ = writeln!(out, "  (none)");
    }
    Ok(())
}

/// The steps of `apply`, each with the checklist items due before and after it.
fn steps(out: &mut String, checklist: &bascule_patch::docs::Checklist) {
    let _ = writeln!(
        out,
        "\nSteps (any failure undoes every step before it, in reverse)"
    );
    let steps = apply_steps();
    let width = steps.iter().map(|s| s.name().len()).max().unwrap_or(0);
    for (index, step) in steps.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:>2}. {:<width$}  {}",
            index + 1,
            step.name(),
            step.summary()
        );
        for (after, when) in [(false, "before"), (true, "after")] {
            for (n, item) in checklist.at(step.name(), after) {
                let kind = if item.manual {
                    "manual, waits"
                } else {
                    "shown"
                };
                let _ = writeln!(out, "      {when}: checklist {n} ({kind}): {}", item.text);
            }
        }
    }
}

/// Migrations left half-applied by an interrupted run that `apply` will finish undoing first.
fn abandoned(out: &mut String, classes: &[ClassSurvey]) {
    let databases = crate::survey::with_abandoned(classes);
    if databases.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "\nHalf-applied migrations ({} database(s)): left `applying` by an interrupted run; \
         `apply` and `migrate` finish their undo (down.sql) under the migration locks, then apply them again",
        databases.len()
    );
    for database in databases.iter().take(10) {
        let _ = writeln!(out, "  - {database}");
    }
    if databases.len() > 10 {
        let _ = writeln!(out, "  … and {} more", databases.len() - 10);
    }
}

fn problems(out: &mut String, problems: &[String]) {
    if problems.is_empty() {
        let _ = writeln!(out, "\nNo problem found: `bascule apply` would proceed.");
        return;
    }
    let _ = writeln!(
        out,
        "\nProblems ({}): `bascule apply` would refuse",
        problems.len()
    );
    for problem in problems {
        let _ = writeln!(out, "  - {problem}");
    }
}

/// `1536` → `1.5 KiB`.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
