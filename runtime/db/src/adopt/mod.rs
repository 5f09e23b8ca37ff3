//! Adopting another migration tool's history: a tenant that has no Bascule version table yet
//! but whose database was migrated by dbmate, golang-migrate, Flyway, Sqitch or Liquibase starts
//! at the Bascule version that history records.
//!
//! The host profile says which tool (`[databases.<class>] adopt = { tool = "flyway" }`, the
//! history table's name optional); the bundle says what each imported migration is called by
//! that tool (`adopt/<class>.toml`, [`AdoptMap`], written by `cargo xtask import`). One file
//! per tool reads its history table into a [`History`] — the ids it records as applied, their
//! checksums where it records one, and a dirty or failed state — through
//! [`Connection::query_rows`], so every backend the tool runs on is covered by the same SQL.
//! [`starting_version`] then maps it: the highest Bascule number such that every imported
//! migration up to it is applied and none after it is. Anything else — a gap, an id the import
//! does not know, a checksum that differs, a dirty or failed row — refuses the tenant, named,
//! before anything changes. The tool's table is only ever read.
//!
//! | tool | table (default) | backends | checksum compared |
//! |---|---|---|---|
//! | dbmate | `schema_migrations(version)` | all | — (none recorded) |
//! | golang-migrate | `schema_migrations(version, dirty)`, one row | all | — (none recorded) |
//! | Flyway | `flyway_schema_history` | all | CRC32 (`checksum`) |
//! | Sqitch | schema `sqitch` (`changes`, `events`) | PostgreSQL | SHA-1 (`script_hash`) |
//! | Liquibase | `DATABASECHANGELOG` | all | — (ids only: `MD5SUM` is not reproduced) |

mod dbmate;
mod flyway;
mod golang_migrate;
mod liquibase;
mod sqitch;

use std::collections::BTreeSet;

use bascule_patch::{AdoptMap, Dialect, Tool};
use serde::Deserialize;

use crate::{Adopt, Connection, DbError, DbTarget, Location};

/// `adopt = …` of `[databases.<class>]`: the platform's own counter, or another tool's history.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawAdopt")]
pub enum AdoptSpec {
    /// `{ table, column }`: the platform's version counter.
    Counter(Adopt),
    /// `{ tool, table? }`: a migration tool's history table.
    Tool(ToolAdopt),
}

/// `adopt = { tool = "flyway", table = "…" }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolAdopt {
    pub tool: Tool,
    /// The history table (Sqitch: the registry schema), when not the tool's default.
    pub table: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdopt {
    tool: Option<String>,
    table: Option<String>,
    column: Option<String>,
}

impl TryFrom<RawAdopt> for AdoptSpec {
    type Error = String;

    fn try_from(raw: RawAdopt) -> Result<AdoptSpec, String> {
        if let Some(table) = &raw.table {
            if table.is_empty()
                || !table
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            {
                return Err(format!(
                    "adopt.table `{table}`: use letters, digits, `_` and `.` only"
                ));
            }
        }
        match (raw.tool, raw.table, raw.column) {
            (Some(tool), table, None) => {
                let known: Vec<&str> = Tool::ALL.iter().map(|t| t.name()).collect();
                let tool = Tool::from_name(&tool).ok_or_else(|| {
                    format!(
                        "adopt.tool `{tool}` is not a tool Bascule adopts: one of {}",
                        known.join(", ")
                    )
                })?;
                Ok(AdoptSpec::Tool(ToolAdopt { tool, table }))
            }
            (None, Some(table), Some(column)) => Ok(AdoptSpec::Counter(Adopt { table, column })),
            (Some(_), _, Some(_)) => Err(
                "adopt: `column` belongs to a counter (`{ table, column }`), not to a tool (`{ tool, table }`)"
                    .into(),
            ),
            _ => Err(
                "adopt: give `{ table = \"…\", column = \"…\" }` (the platform's counter) or `{ tool = \"flyway\" }` (dbmate, golang-migrate, flyway, sqitch, liquibase)"
                    .into(),
            ),
        }
    }
}

impl AdoptSpec {
    pub fn counter(&self) -> Option<&Adopt> {
        match self {
            AdoptSpec::Counter(adopt) => Some(adopt),
            AdoptSpec::Tool(_) => None,
        }
    }

    pub fn tool(&self) -> Option<&ToolAdopt> {
        match self {
            AdoptSpec::Tool(tool) => Some(tool),
            AdoptSpec::Counter(_) => None,
        }
    }
}

impl ToolAdopt {
    /// The history table read on `dialect`.
    pub fn table(&self, dialect: Dialect) -> String {
        if let Some(table) = &self.table {
            return table.clone();
        }
        match self.tool {
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations".into(),
            Tool::Flyway => "flyway_schema_history".into(),
            Tool::Sqitch => "sqitch".into(),
            // Liquibase folds its names to lower case on PostgreSQL.
            Tool::Liquibase if dialect == Dialect::Postgres => "databasechangelog".into(),
            Tool::Liquibase => "DATABASECHANGELOG".into(),
        }
    }

