//! Migrations: `migrations/<class>/<NNNN>_<name>/{up,down}.sql`.
//!
//! A database's version is the number of the last migration applied to it, kept in the
//! database itself (see [`crate::db`]). A patch carries the migrations it adds; the ones a database
//! still needs are those numbered above its version.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::class::{ClassSpec, Dialect};
use crate::marker::{comment_markers, marker_argument, marker_name, IRREVERSIBLE, NO_TRANSACTION};
use crate::split::split_statements;

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] crate::read::ReadError),
    #[error("{path}: {what}")]
    Layout { path: PathBuf, what: String },
}

/// One migration of one database class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub class: String,
    pub id: u32,
    pub name: String,
    /// Path relative to the patch root, e.g. `migrations/site/0002_add_avatar`.
    pub dir: PathBuf,
    pub up: String,
    pub down: String,
    /// SHA-256 of `up.sql`: recorded in the database when applied, so a migration edited after it
    /// shipped is caught.
    pub checksum: String,
}

impl Migration {
    /// A migration of `class` as it would be loaded from `migrations/<class>/<NNNN>_<name>/`,
    /// its checksum computed: for tools and tests that make migrations without files.
    pub fn new(class: &str, id: u32, name: &str, up: &str, down: &str) -> Migration {
        Migration {
            class: class.to_string(),
            id,
            name: name.to_string(),
            dir: PathBuf::from("migrations")
                .join(class)
                .join(format!("{id:04}_{name}")),
            up: up.to_string(),
            down: down.to_string(),
            checksum: crate::sha256_hex(up.as_bytes()),
        }
    }

    /// `0002_add_avatar`: the directory name, used in logs and in the version table.
    pub fn label(&self) -> String {
        format!("{:04}_{}", self.id, self.name)
    }

    pub fn up_path(&self) -> PathBuf {
        self.dir.join("up.sql")
    }

    pub fn down_path(&self) -> PathBuf {
        self.dir.join("down.sql")
    }

    /// The reason given by `-- bascule:irreversible <reason>` in `down.sql` or `up.sql`: the
    /// down does not restore what the up removed. `Some("")` when the marker gives no reason
    /// (still irreversible; [`Migration::irreversible_marker`] says where, for the lint).
    pub fn irreversible(&self) -> Option<&str> {
        self.irreversible_marker().map(|m| m.reason)
    }

    /// The first `-- bascule:irreversible` comment line, `down.sql` read before `up.sql`. The
    /// marker may be all `down.sql` holds.
    pub fn irreversible_marker(&self) -> Option<IrreversibleMarker<'_>> {
        [("down.sql", &self.down), ("up.sql", &self.up)]
            .into_iter()
            .find_map(|(file, script)| {
                comment_markers(script)
                    .find(|(_, marker)| marker_name(marker) == IRREVERSIBLE)
                    .map(|(line, marker)| IrreversibleMarker {
                        file,
                        line,
                        reason: marker_argument(marker),
                    })
            })
    }

    /// Whether the migration runs statement by statement outside a transaction: always on
    /// MariaDB/MySQL (DDL commits implicitly), on PostgreSQL when its up or its down carries
    /// `-- bascule:no-transaction`, never on SQLite.
    pub fn runs_outside_transaction(&self, dialect: Dialect) -> bool {
        let marked = |script: &str| {
            split_statements(script, dialect)
                .iter()
                .any(|s| s.has_marker(NO_TRANSACTION))
        };
        match dialect {
            Dialect::Mysql => true,
            Dialect::Postgres => marked(&self.up) || marked(&self.down),
            Dialect::Sqlite => false,
        }
    }
}

/// Where a migration is declared irreversible: `-- bascule:irreversible <reason>` in one of its
/// scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrreversibleMarker<'a> {
    /// `up.sql` or `down.sql`.
    pub file: &'static str,
    /// 1-based line of the marker in that file.
    pub line: usize,
    /// What follows the marker, trimmed; empty when the marker gives no reason (an error the
    /// lint reports: the reason is what `plan` and a refused `rollback` show).
    pub reason: &'a str,
}

/// The migrations of one class, sorted by number.
#[derive(Debug, Clone, Default)]
pub struct ClassMigrations {
    pub dialect: Option<Dialect>,
    pub migrations: Vec<Migration>,
}

