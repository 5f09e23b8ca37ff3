//! Migrations: `migrations/<class>/<number>_<name>/{up,down}.sql`.
//!
//! A database's version is the number of the last migration applied to it, kept in the
//! database itself (see [`crate::db`]). A patch carries the migrations it adds; the ones a database
//! still needs are those numbered above its version.
//!
//! Directories are named as projects name them ([`MIGRATION_NAME_RULE`]): any number of digits
//! (`0002`, `000003`, `17`), then `_` and a name that may hold `.` and `-`. The number orders
//! them, not the directory listing (`10_…` comes after `9_…`); gaps are fine. The name as written
//! is the migration's [`Migration::label`], so what the developer named is what every log and
//! report shows. Loading reports every misnamed directory at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::class::{ClassSpec, Dialect};
use crate::marker::{
    comment_markers, marker_argument, marker_name, other_tool_no_transaction, IRREVERSIBLE,
    NO_TRANSACTION,
};
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
    /// Every misnamed or doubly numbered migration directory of a patch, in one error.
    #[error("{path}: {} migration director{} misnamed ({MIGRATION_NAME_RULE}):{}",
        bad.len(),
        if bad.len() == 1 { "y is" } else { "ies are" },
        bad.iter().map(|b| format!("\n  - `{}`: {}", b.name, b.why)).collect::<String>())]
    Names { path: PathBuf, bad: Vec<BadName> },
}

