//! Fetching the panel: real HTTP requests, in parallel, each page kept raw and normalised.
//!
//! A bounded pool of workers ([`bascule_db::parallel`]) shares one keep-alive client, so hundreds
//! of pages take seconds and the platform is not flooded. Every sample is written at once in
//! the run directory, raw (what the server sent) and normalised (what is compared), so a
//! refused release can be examined afterwards, file by file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::normalise::Normaliser;
use super::panel::Target;
use super::{ClassPanel, SamplingError};
use crate::http::{Client, HttpError};
use bascule_db::parallel::{self, OnError};
use bascule_patch::Moment;

/// One fetched page, normalised. Its first line is `HTTP <status>`, so a page that now
/// answers 500 differs from one that answered 200.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub target: Target,
    pub status: u16,
    pub normalised: String,
}

/// Where a run keeps its samples: `<run>/samples`.
pub fn samples_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("samples")
}

/// The file of a normalised sample (`.html`; the raw one is `.raw.html` beside it).
pub fn sample_path(samples: &Path, moment: Moment, target: &Target) -> PathBuf {
    samples
        .join(moment.as_str())
        .join(format!("{}.html", target.file_stem()))
}

/// Fetches every target with `workers` at once, writes raw and normalised files, and returns
/// the samples in the order of `targets`. Pages that got no answer are errors, all listed.
pub fn fetch_all(
    targets: &[Target],
    panels: &BTreeMap<String, ClassPanel>,
    client: &Client,
    workers: usize,
    samples: &Path,
    moment: Moment,
) -> Result<Vec<Sample>, SamplingError> {
    let normalisers = normalisers(targets, panels)?;
    let result = parallel::map(targets, workers, OnError::Continue, |target| {
        let response = client.get(&target.url).map_err(FetchError::Http)?;
        let key = (target.class.clone(), target.page.clone());
        let normalised = match normalisers.get(&key) {
            Some(normaliser) => normaliser.apply(&response.body),
            None => response.body.clone(),
        };
        let normalised = format!("HTTP {}\n{normalised}", response.status);
        let path = sample_path(samples, moment, target);
        write(&path.with_extension("raw.html"), &response.body)?;
        write(&path, &normalised)?;
        Ok::<_, FetchError>(Sample {
            target: target.clone(),
            status: response.status,
            normalised,
        })
    });
    result.map_err(|errors| {
        let count = errors.len();
        let shown: Vec<String> = errors
            .iter()
            .take(10)
            .map(|(_, e)| format!("  {e}"))
            .collect();
        SamplingError::Fetch(format!(
            "{count} of {} sampled page(s) could not be fetched ({}):\n{}{}",
            targets.len(),
            moment.as_str(),
            shown.join("\n"),
            if count > 10 { "\n  …" } else { "" }
        ))
    })
}

#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error(transparent)]
    Http(HttpError),
    #[error("{path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write(path: &Path, text: &str) -> Result<(), FetchError> {
    let io = |source| FetchError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, text).map_err(io)
}

/// One normaliser per (class, page), built once.
fn normalisers(
    targets: &[Target],
    panels: &BTreeMap<String, ClassPanel>,
) -> Result<BTreeMap<(String, String), Normaliser>, SamplingError> {
    let mut out = BTreeMap::new();
    for target in targets {
        let key = (target.class.clone(), target.page.clone());
        if out.contains_key(&key) {
            continue;
        }
        let normaliser = match panels.get(&target.class) {
            Some(panel) => Normaliser::for_page(panel, &target.page),
            None => Normaliser::builtin(),
        }
        .map_err(|e| SamplingError::Config(format!("sampling.{}: {e}", target.class)))?;
        out.insert(key, normaliser);
    }
    Ok(out)
}

/// Reads back the normalised samples of `moment` for `targets` (a missing file is an error:
/// the "before" of this run must exist to compare with).
pub fn read_all(
    targets: &[Target],
    samples: &Path,
    moment: Moment,
) -> Result<Vec<Sample>, SamplingError> {
    targets
        .iter()
        .map(|target| {
            let path = sample_path(samples, moment, target);
            let normalised = std::fs::read_to_string(&path).map_err(SamplingError::io(&path))?;
            let status = normalised
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("HTTP "))
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            Ok(Sample {
                target: target.clone(),
                status,
                normalised,
            })
        })
        .collect()
}
