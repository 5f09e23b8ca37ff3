//! Where the databases of a class are: `[databases.<class>]` of the host profile, and how they
//! are found (files by path and glob; databases or schemas of one or several servers, by name,
//! `LIKE` pattern or a query on the main database).
//!
//! # In the host profile
//!
//! ```toml
//! [databases.site]                 # SQLite: files
//! engine = "sqlite"
//! glob = "data/sites/*.sqlite"     # and/or paths = [...]
//!
//! [databases.site]                 # MariaDB/MySQL or PostgreSQL: databases of a server
//! engine = "mysql"
//! url = "mysql://root@127.0.0.1:3306"
//! pattern = "site_%"               # SQL LIKE, and/or databases = ["site_0001", ...]
//!
//! [databases.site]                 # PostgreSQL: schemas of one database
//! engine = "postgres"
//! url = "postgres://app@127.0.0.1:5432"
//! database = "platform"
//! pattern = "site_%"               # and/or schemas = [...]
//!
//! [databases.site]                 # tenants spread over shards, listed by the main database
//! engine = "mysql"
//! urls = ["mysql://app@db1:3306", "mysql://app@db2:3306"]
//! query = "SELECT db_name FROM sites WHERE active"   # run on class `main` (`query_on`)
//! workers = 4                      # per server (default: 4 per server, cores for SQLite)
//! adopt = { table = "db_version", column = "version" }   # the platform's own counter, or
//! # adopt = { tool = "flyway" }    # another tool's history (dbmate, golang-migrate, sqitch, liquibase)
//! allow_empty = true               # finding no database is not an error (default: it is)
//! password_file = "/etc/bascule/db.password"   # or password_env = "DB_PASSWORD" (see credentials)
//! lock_timeout = "10s"             # the migration sessions' limits, over the patch's [timeouts]
//! statement_timeout = "off"        # (see crate::timeouts); idle_in_transaction_timeout too
//! ```
//!
//! Names come from `databases`/`schemas`, `pattern` (asked of every server) and `query` (the
//! first column of its rows, run on the one database of class `query_on`, default `main`). With
//! several servers, each named database is looked up on all of them: it must be on exactly one.
//!
//! A field that does not fit the engine is refused when the profile is loaded, so a profile
//! never silently ignores what its author wrote. A discovery that finds no database at all is
//! an error unless the class says `allow_empty = true`: a typo in a `pattern` or a `glob` must
//! not let a run install new code over tenants it never saw, and record the new version.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bascule_patch::{Dialect, Timeout, TimeoutSettings};
use serde::Deserialize;

use crate::{self as db, DbError, DbTarget, Location};

/// Why the databases of a class could not be found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// The profile does not say where they are, or says it in a way that cannot work.
    #[error("{0}")]
    Invalid(String),
    /// A server did not answer the listing.
    #[error("databases.{class}: cannot list its databases: {source}")]
    Db { class: String, source: Box<DbError> },
}

