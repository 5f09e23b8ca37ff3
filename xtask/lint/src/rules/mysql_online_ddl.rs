//! The online DDL tables of MySQL 8.0 and MariaDB, encoded: for each schema operation, the best
//! algorithm (`INSTANT`, `NOCOPY`, `INPLACE`, `COPY`) and the least lock (`NONE`, `SHARED`,
//! `EXCLUSIVE`) the server allows on an existing InnoDB table. Not a rule: the table that
//! `mysql-table-copy` and `mysql-blocking-lock` consult.
//!
//! # Sources
//!
//! - MySQL 8.0 Reference Manual, §15.12.1 "Online DDL Operations" (§17.12.1 in later editions of
//!   the same manual): its tables of index, primary key, column, generated column, foreign key,
//!   table, tablespace and partitioning operations, columns "Instant", "In Place", "Rebuilds
//!   Table" and "Permits Concurrent DML", and their asterisked notes (an operation that does not
//!   permit concurrent DML runs with `LOCK=SHARED` at best; one that is neither instant nor in
//!   place is `ALGORITHM=COPY`);
//! - MariaDB's "InnoDB Online DDL Operations with the INSTANT / NOCOPY / INPLACE Alter Algorithm"
//!   pages and "InnoDB Online DDL Overview" (10.3 instant `ADD COLUMN` at the end, 10.4 instant
//!   `DROP COLUMN` and reordering, 11.2 `ALGORITHM=COPY` with `LOCK=NONE`);
//! - MySQL 8.0 §13.7.3 "Table Maintenance Statements": `ANALYZE TABLE` (§13.7.3.1), `CHECK
//!   TABLE` (§13.7.3.2) and `CHECKSUM TABLE` (§13.7.3.3) read under a lock that keeps writes out,
//!   `OPTIMIZE TABLE` (§13.7.3.4) is InnoDB's `ALTER TABLE … FORCE`, `REPAIR TABLE` (§13.7.3.5)
//!   locks the table of the engines that have it; §13.3.6 (`LOCK TABLES`); §13.1.9 (`ALTER TABLE
//!   … ORDER BY`, never in place) and §15.6.1.3 "Importing InnoDB Tables" (`DISCARD` and `IMPORT
//!   TABLESPACE` under an exclusive lock).
//!
//! # Reading it
//!
//! [`support`] gives an operation's [`Support`] on a [`Server`]; with no server named (a `mysql`
//! class without `server =`) it is the worse of MySQL 8.0 and MariaDB, so what the rules let
//! through is safe on both. An operation **copies** when its best algorithm is `COPY`, and
//! **blocks writes** when its least lock is `SHARED` or `EXCLUSIVE`; a rebuild in place with
//! `LOCK=NONE` (adding a column with `AFTER` before MySQL 8.0.29, `NULL`/`NOT NULL`, a primary
//! key on `NOT NULL` columns) does neither and is not flagged. Versions are compared on major and
//! minor only (`mysql 8.0`): the MySQL 8.0.x patch releases that made more operations instant
//! (8.0.12, 8.0.28, 8.0.29) turned in-place rebuilds into instant ones, which does not change
//! what is flagged, so the rows keep them in their notes.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableAlgorithm, AlterTableLock, AlterTableOperation, ColumnOption,
    DataType, GeneratedExpressionMode, Ident, LockTableType, Statement, TableConstraint,
};

use super::created_here_named;
use crate::history::table_name;
use crate::{History, Parsed, RecognizedStatement, RuleContext};
use bascule_patch::{Flavour, Server, ServerVersion};
use bascule_sql::{AlterAction, IndexKind, MaintenanceCommand, RecognizedKind};

/// How the server carries out an `ALTER TABLE`, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Algorithm {
    /// Only the data dictionary changes.
    Instant,
    /// MariaDB: in place without rebuilding the clustered index.
    Nocopy,
    /// In place, possibly rebuilding the table, with concurrent DML unless the lock says no.
    Inplace,
    /// A new table is built and every row copied into it.
    Copy,
}

/// What other sessions may do to the table while the operation runs, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lock {
    /// Reads and writes go on.
    None,
    /// Reads go on, writes wait.
    Shared,
    /// Reads and writes wait.
    Exclusive,
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Algorithm::Instant => "INSTANT",
            Algorithm::Nocopy => "NOCOPY",
            Algorithm::Inplace => "INPLACE",
            Algorithm::Copy => "COPY",
        })
    }
}

impl std::fmt::Display for Lock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Lock::None => "NONE",
            Lock::Shared => "SHARED",
            Lock::Exclusive => "EXCLUSIVE",
        })
    }
}

/// The best a server does for one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    pub algorithm: Algorithm,
    pub lock: Lock,
}

impl Support {
    pub fn copies(self) -> bool {
        self.algorithm == Algorithm::Copy
    }
    pub fn blocks_writes(self) -> bool {
        self.lock >= Lock::Shared
    }
    /// The worse of two (a statement, or a server not named).
    pub fn worst(self, other: Support) -> Support {
        Support {
            algorithm: self.algorithm.max(other.algorithm),
            lock: self.lock.max(other.lock),
        }
    }
}

/// From which version (major.minor) a flavour does an operation this way.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub since: ServerVersion,
    pub support: Support,
}

/// One operation of the manuals' tables.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub op: Op,
    /// The operation as the MySQL manual's table names it.
    pub operation: &'static str,
    /// MySQL 8.0, by version, oldest first.
    pub mysql: &'static [Step],
    /// MariaDB 10.x/11.x, by version, oldest first.
    pub mariadb: &'static [Step],
    /// The manuals' asterisk: the exception or the version that made it better.
    pub note: &'static str,
    /// Another rule that already reports this operation (and says it copies or locks).
    pub covered_by: Option<&'static str>,
}

/// The operations, as the rules classify statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    AddIndex,
    DropIndex,
    RenameIndex,
    AddFulltextIndex,
    AddSpatialIndex,
    AddPrimaryKey,
    AddPrimaryKeyNullable,
    DropPrimaryKey,
    ReplacePrimaryKey,
    AddColumn,
    AddColumnPlaced,
    AddAutoIncrementColumn,
    AddStoredColumn,
    AddVirtualColumn,
    DropColumn,
    RenameColumn,
    ReorderColumn,
    SetDefault,
    DropDefault,
    ChangeType,
    ExtendVarchar,
    ExtendVarcharAcrossLengthBytes,
    ChangeAutoIncrement,
    MakeNull,
    MakeNotNull,
    ExtendEnumOrSet,
    AddForeignKey,
    AddForeignKeyWithoutChecks,
    DropForeignKey,
    AddCheck,
    DropConstraint,
    RowFormat,
    KeyBlockSize,
    StatsOptions,
    TableCharset,
    ConvertCharset,
    Force,
    NullRebuild,
    ChangeEngine,
    Optimize,
    OrderBy,
    RenameTable,
    TableComment,
    Encryption,
    DiscardTablespace,
    ImportTablespace,
    PartitionBy,
    RemovePartitioning,
    AddRangeOrListPartition,
    AddHashOrKeyPartition,
    DropPartition,
    TruncatePartition,
    CoalescePartition,
    ReorganizePartition,
    RebuildPartition,
    ExchangePartition,
    AnalyzePartition,
    OptimizePartition,
    AnalyzeTable,
    CheckTable,
    ChecksumTable,
    RepairTable,
    LockTablesRead,
    LockTablesWrite,
    TruncateTable,
}

