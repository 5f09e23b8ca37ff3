//! Where imported migrations came from: `adopt/<class>.toml`, written by `cargo xtask import`.
//!
//! A team arriving from another migration tool keeps its history: each tenant's database still
//! has that tool's history table (`schema_migrations`, `flyway_schema_history`, …). To start a
//! tenant at the Bascule version its history records, the host needs, for each imported
//! migration, the id the tool knows it by (and the checksum it records, where it records one).
//! That mapping lives beside the migrations, one file per class:
//!
//! ```toml
//! tool = "flyway"
//!
//! [[migration]]
//! number = 1          # migrations/<class>/0001_…
//! id = "1.1"          # the tool's id: V1.1__…
//! checksum = "-1817255236"   # what the tool records, where it records one
//! ```
//!
//! The host profile's `[databases.<class>] adopt = { tool = "…" }` says a class's tenants may
//! carry that tool's history; this file says what it means. Errors name the file and line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The directory of a patch (and bundle) holding the `<class>.toml` files.
pub const ADOPT_DIR: &str = "adopt";

/// A migration tool whose history Bascule can adopt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Dbmate,
    GolangMigrate,
    Flyway,
    Sqitch,
    Liquibase,
}

impl Tool {
    /// Every tool, in the order the docs list them.
    pub const ALL: [Tool; 5] = [
        Tool::Dbmate,
        Tool::GolangMigrate,
        Tool::Flyway,
        Tool::Sqitch,
        Tool::Liquibase,
    ];

    /// The name used on the command line and in TOML.
    pub fn name(self) -> &'static str {
        match self {
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Flyway => "flyway",
            Tool::Sqitch => "sqitch",
            Tool::Liquibase => "liquibase",
        }
    }

    pub fn from_name(name: &str) -> Option<Tool> {
        Tool::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl fmt::Display for Tool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One imported migration: its Bascule number and the tool's id for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptedMigration {
    pub number: u32,
    pub id: String,
    /// The checksum the tool records for it (Flyway's CRC32, Sqitch's SHA-1 of the deploy
    /// script), when the tool records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

/// `adopt/<class>.toml`: the tool a class's migrations were imported from, and each one's id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptMap {
    pub tool: Tool,
    /// Sqitch: the plan's `%project`, the registry's `project` column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    #[serde(default, rename = "migration")]
    pub migrations: Vec<AdoptedMigration>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdoptError {
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error(transparent)]
    File(#[from] crate::read::ReadError),
}

impl AdoptMap {
    /// Reads one `adopt/<class>.toml`.
    pub fn read(path: &Path) -> Result<AdoptMap, AdoptError> {
        let text = crate::read::read_text(path, crate::read::MAX_TOML)?;
        let map: AdoptMap = toml::from_str(&text).map_err(|source| AdoptError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let invalid = |what: String| AdoptError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        let mut ids = BTreeMap::new();
        let mut last = 0;
        for m in &map.migrations {
            if m.number <= last {
                return Err(invalid(format!(
                    "[[migration]] number = {} comes after number = {last}: list them in increasing order, each once",
                    m.number
                )));
            }
            last = m.number;
            if let Some(other) = ids.insert(m.id.as_str(), m.number) {
                return Err(invalid(format!(
                    "id `{}` is given to migrations {other} and {}: each tool id names one migration",
                    m.id, m.number
                )));
            }
        }
        Ok(map)
    }

    /// Loads `root/adopt/*.toml`, one per class: absent directory, no class.
    pub fn load_dir(root: &Path) -> Result<BTreeMap<String, AdoptMap>, AdoptError> {
        let dir = root.join(ADOPT_DIR);
        let mut maps = BTreeMap::new();
        if !dir.is_dir() {
            return Ok(maps);
        }
        let invalid = |path: &Path, what: String| AdoptError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        let entries = std::fs::read_dir(&dir).map_err(|e| invalid(&dir, e.to_string()))?;
        let mut paths = Vec::new();
        for entry in entries {
            paths.push(entry.map_err(|e| invalid(&dir, e.to_string()))?.path());
        }
        paths.sort();
        for path in paths {
            let class = match (path.file_stem(), path.extension()) {
                (Some(stem), Some(ext)) if ext == "toml" => stem.to_string_lossy().into_owned(),
                _ => {
                    return Err(invalid(
                        &path,
                        "only <class>.toml files belong in adopt/".to_string(),
                    ))
                }
            };
            maps.insert(class, AdoptMap::read(&path)?);
        }
        Ok(maps)
    }

    /// The TOML text `cargo xtask import` writes.
    pub fn to_toml(&self) -> String {
        let header = format!(
            "# Written by `cargo xtask import --from {}`: the {} id of each imported migration, so a\n\
             # tenant whose history table that tool wrote starts at the version it records\n\
             # (host profile: [databases.<class>] adopt = {{ tool = \"{}\" }}). Do not edit.\n\n",
            self.tool, self.tool, self.tool
        );
        let body = toml::to_string(self).unwrap_or_default();
        header + &body
    }

    /// The Bascule number of the migration the tool calls `id`.
    pub fn number_of(&self, id: &str) -> Option<&AdoptedMigration> {
        self.migrations.iter().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_map_round_trips_and_is_refused_out_of_order_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let map = AdoptMap {
            tool: Tool::Flyway,
            project: None,
            migrations: vec![
                AdoptedMigration {
                    number: 1,
                    id: "1".into(),
                    checksum: Some("-12".into()),
                },
                AdoptedMigration {
                    number: 2,
                    id: "1.1".into(),
                    checksum: None,
                },
            ],
        };
        std::fs::create_dir(dir.path().join(ADOPT_DIR)).unwrap();
        let path = dir.path().join("adopt/main.toml");
        std::fs::write(&path, map.to_toml()).unwrap();
        let loaded = AdoptMap::load_dir(dir.path()).unwrap();
        assert_eq!(loaded["main"], map);
        assert_eq!(loaded["main"].number_of("1.1").map(|m| m.number), Some(2));

        std::fs::write(&path, "tool = \"flyway\"\n[[migration]]\nnumber = 2\nid = \"a\"\n[[migration]]\nnumber = 1\nid = \"b\"\n").unwrap();
        let err = AdoptMap::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("number = 1 comes after number = 2"), "{err}");
        std::fs::write(&path, "tool = \"rails\"\n").unwrap();
        let err = AdoptMap::load_dir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("main.toml") && err.contains("line 1"), "{err}");
    }
}
