//! `db.<class>.*`: the database servers of each class the patch declares, as they describe
//! themselves (`bascule_db::ServerFacts`): engine, version, major version and the settings that
//! change behaviour.
//!
//! One database per server is asked (servers, not tenants, have versions and settings). A class
//! spread over servers that disagree records every distinct value, joined by ` | `, so the
//! disagreement itself shows.

use std::collections::{BTreeMap, BTreeSet};

use super::UNKNOWN;
use crate::host::HostProfile;
use bascule_db::{DbTarget, ServerFacts};
use bascule_patch::Patch;

/// Between the distinct values of one fact across a class's servers.
pub const SEPARATOR: &str = " | ";

/// The facts of every class of `patch` on `host`.
pub fn facts(host: &HostProfile, patch: &Patch) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    for class in patch.spec.classes.keys() {
        let prefix = format!("db.{class}");
        match class_facts(host, class) {
            Ok(servers) if servers.is_empty() => {
                facts.insert(
                    format!("{prefix}.server"),
                    format!("{UNKNOWN}no database found"),
                );
            }
            Ok(servers) => {
                for (key, values) in merged(&servers) {
                    facts.insert(format!("{prefix}.{key}"), values);
                }
            }
            Err(e) => {
                facts.insert(format!("{prefix}.server"), format!("{UNKNOWN}{e}"));
            }
        }
    }
    facts
}

/// The facts of one database per server of `class`.
fn class_facts(host: &HostProfile, class: &str) -> Result<Vec<ServerFacts>, String> {
    let targets = host.discover(class).map_err(|e| e.to_string())?;
    let mut seen = BTreeSet::new();
    let firsts: Vec<&DbTarget> = targets
        .iter()
        .filter(|t| seen.insert(t.location.server().to_string()))
        .collect();
    firsts
        .into_iter()
        .map(|target| {
            bascule_db::connect(target)
                .and_then(|mut conn| conn.server_facts())
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// `engine`, `server`, `major` and each setting, distinct values joined.
fn merged(servers: &[ServerFacts]) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |key: &str, value: String| {
        let slot = values.entry(key.to_string()).or_default();
        if !slot.contains(&value) {
            slot.push(value);
        }
    };
    for server in servers {
        add("engine", server.engine.clone());
        add("server", server.version.clone());
        add("major", server.major());
        for (name, value) in &server.settings {
            add(name, value.clone());
        }
    }
    // Sorted: two hosts whose profiles list the same servers in another order agree.
    values
        .into_iter()
        .map(|(key, mut list)| {
            list.sort();
            (key, list.join(SEPARATOR))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_that_disagree_show_every_value() {
        let server = |version: &str, mode: &str| ServerFacts {
            engine: "mariadb".into(),
            version: version.into(),
            settings: [("sql_mode".to_string(), mode.to_string())].into(),
        };
        let facts = merged(&[
            server("10.11.6-MariaDB", "STRICT_TRANS_TABLES"),
            server("10.6.1-MariaDB", "STRICT_TRANS_TABLES"),
        ]);
        assert_eq!(facts["engine"], "mariadb");
        assert_eq!(facts["major"], "10.11 | 10.6");
        let reversed = merged(&[
            server("10.6.1-MariaDB", "STRICT_TRANS_TABLES"),
            server("10.11.6-MariaDB", "STRICT_TRANS_TABLES"),
        ]);
        assert_eq!(reversed, facts);
        assert_eq!(facts["sql_mode"], "STRICT_TRANS_TABLES");
    }
}
