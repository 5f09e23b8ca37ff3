//! The survey: every database of every class the patch migrates, and where each one stands.
//!
//! `plan`, `preflight` and `migrate` all start from the same read-only survey, so what `plan`
//! announces is what `apply` checks and what `migrate` does.
//!
//! The version tables are read in bulk ([`bascule_db::read_versions`]): a few queries per server, not
//! a connection per database, so a run with nothing to do over thousands of tenants is quick.
//! A version row left `applying` (a migration cut short by a killed run) is *abandoned*: the
//! migrate step finishes its undo before migrating the database (see [`crate::steps::migrate`]).
//! It is a problem that refuses the run only when this bundle cannot undo it: it does not ship
//! that migration, ships a different one, or a newer migration is applied above it.
//!
//! A database must be at its class's base version ([`ClassMigrations::base_version`]) or above.
//! When the numbering skips numbers between the earlier patches and this one (they end at 41,
//! this bundle starts at 43), the base is the earlier patches' last number, which the build
//! recorded in the manifest: a database at 41 is up to date for this bundle, one below it is
//! refused as missing patches, and one at a number in between (42), which no patch ever had,
//! is refused as migrated by something else.

use std::time::Instant;

use crate::host::HostProfile;
use bascule_db::{self as db, DbError, DbTarget, RowState, VersionState};
use bascule_patch::{ClassMigrations, Migration};
use bascule_patch::{Dialect, Patch};

/// One database and its version table.
#[derive(Debug, Clone)]
pub struct DbSurvey {
    pub target: DbTarget,
    pub state: VersionState,
    /// Why its class's adopted tool history cannot give it a starting version (dirty, failed,
    /// edited, a gap, an unknown id): a problem that refuses the run, the tenant named.
    pub refusal: Option<String>,
}

/// One class: its databases and the patch's migrations for it.
#[derive(Debug, Clone)]
pub struct ClassSurvey {
    pub class: String,
    pub dialect: Dialect,
    pub migrations: ClassMigrations,
    pub databases: Vec<DbSurvey>,
    /// How long reading the version tables took.
    pub elapsed: std::time::Duration,
}

impl ClassSurvey {
    /// Migrations still to run, summed over the databases.
    pub fn pending_total(&self) -> usize {
        self.databases
            .iter()
            .map(|d| self.migrations.pending(d.state.version()).count())
            .sum()
    }

    /// Databases that have something to run.
    pub fn pending_databases(&self) -> usize {
        self.databases
            .iter()
            .filter(|d| self.migrations.pending(d.state.version()).next().is_some())
            .count()
    }

    /// Count of databases at each version, lowest first.
    pub fn versions(&self) -> Vec<(u32, usize)> {
        let mut counts = std::collections::BTreeMap::new();
        for d in &self.databases {
            *counts.entry(d.state.version()).or_insert(0) += 1;
        }
        counts.into_iter().collect()
    }

