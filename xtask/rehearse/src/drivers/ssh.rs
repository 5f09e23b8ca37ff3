//! `driver = "ssh"`: any host reachable by ssh, brought back to its snapshot by a command of
//! your own (Proxmox `qm rollback`, an LVM or ZFS snapshot rollback, a cloud snapshot restore).
//!
//! ```toml
//! [ssh]
//! host = "10.0.0.5"                   # a name or an address (IPv6 without brackets)
//! port = 22
//! user = "root"
//! identity = "keys/rehearsal_ed25519" # the private key, unencrypted (BatchMode: no prompt)
//! known_hosts = "keys/known_hosts"    # the host's key: checked strictly, never learned
//! revert = "qm rollback 105 iso-prod && qm start 105"
//! revert_timeout_secs = 600           # the revert command is killed past this
//! ready_timeout_secs = 300            # after the revert, until `ssh true` answers (a reboot)
//! connect_timeout_secs = 10           # each connection attempt
//! workdir = "/var/tmp/bascule-rehearsal"
//! ```
//!
//! Relative paths are relative to target.toml's directory, where the revert command runs too
//! (`sh -c`, on the developer's machine, its output in the run's `console.log`). Its text is
//! shown in the summary: keep secrets out of it (an environment variable, a file it reads).
//!
//! The host's key must already be in `known_hosts` (`ssh-keyscan -p PORT HOST`, checked against
//! the fingerprint the host itself shows): every connection runs with
//! `StrictHostKeyChecking=yes` against that file alone, so a host that is not the one named
//! is refused, not trusted on first use. `open` checks the file holds a key for the host and,
//! when the host answers already, that the key and the login are right, before any revert.
//! ssh runs with `-F none` (no `~/.ssh/config`, no agent, no multiplexing): the target file
//! says all there is. `BatchMode=yes` means a missing key or a refused login fails at once.
//!
//! A run: **revert** runs the command, then waits until `ssh true` works; **deliver** makes a
//! fresh `workdir` (a directory the driver marked as its own, `.bascule-rehearsal`: any other
//! existing directory is refused, never removed) and streams the payload into
//! `tar -xf - -C WORKDIR/in` over ssh's stdin; **execute** runs
//! `sh run.sh WORKDIR/in WORKDIR/out` and writes `WORKDIR/out/exit_code` when it returns, as the
//! guests' init does; past the deadline the ssh client is killed and so is the remote command's
//! process group (sshd makes every command the leader of a session of its own: the group is
//! recorded in `WORKDIR/pgid` first); **collect** streams `tar -cf - -C WORKDIR out` back over
//! ssh's stdout into `collected/out/`, then removes `workdir`. Transfers have no deadline of
//! their own: `ServerAliveInterval` ends a connection whose host went away.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::driver::{Driver, DriverError, RunDir};
use crate::process::Guarded;
use crate::target::Target;

#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(default = "default_user")]
    user: String,
    identity: String,
    known_hosts: String,
    revert: String,
    #[serde(default = "default_revert_timeout")]
    revert_timeout_secs: u64,
    #[serde(default = "default_ready_timeout")]
    ready_timeout_secs: u64,
    #[serde(default = "default_connect_timeout")]
    connect_timeout_secs: u64,
    #[serde(default = "default_workdir")]
    workdir: String,
}

