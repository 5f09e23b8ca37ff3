//! The host's services: stopped before the code changes, started again after, each *verified*.
//!
//! A release must never run half of the platform on the old code and half on the new, so
//! "stopped" and "started" are facts checked, not commands sent:
//!
//! - **stopped** means the kind's status says stopped, the process of the pid file (read before
//!   the stop) is gone, and the service's port refuses connections — all three within
//!   `stop_timeout` seconds;
//! - **started** means the status says running and, when configured, the health URL answers 2xx
//!   (or the TCP port accepts connections) — within `start_timeout` seconds. A `https://` health
//!   URL's certificate is verified like every other (see [`crate::http`]), trusting the host
//!   profile's `[https] ca_file` besides the public roots.
//!
//! How a service is driven depends on its kind, one module each behind [`ServiceKind`]:
//! [`systemd`] (`systemctl`), [`sysv`] (`service NAME start|stop|status`) and [`command`] (the
//! host profile's own start/stop/status command lines and pid file). Every command runs through
//! [`Runner`], which writes it and its output, timestamped, to the run log.
//!
//! ```toml
//! [[services]]
//! name = "web"
//! kind = "command"                 # "systemd" | "sysv" | "command"
//! start = "bin/web --port 8080 >>logs/web.log 2>&1 & echo $! >run/web.pid"
//! stop = "kill $(cat run/web.pid)"
//! status = "..."                   # optional: exit 0 = running (default: the pid file's process)
//! pid_file = "run/web.pid"
//! health_url = "http://127.0.0.1:8080/_health"   # or https://…, or health_port = 8080
//! start_timeout = 30               # seconds
//! stop_timeout = 30
//! # unit = "web.service"           # systemd only (default: "<name>.service")
//! ```
//!
//! Command lines run with `sh -c` in the host profile's directory, so relative paths in them
//! mean the same as the profile's own.

pub mod command;
pub mod runner;
pub mod systemd;
pub mod sysv;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

pub use runner::Runner;

use crate::http::{Client, Roots};

/// How often the verification loops look again.
const POLL: Duration = Duration::from_millis(50);

/// How long one health check request may take: the loop asks again until `start_timeout`.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("service `{service}`: `{command}`: {what}")]
    Command {
        service: String,
        command: String,
        what: String,
    },
    #[error("service `{service}`: {what}")]
    Verify { service: String, what: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a service is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Systemd,
    Sysv,
    Command,
}

/// One `[[services]]` entry of the host profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    pub name: String,
    pub kind: Kind,
    /// systemd: the unit; default `<name>.service`.
    #[serde(default)]
    pub unit: Option<String>,
    /// command: the shell line that starts the service (and returns).
    #[serde(default)]
    pub start: Option<String>,
    /// command: the shell line that stops it.
    #[serde(default)]
    pub stop: Option<String>,
    /// command: a shell line whose exit 0 means "running"; default: the pid file's process lives.
    #[serde(default)]
    pub status: Option<String>,
    /// The file holding the service's main pid: stopped means this process is gone.
    #[serde(default)]
    pub pid_file: Option<PathBuf>,
    /// `http://host:port/path` or `https://…`: started means it answers 2xx; stopped means its
    /// port is closed.
    #[serde(default)]
    pub health_url: Option<String>,
    /// A TCP port on 127.0.0.1: started means it accepts, stopped means it refuses.
    #[serde(default)]
    pub health_port: Option<u16>,
    /// Seconds to wait for a verified start.
    #[serde(default = "default_start_timeout")]
    pub start_timeout: u64,
    /// Seconds to wait for a verified stop.
    #[serde(default = "default_stop_timeout")]
    pub stop_timeout: u64,
}

fn default_start_timeout() -> u64 {
    30
}

fn default_stop_timeout() -> u64 {
    30
}

