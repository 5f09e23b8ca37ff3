//! `preflight`: everything that can be known before touching the host is checked here, so a
//! refusal costs nothing.
//!
//! Bundle integrity and, when the host pins keys, its signature (`trusted`), the platform's version against the patch's `from`, requirements (commands
//! and the versions of software, OS and database servers, read from the fingerprint the run
//! recorded), this host against the rehearsal the bundle passed (`fingerprint::rehearsal`),
//! disk space (the patch's and the host profile's `[guards]` minimums), the release directory, every database's version and migration checksums, and the
//! consistency checks. Preflight only reads; its undo has nothing to do.

use std::path::Path;

use super::checks::run_checks;
use crate::engine::{Context, Step, StepError};
use crate::fingerprint::compare::Difference;
use crate::fingerprint::rehearsal::{self, Verdict};
use crate::fingerprint::{requirements, Fingerprint, FINGERPRINT_FILE};
use crate::journal::Intent;
use crate::state::PlatformState;
use crate::survey::survey;
use crate::trusted;
use bascule_patch::Moment;

pub struct Preflight;

impl Step for Preflight {
    fn name(&self) -> &'static str {
        "preflight"
    }

    fn summary(&self) -> &'static str {
        "bundle integrity, platform version in `from`, requirements and versions, this host against its rehearsal, disk, databases, consistency checks"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        check_bundle(cx)?;
        check_platform_version(cx)?;
        let fingerprint = Fingerprint::read(&cx.run_dir.join(FINGERPRINT_FILE))
            .map_err(|e| StepError::Failed(e.to_string()))?;
        check_requirements(cx, &fingerprint)?;
        check_rehearsal(cx, &fingerprint)?;
        check_disk(cx)?;
        check_release_layout(cx)?;
        check_databases(cx)?;
        run_checks(cx, Moment::Before)
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

fn check_bundle(cx: &Context<'_>) -> Result<(), StepError> {
    let trust = trusted::check_bundle(cx.host, cx.bundle_root, cx.manifest)?;
    cx.say(format_args!(
        "bundle {} verified: {} files match MANIFEST.toml; {}",
        cx.patch.version(),
        cx.manifest.files.len(),
        trust.describe()
    ));
    Ok(())
}

fn check_platform_version(cx: &Context<'_>) -> Result<(), StepError> {
    let state_file = PlatformState::path(&cx.host.state_dir);
    let Some(state) = PlatformState::read(&cx.host.state_dir)? else {
        return Err(StepError::Failed(format!(
            "{}: no platform version is recorded, so this patch cannot know what it upgrades. \
             Write `version = \"X.Y.Z\"` there with the version installed now",
            state_file.display()
        )));
    };
    let spec = &cx.patch.spec.patch;
    if state.version == spec.version {
        return Err(StepError::Failed(format!(
            "the platform is already at {}: nothing to do",
            spec.version
        )));
    }
    if !spec.from.matches(&state.version) {
        return Err(StepError::Failed(format!(
            "the platform is at {} but this patch applies to `{}` only (patch.toml [patch] from); \
             apply the patches in between first",
            state.version, spec.from
        )));
    }
    cx.say(format_args!(
        "platform {} → {}",
        state.version, spec.version
    ));
    Ok(())
}

/// Every `[requirements]` entry, against the fingerprint this run recorded.
fn check_requirements(cx: &Context<'_>, fingerprint: &Fingerprint) -> Result<(), StepError> {
    let checks = requirements::check(&cx.patch.spec.requirements, fingerprint);
    if let Some(refusal) = requirements::unmet(&checks) {
        return Err(StepError::Failed(refusal));
    }
    for check in checks.iter().filter(|c| !c.key.ends_with("commands")) {
        cx.say(format_args!(
            "requirement {}: {} found",
            check.wanted, check.found
        ));
    }
    Ok(())
}

/// This host against the closest rehearsal that passed: a critical difference refuses the run,
/// unless the operator gave a reason (`--accept-differences`); every difference is remarked.
fn check_rehearsal(cx: &Context<'_>, fingerprint: &Fingerprint) -> Result<(), StepError> {
    let spec = &cx.patch.spec.fingerprint;
    let path = rehearsal::record_for(cx.options.rehearsal.as_deref(), cx.bundle_root);
    let verdict = rehearsal::verdict(&path, &cx.manifest.digest(), fingerprint, spec);
    let accepted = cx.options.accept_differences.as_deref();
    let (target, differences) = match &verdict {
        Verdict::NotRehearsed { why } if spec.require_rehearsal => {
            let Some(reason) = accepted else {
                return Err(StepError::Failed(format!(
                    "this bundle was not rehearsed: {why}; the patch requires a rehearsal \
                     (patch.toml [fingerprint] require_rehearsal). Rehearse it \
                     (`cargo xtask rehearse`), or run again with --accept-differences \"<why>\""
                )));
            };
            cx.remark(format_args!(
                "not rehearsed ({why}); run anyway, accepted by {}: \"{reason}\"",
                crate::gate::operator()
            ));
            return Ok(());
        }
        Verdict::NotRehearsed { why } => {
            cx.remark(format_args!("not rehearsed: {why}"));
            return Ok(());
        }
        Verdict::Rehearsed {
            rehearsal,
            differences,
            ..
        } => (&rehearsal.target, differences),
    };
    if differences.is_empty() {
        cx.remark(format_args!(
            "rehearsed on `{target}`: this host matches it in every fact"
        ));
        return Ok(());
    }
    let listed: Vec<String> = differences.iter().map(Difference::line).collect();
    let critical = verdict.critical();
    if critical.is_empty() {
        cx.remark(format_args!(
            "rehearsed on `{target}`; this host differs in {} fact(s), none critical: {}",
            differences.len(),
            listed.join("; ")
        ));
        return Ok(());
    }
    let Some(reason) = accepted else {
        return Err(StepError::Failed(format!(
            "this host differs from the rehearsal on `{target}` in {} critical fact(s) \
             (patch.toml [fingerprint] critical), so this bundle was not rehearsed on an \
             environment like this one:\n  {}\nRehearse on a snapshot of this host, or, if the \
             difference is known to be harmless here, run again with \
             --accept-differences \"<why it is safe>\" (the reason goes in the log and the report)",
            critical.len(),
            listed.join("\n  ")
        )));
    };
    cx.remark(format_args!(
        "this host differs from the rehearsal on `{target}` in {} critical fact(s) ({}); \
         run anyway, accepted by {}: \"{reason}\"",
        critical.len(),
        listed.join("; "),
        crate::gate::operator()
    ));
    Ok(())
}