    /// The migrations of `db` left `applying` by an interrupted run, newest first, whose undo
    /// this bundle can finish: it ships each of them, and nothing above them is applied.
    /// `None` when some `applying` row is not of that kind (see [`ClassSurvey::problems`]).
    pub fn abandoned<'s>(&'s self, db: &DbSurvey) -> Option<Vec<&'s Migration>> {
        let version = db.state.version();
        let mut abandoned = db
            .state
            .applying()
            .map(|row| {
                self.migrations
                    .get(row.id)
                    .filter(|m| row.id > version && m.checksum == row.checksum)
            })
            .collect::<Option<Vec<_>>>()?;
        abandoned.sort_unstable_by_key(|m| std::cmp::Reverse(m.id));
        Some(abandoned)
    }

    /// Everything that forbids migrating this class, one line per database problem.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let base = self.migrations.base_version();
        let target = self.migrations.target_version().unwrap_or(0);
        for d in &self.databases {
            if let Some(refusal) = &d.refusal {
                problems.push(refusal.clone());
                continue;
            }
            if self.abandoned(d).is_none() {
                for row in d.state.applying() {
                    let label = self
                        .migrations
                        .get(row.id)
                        .filter(|m| m.name == row.name)
                        .map_or_else(|| format!("{:04}_{}", row.id, row.name), |m| m.label());
                    problems.push(format!(
                        "{}: migration {label} was left half-applied (state `applying` in {}) by run {}, \
                         and this bundle cannot undo it (it does not ship that migration, ships another one, or a newer one is applied): \
                         run `bascule recover` on the host of that run, or `bascule migrate` with the bundle that applied it",
                        d.target,
                        db::VERSION_TABLE,
                        row.run.as_deref().unwrap_or("(unknown)")
                    ));
                }
            }
            let version = d.state.version();
            let first = self
                .migrations
                .migrations
                .first()
                .map_or_else(|| format!("{:04}", base + 1), |m| m.number());
            let gap = self.migrations.boundary_gap();
            if version < base && gap.is_empty() {
                problems.push(format!(
                    "{}: at version {version}, but this patch's first {} migration is {first}: apply the patches in between first",
                    d.target, self.class,
                ));
            } else if version < base {
                problems.push(format!(
                    "{}: at version {version}, but this patch's first {} migration is {first} and a database must be at version {base} for it \
                     (the earlier patches end at {base}; no migration is numbered {}): apply the patches in between first",
                    d.target,
                    self.class,
                    numbers(&gap),
                ));
            } else if gap.contains(&version) {
                problems.push(format!(
                    "{}: at version {version}, a number no {} migration has (the earlier patches end at {base}, this patch starts at {first}): \
                     these patches did not bring it there. If a patch that was not beside this one when it was built has migration {version}, \
                     rebuild this bundle with that patch's source beside it; otherwise find what wrote version {version} in {}",
                    d.target,
                    self.class,
                    db::VERSION_TABLE,
                ));
            }
            if version > target {
                problems.push(format!(
                    "{}: at version {version}, ahead of this patch ({target}): it was migrated by a newer patch",
                    d.target
                ));
            }
            for applied in &d.state.applied {
                if applied.state == RowState::Baseline {
                    continue;
                }
                if let Some(m) = self.migrations.get(applied.id) {
                    if m.checksum != applied.checksum {
                        problems.push(format!(
                            "{}: migration {} was applied with a different up.sql (checksum {} in the database, {} in the bundle): a shipped migration must not change",
                            d.target,
                            m.label(),
                            short(&applied.checksum),
                            short(&m.checksum)
                        ));
                    }
                }
            }
        }
        problems
    }
}

/// The databases of `classes` holding abandoned `applying` rows, as `class/name (count)`.
pub fn with_abandoned(classes: &[ClassSurvey]) -> Vec<String> {
    classes
        .iter()
        .flat_map(|class| {
            class.databases.iter().filter_map(|d| {
                let count = class.abandoned(d)?.len();
                (count > 0).then(|| format!("{} ({count})", d.target))
            })
        })
        .collect()
}

/// `42` or `42 to 44`.
fn numbers(range: &std::ops::RangeInclusive<u32>) -> String {
    if range.start() == range.end() {
        range.start().to_string()
    } else {
        format!("{} to {}", range.start(), range.end())
    }
}

fn short(checksum: &str) -> &str {
    checksum.get(..12).unwrap_or(checksum)
}

/// Reads the version table of every database of every class the patch has migrations for.
pub fn survey(host: &HostProfile, patch: &Patch) -> Result<Vec<ClassSurvey>, SurveyError> {
    let mut classes = Vec::new();
    for (class, migrations) in &patch.migrations.classes {
        if migrations.migrations.is_empty() {
            continue;
        }
        let dialect = migrations.dialect.unwrap_or(Dialect::Sqlite);
        let engine = host.databases.get(class).map(|c| c.engine);
        if let Some(engine) = engine {
            if engine != dialect {
                return Err(SurveyError::Mismatch(format!(
                    "{}: databases.{class} is `{engine}`, but the patch's migrations for `{class}` are written for `{dialect}`",
                    host.path.display()
                )));
            }
        }
        let targets = host.discover(class)?;
        let clock = Instant::now();
        let adopt = host.databases.get(class).and_then(|c| c.adopt.as_ref());
        let counter = adopt.and_then(|a| a.counter());
        let states =
            db::read_versions(&targets, host.workers(class), counter).map_err(SurveyError::Db)?;
        let mut databases: Vec<DbSurvey> = targets
            .into_iter()
            .zip(states)
            .map(|(target, state)| DbSurvey {
                target,
                state,
                refusal: None,
            })
            .collect();
        if let Some(tool) = adopt.and_then(|a| a.tool()) {
            adopt_history(host, patch, class, tool, &mut databases)?;
        }
        let elapsed = clock.elapsed();
        classes.push(ClassSurvey {
            class: class.clone(),
            dialect,
            migrations: migrations.clone(),
            databases,
            elapsed,
        });
    }
    Ok(classes)
}