fn default_port() -> u16 {
    22
}
fn default_user() -> String {
    "root".into()
}
fn default_revert_timeout() -> u64 {
    600
}
fn default_ready_timeout() -> u64 {
    300
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_workdir() -> String {
    "/var/tmp/bascule-rehearsal".into()
}

/// The file that marks a `workdir` as the driver's own, so that it may remove it.
const MARKER: &str = ".bascule-rehearsal";

/// The ssh driver.
#[derive(Debug)]
pub struct Ssh {
    host: String,
    port: u16,
    user: String,
    identity: PathBuf,
    known_hosts: PathBuf,
    revert: String,
    /// Where the revert command runs: target.toml's directory.
    revert_dir: PathBuf,
    revert_timeout: Duration,
    ready_timeout: Duration,
    connect_timeout: Duration,
    workdir: String,
}

pub fn open(target: &Target) -> Result<Box<dyn Driver>, DriverError> {
    let config: Config = target.driver_config()?;
    let ssh = Ssh::from_config(target, config)?;
    ssh.check_known_hosts(target)?;
    ssh.preflight()?;
    Ok(Box::new(ssh))
}

impl Ssh {
    /// Checks the table and the files it names; connects to nothing.
    fn from_config(target: &Target, config: Config) -> Result<Ssh, DriverError> {
        let invalid = |key: &str, what: String| DriverError::from(target.invalid(key, what));
        if !valid_host(&config.host) {
            return Err(invalid(
                "host",
                format!(
                    "`{}`: a host name or an address (letters, digits, `.`, `-`, `_`, `:`; not starting with `-`)",
                    config.host
                ),
            ));
        }
        if !valid_user(&config.user) {
            return Err(invalid(
                "user",
                format!(
                    "`{}`: a user name (letters, digits, `.`, `-`, `_`; not starting with `-`)",
                    config.user
                ),
            ));
        }
        if config.port == 0 {
            return Err(invalid("port", "must be 1 to 65535".into()));
        }
        for (key, secs) in [
            ("revert_timeout_secs", config.revert_timeout_secs),
            ("ready_timeout_secs", config.ready_timeout_secs),
            ("connect_timeout_secs", config.connect_timeout_secs),
        ] {
            if secs == 0 {
                return Err(invalid(key, "must be at least 1".into()));
            }
        }
        if config.revert.trim().is_empty() {
            return Err(invalid(
                "revert",
                "empty: say how the host goes back to its snapshot (every run starts from it)"
                    .into(),
            ));
        }
        if let Err(what) = check_workdir(&config.workdir) {
            return Err(invalid("workdir", format!("`{}`: {what}", config.workdir)));
        }
        let identity = existing_file(target, "identity", &config.identity, |path| {
            format!(
                "{} does not exist: the private key the driver logs in with",
                path.display()
            )
        })?;
        let known_hosts = existing_file(target, "known_hosts", &config.known_hosts, |path| {
            format!(
                "{} does not exist: write the host's key there (`ssh-keyscan -p {} {}`, checked \
                 against the fingerprint the host itself shows); the driver never accepts a key \
                 it does not know",
                path.display(),
                config.port,
                config.host
            )
        })?;
        for (key, path) in [("identity", &identity), ("known_hosts", &known_hosts)] {
            if path.to_string_lossy().contains(['"', '\\', '\n']) {
                return Err(invalid(
                    key,
                    format!(
                        "{}: a path with `\"`, `\\` or a newline cannot be given to ssh",
                        path.display()
                    ),
                ));
            }
        }
        let dir = target.dir();
        Ok(Ssh {
            host: config.host,
            port: config.port,
            user: config.user,
            identity,
            known_hosts,
            revert: config.revert,
            revert_dir: if dir.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                dir.to_path_buf()
            },
            revert_timeout: Duration::from_secs(config.revert_timeout_secs),
            ready_timeout: Duration::from_secs(config.ready_timeout_secs),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            workdir: config.workdir,
        })
    }

    /// `user@host:port`, as the summary and the errors show it.
    fn destination(&self) -> String {
        if self.host.contains(':') {
            format!("{}@[{}]:{}", self.user, self.host, self.port)
        } else {
            format!("{}@{}:{}", self.user, self.host, self.port)
        }
    }

    /// The host's name in `known_hosts`: `host`, or `[host]:port` off port 22.
    fn known_hosts_name(&self) -> String {
        if self.port == 22 {
            self.host.clone()
        } else {
            format!("[{}]:{}", self.host, self.port)
        }
    }

    /// `known_hosts` holds a key for the host (hashed names included): `ssh-keygen -F`.
    fn check_known_hosts(&self, target: &Target) -> Result<(), DriverError> {
        let name = self.known_hosts_name();
        let output = Command::new("ssh-keygen")
            .arg("-F")
            .arg(&name)
            .arg("-f")
            .arg(&self.known_hosts)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| DriverError::Command {
                command: "ssh-keygen -F".into(),
                what: format!("cannot start it (is openssh-client installed?): {e}"),
            })?;
        if output.status.success() {
            return Ok(());
        }
        Err(target
            .invalid(
                "known_hosts",
                format!(
                    "{} holds no key for `{name}`: add the host's key (`ssh-keyscan -p {} {}`, \
                     checked against the fingerprint the host itself shows); the driver never \
                     accepts a key it does not know",
                    self.known_hosts.display(),
                    self.port,
                    self.host
                ),
            )
            .into())
    }

    /// One connection before anything else: a wrong key or a refused login ends the rehearsal
    /// before the first revert; a host that does not answer may just be down until reverted.
    fn preflight(&self) -> Result<(), DriverError> {
        let output = output(&mut self.ssh_command(self.connect_timeout, "true"))?;
        if output.status.success() {
            return Ok(());
        }
        match self.refusal(&String::from_utf8_lossy(&output.stderr)) {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// `ssh` with every option this driver insists on, running `remote` (a command line for
    /// the remote user's shell).
    fn ssh_command(&self, connect_timeout: Duration, remote: &str) -> Command {
        let mut ssh = Command::new("ssh");
        // ssh keeps the first value it gets for an option: these come first.
        ssh.args(["-F", "none", "-T", "-p"])
            .arg(self.port.to_string())
            .arg("-i")
            .arg(ssh_path(&self.identity))
            .arg("-o")
            .arg(format!(
                "UserKnownHostsFile=\"{}\"",
                ssh_path(&self.known_hosts)
            ));
        for option in [
            "StrictHostKeyChecking=yes",
            "GlobalKnownHostsFile=/dev/null",
            "UpdateHostKeys=no",
            "CheckHostIP=no",
            "BatchMode=yes",
            "IdentitiesOnly=yes",
            "IdentityAgent=none",
            "PasswordAuthentication=no",
            "KbdInteractiveAuthentication=no",
            "ControlMaster=no",
            "ControlPath=none",
            "ForwardAgent=no",
            "ForwardX11=no",
            "ServerAliveInterval=15",
            "ServerAliveCountMax=4",
            "LogLevel=ERROR",
        ] {
            ssh.arg("-o").arg(option);
        }
        ssh.arg("-o")
            .arg(format!(
                "ConnectTimeout={}",
                connect_timeout.as_secs().max(1)
            ))
            .arg("-l")
            .arg(&self.user)
            .arg(&self.host)
            .arg(remote);
        ssh
    }

    /// `ssh` running `body` in `sh`, with `$W` set to the work directory.
    fn remote_script(&self, body: &str) -> Command {
        let script = format!("W={}\n{body}", quote(&self.workdir));
        self.ssh_command(self.connect_timeout, &format!("sh -c {}", quote(&script)))
    }

    /// The error for what ssh said when it refused to go on, if it did: a host key that is not
    /// the known one, or a login the host refused. Waiting would not change either.
    fn refusal(&self, stderr: &str) -> Option<DriverError> {
        let said = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("@@@"))
            .collect::<Vec<_>>()
            .join(" / ");
        if stderr.contains("Host key verification failed")
            || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        {
            // ssh's banner is long: its fingerprint and its verdict say it all.
            let sent = stderr
                .split_whitespace()
                .find(|w| w.starts_with("SHA256:"))
                .map(|f| format!(" (it sent {})", f.trim_end_matches('.')))
                .unwrap_or_default();
            Some(DriverError::Command {
                command: format!("ssh {}", self.destination()),
                what: format!(
                    "the host's key{sent} is not the one {} holds for `{}`: refused (ssh: Host \
                     key verification failed). If the host was reinstalled, check its new key \
                     out of band and write it there",
                    self.known_hosts.display(),
                    self.known_hosts_name()
                ),
            })
        } else if stderr.contains("Permission denied") {
            Some(DriverError::Command {
                command: format!("ssh {}", self.destination()),
                what: format!(
                    "the host refused the login of `{}` with {} (ssh: {said})",
                    self.user,
                    self.identity.display()
                ),
            })
        } else {
            None
        }
    }

    /// Waits until `ssh true` works (a reverted VM reboots), or a refusal, or the deadline.
    fn wait_ready(&self, console: &Path) -> Result<(), DriverError> {
        let start = Instant::now();
        let deadline = start + self.ready_timeout;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let connect = self.connect_timeout.min(remaining);
            let answer = output(&mut self.ssh_command(connect, "true"))?;
            if answer.status.success() {
                return note(
                    console,
                    &format!(
                        "{} answers, after {attempts} attempt(s), {:.2} s",
                        self.destination(),
                        start.elapsed().as_secs_f64()
                    ),
                );
            }
            let stderr = String::from_utf8_lossy(&answer.stderr).trim().to_string();
            if let Some(refusal) = self.refusal(&stderr) {
                note(console, &refusal.to_string())?;
                return Err(refusal);
            }
            if Instant::now() >= deadline {
                let what = format!(
                    "no answer within {} s of the revert ({attempts} attempts; last: {stderr})",
                    self.ready_timeout.as_secs()
                );
                note(console, &what)?;
                return Err(DriverError::Command {
                    command: format!("ssh {} true", self.destination()),
                    what,
                });
            }
            std::thread::sleep(Duration::from_millis(500).min(remaining));
        }
    }

    /// Runs a short remote script; an error with ssh's or the script's stderr if it fails.
    fn remote(&self, what: &str, body: &str) -> Result<(), DriverError> {
        let answer = output(self.remote_script(body).stdin(Stdio::null()))?;
        self.check(what, &answer)
    }

    fn check(&self, what: &str, answer: &Output) -> Result<(), DriverError> {
        if answer.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&answer.stderr).trim().to_string();
        Err(self.refusal(&stderr).unwrap_or(DriverError::Command {
            command: format!("ssh {} ({what})", self.destination()),
            what: format!("{}: {stderr}", answer.status),
        }))
    }

    /// Kills the remote command's process group (after a timeout).
    fn kill_remote(&self, console: &Path) -> Result<(), DriverError> {
        let killed = self.remote(
            "kill the timed-out run",
            r#"pg=$(cat "$W/pgid" 2>/dev/null)
[ -n "$pg" ] || { echo "no $W/pgid: nothing to kill" >&2; exit 1; }
kill -KILL "-$pg" && echo "killed process group $pg""#,
        );
        match killed {
            Ok(()) => note(console, "the remote run's process group was killed"),
            Err(e) => note(console, &format!("cannot kill the remote run: {e}")),
        }
    }

    /// Streams `WORKDIR/out` into `collected`.
    fn fetch(&self, collected: &Path, console: &Path) -> Result<(), DriverError> {
        std::fs::create_dir_all(collected).map_err(DriverError::io(collected))?;
        let errors = append(console)?;
        let from = errors.metadata().map(|m| m.len()).unwrap_or(0);
        let mut command = self.remote_script(r#"exec tar -cf - -C "$W" out"#);
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(errors)
            .spawn()
            .map_err(|e| DriverError::Command {
                command: format!("ssh {} (collect)", self.destination()),
                what: format!("cannot start it: {e}"),
            })?;
        let mut child = Reaped(child);
        let unpacked = match child.0.stdout.take() {
            Some(stdout) => tar::Archive::new(stdout).unpack(collected),
            None => Ok(()),
        };
        if unpacked.is_err() {
            // ssh may be blocked writing what nobody reads any more.
            let _ = child.0.kill();
        }
        let status = child.0.wait().map_err(DriverError::io(collected))?;
        unpacked.map_err(DriverError::io(collected))?;
        if status.success() {
            return Ok(());
        }
        let stderr = read_from(console, from);
        Err(self.refusal(&stderr).unwrap_or(DriverError::Command {
            command: format!("ssh {} (collect)", self.destination()),
            what: format!("{status}: {}", stderr.trim()),
        }))
    }
}