    /// The name of the baseline row: where the starting version came from.
    pub fn baseline_name(&self, dialect: Dialect) -> String {
        format!("adopted from {} {}", self.tool, self.table(dialect))
    }
}

/// What a tool's history says has been applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub entries: Vec<Entry>,
    /// A dirty or failed state: the row, and what to do.
    pub refusal: Option<String>,
}

/// One fact of a tool's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub checksum: Option<String>,
    pub kind: EntryKind,
    /// How the row is named in messages, e.g. `flyway_schema_history installed_rank 3`.
    pub row: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// This migration is applied.
    Applied,
    /// This migration and every one before it are applied (golang-migrate's one row, a Flyway
    /// baseline).
    UpTo,
    /// This migration was undone (Flyway undo).
    Undone,
}

/// What the adoption of one tenant gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adoption {
    /// No history table: a tenant the tool never migrated; it starts at 0.
    Fresh,
    /// The Bascule version its history records.
    At(u32),
    /// Why it cannot be adopted, the row named; the tenant is named by the caller.
    Refused(String),
}

/// The dialect of a target's backend.
pub fn dialect_of(target: &DbTarget) -> Dialect {
    match target.location {
        Location::SqliteFile(_) => Dialect::Sqlite,
        Location::Mysql { .. } => Dialect::Mysql,
        Location::Postgres { .. } => Dialect::Postgres,
    }
}

/// Reads `target`'s history of `spec.tool` and maps it onto `map`.
pub fn adopt(
    conn: &mut dyn Connection,
    target: &DbTarget,
    spec: &ToolAdopt,
    map: &AdoptMap,
) -> Result<Adoption, DbError> {
    let dialect = dialect_of(target);
    let table = spec.table(dialect);
    if map.tool != spec.tool {
        return Ok(Adoption::Refused(format!(
            "the host profile adopts {} history, but the bundle's adopt/{}.toml was imported from {}",
            spec.tool, target.class, map.tool
        )));
    }
    let history = match spec.tool {
        Tool::Dbmate => dbmate::read(conn, dialect, &table)?,
        Tool::GolangMigrate => golang_migrate::read(conn, dialect, &table)?,
        Tool::Flyway => flyway::read(conn, dialect, &table)?,
        Tool::Sqitch => sqitch::read(conn, dialect, &table, map.project.as_deref())?,
        Tool::Liquibase => liquibase::read(conn, dialect, &table)?,
    };
    let Some(history) = history else {
        return Ok(Adoption::Fresh);
    };
    Ok(match starting_version(&history, map) {
        Ok(version) => Adoption::At(version),
        Err(why) => Adoption::Refused(why),
    })
}

/// The highest Bascule number such that every imported migration up to it is applied and none
/// after it is; an error naming the row otherwise.
pub fn starting_version(history: &History, map: &AdoptMap) -> Result<u32, String> {
    if let Some(refusal) = &history.refusal {
        return Err(refusal.clone());
    }
    let mut applied: BTreeSet<u32> = BTreeSet::new();
    for entry in &history.entries {
        let Some(m) = map.number_of(&entry.id) else {
            return Err(format!(
                "{}: {} `{}` is not among the imported migrations (adopt/<class>.toml): \
                 import the tool's migrations again, with this one, before adopting",
                entry.row, map.tool, entry.id
            ));
        };
        if let (Some(want), Some(got)) = (&m.checksum, &entry.checksum) {
            if want != got && entry.kind == EntryKind::Applied {
                return Err(format!(
                    "{}: {} `{}` was applied with checksum {got}, but the imported script's is {want}: \
                     the migration was edited after it ran; import the script the database ran",
                    entry.row, map.tool, entry.id
                ));
            }
        }
        match entry.kind {
            EntryKind::Applied => {
                applied.insert(m.number);
            }
            EntryKind::UpTo => applied.extend(
                map.migrations
                    .iter()
                    .map(|m| m.number)
                    .filter(|n| *n <= m.number),
            ),
            EntryKind::Undone => {
                applied.remove(&m.number);
            }
        }
    }
    let mut version = 0;
    let mut missing: Option<&str> = None;
    for m in &map.migrations {
        match (applied.contains(&m.number), missing) {
            (true, None) => version = m.number,
            (true, Some(gap)) => {
                return Err(format!(
                    "{} `{}` is applied but `{gap}` before it is not: a history with a gap cannot be a Bascule version",
                    map.tool, m.id
                ))
            }
            (false, None) => missing = Some(&m.id),
            (false, Some(_)) => {}
        }
    }
    Ok(version)
}

