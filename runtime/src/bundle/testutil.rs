//! Helpers shared by the bundle tests.