impl ClassMigrations {
    /// Those a database at `version` still needs, in order.
    pub fn pending(&self, version: u32) -> impl Iterator<Item = &Migration> {
        self.migrations.iter().filter(move |m| m.id > version)
    }

    /// The lowest version a database may be at for this patch to bring it up to date.
    pub fn base_version(&self) -> u32 {
        self.migrations
            .first()
            .map_or(0, |m| m.id.saturating_sub(1))
    }

    pub fn target_version(&self) -> Option<u32> {
        self.migrations.last().map(|m| m.id)
    }

    pub fn get(&self, id: u32) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.id == id)
    }
}

/// Every migration of a patch, by class.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub classes: BTreeMap<String, ClassMigrations>,
}

impl MigrationSet {
    /// Loads `root/migrations/`; every class directory must be declared in `patch.toml`.
    pub fn load(
        root: &Path,
        declared: &BTreeMap<String, ClassSpec>,
    ) -> Result<MigrationSet, MigrationError> {
        let mut set = MigrationSet::default();
        for (class, spec) in declared {
            set.classes.insert(
                class.clone(),
                ClassMigrations {
                    dialect: Some(spec.dialect),
                    migrations: Vec::new(),
                },
            );
        }
        let dir = root.join("migrations");
        if !dir.is_dir() {
            return Ok(set);
        }
        for class_dir in sorted_entries(&dir)? {
            let class = file_name(&class_dir);
            let Some(entry) = set.classes.get_mut(&class) else {
                return Err(MigrationError::Layout {
                    path: class_dir,
                    what: format!(
                        "class `{class}` is not declared in patch.toml; add `[classes.{class}]` with its dialect"
                    ),
                });
            };
            for migration_dir in sorted_entries(&class_dir)? {
                let relative = Path::new("migrations")
                    .join(&class)
                    .join(file_name(&migration_dir));
                let migration = load_one(&class, &migration_dir, relative)?;
                if let Some(previous) = entry.migrations.last() {
                    if previous.id == migration.id {
                        return Err(MigrationError::Layout {
                            path: migration_dir,
                            what: format!(
                                "number {:04} is used twice (also by {}); give each migration its own number",
                                migration.id,
                                previous.label()
                            ),
                        });
                    }
                }
                entry.migrations.push(migration);
            }
        }
        Ok(set)
    }