/// A migration directory whose name breaks [`MIGRATION_NAME_RULE`], or whose number another
/// one of its class has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    /// `<class>/<directory>`.
    pub name: String,
    /// What is wrong with it.
    pub why: String,
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

    /// `0002_add_avatar`, `000003_create_teams`: the directory name as written, which logs,
    /// reports and messages show.
    pub fn label(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| format!("{:04}_{}", self.id, self.name))
    }

    /// The number as written in the directory name: `0002`, `000003`.
    pub fn number(&self) -> String {
        let label = self.label();
        match label.split_once('_') {
            Some((digits, _)) => digits.to_string(),
            None => format!("{:04}", self.id),
        }
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
    /// `-- bascule:no-transaction` or another tool's comment for the same thing
    /// ([`crate::marker::other_tool_no_transaction`]: `-- morph:nontransactional`, …), never on
    /// SQLite.
    pub fn runs_outside_transaction(&self, dialect: Dialect) -> bool {
        let marked = |script: &str| {
            split_statements(script, dialect)
                .iter()
                .any(|s| s.has_marker(NO_TRANSACTION))
        };
        let other_tool = |script: &str| other_tool_no_transaction(script).is_some();
        match dialect {
            Dialect::Mysql => true,
            Dialect::Postgres => {
                marked(&self.up)
                    || marked(&self.down)
                    || other_tool(&self.up)
                    || other_tool(&self.down)
            }
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
///
/// A database must be at the class's *base version* for these migrations to bring it up to date:
/// the number before the first one, or, when the numbering skips numbers between the earlier
/// patches and this one (the earlier patch ends at 41, this one starts at 43), the last number
/// of the earlier patches. A patch source does not know its siblings, so the build finds that
/// number ([`ClassMigrations::boundary_base`]) and the bundle's manifest records it; the runtime
/// sets it here ([`ClassMigrations::recorded_base`]) from the manifest.
#[derive(Debug, Clone, Default)]
pub struct ClassMigrations {
    pub dialect: Option<Dialect>,
    pub migrations: Vec<Migration>,
    /// The base version recorded at build time, when it is not the first number minus one;
    /// `None` for a patch source, or when the numbers follow on across the patch boundary.
    pub recorded_base: Option<u32>,
}

impl ClassMigrations {
    /// Those a database at `version` still needs, in order.
    pub fn pending(&self, version: u32) -> impl Iterator<Item = &Migration> {
        self.migrations.iter().filter(move |m| m.id > version)
    }

    /// The version a database must be at for this patch to bring it up to date: the
    /// [`ClassMigrations::recorded_base`] when there is one below the first migration, else the
    /// first migration's number minus one (0 without migrations).
    pub fn base_version(&self) -> u32 {
        let Some(first) = self.migrations.first() else {
            return 0;
        };
        match self.recorded_base {
            Some(base) if base < first.id => base,
            _ => first.id.saturating_sub(1),
        }
    }

    /// The numbers no migration ever had between the base version and the first migration:
    /// a database the patches migrated is never at one of them. Empty when the numbers follow on.
    pub fn boundary_gap(&self) -> std::ops::RangeInclusive<u32> {
        let first = self.migrations.first().map_or(0, |m| m.id);
        // An empty range (1..=0) when there is no gap.
        (self.base_version() + 1)..=first.saturating_sub(1)
    }

    /// The base version to record for these migrations given `earlier`, the migrations of the
    /// same class in the earlier patches: the highest number among them below the first
    /// migration, when it is not the first number minus one. `None` when the numbers follow on,
    /// or when no earlier migration is numbered below the first (a new class: the first number
    /// minus one, as a patch source says).
    pub fn boundary_base<'m>(
        &self,
        earlier: impl IntoIterator<Item = &'m Migration>,
    ) -> Option<u32> {
        let first = self.migrations.first()?.id;
        let last_before = earlier
            .into_iter()
            .map(|m| m.id)
            .filter(|id| *id < first)
            .max()?;
        (last_before != first - 1).then_some(last_before)
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
                    recorded_base: None,
                },
            );
        }
        let dir = root.join("migrations");
        if !dir.is_dir() {
            return Ok(set);
        }
        // Every misnamed directory is collected, so one run lists them all.
        let mut bad = Vec::new();
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
                let dir_name = file_name(&migration_dir);
                let (id, name) = match parse_dir_name(&dir_name) {
                    Ok(parsed) => parsed,
                    Err(why) => {
                        bad.push(BadName {
                            name: format!("{class}/{dir_name}"),
                            why,
                        });
                        continue;
                    }
                };
                let relative = Path::new("migrations").join(&class).join(&dir_name);
                let migration = load_one(&class, id, name, &migration_dir, relative)?;
                entry.migrations.push(migration);
            }
            // Directory order is not number order once numbers have different widths.
            entry.migrations.sort_by_key(|m| m.id);
            for pair in entry.migrations.windows(2) {
                if pair[0].id == pair[1].id {
                    bad.push(BadName {
                        name: format!("{class}/{}", pair[1].label()),
                        why: format!(
                            "number {} is also {}'s; give each migration its own number",
                            pair[1].id,
                            pair[0].label()
                        ),
                    });
                }
            }
        }
        if !bad.is_empty() {
            return Err(MigrationError::Names { path: dir, bad });
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

fn load_one(
    class: &str,
    id: u32,
    name: &str,
    dir: &Path,
    relative: PathBuf,
) -> Result<Migration, MigrationError> {
    let layout = |what: String| MigrationError::Layout {
        path: dir.to_path_buf(),
        what,
    };
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

/// The largest migration number: every backend's version table holds it (PostgreSQL's `integer`
/// is the narrowest).
pub const MAX_MIGRATION_NUMBER: u32 = i32::MAX as u32;

/// The rule a migration directory's name follows, as errors state it.
pub const MIGRATION_NAME_RULE: &str = "a migration directory is named <number>_<name>: \
the number is digits (leading zeros allowed, from 1 to 2147483647), then `_`, then a name of \
ASCII letters, digits, `_`, `.` and `-`; e.g. 0002_add_avatar, 000003_create_teams, 17_add-index_v6.0";

/// A migration directory's name split into its number and its name: `000003_create_teams` →
/// `(3, "create_teams")`. The error says what breaks [`MIGRATION_NAME_RULE`].
pub fn parse_dir_name(dir_name: &str) -> Result<(u32, &str), String> {
    let digits_end = dir_name
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(dir_name.len());
    let (digits, rest) = dir_name.split_at(digits_end);
    if digits.is_empty() {
        return Err("it does not start with a number".into());
    }
    let Some(name) = rest.strip_prefix('_') else {
        return Err(format!("the number {digits} is not followed by `_`"));
    };
    if name.is_empty() {
        return Err("no name after the number".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!("{c:?} is not allowed in the name"));
    }
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Err("the number is 0; numbers start at 1".into());
    }
    match significant.parse::<u32>() {
        Ok(id) if id <= MAX_MIGRATION_NUMBER => Ok((id, name)),
        _ => Err(format!(
            "the number {significant} is above {MAX_MIGRATION_NUMBER}, the largest a version table holds; \
             renumber the migrations in order (`cargo xtask import` does it for another tool's directory)"
        )),
    }
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
                what: "only directories belong here (migrations/<class>/<number>_<name>/)".into(),
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
    fn directory_names_carry_a_number_of_any_width_and_a_name() {
        for (dir, number, name) in [
            ("0002_add_avatar", 2, "add_avatar"),
            ("2_add_avatar", 2, "add_avatar"),
            ("000003_create_teams", 3, "create_teams"),
            (
                "000124_add-channelid-to-reaction",
                124,
                "add-channelid-to-reaction",
            ),
            ("17_Upgrade_v6.0", 17, "Upgrade_v6.0"),
            ("2147483647_last", 2_147_483_647, "last"),
            ("0003_Upper", 3, "Upper"),
        ] {
            assert_eq!(parse_dir_name(dir), Ok((number, name)), "{dir}");
        }
    }

    #[test]
    fn a_bad_directory_name_says_what_breaks_the_rule() {
        for (dir, why) in [
            ("add_avatar", "it does not start with a number"),
            ("0002-add", "the number 0002 is not followed by `_`"),
            ("0002_", "no name after the number"),
            ("0002_add avatar", "' ' is not allowed in the name"),
            ("0002_add/x", "'/' is not allowed in the name"),
            ("0000_zero", "the number is 0; numbers start at 1"),
        ] {
            assert_eq!(parse_dir_name(dir), Err(why.to_string()), "{dir}");
        }
        for too_large in ["2147483648_x", "20230101120000_x"] {
            let why = parse_dir_name(too_large).unwrap_err();
            assert!(
                why.contains("is above 2147483647") && why.contains("cargo xtask import"),
                "{why}"
            );
        }
    }

    fn patch_with(dirs: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().expect("temp dir");
        for dir in dirs {
            let path = root.path().join("migrations").join(dir);
            std::fs::create_dir_all(&path).expect("migration dir");
            std::fs::write(path.join("up.sql"), "SELECT 1;").expect("up.sql");
            std::fs::write(path.join("down.sql"), "SELECT 2;").expect("down.sql");
        }
        root
    }

    fn classes(names: &[&str]) -> BTreeMap<String, ClassSpec> {
        names
            .iter()
            .map(|name| {
                let spec: ClassSpec = toml::from_str("dialect = \"sqlite\"").expect("class spec");
                (name.to_string(), spec)
            })
            .collect()
    }

    #[test]
    fn migrations_are_ordered_by_number_with_gaps_and_labelled_as_written() {
        let root = patch_with(&["site/10_ten", "site/000009_nine", "site/2_add-index_v6.0"]);
        let set = MigrationSet::load(root.path(), &classes(&["site"])).expect("loads");
        let site = set.class("site").expect("class site");
        let labels: Vec<_> = site.migrations.iter().map(Migration::label).collect();
        assert_eq!(labels, ["2_add-index_v6.0", "000009_nine", "10_ten"]);
        let numbers: Vec<_> = site.migrations.iter().map(Migration::number).collect();
        assert_eq!(numbers, ["2", "000009", "10"]);
        assert_eq!(site.base_version(), 1);
        assert_eq!(site.target_version(), Some(10));
        assert_eq!(site.pending(2).map(|m| m.id).collect::<Vec<_>>(), [9, 10]);
    }

    fn class_of(ids: &[u32]) -> ClassMigrations {
        ClassMigrations {
            dialect: Some(Dialect::Sqlite),
            migrations: ids
                .iter()
                .map(|id| Migration::new("site", *id, "m", "SELECT 1;", "SELECT 2;"))
                .collect(),
            recorded_base: None,
        }
    }

    #[test]
    fn a_gap_at_the_patch_boundary_is_the_recorded_base() {
        let earlier = class_of(&[1, 40, 41]);
        let mut gap = class_of(&[43, 44]);
        assert_eq!(
            gap.base_version(),
            42,
            "a patch source alone knows no better"
        );
        assert_eq!(gap.boundary_base(&earlier.migrations), Some(41));
        gap.recorded_base = gap.boundary_base(&earlier.migrations);
        assert_eq!(gap.base_version(), 41);
        assert_eq!(gap.boundary_gap(), 42..=42);
        assert_eq!(gap.pending(41).map(|m| m.id).collect::<Vec<_>>(), [43, 44]);

        let follows = class_of(&[42, 43]);
        assert_eq!(follows.boundary_base(&earlier.migrations), None);
        assert!(follows.boundary_gap().is_empty());
        let new_class = class_of(&[7]);
        assert_eq!(new_class.boundary_base(&[]), None);
        assert_eq!(new_class.base_version(), 6);
        // A number an earlier patch shipped again at or above the first does not count.
        let reshipped = class_of(&[1, 41, 43, 50]);
        assert_eq!(
            class_of(&[43]).boundary_base(&reshipped.migrations),
            Some(41)
        );
        // A recorded base at or above the first migration is not a base.
        let mut odd = class_of(&[43]);
        odd.recorded_base = Some(43);
        assert_eq!(odd.base_version(), 42);
    }

    #[test]
    fn every_bad_name_and_duplicate_number_is_listed_in_one_error() {
        let root = patch_with(&[
            "site/0001_ok",
            "site/add_avatar",
            "site/0002_add avatar",
            "site/0003_a",
            "site/3_b",
            "main/0000_zero",
            "main/0001_fine",
        ]);
        let err = MigrationSet::load(root.path(), &classes(&["site", "main"])).unwrap_err();
        let MigrationError::Names { bad, .. } = &err else {
            panic!("not a names error: {err}");
        };
        let names: Vec<_> = bad.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "main/0000_zero",
                "site/0002_add avatar",
                "site/add_avatar",
                "site/3_b"
            ]
        );
        let text = err
            .to_string()
            .replace(&root.path().display().to_string(), "<patch>");
        insta::assert_snapshot!(text);
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
        let imported = migration(
            "-- morph:nontransactional\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);",
            "-- morph:nontransactional\nDROP INDEX CONCURRENTLY IF EXISTS i;",
        );
        assert!(imported.runs_outside_transaction(Dialect::Postgres));
        assert!(!imported.runs_outside_transaction(Dialect::Sqlite));
        let dbmate_down_only = migration(
            "SELECT 1;",
            "-- migrate:down transaction:false\nDROP INDEX CONCURRENTLY i;",
        );
        assert!(dbmate_down_only.runs_outside_transaction(Dialect::Postgres));
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