/// How the databases of one class are found on this host.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseClass {
    pub engine: Dialect,
    /// Explicit database files.
    #[serde(default)]
    pub paths: Vec<PathBuf>,
    /// A glob matching database files, e.g. `data/sites/*.sqlite`.
    #[serde(default)]
    pub glob: Option<String>,
    /// MariaDB/MySQL and PostgreSQL: the server, e.g. `mysql://root@127.0.0.1:3306`.
    #[serde(default)]
    pub url: Option<String>,
    /// Explicit database names on the server.
    #[serde(default)]
    pub databases: Vec<String>,
    /// A SQL `LIKE` pattern of database names (of schema names, with `database`), e.g. `site_%`.
    #[serde(default)]
    pub pattern: Option<String>,
    /// PostgreSQL with one schema per tenant: the database that holds the schemas.
    #[serde(default)]
    pub database: Option<String>,
    /// PostgreSQL with one schema per tenant: explicit schema names.
    #[serde(default)]
    pub schemas: Vec<String>,
    /// Databases migrated at once per server; defaults to 4 per server (the number of cores
    /// for SQLite files).
    #[serde(default)]
    pub workers: Option<usize>,
    /// Several servers (shards) holding the class's databases; with `url`, one more.
    #[serde(default)]
    pub urls: Vec<String>,
    /// A query whose first column lists the databases (or schemas), run on class `query_on`.
    #[serde(default)]
    pub query: Option<String>,
    /// The class whose (single) database answers `query`; default `main`.
    #[serde(default)]
    pub query_on: Option<String>,
    /// Where a database without a version table yet starts: the platform's own version counter
    /// (`{ table, column }`) or another migration tool's history (`{ tool = "flyway" }`, see
    /// [`crate::adopt`]).
    #[serde(default)]
    pub adopt: Option<crate::AdoptSpec>,
    /// Whether finding no database of this class is normal (a class whose tenants are yet to
    /// come); otherwise it is an error, the symptom of a mistyped `pattern` or `glob`.
    #[serde(default)]
    pub allow_empty: bool,
    /// A file holding the servers' password (first line; readable by its owner only), put into
    /// the urls when the profile is loaded (see [`crate::credentials`]).
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the servers' password, likewise.
    #[serde(default)]
    pub password_env: Option<String>,
    /// How long a migration waits for a lock, over the patch's `[timeouts]` (see
    /// [`crate::timeouts`]).
    #[serde(default)]
    pub lock_timeout: Option<Timeout>,
    /// How long one migration statement may run, over the patch's `[timeouts]`.
    #[serde(default)]
    pub statement_timeout: Option<Timeout>,
    /// PostgreSQL: how long a migration session may sit idle in a transaction, likewise.
    #[serde(default)]
    pub idle_in_transaction_timeout: Option<Timeout>,
}

/// Every database of `class` on this host, sorted by name, so runs are repeatable.
pub fn discover(
    classes: &BTreeMap<String, DatabaseClass>,
    class: &str,
) -> Result<Vec<DbTarget>, DiscoveryError> {
    let invalid = DiscoveryError::Invalid;
    let spec = classes.get(class).ok_or_else(|| {
        invalid(format!(
            "the patch migrates database class `{class}`, but this host profile has no [databases.{class}]"
        ))
    })?;
    let discover_error = |source: DbError| DiscoveryError::Db {
        class: class.to_string(),
        source: Box::new(source),
    };
    let listed = match &spec.query {
        Some(query) => query_names(classes, class, spec, query)?,
        None => Vec::new(),
    };
    let found = match spec.engine {
        Dialect::Sqlite => spec.discover_files(class).map_err(invalid)?,
        Dialect::Mysql | Dialect::Postgres => spec
            .discover_on_server(class, listed)
            .map_err(discover_error)?,
    };
    if found.is_empty() && !spec.allow_empty {
        return Err(invalid(format!(
            "databases.{class}: no database found ({}). Fix the profile if that is a mistake; \
             if this class truly has no database yet, set `allow_empty = true` in [databases.{class}]",
            spec.searched()
        )));
    }
    Ok(found)
}

/// The names `query` returns (first column), run on the one database of class `query_on`.
fn query_names(
    classes: &BTreeMap<String, DatabaseClass>,
    class: &str,
    spec: &DatabaseClass,
    query: &str,
) -> Result<Vec<String>, DiscoveryError> {
    let on = spec.query_on.as_deref().unwrap_or("main");
    let invalid = DiscoveryError::Invalid;
    if on == class {
        return Err(invalid(format!(
            "databases.{class}.query runs on class `{on}`, the class it lists: set `query_on` to the class of the main database"
        )));
    }
    let targets = discover(classes, on)?;
    let [main] = targets.as_slice() else {
        return Err(invalid(format!(
            "databases.{class}.query runs on class `{on}`, which has {} databases: it needs exactly one",
            targets.len()
        )));
    };
    let rows = db::connect(main)
        .and_then(|mut conn| conn.query_rows(query))
        .map_err(|source| DiscoveryError::Db {
            class: class.to_string(),
            source: Box::new(source),
        })?;
    Ok(rows
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|name| name != "NULL" && !name.is_empty())
        .collect())
}

