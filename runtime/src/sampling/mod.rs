//! Core sampling ("non-régression par carottage"): the same panel of pages fetched before the
//! release and after it, normalised, compared; any difference the patch did not declare fails
//! the run.
//!
//! Smoke tests prove the platform answers; they cannot see a price that lost its cents or a
//! block that vanished from one page type. Sampling sees those, because it compares what the
//! platform *served* before with what it serves now, for a representative panel:
//!
//! - [`panel`]: which pages (the patch's `[sampling.<class>] pages`) of which sites (the host
//!   profile's `[sampling.classes.<class>]`: explicit sites plus N random ones, seeded, so a rerun
//!   samples the same sites);
//! - [`fetch`]: fetched in parallel over real HTTP, kept raw and normalised in the run
//!   directory (`<run>/samples/before|after/<class>/<site>/<page>.raw.html` and `.html`);
//! - [`normalise`]: what differs at every request is not a difference (CSRF tokens, nonces,
//!   cache-busting query strings, timestamps, plus the patch's own regex and selector rules);
//! - [`compare`]: page by page, differences the patch declares expected (by selector or by
//!   text/regex) pass, anything else fails; [`diff`] writes a unified line diff per page
//!   (`<run>/samples/diff/`).
//!
//! The host profile's `[sampling]` is typed in [`crate::host::HostSampling`] (every key in
//! `runtime/host.toml`); the patch's `[sampling.<class>]` in [`bascule_patch::ClassPanel`] (an example in
//! `runtime/patch/src/sampling.rs`).

pub mod compare;
pub mod diff;
pub mod fetch;
pub mod normalise;
pub mod panel;

use std::path::PathBuf;

pub use bascule_patch::{ClassPanel, ExpectedDifference, NormaliseRule};

/// Why sampling could not run or did not pass.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Fetch(String),
    #[error("{0}")]
    Differences(String),
}

impl SamplingError {
    pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> SamplingError + '_ {
        move |source| SamplingError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
