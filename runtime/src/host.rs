//! The host profile (`/etc/bascule/host.toml` by default): where things are on *this* host.
//!
//! The same schema describes a rehearsal VM and a production host; that is what makes a rehearsal
//! ISO-prod. Relative paths are relative to the directory of the profile itself.
//!
//! # Where a class's databases are
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
//! adopt = { table = "db_version", column = "version" }   # the platform's own counter
//! ```
//!
//! Names come from `databases`/`schemas`, `pattern` (asked of every server) and `query` (the
//! first column of its rows, run on the one database of class `query_on`, default `main`). With
//! several servers, each named database is looked up on all of them: it must be on exactly one.
//!
//! A field that does not fit the engine is refused when the profile is loaded, so a profile
//! never silently ignores what its author wrote.
//!
//! # TLS to the servers
//!
//! The server url says whether the connection is encrypted; without a TLS parameter it is not
//! (as before TLS support). A url asking for TLS never falls back to clear text, and the
//! server's certificate is always verified — chain and host name — against the built-in web
//! roots plus, given one, a CA file (the usual case for internal servers: a private CA).
//!
//! ```toml
//! url = "mysql://app@db1:3306?root_cert_path=/etc/bascule/db-ca.pem"   # TLS, trusting that CA
//! url = "mysql://app@db1:3306?require_ssl=true"                         # TLS, built-in roots only
//! url = "postgres://app@db1:5432?sslmode=require&sslrootcert=/etc/bascule/db-ca.pem"
//! url = "postgres://app@db1:5432?sslmode=require"                       # built-in roots only
//! ```
//!
//! - MariaDB/MySQL: `require_ssl=true`, or any TLS parameter of the `mysql` crate, requires TLS:
//!   `root_cert_path` (CA file, PEM or DER), `cert_chain_path` + `priv_key_path` (a client
//!   certificate), `cipher_suites`, and the escape hatches `danger_skip_domain_validation=true`,
//!   `danger_accept_invalid_certs=true`. With TLS, a url naming 127.0.0.1 stays on TCP instead of
//!   switching to the server's unix socket (`prefer_socket=true` switches anyway).
//! - PostgreSQL (libpq names): `sslmode=disable | prefer | require | verify-full` and
//!   `sslrootcert=<CA file, PEM>`, which alone implies `require`; `sslnegotiation=direct`
//!   (PostgreSQL 17) is honoured. Unlike libpq, `prefer` and `require` verify the certificate
//!   (`require` = `verify-full`); `verify-ca` and `allow` are refused.
//!
//! Paths in urls are percent-decoded (`%20` for a space). A server that does not offer TLS when
//! the url requires it, or whose certificate is not trusted, fails the run before anything runs,
//! with the reason and the parameter to fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::db::{self, DbError, DbTarget, Location};
use crate::patch::Dialect;