impl DatabaseClass {
    /// Refuses fields that do not fit the engine, and a class that says nothing of where its
    /// databases are.
    pub fn check_fields(&self) -> Result<(), String> {
        let set = |present: bool, field: &'static str| present.then_some(field);
        let file_fields = [
            set(!self.paths.is_empty(), "paths"),
            set(self.glob.is_some(), "glob"),
        ];
        let server_fields = [
            set(self.url.is_some(), "url"),
            set(self.password_file.is_some(), "password_file"),
            set(self.password_env.is_some(), "password_env"),
            set(!self.urls.is_empty(), "urls"),
            set(!self.databases.is_empty(), "databases"),
            set(self.pattern.is_some(), "pattern"),
            set(self.query.is_some(), "query"),
            set(self.query_on.is_some(), "query_on"),
        ];
        let timeout_fields = [
            set(self.lock_timeout.is_some(), "lock_timeout"),
            set(self.statement_timeout.is_some(), "statement_timeout"),
            set(
                self.idle_in_transaction_timeout.is_some(),
                "idle_in_transaction_timeout",
            ),
        ];
        let schema_fields = [
            set(self.database.is_some(), "database"),
            set(!self.schemas.is_empty(), "schemas"),
        ];
        let refuse =
            |fields: &[Option<&'static str>], why: &str| match fields.iter().flatten().next() {
                Some(field) => Err(format!(
                    "`{field}` does not apply to engine `{}`: {why}",
                    self.engine
                )),
                None => Ok(()),
            };
        match self.engine {
            Dialect::Sqlite => {
                refuse(
                    &server_fields,
                    "SQLite databases are files; use `paths` or `glob`",
                )?;
                refuse(
                    &schema_fields,
                    "SQLite databases are files; use `paths` or `glob`",
                )?;
                refuse(
                    &timeout_fields,
                    "SQLite has no lock or statement timeouts to set; remove it",
                )?;
                if self.paths.is_empty() && self.glob.is_none() {
                    return Err(
                        "say where its databases are, with `paths = [...]` or `glob = \"...\"`"
                            .into(),
                    );
                }
            }
            Dialect::Mysql | Dialect::Postgres => {
                self.timeouts().validate()?;
                if self.engine == Dialect::Mysql && self.idle_in_transaction_timeout.is_some() {
                    return Err(
                        "`idle_in_transaction_timeout` does not apply to engine `mysql`: \
                                MariaDB/MySQL have no such limit; remove it"
                            .into(),
                    );
                }
                refuse(
                    &file_fields,
                    "its databases live on a server; use `url` with `databases` or `pattern`",
                )?;
                if self.engine == Dialect::Mysql {
                    refuse(
                        &schema_fields,
                        "MariaDB/MySQL has no schemas inside a database; list `databases` or a `pattern`",
                    )?;
                }
                if self.url.is_none() && self.urls.is_empty() {
                    return Err(format!(
                        "engine `{}` needs `url` (or `urls`), the server, e.g. `{}://user@127.0.0.1:{}`",
                        self.engine,
                        self.engine,
                        if self.engine == Dialect::Mysql {
                            3306
                        } else {
                            5432
                        }
                    ));
                }
                if self.database.is_some() && !self.databases.is_empty() {
                    return Err("with `database` the tenants are its schemas: list them with `schemas`, not `databases`".into());
                }
                if !self.schemas.is_empty() && self.database.is_none() {
                    return Err("`schemas` needs `database`, the database that holds them".into());
                }
                if self.databases.is_empty()
                    && self.schemas.is_empty()
                    && self.pattern.is_none()
                    && self.query.is_none()
                {
                    return Err("say which databases to migrate, with `databases = [...]`, `schemas = [...]`, `pattern = \"site_%\"` or `query = \"SELECT ...\"`".into());
                }
            }
        }
        Ok(())
    }

