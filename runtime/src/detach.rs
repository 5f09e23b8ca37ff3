//! `--detach`: a run that goes on without the terminal that started it.
//!
//! The command is started again — the same program, the same arguments but `--detach` — as the
//! leader of a session of its own (`setsid`): it has no controlling terminal, so neither a
//! closed SSH connection nor the SIGHUP that follows reaches it, which is what the guard's
//! tmux-or-screen rule is for. Its standard input is `/dev/null`; its output is appended to
//! `<state_dir>/detached.log`, after a line naming the command. The starting process waits a few
//! seconds at most for the run to show in the state directory (a new run directory; for
//! `recover`, the interrupted run's journal taken over), says which run it is, and returns:
//! `bascule log --follow` watches it from there, from any terminal.

use std::ffi::OsString;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::host_lock::{lock_path, read_holder};
use crate::journal::{writer_alive, RunKind, JOURNAL_FILE};
use crate::state::runs_dir;

/// Where detached commands' output goes, in the state directory.
pub const OUTPUT_FILE: &str = "detached.log";

/// How long the starting process waits for the run to show: a run loads and verifies its
/// bundle, and records the host's fingerprint, before it makes its directory.
const WAIT: Duration = Duration::from_secs(10);
/// How often it looks, meanwhile.
const POLL: Duration = Duration::from_millis(50);

#[derive(Debug, thiserror::Error)]
pub enum DetachError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start {program} in the background: {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
}

/// The run the detached command makes, by which the starting process recognises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaited {
    /// A new run of this kind: `apply`, `rollback`, `migrate`.
    New(RunKind),
    /// The interrupted run that the host lock names, which `recover` takes over.
    TakenOver,
}

/// What the starting process saw of the detached command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Its run, by id.
    Run(String),
    /// It ended before its run showed (refused at once: a bad bundle, nothing to recover), with
    /// its exit status and what it printed.
    Ended { code: Option<i32>, output: String },
    /// Neither, within the wait: it is still starting.
    Unseen,
}

/// A command started in the background.
#[derive(Debug)]
pub struct Detached {
    pub pid: u32,
    /// The file its output is appended to.
    pub output: PathBuf,
    pub started: Started,
}

/// Starts `program` with `args` in a session of its own, its output appended to
/// `<state_dir>/detached.log`, and waits (at most [`WAIT`]) for the run it makes.
pub fn detach(
    state_dir: &Path,
    program: &Path,
    args: &[OsString],
    awaited: Awaited,
) -> Result<Detached, DetachError> {
    let output = state_dir.join(OUTPUT_FILE);
    let io = |source| DetachError::Io {
        path: output.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&output)
        .map_err(io)?;
    let command_line: Vec<String> = std::iter::once(program.as_os_str())
        .chain(args.iter().map(OsString::as_os_str))
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    writeln!(
        file,
        "-- {} : detached: {}",
        chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
        command_line.join(" ")
    )
    .map_err(io)?;
    let from = file.metadata().map_err(io)?.len();
    let watch = Watch::before(state_dir, awaited);

    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(io)?)
        .stderr(file);
    // SAFETY: the closure runs in the child between fork and exec, where only
    // async-signal-safe calls are allowed; it makes one system call, setsid, and allocates
    // nothing (an error becomes an io::Error from its errno alone).
    unsafe {
        command.pre_exec(|| {
            rustix::process::setsid()
                .map(drop)
                .map_err(std::io::Error::from)
        });
    }
    let mut child = command.spawn().map_err(|source| DetachError::Spawn {
        program: program.to_path_buf(),
        source,
    })?;
    let started = watch.wait(&mut child, &output, from)?;
    Ok(Detached {
        pid: child.id(),
        output,
        started,
    })
}

/// What the state directory held before the command started, to tell its run from others.
struct Watch {
    runs: PathBuf,
    awaited: Awaited,
    /// The run directories there were.
    before: Vec<OsString>,
    /// For `recover`: the run the host lock names, if its journal was not written by a live
    /// process (a live one, `recover` refuses).
    taken_over: Option<String>,
}

