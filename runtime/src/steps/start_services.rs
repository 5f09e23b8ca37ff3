//! `start-services`: start again, in reverse order, the services `stop-services` found running;
//! each must be healthy (status, health URL or port) within its timeout.
//!
//! Which services ran before the run is read from this run's journal (the `stop-services`
//! intents), so a service the operator had stopped is not started by a release. The undo stops
//! what this step started, each verified stopped, and lets the builtin maintenance server (if
//! any) take the address again.

use std::collections::BTreeMap;

use super::stop_services::runner;
use crate::engine::{Context, Step, StepError};
use crate::journal::{Event, Intent, Journal};
use crate::maintenance;
use crate::services::Service;

pub struct StartServices;

impl Step for StartServices {
    fn name(&self) -> &'static str {
        "start-services"
    }

    fn summary(&self) -> &'static str {
        "start the services in reverse order, each verified healthy (status, health URL or port)"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        if cx.host.services.is_empty() {
            cx.say("no services configured (host profile [[services]])");
            return Ok(());
        }
        let ran_before = ran_before(cx)?;
        maintenance::release_port(cx.log);
        for spec in cx.host.services.iter().rev() {
            if ran_before.get(&spec.name) == Some(&false) {
                cx.say(format_args!(
                    "{}: was not running before the run; left stopped",
                    spec.name
                ));
                continue;
            }
            let service = Service::new(spec, &cx.host.https);
            if service.is_running(&runner(cx))? {
                return Err(StepError::Failed(format!(
                    "service `{}` is running although stop-services stopped it: something restarted it \
                     (a supervisor?), maybe on the old code; make it leave the service to Bascule",
                    spec.name
                )));
            }
            cx.intend(Intent::StartService {
                name: spec.name.clone(),
            })?;
            let took = service.start_verified(&runner(cx))?;
            cx.say(format_args!(
                "{}: started, healthy in {} ms",
                spec.name,
                took.as_millis()
            ));
        }
        Ok(())
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        maintenance::release_port(cx.log);
        let mut stopped_any = false;
        for intent in intents.iter().rev() {
            if let Intent::StartService { name } = intent {
                let service = Service::new(cx.host.service(name)?, &cx.host.https);
                if service.is_running(&runner(cx))? {
                    let took = service.stop_verified(&runner(cx))?;
                    cx.say(format_args!(
                        "{name}: stopped again in {} ms",
                        took.as_millis()
                    ));
                }
                stopped_any = true;
            }
        }
        if stopped_any {
            maintenance::take_port(cx.log)?;
        }
        Ok(())
    }
}

/// Service name → whether it was running when `stop-services` looked, from this run's journal.
fn ran_before(cx: &Context<'_>) -> Result<BTreeMap<String, bool>, StepError> {
    let mut ran = BTreeMap::new();
    for event in Journal::read(cx.journal.path())? {
        if let Event::Intent {
            intent: Intent::StopService { name, was_running },
            ..
        } = event
        {
            ran.insert(name, was_running);
        }
    }
    Ok(ran)
}
