//! Database classes: databases that share one schema and one migration stream, each speaking
//! one SQL dialect (`[classes.<name>] dialect = "sqlite" | "mysql" | "postgres"`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The SQL dialect a database class speaks; it picks the sqlparser dialect and the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Sqlite,
    Mysql,
    Postgres,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Dialect::Sqlite => "sqlite",
            Dialect::Mysql => "mysql",
            Dialect::Postgres => "postgres",
        })
    }
}

/// `[classes.<name>]` of `patch.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    pub dialect: Dialect,
}