    /// What this class says of the migration sessions' limits (see [`crate::timeouts`]).
    pub fn timeouts(&self) -> TimeoutSettings {
        TimeoutSettings {
            lock_timeout: self.lock_timeout,
            statement_timeout: self.statement_timeout,
            idle_in_transaction_timeout: self.idle_in_transaction_timeout,
        }
    }

    /// SQLite: the files of `paths` and `glob`.
    fn discover_files(&self, class: &str) -> Result<Vec<DbTarget>, String> {
        let mut files: Vec<PathBuf> = self.paths.clone();
        if let Some(pattern) = &self.glob {
            // A hidden file is never a tenant (an editor's swap file, the undo's reserved room):
            // `*` matches only names that do not start with a dot, as in a shell.
            let options = glob::MatchOptions {
                require_literal_leading_dot: true,
                ..glob::MatchOptions::new()
            };
            let paths = glob::glob_with(pattern, options)
                .map_err(|e| format!("databases.{class}.glob: {e}"))?;
            for path in paths {
                files.push(path.map_err(|e| format!("databases.{class}.glob: {e}"))?);
            }
        }
        files.sort();
        files.dedup();
        Ok(files
            .into_iter()
            .map(|path| DbTarget {
                class: class.to_string(),
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                location: Location::SqliteFile(path),
            })
            .collect())
    }

    /// Where discovery looked, for the message that says it found nothing; no password.
    fn searched(&self) -> String {
        let mut places = Vec::new();
        if !self.paths.is_empty() {
            places.push(format!("{} path(s) in `paths`", self.paths.len()));
        }
        if let Some(glob) = &self.glob {
            places.push(format!("glob `{glob}` matched no file"));
        }
        let servers: Vec<String> = self
            .servers()
            .iter()
            .map(|u| crate::redact_url(u))
            .collect();
        if let Some(pattern) = &self.pattern {
            places.push(format!("pattern `{pattern}` on {}", servers.join(", ")));
        }
        if self.query.is_some() {
            places.push("`query` returned no row".to_string());
        }
        places.join("; ")
    }

    /// Reads the class's `password_file` or `password_env` and puts the password into each of
    /// its urls (see [`crate::credentials`]). `class` names it in errors, which never show the
    /// password.
    pub fn resolve_password(&mut self, class: &str) -> Result<(), String> {
        let Some(password) = crate::credentials::password_from(
            class,
            self.password_file.as_deref(),
            self.password_env.as_deref(),
        )?
        else {
            return Ok(());
        };
        let with = |url: &String| {
            crate::credentials::url_with_password(url, &password)
                .map_err(|what| format!("databases.{class}: {what}"))
        };
        self.url = self.url.as_ref().map(with).transpose()?;
        self.urls = self.urls.iter().map(with).collect::<Result<_, _>>()?;
        Ok(())
    }

    /// The servers of the class: `url` then `urls`.
    pub fn servers(&self) -> Vec<String> {
        self.url.iter().chain(&self.urls).cloned().collect()
    }