impl Driver for Ssh {
    fn describe(&self) -> String {
        format!("ssh {} (revert: {})", self.destination(), self.revert)
    }

    fn revert(&mut self, run: &RunDir) -> Result<(), DriverError> {
        let console = run.console();
        note(
            &console,
            &format!("revert (run {}): {}", run.number, self.revert),
        )?;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(&self.revert)
            .current_dir(&self.revert_dir)
            // Its own process group, so that a timeout kills what it started too.
            .process_group(0);
        let mut child = Guarded::spawn(&mut command, &console)?;
        let group = child.id();
        match child.wait_for(self.revert_timeout)? {
            Some(status) if status.success() => {}
            Some(status) => {
                return Err(DriverError::Command {
                    command: format!("revert `{}`", self.revert),
                    what: format!("{status} (its output: {})", console.display()),
                })
            }
            None => {
                if let Some(group) = group {
                    kill_group(group);
                }
                return Err(DriverError::Timeout {
                    what: format!("the revert command `{}`", self.revert),
                    secs: self.revert_timeout.as_secs(),
                    log: console,
                });
            }
        }
        self.wait_ready(&console)
    }

    fn deliver(&mut self, run: &RunDir) -> Result<(), DriverError> {
        note(
            &run.console(),
            &format!("deliver to {}:{}", self.destination(), self.workdir),
        )?;
        let payload = run.payload();
        let file = File::open(&payload).map_err(DriverError::io(&payload))?;
        let body = format!(
            r#"if [ -L "$W" ] || {{ [ -e "$W" ] && [ ! -f "$W/{MARKER}" ]; }}; then
    if [ -L "$W" ] || [ ! -d "$W" ] || [ -n "$(ls -A "$W")" ]; then
        echo "$W exists and is not a rehearsal's work directory (no {MARKER}): refusing to remove it" >&2
        exit 3
    fi
fi
rm -rf "$W" && mkdir -p "$(dirname "$W")" && mkdir -m 0700 "$W" && : >"$W/{MARKER}" && mkdir "$W/in" || exit 4
exec tar -xf - -C "$W/in""#
        );
        let answer = output(self.remote_script(&body).stdin(file))?;
        self.check("deliver", &answer)
    }

