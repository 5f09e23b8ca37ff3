//! `[acceptance]` of `patch.toml`: whether the run stops at a human gate after every automatic
//! check, and how long it waits there. The runtime's `acceptance` step is the gate.
//!
//! ```toml
//! [acceptance]
//! enabled = true
//! timeout = 3600          # seconds; then the run aborts
//! ```

use serde::{Deserialize, Serialize};

/// `[acceptance]` of `patch.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptanceSpec {
    #[serde(default)]
    pub enabled: bool,
    /// Seconds to wait for a decision; then the run aborts.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

impl Default for AcceptanceSpec {
    fn default() -> Self {
        AcceptanceSpec {
            enabled: false,
            timeout: default_timeout(),
        }
    }
}

fn default_timeout() -> u64 {
    3600
}