const fn v(major: u32, minor: u32) -> ServerVersion {
    ServerVersion::new(major, minor)
}

const fn at(major: u32, minor: u32, algorithm: Algorithm, lock: Lock) -> Step {
    Step {
        since: v(major, minor),
        support: Support { algorithm, lock },
    }
}

use Algorithm::{Copy as COPY, Inplace as INPLACE, Instant as INSTANT, Nocopy as NOCOPY};
use Lock::{Exclusive as EXCLUSIVE, None as NONE, Shared as SHARED};

const MY_INSTANT: &[Step] = &[at(8, 0, INSTANT, NONE)];
const MY_INPLACE: &[Step] = &[at(8, 0, INPLACE, NONE)];
const MY_INPLACE_SHARED: &[Step] = &[at(8, 0, INPLACE, SHARED)];
const MY_COPY: &[Step] = &[at(8, 0, COPY, SHARED)];
const MA_INSTANT: &[Step] = &[at(10, 0, INSTANT, NONE)];
const MA_NOCOPY: &[Step] = &[at(10, 0, NOCOPY, NONE)];
const MA_INPLACE: &[Step] = &[at(10, 0, INPLACE, NONE)];
const MA_INPLACE_SHARED: &[Step] = &[at(10, 0, INPLACE, SHARED)];
/// MariaDB copies under a shared lock, and from 11.2 copies with concurrent DML when
/// `LOCK=NONE` is allowed (online `ALTER TABLE`, MDEV-16329).
const MA_COPY: &[Step] = &[at(10, 0, COPY, SHARED), at(11, 2, COPY, NONE)];
/// Statements outside `ALTER TABLE` that hold a lock of their own.
const READ_LOCK: &[Step] = &[at(0, 0, INPLACE, SHARED)];
const WRITE_LOCK: &[Step] = &[at(0, 0, INPLACE, EXCLUSIVE)];