/// Room for the new release's code plus what the patch and the host profile ask to stay free
/// on the platform's disk, and the profile's minimum on the state directory's: a disk that fills
/// half-way is undone, but a release that cannot finish is downtime for nothing.
fn check_disk(cx: &Context<'_>) -> Result<(), StepError> {
    let mib = |bytes: u64| bytes.div_ceil(1024 * 1024);
    let code_bytes: u64 = cx
        .manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("code/"))
        .map(|f| f.size)
        .sum();
    let patch_min = cx.patch.spec.requirements.min_free_mb * 1024 * 1024;
    let host_min = cx.host.guards.min_free.map_or(0, |b| b.as_u64());
    let mut short = Vec::new();
    let free = free_bytes(&cx.host.root)?;
    let wanted = code_bytes + patch_min.max(host_min);
    if free < wanted {
        short.push(format!(
            "{}: {} MiB free, {} MiB needed (the release's code, {} MiB, then {} MiB left free: \
             the larger of patch.toml [requirements] min_free_mb and the host profile's [guards] min_free)",
            cx.host.root.display(),
            free / (1024 * 1024),
            mib(wanted),
            mib(code_bytes),
            mib(patch_min.max(host_min))
        ));
    }
    if let Some(min) = cx.host.guards.min_free_state {
        let free = free_bytes(&cx.host.state_dir)?;
        if free < min.as_u64() {
            short.push(format!(
                "{}: {} MiB free, the host profile's [guards] min_free_state asks {} MiB",
                cx.host.state_dir.display(),
                free / (1024 * 1024),
                mib(min.as_u64())
            ));
        }
    }
    if short.is_empty() {
        return Ok(());
    }
    let short = short.join("; ");
    match cx.options.allow_low_disk.as_deref() {
        Some(reason) => {
            cx.remark(format_args!(
                "low disk ({short}); started anyway, accepted by {}: \"{reason}\"",
                crate::gate::operator()
            ));
            Ok(())
        }
        None => Err(StepError::Failed(format!(
            "{short}. Free some space, or, if it is safe, pass --allow-low-disk \"<why>\""
        ))),
    }
}

fn free_bytes(path: &Path) -> Result<u64, StepError> {
    crate::host::free_bytes(path).map_err(|e| StepError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn check_release_layout(cx: &Context<'_>) -> Result<(), StepError> {
    let release = cx.host.releases_dir().join(cx.patch.version().to_string());
    if release.exists() {
        return Err(StepError::Failed(format!(
            "{} already exists: a release directory is never overwritten. \
             If it is left from an old attempt, move it away",
            release.display()
        )));
    }
    let current = cx.host.current_link();
    if let Ok(meta) = std::fs::symlink_metadata(&current) {
        if !meta.file_type().is_symlink() {
            return Err(StepError::Failed(format!(
                "{} is not a symbolic link: Bascule switches releases by retargeting it",
                current.display()
            )));
        }
    }
    for shared in &cx.host.shared {
        let target = cx.host.shared_dir().join(shared);
        if std::fs::symlink_metadata(&target).is_err() {
            return Err(StepError::Failed(format!(
                "{}: shared path `{}` (host profile platform.shared) does not exist; create it",
                target.display(),
                shared.display()
            )));
        }
    }
    Ok(())
}

fn check_databases(cx: &mut Context<'_>) -> Result<(), StepError> {
    let classes = survey(cx.host, cx.patch)?;
    let problems: Vec<String> = classes.iter().flat_map(|c| c.problems()).collect();
    if !problems.is_empty() {
        return Err(StepError::Failed(format!(
            "{} database problem(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        )));
    }
    for class in &classes {
        cx.say(format_args!(
            "{}: {} database(s), {} with migrations pending",
            class.class,
            class.databases.len(),
            class.pending_databases()
        ));
    }
    cx.keep_survey(classes);
    Ok(())
}
