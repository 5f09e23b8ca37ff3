//! Reading where thousands of databases stand, fast: the survey's engine.
//!
//! One query per database would cost a connection each (PostgreSQL) or a round trip each; with
//! 5,000 tenants that is seconds of latency before anything runs. So the version tables are read
//! in bulk wherever the server allows it:
//!
//! - MariaDB/MySQL: per server, one connection, one `information_schema` query to learn which
//!   databases have a version table, then `UNION ALL` queries over 400 tables at a time
//!   ([`super::mysql::read_versions`]), the batches spread over `workers` connections;
//! - PostgreSQL, tenants are schemas: per database, the same over schemas, the batches spread
//!   over `workers` connections too
//!   ([`super::postgres::read_schema_versions`]);
//! - PostgreSQL, tenants are databases, and SQLite files: a connection per database is
//!   unavoidable, so they are read in parallel, `workers` per server, each worker reusing its
//!   [`Session`] where it can.

use std::collections::BTreeMap;

use super::{
    mysql, postgres, read_state, Adopt, DbError, DbTarget, Location, Session, VersionState,
};
use crate::parallel::{self, OnError};

/// Where a bulk read applies: a MariaDB/MySQL server, or one PostgreSQL database of schemas.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Bulk {
    Mysql { url: String },
    Schemas { url: String, database: String },
}

fn bulk_of(location: &Location) -> Option<(Bulk, &str)> {
    match location {
        Location::Mysql { url, database } => Some((Bulk::Mysql { url: url.clone() }, database)),
        Location::Postgres {
            url,
            database,
            schema: Some(schema),
        } => Some((
            Bulk::Schemas {
                url: url.clone(),
                database: database.clone(),
            },
            schema,
        )),
        _ => None,
    }
}

/// The version state of every target, in target order. `workers` bounds the connections per
/// server for the backends that need one per database.
pub fn read_versions(
    targets: &[DbTarget],
    workers: usize,
    adopt: Option<&Adopt>,
) -> Result<Vec<VersionState>, Vec<DbError>> {
    let bulk = read_in_bulk(targets, workers, adopt)?;
    let singles: Vec<&DbTarget> = targets
        .iter()
        .filter(|t| bulk_of(&t.location).is_none())
        .collect();
    let single_states = parallel::map_grouped(
        &singles,
        |t| t.location.server().to_string(),
        workers,
        OnError::Stop,
        Session::new,
        |session, target| session.with(target, |conn| read_state(conn, adopt)),
    )
    .map_err(|errors| errors.into_iter().map(|(_, e)| e).collect::<Vec<_>>())?;
    let mut single_states = single_states.into_iter();
    let mut out = Vec::with_capacity(targets.len());
    let mut missing = Vec::new();
    for (target, state) in targets.iter().zip(bulk) {
        match (state, bulk_of(&target.location)) {
            (Some(state), _) => out.push(state),
            (None, Some((_, name))) => missing.push(super::backend_error(
                &target.to_string(),
                format!(
                    "`{name}` does not exist on {}: check the host profile's databases",
                    super::redact_url(target.location.server())
                ),
            )),
            (None, None) => match single_states.next() {
                Some(state) => out.push(state),
                None => missing.push(super::backend_error(&target.to_string(), "not read")),
            },
        }
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

/// The version state of every target a bulk read applies to (MariaDB/MySQL databases,
/// PostgreSQL schemas), in target order: `None` for the others (PostgreSQL databases, SQLite
/// files), and for a database or schema the server does not have.
pub fn read_in_bulk(
    targets: &[DbTarget],
    workers: usize,
    adopt: Option<&Adopt>,
) -> Result<Vec<Option<VersionState>>, Vec<DbError>> {
    let mut bulks: BTreeMap<Bulk, Vec<String>> = BTreeMap::new();
    for target in targets {
        if let Some((bulk, name)) = bulk_of(&target.location) {
            bulks.entry(bulk).or_default().push(name.to_string());
        }
    }
    let bulks: Vec<(Bulk, Vec<String>)> = bulks.into_iter().collect();
    let read = parallel::map(
        &bulks,
        bulks.len(),
        OnError::Stop,
        |(bulk, names)| match bulk {
            Bulk::Mysql { url } => mysql::read_versions(url, names, adopt, workers),
            Bulk::Schemas { url, database } => {
                postgres::read_schema_versions(url, database, names, adopt, workers)
            }
        },
    )
    .map_err(|errors| errors.into_iter().map(|(_, e)| e).collect::<Vec<_>>())?;
    let by_bulk: BTreeMap<&Bulk, BTreeMap<String, VersionState>> =
        bulks.iter().map(|(b, _)| b).zip(read).collect();
    Ok(targets
        .iter()
        .map(|target| {
            let (bulk, name) = bulk_of(&target.location)?;
            by_bulk.get(&bulk)?.get(name).cloned()
        })
        .collect())
}
