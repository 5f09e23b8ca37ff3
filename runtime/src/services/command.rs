//! `kind = "command"`: the host profile's own start/stop/status lines and pid file.
//!
//! For services no init system manages (an app server started from a script, the demo app).
//! The status is the `status` line's exit code (0 = running) when there is one, else whether the
//! pid file's process is alive. A zombie counts as gone: it holds no port and runs no code, and
//! a service whose parent died may wait a long time to be reaped.

use std::path::Path;
use std::time::Duration;

use super::{Runner, ServiceError, ServiceKind, ServiceSpec, Status};

/// How long a start, stop or status line may take to return.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

pub struct CommandService<'a> {
    spec: &'a ServiceSpec,
}

impl<'a> CommandService<'a> {
    pub fn new(spec: &'a ServiceSpec) -> CommandService<'a> {
        CommandService { spec }
    }

    fn run_line(
        &self,
        runner: &Runner<'_>,
        what: &str,
        line: Option<&String>,
    ) -> Result<(), ServiceError> {
        let name = &self.spec.name;
        let line = line.ok_or_else(|| ServiceError::Verify {
            service: name.clone(),
            what: format!("no `{what}` command line in the host profile"),
        })?;
        let done = runner.shell(name, line, COMMAND_TIMEOUT)?;
        if done.success() {
            return Ok(());
        }
        Err(ServiceError::Command {
            service: name.clone(),
            command: line.clone(),
            what: format!(
                "the {what} command failed (exit {}): {}",
                done.code.map_or("by signal".into(), |c| c.to_string()),
                done.output.trim()
            ),
        })
    }
}

impl ServiceKind for CommandService<'_> {
    fn start(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.run_line(runner, "start", self.spec.start.as_ref())
    }

    fn stop(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.run_line(runner, "stop", self.spec.stop.as_ref())
    }

    fn status(&self, runner: &Runner<'_>) -> Result<Status, ServiceError> {
        if let Some(line) = &self.spec.status {
            let done = runner.shell(&self.spec.name, line, COMMAND_TIMEOUT)?;
            return Ok(if done.success() {
                Status::Running
            } else {
                Status::Stopped
            });
        }
        let alive = self
            .spec
            .pid_file
            .as_deref()
            .and_then(read_pid)
            .is_some_and(pid_alive);
        Ok(if alive {
            Status::Running
        } else {
            Status::Stopped
        })
    }
}

/// The pid in a pid file, if the file exists and holds one.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|p| *p > 0)
}

/// Whether process `pid` exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // `pid (comm) S …`: the state follows the last `)`, as comm may hold anything.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, Some('Z' | 'X') | None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_is_alive_until_its_process_is_gone_or_a_zombie() {
        assert!(pid_alive(std::process::id()));
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        assert!(pid_alive(pid));
        child.kill().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            !pid_alive(pid),
            "an unreaped killed child is a zombie: not alive"
        );
        child.wait().unwrap();
        assert!(!pid_alive(pid));
    }

    #[test]
    fn pid_files_hold_a_positive_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.pid");
        assert_eq!(read_pid(&path), None);
        std::fs::write(&path, "1234\n").unwrap();
        assert_eq!(read_pid(&path), Some(1234));
        std::fs::write(&path, "zero").unwrap();
        assert_eq!(read_pid(&path), None);
    }
}
