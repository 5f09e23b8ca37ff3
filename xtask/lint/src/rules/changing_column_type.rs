//! `changing-column-type`: changing a column's type, or shrinking it.
//!
//! A type change rewrites the table under an exclusive lock (PostgreSQL) or copies it (MySQL),
//! and the previous code may write values the new type refuses. Widening a `VARCHAR` (or turning
//! it into `TEXT` on PostgreSQL) is neither, so it is allowed when the old type is known from an
//! earlier patch or an earlier statement. On MySQL, `MODIFY`/`CHANGE` restate the whole column,
//! so the rule fires only when the old type is known and differs.
//! (squawk: `changing-column-type`; strong_migrations: `change_column`.)

use sqlparser::ast::{AlterColumnOperation, AlterTableOperation};

use super::mysql_online_ddl::{type_change, TypeChange};
use super::renaming_column::EXPAND_CONTRACT;
use super::{alter_table, created_here};
use crate::{History, Hit, Rule, RuleContext};
use bascule_patch::Dialect;

pub struct ChangingColumnType;

impl Rule for ChangingColumnType {
    fn id(&self) -> &'static str {
        "changing-column-type"
    }
    fn summary(&self) -> &'static str {
        "changing a column's type or shrinking it"
    }
    fn explanation(&self) -> &'static str {
        "Changing a type rewrites or copies the whole table while holding a lock that blocks \
         reads and writes, and the code still running may write values the new type rejects \
         (a shorter VARCHAR truncates or fails)."
    }
    fn recipe(&self, dialect: Dialect) -> String {
        let widening = if dialect == Dialect::Mysql {
            "widening a VARCHAR does not fire this rule; past 255 bytes (characters × bytes per \
             character) it copies the table: see mysql-table-copy, MySQL 8.0 manual §15.12.1"
        } else {
            "widening a VARCHAR is safe and does not fire this rule"
        };
        format!("{EXPAND_CONTRACT}\n({widening})")
    }
    fn dialects(&self) -> &'static [Dialect] {
        &[Dialect::Mysql, Dialect::Postgres]
    }
    fn check(&self, cx: &RuleContext<'_>) -> Vec<Hit> {
        let Some((table, ops)) = alter_table(cx) else {
            return Vec::new();
        };
        if created_here(cx, &table) {
            return Vec::new();
        }
        let known = known_types(cx);
        let mut hits = Vec::new();
        for op in ops {
            let (column, new_type, restated) = match op {
                AlterTableOperation::AlterColumn {
                    column_name,
                    op: AlterColumnOperation::SetDataType { data_type, .. },
                } => (column_name, data_type.to_string(), false),
                AlterTableOperation::ModifyColumn {
                    col_name,
                    data_type,
                    ..
                } => (col_name, data_type.to_string(), true),
                AlterTableOperation::ChangeColumn {
                    old_name,
                    data_type,
                    ..
                } => (old_name, data_type.to_string(), true),
                _ => continue,
            };
            let old = known.column_type(&table, &column.value);
            if restated {
                // MySQL's MODIFY/CHANGE restate the whole column: judged against the old one.
                if let Some(message) = mysql_restated(&table, &column.value, old, &new_type) {
                    hits.push(Hit::new(message).near(cx.text(), &column.value));
                }
                continue;
            }
            let fires = match old {
                Some(old) => !same_or_wider(old, &new_type, cx.dialect),
                None => true,
            };
            if fires {
                let message = match old {
                    Some(old) => format!(
                        "changing the type of `{table}.{}` from {old} to {new_type} rewrites the \
                         table under lock and may break the code still running",
                        column.value
                    ),
                    None => unknown_old_type(&table, &column.value, &new_type),
                };
                hits.push(Hit::new(message).near(cx.text(), &column.value));
            }
        }
        hits
    }
}

/// The message when no earlier patch or statement gives the old type (PostgreSQL: MySQL's
/// restated `MODIFY` is judged only against a known type). Whether PostgreSQL rewrites depends on
/// the old type (ALTER TABLE reference page, Notes: no rewrite when the old type is
/// binary-coercible to the new one), so the linter says what it cannot tell.
fn unknown_old_type(table: &str, column: &str, new_type: &str) -> String {
    format!(
        "cannot tell whether changing the type of `{table}.{column}` to {new_type} rewrites the \
         table: no earlier patch or statement gives its old type. A binary-coercible change \
         (varchar(n) to varchar(m) with m >= n, or to text; numeric(p,s) to numeric(q,s) with \
         q >= p, or to numeric) is a catalog change; any other type change rewrites the table \
         and its indexes under ACCESS EXCLUSIVE, and the code still running may write values \
         the new type rejects"
    )
}

/// What to say of a MySQL `MODIFY`/`CHANGE` of `table.column` to `new_type`, given the old type
/// if an earlier patch or statement declared it: nothing when the type stays (a longer
/// `VARCHAR`, members added to an `ENUM`, an integer's display width; a `VARCHAR` past InnoDB's
/// 255-byte length prefix is `mysql-table-copy`'s), a type change otherwise, and "cannot tell"
/// when the old definition is unknown.
fn mysql_restated(table: &str, column: &str, old: Option<&str>, new_type: &str) -> Option<String> {
    let Some(old) = old else {
        return Some(format!(
            "cannot tell whether this changes the type of `{table}.{column}` (and copies the \
             table): the old definition is not in an earlier patch. Compare with SHOW CREATE \
             TABLE {table}: the same type, or a VARCHAR made longer within the same side of 255 \
             bytes, is done in place; any other type change copies the table while writes wait \
             (MySQL 8.0 manual §15.12.1); if it is unchanged, say so with `-- bascule:allow \
             changing-column-type <reason>`"
        ));
    };
    match type_change(old, new_type, None) {
        TypeChange::Other => Some(format!(
            "changing the type of `{table}.{column}` from {old} to {new_type} copies the table \
             while writes wait (ALGORITHM=COPY, MySQL 8.0 manual §15.12.1) and may break the code \
             still running"
        )),
        TypeChange::Same | TypeChange::Widen { .. } | TypeChange::EnumExtended => None,
    }
}

