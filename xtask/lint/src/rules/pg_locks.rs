//! PostgreSQL's table locks: which lock each command (and each `ALTER TABLE` subform) takes,
//! whether it rewrites or scans the table while holding it, and the form that does not block.
//!
//! # Sources
//!
//! The rows below encode the PostgreSQL documentation, not examples:
//!
//! - §13.3.1 "Table-Level Locks" (chapter "Concurrency Control", "Explicit Locking"): the eight
//!   lock modes, which commands take each (`SHARE` for `CREATE INDEX`, `SHARE ROW EXCLUSIVE` for
//!   `CREATE TRIGGER`, `ACCESS EXCLUSIVE` for `TRUNCATE`, `REINDEX`, `CLUSTER`, `VACUUM FULL`,
//!   `REFRESH MATERIALIZED VIEW` without `CONCURRENTLY`, `LOCK TABLE` without a mode), and which
//!   modes conflict: `SHARE` and stronger conflict with `ROW EXCLUSIVE` (every `INSERT`,
//!   `UPDATE`, `DELETE`), `ACCESS EXCLUSIVE` with `ACCESS SHARE` (every `SELECT`);
//! - the `ALTER TABLE` reference page: its Description gives each subform's lock ("an ACCESS
//!   EXCLUSIVE lock is acquired unless explicitly noted": `SHARE UPDATE EXCLUSIVE` for `SET
//!   STATISTICS`, `SET (storage_parameter)`, `CLUSTER ON`, `VALIDATE CONSTRAINT`, `ATTACH
//!   PARTITION` on the parent; `SHARE ROW EXCLUSIVE` for `ADD FOREIGN KEY` and `ENABLE`/`DISABLE
//!   TRIGGER`), and its Notes which subforms rewrite the table and its indexes (a volatile
//!   `DEFAULT`, a stored generated column, an identity column, a type change that is not
//!   binary-coercible, `SET TABLESPACE`, `SET LOGGED`/`UNLOGGED`, `SET ACCESS METHOD`) and which
//!   scan it (`SET NOT NULL` unless a valid `CHECK` proves it, `ADD CONSTRAINT` without `NOT
//!   VALID`, `ATTACH PARTITION` unless a valid `CHECK` implies the partition bound);
//! - the reference pages of `CREATE INDEX` ("Building Indexes Concurrently"), `REINDEX` (Notes:
//!   writes of the parent table locked out, `ACCESS EXCLUSIVE` on the index; `CONCURRENTLY`),
//!   `CLUSTER`, `VACUUM` (`FULL`), `REFRESH MATERIALIZED VIEW` (`CONCURRENTLY`), `LOCK`, `DROP
//!   INDEX` (`CONCURRENTLY`), `ALTER TYPE` (`ADD VALUE`), and the "Partition Maintenance" section
//!   of "Table Partitioning" (a `CHECK` matching the bound before `ATTACH PARTITION`).
//!
//! # What is a finding
//!
//! Every statement holds its lock until the migration's transaction ends, but a lock taken for a
//! catalog change is held for an instant (and `lock_timeout` bounds the wait for it). What hurts
//! a live platform is a lock that blocks writes (`SHARE` or stronger) held **while the statement
//! works through the table** — rewriting it, scanning it, building an index — or taken
//! explicitly by `LOCK TABLE` for the rest of the migration. [`LockRow::blocks`] says exactly
//! that; `blocking-lock` reports such rows when no other rule does ([`LockRow::covered_by`]), on
//! tables that exist (not created earlier in the same script), with the row's alternative.

use sqlparser::ast::{
    AlterColumnOperation, AlterTableOperation, AlterTypeOperation, ColumnDef, ColumnOption,
    GeneratedAs, GeneratedExpressionMode, LockTableMode, ObjectType, Statement, TableConstraint,
};

use crate::history::{last_part, table_name};
use bascule_sql::RecognizedKind;

/// PostgreSQL's table-level lock modes, weakest first (§13.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

impl LockMode {
    /// Whether the mode conflicts with `ROW EXCLUSIVE`, the lock of `INSERT`, `UPDATE` and
    /// `DELETE`.
    pub fn blocks_writes(self) -> bool {
        self >= LockMode::Share
    }

    /// Whether the mode conflicts with `ACCESS SHARE`, the lock of `SELECT`.
    pub fn blocks_reads(self) -> bool {
        self == LockMode::AccessExclusive
    }

    pub fn name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    fn of(mode: &LockTableMode) -> LockMode {
        match mode {
            LockTableMode::AccessShare => LockMode::AccessShare,
            LockTableMode::RowShare => LockMode::RowShare,
            LockTableMode::RowExclusive => LockMode::RowExclusive,
            LockTableMode::ShareUpdateExclusive => LockMode::ShareUpdateExclusive,
            LockTableMode::Share => LockMode::Share,
            LockTableMode::ShareRowExclusive => LockMode::ShareRowExclusive,
            LockTableMode::Exclusive => LockMode::Exclusive,
            LockTableMode::AccessExclusive => LockMode::AccessExclusive,
        }
    }
}

/// What the command does while it holds its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Changes the catalog only: the lock is held for an instant.
    Catalog,
    /// Reads every row (to validate a constraint).
    Scan,
    /// Builds an index, reading every row.
    Build,
    /// Writes a new copy of the table and its indexes.
    Rewrite,
    /// Takes the lock and keeps it until the transaction ends (`LOCK TABLE`).
    UntilCommit,
}

impl Work {
    fn describe(self) -> &'static str {
        match self {
            Work::Catalog => "changes the catalog only",
            Work::Scan => "reads every row",
            Work::Build => "builds an index over every row",
            Work::Rewrite => "writes a new copy of it (and of its indexes)",
            Work::UntilCommit => "holds the lock until the migration commits",
        }
    }
}

