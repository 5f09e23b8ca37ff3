//! The Bascule runtime.
//!
//! Bascule turns a release of a server platform into one self-contained **patch bundle** and
//! applies it to a host with automatic, complete rollback. This crate is both the library the
//! developer tooling (`xtask`) builds on and the `bascule` binary that ships inside every bundle.
//!
//! The pieces, from the outside in:
//!
//! - [`patch`] reads a patch source (`patch.toml`) and [`migration`] its up/down scripts; the same
//!   types describe an unpacked bundle, which is a patch source plus `bin/`, `code/` and a manifest.
//! - [`bundle`] is the bundle format: reproducible packing, the manifest, verification of a tarball
//!   or of an unpacked tree.
//! - [`host`] reads the host profile: where things are on *this* host.
//! - [`db`] talks to databases, one module per backend, behind one [`db::Connection`] trait.
//! - [`engine`] runs steps, each a value with `do` and `undo`, writing the [`journal`] ahead of
//!   every action so that a failure — or a later `recover` — can undo exactly what was done.
//! - [`steps`] holds the steps of `bascule apply`, one module each.
//!
//! The design rule that everything else follows: **a failure at any step leaves the host exactly
//! as it was**. Every undo is idempotent and needs nothing but the journal and the bundle.

pub mod engine;
pub mod fsutil;
pub mod host;
pub mod http;
pub mod journal;
pub mod maintenance;
pub mod plan;
pub mod run;
pub mod sampling;
pub mod services;
pub mod state;
pub mod steps;
pub mod survey;
