//! Helpers shared by the backend tests: hand-made migrations and the database classes of a host
//! profile on a server.

#![allow(dead_code)]

use std::collections::BTreeMap;

use bascule_db::{DatabaseClass, DbTarget, DiscoveryError};
use bascule_patch::Migration;

pub fn migration(id: u32, up: &str, down: &str) -> Migration {
    Migration::new("site", id, &format!("m{id}"), up, down)
}

/// The `[databases]` of a host profile whose class `site` is `databases_section` (engine, url, …),
/// checked as a profile load checks it.
pub fn databases(databases_section: &str) -> Databases {
    let classes: BTreeMap<String, DatabaseClass> =
        toml::from_str(&format!("[site]\n{databases_section}\n")).unwrap();
    for class in classes.values() {
        class.check_fields().unwrap();
    }
    Databases(classes)
}

/// Database classes, as a host profile declares them.
pub struct Databases(BTreeMap<String, DatabaseClass>);

impl Databases {
    pub fn discover(&self, class: &str) -> Result<Vec<DbTarget>, DiscoveryError> {
        bascule_db::discover(&self.0, class)
    }
}
