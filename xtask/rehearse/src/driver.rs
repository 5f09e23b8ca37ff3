//! The one trait every rehearsal driver implements, and the directory of one run.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::target::TargetError;

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("`{command}` failed: {what}")]
    Command { command: String, what: String },
    #[error("{what} did not end within {secs} s: killed (see {log})")]
    Timeout {
        what: String,
        secs: u64,
        log: PathBuf,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl DriverError {
    pub fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DriverError + '_ {
        move |source| DriverError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where one run keeps its files on the developer's machine.
#[derive(Debug, Clone)]
pub struct RunDir {
    /// `<rehearsal>/run-<n>`.
    pub dir: PathBuf,
    /// The run's number, from 1.
    pub number: usize,
}

impl RunDir {
    /// The payload the driver delivers: a plain tar ([`crate::payload`]).
    pub fn payload(&self) -> PathBuf {
        self.dir.join("payload.tar")
    }
    /// Where the driver puts what the run wrote (the payload's `out/` directory).
    pub fn collected(&self) -> PathBuf {
        self.dir.join("collected")
    }
    /// The guest's serial console, or the remote commands' output.
    pub fn console(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    /// Scratch space for the driver (disks, overlays); removed after the run.
    pub fn scratch(&self) -> PathBuf {
        self.dir.join("scratch")
    }
}

/// A place to rehearse: reverted, delivered to, run on and collected from, in that order,
/// once per run. Every process a driver starts is stopped by the time `execute` returns or the
/// driver is dropped.
pub trait Driver {
    /// One line for the summary: the driver and what it runs on.
    fn describe(&self) -> String;
    /// Brings the target back to its snapshot.
    fn revert(&mut self, run: &RunDir) -> Result<(), DriverError>;
    /// Puts `run.payload()` where `execute` finds it.
    fn deliver(&mut self, run: &RunDir) -> Result<(), DriverError>;
    /// Runs the payload's `run.sh` to its end, booting the target first if this driver boots
    /// it, and kills whatever still runs after `timeout`.
    fn execute(&mut self, run: &RunDir, timeout: Duration) -> Result<(), DriverError>;
    /// Copies what `run.sh` wrote into `run.collected()`.
    fn collect(&mut self, run: &RunDir) -> Result<(), DriverError>;
}
