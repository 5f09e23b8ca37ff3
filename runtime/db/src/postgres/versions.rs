//! The version tables of PostgreSQL tenants: one row read as text, the adopted counter, and the versions of many schemas of one database in a few queries.

use super::{client, error_text, quote_ident, quote_literal, text, text_rows_of};
use crate::{
    backend_error, Adopt, AppliedMigration, DbError, RowState, VersionState, VERSION_TABLE,
};
use postgres::Client;
use std::collections::BTreeMap;

/// One version row read as text: id, name, checksum, state, run.
pub(super) fn row_of(db: &str, row: &[Option<String>]) -> Result<AppliedMigration, DbError> {
    let at = |i: usize| row.get(i).map_or("NULL", text);
    let id = at(0)
        .parse::<u32>()
        .map_err(|e| backend_error(db, format!("{VERSION_TABLE}: id `{}`: {e}", at(0))))?;
    Ok(AppliedMigration {
        id,
        name: at(1).to_string(),
        checksum: at(2).to_string(),
        state: RowState::parse(db, at(3))?,
        run: row.get(4).cloned().flatten(),
    })
}

pub(super) fn parse_counter(
    db: &str,
    adopt: &Adopt,
    value: Option<&str>,
) -> Result<Option<u32>, DbError> {
    let value = value
        .map(|v| {
            v.parse::<u64>().map_err(|e| {
                backend_error(db, format!("{}.{} = `{v}`: {e}", adopt.table, adopt.column))
            })
        })
        .transpose()?;
    crate::counter(db, adopt, value)
}

/// The version state of each of `schemas` of `database`, in a few queries on one connection:
/// which schemas have a version table (or the adopted counter), then `UNION ALL`s over them.
/// Schemas missing from the database are missing from the map.
pub fn read_schema_versions(
    url: &str,
    database: &str,
    schemas: &[String],
    adopt: Option<&Adopt>,
    workers: usize,
) -> Result<BTreeMap<String, VersionState>, DbError> {
    let server = format!("{}/{database}", crate::redact_url(url));
    let mut client = client(&server, url, database)?;
    let mut query = |sql: &str| -> Result<Vec<Vec<Option<String>>>, DbError> {
        client
            .simple_query(sql)
            .map_err(|e| backend_error(&server, error_text(&e)))
            .map(|messages| text_rows_of(&messages))
    };
    let existing: std::collections::BTreeSet<String> = query("SELECT nspname FROM pg_namespace")?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let mut states: BTreeMap<String, VersionState> = schemas
        .iter()
        .filter(|s| existing.contains(*s))
        .map(|s| (s.clone(), VersionState::default()))
        .collect();
    let mut tables = vec![quote_literal(VERSION_TABLE)];
    tables.extend(adopt.map(|a| quote_literal(&a.table)));
    let found: Vec<(String, String)> = query(&format!(
        "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relname IN ({}) AND c.relkind IN ('r', 'p', 'v')",
        tables.join(", ")
    ))?
    .into_iter()
    .map(|r| (text(&r[0]).to_string(), text(&r[1]).to_string()))
    .filter(|(schema, _)| states.contains_key(schema))
    .collect();
    let versioned: Vec<String> = found
        .iter()
        .filter(|(_, t)| t == VERSION_TABLE)
        .map(|(s, _)| s.clone())
        .collect();
    for schema in &versioned {
        if let Some(state) = states.get_mut(schema) {
            state.table_exists = true;
        }
    }
    let batches = crate::union_all(&versioned, |schema| {
        format!(
            "SELECT {}, id, name, checksum, state, run FROM {}.{VERSION_TABLE}",
            quote_literal(schema),
            quote_ident(schema)
        )
    });
    // Opening thousands of tables is server work that several connections share.
    let read = crate::parallel::map_grouped(
        &batches,
        |_| (),
        workers,
        crate::parallel::OnError::Stop,
        || None::<Client>,
        |worker, sql| {
            let conn = match worker {
                Some(conn) => conn,
                None => worker.insert(self::client(&server, url, database)?),
            };
            conn.simple_query(sql)
                .map_err(|e| backend_error(&server, error_text(&e)))
                .map(|messages| text_rows_of(&messages))
        },
    )
    .map_err(|mut errors| errors.remove(0).1)?;
    for row in read.into_iter().flatten() {
        let schema = text(&row[0]).to_string();
        let migration = row_of(&schema, &row[1..])?;
        if let Some(state) = states.get_mut(&schema) {
            state.applied.push(migration);
        }
    }
    if let Some(adopt) = adopt {
        let adopted: Vec<&String> = found
            .iter()
            .filter(|(s, t)| *t == adopt.table && !versioned.contains(s))
            .map(|(s, _)| s)
            .collect();
        let queries = crate::union_all(&adopted, |schema| {
            format!(
                "SELECT {}, max({})::bigint FROM {}.{}",
                quote_literal(schema),
                quote_ident(&adopt.column),
                quote_ident(schema),
                quote_ident(&adopt.table)
            )
        });
        for sql in queries {
            for row in query(&sql)? {
                let schema = text(&row[0]).to_string();
                let version = parse_counter(&schema, adopt, row[1].as_deref())?;
                if let Some(state) = states.get_mut(&schema) {
                    state.adopted = version;
                }
            }
        }
    }
    for state in states.values_mut() {
        state.applied.sort_by_key(|m| m.id);
    }
    Ok(states)
}
