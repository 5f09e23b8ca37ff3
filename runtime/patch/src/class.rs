//! Database classes: databases that share one schema and one migration stream, each speaking
//! one SQL dialect (`[classes.<name>] dialect = "sqlite" | "mysql" | "postgres"`), optionally on
//! a named server (`server = "mysql 8.0" | "mariadb 10.11" | "postgres 16"`).
//!
//! The dialect picks the parser and the backend; the server says which of a dialect's databases
//! the migrations are written for. MySQL 8 and MariaDB share the `mysql` dialect but not every
//! statement (only MariaDB has `ALTER TABLE … DROP COLUMN IF EXISTS`) nor every online DDL
//! algorithm, so the linter suggests only what the named server accepts, and what both accept
//! when no server is named.

use std::fmt;
use std::str::FromStr;

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
#[serde(deny_unknown_fields, try_from = "ClassToml")]
pub struct ClassSpec {
    pub dialect: Dialect,
    /// The server the migrations are written for, when the patch names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<Server>,
}

/// `[classes.<name>]` as written, before the server is checked against the dialect.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassToml {
    dialect: Dialect,
    #[serde(default)]
    server: Option<Server>,
}

impl TryFrom<ClassToml> for ClassSpec {
    type Error = String;

    fn try_from(raw: ClassToml) -> Result<ClassSpec, String> {
        if let Some(server) = raw.server {
            if server.flavour.dialect() != raw.dialect {
                return Err(format!(
                    "`server = \"{server}\"` is not a `dialect = \"{}\"` server; name a {} server \
                     or remove `server`",
                    raw.dialect,
                    match raw.dialect {
                        Dialect::Mysql => "mysql or mariadb",
                        Dialect::Postgres => "postgres",
                        Dialect::Sqlite => "SQLite class has no",
                    }
                ));
            }
        }
        Ok(ClassSpec {
            dialect: raw.dialect,
            server: raw.server,
        })
    }
}

/// Which database server: the flavour and its version (`mysql 8.0`, `mariadb 10.11`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Server {
    pub flavour: Flavour,
    pub version: ServerVersion,
}

/// A database server product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavour {
    Mysql,
    Mariadb,
    Postgres,
}

impl Flavour {
    /// The dialect the server speaks.
    pub fn dialect(self) -> Dialect {
        match self {
            Flavour::Mysql | Flavour::Mariadb => Dialect::Mysql,
            Flavour::Postgres => Dialect::Postgres,
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flavour::Mysql => "mysql",
            Flavour::Mariadb => "mariadb",
            Flavour::Postgres => "postgres",
        })
    }
}

/// A server's major and minor version (`10.11`; `16` is `16.0`): what decides which statements
/// and algorithms it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerVersion {
    pub major: u32,
    pub minor: u32,
}

impl ServerVersion {
    pub const fn new(major: u32, minor: u32) -> ServerVersion {
        ServerVersion { major, minor }
    }
}

impl fmt::Display for ServerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Server {
    pub fn is(&self, flavour: Flavour) -> bool {
        self.flavour == flavour
    }

    /// Whether this is `flavour` at `major.minor` or later.
    pub fn at_least(&self, flavour: Flavour, major: u32, minor: u32) -> bool {
        self.flavour == flavour && self.version >= ServerVersion::new(major, minor)
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // PostgreSQL 10 and later name a release by its major version alone.
        if self.flavour == Flavour::Postgres && self.version.major >= 10 {
            write!(f, "{} {}", self.flavour, self.version.major)
        } else {
            write!(f, "{} {}", self.flavour, self.version)
        }
    }
}

const SERVER_FORMAT: &str = "write `server = \"<flavour> <major>[.<minor>]\"` with flavour mysql, \
                             mariadb or postgres, e.g. \"mysql 8.0\", \"mariadb 10.11\", \"postgres 16\"";

impl FromStr for Server {
    type Err = String;