impl Watch {
    fn before(state_dir: &Path, awaited: Awaited) -> Watch {
        let runs = runs_dir(state_dir);
        let taken_over = match awaited {
            Awaited::New(_) => None,
            Awaited::TakenOver => read_holder(&lock_path(state_dir))
                .map(|holder| holder.run)
                .filter(|run| writer_alive(&runs.join(run).join(JOURNAL_FILE)) != Some(true)),
        };
        Watch {
            before: entries(&runs),
            runs,
            awaited,
            taken_over,
        }
    }

    /// The command's run, once it shows.
    fn found(&self) -> Option<String> {
        match self.awaited {
            Awaited::New(kind) => entries(&self.runs)
                .into_iter()
                .filter(|name| !self.before.contains(name))
                .map(|name| name.to_string_lossy().into_owned())
                .find(|id| RunKind::of_run_id(id) == Some(kind)),
            Awaited::TakenOver => self
                .taken_over
                .clone()
                .filter(|run| writer_alive(&self.runs.join(run).join(JOURNAL_FILE)) == Some(true)),
        }
    }

    fn wait(&self, child: &mut Child, output: &Path, from: u64) -> Result<Started, DetachError> {
        let deadline = Instant::now() + WAIT;
        loop {
            // Whether it ended is asked first: a run that showed and ended at once still showed.
            let ended = child.try_wait().ok().flatten();
            if let Some(run) = self.found() {
                return Ok(Started::Run(run));
            }
            if let Some(status) = ended {
                return Ok(Started::Ended {
                    code: status.code(),
                    output: read_from(output, from)?,
                });
            }
            if Instant::now() >= deadline {
                return Ok(Started::Unseen);
            }
            std::thread::sleep(POLL);
        }
    }
}

fn entries(dir: &Path) -> Vec<OsString> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name())
                .collect()
        })
        .unwrap_or_default()
}

/// What `path` holds from byte `from` on.
fn read_from(path: &Path, from: u64) -> Result<String, DetachError> {
    let io = |source| DetachError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    file.seek(SeekFrom::Start(from)).map_err(io)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> (PathBuf, Vec<OsString>) {
        (PathBuf::from("/bin/sh"), vec!["-c".into(), script.into()])
    }

    #[test]
    fn the_command_runs_in_a_session_of_its_own_and_its_run_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let runs = runs_dir(dir.path());
        std::fs::create_dir_all(runs.join("20260310T090000-2.0.0-apply")).unwrap();
        // Its session id is its own pid: it leads a new session, without a terminal.
        let (program, args) = sh(&format!(
            "cut -d' ' -f6 /proc/$$/stat; echo $$; mkdir {}/20260310T100000-2.0.0-rollback \
             {}/20260310T100000-2.0.0-apply; sleep 1",
            runs.display(),
            runs.display()
        ));
        let detached = detach(dir.path(), &program, &args, Awaited::New(RunKind::Apply)).unwrap();
        assert_eq!(
            detached.started,
            Started::Run("20260310T100000-2.0.0-apply".into())
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let said = loop {
            let said = std::fs::read_to_string(&detached.output).unwrap();
            if said.lines().count() >= 3 || Instant::now() > deadline {
                break said;
            }
            std::thread::sleep(POLL);
        };
        let lines: Vec<&str> = said.lines().collect();
        assert!(lines[0].contains(" : detached: /bin/sh -c cut"), "{said}");
        assert_eq!(lines[1].trim(), lines[2].trim(), "session id = pid: {said}");
        assert_eq!(lines[2].trim(), detached.pid.to_string());
    }

    #[test]
    fn a_command_that_ends_before_its_run_shows_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let (program, args) = sh("echo 'error: nothing to recover' >&2; exit 2");
        let detached = detach(dir.path(), &program, &args, Awaited::TakenOver).unwrap();
        assert_eq!(
            detached.started,
            Started::Ended {
                code: Some(2),
                output: "error: nothing to recover\n".into()
            }
        );
    }
}
