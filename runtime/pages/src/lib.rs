//! What people read of a release, rendered: the release documents (revision bulletin,
//! checklist, test book), the intervention sheet of a run and the run report.
//!
//! # Design
//!
//! - **Models in, text out.** Every function here takes plain data — the patch's document
//!   sources ([`bascule_patch::docs`]), or the view of a run the runtime assembles from its
//!   run directory — and returns a `String`. Nothing here reads a file or a clock, so the same
//!   input gives the same bytes (the reproducible bundle depends on it) and every page is
//!   snapshot-tested.
//! - **Markdown for terminals and repositories, one standalone HTML page for browsers.** A page
//!   carries its style inline and a Content-Security-Policy that forbids every fetch
//!   ([`page`]): it opens the same from a USB stick, an e-mail or a host with no network, and a
//!   browser proves it loads nothing.
//! - **HTML is written with maud**, which escapes every value it interpolates: a bundle's or an
//!   operator's text cannot inject markup. Markdown written by people is turned into HTML by
//!   pulldown-cmark ([`markdown`]). Charts are inline SVG drawn by the project
//!   ([`waterfall`]): a few rectangles and labels on one time axis, no JavaScript.
//! - A host crate: `bascule report` and the intervention sheet are made on the production host by
//!   the static runtime, so this crate stays pure Rust with no I/O.

pub mod documents;
pub mod markdown;
pub mod page;
pub mod report;
pub mod run_view;
pub mod sheet;
pub mod waterfall;