/// A command or `ALTER TABLE` subform, as the table knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    CreateIndex,
    CreateIndexConcurrently,
    DropIndex,
    DropIndexConcurrently,
    Reindex,
    ReindexConcurrently,
    Cluster,
    VacuumFull,
    Vacuum,
    Analyze,
    RefreshMaterializedView,
    RefreshMaterializedViewConcurrently,
    LockTable(LockMode),
    Truncate,
    CreateTrigger,
    CreateRule,
    Comment,
    AlterTypeAddValue,
    AddColumn,
    AddColumnVolatileDefault,
    AddColumnStoredGenerated,
    AddColumnIdentity,
    AddColumnSerial,
    AddColumnCheck,
    AlterColumnType,
    SetNotNull,
    DropNotNull,
    AddColumnUnique,
    AddColumnPrimaryKey,
    AddColumnReferences,
    AddUnique,
    AddPrimaryKey,
    AddConstraintUsingIndex,
    AddForeignKey,
    AddForeignKeyNotValid,
    AddCheck,
    AddCheckNotValid,
    AddExclude,
    ValidateConstraint,
    SetTablespace,
    SetLoggedOrUnlogged,
    SetAccessMethod,
    SetStorageParameters,
    SetStatistics,
    SetColumnStorage,
    AlterIndexSetTablespace,
    ClusterOn,
    Inherit,
    EnableDisableTrigger,
    AttachPartition,
    DetachPartition,
    DetachPartitionConcurrently,
}

/// One row of the table: a command, its lock, what it does under it, where the documentation
/// says so, and what to run instead.
#[derive(Debug)]
pub struct LockRow {
    pub form: Form,
    /// The command as a person names it.
    pub command: &'static str,
    /// The lock on the table named by the statement.
    pub lock: LockMode,
    pub work: Work,
    /// The documentation section the row encodes.
    pub source: &'static str,
    /// The form that does not block, when there is one.
    pub alternative: Option<&'static str>,
    /// The rule that reports this command already (with its own recipe), if any.
    pub covered_by: Option<&'static str>,
    /// One statement of this form on an existing table `members`, for the table's own tests.
    pub example: &'static str,
}

impl LockRow {
    /// Whether the command blocks writes (or reads) for as long as it works on the table. A
    /// materialized view is never written by the application, so only reads count there.
    pub fn blocks(&self) -> bool {
        let blocks = if self.on_materialized_view() {
            self.lock.blocks_reads()
        } else {
            self.lock.blocks_writes()
        };
        blocks && self.work != Work::Catalog
    }

    fn on_materialized_view(&self) -> bool {
        matches!(
            self.form,
            Form::RefreshMaterializedView | Form::RefreshMaterializedViewConcurrently
        )
    }

    /// What a person reads: "writes a new copy of it under ACCESS EXCLUSIVE (reads and writes
    /// wait)".
    pub fn consequence(&self) -> String {
        let waits = if self.lock.blocks_reads() {
            "reads and writes wait"
        } else if self.lock.blocks_writes() {
            "writes wait"
        } else {
            "reads and writes go on"
        };
        match self.work {
            Work::UntilCommit => format!(
                "holds {} until the migration commits ({waits})",
                self.lock.name()
            ),
            work => format!("{} under {} ({waits})", work.describe(), self.lock.name()),
        }
    }
}

const ALTER: &str = "ALTER TABLE reference page";
const LOCKS: &str = "§13.3.1 Table-Level Locks";
const EXPAND_CONTRACT: &str = "expand-contract: build a new table (or column) beside the old \
     one, fill it in batches while triggers keep it current, then switch the code to it";
const REPACK: &str = "pg_repack (rebuilds the table online, holding ACCESS EXCLUSIVE only \
     for the final swap)";