/// The table. One row per operation of the manuals, in their order.
pub const ROWS: &[Row] = &[
    // Index operations
    row(Op::AddIndex, "Creating or adding a secondary index", MY_INPLACE, MA_NOCOPY, "CREATE INDEX and ADD INDEX; DML goes on", None),
    row(Op::DropIndex, "Dropping an index", MY_INPLACE, MA_INSTANT, "metadata only", None),
    row(Op::RenameIndex, "Renaming an index", MY_INPLACE, MA_INSTANT, "metadata only", None),
    row(Op::AddFulltextIndex, "Adding a FULLTEXT index", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "no concurrent DML; the first one rebuilds the table unless it has an FTS_DOC_ID column", None),
    row(Op::AddSpatialIndex, "Adding a SPATIAL index", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "no concurrent DML", None),
    // Primary key operations
    row(Op::AddPrimaryKey, "Adding a primary key", MY_INPLACE, MA_INPLACE, "rebuilds the table in place; DML goes on", None),
    row(Op::AddPrimaryKeyNullable, "Adding a primary key on columns that must become NOT NULL", MY_COPY, MA_INPLACE, "MySQL refuses INPLACE when a key column has to be converted to NOT NULL", None),
    row(Op::DropPrimaryKey, "Dropping a primary key", MY_COPY, MA_COPY, "only ALGORITHM=COPY, unless a new primary key is added by the same statement", None),
    row(Op::ReplacePrimaryKey, "Dropping a primary key and adding another", MY_INPLACE, MA_INPLACE, "rebuilds the table in place; DML goes on", None),
    // Column operations
    row(Op::AddColumn, "Adding a column", MY_INSTANT, &[at(10, 0, INPLACE, NONE), at(10, 3, INSTANT, NONE)], "INSTANT as the last column since MySQL 8.0.12 and MariaDB 10.3.2, a rebuild in place before", None),
    row(Op::AddColumnPlaced, "Adding a column with AFTER/FIRST", MY_INPLACE, &[at(10, 0, INPLACE, NONE), at(10, 4, INSTANT, NONE)], "INSTANT anywhere since MySQL 8.0.29 and MariaDB 10.4, a rebuild in place with DML before", None),
    row(Op::AddAutoIncrementColumn, "Adding an AUTO_INCREMENT column", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "concurrent DML is not permitted when adding an auto-increment column", None),
    row(Op::AddStoredColumn, "Adding a STORED generated column", MY_COPY, MA_COPY, "the table is copied to compute the column", None),
    row(Op::AddVirtualColumn, "Adding a VIRTUAL generated column", MY_INSTANT, MA_INSTANT, "metadata only when not indexed", None),
    row(Op::DropColumn, "Dropping a column", MY_INPLACE, &[at(10, 0, INPLACE, NONE), at(10, 4, INSTANT, NONE)], "INSTANT since MySQL 8.0.29 and MariaDB 10.4, a rebuild in place with DML before", None),
    row(Op::RenameColumn, "Renaming a column", MY_INPLACE, &[at(10, 0, INPLACE, NONE), at(10, 3, INSTANT, NONE)], "keep the same definition; INSTANT since MySQL 8.0.28", None),
    row(Op::ReorderColumn, "Reordering columns", MY_INPLACE, &[at(10, 0, INPLACE, NONE), at(10, 4, INSTANT, NONE)], "MODIFY/CHANGE … AFTER/FIRST rebuilds the table in place", None),
    row(Op::SetDefault, "Setting a column default value", MY_INSTANT, MA_INSTANT, "metadata only", None),
    row(Op::DropDefault, "Dropping the column default value", MY_INSTANT, MA_INSTANT, "metadata only", None),
    row(Op::ChangeType, "Changing the column data type", MY_COPY, MA_COPY, "only ALGORITHM=COPY", Some("changing-column-type")),
    row(Op::ExtendVarchar, "Extending VARCHAR column size", MY_INPLACE, MA_INSTANT, "in place only while the length prefix keeps its size: 0–255 bytes take one length byte, 256 or more two", None),
    row(Op::ExtendVarcharAcrossLengthBytes, "Extending VARCHAR column size past 255 bytes", MY_COPY, MA_COPY, "from under 256 bytes to 256 or more the length prefix grows from one byte to two: only ALGORITHM=COPY", None),
    row(Op::ChangeAutoIncrement, "Changing the auto-increment value", MY_INPLACE, MA_INSTANT, "a value in memory, not the data file", None),
    row(Op::MakeNull, "Making a column NULL", MY_INPLACE, MA_INPLACE, "rebuilds the table in place; DML goes on", None),
    row(Op::MakeNotNull, "Making a column NOT NULL", MY_INPLACE, MA_INPLACE, "rebuilds the table in place (strict SQL mode); DML goes on", None),
    row(Op::ExtendEnumOrSet, "Modifying the definition of an ENUM or SET column", MY_INSTANT, MA_INSTANT, "members added at the end, storage size unchanged", None),
    // Foreign key operations
    row(Op::AddForeignKey, "Adding a foreign key constraint", MY_COPY, MA_COPY, "INPLACE only with foreign_key_checks disabled, COPY otherwise", Some("adding-foreign-key")),
    row(Op::AddForeignKeyWithoutChecks, "Adding a foreign key constraint with foreign_key_checks=0", MY_INPLACE, MA_NOCOPY, "rows are not checked", None),
    row(Op::DropForeignKey, "Dropping a foreign key constraint", MY_INPLACE, MA_INSTANT, "metadata only", None),
    row(Op::AddCheck, "Adding a CHECK constraint", MY_COPY, MA_COPY, "every row is checked while the table is copied", Some("adding-check-constraint")),
    row(Op::DropConstraint, "Dropping a CHECK constraint", MY_INSTANT, MA_INSTANT, "metadata only", None),
    // Table operations
    row(Op::RowFormat, "Changing ROW_FORMAT", MY_INPLACE, MA_INPLACE, "rebuilds the table in place; DML goes on", None),
    row(Op::KeyBlockSize, "Changing KEY_BLOCK_SIZE", MY_INPLACE, MA_INPLACE, "rebuilds the table in place; DML goes on", None),
    row(Op::StatsOptions, "Setting persistent table statistics options", MY_INPLACE, MA_INSTANT, "metadata only", None),
    row(Op::TableCharset, "Specifying a character set", MY_INPLACE, MA_INSTANT, "the default for new columns; rebuilds if the encoding differs", None),
    row(Op::ConvertCharset, "Converting a character set", MY_COPY, MA_COPY, "CONVERT TO CHARACTER SET rewrites every text column: only ALGORITHM=COPY", None),
    row(Op::Force, "Rebuilding with the FORCE option", MY_INPLACE, MA_INPLACE, "in place with DML, except for a table with a FULLTEXT index, which is copied", None),
    row(Op::NullRebuild, "Performing a null rebuild (ENGINE=InnoDB)", MY_INPLACE, MA_INPLACE, "in place with DML, except for a table with a FULLTEXT index or in another engine, which is copied", None),
    row(Op::ChangeEngine, "Changing the storage engine", MY_COPY, MA_COPY, "a table in another engine is copied row by row", None),
    row(Op::Optimize, "Optimizing a table", MY_INPLACE, MA_INPLACE, "OPTIMIZE TABLE is InnoDB's ALTER TABLE … FORCE (§13.7.3.4): rebuilt in place with DML, except for a table with a FULLTEXT index, which is copied", None),
    row(Op::OrderBy, "Ordering the rows (ALTER TABLE … ORDER BY)", MY_COPY, MA_COPY, "ORDER BY is never done in place: only ALGORITHM=COPY (§13.1.9); InnoDB keeps its rows in primary key order whatever the clause says", None),
    row(Op::RenameTable, "Renaming a table", MY_INSTANT, MA_INSTANT, "metadata only", None),
    row(Op::TableComment, "Changing the table comment", MY_INSTANT, MA_INSTANT, "metadata only", None),
    // Tablespace operations
    row(Op::Encryption, "Enabling or disabling file-per-table tablespace encryption", MY_COPY, MA_INPLACE, "MySQL copies the table", None),
    row(Op::DiscardTablespace, "Discarding a file-per-table tablespace", WRITE_LOCK, WRITE_LOCK, "the table's data file is deleted under an exclusive lock, and the table can be neither read nor written until IMPORT TABLESPACE (MySQL §15.6.1.3)", None),
    row(Op::ImportTablespace, "Importing a file-per-table tablespace", WRITE_LOCK, WRITE_LOCK, "the imported data file is checked and adjusted page by page under an exclusive lock (MySQL §15.6.1.3)", None),
    // Partitioning operations
    row(Op::PartitionBy, "PARTITION BY", MY_COPY, MA_COPY, "only ALGORITHM=COPY, LOCK={DEFAULT|SHARED|EXCLUSIVE}", None),
    row(Op::RemovePartitioning, "REMOVE PARTITIONING", MY_COPY, MA_COPY, "only ALGORITHM=COPY", None),
    row(Op::AddRangeOrListPartition, "ADD PARTITION (RANGE or LIST)", MY_INPLACE, MA_INPLACE, "a new empty partition; DML goes on", None),
    row(Op::AddHashOrKeyPartition, "ADD PARTITION (HASH or KEY)", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "rows are redistributed; no concurrent DML", None),
    row(Op::DropPartition, "DROP PARTITION", MY_INPLACE, MA_INPLACE, "RANGE or LIST; the partition's rows are gone", None),
    row(Op::TruncatePartition, "TRUNCATE PARTITION", MY_INPLACE, MA_INPLACE, "the partition's rows are gone", None),
    row(Op::CoalescePartition, "COALESCE PARTITION", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "rows are redistributed; no concurrent DML", None),
    row(Op::ReorganizePartition, "REORGANIZE PARTITION", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "rows are copied into the new partitions; no concurrent DML", None),
    row(Op::RebuildPartition, "REBUILD PARTITION", MY_INPLACE_SHARED, MA_INPLACE_SHARED, "no concurrent DML", None),
    row(Op::ExchangePartition, "EXCHANGE PARTITION", MY_INSTANT, MA_INSTANT, "metadata only", None),
    row(Op::AnalyzePartition, "ANALYZE PARTITION", READ_LOCK, READ_LOCK, "a read lock while the partition is sampled", None),
    row(Op::OptimizePartition, "OPTIMIZE PARTITION", MY_COPY, MA_COPY, "InnoDB rebuilds the whole table; no concurrent DML", None),
    // Statements outside ALTER TABLE
    row(Op::AnalyzeTable, "ANALYZE TABLE", READ_LOCK, READ_LOCK, "a read lock for the analysis (MySQL §13.7.3.1); MariaDB's engine-independent statistics read the whole table", None),
    row(Op::CheckTable, "CHECK TABLE", READ_LOCK, READ_LOCK, "every index is read under a lock that keeps writes out (MySQL §13.7.3.2); check on a replica or outside the deploy", None),
    row(Op::ChecksumTable, "CHECKSUM TABLE", READ_LOCK, READ_LOCK, "the table is read row by row under a read lock for InnoDB and MyISAM (MySQL §13.7.3.3); compare on a replica or outside the deploy", None),
    row(Op::RepairTable, "REPAIR TABLE", WRITE_LOCK, WRITE_LOCK, "InnoDB has no repair (ALTER TABLE … FORCE, ALGORITHM=INPLACE, LOCK=NONE rebuilds it online); MyISAM, ARCHIVE, CSV and Aria tables are locked against reads and writes while they are repaired (MySQL §13.7.3.5)", None),
    row(Op::LockTablesRead, "LOCK TABLES … READ", READ_LOCK, READ_LOCK, "writes wait until UNLOCK TABLES", None),
    row(Op::LockTablesWrite, "LOCK TABLES … WRITE", WRITE_LOCK, WRITE_LOCK, "reads and writes wait until UNLOCK TABLES", None),
    row(Op::TruncateTable, "TRUNCATE TABLE", WRITE_LOCK, WRITE_LOCK, "drops and re-creates the table", Some("ban-truncate")),
];

