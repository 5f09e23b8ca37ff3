//! Discovery on a PostgreSQL server: the databases, or the schemas of one database, whose names match a `LIKE` pattern.

use super::{client, quote_literal};
use crate::{backend_error, DbError};
use postgres::{Client, SimpleQueryMessage};

/// Databases of the server at `url` whose name matches the `LIKE` pattern, sorted.
pub fn list_databases(url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = crate::redact_url(url);
    let mut client = client(&server, url, "postgres")?;
    names(
        &server,
        &mut client,
        &format!(
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname LIKE {}",
            quote_literal(pattern)
        ),
    )
}

/// Schemas of `database` whose name matches the `LIKE` pattern, sorted.
pub fn list_schemas(url: &str, database: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = format!("{}/{database}", crate::redact_url(url));
    let mut client = client(&server, url, database)?;
    names(
        &server,
        &mut client,
        &format!(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE {}",
            quote_literal(pattern)
        ),
    )
}

pub(super) fn names(server: &str, client: &mut Client, sql: &str) -> Result<Vec<String>, DbError> {
    let messages = client
        .simple_query(sql)
        .map_err(|e| backend_error(server, e))?;
    let mut names: Vec<String> = messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    names.sort();
    Ok(names)
}