/// The table. Every [`Form`] has exactly one row (tested).
pub const ROWS: &[LockRow] = &[
    LockRow {
        form: Form::CreateIndex,
        command: "CREATE INDEX",
        lock: LockMode::Share,
        work: Work::Build,
        source: "§13.3.1 (SHARE); CREATE INDEX, Building Indexes Concurrently",
        alternative: Some("CREATE INDEX CONCURRENTLY"),
        covered_by: Some("require-concurrent-index"),
        example: "CREATE INDEX members_name ON members (name);",
    },
    LockRow {
        form: Form::CreateIndexConcurrently,
        command: "CREATE INDEX CONCURRENTLY",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Build,
        source: "§13.3.1 (SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "CREATE INDEX CONCURRENTLY members_name ON members (name);",
    },
    LockRow {
        form: Form::DropIndex,
        command: "DROP INDEX",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "DROP INDEX (CONCURRENTLY)",
        alternative: Some("DROP INDEX CONCURRENTLY"),
        covered_by: Some("require-concurrent-index-deletion"),
        example: "DROP INDEX members_name;",
    },
    LockRow {
        form: Form::DropIndexConcurrently,
        command: "DROP INDEX CONCURRENTLY",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "DROP INDEX (CONCURRENTLY)",
        alternative: None,
        covered_by: None,
        example: "DROP INDEX CONCURRENTLY members_name;",
    },
    LockRow {
        form: Form::Reindex,
        command: "REINDEX",
        lock: LockMode::Share,
        work: Work::Build,
        source: "REINDEX, Notes (writes of the table locked out, ACCESS EXCLUSIVE on the index: \
                 reads using it wait)",
        alternative: Some(
            "REINDEX … CONCURRENTLY (PostgreSQL 12+), alone in a migration marked \
                           `-- bascule:no-transaction`",
        ),
        covered_by: None,
        example: "REINDEX TABLE members;",
    },
    LockRow {
        form: Form::ReindexConcurrently,
        command: "REINDEX CONCURRENTLY",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Build,
        source: "§13.3.1 (SHARE UPDATE EXCLUSIVE); REINDEX, Rebuilding Indexes Concurrently",
        alternative: None,
        covered_by: None,
        example: "REINDEX TABLE CONCURRENTLY members;",
    },
    LockRow {
        form: Form::Cluster,
        command: "CLUSTER",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "§13.3.1 (ACCESS EXCLUSIVE); CLUSTER",
        alternative: Some(REPACK),
        covered_by: None,
        example: "CLUSTER members USING members_pkey;",
    },
    LockRow {
        form: Form::VacuumFull,
        command: "VACUUM FULL",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "§13.3.1 (ACCESS EXCLUSIVE); VACUUM (FULL)",
        alternative: Some(REPACK),
        covered_by: None,
        example: "VACUUM FULL members;",
    },
    LockRow {
        form: Form::Vacuum,
        command: "VACUUM",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Scan,
        source: "§13.3.1 (SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "VACUUM members;",
    },
    LockRow {
        form: Form::Analyze,
        command: "ANALYZE",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Scan,
        source: "§13.3.1 (SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "ANALYZE members;",
    },
    LockRow {
        form: Form::RefreshMaterializedView,
        command: "REFRESH MATERIALIZED VIEW",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "§13.3.1 (ACCESS EXCLUSIVE); REFRESH MATERIALIZED VIEW",
        alternative: Some(
            "REFRESH MATERIALIZED VIEW CONCURRENTLY (the view needs a unique \
                           index; reads go on during the refresh)",
        ),
        covered_by: None,
        example: "REFRESH MATERIALIZED VIEW members;",
    },
    LockRow {
        form: Form::RefreshMaterializedViewConcurrently,
        command: "REFRESH MATERIALIZED VIEW CONCURRENTLY",
        lock: LockMode::Exclusive,
        work: Work::Rewrite,
        source: "§13.3.1 (EXCLUSIVE: reads go on; writes to a materialized view are not \
                 possible anyway)",
        alternative: None,
        covered_by: None,
        example: "REFRESH MATERIALIZED VIEW CONCURRENTLY members;",
    },
    LockRow {
        form: Form::LockTable(LockMode::AccessShare),
        command: "LOCK TABLE … IN ACCESS SHARE MODE",
        lock: LockMode::AccessShare,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: None,
        covered_by: None,
        example: "LOCK TABLE members IN ACCESS SHARE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::RowShare),
        command: "LOCK TABLE … IN ROW SHARE MODE",
        lock: LockMode::RowShare,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: None,
        covered_by: None,
        example: "LOCK TABLE members IN ROW SHARE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::RowExclusive),
        command: "LOCK TABLE … IN ROW EXCLUSIVE MODE",
        lock: LockMode::RowExclusive,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: None,
        covered_by: None,
        example: "LOCK TABLE members IN ROW EXCLUSIVE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::ShareUpdateExclusive),
        command: "LOCK TABLE … IN SHARE UPDATE EXCLUSIVE MODE",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: None,
        covered_by: None,
        example: "LOCK TABLE members IN SHARE UPDATE EXCLUSIVE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::Share),
        command: "LOCK TABLE … IN SHARE MODE",
        lock: LockMode::Share,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: Some(LOCK_ALTERNATIVE),
        covered_by: None,
        example: "LOCK TABLE members IN SHARE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::ShareRowExclusive),
        command: "LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE",
        lock: LockMode::ShareRowExclusive,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: Some(LOCK_ALTERNATIVE),
        covered_by: None,
        example: "LOCK TABLE members IN SHARE ROW EXCLUSIVE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::Exclusive),
        command: "LOCK TABLE … IN EXCLUSIVE MODE",
        lock: LockMode::Exclusive,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1",
        alternative: Some(LOCK_ALTERNATIVE),
        covered_by: None,
        example: "LOCK TABLE members IN EXCLUSIVE MODE;",
    },
    LockRow {
        form: Form::LockTable(LockMode::AccessExclusive),
        command: "LOCK TABLE (ACCESS EXCLUSIVE, the default mode)",
        lock: LockMode::AccessExclusive,
        work: Work::UntilCommit,
        source: "LOCK; §13.3.1 (the default mode of LOCK TABLE)",
        alternative: Some(LOCK_ALTERNATIVE),
        covered_by: None,
        example: "LOCK TABLE members;",
    },
    LockRow {
        form: Form::Truncate,
        command: "TRUNCATE",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "§13.3.1 (ACCESS EXCLUSIVE)",
        alternative: None,
        covered_by: Some("ban-truncate"),
        example: "TRUNCATE members;",
    },
    LockRow {
        form: Form::CreateTrigger,
        command: "CREATE TRIGGER",
        lock: LockMode::ShareRowExclusive,
        work: Work::Catalog,
        source: "§13.3.1 (SHARE ROW EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "CREATE TRIGGER members_touch BEFORE UPDATE ON members FOR EACH ROW EXECUTE \
                  FUNCTION touch();",
    },
    LockRow {
        form: Form::CreateRule,
        command: "CREATE RULE",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "CREATE RULE",
        alternative: None,
        covered_by: None,
        example: "CREATE RULE members_keep AS ON DELETE TO members DO INSTEAD NOTHING;",
    },
    LockRow {
        form: Form::Comment,
        command: "COMMENT ON",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "COMMENT",
        alternative: None,
        covered_by: None,
        example: "COMMENT ON TABLE members IS 'people';",
    },
    LockRow {
        form: Form::AlterTypeAddValue,
        command: "ALTER TYPE … ADD VALUE",
        lock: LockMode::AccessShare,
        work: Work::Catalog,
        source: "ALTER TYPE (ADD VALUE: allowed in a transaction since PostgreSQL 12, no table \
                 touched)",
        alternative: None,
        covered_by: None,
        example: "ALTER TYPE mood ADD VALUE 'calm';",
    },
    LockRow {
        form: Form::AddColumn,
        command: "ALTER TABLE … ADD COLUMN (nullable, or a constant default)",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, Notes (a non-volatile default is stored in the catalog, PostgreSQL \
                 11+)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ADD COLUMN nick text DEFAULT 'none';",
    },
    LockRow {
        form: Form::AddColumnVolatileDefault,
        command: "ALTER TABLE … ADD COLUMN … DEFAULT <volatile>",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: ALTER,
        alternative: Some(
            "add the column without default, then SET DEFAULT, then backfill in \
                           batches",
        ),
        covered_by: Some("adding-field-with-volatile-default"),
        example: "ALTER TABLE members ADD COLUMN token uuid DEFAULT gen_random_uuid();",
    },
    LockRow {
        form: Form::AddColumnStoredGenerated,
        command: "ALTER TABLE … ADD COLUMN … GENERATED ALWAYS AS (…) STORED",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, Notes (a stored generated column rewrites the table)",
        alternative: Some(
            "add a plain nullable column, keep it filled with a trigger, backfill \
                           existing rows in batches (or, PostgreSQL 18+, a VIRTUAL generated \
                           column, which is not stored)",
        ),
        covered_by: None,
        example: "ALTER TABLE members ADD COLUMN total numeric GENERATED ALWAYS AS (a + b) \
                  STORED;",
    },
    LockRow {
        form: Form::AddColumnIdentity,
        command: "ALTER TABLE … ADD COLUMN … GENERATED … AS IDENTITY",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, Notes (an identity column rewrites the table)",
        alternative: Some(IDENTITY_ALTERNATIVE),
        covered_by: None,
        example: "ALTER TABLE members ADD COLUMN seq bigint GENERATED BY DEFAULT AS IDENTITY;",
    },
    LockRow {
        form: Form::AddColumnSerial,
        command: "ALTER TABLE … ADD COLUMN … serial",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, Notes (serial's default, nextval(), is volatile)",
        alternative: Some(IDENTITY_ALTERNATIVE),
        covered_by: None,
        example: "ALTER TABLE members ADD COLUMN seq bigserial;",
    },
    LockRow {
        form: Form::AddColumnCheck,
        command: "ALTER TABLE … ADD COLUMN … CHECK (…)",
        lock: LockMode::AccessExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, Notes (a new constraint is checked against every row)",
        alternative: Some(
            "add the column, then ADD CONSTRAINT … CHECK (…) NOT VALID and \
                           VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE)",
        ),
        covered_by: None,
        example: "ALTER TABLE members ADD COLUMN age int CHECK (age >= 0);",
    },
    LockRow {
        form: Form::AlterColumnType,
        command: "ALTER TABLE … ALTER COLUMN … TYPE",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, Notes (unless binary-coercible)",
        alternative: Some(EXPAND_CONTRACT),
        covered_by: Some("changing-column-type"),
        example: "ALTER TABLE members ALTER COLUMN n TYPE bigint;",
    },
    LockRow {
        form: Form::SetNotNull,
        command: "ALTER TABLE … ALTER COLUMN … SET NOT NULL",
        lock: LockMode::AccessExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, SET/DROP NOT NULL (the scan is skipped when a valid CHECK proves \
                 no NULL)",
        alternative: Some(
            "ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE \
                           CONSTRAINT c; then SET NOT NULL needs no scan (PostgreSQL 12+); \
                           DROP CONSTRAINT c",
        ),
        covered_by: None,
        example: "ALTER TABLE members ALTER COLUMN bio SET NOT NULL;",
    },
    LockRow {
        form: Form::DropNotNull,
        command: "ALTER TABLE … ALTER COLUMN … DROP NOT NULL",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: ALTER,
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ALTER COLUMN bio DROP NOT NULL;",
    },
    LockRow {
        form: Form::AddUnique,
        command: "ALTER TABLE … ADD UNIQUE (…)",
        lock: LockMode::AccessExclusive,
        work: Work::Build,
        source: "ALTER TABLE, ADD table_constraint_using_index",
        alternative: Some("CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … USING INDEX"),
        covered_by: Some("adding-unique-constraint"),
        example: "ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE (email);",
    },
    LockRow {
        form: Form::AddPrimaryKey,
        command: "ALTER TABLE … ADD PRIMARY KEY (…)",
        lock: LockMode::AccessExclusive,
        work: Work::Build,
        source: "ALTER TABLE, ADD table_constraint_using_index",
        alternative: Some(
            "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … PRIMARY KEY \
                           USING INDEX",
        ),
        covered_by: Some("adding-serial-primary-key-field"),
        example: "ALTER TABLE members ADD CONSTRAINT members_pkey PRIMARY KEY (id);",
    },
    LockRow {
        form: Form::AddColumnUnique,
        command: "ALTER TABLE … ADD COLUMN … UNIQUE",
        lock: LockMode::AccessExclusive,
        work: Work::Build,
        source: "ALTER TABLE, ADD COLUMN (the index is built with the column)",
        alternative: Some(
            "add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD \
                           CONSTRAINT … USING INDEX",
        ),
        covered_by: Some("adding-unique-constraint"),
        example: "ALTER TABLE members ADD COLUMN code text UNIQUE;",
    },
    LockRow {
        form: Form::AddColumnPrimaryKey,
        command: "ALTER TABLE … ADD COLUMN … PRIMARY KEY",
        lock: LockMode::AccessExclusive,
        work: Work::Build,
        source: "ALTER TABLE, ADD COLUMN (the index is built with the column)",
        alternative: Some(
            "add the column, CREATE UNIQUE INDEX CONCURRENTLY, then ADD \
                           CONSTRAINT … PRIMARY KEY USING INDEX",
        ),
        covered_by: Some("adding-serial-primary-key-field"),
        example: "ALTER TABLE members ADD COLUMN uid bigint PRIMARY KEY;",
    },
    LockRow {
        form: Form::AddColumnReferences,
        command: "ALTER TABLE … ADD COLUMN … REFERENCES",
        lock: LockMode::AccessExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, ADD COLUMN (the new foreign key is validated at once)",
        alternative: Some(
            "add the column, then ADD CONSTRAINT … FOREIGN KEY … NOT VALID and \
                           VALIDATE CONSTRAINT",
        ),
        covered_by: Some("adding-foreign-key"),
        example: "ALTER TABLE members ADD COLUMN site_id bigint REFERENCES sites (id);",
    },
    LockRow {
        form: Form::AddConstraintUsingIndex,
        command: "ALTER TABLE … ADD CONSTRAINT … USING INDEX",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, ADD table_constraint_using_index",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ADD CONSTRAINT members_email_key UNIQUE USING INDEX \
                  members_email_idx;",
    },
    LockRow {
        form: Form::AddForeignKey,
        command: "ALTER TABLE … ADD FOREIGN KEY",
        lock: LockMode::ShareRowExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, ADD table_constraint (SHARE ROW EXCLUSIVE on both tables)",
        alternative: Some("ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT"),
        covered_by: Some("adding-foreign-key"),
        example: "ALTER TABLE members ADD CONSTRAINT members_site_fk FOREIGN KEY (site_id) \
                  REFERENCES sites (id);",
    },
    LockRow {
        form: Form::AddForeignKeyNotValid,
        command: "ALTER TABLE … ADD FOREIGN KEY … NOT VALID",
        lock: LockMode::ShareRowExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, ADD table_constraint (NOT VALID skips the scan)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ADD CONSTRAINT members_site_fk FOREIGN KEY (site_id) \
                  REFERENCES sites (id) NOT VALID;",
    },
    LockRow {
        form: Form::AddCheck,
        command: "ALTER TABLE … ADD CHECK",
        lock: LockMode::AccessExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, ADD table_constraint",
        alternative: Some("ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT"),
        covered_by: Some("adding-check-constraint"),
        example: "ALTER TABLE members ADD CONSTRAINT members_age CHECK (age >= 0);",
    },
    LockRow {
        form: Form::AddCheckNotValid,
        command: "ALTER TABLE … ADD CHECK … NOT VALID",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, ADD table_constraint (NOT VALID skips the scan)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ADD CONSTRAINT members_age CHECK (age >= 0) NOT VALID;",
    },
    LockRow {
        form: Form::AddExclude,
        command: "ALTER TABLE … ADD EXCLUDE",
        lock: LockMode::AccessExclusive,
        work: Work::Build,
        source: "ALTER TABLE, ADD table_constraint (no USING INDEX form for exclusion \
                 constraints)",
        alternative: Some(EXPAND_CONTRACT),
        covered_by: None,
        example: "ALTER TABLE members ADD CONSTRAINT members_no_overlap EXCLUDE USING gist \
                  (room WITH =);",
    },
    LockRow {
        form: Form::ValidateConstraint,
        command: "ALTER TABLE … VALIDATE CONSTRAINT",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, VALIDATE CONSTRAINT (SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members VALIDATE CONSTRAINT members_age;",
    },
    LockRow {
        form: Form::SetTablespace,
        command: "ALTER TABLE … SET TABLESPACE",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, SET TABLESPACE (the data files are moved)",
        alternative: Some("pg_repack --tablespace (moves the table online)"),
        covered_by: None,
        example: "ALTER TABLE members SET TABLESPACE fast;",
    },
    LockRow {
        form: Form::SetLoggedOrUnlogged,
        command: "ALTER TABLE … SET {LOGGED | UNLOGGED}",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, SET { LOGGED | UNLOGGED } (rewrites the table and its indexes)",
        alternative: Some(EXPAND_CONTRACT),
        covered_by: None,
        example: "ALTER TABLE members SET LOGGED;",
    },
    LockRow {
        form: Form::SetAccessMethod,
        command: "ALTER TABLE … SET ACCESS METHOD",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER TABLE, SET ACCESS METHOD (rewrites the table)",
        alternative: Some(EXPAND_CONTRACT),
        covered_by: None,
        example: "ALTER TABLE members SET ACCESS METHOD heap2;",
    },
    LockRow {
        form: Form::SetStorageParameters,
        command: "ALTER TABLE … SET/RESET (storage_parameter …)",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, SET ( storage_parameter ) (fillfactor, autovacuum, toast \
                 parameters: SHARE UPDATE EXCLUSIVE; no rewrite)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members SET (fillfactor = 70);",
    },
    LockRow {
        form: Form::SetStatistics,
        command: "ALTER TABLE … ALTER COLUMN … SET STATISTICS",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, SET STATISTICS (SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ALTER COLUMN name SET STATISTICS 500;",
    },
    LockRow {
        form: Form::SetColumnStorage,
        command: "ALTER TABLE … ALTER COLUMN … SET {STORAGE | COMPRESSION}",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, SET STORAGE / SET COMPRESSION (existing rows are not changed)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members ALTER COLUMN bio SET STORAGE EXTERNAL;",
    },
    LockRow {
        form: Form::AlterIndexSetTablespace,
        command: "ALTER INDEX … SET TABLESPACE",
        lock: LockMode::AccessExclusive,
        work: Work::Rewrite,
        source: "ALTER INDEX, SET TABLESPACE (the index files are moved; writes to its table \
                 and reads using it wait)",
        alternative: Some("REINDEX (TABLESPACE new) INDEX CONCURRENTLY name (PostgreSQL 14+)"),
        covered_by: None,
        example: "ALTER INDEX members_name SET TABLESPACE fast;",
    },
    LockRow {
        form: Form::ClusterOn,
        command: "ALTER TABLE … CLUSTER ON / SET WITHOUT CLUSTER",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, CLUSTER ON (SHARE UPDATE EXCLUSIVE; nothing is reordered)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members CLUSTER ON members_pkey;",
    },
    LockRow {
        form: Form::Inherit,
        command: "ALTER TABLE … [NO] INHERIT",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, INHERIT (catalog only)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members INHERIT people;",
    },
    LockRow {
        form: Form::EnableDisableTrigger,
        command: "ALTER TABLE … {ENABLE | DISABLE} TRIGGER",
        lock: LockMode::ShareRowExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, DISABLE/ENABLE TRIGGER (SHARE ROW EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members DISABLE TRIGGER members_touch;",
    },
    LockRow {
        form: Form::AttachPartition,
        command: "ALTER TABLE … ATTACH PARTITION",
        lock: LockMode::AccessExclusive,
        work: Work::Scan,
        source: "ALTER TABLE, ATTACH PARTITION (SHARE UPDATE EXCLUSIVE on the parent, ACCESS \
                 EXCLUSIVE on the partition, scanned unless a valid CHECK implies the bound); \
                 Table Partitioning, Partition Maintenance",
        alternative: Some(
            "first ADD CONSTRAINT … CHECK (<the partition bound>) NOT VALID on \
                           the partition and VALIDATE it, then ATTACH skips the scan; drop the \
                           CHECK afterwards",
        ),
        covered_by: None,
        example: "ALTER TABLE measurement ATTACH PARTITION members FOR VALUES FROM \
                  ('2020-01-01') TO ('2021-01-01');",
    },
    LockRow {
        form: Form::DetachPartition,
        command: "ALTER TABLE … DETACH PARTITION",
        lock: LockMode::AccessExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, DETACH PARTITION",
        alternative: Some("DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+)"),
        covered_by: Some("require-concurrent-detach-partition"),
        example: "ALTER TABLE members DETACH PARTITION members_2020;",
    },
    LockRow {
        form: Form::DetachPartitionConcurrently,
        command: "ALTER TABLE … DETACH PARTITION … CONCURRENTLY",
        lock: LockMode::ShareUpdateExclusive,
        work: Work::Catalog,
        source: "ALTER TABLE, DETACH PARTITION (CONCURRENTLY: SHARE UPDATE EXCLUSIVE)",
        alternative: None,
        covered_by: None,
        example: "ALTER TABLE members DETACH PARTITION members_2020 CONCURRENTLY;",
    },
];

const LOCK_ALTERNATIVE: &str = "remove it: each statement takes the lock it needs; to keep two \
     runs apart, pg_advisory_xact_lock blocks no query on the table";
const IDENTITY_ALTERNATIVE: &str = "add a nullable bigint column with a sequence default for \
     new rows (SET DEFAULT after ADD COLUMN), backfill existing rows in batches, make it NOT NULL \
     through a validated CHECK, then ALTER COLUMN … ADD GENERATED BY DEFAULT AS IDENTITY";

/// The row of a form.
pub fn row(form: Form) -> &'static LockRow {
    ROWS.iter().find(|r| r.form == form).unwrap_or(&FALLBACK)
}

/// Only reached if [`ROWS`] lost a form, which the table's tests forbid.
const FALLBACK: LockRow = LockRow {
    form: Form::Comment,
    command: "(unknown)",
    lock: LockMode::AccessShare,
    work: Work::Catalog,
    source: LOCKS,
    alternative: None,
    covered_by: None,
    example: "",
};

/// One command of a statement on one table: an `ALTER TABLE` with three subforms gives three.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub form: Form,
    /// The table (or index, or materialized view) the statement names, as [`table_name`] writes
    /// it.
    pub table: String,
    /// The column, for the subforms of one column.
    pub column: Option<String>,
    /// A word of the statement to point the finding at.
    pub near: String,
}

impl Command {
    pub fn row(&self) -> &'static LockRow {
        row(self.form)
    }

    fn new(form: Form, table: String, near: &str) -> Command {
        Command {
            form,
            table,
            column: None,
            near: near.to_string(),
        }
    }

    fn on_column(form: Form, table: &str, column: &str, near: &str) -> Command {
        Command {
            form,
            table: table.to_string(),
            column: Some(column.to_string()),
            near: near.to_string(),
        }
    }
}

/// The commands of a statement sqlparser parsed; empty for statements the table does not list
/// (DML, `CREATE TABLE`, …).
pub fn parsed_commands(statement: &Statement) -> Vec<Command> {
    match statement {
        Statement::CreateIndex(index) => vec![Command::new(
            if index.concurrently {
                Form::CreateIndexConcurrently
            } else {
                Form::CreateIndex
            },
            table_name(&index.table_name),
            "INDEX",
        )],
        Statement::Drop {
            object_type: ObjectType::Index,
            names,
            ..
        } => names
            .iter()
            .map(|n| Command::new(Form::DropIndex, table_name(n), "INDEX"))
            .collect(),
        Statement::Vacuum(vacuum) => vec![Command::new(
            if vacuum.full {
                Form::VacuumFull
            } else {
                Form::Vacuum
            },
            vacuum
                .table_name
                .as_ref()
                .map_or_else(|| "every table".to_string(), table_name),
            "VACUUM",
        )],
        Statement::Analyze(analyze) => vec![Command::new(
            Form::Analyze,
            analyze
                .table_name
                .as_ref()
                .map_or_else(|| "every table".to_string(), table_name),
            "ANALYZE",
        )],
        Statement::Lock(lock) => {
            let mode = lock
                .lock_mode
                .as_ref()
                .map_or(LockMode::AccessExclusive, LockMode::of);
            lock.tables
                .iter()
                .map(|t| Command::new(Form::LockTable(mode), table_name(&t.name), "LOCK"))
                .collect()
        }
        Statement::Truncate(truncate) => truncate
            .table_names
            .iter()
            .map(|t| Command::new(Form::Truncate, table_name(&t.name), "TRUNCATE"))
            .collect(),
        Statement::CreateTrigger(trigger) => vec![Command::new(
            Form::CreateTrigger,
            table_name(&trigger.table_name),
            "TRIGGER",
        )],
        Statement::Comment { object_name, .. } => {
            vec![Command::new(
                Form::Comment,
                table_name(object_name),
                "COMMENT",
            )]
        }
        Statement::AlterType(alter) => match alter.operation {
            AlterTypeOperation::AddValue(_) => vec![Command::new(
                Form::AlterTypeAddValue,
                table_name(&alter.name),
                "ADD",
            )],
            _ => Vec::new(),
        },
        Statement::AlterTable(alter) => {
            let table = table_name(&alter.name);
            alter
                .operations
                .iter()
                .filter_map(|op| alter_table_command(&table, op))
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The command of one `ALTER TABLE` subform.
fn alter_table_command(table: &str, op: &AlterTableOperation) -> Option<Command> {
    let t = || table.to_string();
    Some(match op {
        AlterTableOperation::AddColumn { column_def, .. } => {
            let column = &column_def.name.value;
            let (form, near) = add_column_form(column_def);
            Command::on_column(form, table, column, near)
        }
        AlterTableOperation::AlterColumn { column_name, op } => {
            let column = &column_name.value;
            let form = match op {
                AlterColumnOperation::SetDataType { .. } => Form::AlterColumnType,
                AlterColumnOperation::SetNotNull => Form::SetNotNull,
                AlterColumnOperation::DropNotNull => Form::DropNotNull,
                _ => return None,
            };
            Command::on_column(form, table, column, column)
        }
        AlterTableOperation::AddConstraint {
            constraint,
            not_valid,
        } => {
            let (form, near) = match constraint {
                TableConstraint::PrimaryKeyUsingIndex(_) | TableConstraint::UniqueUsingIndex(_) => {
                    (Form::AddConstraintUsingIndex, "USING")
                }
                TableConstraint::PrimaryKey(_) => (Form::AddPrimaryKey, "PRIMARY"),
                TableConstraint::Unique(_) => (Form::AddUnique, "UNIQUE"),
                TableConstraint::ForeignKey(_) if *not_valid => {
                    (Form::AddForeignKeyNotValid, "FOREIGN")
                }
                TableConstraint::ForeignKey(_) => (Form::AddForeignKey, "FOREIGN"),
                TableConstraint::Check(_) if *not_valid => (Form::AddCheckNotValid, "CHECK"),
                TableConstraint::Check(_) => (Form::AddCheck, "CHECK"),
                TableConstraint::Exclude(_) => (Form::AddExclude, "EXCLUDE"),
                _ => return None,
            };
            Command::new(form, t(), near)
        }
        AlterTableOperation::ValidateConstraint { .. } => {
            Command::new(Form::ValidateConstraint, t(), "VALIDATE")
        }
        AlterTableOperation::SetLogged => Command::new(Form::SetLoggedOrUnlogged, t(), "LOGGED"),
        AlterTableOperation::SetUnlogged => {
            Command::new(Form::SetLoggedOrUnlogged, t(), "UNLOGGED")
        }
        AlterTableOperation::SetOptionsParens { .. } => {
            Command::new(Form::SetStorageParameters, t(), "SET")
        }
        AlterTableOperation::EnableTrigger { .. }
        | AlterTableOperation::DisableTrigger { .. }
        | AlterTableOperation::EnableAlwaysTrigger { .. }
        | AlterTableOperation::EnableReplicaTrigger { .. } => {
            Command::new(Form::EnableDisableTrigger, t(), "TRIGGER")
        }
        _ => return None,
    })
}

/// The form of `ADD COLUMN`, by what the new column asks of the existing rows.
fn add_column_form(column: &ColumnDef) -> (Form, &'static str) {
    let word = super::type_word(&column.data_type);
    if matches!(word.as_str(), "SERIAL" | "BIGSERIAL" | "SMALLSERIAL") {
        return (Form::AddColumnSerial, "SERIAL");
    }
    for option in &column.options {
        match &option.option {
            ColumnOption::Generated {
                generated_as,
                generation_expr: Some(_),
                generation_expr_mode,
                ..
            } if *generated_as == GeneratedAs::ExpStored
                || *generation_expr_mode == Some(GeneratedExpressionMode::Stored) =>
            {
                return (Form::AddColumnStoredGenerated, "GENERATED");
            }
            ColumnOption::Generated {
                generation_expr: None,
                ..
            } => return (Form::AddColumnIdentity, "IDENTITY"),
            ColumnOption::Check(_) => return (Form::AddColumnCheck, "CHECK"),
            ColumnOption::Unique(_) => return (Form::AddColumnUnique, "UNIQUE"),
            ColumnOption::PrimaryKey(_) => return (Form::AddColumnPrimaryKey, "PRIMARY"),
            ColumnOption::ForeignKey(_) => return (Form::AddColumnReferences, "REFERENCES"),
            _ => {}
        }
    }
    match super::default_of(column) {
        Some(default) if super::adding_field_with_volatile_default::volatile(default) => {
            (Form::AddColumnVolatileDefault, "DEFAULT")
        }
        _ => (Form::AddColumn, "ADD"),
    }
}

/// The commands of a statement only Bascule's recognizer read.
pub fn recognized_commands(kind: &RecognizedKind) -> Vec<Command> {
    match kind {
        RecognizedKind::DropIndex {
            names,
            concurrently,
            ..
        } => names
            .iter()
            .map(|n| {
                Command::new(
                    if *concurrently {
                        Form::DropIndexConcurrently
                    } else {
                        Form::DropIndex
                    },
                    last_part(n),
                    "INDEX",
                )
            })
            .collect(),
        RecognizedKind::Reindex {
            name, concurrently, ..
        } => vec![Command::new(
            if *concurrently {
                Form::ReindexConcurrently
            } else {
                Form::Reindex
            },
            last_part(name),
            "REINDEX",
        )],
        RecognizedKind::RefreshMaterializedView { name, concurrently } => vec![Command::new(
            if *concurrently {
                Form::RefreshMaterializedViewConcurrently
            } else {
                Form::RefreshMaterializedView
            },
            last_part(name),
            "REFRESH",
        )],
        RecognizedKind::AttachPartition { partition, .. } => vec![Command::new(
            Form::AttachPartition,
            last_part(partition),
            "ATTACH",
        )],
        RecognizedKind::DetachPartition {
            table,
            concurrently,
            ..
        } => vec![Command::new(
            if *concurrently {
                Form::DetachPartitionConcurrently
            } else {
                Form::DetachPartition
            },
            last_part(table),
            "DETACH",
        )],
        RecognizedKind::TableCommand { command, table } => {
            let form = match command.as_str() {
                "CLUSTER" => Form::Cluster,
                "VACUUM FULL" => Form::VacuumFull,
                "VACUUM" => Form::Vacuum,
                "CREATE RULE" => Form::CreateRule,
                "SET TABLESPACE" => Form::SetTablespace,
                "SET ACCESS METHOD" => Form::SetAccessMethod,
                "CLUSTER ON" | "SET WITHOUT CLUSTER" => Form::ClusterOn,
                "INHERIT" | "NO INHERIT" => Form::Inherit,
                "RESET" => Form::SetStorageParameters,
                "SET STATISTICS" => Form::SetStatistics,
                "SET STORAGE" | "SET COMPRESSION" => Form::SetColumnStorage,
                "ALTER INDEX SET TABLESPACE" => Form::AlterIndexSetTablespace,
                _ => return Vec::new(),
            };
            let near = command.split(' ').next_back().unwrap_or_default();
            let table = table
                .as_ref()
                .map_or_else(|| "every table".to_string(), |t| last_part(t));
            vec![Command::new(form, table, near)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::test_support::lint;
    use bascule_patch::{Dialect, Mode};

    #[test]
    fn every_form_has_one_row_and_covering_rules_exist() {
        for (i, r) in ROWS.iter().enumerate() {
            assert_eq!(
                ROWS.iter().filter(|o| o.form == r.form).count(),
                1,
                "row {i}: {:?} listed twice",
                r.form
            );
            if let Some(id) = r.covered_by {
                assert!(
                    crate::rules::by_id(id).is_some(),
                    "{}: no rule {id}",
                    r.command
                );
            }
            if r.blocks() {
                assert!(
                    r.alternative.is_some() || r.covered_by.is_some(),
                    "{}: a blocking row names what to do instead",
                    r.command
                );
            }
        }
    }

    #[test]
    fn the_modes_conflict_as_the_documentation_says() {
        // §13.3.1, Table 13.2: SHARE is the weakest mode in conflict with ROW EXCLUSIVE; only
        // ACCESS EXCLUSIVE conflicts with ACCESS SHARE.
        assert!(!LockMode::ShareUpdateExclusive.blocks_writes());
        assert!(LockMode::Share.blocks_writes());
        assert!(!LockMode::Exclusive.blocks_reads());
        assert!(LockMode::AccessExclusive.blocks_reads());
    }

    /// The rule ids that speak of locks, and whether one of them fired on `sql`.
    fn lock_findings(sql: &str) -> Vec<String> {
        let report = lint(Dialect::Postgres, Mode::Online, sql, &[]);
        report
            .findings
            .iter()
            .map(|f| f.rule.clone())
            .filter(|r| {
                r == "blocking-lock" || ROWS.iter().any(|row| row.covered_by == Some(r.as_str()))
            })
            .collect()
    }

    /// The forms the table reads in `sql` (one statement).
    fn forms_of(sql: &str) -> Vec<Form> {
        let checked =
            bascule_sql::check_script(std::path::Path::new("up.sql"), sql, Dialect::Postgres);
        assert!(checked.issues.is_empty(), "{sql}: {:?}", checked.issues);
        let statement = &checked.statements[0];
        let commands = match (&statement.outcome, statement.recognized()) {
            (bascule_sql::Reading::Parsed(ast), _) => parsed_commands(&ast[0]),
            (_, Some(recognized)) => recognized_commands(&recognized.kind),
            _ => Vec::new(),
        };
        commands.into_iter().map(|c| c.form).collect()
    }

    #[test]
    fn each_example_is_read_as_its_row_and_fires_exactly_when_it_blocks() {
        for r in ROWS {
            assert_eq!(forms_of(r.example), [r.form], "{}", r.example);
            let found = lock_findings(r.example);
            let expected = match (r.blocks() || r.covered_by.is_some(), r.covered_by) {
                (false, _) => Vec::<String>::new(),
                (true, Some(id)) => vec![id.to_string()],
                (true, None) => vec!["blocking-lock".to_string()],
            };
            assert_eq!(found, expected, "{}: {}", r.command, r.example);
        }
    }
}