pub const DEFAULT_PROFILE: &str = "/etc/bascule/host.toml";

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{path}: cannot read the host profile: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Toml {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
    #[error("{path}: databases.{class}: cannot list its databases: {source}")]
    Discover {
        path: PathBuf,
        class: String,
        source: Box<DbError>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    platform: PlatformSection,
    #[serde(default)]
    sampling: Option<crate::sampling::HostSampling>,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseClass>,
    #[serde(default)]
    services: Vec<crate::services::ServiceSpec>,
    #[serde(default)]
    maintenance: Option<crate::maintenance::MaintenanceSpec>,
    #[serde(default)]
    caches: crate::steps::purge_caches::CacheSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformSection {
    root: PathBuf,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    #[serde(default = "default_keep")]
    keep_releases: usize,
    #[serde(default)]
    shared: Vec<PathBuf>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/bascule")
}

fn default_keep() -> usize {
    3
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
    /// The platform's own version counter, read when a database has no version table yet.
    #[serde(default)]
    pub adopt: Option<db::Adopt>,
}

/// A loaded, resolved host profile.
#[derive(Debug, Clone)]
pub struct HostProfile {
    pub path: PathBuf,
    /// `[sampling]`: where the sites answer and which are sampled (see `sampling`).
    pub sampling: Option<crate::sampling::HostSampling>,
    /// The platform root: `releases/`, `current`, `shared/`.
    pub root: PathBuf,
    /// Where Bascule keeps its lock, the platform version and the runs.
    pub state_dir: PathBuf,
    /// Releases kept by `finish`, the current one included (at least 2, so rollback has its target).
    pub keep_releases: usize,
    /// Paths, relative to a release, linked to `shared/<path>` so they survive releases.
    pub shared: Vec<PathBuf>,
    pub databases: BTreeMap<String, DatabaseClass>,
    /// `[[services]]`, in stopping order (started in reverse): see `services`.
    pub services: Vec<crate::services::ServiceSpec>,
    /// `[maintenance]`: see `maintenance`.
    pub maintenance: Option<crate::maintenance::MaintenanceSpec>,
    /// `[caches]`: see `steps::purge_caches`.
    pub caches: crate::steps::purge_caches::CacheSpec,
}

impl HostProfile {
    pub fn load(path: &Path) -> Result<HostProfile, HostError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ProfileFile = toml::from_str(&text).map_err(|source| HostError::Toml {
            path: path.to_path_buf(),
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let invalid = |what: String| HostError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        if file.platform.keep_releases < 2 {
            return Err(invalid(
                "platform.keep_releases must be at least 2: rollback needs the previous release"
                    .into(),
            ));
        }
        for shared in &file.platform.shared {
            if shared.is_absolute() || shared.components().any(|c| c.as_os_str() == "..") {
                return Err(invalid(format!(
                    "platform.shared: `{}` must be a path inside a release (relative, no `..`)",
                    shared.display()
                )));
            }
        }
        let mut databases = file.databases;
        for (class, spec) in databases.iter_mut() {
            spec.check_fields()
                .map_err(|what| invalid(format!("databases.{class}: {what}")))?;
            spec.paths = spec.paths.iter().map(|p| resolve(p)).collect();
            spec.glob = spec
                .glob
                .as_ref()
                .map(|g| resolve(Path::new(g)).to_string_lossy().into_owned());
        }
        if let Some(sampling) = &file.sampling {
            sampling.check().map_err(invalid)?;
        }
        let (services, maintenance, caches) =
            resolve_operations(base, file.services, file.maintenance, file.caches)
                .map_err(invalid)?;
        Ok(HostProfile {
            path: path.to_path_buf(),
            sampling: file.sampling,
            root: resolve(&file.platform.root),
            state_dir: resolve(&file.platform.state_dir),
            keep_releases: file.platform.keep_releases,
            shared: file.platform.shared,
            databases,
            services,
            maintenance,
            caches,
        })
    }

    /// The profile's directory: relative paths and the host's commands start from it.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The `[[services]]` entry named `name`.
    pub fn service(&self, name: &str) -> Result<&crate::services::ServiceSpec, HostError> {
        self.services
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| HostError::Invalid {
                path: self.path.clone(),
                what: format!(
                    "no [[services]] entry is named `{name}`, but the run's journal names it; \
                     restore it in the host profile, then run again"
                ),
            })
    }

    pub fn releases_dir(&self) -> PathBuf {
        self.root.join("releases")
    }

    pub fn current_link(&self) -> PathBuf {
        self.root.join("current")
    }

    pub fn shared_dir(&self) -> PathBuf {
        self.root.join("shared")
    }

    /// Every database of `class` on this host, sorted by name, so runs are repeatable.
    pub fn discover(&self, class: &str) -> Result<Vec<DbTarget>, HostError> {
        let invalid = |what: String| HostError::Invalid {
            path: self.path.clone(),
            what,
        };
        let spec = self.databases.get(class).ok_or_else(|| {
            invalid(format!(
                "the patch migrates database class `{class}`, but this host profile has no [databases.{class}]"
            ))
        })?;
        let discover_error = |source: DbError| HostError::Discover {
            path: self.path.clone(),
            class: class.to_string(),
            source: Box::new(source),
        };
        let listed = match &spec.query {
            Some(query) => self.query_names(class, spec, query)?,
            None => Vec::new(),
        };
        match spec.engine {
            Dialect::Sqlite => spec.discover_files(class).map_err(invalid),
            Dialect::Mysql | Dialect::Postgres => spec
                .discover_on_server(class, listed)
                .map_err(discover_error),
        }
    }

    /// The names `query` returns (first column), run on the one database of class `query_on`.
    fn query_names(
        &self,
        class: &str,
        spec: &DatabaseClass,
        query: &str,
    ) -> Result<Vec<String>, HostError> {
        let on = spec.query_on.as_deref().unwrap_or("main");
        let invalid = |what: String| HostError::Invalid {
            path: self.path.clone(),
            what,
        };
        if on == class {
            return Err(invalid(format!(
                "databases.{class}.query runs on class `{on}`, the class it lists: set `query_on` to the class of the main database"
            )));
        }
        let targets = self.discover(on)?;
        let [main] = targets.as_slice() else {
            return Err(invalid(format!(
                "databases.{class}.query runs on class `{on}`, which has {} databases: it needs exactly one",
                targets.len()
            )));
        };
        let rows = db::connect(main)
            .and_then(|mut conn| conn.query_rows(query))
            .map_err(|source| HostError::Discover {
                path: self.path.clone(),
                class: class.to_string(),
                source: Box::new(source),
            })?;
        Ok(rows
            .into_iter()
            .filter_map(|row| row.into_iter().next())
            .filter(|name| name != "NULL" && !name.is_empty())
            .collect())
    }

    /// Workers per server for `class` (`workers`, else 4 per server; SQLite: the cores).
    pub fn workers(&self, class: &str) -> usize {
        let spec = self.databases.get(class);
        let default = match spec.map(|c| c.engine) {
            Some(Dialect::Mysql | Dialect::Postgres) => 4,
            _ => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        spec.and_then(|c| c.workers).unwrap_or(default).max(1)
    }
}

/// Checks and resolves `[[services]]`, `[maintenance]` and `[caches]` against the profile's
/// directory.
#[allow(clippy::type_complexity)]
fn resolve_operations(
    base: &Path,
    mut services: Vec<crate::services::ServiceSpec>,
    mut maintenance: Option<crate::maintenance::MaintenanceSpec>,
    mut caches: crate::steps::purge_caches::CacheSpec,
) -> Result<
    (
        Vec<crate::services::ServiceSpec>,
        Option<crate::maintenance::MaintenanceSpec>,
        crate::steps::purge_caches::CacheSpec,
    ),
    String,
> {
    for service in services.iter_mut() {
        service.check_and_resolve(base)?;
    }
    for (i, service) in services.iter().enumerate() {
        if services[..i].iter().any(|s| s.name == service.name) {
            return Err(format!("services: `{}` is listed twice", service.name));
        }
    }
    if let Some(spec) = maintenance.as_mut() {
        spec.check_and_resolve(base)?;
    }
    caches.check_and_resolve(base)?;
    Ok((services, maintenance, caches))
}

impl DatabaseClass {
    /// Refuses fields that do not fit the engine, and a class that says nothing of where its
    /// databases are.
    fn check_fields(&self) -> Result<(), String> {
        let set = |present: bool, field: &'static str| present.then_some(field);
        let file_fields = [
            set(!self.paths.is_empty(), "paths"),
            set(self.glob.is_some(), "glob"),
        ];
        let server_fields = [
            set(self.url.is_some(), "url"),
            set(!self.urls.is_empty(), "urls"),
            set(!self.databases.is_empty(), "databases"),
            set(self.pattern.is_some(), "pattern"),
            set(self.query.is_some(), "query"),
            set(self.query_on.is_some(), "query_on"),
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
                if self.paths.is_empty() && self.glob.is_none() {
                    return Err(
                        "say where its databases are, with `paths = [...]` or `glob = \"...\"`"
                            .into(),
                    );
                }
            }
            Dialect::Mysql | Dialect::Postgres => {
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

    /// SQLite: the files of `paths` and `glob`.
    fn discover_files(&self, class: &str) -> Result<Vec<DbTarget>, String> {
        let mut files: Vec<PathBuf> = self.paths.clone();
        if let Some(pattern) = &self.glob {
            let paths = glob::glob(pattern).map_err(|e| format!("databases.{class}.glob: {e}"))?;
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
            return Err(db::backend_error(
                &format!("databases.{class}"),
                format!(
                    "`{}` is on two servers ({} and {}): a tenant must live on exactly one",
                    pair[0].0,
                    db::redact_url(&pair[0].1),
                    db::redact_url(&pair[1].1)
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
                db::postgres::list_schemas(url, database, pattern)
            }
            (Dialect::Postgres, None) => db::postgres::list_databases(url, pattern),
            _ => db::mysql::list_databases(url, pattern),
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
            return Err(db::backend_error(
                lost,
                format!(
                    "not found on any of the {} servers of the class ({})",
                    servers.len(),
                    servers
                        .iter()
                        .map(|u| db::redact_url(u))
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

    fn load(databases: &str) -> Result<HostProfile, HostError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        std::fs::write(&path, format!("[platform]\nroot = \"p\"\n\n{databases}")).unwrap();
        HostProfile::load(&path).map_err(|e| match e {
            HostError::Invalid { what, .. } => HostError::Invalid {
                path: PathBuf::from("host.toml"),
                what,
            },
            other => other,
        })
    }

    #[test]
    fn server_classes_load_with_url_and_a_list_or_pattern() {
        let host = load(
            "[databases.site]\nengine = \"mysql\"\nurl = \"mysql://root@127.0.0.1:3306\"\npattern = \"site_%\"\n\
             [databases.tenant]\nengine = \"postgres\"\nurl = \"postgres://app@db\"\ndatabase = \"platform\"\nschemas = [\"t1\", \"t2\"]\n",
        )
        .unwrap();
        assert_eq!(host.databases["site"].pattern.as_deref(), Some("site_%"));
        assert_eq!(host.databases["tenant"].schemas, ["t1", "t2"]);
    }

    #[test]
    fn fields_that_do_not_fit_the_engine_are_refused() {
        let cases = [
            "engine = \"sqlite\"\nurl = \"mysql://root@h\"\ndatabases = [\"a\"]",
            "engine = \"sqlite\"",
            "engine = \"mysql\"\nglob = \"*.sqlite\"\nurl = \"mysql://root@h\"",
            "engine = \"mysql\"\nurl = \"mysql://root@h\"\ndatabase = \"x\"\nschemas = [\"a\"]",
            "engine = \"mysql\"\ndatabases = [\"a\"]",
            "engine = \"postgres\"\nurl = \"postgres://h\"",
            "engine = \"postgres\"\nurl = \"postgres://h\"\nschemas = [\"a\"]",
            "engine = \"postgres\"\nurl = \"postgres://h\"\ndatabase = \"x\"\ndatabases = [\"a\"]",
        ];
        let report: Vec<String> = cases
            .iter()
            .map(|case| {
                let err = load(&format!("[databases.site]\n{case}\n")).unwrap_err();
                format!("{}\n=> {err}\n", case.replace('\n', "; "))
            })
            .collect();
        insta::assert_snapshot!(report.join("\n"));
    }
}
