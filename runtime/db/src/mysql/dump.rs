//! The `information_schema` queries of [`super::MysqlConnection::schema_dump`], one per kind of object.

use super::text;

pub(super) struct DumpQuery {
    pub sql: &'static str,
    pub line: fn(&[Option<String>], &str) -> String,
}

fn at(row: &[Option<String>], i: usize) -> &str {
    row.get(i).map_or("NULL", text)
}

/// View and trigger bodies name the database; dumps of two databases must still compare.
fn body(sql: &str, database: &str) -> String {
    super::one_line(&sql.replace(&format!("`{database}`."), ""))
}

pub(super) const QUERIES: &[DumpQuery] = &[
    DumpQuery {
        sql: "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'
              AND TABLE_NAME <> '{VERSION}'",
        line: |r, _| format!("table {} engine {}", at(r, 0), at(r, 1)),
    },
    DumpQuery {
        sql: "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA
              FROM information_schema.COLUMNS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{VERSION}'",
        line: |r, _| {
            let mut line = format!("column {}.{} {}", at(r, 0), at(r, 1), at(r, 2));
            line.push_str(if at(r, 3) == "YES" {
                " null"
            } else {
                " not null"
            });
            if let Some(Some(default)) = r.get(4) {
                line.push_str(&format!(" default {default}"));
            }
            if !at(r, 5).is_empty() {
                line.push_str(&format!(" {}", at(r, 5).to_lowercase()));
            }
            line
        },
    },
    DumpQuery {
        sql: "SELECT INDEX_NAME, TABLE_NAME,
                GROUP_CONCAT(CONCAT(COLUMN_NAME, IFNULL(CONCAT('(', SUB_PART, ')'), ''))
                             ORDER BY SEQ_IN_INDEX SEPARATOR ', '),
                NON_UNIQUE, INDEX_TYPE
              FROM information_schema.STATISTICS
              WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME <> '{VERSION}'
              GROUP BY TABLE_NAME, INDEX_NAME, NON_UNIQUE, INDEX_TYPE",
        line: |r, _| {
            let mut line = format!("index {} on {} ({})", at(r, 0), at(r, 1), at(r, 2));
            if at(r, 3) == "0" {
                line.push_str(" unique");
            }
            if at(r, 4) != "BTREE" {
                line.push_str(&format!(" using {}", at(r, 4).to_lowercase()));
            }
            line
        },
    },
    // The subqueries name the schema as a constant, not through `tc`: MariaDB then reads only
    // this database's tables for each constraint instead of every table of the server, which
    // made a dump grow with the square of the table count.
    DumpQuery {
        sql: "SELECT tc.CONSTRAINT_NAME, tc.TABLE_NAME, tc.CONSTRAINT_TYPE,
                (SELECT GROUP_CONCAT(k.COLUMN_NAME ORDER BY k.ORDINAL_POSITION SEPARATOR ', ')
                   FROM information_schema.KEY_COLUMN_USAGE k
                  WHERE k.TABLE_SCHEMA = DATABASE() AND k.CONSTRAINT_SCHEMA = DATABASE()
                    AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME),
                (SELECT CONCAT(MAX(k.REFERENCED_TABLE_NAME), ' (',
                        GROUP_CONCAT(k.REFERENCED_COLUMN_NAME ORDER BY k.ORDINAL_POSITION
                                     SEPARATOR ', '), ')')
                   FROM information_schema.KEY_COLUMN_USAGE k
                  WHERE k.TABLE_SCHEMA = DATABASE() AND k.CONSTRAINT_SCHEMA = DATABASE()
                    AND k.TABLE_NAME = tc.TABLE_NAME AND k.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
                    AND k.REFERENCED_TABLE_NAME IS NOT NULL)
              FROM information_schema.TABLE_CONSTRAINTS tc
              WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.TABLE_NAME <> '{VERSION}'",
        line: |r, _| {
            let mut line = format!(
                "constraint {} on {}: {}",
                at(r, 0),
                at(r, 1),
                at(r, 2).to_lowercase()
            );
            if let Some(Some(columns)) = r.get(3) {
                line.push_str(&format!(" ({columns})"));
            }
            if let Some(Some(target)) = r.get(4) {
                line.push_str(&format!(" references {target}"));
            }
            line
        },
    },
    DumpQuery {
        sql: "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS
              WHERE TABLE_SCHEMA = DATABASE()",
        line: |r, db| format!("view {}: {}", at(r, 0), body(at(r, 1), db)),
    },
    DumpQuery {
        sql: "SELECT TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION, EVENT_OBJECT_TABLE,
                ACTION_STATEMENT
              FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()",
        line: |r, db| {
            format!(
                "trigger {} {} {} on {}: {}",
                at(r, 0),
                at(r, 1).to_lowercase(),
                at(r, 2).to_lowercase(),
                at(r, 3),
                body(at(r, 4), db)
            )
        },
    },
    DumpQuery {
        sql: "SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION
              FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()",
        line: |r, db| {
            format!(
                "{} {}: {}",
                at(r, 0).to_lowercase(),
                at(r, 1),
                body(at(r, 2), db)
            )
        },
    },
];