    /// MariaDB/MySQL and PostgreSQL: the listed databases (or schemas), those `query` returned
    /// (`listed`) and those matching `pattern` on every server, each on the server holding it.
    fn discover_on_server(
        &self,
        class: &str,
        listed: Vec<String>,
    ) -> Result<Vec<DbTarget>, DbError> {
        let servers = self.servers();
        let mut wanted: Vec<String> = match &self.database {
            Some(_) => self.schemas.clone(),
            None => self.databases.clone(),
        };
        wanted.extend(listed);
        wanted.sort();
        wanted.dedup();
        let mut found: Vec<(String, String)> = Vec::new();
        if let [only] = servers.as_slice() {
            found.extend(wanted.iter().map(|name| (name.clone(), only.clone())));
        } else if !wanted.is_empty() {
            found.extend(self.locate(&servers, &wanted)?);
        }
        if let Some(pattern) = &self.pattern {
            for url in &servers {
                let names = self.list(url, pattern)?;
                found.extend(names.into_iter().map(|name| (name, url.clone())));
            }
        }
        found.sort();
        found.dedup();
        if let Some(pair) = found.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(crate::backend_error(
                &format!("databases.{class}"),
                format!(
                    "`{}` is on two servers ({} and {}): a tenant must live on exactly one",
                    pair[0].0,
                    crate::redact_url(&pair[0].1),
                    crate::redact_url(&pair[1].1)
                ),
            ));
        }
        Ok(found
            .into_iter()
            .map(|(name, url)| DbTarget {
                class: class.to_string(),
                location: match (self.engine, &self.database) {
                    (Dialect::Postgres, Some(database)) => Location::Postgres {
                        url,
                        database: database.clone(),
                        schema: Some(name.clone()),
                    },
                    (Dialect::Postgres, None) => Location::Postgres {
                        url,
                        database: name.clone(),
                        schema: None,
                    },
                    _ => Location::Mysql {
                        url,
                        database: name.clone(),
                    },
                },
                name,
            })
            .collect())
    }

    /// Names on the server at `url` matching the `LIKE` pattern.
    fn list(&self, url: &str, pattern: &str) -> Result<Vec<String>, DbError> {
        match (self.engine, &self.database) {
            (Dialect::Postgres, Some(database)) => {
                crate::postgres::list_schemas(url, database, pattern)
            }
            (Dialect::Postgres, None) => crate::postgres::list_databases(url, pattern),
            _ => crate::mysql::list_databases(url, pattern),
        }
    }

    /// Each of `names` with the one server of `servers` that has it.
    fn locate(
        &self,
        servers: &[String],
        names: &[String],
    ) -> Result<Vec<(String, String)>, DbError> {
        let mut found = Vec::new();
        for url in servers {
            let on_server = self.list(url, "%")?;
            found.extend(
                names
                    .iter()
                    .filter(|n| on_server.binary_search(n).is_ok())
                    .map(|n| (n.clone(), url.clone())),
            );
        }
        if let Some(lost) = names.iter().find(|n| !found.iter().any(|(f, _)| f == *n)) {
            return Err(crate::backend_error(
                lost,
                format!(
                    "not found on any of the {} servers of the class ({})",
                    servers.len(),
                    servers
                        .iter()
                        .map(|u| crate::redact_url(u))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_glob_finds_the_tenants_and_never_a_hidden_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.sqlite",
            "b.sqlite",
            ".b.sqlite.swp",
            ".bascule-undo-reserve",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let class: DatabaseClass = toml::from_str(&format!(
            "engine = \"sqlite\"\nglob = \"{}/*\"\n",
            dir.path().display()
        ))
        .unwrap();
        let names: Vec<String> = class
            .discover_files("site")
            .unwrap()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn the_timeouts_of_a_class_are_checked_when_the_profile_is_loaded() {
        let check = |fields: &str| -> Result<(), String> {
            let class: DatabaseClass = toml::from_str(fields).map_err(|e| e.to_string())?;
            class.check_fields()
        };
        let server = "engine = \"postgres\"\nurl = \"postgres://u@h\"\npattern = \"s%\"\n";
        assert_eq!(check(&format!("{server}lock_timeout = \"2s\"")), Ok(()));
        for (extra, expected) in [
            ("lock_timeout = \"off\"", "lock_timeout cannot be \"off\""),
            ("lock_timeout = 5", "`5` has no unit"),
            ("statement_timeout = \"soon\"", "`soon` is not a duration"),
        ] {
            let err = check(&format!("{server}{extra}")).unwrap_err();
            assert!(err.contains(expected), "{extra}: {err}");
        }
        let err = check(
            "engine = \"mysql\"\nurl = \"mysql://u@h\"\npattern = \"s%\"\n\
             idle_in_transaction_timeout = \"1min\"",
        )
        .unwrap_err();
        assert!(err.contains("does not apply to engine `mysql`"), "{err}");
        let err =
            check("engine = \"sqlite\"\npaths = [\"a.db\"]\nlock_timeout = \"2s\"").unwrap_err();
        assert!(
            err.contains("SQLite has no lock or statement timeouts"),
            "{err}"
        );
    }
}