#[allow(clippy::too_many_arguments)]
const fn row(
    op: Op,
    operation: &'static str,
    mysql: &'static [Step],
    mariadb: &'static [Step],
    note: &'static str,
    covered_by: Option<&'static str>,
) -> Row {
    Row {
        op,
        operation,
        mysql,
        mariadb,
        note,
        covered_by,
    }
}

/// The row of `op`.
pub fn row_of(op: Op) -> &'static Row {
    ROWS.iter().find(|r| r.op == op).unwrap_or(&ROWS[0])
}

/// What `server` does for `op`; with no server, the worse of MySQL 8.0 and MariaDB at their
/// oldest versions.
pub fn support(op: Op, server: Option<Server>) -> Support {
    let row = row_of(op);
    let pick = |steps: &[Step], version: Option<ServerVersion>| {
        let mut best = steps[0].support;
        for step in steps {
            if version.is_some_and(|v| v >= step.since) {
                best = step.support;
            }
        }
        best
    };
    match server {
        Some(s) if s.is(Flavour::Mysql) => pick(row.mysql, Some(s.version)),
        Some(s) if s.is(Flavour::Mariadb) => pick(row.mariadb, Some(s.version)),
        _ => pick(row.mysql, None).worst(pick(row.mariadb, None)),
    }
}

/// Where a row comes from, for messages: the manual's section.
pub fn source(server: Option<Server>) -> &'static str {
    match server {
        Some(s) if s.is(Flavour::Mariadb) => "MariaDB's InnoDB Online DDL pages",
        Some(_) => "MySQL 8.0 manual §15.12.1",
        None => "MySQL 8.0 manual §15.12.1, MariaDB's InnoDB Online DDL pages",
    }
}

/// The server's name in messages: `mysql 8.0`, or `MySQL 8.0 or MariaDB` when not named.
pub fn server_name(server: Option<Server>) -> String {
    server.map_or_else(|| "MySQL 8.0 or MariaDB".to_string(), |s| s.to_string())
}

// ---------------------------------------------------------------------------------------------
// VARCHAR length prefixes

/// The most bytes one character takes in `charset` (a character set or collation name, any
/// case); an unknown or absent one is utf8mb4's 4, the default since MySQL 8.0.
pub fn bytes_per_char(charset: Option<&str>) -> u64 {
    let Some(name) = charset else { return 4 };
    let name = name
        .trim_matches(|c| c == '\'' || c == '"' || c == '`')
        .to_lowercase();
    let base = name.split('_').next().unwrap_or(&name);
    match base {
        "latin1" | "latin2" | "latin5" | "latin7" | "ascii" | "binary" | "cp1250" | "cp1251"
        | "cp1256" | "cp1257" | "cp850" | "cp852" | "cp866" | "greek" | "hebrew" | "koi8r"
        | "koi8u" | "swe7" | "tis620" | "armscii8" | "dec8" | "hp8" | "keybcs2" | "macce"
        | "macroman" | "geostd8" => 1,
        "ucs2" | "gbk" | "big5" | "sjis" | "cp932" | "euckr" => 2,
        "utf8" | "utf8mb3" | "ujis" | "eucjpms" | "gb2312" => 3,
        _ => 4,
    }
}

/// Whether widening a `VARCHAR` from `old_chars` to `new_chars` characters of `bytes` bytes
/// each moves its maximum length from 255 bytes or less to 256 or more: InnoDB's length prefix
/// then grows from one byte to two, and the table is copied.
pub fn crosses_length_prefix(old_chars: u64, new_chars: u64, bytes: u64) -> bool {
    old_chars * bytes <= 255 && new_chars * bytes > 255
}

// ---------------------------------------------------------------------------------------------
// Statements to rows

/// One operation of a statement, found in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub op: Op,
    /// What the statement does, in words, for the message (`widening `members.nick` from
    /// VARCHAR(50) to VARCHAR(100)`).
    pub what: String,
    /// A word of the statement to point at.
    pub near: String,
}

impl Found {
    fn new(op: Op, what: impl Into<String>, near: impl Into<String>) -> Found {
        Found {
            op,
            what: what.into(),
            near: near.into(),
        }
    }
}

/// The `ALGORITHM=` and `LOCK=` clauses of an `ALTER TABLE`: what the statement asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requested {
    pub algorithm: Option<AlterTableAlgorithm>,
    /// MariaDB's `ALGORITHM=NOCOPY`, which sqlparser does not know (`algorithm` is then `None`).
    pub nocopy: bool,
    pub lock: Option<AlterTableLock>,
}

impl Requested {
    pub fn of(ops: &[AlterTableOperation]) -> Requested {
        let mut requested = Requested::default();
        for op in ops {
            match op {
                AlterTableOperation::Algorithm { algorithm, .. } => {
                    requested.algorithm = Some(*algorithm)
                }
                AlterTableOperation::Lock { lock, .. } => requested.lock = Some(*lock),
                _ => {}
            }
        }
        requested
    }

    /// The server refuses rather than copies: `ALGORITHM=INPLACE|NOCOPY|INSTANT`, or
    /// `LOCK=NONE` (a copy needs a lock, except on MariaDB 11.2+, where it then keeps DML going).
    pub fn refuses_copy(self) -> bool {
        matches!(
            self.algorithm,
            Some(AlterTableAlgorithm::Inplace | AlterTableAlgorithm::Instant)
        ) || self.nocopy
            || self.lock == Some(AlterTableLock::None)
    }

