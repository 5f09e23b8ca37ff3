//! The Bascule runtime: the `bascule` binary that ships inside every bundle, and the library
//! behind it.
//!
//! Bascule turns a release of a server platform into one self-contained **patch bundle** and
//! applies it to a host with automatic, complete rollback. This crate is the host side's top:
//! it links only what runs on a host — the patch format ([`bascule_patch`]), the bundle format
//! ([`bascule_bundle`]), the databases ([`bascule_db`]) and the run log ([`bascule_runlog`]) —
//! and never the SQL parser or the linter, which stay on the developer's machine.
//!
//! The pieces, from the outside in:
//!
//! - [`run`] is each kind of run (`apply`, `rollback`, `recover`, `migrate`): its directory, its
//!   host and database locks, and how it uses the engine; [`plan`] says what `apply` would do.
//! - [`engine`] runs steps, each a value with `do` and `undo`, writing the [`journal`] ahead of
//!   every action so that a failure — or a later `recover` — can undo exactly what was done.
//! - [`steps`] holds the steps of `bascule apply`, one module each, in the order of
//!   [`steps::apply_steps`].
//! - What the steps drive, each knowing nothing of steps: [`host`] (the host profile),
//!   [`survey`] (where every database stands), [`services`], [`maintenance`], [`sampling`] and
//!   [`http`], [`state`] and [`fsutil`].
//! - What reads a host's state directory only: [`status`] (is a run going on here?) and
//!   [`log`] (a run's log, followed as it is written, and its times ranked and compared).
//!
//! The design rule that everything else follows: **a failure at any step leaves the host exactly
//! as it was**. Every undo is idempotent and needs nothing but the journal and the bundle.

pub mod checklist;
pub mod child;
pub mod detach;
pub mod digest;
pub mod engine;
pub mod fingerprint;
pub mod fsutil;
pub mod gate;
pub mod host;
pub mod host_lock;
pub mod http;
pub mod journal;
pub mod json_output;
pub mod jsonl;
pub mod log;
pub mod maintenance;
pub mod plan;
pub mod report;
pub mod run;
pub mod sampling;
pub mod services;
pub mod state;
pub mod status;
pub mod steps;
pub mod survey;
pub mod trusted;
