//! The version tables of MariaDB/MySQL tenants, read for many databases of one server in a few queries.

use super::{connect, opts, quote_ident, quote_literal};
use crate::{
    backend_error, Adopt, AppliedMigration, DbError, RowState, VersionState, VERSION_TABLE,
};
use mysql::prelude::Queryable as _;
use std::collections::BTreeMap;

/// The version state of each of `databases` on the server at `url`, in a few queries on one
/// connection: one `information_schema` query finds which databases have a version table (or
/// the adopted counter table), then `UNION ALL`s over their tables read the rows,
/// [`crate::SURVEY_BATCH`] databases at a time, on up to `workers` connections (opening 5,000 tables is server work
/// that several connections share). Databases missing from the server are missing from the map.
pub fn read_versions(
    url: &str,
    databases: &[String],
    adopt: Option<&Adopt>,
    workers: usize,
) -> Result<BTreeMap<String, VersionState>, DbError> {
    let server = crate::redact_url(url);
    let err = |e: mysql::Error| backend_error(&server, e);
    let opts = opts(url, None).map_err(|e| backend_error(&server, e))?;
    let mut conn = connect(opts.clone())
        .map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?;
    let mut tables = vec![quote_literal(VERSION_TABLE)];
    tables.extend(adopt.map(|a| quote_literal(&a.table)));
    let found: Vec<(String, String)> = conn
        .query(format!(
            "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_NAME IN ({})",
            tables.join(", ")
        ))
        .map_err(err)?;
    let existing: std::collections::BTreeSet<String> = conn
        .query::<String, _>("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        .map_err(err)?
        .into_iter()
        .collect();
    let mut states: BTreeMap<String, VersionState> = databases
        .iter()
        .filter(|d| existing.contains(*d))
        .map(|d| (d.clone(), VersionState::default()))
        .collect();
    let has = |table: &str| -> Vec<String> {
        found
            .iter()
            .filter(|(db, t)| t == table && states.contains_key(db))
            .map(|(db, _)| db.clone())
            .collect()
    };
    let versioned = has(VERSION_TABLE);
    let adopted = match adopt {
        Some(a) => has(&a.table)
            .into_iter()
            .filter(|db| !versioned.contains(db))
            .collect(),
        None => Vec::new(),
    };
    for db in &versioned {
        if let Some(state) = states.get_mut(db) {
            state.table_exists = true;
        }
    }
    let queries = crate::union_all(&versioned, |db| {
        format!(
            "SELECT {}, id, name, checksum, state, run FROM {}.`{VERSION_TABLE}`",
            quote_literal(db),
            quote_ident(db)
        )
    });
    let read = crate::parallel::map_grouped(
        &queries,
        |_| (),
        workers,
        crate::parallel::OnError::Stop,
        || None::<mysql::Conn>,
        |worker, sql| {
            let conn = match worker {
                Some(conn) => conn,
                None => worker.insert(
                    connect(opts.clone())
                        .map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?,
                ),
            };
            conn.query::<(String, u32, String, String, String, Option<String>), _>(sql.as_str())
                .map_err(err)
        },
    )
    .map_err(|mut errors| errors.remove(0).1)?;
    for (db, id, name, checksum, state, run) in read.into_iter().flatten() {
        let row = AppliedMigration {
            id,
            name,
            checksum,
            state: RowState::parse(&db, &state)?,
            run,
        };
        if let Some(state) = states.get_mut(&db) {
            state.applied.push(row);
        }
    }
    if let Some(adopt) = adopt {
        let queries = crate::union_all(&adopted, |db| {
            format!(
                "SELECT {}, CAST(MAX({}) AS UNSIGNED) FROM {}.{}",
                quote_literal(db),
                quote_ident(&adopt.column),
                quote_ident(db),
                quote_ident(&adopt.table)
            )
        });
        for sql in queries {
            let rows: Vec<(String, Option<u64>)> = conn.query(sql).map_err(err)?;
            for (db, value) in rows {
                let version = crate::counter(&db, adopt, value)?;
                if let Some(state) = states.get_mut(&db) {
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