/// The starting version of every database of `class` without a version table, from the history
/// of the tool its class adopts ([`db::adopt`]) mapped by the bundle's `adopt/<class>.toml`; a
/// history that cannot be adopted becomes the database's refusal.
fn adopt_history(
    host: &HostProfile,
    patch: &Patch,
    class: &str,
    tool: &db::ToolAdopt,
    databases: &mut [DbSurvey],
) -> Result<(), SurveyError> {
    let fresh: Vec<usize> = (0..databases.len())
        .filter(|i| !databases[*i].state.table_exists)
        .collect();
    if fresh.is_empty() {
        return Ok(());
    }
    let empty = bascule_patch::AdoptMap {
        tool: tool.tool,
        project: None,
        migrations: Vec::new(),
    };
    let map = patch.adopt.get(class);
    let targets: Vec<DbTarget> = fresh.iter().map(|i| databases[*i].target.clone()).collect();
    let adoptions = db::parallel::map_grouped(
        &targets,
        |t| t.location.server().to_string(),
        host.workers(class),
        db::parallel::OnError::Stop,
        db::Session::new,
        |session, target| {
            session.with(target, |conn| {
                db::adopt::adopt(conn, target, tool, map.unwrap_or(&empty))
            })
        },
    )
    .map_err(|errors| SurveyError::Db(errors.into_iter().map(|(_, e)| e).collect()))?;
    for (i, adoption) in fresh.into_iter().zip(adoptions) {
        let d = &mut databases[i];
        match adoption {
            db::Adoption::Fresh | db::Adoption::At(0) => {}
            db::Adoption::At(version) => d.state.adopted = Some(version),
            db::Adoption::Refused(why) => {
                let missing = if map.is_none() {
                    format!(
                        " (this bundle carries no adopt/{class}.toml: apply the patch `cargo xtask import` made first)"
                    )
                } else {
                    String::new()
                };
                d.refusal = Some(format!(
                    "{}: cannot adopt its {} history: {why}{missing}",
                    d.target, tool.tool
                ));
            }
        }
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum SurveyError {
    #[error(transparent)]
    Host(#[from] crate::host::HostError),
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Db(Vec<DbError>),
    #[error("{0}")]
    Mismatch(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use bascule_db::{AppliedMigration, Location};

    fn at(version: u32, migrations: &ClassMigrations) -> DbSurvey {
        DbSurvey {
            target: DbTarget {
                class: "site".into(),
                name: format!("at{version}"),
                location: Location::SqliteFile(format!("/srv/site{version}.db").into()),
            },
            state: VersionState {
                table_exists: true,
                applied: (version > 0)
                    .then(|| AppliedMigration {
                        id: version,
                        name: "earlier".into(),
                        // An earlier patch's migration, or this bundle's as it shipped.
                        checksum: migrations
                            .get(version)
                            .map_or_else(|| "0".repeat(64), |m| m.checksum.clone()),
                        state: RowState::Applied,
                        run: None,
                    })
                    .into_iter()
                    .collect(),
                adopted: None,
            },
            refusal: None,
        }
    }

    fn site(recorded_base: Option<u32>, versions: &[u32]) -> ClassSurvey {
        let migrations = ClassMigrations {
            dialect: Some(Dialect::Sqlite),
            migrations: vec![
                Migration::new("site", 43, "add_avatar", "SELECT 1;", "SELECT 2;"),
                Migration::new("site", 44, "add_bio", "SELECT 3;", "SELECT 4;"),
            ],
            recorded_base,
        };
        ClassSurvey {
            class: "site".into(),
            dialect: Dialect::Sqlite,
            databases: versions.iter().map(|v| at(*v, &migrations)).collect(),
            migrations,
            elapsed: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn a_gap_at_the_patch_boundary_accepts_the_recorded_base_only() {
        let gap = site(Some(41), &[41, 40, 42, 43]);
        insta::assert_snapshot!("boundary_gap_problems", gap.problems().join("\n"));
        assert_eq!(
            site(Some(41), &[41, 43]).pending_total(),
            2 + 1,
            "41 needs both, 43 needs 44"
        );

        let follows = site(None, &[41, 42]);
        insta::assert_snapshot!("no_recorded_base_problems", follows.problems().join("\n"));
    }
}