/// Whether `table` (optionally in `schema`) exists, on `dialect`.
pub(crate) fn table_exists(
    conn: &mut dyn Connection,
    dialect: Dialect,
    schema: Option<&str>,
    table: &str,
) -> Result<bool, DbError> {
    let table = literal(table);
    let sql = match (dialect, schema) {
        (Dialect::Sqlite, _) => format!(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = {table} COLLATE NOCASE"
        ),
        (Dialect::Mysql, None) => format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = {table}"
        ),
        (Dialect::Postgres, None) => format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = {table}"
        ),
        (_, Some(schema)) => format!(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = {} AND table_name = {table}",
            literal(schema)
        ),
    };
    let rows = conn.query_rows(&sql)?;
    let count = rows
        .first()
        .and_then(|r| r.first())
        .map(String::as_str)
        .unwrap_or("0");
    Ok(count != "0")
}

/// `table` quoted as an identifier for `dialect`.
pub(crate) fn ident(dialect: Dialect, name: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        Dialect::Sqlite | Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

/// A string literal.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// A query's value as an optional text (`NULL` read as none).
pub(crate) fn value(text: &str) -> Option<String> {
    (text != "NULL" && !text.is_empty()).then(|| text.to_string())
}

/// The text cast of a column for `dialect` (integers read as text everywhere).
pub(crate) fn as_text(dialect: Dialect, column: &str) -> String {
    match dialect {
        Dialect::Mysql => format!("CAST({column} AS CHAR)"),
        Dialect::Sqlite | Dialect::Postgres => format!("CAST({column} AS TEXT)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bascule_patch::AdoptedMigration;

    fn map(ids: &[(&str, Option<&str>)]) -> AdoptMap {
        AdoptMap {
            tool: Tool::Flyway,
            project: None,
            migrations: ids
                .iter()
                .enumerate()
                .map(|(i, (id, checksum))| AdoptedMigration {
                    number: i as u32 + 1,
                    id: id.to_string(),
                    checksum: checksum.map(str::to_string),
                })
                .collect(),
        }
    }

    fn entry(id: &str, checksum: Option<&str>, kind: EntryKind) -> Entry {
        Entry {
            id: id.into(),
            checksum: checksum.map(str::to_string),
            kind,
            row: format!("row {id}"),
        }
    }

    #[test]
    fn a_prefix_of_the_imported_migrations_is_a_version_and_anything_else_is_refused() {
        let m = map(&[("1", Some("10")), ("1.1", None), ("2", Some("30"))]);
        let history = |entries| History {
            entries,
            refusal: None,
        };
        let applied = |id, c| entry(id, c, EntryKind::Applied);
        assert_eq!(starting_version(&history(vec![]), &m), Ok(0));
        assert_eq!(
            starting_version(
                &history(vec![applied("1", Some("10")), applied("1.1", None)]),
                &m
            ),
            Ok(2)
        );
        assert_eq!(
            starting_version(&history(vec![entry("1.1", None, EntryKind::UpTo)]), &m),
            Ok(2)
        );
        assert_eq!(
            starting_version(
                &history(vec![
                    applied("1", None),
                    applied("1.1", None),
                    entry("1.1", None, EntryKind::Undone)
                ]),
                &m
            ),
            Ok(1)
        );
        let gap = starting_version(&history(vec![applied("1", None), applied("2", None)]), &m);
        assert!(gap
            .unwrap_err()
            .contains("`2` is applied but `1.1` before it is not"));
        let unknown = starting_version(&history(vec![applied("9", None)]), &m).unwrap_err();
        assert!(
            unknown.starts_with("row 9: flyway `9` is not among"),
            "{unknown}"
        );
        let edited = starting_version(&history(vec![applied("1", Some("11"))]), &m).unwrap_err();
        assert!(edited.contains("checksum 11"), "{edited}");
        let dirty = History {
            entries: vec![],
            refusal: Some("dirty".into()),
        };
        assert_eq!(starting_version(&dirty, &m), Err("dirty".into()));
    }

    #[test]
    fn the_profile_names_a_counter_or_a_tool_and_nothing_in_between() {
        #[derive(Deserialize)]
        struct Class {
            adopt: AdoptSpec,
        }
        let parse = |text: &str| toml::from_str::<Class>(text).map(|c| c.adopt);
        assert_eq!(
            parse("adopt = { tool = \"flyway\" }").unwrap(),
            AdoptSpec::Tool(ToolAdopt {
                tool: Tool::Flyway,
                table: None
            })
        );
        assert!(matches!(
            parse("adopt = { table = \"v\", column = \"n\" }").unwrap(),
            AdoptSpec::Counter(_)
        ));
        let err = parse("adopt = { tool = \"rails\" }")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a tool Bascule adopts"), "{err}");
        assert!(parse("adopt = { table = \"v\" }").is_err());
        assert!(parse("adopt = { tool = \"dbmate\", table = \"x;drop\" }").is_err());
    }
}