    /// The server refuses rather than blocks writes: `LOCK=NONE`.
    pub fn refuses_lock(self) -> bool {
        self.lock == Some(AlterTableLock::None)
    }
}

/// The operations of one `ALTER TABLE` clause sqlparser parsed, on `table`. `ops` are all the
/// clauses of the statement (a primary key dropped and added by one statement is one
/// operation), `known` what earlier patches and statements declared, `checks_off` whether the
/// script turned `foreign_key_checks` off before.
pub fn classify(
    table: &str,
    op: &AlterTableOperation,
    ops: &[AlterTableOperation],
    known: &History,
    checks_off: bool,
) -> Vec<Found> {
    let adds_pk = ops.iter().any(|o| {
        matches!(
            o,
            AlterTableOperation::AddConstraint {
                constraint: TableConstraint::PrimaryKey(_),
                ..
            }
        )
    });
    let drops_pk = ops
        .iter()
        .any(|o| matches!(o, AlterTableOperation::DropPrimaryKey { .. }));
    let one = |op: Op, what: String, near: &str| vec![Found::new(op, what, near)];
    match op {
        AlterTableOperation::AddColumn {
            column_def,
            column_position,
            ..
        } => {
            let name = &column_def.name.value;
            let options: Vec<String> = column_def
                .options
                .iter()
                .map(|o| o.option.to_string().to_uppercase())
                .collect();
            let (kind, what) = if options.iter().any(|o| o.contains("AUTO_INCREMENT")) {
                (
                    Op::AddAutoIncrementColumn,
                    "adding the AUTO_INCREMENT column",
                )
            } else if column_def.options.iter().any(|o| {
                matches!(
                    o.option,
                    ColumnOption::Generated {
                        generation_expr_mode: Some(GeneratedExpressionMode::Stored),
                        ..
                    }
                )
            }) {
                (Op::AddStoredColumn, "adding the STORED generated column")
            } else if column_def
                .options
                .iter()
                .any(|o| matches!(o.option, ColumnOption::Generated { .. }))
            {
                (Op::AddVirtualColumn, "adding the VIRTUAL generated column")
            } else if column_position.is_some() {
                (
                    Op::AddColumnPlaced,
                    "placing the new column with AFTER/FIRST",
                )
            } else {
                (Op::AddColumn, "adding the column")
            };
            one(kind, format!("{what} `{table}.{name}`"), name)
        }
        AlterTableOperation::AddConstraint { constraint, .. } => match constraint {
            TableConstraint::PrimaryKey(pk) if drops_pk => one(
                Op::ReplacePrimaryKey,
                format!("replacing the primary key of `{table}`"),
                pk.columns
                    .first()
                    .map_or("PRIMARY".into(), |c| c.column.to_string())
                    .as_str(),
            ),
            TableConstraint::PrimaryKey(pk) => {
                let nullable: Vec<String> = pk
                    .columns
                    .iter()
                    .map(|c| c.column.expr.to_string())
                    .filter(|c| {
                        known.nullable(table, c.trim_matches('`')) != Some(false)
                            && !ops.iter().any(|o| added_not_null(o, c))
                    })
                    .collect();
                if nullable.is_empty() {
                    one(
                        Op::AddPrimaryKey,
                        format!("adding a primary key to `{table}`"),
                        "PRIMARY",
                    )
                } else {
                    one(
                        Op::AddPrimaryKeyNullable,
                        format!(
                            "adding a primary key to `{table}` on {} (not known to be NOT NULL)",
                            nullable.join(", ")
                        ),
                        "PRIMARY",
                    )
                }
            }
            TableConstraint::FulltextOrSpatial(index) => {
                let (kind, word) = if index.fulltext {
                    (Op::AddFulltextIndex, "FULLTEXT")
                } else {
                    (Op::AddSpatialIndex, "SPATIAL")
                };
                one(kind, format!("adding a {word} index to `{table}`"), word)
            }
            TableConstraint::Index(_) | TableConstraint::Unique(_) => {
                one(Op::AddIndex, format!("adding an index to `{table}`"), "ADD")
            }
            TableConstraint::ForeignKey(_) if checks_off => one(
                Op::AddForeignKeyWithoutChecks,
                format!("adding a foreign key to `{table}`"),
                "FOREIGN",
            ),
            TableConstraint::ForeignKey(_) => one(
                Op::AddForeignKey,
                format!("adding a foreign key to `{table}`"),
                "FOREIGN",
            ),
            TableConstraint::Check(_) => one(
                Op::AddCheck,
                format!("adding a CHECK constraint to `{table}`"),
                "CHECK",
            ),
            _ => Vec::new(),
        },
        AlterTableOperation::DropPrimaryKey { .. } if !adds_pk => one(
            Op::DropPrimaryKey,
            format!("dropping the primary key of `{table}`"),
            "PRIMARY",
        ),
        AlterTableOperation::DropIndex { name } => one(
            Op::DropIndex,
            format!("dropping index `{name}`"),
            &name.value,
        ),
        AlterTableOperation::DropForeignKey { name, .. } => one(
            Op::DropForeignKey,
            format!("dropping foreign key `{name}`"),
            &name.value,
        ),
        AlterTableOperation::DropConstraint { name, .. } => one(
            Op::DropConstraint,
            format!("dropping constraint `{name}`"),
            &name.value,
        ),
        AlterTableOperation::DropColumn { column_names, .. } => column_names
            .iter()
            .map(|c| Found::new(Op::DropColumn, format!("dropping `{table}.{c}`"), &c.value))
            .collect(),
        AlterTableOperation::RenameColumn {
            old_column_name, ..
        } => one(
            Op::RenameColumn,
            format!("renaming `{table}.{old_column_name}`"),
            &old_column_name.value,
        ),
        AlterTableOperation::RenameTable { .. } => {
            one(Op::RenameTable, format!("renaming `{table}`"), "RENAME")
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let kind = match op {
                AlterColumnOperation::SetDefault { .. } => Op::SetDefault,
                AlterColumnOperation::DropDefault => Op::DropDefault,
                AlterColumnOperation::SetNotNull => Op::MakeNotNull,
                AlterColumnOperation::DropNotNull => Op::MakeNull,
                AlterColumnOperation::SetDataType { .. } => Op::ChangeType,
                _ => return Vec::new(),
            };
            one(
                kind,
                format!("changing `{table}.{column_name}`"),
                &column_name.value,
            )
        }
        AlterTableOperation::AutoIncrement { .. } => one(
            Op::ChangeAutoIncrement,
            format!("changing the AUTO_INCREMENT of `{table}`"),
            "AUTO_INCREMENT",
        ),
        AlterTableOperation::ModifyColumn {
            col_name,
            data_type,
            options,
            column_position,
        } => redefine(
            table,
            col_name,
            col_name,
            data_type,
            options,
            column_position.is_some(),
            known,
        ),
        AlterTableOperation::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            column_position,
        } => redefine(
            table,
            old_name,
            new_name,
            data_type,
            options,
            column_position.is_some(),
            known,
        ),
        _ => Vec::new(),
    }
}

