//! The static "down undoes up" check: for the common DDL (create ↔ drop table/index/view,
//! add ↔ drop column, rename ↔ rename back, type change ↔ type restore), report a `down.sql` that
//! does not undo what its `up.sql` does. Placeholder until the check lands: it finds nothing.

use super::Finding;
use crate::migration::Migration;
use crate::patch::Dialect;

/// The findings of the pair check for one migration (none yet).
pub fn check_pair(_m: &Migration, _dialect: Dialect) -> Vec<Finding> {
    Vec::new()
}
