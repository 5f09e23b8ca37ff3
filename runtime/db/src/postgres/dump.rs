//! The catalog queries of [`super::PostgresConnection::schema_dump`], one per kind of object, all
//! confined to `current_schema()`.

use super::text;

pub(super) struct DumpQuery {
    pub sql: &'static str,
    pub line: fn(&[Option<String>]) -> String,
}

fn at(row: &[Option<String>], i: usize) -> &str {
    row.get(i).map_or("NULL", text)
}

pub(super) const QUERIES: &[DumpQuery] = &[
    DumpQuery {
        sql: "SELECT c.relname,
                CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table'
                  WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                  WHEN 'S' THEN 'sequence' ELSE 'foreign table' END,
                CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
                AND c.relname <> {VERSION}",
        line: |r| match r.get(2) {
            Some(Some(body)) => format!("{} {}: {}", at(r, 1), at(r, 0), super::one_line(body)),
            _ => format!("{} {}", at(r, 1), at(r, 0)),
        },
    },
    DumpQuery {
        sql: "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid)
              FROM pg_attribute a
              JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
              LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
                AND a.attnum > 0 AND NOT a.attisdropped AND c.relname <> {VERSION}",
        line: |r| {
            let mut line = format!("column {}.{} {}", at(r, 0), at(r, 1), at(r, 2));
            line.push_str(if at(r, 3) == "t" {
                " not null"
            } else {
                " null"
            });
            if let Some(Some(default)) = r.get(4) {
                line.push_str(&format!(" default {default}"));
            }
            line
        },
    },
    DumpQuery {
        sql: "SELECT i.relname, t.relname,
                (SELECT string_agg(pg_get_indexdef(ix.indexrelid, k, true), ', ' ORDER BY k)
                   FROM generate_series(1, ix.indnkeyatts) k),
                ix.indisunique, am.amname, pg_get_expr(ix.indpred, ix.indrelid, true)
              FROM pg_index ix
              JOIN pg_class i ON i.oid = ix.indexrelid
              JOIN pg_class t ON t.oid = ix.indrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
              JOIN pg_am am ON am.oid = i.relam
              WHERE n.nspname = current_schema() AND t.relname <> {VERSION}",
        line: |r| {
            let mut line = format!("index {} on {} ({})", at(r, 0), at(r, 1), at(r, 2));
            if at(r, 3) == "t" {
                line.push_str(" unique");
            }
            if at(r, 4) != "btree" {
                line.push_str(&format!(" using {}", at(r, 4)));
            }
            if let Some(Some(predicate)) = r.get(5) {
                line.push_str(&format!(" where {predicate}"));
            }
            line
        },
    },
    DumpQuery {
        sql: "SELECT con.conname, t.relname, pg_get_constraintdef(con.oid, true)
              FROM pg_constraint con
              JOIN pg_class t ON t.oid = con.conrelid
              JOIN pg_namespace n ON n.oid = con.connamespace
              WHERE n.nspname = current_schema() AND t.relname <> {VERSION}",
        line: |r| format!("constraint {} on {}: {}", at(r, 0), at(r, 1), at(r, 2)),
    },
    DumpQuery {
        sql: "SELECT tg.tgname, t.relname, pg_get_triggerdef(tg.oid, true)
              FROM pg_trigger tg
              JOIN pg_class t ON t.oid = tg.tgrelid
              JOIN pg_namespace n ON n.oid = t.relnamespace
              WHERE NOT tg.tgisinternal AND n.nspname = current_schema()",
        line: |r| format!("trigger {} on {}: {}", at(r, 0), at(r, 1), at(r, 2)),
    },
    DumpQuery {
        sql: "SELECT p.proname, pg_get_function_identity_arguments(p.oid), md5(p.prosrc)
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = current_schema()",
        line: |r| format!("function {}({}) body md5 {}", at(r, 0), at(r, 1), at(r, 2)),
    },
];
