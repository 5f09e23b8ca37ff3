//! `stop-services`: stop every service of the host profile, in its order, each verified stopped.
//!
//! Before touching a service, its intent records whether it was running: the undo starts again
//! only those that were (in reverse order, each verified healthy), so a service the operator had
//! stopped stays stopped. Once every stop is verified, the builtin maintenance server (if any)
//! takes the web address.

use std::time::Instant;

use crate::engine::{Context, Step, StepError};
use crate::journal::Intent;
use crate::maintenance;
use crate::services::{Runner, Service};

pub struct StopServices;

/// The runner for a step's commands: the profile's directory, the run's log and directory.
pub fn runner<'a>(cx: &'a Context<'_>) -> Runner<'a> {
    Runner {
        log: cx.log,
        workdir: cx.host.dir(),
        scratch: cx.run_dir,
    }
}

impl Step for StopServices {
    fn name(&self) -> &'static str {
        "stop-services"
    }

    fn summary(&self) -> &'static str {
        "stop the services in order, each verified stopped (status, pid gone, port closed)"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        if cx.host.services.is_empty() {
            cx.say("no services configured (host profile [[services]])");
            return Ok(());
        }
        maintenance::release_port(cx.log);
        for spec in &cx.host.services {
            let service = Service::new(spec, &cx.host.https);
            let was_running = service.is_running(&runner(cx))?;
            cx.intend(Intent::StopService {
                name: spec.name.clone(),
                was_running,
            })?;
            if !was_running {
                cx.say(format_args!("{}: not running; left stopped", spec.name));
                continue;
            }
            let took = service.stop_verified(&runner(cx))?;
            cx.say(format_args!(
                "{}: stopped in {} ms",
                spec.name,
                took.as_millis()
            ));
        }
        maintenance::take_port(cx.log)?;
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        maintenance::release_port(cx.log);
        for intent in intents.iter().rev() {
            if let Intent::StopService {
                name,
                was_running: true,
            } = intent
            {
                start_again(cx, name)?;
            }
        }
        Ok(())
    }
}

/// Starts `name` unless it runs already; either way it must end up healthy.
fn start_again(cx: &Context<'_>, name: &str) -> Result<(), StepError> {
    let service = Service::new(cx.host.service(name)?, &cx.host.https);
    let runner = runner(cx);
    if service.is_running(&runner)? {
        service.wait_healthy(&runner, Instant::now())?;
        cx.say(format_args!("{name}: still running, healthy"));
        return Ok(());
    }
    let took = service.start_verified(&runner)?;
    cx.say(format_args!(
        "{name}: started again, healthy in {} ms",
        took.as_millis()
    ));
    Ok(())
}