impl ServiceSpec {
    /// Refuses what cannot work, and resolves the pid file against the profile's directory.
    pub fn check_and_resolve(&mut self, base: &Path) -> Result<(), String> {
        let name = &self.name;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!(
                "services: `{name}` is not a service name (non-empty, no spaces)"
            ));
        }
        let commands = [
            self.start.as_ref().map(|_| "start"),
            self.stop.as_ref().map(|_| "stop"),
            self.status.as_ref().map(|_| "status"),
        ];
        match self.kind {
            Kind::Command => {
                if self.start.is_none() || self.stop.is_none() {
                    return Err(format!(
                        "services.{name}: kind \"command\" needs `start` and `stop` command lines"
                    ));
                }
                if self.status.is_none() && self.pid_file.is_none() {
                    return Err(format!(
                        "services.{name}: kind \"command\" needs `status` or `pid_file`, to know whether it runs"
                    ));
                }
            }
            Kind::Systemd | Kind::Sysv => {
                if let Some(field) = commands.iter().flatten().next() {
                    return Err(format!(
                        "services.{name}: `{field}` is for kind \"command\"; a {} service is driven by its init system",
                        if self.kind == Kind::Systemd { "systemd" } else { "sysv" }
                    ));
                }
            }
        }
        if self.unit.is_some() && self.kind != Kind::Systemd {
            return Err(format!(
                "services.{name}: `unit` is for kind \"systemd\" only"
            ));
        }
        if let Some(url) = &self.health_url {
            parse_http_url(url).map_err(|what| format!("services.{name}.health_url: {what}"))?;
        }
        if self.start_timeout == 0 || self.stop_timeout == 0 {
            return Err(format!(
                "services.{name}: timeouts are seconds and must be at least 1"
            ));
        }
        if let Some(pid) = &self.pid_file {
            if pid.is_relative() {
                self.pid_file = Some(base.join(pid));
            }
        }
        Ok(())
    }

    /// The address whose port must be closed once the service is stopped.
    fn port_addr(&self) -> Option<SocketAddr> {
        if let Some(port) = self.health_port {
            return Some(SocketAddr::from(([127, 0, 0, 1], port)));
        }
        let (host, port, _) = parse_http_url(self.health_url.as_deref()?).ok()?;
        (host.as_str(), port).to_socket_addrs().ok()?.next()
    }
}

/// Splits `http://host:port/path` or `https://…` into its parts (port 80 or 443 by default).
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let (rest, default_port) = match url.split_once("://") {
        Some(("http", rest)) => (rest, 80),
        Some(("https", rest)) => (rest, 443),
        _ => return Err(format!("`{url}` must be an http:// or https:// URL")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("`{url}`: `{port}` is not a port"))?,
        ),
        None => (authority, default_port),
    };
    if host.is_empty() {
        return Err(format!("`{url}` names no host"));
    }
    Ok((host.to_string(), port, path.to_string()))
}

/// Whether a service runs, as its kind sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Stopped,
}

