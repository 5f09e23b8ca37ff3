//! The zero-downtime rules, one module per rule, each with its tests beside it.
//!
//! A rule looks at one parsed statement of an `up.sql` (with the statements before it and the
//! [`History`](super::History) of earlier patches) and returns [`Hit`](super::Hit)s. The driver
//! in [`super`] turns hits into findings, grades them by the patch's mode and applies
//! suppressions. [`all`] is the registry: a rule not listed there does not run.

use super::Rule;

/// Every rule, in a stable order.
pub fn all() -> &'static [&'static dyn Rule] {
    &[]
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static dyn Rule> {
    all().iter().copied().find(|r| r.id() == id)
}
