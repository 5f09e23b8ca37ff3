//! `smoke`: the patch's smoke tests, once the services run the new code.
//!
//! A smoke test proves the platform *answers* as it should: an HTTP check (status, body
//! containing a text or matching a regex) on the platform or on every site of a class (all of
//! them, or the host's sample), or a command that must exit 0 (and print a text). The first
//! failures are reported with the response excerpt around what was expected, so the operator
//! sees at once what the page said. The step changes nothing; its undo has nothing to do.
//!
//! `[[smoke]]` is typed, and checked when the patch loads, in [`bascule_patch::SmokeCheck`]
//! (examples in `runtime/patch/src/smoke.rs`).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::engine::{Context, Step, StepError};
use crate::http::{Client, Response};
use crate::journal::Intent;
use crate::sampling::panel::{all_sites, sample_sites, site_page_url};
use bascule_db::parallel::{self, OnError};
use bascule_patch::{SiteChoice, SmokeCheck};

pub struct Smoke;

impl Step for Smoke {
    fn name(&self) -> &'static str {
        "smoke"
    }

    fn summary(&self) -> &'static str {
        "the patch's smoke tests: HTTP checks (status, text, per site) and commands"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        let checks = &cx.patch.spec.smoke;
        if checks.is_empty() {
            cx.say("no smoke tests in this patch");
            return Ok(());
        }
        let mut failures = Vec::new();
        for check in checks {
            let found = run_check(cx, check)?;
            cx.say(format_args!(
                "smoke `{}`: {}",
                check.name,
                if found.failures.is_empty() {
                    format!("ok ({} probe(s))", found.probes)
                } else {
                    format!(
                        "FAILED on {} of {} probe(s)",
                        found.failures.len(),
                        found.probes
                    )
                }
            ));
            failures.extend(found.failures.into_iter().map(|f| (check.name.clone(), f)));
        }
        if failures.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = failures
            .iter()
            .take(5)
            .map(|(name, what)| format!("smoke test `{name}`: {what}"))
            .collect();
        let more = failures.len().saturating_sub(5);
        Err(StepError::Failed(format!(
            "{} smoke test failure(s):\n{}{}",
            failures.len(),
            shown.join("\n"),
            if more > 0 {
                format!("\n… and {more} more (see the run log)")
            } else {
                String::new()
            }
        )))
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}

struct Found {
    probes: usize,
    failures: Vec<String>,
}

fn run_check(cx: &Context<'_>, check: &SmokeCheck) -> Result<Found, StepError> {
    if let Some(command) = &check.command {
        let failures = run_command(cx, check, command).err().into_iter().collect();
        return Ok(Found {
            probes: 1,
            failures,
        });
    }
    let probes = http_probes(cx, check)?;
    let (timeout, workers) = cx
        .host
        .sampling
        .as_ref()
        .map_or((Duration::from_secs(10), 8), |s| (s.timeout(), s.workers));
    let client = Client::new(timeout, &cx.host.https);
    let results = parallel::map(&probes, workers, OnError::Continue, |(site, url)| {
        let outcome = match client.get(url) {
            Ok(response) => judge(check, site.as_deref(), &response),
            Err(e) => Err(e.to_string()),
        };
        Ok::<_, ()>(outcome.err())
    })
    .unwrap_or_default();
    for failure in results.iter().flatten() {
        cx.log
            .line(format_args!("smoke `{}`: {failure}", check.name));
    }
    Ok(Found {
        probes: probes.len(),
        failures: results.into_iter().flatten().collect(),
    })
}

/// (site, URL) of every request an HTTP check makes.
fn http_probes(
    cx: &Context<'_>,
    check: &SmokeCheck,
) -> Result<Vec<(Option<String>, String)>, StepError> {
    let path = check.path.clone().unwrap_or_default();
    if let Some(url) = &check.url {
        return Ok(vec![(None, url.clone())]);
    }
    let sampling = cx.host.sampling.as_ref().ok_or_else(|| {
        StepError::Failed(format!(
            "{}: smoke test `{}` gives a `path`, but the host profile has no [sampling] section \
             to say where the platform answers; add [sampling] base_url (and classes)",
            cx.host.path.display(),
            check.name
        ))
    })?;
    let Some(class) = &check.class else {
        let base = sampling.base_url.as_ref().ok_or_else(|| {
            StepError::Failed(format!(
                "{}: smoke test `{}` gives a `path` without `class`: it needs [sampling] base_url",
                cx.host.path.display(),
                check.name
            ))
        })?;
        return Ok(vec![(None, crate::http::join(base, &path))]);
    };
    let spec = sampling.classes.get(class).ok_or_else(|| {
        StepError::Failed(format!(
            "{}: smoke test `{}` checks class `{class}`, but the host profile has no [sampling.classes.{class}]",
            cx.host.path.display(),
            check.name
        ))
    })?;
    let all = all_sites(cx.host, class)?;
    let sites = match check.sites {
        SiteChoice::All => all,
        SiteChoice::Sample => sample_sites(&all, spec, sampling.seed, class)?,
    };
    Ok(sites
        .into_iter()
        .map(|site| {
            let url = site_page_url(&spec.site_url, &site, &path);
            (Some(site), url)
        })
        .collect())
}

