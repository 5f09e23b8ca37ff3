//! Discovery on a MariaDB/MySQL server: the databases whose names match a `LIKE` pattern, or which of a list exist.

use super::{connect, opts};
use crate::{backend_error, DbError};
use mysql::prelude::Queryable as _;

/// Which of `names` exist on the server at `url`.
pub fn existing_databases(url: &str, names: &[String]) -> Result<Vec<String>, DbError> {
    let all = list_databases(url, "%")?;
    Ok(names.iter().filter(|n| all.contains(n)).cloned().collect())
}

/// Names of the databases of the server at `url` matching the `LIKE` pattern, sorted.
pub fn list_databases(url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
    let server = crate::redact_url(url);
    let opts = opts(url, None).map_err(|e| backend_error(&server, e))?;
    let mut conn =
        connect(opts).map_err(|e| backend_error(&server, format!("cannot connect: {e}")))?;
    let mut names: Vec<String> = conn
        .exec(
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
            (pattern,),
        )
        .map_err(|e| backend_error(&server, e))?;
    names.sort();
    Ok(names)
}
