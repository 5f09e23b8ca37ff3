//! `kind = "sysv"`: `service NAME start|stop|status`, for hosts with System V init scripts.
//!
//! The status follows the LSB exit codes: 0 running; 1, 2 and 3 not running (dead with a pid
//! file, dead with a lock, stopped); anything else (4: unknown) is an error, since a release must
//! not guess whether the old code still runs.

use std::time::Duration;

use super::{Runner, ServiceError, ServiceKind, ServiceSpec, Status};

const SERVICE_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Sysv {
    /// `service`, or another program speaking its command line (tests).
    pub program: String,
    pub name: String,
}

impl Sysv {
    pub fn new(spec: &ServiceSpec) -> Sysv {
        Sysv {
            program: "service".into(),
            name: spec.name.clone(),
        }
    }

    fn act(&self, runner: &Runner<'_>, verb: &str) -> Result<(), ServiceError> {
        let done = runner.run(
            &self.name,
            &self.program,
            &[&self.name, verb],
            SERVICE_TIMEOUT,
        )?;
        if done.success() {
            return Ok(());
        }
        Err(ServiceError::Command {
            service: self.name.clone(),
            command: format!("{} {} {verb}", self.program, self.name),
            what: format!(
                "failed (exit {}): {}",
                done.code.map_or("by signal".into(), |c| c.to_string()),
                done.output.trim()
            ),
        })
    }
}

impl ServiceKind for Sysv {
    fn start(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.act(runner, "start")
    }

    fn stop(&self, runner: &Runner<'_>) -> Result<(), ServiceError> {
        self.act(runner, "stop")
    }

    fn status(&self, runner: &Runner<'_>) -> Result<Status, ServiceError> {
        let done = runner.run(
            &self.name,
            &self.program,
            &[&self.name, "status"],
            SERVICE_TIMEOUT,
        )?;
        match done.code {
            Some(0) => Ok(Status::Running),
            Some(1..=3) => Ok(Status::Stopped),
            code => Err(ServiceError::Command {
                service: self.name.clone(),
                command: format!("{} {} status", self.program, self.name),
                what: format!(
                    "status unknown (exit {}): {}; Bascule does not guess whether the old code still runs",
                    code.map_or("by signal".into(), |c| c.to_string()),
                    done.output.trim()
                ),
            }),
        }
    }
}
