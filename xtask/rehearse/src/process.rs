//! Child processes that cannot outlive their owner.
//!
//! A guest left running after a failed test keeps a core busy and the next run's disks locked.
//! [`Guarded`] owns a child and kills it when dropped; [`Guarded::wait_for`] waits with a
//! deadline. [`run`] is for the short commands around a run (`qemu-img`, `virsh`, `ssh`):
//! their output in the error when they fail.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::driver::DriverError;

/// How a command is shown in errors and logs.
pub fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to its end; its stdout, or an error with its stderr.
pub fn run(command: &mut Command) -> Result<String, DriverError> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| DriverError::Command {
            command: shown(command),
            what: format!("cannot start it: {e}"),
        })?;
    if !output.status.success() {
        return Err(DriverError::Command {
            command: shown(command),
            what: format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A child process, killed (and reaped) when dropped.
#[derive(Debug)]
pub struct Guarded {
    child: Option<Child>,
    what: String,
}

impl Guarded {
    /// Starts `command` with its stdout and stderr appended to `log`.
    pub fn spawn(command: &mut Command, log: &Path) -> Result<Guarded, DriverError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(DriverError::io(log))?;
        let err = file.try_clone().map_err(DriverError::io(log))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| DriverError::Command {
                command: shown(command),
                what: format!("cannot start it: {e}"),
            })?;
        Ok(Guarded {
            child: Some(child),
            what: shown(command),
        })
    }

    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether it has ended (and how), without waiting.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>, DriverError> {
        match self.child.as_mut() {
            None => Ok(None),
            Some(child) => child.try_wait().map_err(|e| DriverError::Command {
                command: self.what.clone(),
                what: format!("cannot wait for it: {e}"),
            }),
        }
    }

    /// Waits at most `timeout` for it to end; past that, kills it and returns `None`.
    pub fn wait_for(&mut self, timeout: Duration) -> Result<Option<ExitStatus>, DriverError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                self.child = None;
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it now (if it still runs) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_past_its_deadline_is_killed_and_a_dropped_one_too() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut child = Guarded::spawn(Command::new("sleep").arg("30"), &log).unwrap();
        let pid = child.id().unwrap();
        assert_eq!(child.wait_for(Duration::from_millis(100)).unwrap(), None);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        let child = Guarded::spawn(Command::new("sleep").arg("30"), &log).unwrap();
        let pid = child.id().unwrap();
        drop(child);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
        let mut quick = Guarded::spawn(Command::new("true").arg("x"), &log).unwrap();
        assert!(quick
            .wait_for(Duration::from_secs(10))
            .unwrap()
            .unwrap()
            .success());
    }

    #[test]
    fn a_failing_command_shows_its_stderr() {
        let err = run(Command::new("sh").args(["-c", "echo nope >&2; exit 3"])).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(err.to_string().contains("sh -c"), "{err}");
    }
}