    pub fn class(&self, class: &str) -> Option<&ClassMigrations> {
        self.classes.get(class)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Migration> {
        self.classes.values().flat_map(|c| c.migrations.iter())
    }
}

fn load_one(class: &str, dir: &Path, relative: PathBuf) -> Result<Migration, MigrationError> {
    let layout = |what: String| MigrationError::Layout {
        path: dir.to_path_buf(),
        what,
    };
    let dir_name = file_name(dir);
    let (id, name) = parse_dir_name(&dir_name).ok_or_else(|| {
        layout(format!(
            "`{dir_name}` is not a migration name; name it NNNN_what_it_does, e.g. 0002_add_avatar"
        ))
    })?;
    let read = |file: &str| {
        let path = dir.join(file);
        if std::fs::symlink_metadata(&path).is_err() {
            return Err(layout(format!(
                "{file} is missing; every migration needs both up.sql and down.sql (the down undoes the up)"
            )));
        }
        Ok(crate::read::read_text(&path, crate::read::MAX_SQL)?)
    };
    let up = read("up.sql")?;
    let down = read("down.sql")?;
    Ok(Migration {
        dir: relative,
        ..Migration::new(class, id, name, &up, &down)
    })
}

/// `0002_add_avatar` → `(2, "add_avatar")`.
fn parse_dir_name(name: &str) -> Option<(u32, &str)> {
    let (digits, rest) = name.split_once('_')?;
    let valid_rest = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if digits.len() != 4 || !digits.chars().all(|c| c.is_ascii_digit()) || !valid_rest {
        return None;
    }
    let id: u32 = digits.parse().ok()?;
    (id > 0).then_some((id, rest))
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, MigrationError> {
    let read_err = |source| MigrationError::Read {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        if entry.path().is_dir() {
            entries.push(entry.path());
        } else {
            return Err(MigrationError::Layout {
                path: entry.path(),
                what: "only directories belong here (migrations/<class>/<NNNN>_<name>/)".into(),
            });
        }
    }
    entries.sort();
    Ok(entries)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_carry_number_and_name() {
        assert_eq!(parse_dir_name("0002_add_avatar"), Some((2, "add_avatar")));
        assert_eq!(parse_dir_name("2_add_avatar"), None);
        assert_eq!(parse_dir_name("0002-add"), None);
        assert_eq!(parse_dir_name("0000_zero"), None);
        assert_eq!(parse_dir_name("0003_Upper"), None);
    }

    fn migration(up: &str, down: &str) -> Migration {
        Migration::new("site", 1, "m", up, down)
    }

    #[test]
    fn a_migration_made_without_files_looks_loaded() {
        let m = Migration::new("site", 2, "add_avatar", "SELECT 1;", "SELECT 2;");
        assert_eq!(m.dir, PathBuf::from("migrations/site/0002_add_avatar"));
        assert_eq!(
            m.up_path(),
            PathBuf::from("migrations/site/0002_add_avatar/up.sql")
        );
        assert_eq!(m.checksum, crate::sha256_hex(b"SELECT 1;"));
    }

    #[test]
    fn no_transaction_is_found_on_any_statement_of_up_or_down() {
        let marked = migration(
            "SET lock_timeout = '2s';\n-- bascule:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
            "DROP INDEX IF EXISTS i;",
        );
        assert!(marked.runs_outside_transaction(Dialect::Postgres));
        let down_marked = migration(
            "SELECT 1;",
            "-- bascule:no-transaction\nDROP INDEX CONCURRENTLY i;",
        );
        assert!(down_marked.runs_outside_transaction(Dialect::Postgres));
        for with_reason in [
            "-- bascule:no-transaction: CONCURRENTLY cannot run in a transaction\nSELECT 1;",
            "-- bascule:no-transaction(index build)\nSELECT 1;",
        ] {
            let m = migration(with_reason, "SELECT 1;");
            assert!(
                m.runs_outside_transaction(Dialect::Postgres),
                "{with_reason}"
            );
        }
        for plain in [
            migration(
                "-- no-transaction, but not a marker\nCREATE INDEX i ON t (c);",
                "DROP INDEX i;",
            ),
            migration("-- bascule:no-transactions\nSELECT 1;", "SELECT 1;"),
        ] {
            assert!(!plain.runs_outside_transaction(Dialect::Postgres));
        }
        assert!(plain_mysql().runs_outside_transaction(Dialect::Mysql));
        assert!(!marked.runs_outside_transaction(Dialect::Sqlite));
    }

    #[test]
    fn irreversible_is_read_from_down_or_up_with_its_reason() {
        let only_comment = migration(
            "DROP TABLE legacy_sessions;",
            "-- bascule:irreversible the legacy sessions are gone for good\n",
        );
        assert_eq!(
            only_comment.irreversible(),
            Some("the legacy sessions are gone for good")
        );
        assert_eq!(
            only_comment.irreversible_marker(),
            Some(IrreversibleMarker {
                file: "down.sql",
                line: 1,
                reason: "the legacy sessions are gone for good"
            })
        );
        let in_up = migration(
            "-- drop what 1.x left\n-- bascule:irreversible: rows deleted\nDELETE FROM t;",
            "SELECT 1;",
        );
        assert_eq!(in_up.irreversible(), Some("rows deleted"));
        assert_eq!(
            in_up.irreversible_marker().map(|m| (m.file, m.line)),
            Some(("up.sql", 2))
        );
        let no_reason = migration("DROP TABLE t;", "-- bascule:irreversible\n");
        assert_eq!(no_reason.irreversible(), Some(""));
        for reversible in [
            migration("DROP TABLE t;", "CREATE TABLE t (a INT);"),
            migration("SELECT 1;", "-- irreversible, but not a marker\nSELECT 2;"),
            migration("SELECT 1;", "-- bascule:irreversibles x\nSELECT 2;"),
        ] {
            assert_eq!(reversible.irreversible(), None, "{reversible:?}");
        }
    }

    fn plain_mysql() -> Migration {
        migration(
            "ALTER TABLE t ADD COLUMN c INT;",
            "ALTER TABLE t DROP COLUMN c;",
        )
    }
}