    fn from_str(text: &str) -> Result<Server, String> {
        let bad = |why: &str| format!("`server = \"{text}\"`: {why}; {SERVER_FORMAT}");
        let mut words = text.split_whitespace();
        let (Some(flavour), Some(version), None) = (words.next(), words.next(), words.next())
        else {
            return Err(bad("expected a flavour and a version"));
        };
        let flavour = match flavour.to_ascii_lowercase().as_str() {
            "mysql" => Flavour::Mysql,
            "mariadb" => Flavour::Mariadb,
            "postgres" | "postgresql" => Flavour::Postgres,
            _ => return Err(bad(&format!("unknown flavour `{flavour}`"))),
        };
        let mut parts = version.split('.');
        let number = |part: Option<&str>| part.map(|p| p.parse::<u32>().ok());
        let (Some(Some(major)), minor, patch, None) = (
            number(parts.next()),
            number(parts.next()),
            number(parts.next()),
            parts.next(),
        ) else {
            return Err(bad(&format!("`{version}` is not a version")));
        };
        if minor == Some(None) || patch == Some(None) {
            return Err(bad(&format!("`{version}` is not a version")));
        }
        Ok(Server {
            flavour,
            version: ServerVersion::new(major, minor.flatten().unwrap_or(0)),
        })
    }
}

impl TryFrom<String> for Server {
    type Error = String;

    fn try_from(text: String) -> Result<Server, String> {
        text.parse()
    }
}

impl From<Server> for String {
    fn from(server: Server) -> String {
        server.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(toml_text: &str) -> Result<ClassSpec, String> {
        toml::from_str::<ClassSpec>(toml_text).map_err(|e| e.to_string())
    }

    #[test]
    fn servers_are_read_with_their_version() {
        let spec = class("dialect = \"mysql\"\nserver = \"mysql 8.0\"").unwrap();
        let server = spec.server.unwrap();
        assert_eq!(server.flavour, Flavour::Mysql);
        assert_eq!(server.version, ServerVersion::new(8, 0));
        assert!(server.at_least(Flavour::Mysql, 8, 0));
        assert!(!server.at_least(Flavour::Mariadb, 8, 0));
        let maria: Server = "MariaDB 10.11.6".parse().unwrap();
        assert_eq!(maria.to_string(), "mariadb 10.11");
        let pg: Server = "postgres 16".parse().unwrap();
        assert_eq!(pg.version, ServerVersion::new(16, 0));
        assert_eq!(pg.to_string(), "postgres 16");
        assert_eq!(class("dialect = \"sqlite\"").unwrap().server, None);
    }

    #[test]
    fn bad_servers_name_the_key_and_the_form() {
        for (text, why) in [
            ("oracle 19", "unknown flavour `oracle`"),
            ("mysql", "expected a flavour and a version"),
            ("mysql eight", "`eight` is not a version"),
            ("mysql 8.", "`8.` is not a version"),
            ("mysql 8.0.1.2", "`8.0.1.2` is not a version"),
        ] {
            let err = text.parse::<Server>().unwrap_err();
            assert!(
                err.starts_with(&format!("`server = \"{text}\"`: {why}; ")),
                "{err}"
            );
            assert!(err.contains("\"mariadb 10.11\""), "{err}");
        }
        let err = class("dialect = \"mysql\"\nserver = \"oracle 19\"").unwrap_err();
        assert!(
            err.contains("`server = \"oracle 19\"`: unknown flavour"),
            "{err}"
        );
    }

    #[test]
    fn a_server_of_another_dialect_is_refused() {
        let err = class("dialect = \"mysql\"\nserver = \"postgres 16\"").unwrap_err();
        assert!(
            err.contains("`server = \"postgres 16\"` is not a `dialect = \"mysql\"` server"),
            "{err}"
        );
        assert!(class("dialect = \"postgres\"\nserver = \"postgres 16\"").is_ok());
        assert!(class("dialect = \"mysql\"\nserver = \"mariadb 11.4\"").is_ok());
        let err = class("dialect = \"mysql\"\nsevrer = \"mysql 8.0\"").unwrap_err();
        assert!(err.contains("sevrer"), "{err}");
    }
}
