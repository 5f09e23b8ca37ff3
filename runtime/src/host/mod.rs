//! The host profile (`/etc/bascule/host.toml` by default): where things are on *this* host.
//!
//! The same schema describes a rehearsal VM and a production host; that is what makes a rehearsal
//! ISO-prod. Relative paths are relative to the directory of the profile itself.
//!
//! The `[databases.<class>]` sections, and how their databases are found, belong to
//! `bascule_db::DatabaseClass`. `runtime/host.toml` is the reference profile: every key, commented.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod caches;
mod guards;
mod https;
mod sampling;
mod trust;

pub use caches::CacheSpec;
pub use guards::{free_bytes, BackupSpec, GuardSpec};
pub use sampling::{HostClassSampling, HostSampling};

use bascule_db::{self as db, DatabaseClass, DbError, DbTarget, DiscoveryError};
use bascule_patch::Dialect;

pub const DEFAULT_PROFILE: &str = "/etc/bascule/host.toml";

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("{path}: cannot read the host profile: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Said without the offending line, which may hold a password.
    /// Not a `#[source]`: printing the chain would quote the line after all.
    #[error("{path}: {}", toml_error_without_source(.error, .text))]
    Toml {
        path: PathBuf,
        error: Box<toml::de::Error>,
        text: String,
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

/// A TOML error as its line, column and message: toml's own display quotes the line, which in a
/// host profile may be `url = "mysql://app:password@…"`.
fn toml_error_without_source(error: &toml::de::Error, text: &str) -> String {
    let message = db::redact_urls_in(error.message().trim_end());
    match error.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}: {message}")
        }
        None => message.to_string(),
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    platform: PlatformSection,
    #[serde(default)]
    sampling: Option<HostSampling>,
    #[serde(default)]
    databases: BTreeMap<String, DatabaseClass>,
    #[serde(default)]
    services: Vec<crate::services::ServiceSpec>,
    #[serde(default)]
    maintenance: Option<crate::maintenance::MaintenanceSpec>,
    #[serde(default)]
    caches: CacheSpec,
    #[serde(default)]
    trust: trust::TrustSpec,
    #[serde(default)]
    guards: GuardSpec,
    #[serde(default)]
    https: https::HttpsSpec,
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

/// A loaded, resolved host profile.
#[derive(Debug, Clone)]
pub struct HostProfile {
    pub path: PathBuf,
    /// `[sampling]`: where the sites answer and which are sampled (see `sampling`).
    pub sampling: Option<HostSampling>,
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
    pub caches: CacheSpec,
    /// `[trust]`: the signing keys this host pins; empty, signatures are not required.
    pub trusted_keys: Vec<bascule_bundle::signature::TrustedKey>,
    /// `[guards]`: the backup's freshness and the free disk a run needs before it starts.
    pub guards: GuardSpec,
    /// `[https]`: the CAs trusted for `https://` URLs, the public roots and `ca_file`'s.
    pub https: crate::http::Roots,
}

impl HostProfile {
    pub fn load(path: &Path) -> Result<HostProfile, HostError> {
        let text = std::fs::read_to_string(path).map_err(|source| HostError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: ProfileFile = toml::from_str(&text).map_err(|error| HostError::Toml {
            path: path.to_path_buf(),
            error: Box::new(error),
            text: text.clone(),
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
            spec.password_file = spec.password_file.as_deref().map(resolve);
            spec.resolve_password(class).map_err(invalid)?;
        }
        if let Some(sampling) = &file.sampling {
            sampling.check().map_err(invalid)?;
        }
        let (services, maintenance, caches) =
            resolve_operations(base, file.services, file.maintenance, file.caches)
                .map_err(invalid)?;
        let trusted_keys = file.trust.keys(path).map_err(invalid)?;
        let mut guards = file.guards;
        guards.check_and_resolve(base).map_err(invalid)?;
        let https = file.https.roots(base).map_err(invalid)?;
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
            trusted_keys,
            guards,
            https,
        })
    }

    /// The full urls of the profile's servers, for undos read back from a journal, which
    /// names servers without their passwords.
    pub fn credentials(&self) -> db::Credentials {
        db::Credentials::of(self.databases.values().flat_map(|class| class.servers()))
    }

    /// The directories besides the state dir where an undo writes, each needing room for it:
    /// the platform root (a release removed, `current` switched back) and the directories of
    /// the SQLite databases (a down's rollback journal).
    pub fn undo_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.root.clone()];
        for class in self.databases.values() {
            let globbed = class.glob.as_deref().map(|glob| {
                let fixed = glob.split(['*', '?', '[']).next().unwrap_or(glob);
                PathBuf::from(fixed)
            });
            for path in class.paths.iter().cloned().chain(globbed) {
                let dir = if path.is_dir() {
                    path
                } else {
                    path.parent().map(Path::to_path_buf).unwrap_or_default()
                };
                if !dir.as_os_str().is_empty() && !dirs.contains(&dir) {
                    dirs.push(dir);
                }
            }
        }
        dirs
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
        db::discover(&self.databases, class).map_err(|error| match error {
            DiscoveryError::Invalid(what) => HostError::Invalid {
                path: self.path.clone(),
                what,
            },
            DiscoveryError::Db { class, source } => HostError::Discover {
                path: self.path.clone(),
                class,
                source,
            },
        })
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
    mut caches: CacheSpec,
) -> Result<
    (
        Vec<crate::services::ServiceSpec>,
        Option<crate::maintenance::MaintenanceSpec>,
        CacheSpec,
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

    #[test]
    fn a_ca_file_is_read_when_the_profile_loads_and_refused_naming_key_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.toml");
        let ca = crate::http::tests::TestCa::new("platform CA");
        std::fs::write(dir.path().join("web-ca.pem"), &ca.pem).unwrap();
        let profile = |ca_file: &str| {
            std::fs::write(
                &path,
                format!("[platform]\nroot = \"p\"\n\n[https]\nca_file = \"{ca_file}\"\n"),
            )
            .unwrap();
            HostProfile::load(&path)
        };
        let loaded = profile("web-ca.pem").unwrap();
        assert_eq!(
            loaded.https.ca_file(),
            Some(dir.path().join("web-ca.pem").as_path())
        );

        let err = profile("missing.pem").unwrap_err().to_string();
        let missing = dir.path().join("missing.pem");
        assert!(
            err.starts_with(&format!("{}: https.ca_file: ", path.display())),
            "{err}"
        );
        assert!(
            err.contains(&format!("cannot read {}", missing.display())),
            "{err}"
        );
        std::fs::write(&missing, "not a certificate\n").unwrap();
        let err = profile("missing.pem").unwrap_err().to_string();
        assert!(
            err.contains("https.ca_file: ") && err.contains("holds no PEM certificate"),
            "{err}"
        );
    }

    /// `runtime/host.toml` documents every key of the profile: it must load, with every
    /// section it shows, or it has gone stale.
    #[test]
    fn the_reference_profile_loads_with_every_section() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("host.toml");
        let profile = HostProfile::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let engines: Vec<Dialect> = profile.databases.values().map(|c| c.engine).collect();
        assert_eq!(
            engines,
            [Dialect::Sqlite, Dialect::Postgres, Dialect::Mysql]
        );
        assert!(profile.databases["site"].adopt.is_some());
        let shop = profile.databases["shop"].adopt.as_ref();
        assert_eq!(
            shop.and_then(|a| a.tool()).map(|t| t.tool),
            Some(bascule_patch::Tool::Flyway)
        );
        assert_eq!(profile.services.len(), 2);
        assert!(profile.maintenance.is_some());
        assert!(!profile.caches.is_empty());
        let sampling = profile.sampling.as_ref().expect("[sampling]");
        assert!(sampling.classes.contains_key("site"));
        assert_eq!(profile.keep_releases, 3);
        assert_eq!(profile.shared.len(), 2);
        assert_eq!(profile.trusted_keys.len(), 1);
    }
}