/// Whether `op` adds column `name` as NOT NULL.
fn added_not_null(op: &AlterTableOperation, name: &str) -> bool {
    matches!(op, AlterTableOperation::AddColumn { column_def, .. }
        if column_def.name.value.eq_ignore_ascii_case(name.trim_matches('`')) && super::is_not_null(column_def))
}

/// What a MySQL `MODIFY`/`CHANGE` does, told by the column's known definition; nothing when it
/// is not known (`changing-column-type` says it cannot tell).
fn redefine(
    table: &str,
    old_name: &Ident,
    new_name: &Ident,
    data_type: &DataType,
    options: &[ColumnOption],
    placed: bool,
    known: &History,
) -> Vec<Found> {
    let column = &old_name.value;
    let mut found = Vec::new();
    if placed {
        found.push(Found::new(
            Op::ReorderColumn,
            format!("moving `{table}.{column}` with AFTER/FIRST"),
            column,
        ));
    }
    if !old_name.value.eq_ignore_ascii_case(&new_name.value) {
        found.push(Found::new(
            Op::RenameColumn,
            format!("renaming `{table}.{column}`"),
            column,
        ));
    }
    let Some(old) = known.column_type(table, column) else {
        return found;
    };
    let new = data_type.to_string();
    let charset = options.iter().find_map(|o| match o {
        ColumnOption::CharacterSet(name) | ColumnOption::Collation(name) => Some(name.to_string()),
        _ => None,
    });
    let not_null = options.iter().any(|o| matches!(o, ColumnOption::NotNull));
    match type_change(old, &new, charset.as_deref()) {
        TypeChange::Same => match known.nullable(table, column) {
            Some(true) if not_null => found.push(Found::new(
                Op::MakeNotNull,
                format!("making `{table}.{column}` NOT NULL"),
                column,
            )),
            Some(false) if !not_null => found.push(Found::new(
                Op::MakeNull,
                format!("making `{table}.{column}` NULL"),
                column,
            )),
            _ => {}
        },
        TypeChange::Widen { across, bytes } => {
            let (op, how) = if across {
                (
                    Op::ExtendVarcharAcrossLengthBytes,
                    format!(" past 255 bytes ({bytes} bytes a character)"),
                )
            } else {
                (Op::ExtendVarchar, String::new())
            };
            found.push(Found::new(
                op,
                format!("widening `{table}.{column}` from {old} to {new}{how}"),
                column,
            ));
        }
        TypeChange::EnumExtended => found.push(Found::new(
            Op::ExtendEnumOrSet,
            format!("adding members to `{table}.{column}`"),
            column,
        )),
        TypeChange::Other => found.push(Found::new(
            Op::ChangeType,
            format!("changing the type of `{table}.{column}` from {old} to {new}"),
            column,
        )),
    }
    found
}

/// How a MySQL column's type changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeChange {
    Same,
    /// A `VARCHAR`/`VARBINARY` made longer; `across` when its length prefix grows.
    Widen {
        across: bool,
        bytes: u64,
    },
    /// An `ENUM`/`SET` with members added at the end.
    EnumExtended,
    Other,
}

/// How `old` becomes `new` (types as sqlparser prints them), with the new definition's
/// character set or collation if it names one.
pub fn type_change(old: &str, new: &str, charset: Option<&str>) -> TypeChange {
    let norm = |t: &str| {
        let upper = t.trim().to_uppercase();
        // An integer's display width means nothing to MySQL 8.
        match upper.split_once('(') {
            Some((name, _)) if name.trim().ends_with("INT") => name.trim().to_string(),
            _ => upper,
        }
    };
    let (old, new) = (norm(old), norm(new));
    if old == new {
        return TypeChange::Same;
    }
    let split = |t: &str| -> Option<(String, u64)> {
        let (name, rest) = t.split_once('(')?;
        let len = rest.trim_end_matches(')').trim().parse().ok()?;
        Some((name.trim().to_string(), len))
    };
    if let (Some((old_name, old_len)), Some((new_name, new_len))) = (split(&old), split(&new)) {
        if old_name == new_name
            && matches!(
                old_name.as_str(),
                "VARCHAR" | "CHARACTER VARYING" | "VARBINARY"
            )
            && new_len >= old_len
        {
            let bytes = if old_name == "VARBINARY" {
                1
            } else {
                bytes_per_char(charset)
            };
            return TypeChange::Widen {
                across: crosses_length_prefix(old_len, new_len, bytes),
                bytes,
            };
        }
    }
    for kind in ["ENUM(", "SET("] {
        if let (Some(o), Some(n)) = (old.strip_prefix(kind), new.strip_prefix(kind)) {
            if n.len() > o.len() && n.starts_with(o.trim_end_matches(')')) {
                return TypeChange::EnumExtended;
            }
        }
    }
    TypeChange::Other
}