    fn execute(&mut self, run: &RunDir, timeout: Duration) -> Result<(), DriverError> {
        let console = run.console();
        note(&console, "execute: sh run.sh IN OUT")?;
        let from = std::fs::metadata(&console).map(|m| m.len()).unwrap_or(0);
        // The pgid first (field 5 of /proc/PID/stat: the 3rd after the `)` that ends comm),
        // for the kill after a timeout; `exit_code` last, the sign that run.sh returned.
        let body = r#"cd / || exit 5
sed 's/.*) //' /proc/$$/stat | cut -d' ' -f3 >"$W/pgid"
mkdir -p "$W/out" || exit 6
sh "$W/in/run.sh" "$W/in" "$W/out" >"$W/out/run.log" 2>&1 </dev/null
echo $? >"$W/out/exit_code""#;
        let mut ssh = Guarded::spawn(&mut self.remote_script(body), &console)?;
        match ssh.wait_for(timeout)? {
            Some(status) if status.success() => Ok(()),
            Some(status) => {
                let stderr = read_from(&console, from);
                Err(self.refusal(&stderr).unwrap_or(DriverError::Command {
                    command: format!("ssh {} (execute)", self.destination()),
                    what: format!("{status}: {}", stderr.trim()),
                }))
            }
            None => {
                note(&console, "timed out: the ssh client was killed")?;
                self.kill_remote(&console)?;
                Err(DriverError::Timeout {
                    what: format!("run.sh on {}", self.destination()),
                    secs: timeout.as_secs(),
                    log: console,
                })
            }
        }
    }

