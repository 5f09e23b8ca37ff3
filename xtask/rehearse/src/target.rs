//! `target.toml`: where a rehearsal runs.
//!
//! ```toml
//! driver = "qemu"                          # qemu | libvirt | ssh (see drivers/)
//! host_profile = "/etc/bascule/host.toml"  # the host profile on the target (bascule --host)
//! timeout_secs = 300                       # a run that takes longer is killed and failed
//!
//! [qemu]                                   # the driver's own table, read by the driver
//! image = "../target/vm/iso-prod/base.qcow2"
//! ```
//!
//! Relative paths in the file are relative to its directory. The driver's table is handed to
//! the driver as it is ([`Target::driver_table`]); each driver documents its keys.

use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("{path}: cannot read the rehearsal target: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

/// A rehearsal target, as `target.toml` describes it.
#[derive(Debug, Clone)]
pub struct Target {
    /// The file it was read from.
    pub path: PathBuf,
    /// The driver's name: `driver = "…"`.
    pub driver: String,
    /// The host profile on the target.
    pub host_profile: String,
    /// How long one run may take, boot to power-off.
    pub timeout: Duration,
    /// The `[<driver>]` table.
    pub driver_table: toml::Table,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Common {
    driver: String,
    #[serde(default = "default_profile")]
    host_profile: String,
    #[serde(default = "default_timeout")]
    timeout_secs: u64,
}

fn default_profile() -> String {
    "/etc/bascule/host.toml".to_string()
}

fn default_timeout() -> u64 {
    300
}

impl Target {
    /// The target's name in reports and rehearsal records: its directory and file stem
    /// (`iso-prod/target-casefold`).
    pub fn name(&self) -> String {
        let stem = self
            .path
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        match self.path.parent().and_then(|p| p.file_name()) {
            Some(dir) => format!("{}/{stem}", dir.to_string_lossy()),
            None => stem,
        }
    }

    pub fn load(path: &Path) -> Result<Target, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        // Absolute, so that paths resolved against it stay right from any directory (a qcow2
        // overlay records its backing file's path as given).
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Target::parse(&path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Target, TargetError> {
        let invalid = |what: String| TargetError::Invalid {
            path: path.to_path_buf(),
            what,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let driver = match table.get("driver") {
            Some(toml::Value::String(driver)) => driver.clone(),
            Some(_) => return Err(invalid("`driver` must be a string".into())),
            // Which names are drivers is `drivers::open`'s to say: this module knows none.
            None => {
                return Err(invalid(
                    "no `driver`: say which one runs the rehearsal (driver = \"qemu\", \"libvirt\" or \"ssh\", see drivers/)".into(),
                ))
            }
        };
        let driver_table = match table.remove(&driver) {
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(invalid(format!("`{driver}` must be a table: [{driver}]"))),
            None => toml::Table::new(),
        };
        let common: Common = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| invalid(e.message().to_string()))?;
        if common.timeout_secs == 0 {
            return Err(invalid("timeout_secs: must be at least 1".into()));
        }
        Ok(Target {
            path: path.to_path_buf(),
            driver: common.driver,
            host_profile: common.host_profile,
            timeout: Duration::from_secs(common.timeout_secs),
            driver_table,
        })
    }

    /// The directory relative paths are read from.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// `path` from the file, made absolute against [`Target::dir`].
    pub fn resolve(&self, path: &str) -> PathBuf {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.dir().join(path)
        }
    }

    /// An error about `[<driver>].key`.
    pub fn invalid(&self, key: &str, what: impl std::fmt::Display) -> TargetError {
        TargetError::Invalid {
            path: self.path.clone(),
            what: format!("{}.{key}: {what}", self.driver),
        }
    }

    /// The driver table read as `T` (each driver's `serde` struct, `deny_unknown_fields`).
    pub fn driver_config<T: serde::de::DeserializeOwned>(&self) -> Result<T, TargetError> {
        toml::Value::Table(self.driver_table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| TargetError::Invalid {
                path: self.path.clone(),
                what: format!("[{}]: {}", self.driver, e.message()),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_table_is_kept_and_the_rest_is_checked() {
        let target = Target::parse(
            Path::new("/t/target.toml"),
            "driver = \"qemu\"\ntimeout_secs = 60\n[qemu]\nimage = \"base.qcow2\"\n",
        )
        .unwrap();
        assert_eq!(target.driver, "qemu");
        assert_eq!(target.timeout, Duration::from_secs(60));
        assert_eq!(target.host_profile, "/etc/bascule/host.toml");
        assert_eq!(target.resolve("base.qcow2"), Path::new("/t/base.qcow2"));
        assert!(target.driver_table.contains_key("image"));
    }

    #[test]
    fn mistakes_name_the_file_and_the_key() {
        let path = Path::new("/t/target.toml");
        let err = Target::parse(path, "driver = \"qemu\"\ntimeout = 5\n").unwrap_err();
        assert!(err.to_string().starts_with("/t/target.toml: "), "{err}");
        assert!(err.to_string().contains("timeout"), "{err}");
        let err = Target::parse(path, "timeout_secs = 5\n").unwrap_err();
        assert!(err.to_string().contains("no `driver`"), "{err}");
        assert!(err.to_string().contains("driver = \"qemu\""), "{err}");
    }
}
