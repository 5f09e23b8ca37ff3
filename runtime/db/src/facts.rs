//! What a database server says about itself: its version and the settings that change how the
//! same SQL behaves (SQL mode, `lower_case_table_names`, character set and collation, time
//! zone). The runtime records them in every run's environment fingerprint, and preflight checks
//! a class's `[requirements.servers]` range against the version.
//!
//! Each backend answers [`Connection::server_facts`](crate::Connection::server_facts) with one
//! query of its own ([`read`]); the facts are plain text, compared as they are.

use std::collections::BTreeMap;

use crate::{backend_error, Connection, DbError};

/// A server's version and behaviour-changing settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// `sqlite`, `mariadb`, `mysql` or `postgres`.
    pub engine: String,
    /// As the server reports it (`SELECT VERSION()`, `server_version`, `sqlite_version()`).
    pub version: String,
    /// Setting name → value, e.g. `sql_mode`, `lower_case_table_names`, `collation`.
    pub settings: BTreeMap<String, String>,
}

impl ServerFacts {
    /// The release line that decides behaviour: `10.11` (MariaDB/MySQL, whose minor versions are
    /// separate release series), `15` (PostgreSQL), `3` (SQLite).
    pub fn major(&self) -> String {
        let parts = bascule_patch::found_version(&self.version)
            .map(|v| (v.major, v.minor))
            .unwrap_or_default();
        match self.engine.as_str() {
            "mariadb" | "mysql" => format!("{}.{}", parts.0, parts.1),
            _ => parts.0.to_string(),
        }
    }
}

/// Runs `sql`, one row whose first column is the version and the others `settings`, in order.
pub(crate) fn read<C: Connection + ?Sized>(
    conn: &mut C,
    db: &str,
    engine: impl Fn(&str) -> &'static str,
    sql: &str,
    settings: &[&str],
) -> Result<ServerFacts, DbError> {
    let rows = conn.query_rows(sql)?;
    let row = rows
        .into_iter()
        .next()
        .ok_or_else(|| backend_error(db, format!("server facts: `{sql}` returned no row")))?;
    let mut values = row.into_iter();
    let version = values.next().unwrap_or_default();
    let settings = settings
        .iter()
        .map(|name| (name.to_string(), values.next().unwrap_or_default()))
        .collect();
    Ok(ServerFacts {
        engine: engine(&version).to_string(),
        version,
        settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(engine: &str, version: &str) -> ServerFacts {
        ServerFacts {
            engine: engine.into(),
            version: version.into(),
            settings: BTreeMap::new(),
        }
    }

    #[test]
    fn the_major_version_is_each_engine_s_release_line() {
        assert_eq!(
            facts("mariadb", "10.11.6-MariaDB-0+deb12u1").major(),
            "10.11"
        );
        assert_eq!(facts("mysql", "8.0.36").major(), "8.0");
        assert_eq!(
            facts("postgres", "15.10 (Debian 15.10-0+deb12u1)").major(),
            "15"
        );
        assert_eq!(facts("sqlite", "3.46.0").major(), "3");
    }

    #[test]
    fn sqlite_reports_its_version_and_encoding() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        rusqlite::Connection::open(&path).unwrap();
        let mut conn = crate::sqlite::SqliteConnection::open("t/a", &path).unwrap();
        let facts = conn.server_facts().unwrap();
        assert_eq!(facts.engine, "sqlite");
        assert_eq!(facts.version, rusqlite::version());
        assert_eq!(facts.settings["encoding"], "UTF-8");
        for key in facts.settings.keys() {
            assert!(bascule_patch::DB_FACTS.contains(&key.as_str()), "{key}");
        }
    }
}