    fn collect(&mut self, run: &RunDir) -> Result<(), DriverError> {
        let console = run.console();
        note(&console, "collect")?;
        let fetched = self.fetch(&run.collected(), &console);
        let removed = self.remote(
            "remove the work directory",
            &format!(r#"if [ -f "$W/{MARKER}" ]; then rm -rf "$W"; fi"#),
        );
        fetched.and(removed)
    }
}

/// Runs `command` to its end, capturing its output (stdin: whatever the caller set, else none).
fn output(command: &mut Command) -> Result<Output, DriverError> {
    command.output().map_err(|e| DriverError::Command {
        command: command.get_program().to_string_lossy().into_owned(),
        what: format!("cannot start it: {e}"),
    })
}

/// A child killed and reaped when dropped (the collect stream).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `kill -KILL -- -group`, for a revert command past its deadline.
fn kill_group(group: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--"])
        .arg(format!("-{group}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn append(path: &Path) -> Result<File, DriverError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(DriverError::io(path))
}

/// A line of the driver's own in the run's console log.
fn note(console: &Path, line: &str) -> Result<(), DriverError> {
    writeln!(append(console)?, "== ssh: {line}").map_err(DriverError::io(console))
}

/// What `path` got past byte `from` (for an error message: the last 2,000 characters).
fn read_from(path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(from)).is_ok() {
            let mut bytes = Vec::new();
            let _ = file.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    let chars: Vec<char> = text.chars().collect();
    chars[chars.len().saturating_sub(2000)..].iter().collect()
}

/// `s` as one word for a POSIX shell.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A path for ssh's options, which expand `%` tokens in file names.
fn ssh_path(path: &Path) -> String {
    path.to_string_lossy().replace('%', "%%")
}

fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_:".contains(c))
}

fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && !user.starts_with('-')
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The work directory is removed with `rm -rf`: absolute, plain components only, not `/`.
fn check_workdir(workdir: &str) -> Result<(), String> {
    let path = Path::new(workdir);
    if !path.is_absolute() {
        return Err("must be an absolute path".into());
    }
    if workdir.contains(['\n', '\0']) {
        return Err("a newline or a NUL is not allowed".into());
    }
    // `Path::components` drops a `.` in the middle: read the text itself.
    if workdir.split('/').any(|part| part == "." || part == "..") {
        return Err("`.` and `..` are not allowed".into());
    }
    let normal = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    if normal < 2 {
        return Err("it is removed before and after each run: give a directory of its own, at least two levels deep".into());
    }
    Ok(())
}

fn existing_file(
    target: &Target,
    key: &str,
    value: &str,
    missing: impl FnOnce(&Path) -> String,
) -> Result<PathBuf, DriverError> {
    let path = target.resolve(value);
    if !path.is_file() {
        return Err(target.invalid(key, missing(&path)).into());
    }
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(dir: &Path, table: &str) -> Target {
        Target::parse(
            &dir.join("target.toml"),
            &format!("driver = \"ssh\"\n[ssh]\n{table}"),
        )
        .unwrap()
    }

    #[test]
    fn quoting_survives_a_shell() {
        for s in [
            "plain",
            "with space",
            "it's",
            "'",
            "$HOME `x` \"y\" \\z",
            "",
        ] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn a_work_directory_must_be_safe_to_remove() {
        assert!(check_workdir("/var/tmp/bascule-rehearsal").is_ok());
        assert!(check_workdir("/opt/rehearsal").is_ok());
        for bad in ["/", "/var", "var/tmp/x", "/var/tmp/../..", "/var/./x"] {
            assert!(check_workdir(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_table_is_checked_and_the_files_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("key"), "").unwrap();
        let table = |extra: &str| {
            format!("host = \"127.0.0.1\"\nidentity = \"key\"\nrevert = \"true\"\n{extra}")
        };
        let t = target(dir.path(), &table("known_hosts = \"known\"\n"));
        let err = Ssh::from_config(&t, t.driver_config().unwrap()).unwrap_err();
        assert!(err.to_string().contains("ssh.known_hosts"), "{err}");
        assert!(err.to_string().contains("never accepts"), "{err}");
        std::fs::write(dir.path().join("known"), "").unwrap();
        let t = target(dir.path(), &table("known_hosts = \"known\"\nport = 2222\n"));
        let ssh = Ssh::from_config(&t, t.driver_config().unwrap()).unwrap();
        assert_eq!(ssh.destination(), "root@127.0.0.1:2222");
        assert_eq!(ssh.known_hosts_name(), "[127.0.0.1]:2222");
        assert_eq!(ssh.describe(), "ssh root@127.0.0.1:2222 (revert: true)");
        assert!(ssh.known_hosts.is_absolute() && ssh.identity.is_absolute());
        let err = ssh.check_known_hosts(&t).unwrap_err();
        assert!(err.to_string().contains("holds no key"), "{err}");
        let changed = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
            The fingerprint for the ED25519 key sent by the remote host is\nSHA256:abc.\n\
            Host key verification failed.\n";
        let err = ssh.refusal(changed).unwrap().to_string();
        assert!(err.contains("(it sent SHA256:abc) is not the one"), "{err}");
        assert!(!err.contains("WARNING"), "{err}");
        let err = ssh.refusal("root@127.0.0.1: Permission denied (publickey).\n");
        assert!(err
            .unwrap()
            .to_string()
            .contains("refused the login of `root`"));
        assert!(ssh
            .refusal("ssh: connect to host 127.0.0.1 port 2222: Connection refused")
            .is_none());
        let t = target(
            dir.path(),
            &table("known_hosts = \"known\"\nuser = \"-oProxyCommand=x\"\n"),
        );
        let err = Ssh::from_config(&t, t.driver_config().unwrap()).unwrap_err();
        assert!(err.to_string().contains("ssh.user"), "{err}");
        let t = target(
            dir.path(),
            &table("known_hosts = \"known\"\nworkdir = \"/\"\n"),
        );
        let err = Ssh::from_config(&t, t.driver_config().unwrap()).unwrap_err();
        assert!(err.to_string().contains("ssh.workdir"), "{err}");
    }
}