/// Whether `response` is what `check` expects; if not, what it got, with an excerpt.
pub fn judge(check: &SmokeCheck, site: Option<&str>, response: &Response) -> Result<(), String> {
    let fill = |text: &str, escape: bool| match site {
        Some(site) if escape => text.replace("{site}", &regex::escape(site)),
        Some(site) => text.replace("{site}", site),
        None => text.to_string(),
    };
    if response.status != check.status {
        return Err(format!(
            "expected HTTP {}, got:\n{}",
            check.status,
            response.excerpt(None, 8)
        ));
    }
    if let Some(text) = &check.contains {
        let text = fill(text, false);
        if !response.body.contains(&text) {
            return Err(format!(
                "the body does not contain `{text}`:\n{}",
                response.excerpt(None, 8)
            ));
        }
    }
    if let Some(pattern) = &check.regex {
        let pattern = fill(pattern, true);
        let regex = regex::Regex::new(&pattern).map_err(|e| format!("invalid regex: {e}"))?;
        if !regex.is_match(&response.body) {
            return Err(format!(
                "the body does not match /{pattern}/:\n{}",
                response.excerpt(None, 8)
            ));
        }
    }
    Ok(())
}

/// Runs a command check with `sh -c` in the platform root, within its timeout.
fn run_command(cx: &Context<'_>, check: &SmokeCheck, command: &str) -> Result<(), String> {
    cx.log
        .line(format_args!("smoke `{}`: $ {command}", check.name));
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&cx.host.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{command}`: cannot start sh: {e}"))?;
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || read_all(stdout.as_mut()));
    let err_reader = std::thread::spawn(move || read_all(stderr.as_mut()));
    let deadline = Instant::now() + Duration::from_secs(check.timeout);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{command}` still running after {} s: killed",
                    check.timeout
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("`{command}`: {e}")),
        }
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    cx.log.output(&format!("{out}{err}"));
    if !status.success() {
        return Err(format!(
            "`{command}` exited with {status}:\n{}",
            excerpt(&format!("{out}{err}"))
        ));
    }
    if let Some(text) = &check.stdout_contains {
        if !out.contains(text.as_str()) {
            return Err(format!(
                "`{command}` printed no `{text}`:\n{}",
                excerpt(&out)
            ));
        }
    }
    Ok(())
}

fn read_all<R: Read>(reader: Option<&mut R>) -> String {
    let mut text = String::new();
    if let Some(reader) = reader {
        let mut bytes = Vec::new();
        let _ = reader.read_to_end(&mut bytes);
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

fn excerpt(text: &str) -> String {
    let lines: Vec<&str> = text.lines().take(8).collect();
    lines
        .iter()
        .map(|l| format!("  | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str) -> SmokeCheck {
        toml::from_str(toml_text).unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response {
            url: "http://h/site-0001/home".into(),
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    #[test]
    fn status_text_and_regex_with_the_site_name() {
        let c = check("name = \"home\"\npath = \"home\"\nclass = \"site\"\ncontains = \"<h1>{site}</h1>\"\nregex = \"Welcome to {site}\"");
        let good = response(200, "<h1>site-0001</h1>\n<p>Welcome to site-0001</p>");
        assert_eq!(judge(&c, Some("site-0001"), &good), Ok(()));
        let wrong_site = judge(&c, Some("site-0002"), &good).unwrap_err();
        assert!(wrong_site.contains("<h1>site-0002</h1>"), "{wrong_site}");
        let error = judge(
            &c,
            Some("site-0001"),
            &response(500, "no such column: avatar\n"),
        );
        insta::assert_snapshot!(error.unwrap_err());
    }
}
