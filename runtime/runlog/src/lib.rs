//! The run's human log, `update.log`: every command, statement and outcome, timestamped.
//!
//! This is the seed's `xlog`: `-- <timestamp> : <what>` lines, with the output of commands
//! indented below them. Each line is flushed as it is written, so the log of a killed run is
//! complete up to the kill.

use std::fmt::Display;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// The log's name in a run directory.
pub const LOG_FILE: &str = "update.log";

/// A shared, append-only, line-flushed log. Cheap to share between migration workers.
pub struct RunLog {
    file: Mutex<Option<File>>,
    echo: bool,
}

impl RunLog {
    /// Opens (appending) the log at `path`. With `echo`, lines also go to standard error.
    pub fn open(path: &Path, echo: bool) -> io::Result<RunLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(RunLog {
            file: Mutex::new(Some(file)),
            echo,
        })
    }

    /// A log that writes nowhere: for read-only commands such as `plan`.
    pub fn discard() -> RunLog {
        RunLog {
            file: Mutex::new(None),
            echo: false,
        }
    }

    /// `-- <timestamp> : <message>`.
    pub fn line(&self, message: impl Display) {
        let stamp = chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z");
        self.write(&format!("-- {stamp} : {message}\n"));
    }

    /// The output of a command or statement, indented under the line that announced it.
    pub fn output(&self, text: &str) {
        let mut block = String::new();
        for line in text.lines() {
            block.push_str("   | ");
            block.push_str(line);
            block.push('\n');
        }
        self.write(&block);
    }

    fn write(&self, text: &str) {
        if self.echo {
            eprint!("{text}");
        }
        let mut guard = match self.file.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(file) = guard.as_mut() {
            // A log that cannot be written must not abort an undo in progress: the journal,
            // not this log, is what recovery relies on.
            let _ = file.write_all(text.as_bytes());
        }
    }
}