/// What each kind of service knows how to do. Verification is common to all, in [`Service`].
pub trait ServiceKind {
    /// Asks the service to start; returns once the request is made.
    fn start(&self, runner: &Runner<'_>) -> Result<(), ServiceError>;
    /// Asks the service to stop; returns once the request is made.
    fn stop(&self, runner: &Runner<'_>) -> Result<(), ServiceError>;
    /// Whether it runs now.
    fn status(&self, runner: &Runner<'_>) -> Result<Status, ServiceError>;
}

/// A configured service with its kind: stop and start, verified.
pub struct Service<'a> {
    pub spec: &'a ServiceSpec,
    kind: Box<dyn ServiceKind + 'a>,
    /// Asks `health_url`, when there is one; kept so that polling reuses its connection.
    health: Option<Client>,
}

impl<'a> Service<'a> {
    /// The service of `spec`, its health URL checked trusting `roots` (the host profile's
    /// `https`) for `https://`.
    pub fn new(spec: &'a ServiceSpec, roots: &Roots) -> Service<'a> {
        let kind: Box<dyn ServiceKind + 'a> = match spec.kind {
            Kind::Systemd => Box::new(systemd::Systemd::new(spec)),
            Kind::Sysv => Box::new(sysv::Sysv::new(spec)),
            Kind::Command => Box::new(command::CommandService::new(spec)),
        };
        Service::with_kind(spec, kind, roots)
    }

    /// A service driven by a given kind (tests give fake init systems this way).
    pub fn with_kind(
        spec: &'a ServiceSpec,
        kind: Box<dyn ServiceKind + 'a>,
        roots: &Roots,
    ) -> Service<'a> {
        let health = spec
            .health_url
            .as_ref()
            .map(|_| Client::following_redirects(HEALTH_TIMEOUT, roots));
        Service { spec, kind, health }
    }

    pub fn is_running(&self, runner: &Runner<'_>) -> Result<bool, ServiceError> {
        Ok(self.kind.status(runner)? == Status::Running)
    }

    /// Stops the service and waits until it is verifiably stopped. Returns how long it took.
    pub fn stop_verified(&self, runner: &Runner<'_>) -> Result<Duration, ServiceError> {
        let clock = Instant::now();
        let pid = self.spec.pid_file.as_deref().and_then(command::read_pid);
        self.kind.stop(runner)?;
        let deadline = clock + Duration::from_secs(self.spec.stop_timeout);
        loop {
            let left = self.still_up(runner, pid)?;
            if left.is_empty() {
                let took = clock.elapsed();
                runner.log.line(format_args!(
                    "service {}: verified stopped in {} ms",
                    self.spec.name,
                    took.as_millis()
                ));
                return Ok(took);
            }
            if Instant::now() >= deadline {
                return Err(self.verify_error(format!(
                    "still not stopped after {} s (stop_timeout): {}. Find out why it does not stop; \
                     nothing was changed yet",
                    self.spec.stop_timeout,
                    left.join(", ")
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// What still shows the service up: status, pid, port.
    fn still_up(&self, runner: &Runner<'_>, pid: Option<u32>) -> Result<Vec<String>, ServiceError> {
        let mut left = Vec::new();
        if self.kind.status(runner)? == Status::Running {
            left.push("its status says running".to_string());
        }
        if let Some(pid) = pid.filter(|p| command::pid_alive(*p)) {
            left.push(format!("process {pid} is alive"));
        }
        if let Some(addr) = self.spec.port_addr().filter(|a| port_open(*a)) {
            left.push(format!("port {addr} accepts connections"));
        }
        Ok(left)
    }

    /// Starts the service and waits until it is verifiably healthy. Returns how long it took.
    pub fn start_verified(&self, runner: &Runner<'_>) -> Result<Duration, ServiceError> {
        let clock = Instant::now();
        self.kind.start(runner)?;
        self.wait_healthy(runner, clock)
    }

    /// Waits until the status says running and the health check passes, from `clock`.
    pub fn wait_healthy(
        &self,
        runner: &Runner<'_>,
        clock: Instant,
    ) -> Result<Duration, ServiceError> {
        let deadline = clock + Duration::from_secs(self.spec.start_timeout);
        loop {
            let problem = self.health_problem(runner)?;
            let Some(problem) = problem else {
                let took = clock.elapsed();
                runner.log.line(format_args!(
                    "service {}: verified healthy in {} ms",
                    self.spec.name,
                    took.as_millis()
                ));
                return Ok(took);
            };
            if Instant::now() >= deadline {
                return Err(self.verify_error(format!(
                    "not healthy after {} s (start_timeout): {problem}. See its own log",
                    self.spec.start_timeout
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// Why the service is not healthy yet, or `None` if it is.
    fn health_problem(&self, runner: &Runner<'_>) -> Result<Option<String>, ServiceError> {
        if self.kind.status(runner)? != Status::Running {
            return Ok(Some("its status says stopped".into()));
        }
        if let (Some(url), Some(client)) = (&self.spec.health_url, &self.health) {
            return Ok(match client.get(url) {
                Ok(answer) if (200..300).contains(&answer.status) => None,
                Ok(answer) => Some(format!("GET {url} answers {}", answer.status)),
                Err(e) => Some(e.to_string()),
            });
        }
        if let Some(addr) = self.spec.port_addr() {
            if !port_open(addr) {
                return Ok(Some(format!("port {addr} refuses connections")));
            }
        }
        Ok(None)
    }

    fn verify_error(&self, what: String) -> ServiceError {
        ServiceError::Verify {
            service: self.spec.name.clone(),
            what,
        }
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn port_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bascule_runlog::RunLog;

    /// A fake init program: `start` runs `sleep` in the background with a pid file, `stop`
    /// kills it, the status verb exits 0 while it lives (zombies are dead) and 3 after; every call is recorded.
    const FAKE_INIT: &str = r#"#!/bin/sh
cd "$(dirname "$0")"
echo "$*" >>calls
case " $* " in
*" start "*) sleep 30 >/dev/null 2>&1 & echo $! >pid ;;
*" stop "*) kill "$(cat pid)" ;;
*) p=$(cat pid 2>/dev/null); [ -n "$p" ] && [ -r /proc/$p/stat ] && ! grep -q ') [ZX] ' /proc/$p/stat || exit 3 ;;
esac
"#;

    fn fake_init(dir: &Path) -> String {
        let program = dir.join("init");
        std::fs::write(&program, FAKE_INIT).unwrap();
        std::fs::set_permissions(
            &program,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        program.display().to_string()
    }

    fn spec(kind: Kind, dir: &Path) -> ServiceSpec {
        ServiceSpec {
            name: "web".into(),
            kind,
            unit: None,
            start: None,
            stop: None,
            status: None,
            pid_file: Some(dir.join("pid")),
            health_url: None,
            health_port: None,
            start_timeout: 5,
            stop_timeout: 5,
        }
    }

    #[test]
    fn systemd_and_sysv_services_are_driven_with_their_init_command_lines() {
        for kind in [Kind::Systemd, Kind::Sysv] {
            let dir = tempfile::tempdir().unwrap();
            let program = fake_init(dir.path());
            let spec = spec(kind, dir.path());
            let driver: Box<dyn ServiceKind> = match kind {
                Kind::Systemd => Box::new(systemd::Systemd {
                    program: program.clone(),
                    ..systemd::Systemd::new(&spec)
                }),
                _ => Box::new(sysv::Sysv {
                    program: program.clone(),
                    ..sysv::Sysv::new(&spec)
                }),
            };
            let service = Service::with_kind(&spec, driver, &Roots::public());
            let log = RunLog::discard();
            let runner = Runner {
                log: &log,
                workdir: dir.path(),
                scratch: dir.path(),
            };
            assert!(!service.is_running(&runner).unwrap());
            service.start_verified(&runner).unwrap();
            assert!(service.is_running(&runner).unwrap());
            service.stop_verified(&runner).unwrap();
            assert!(!service.is_running(&runner).unwrap());
            let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
            let first: Vec<&str> = calls.lines().take(3).collect();
            match kind {
                Kind::Systemd => assert_eq!(
                    first,
                    [
                        "is-active web.service",
                        "start web.service",
                        "is-active web.service"
                    ]
                ),
                _ => assert_eq!(first, ["web status", "web start", "web status"]),
            }
        }
    }

    /// A service whose init system always says it runs: only its health URL decides.
    struct AlwaysRunning;

    impl ServiceKind for AlwaysRunning {
        fn start(&self, _: &Runner<'_>) -> Result<(), ServiceError> {
            Ok(())
        }
        fn stop(&self, _: &Runner<'_>) -> Result<(), ServiceError> {
            Ok(())
        }
        fn status(&self, _: &Runner<'_>) -> Result<Status, ServiceError> {
            Ok(Status::Running)
        }
    }

    #[test]
    fn an_https_health_url_is_healthy_only_with_its_ca_trusted() {
        use crate::http::tests::{serve_tls, TestCa};
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("platform CA");
        let addr = serve_tls(ca.server(&["127.0.0.1"]));
        let ca_file = dir.path().join("web-ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap();
        let spec = ServiceSpec {
            health_url: Some(format!("https://{addr}/_health")),
            start_timeout: 1,
            ..spec(Kind::Command, dir.path())
        };
        let log = RunLog::discard();
        let runner = Runner {
            log: &log,
            workdir: dir.path(),
            scratch: dir.path(),
        };
        let trusted = Roots::with_ca_file(&ca_file).unwrap();
        Service::with_kind(&spec, Box::new(AlwaysRunning), &trusted)
            .wait_healthy(&runner, Instant::now())
            .unwrap();
        let err = Service::with_kind(&spec, Box::new(AlwaysRunning), &Roots::public())
            .wait_healthy(&runner, Instant::now())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not healthy after 1 s"), "{err}");
        assert!(err.contains("is not signed by a trusted CA"), "{err}");
    }

    #[test]
    fn health_urls_are_http_or_https() {
        assert_eq!(
            parse_http_url("http://127.0.0.1:8080/_health").unwrap(),
            ("127.0.0.1".into(), 8080, "/_health".into())
        );
        assert_eq!(
            parse_http_url("http://localhost").unwrap(),
            ("localhost".into(), 80, "/".into())
        );
        assert_eq!(
            parse_http_url("https://web.internal/_health").unwrap(),
            ("web.internal".into(), 443, "/_health".into())
        );
        assert!(parse_http_url("ftp://x/").is_err());
        assert!(parse_http_url("http://x:port/").is_err());
    }
}