/// The operations of the clauses only Bascule's recognizer read (`CONVERT TO CHARACTER SET`,
/// `ENGINE=`, table options, partitioning, `FORCE`, `ORDER BY`, `DISCARD|IMPORT TABLESPACE`), on
/// `table`.
pub fn classify_recognized(table: &str, action: &AlterAction) -> Vec<Found> {
    let one = |op: Op, what: String, near: &str| vec![Found::new(op, what, near)];
    match action {
        AlterAction::ConvertCharset { charset, .. } => one(
            Op::ConvertCharset,
            format!("CONVERT TO CHARACTER SET {charset} on `{table}`"),
            "CONVERT",
        ),
        AlterAction::Engine(engine) if engine.eq_ignore_ascii_case("InnoDB") => one(
            Op::NullRebuild,
            format!("ENGINE={engine} rebuilding `{table}`"),
            "ENGINE",
        ),
        AlterAction::Engine(engine) => one(
            Op::ChangeEngine,
            format!("ENGINE={engine} moving `{table}` to another engine"),
            "ENGINE",
        ),
        AlterAction::RenameIndex { from, .. } => one(
            Op::RenameIndex,
            format!("renaming index `{from}`"),
            "RENAME",
        ),
        AlterAction::TableOption { name, value } => {
            let op = match name.trim_start_matches("DEFAULT ") {
                "ROW_FORMAT" => Op::RowFormat,
                "KEY_BLOCK_SIZE" => Op::KeyBlockSize,
                n if n.starts_with("STATS_") => Op::StatsOptions,
                "CHARSET" | "CHARACTER SET" | "COLLATE" => Op::TableCharset,
                "COMMENT" => Op::TableComment,
                "ENCRYPTION" => Op::Encryption,
                "AUTO_INCREMENT" => Op::ChangeAutoIncrement,
                _ => return Vec::new(),
            };
            let word = name.split_whitespace().last().unwrap_or(name);
            one(op, format!("{name}={value} on `{table}`"), word)
        }
        AlterAction::Partitioning(clause) => {
            let upper = clause.to_uppercase();
            let words: Vec<&str> = upper.split_whitespace().collect();
            let op = match words.as_slice() {
                ["PARTITION", "BY", ..] => Op::PartitionBy,
                ["REMOVE", "PARTITIONING", ..] => Op::RemovePartitioning,
                ["ADD", "PARTITION", ..] if upper.contains("VALUES") => Op::AddRangeOrListPartition,
                ["ADD", "PARTITION", ..] => Op::AddHashOrKeyPartition,
                ["DROP", "PARTITION", ..] => Op::DropPartition,
                ["TRUNCATE", "PARTITION", ..] => Op::TruncatePartition,
                ["COALESCE", "PARTITION", ..] => Op::CoalescePartition,
                ["REORGANIZE", "PARTITION", ..] => Op::ReorganizePartition,
                ["REBUILD", "PARTITION", ..] => Op::RebuildPartition,
                ["EXCHANGE", "PARTITION", ..] => Op::ExchangePartition,
                ["ANALYZE", "PARTITION", ..] => Op::AnalyzePartition,
                ["OPTIMIZE", "PARTITION", ..] => Op::OptimizePartition,
                _ => return Vec::new(),
            };
            let head = words.iter().take(2).copied().collect::<Vec<_>>().join(" ");
            one(
                op,
                format!("{head} on `{table}`"),
                words.first().copied().unwrap_or(""),
            )
        }
        AlterAction::Force => one(Op::Force, format!("FORCE rebuilding `{table}`"), "FORCE"),
        AlterAction::OrderBy(columns) => one(
            Op::OrderBy,
            format!("ORDER BY {} rebuilding `{table}`", columns.join(", ")),
            "ORDER",
        ),
        AlterAction::Tablespace { import: false } => one(
            Op::DiscardTablespace,
            format!("DISCARD TABLESPACE of `{table}`"),
            "DISCARD",
        ),
        AlterAction::Tablespace { import: true } => one(
            Op::ImportTablespace,
            format!("IMPORT TABLESPACE of `{table}`"),
            "IMPORT",
        ),
        AlterAction::Parsed(_) | AlterAction::Keys { .. } | AlterAction::AlgorithmNocopy => {
            Vec::new()
        }
    }
}