/// The history with the statements before this one in the migration learned on top.
fn known_types(cx: &RuleContext<'_>) -> History {
    let mut known = cx.history.clone();
    known.learn_all(cx.before);
    known
}

/// Whether `new` keeps every value of `old` without a rewrite: the same type, a longer
/// `VARCHAR`, or (PostgreSQL) `VARCHAR` to `TEXT`.
pub fn same_or_wider(old: &str, new: &str, dialect: Dialect) -> bool {
    let (old_name, old_len) = split_type(old);
    let (new_name, new_len) = split_type(new);
    if old_name == new_name {
        return match (old_len, new_len) {
            (Some(o), Some(n)) => n >= o,
            (_, None) => {
                old_len.is_none() || old_name.contains("CHAR") && dialect == Dialect::Postgres
            }
            (None, Some(_)) => false,
        };
    }
    dialect == Dialect::Postgres
        && matches!(old_name.as_str(), "VARCHAR" | "CHARACTER VARYING")
        && new_name == "TEXT"
}

/// `VARCHAR(100)` → (`VARCHAR`, Some(100)).
fn split_type(t: &str) -> (String, Option<u64>) {
    let upper = t.trim().to_uppercase();
    match upper.split_once('(') {
        Some((name, rest)) => {
            let len = rest.trim_end_matches(')').trim().parse().ok();
            (name.trim().to_string(), len)
        }
        None => (upper, None),
    }
}

#[cfg(test)]
mod tests {
    use super::same_or_wider;
    use crate::rules::test_support::{assert_fires, hits, rendered_report};
    use bascule_patch::Dialect::{self, *};

    const ID: &str = "changing-column-type";
    const EARLIER: &[&str] = &["CREATE TABLE members (id INT, avatar VARCHAR(100), n INT);"];

    #[test]
    fn fires_on_type_changes_and_shrinks() {
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN n TYPE bigint;",
            &[],
        );
        assert_fires(
            1,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar TYPE varchar(50);",
            EARLIER,
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY n BIGINT;",
            EARLIER,
        );
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(10);",
            EARLIER,
        );
    }

    #[test]
    fn quiet_on_widening_or_restating() {
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar TYPE varchar(1000);",
            EARLIER,
        );
        assert_fires(
            0,
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar TYPE text;",
            EARLIER,
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY avatar VARCHAR(1000) NOT NULL;",
            EARLIER,
        );
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY n INT(11) NOT NULL;",
            EARLIER,
        );
    }

    #[test]
    fn mysql_says_it_cannot_tell_when_the_old_definition_is_unknown() {
        for up in [
            "ALTER TABLE members MODIFY unknown_col INT NULL;",
            "ALTER TABLE members CHANGE mail email VARCHAR(255);",
        ] {
            let found = hits(ID, Mysql, up, EARLIER);
            assert_eq!(found.len(), 1, "{up}: {found:?}");
            assert!(
                found[0]
                    .message
                    .starts_with("cannot tell whether this changes the type"),
                "{found:?}"
            );
            assert!(found[0].message.contains("SHOW CREATE TABLE"), "{found:?}");
        }
        // Known from an earlier statement of the same migration: judged, not guessed.
        assert_fires(
            0,
            ID,
            Mysql,
            "ALTER TABLE members ADD COLUMN label VARCHAR(20);\n\
             ALTER TABLE members MODIFY label VARCHAR(40) NOT NULL;",
            &[],
        );
        // A CHAR is fixed-length: longer is a type change that copies.
        assert_fires(
            1,
            ID,
            Mysql,
            "ALTER TABLE members MODIFY code CHAR(20);",
            &["CREATE TABLE members (code CHAR(10));"],
        );
    }

    #[test]
    fn the_mysql_report_when_the_old_definition_is_unknown() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Mysql,
            "ALTER TABLE members MODIFY label VARCHAR(200) NOT NULL;",
            &[],
        ));
    }

    #[test]
    fn widening() {
        let pg = Dialect::Postgres;
        assert!(same_or_wider("VARCHAR(100)", "VARCHAR(1000)", pg));
        assert!(!same_or_wider("VARCHAR(100)", "VARCHAR(10)", pg));
        assert!(same_or_wider("VARCHAR(100)", "TEXT", pg));
        assert!(!same_or_wider("VARCHAR(100)", "TEXT", Dialect::Mysql));
        assert!(!same_or_wider("INT", "BIGINT", pg));
    }

    #[test]
    fn postgres_says_it_cannot_tell_when_the_old_type_is_unknown() {
        let unknown = hits(
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN n TYPE bigint;",
            &[],
        );
        assert!(
            unknown[0].message.starts_with("cannot tell whether"),
            "{unknown:?}"
        );
        assert!(
            unknown[0].message.contains("binary-coercible"),
            "{unknown:?}"
        );
        let known = hits(
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN n TYPE bigint;",
            EARLIER,
        );
        assert!(
            known[0]
                .message
                .contains("from INT to BIGINT rewrites the table"),
            "{known:?}"
        );
    }

    #[test]
    fn the_report_with_a_known_old_type() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN avatar TYPE varchar(50);",
            EARLIER,
        ));
    }

    #[test]
    fn the_report_reads_like_rustc() {
        insta::assert_snapshot!(rendered_report(
            ID,
            Postgres,
            "ALTER TABLE members ALTER COLUMN n TYPE bigint;",
            &[],
        ));
    }
}
