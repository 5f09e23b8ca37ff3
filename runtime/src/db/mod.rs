//! Databases: one module per backend, behind the [`Connection`] trait.
//!
//! Every database carries a small version table, `bascule_migrations`: one row per applied
//! migration (number, name, checksum of its `up.sql`, the patch that applied it). A database's
//! version is its highest applied number, 0 when the table is absent.
//!
//! Adding a backend touches this file (the [`Location`] variant and [`connect`]) and its own module.

pub mod sqlite;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::migration::Migration;
use crate::runlog::RunLog;

/// The version table's name, the same in every backend.
pub const VERSION_TABLE: &str = "bascule_migrations";

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{db}: {what}")]
    Backend { db: String, what: String },
    #[error("{db}: {migration}: statement failed: {error}\n  statement: {statement}")]
    Statement {
        db: String,
        migration: String,
        statement: String,
        error: String,
    },
}

/// Where a database lives; the journal records it so an undo can reach it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Location {
    SqliteFile(PathBuf),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::SqliteFile(path) => write!(f, "{}", path.display()),
        }
    }
}

/// One database of one class on this host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DbTarget {
    pub class: String,
    pub name: String,
    pub location: Location,
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.class, self.name)
    }
}

/// A migration recorded in a database's version table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    pub id: u32,
    pub name: String,
    pub checksum: String,
}

/// What a database says about its own version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionState {
    pub table_exists: bool,
    pub applied: Vec<AppliedMigration>,
}

impl VersionState {
    pub fn version(&self) -> u32 {
        self.applied.iter().map(|m| m.id).max().unwrap_or(0)
    }
}

/// An open connection to one database.
pub trait Connection: Send {
    /// Reads the version table (absent table: version 0, nothing applied).
    fn version_state(&mut self) -> Result<VersionState, DbError>;

    /// Runs `up.sql` and records the migration, all or nothing.
    fn apply_up(&mut self, migration: &Migration, patch: &str, log: &RunLog)
        -> Result<(), DbError>;

    /// Runs `down.sql` and forgets the migration, all or nothing.
    fn apply_down(&mut self, migration: &Migration, log: &RunLog) -> Result<(), DbError>;

    /// Removes the version table: the undo of its creation by the first migration.
    fn drop_version_table(&mut self, log: &RunLog) -> Result<(), DbError>;

    /// Runs a query and returns its rows as text (consistency checks).
    fn query_rows(&mut self, sql: &str) -> Result<Vec<Vec<String>>, DbError>;
}

/// Opens a connection to `target`.
pub fn connect(target: &DbTarget) -> Result<Box<dyn Connection>, DbError> {
    match &target.location {
        Location::SqliteFile(path) => Ok(Box::new(sqlite::SqliteConnection::open(
            &target.to_string(),
            path,
        )?)),
    }
}