/// The operations of a statement outside `ALTER TABLE` (`ANALYZE TABLE`, `LOCK TABLES`,
/// `TRUNCATE`, `CREATE INDEX`, `RENAME TABLE`), each with its table.
pub fn classify_statement(statement: &Statement) -> Vec<(String, Found)> {
    match statement {
        Statement::Analyze(analyze) => analyze
            .table_name
            .iter()
            .map(|name| {
                let table = table_name(name);
                let what = format!("ANALYZE TABLE `{table}`");
                (table, Found::new(Op::AnalyzeTable, what, "ANALYZE"))
            })
            .collect(),
        Statement::LockTables { tables } => tables
            .iter()
            .map(|t| {
                let table = t.table.value.to_lowercase();
                let (op, mode) = match t.lock_type {
                    LockTableType::Read { .. } => (Op::LockTablesRead, "READ"),
                    LockTableType::Write { .. } => (Op::LockTablesWrite, "WRITE"),
                };
                let what = format!("LOCK TABLES `{table}` {mode}");
                (table, Found::new(op, what, mode))
            })
            .collect(),
        Statement::CreateIndex(create) => {
            let table = table_name(&create.table_name);
            let what = format!("CREATE INDEX on `{table}`");
            vec![(table, Found::new(Op::AddIndex, what, "INDEX"))]
        }
        Statement::RenameTable(renames) => renames
            .iter()
            .map(|r| {
                let table = table_name(&r.old_name);
                let what = format!("renaming `{table}`");
                (table, Found::new(Op::RenameTable, what, "RENAME"))
            })
            .collect(),
        Statement::Truncate(truncate) => truncate
            .table_names
            .iter()
            .map(|t| {
                let table = table_name(&t.name);
                let what = format!("TRUNCATE `{table}`");
                (table, Found::new(Op::TruncateTable, what, "TRUNCATE"))
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Every operation of the statement checked, with its table, and its `ALGORITHM=`/`LOCK=`;
/// tables created earlier in the same script are left out (nothing reads them yet).
#[derive(Debug, Default)]
pub struct Survey {
    pub found: Vec<(String, Found)>,
    pub requested: Requested,
}

/// The survey of a statement sqlparser parsed.
pub fn survey(cx: &RuleContext<'_>) -> Survey {
    let mut survey = Survey::default();
    match &cx.statement.ast {
        Statement::AlterTable(alter) => {
            let table = table_name(&alter.name);
            let known = known_definitions(cx.history, cx.before);
            let checks_off = foreign_key_checks_off(cx.before);
            survey.requested = Requested::of(&alter.operations);
            for op in &alter.operations {
                for found in classify(&table, op, &alter.operations, &known, checks_off) {
                    survey.found.push((table.clone(), found));
                }
            }
        }
        statement => {
            if let Statement::CreateIndex(create) = statement {
                survey.requested = Requested::of(&create.alter_options);
            }
            survey.found = classify_statement(statement);
        }
    }
    survey
        .found
        .retain(|(table, _)| !created_here_named(cx.before, table));
    survey
}

/// The survey of a statement only the recognizer read: an `ALTER TABLE` with a clause sqlparser
/// does not know, a table maintenance statement, a `CREATE FULLTEXT|SPATIAL INDEX`.
pub fn survey_recognized(cx: &RuleContext<'_, RecognizedStatement>) -> Survey {
    let mut survey = Survey::default();
    match &cx.statement.recognized.kind {
        RecognizedKind::AlterTable { table, actions } => {
            let table = bare_table(table);
            let parsed: Vec<AlterTableOperation> = actions
                .iter()
                .filter_map(|a| match a {
                    AlterAction::Parsed(op) => Some((**op).clone()),
                    _ => None,
                })
                .collect();
            survey.requested = Requested::of(&parsed);
            survey.requested.nocopy = actions.contains(&AlterAction::AlgorithmNocopy);
            let known = known_definitions(cx.history, cx.before);
            let checks_off = foreign_key_checks_off(cx.before);
            for action in actions {
                let found = match action {
                    AlterAction::Parsed(op) => classify(&table, op, &parsed, &known, checks_off),
                    other => classify_recognized(&table, other),
                };
                survey
                    .found
                    .extend(found.into_iter().map(|f| (table.clone(), f)));
            }
        }
        RecognizedKind::TableMaintenance { command, tables } => {
            let (op, word) = match command {
                MaintenanceCommand::Optimize => (Op::Optimize, "OPTIMIZE"),
                MaintenanceCommand::Repair => (Op::RepairTable, "REPAIR"),
                MaintenanceCommand::Check => (Op::CheckTable, "CHECK"),
                MaintenanceCommand::Checksum => (Op::ChecksumTable, "CHECKSUM"),
                MaintenanceCommand::Analyze => (Op::AnalyzeTable, "ANALYZE"),
            };
            survey.found = tables
                .iter()
                .map(|t| {
                    let table = bare_table(t);
                    let what = format!("{} `{table}`", command.label());
                    (table, Found::new(op, what, word))
                })
                .collect();
        }
        RecognizedKind::CreateIndex {
            kind,
            table,
            create,
            ..
        } => {
            if let Statement::CreateIndex(create) = &**create {
                survey.requested = Requested::of(&create.alter_options);
            }
            let (op, word) = match kind {
                IndexKind::Fulltext => (Op::AddFulltextIndex, "FULLTEXT"),
                IndexKind::Spatial => (Op::AddSpatialIndex, "SPATIAL"),
            };
            let table = bare_table(table);
            let what = format!("CREATE {word} INDEX on `{table}`");
            survey.found = vec![(table, Found::new(op, what, word))];
        }
        _ => {}
    }
    survey
        .found
        .retain(|(table, _)| !created_here_named(cx.before, table));
    survey
}

/// A table as the recognizer wrote it (`shop.orders`, `` `Posts` ``) as the rules name it:
/// without schema or quotes, in lower case.
fn bare_table(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches(|c| c == '`' || c == '"')
        .to_lowercase()
}

/// Whether a statement before this one sets `foreign_key_checks` to 0 or OFF.
pub fn foreign_key_checks_off(before: &[Parsed]) -> bool {
    let mut off = false;
    for p in before {
        if let Statement::Set(_) = &p.ast {
            let text = p.ast.to_string().to_lowercase().replace(' ', "");
            if let Some(at) = text.find("foreign_key_checks=") {
                let value = &text[at + "foreign_key_checks=".len()..];
                off = value.starts_with('0')
                    || value.starts_with("off")
                    || value.starts_with("false");
            }
        }
    }
    off
}

/// What earlier patches declared, with the statements before this one learned on top.
pub fn known_definitions(history: &History, before: &[Parsed]) -> History {
    let mut known = history.clone();
    known.learn_all(before);
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Option<Server> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn every_operation_has_one_row() {
        for (i, a) in ROWS.iter().enumerate() {
            assert!(
                !a.mysql.is_empty() && !a.mariadb.is_empty(),
                "{}",
                a.operation
            );
            for b in &ROWS[i + 1..] {
                assert_ne!(a.op, b.op, "{} twice", a.operation);
            }
        }
        assert_eq!(row_of(Op::Optimize).operation, "Optimizing a table");
    }

    #[test]
    fn the_flavours_differ_where_the_manuals_do() {
        // MariaDB 11.2 copies with concurrent DML; MySQL 8.0 and older MariaDB block writes.
        let mysql = support(Op::ChangeType, server("mysql 8.0"));
        assert!(mysql.copies() && mysql.blocks_writes());
        let old = support(Op::ChangeType, server("mariadb 10.11"));
        assert!(old.copies() && old.blocks_writes());
        let online = support(Op::ChangeType, server("mariadb 11.4"));
        assert!(online.copies() && !online.blocks_writes());
        // Unnamed: the worse of both.
        let both = support(Op::ChangeType, None);
        assert!(both.copies() && both.blocks_writes());
        // MySQL refuses INPLACE for a primary key on nullable columns; MariaDB does it in place.
        assert!(support(Op::AddPrimaryKeyNullable, server("mysql 8.0")).copies());
        assert!(!support(Op::AddPrimaryKeyNullable, server("mariadb 10.11")).copies());
        assert!(support(Op::AddPrimaryKeyNullable, None).copies());
        // Instant columns: MariaDB from 10.3 (last) and 10.4 (anywhere).
        assert_eq!(
            support(Op::AddColumnPlaced, server("mariadb 10.3")).algorithm,
            Algorithm::Inplace
        );
        assert_eq!(
            support(Op::AddColumnPlaced, server("mariadb 10.4")).algorithm,
            Algorithm::Instant
        );
    }

    #[test]
    fn safe_operations_neither_copy_nor_block() {
        for op in [
            Op::AddIndex,
            Op::AddColumn,
            Op::AddColumnPlaced,
            Op::DropColumn,
            Op::RenameColumn,
            Op::ExtendVarchar,
            Op::MakeNotNull,
            Op::AddPrimaryKey,
            Op::Force,
            Op::RenameTable,
            Op::AddRangeOrListPartition,
        ] {
            let s = support(op, None);
            assert!(!s.copies() && !s.blocks_writes(), "{op:?}: {s:?}");
        }
        for op in [
            Op::AddFulltextIndex,
            Op::AddSpatialIndex,
            Op::AddAutoIncrementColumn,
            Op::CoalescePartition,
            Op::AnalyzeTable,
            Op::LockTablesWrite,
        ] {
            let s = support(op, None);
            assert!(!s.copies() && s.blocks_writes(), "{op:?}: {s:?}");
        }
    }

    #[test]
    fn varchar_length_prefixes() {
        assert_eq!(bytes_per_char(None), 4);
        assert_eq!(bytes_per_char(Some("utf8mb4_unicode_ci")), 4);
        assert_eq!(bytes_per_char(Some("utf8")), 3);
        assert_eq!(bytes_per_char(Some("UTF8MB3")), 3);
        assert_eq!(bytes_per_char(Some("latin1_swedish_ci")), 1);
        assert_eq!(bytes_per_char(Some("klingon")), 4);
        // utf8mb4: 63 characters are 252 bytes, 64 are 256.
        assert!(!crosses_length_prefix(50, 63, 4));
        assert!(crosses_length_prefix(50, 64, 4));
        assert!(!crosses_length_prefix(100, 200, 4 - 3));
        assert!(crosses_length_prefix(255, 256, 1));
        assert!(!crosses_length_prefix(300, 500, 1));
    }
}
