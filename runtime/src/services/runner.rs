//! Running the host's commands (init systems, start/stop lines, cache purges), logged.
//!
//! Every command and its output go to the run log, timestamped. The output is captured through
//! a file in the run directory, not a pipe: a start command leaves a daemon behind, and a daemon
//! that inherited a pipe would keep it open, so reading it to the end would wait for the daemon
//! to exit. A command that does not return within its timeout is killed and is an error.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::ServiceError;
use bascule_runlog::RunLog;

/// Where commands run and where they are logged.
pub struct Runner<'a> {
    pub log: &'a RunLog,
    /// The working directory of every command: the host profile's directory.
    pub workdir: &'a Path,
    /// Where output is captured (the run directory).
    pub scratch: &'a Path,
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The exit code; `None` if a signal ended it.
    pub code: Option<i32>,
    pub output: String,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl<'a> Runner<'a> {
    /// `sh -c <line>`.
    pub fn shell(
        &self,
        service: &str,
        line: &str,
        timeout: Duration,
    ) -> Result<Finished, ServiceError> {
        self.run(service, "sh", &["-c", line], timeout)
    }

    /// Runs `program args…`, logs it with its output and exit code, returns how it ended.
    pub fn run(
        &self,
        service: &str,
        program: &str,
        args: &[&str],
        timeout: Duration,
    ) -> Result<Finished, ServiceError> {
        let shown = show(program, args);
        self.log.line(format_args!("{service}: $ {shown}"));
        let capture = self.capture_path();
        let result = self.run_captured(program, args, timeout, &capture);
        let output = std::fs::read_to_string(&capture).unwrap_or_default();
        let _ = std::fs::remove_file(&capture);
        if !output.is_empty() {
            self.log.output(&output);
        }
        let error = |what: String| ServiceError::Command {
            service: service.to_string(),
            command: shown.clone(),
            what,
        };
        let code = result.map_err(error)?;
        self.log.line(format_args!(
            "{service}: exit {}",
            code.map_or("by signal".to_string(), |c| c.to_string())
        ));
        Ok(Finished { code, output })
    }

    fn run_captured(
        &self,
        program: &str,
        args: &[&str],
        timeout: Duration,
        capture: &Path,
    ) -> Result<Option<i32>, String> {
        let out = std::fs::File::create(capture)
            .map_err(|e| format!("cannot create {}: {e}", capture.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{}: {e}", capture.display()))?;
        let mut child = Command::new(program)
            .args(args)
            .current_dir(self.workdir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run it in {}: {e}", self.workdir.display()))?;
        let deadline = Instant::now() + timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status.code()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "did not return within {} s; killed. A start command must put the service \
                         in the background and return",
                        timeout.as_secs()
                    ));
                }
                Err(e) => return Err(format!("cannot wait for it: {e}")),
            }
        }
    }

    fn capture_path(&self) -> PathBuf {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        self.scratch
            .join(format!(".command-{}-{n}.out", std::process::id()))
    }
}

fn show(program: &str, args: &[&str]) -> String {
    if program == "sh" && args.len() == 2 && args[0] == "-c" {
        return args[1].to_string();
    }
    std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_their_output_go_to_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("update.log");
        let log = RunLog::open(&log_path, false).unwrap();
        let runner = Runner {
            log: &log,
            workdir: dir.path(),
            scratch: dir.path(),
        };
        let done = runner
            .shell("web", "echo hello; pwd; exit 3", Duration::from_secs(5))
            .unwrap();
        assert_eq!(done.code, Some(3));
        assert!(done.output.starts_with("hello\n"), "{}", done.output);
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert!(
            text.contains(" : web: $ echo hello; pwd; exit 3\n"),
            "{text}"
        );
        assert!(text.contains("   | hello\n"), "{text}");
        assert!(text.contains(" : web: exit 3\n"), "{text}");

        let err = runner
            .shell("web", "sleep 5", Duration::from_secs(1))
            .unwrap_err();
        assert!(
            err.to_string().contains("did not return within 1 s"),
            "{err}"
        );
        let leftovers = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name() != "update.log")
            .count();
        assert_eq!(leftovers, 0, "capture files are removed");
    }

    #[test]
    fn a_daemon_left_by_a_start_command_does_not_hold_the_runner() {
        let dir = tempfile::tempdir().unwrap();
        let log = RunLog::discard();
        let runner = Runner {
            log: &log,
            workdir: dir.path(),
            scratch: dir.path(),
        };
        let clock = Instant::now();
        let done = runner
            .shell(
                "web",
                "sleep 3 & echo $! > pid; echo started",
                Duration::from_secs(2),
            )
            .unwrap();
        assert!(done.success());
        assert!(clock.elapsed() < Duration::from_secs(2));
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}
