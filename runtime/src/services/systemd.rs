//! `kind = "systemd"`: `systemctl start|stop UNIT`, status from `systemctl is-active UNIT`.
//!
//! `systemctl start` returns once the unit is started as systemd understands it; Bascule then
//! checks health itself, since "active" says nothing of whether the app answers.

use std::time::Duration;

use super::{Runner, ServiceError, ServiceKind, ServiceSpec, Status};

const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Systemd {
    /// `systemctl`, or another program speaking its command line (tests).
    pub program: String,
    pub service: String,
    pub unit: String,
}

impl Systemd {
    pub fn new(spec: &ServiceSpec) -> Systemd {
        Systemd {
            program: "systemctl".into(),
            service: spec.name.clone(),
            unit: spec
                .unit
                .clone()
                .unwrap_or_else(|| format!("{}.service", spec.name)),
        }
    }

    fn act(&self, runner: &Runner<'_>, verb: &str) -> Result<(), ServiceError> {
        let done = runner.run(
            &self.service,
            &self.program,
            &[verb, &self.unit],
            SYSTEMCTL_TIMEOUT,
        )?;
        if done.success() {
            return Ok(());
        }
        Err(ServiceError::Command {
            service: self.service.clone(),
            command: format!("{} {verb} {}", self.program, self.unit),
            what: format!(
                "failed (exit {}): {}; see `journalctl -u {}`",
                done.code.map_or("by signal".into(), |c| c.to_string()),
                done.output.trim(),
                self.unit
            ),
        })
    }
}

impl ServiceKind for Systemd {
    fn start(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.act(runner, "start")
    }

    fn stop(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.act(runner, "stop")
    }

    fn status(&self, runner: &Runner<'_>) -> Result<Status, ServiceError> {
        let done = runner.run(
            &self.service,
            &self.program,
            &["is-active", &self.unit],
            SYSTEMCTL_TIMEOUT,
        )?;
        // `is-active` exits 0 only for "active"; activating, deactivating, failed and inactive
        // are all "not running" for a release.
        Ok(if done.success() {
            Status::Running
        } else {
            Status::Stopped
        })
    }
}
