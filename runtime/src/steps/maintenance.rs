//! `maintenance-on` and `maintenance-off`: the 503 page (see `maintenance`) shown for the whole
//! time the platform is being changed and checked, from before the services stop to after the
//! acceptance. Each records its intent, so the undo of one is the other.

use crate::engine::{Context, Step, StepError};
use crate::journal::Intent;
use crate::maintenance;

pub struct MaintenanceOn;

pub struct MaintenanceOff;

impl Step for MaintenanceOn {
    fn name(&self) -> &'static str {
        "maintenance-on"
    }

    fn summary(&self) -> &'static str {
        "show the 503 maintenance page (builtin server, or the flag file the front server honours)"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        switch(cx, true)
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        undo_switch(cx, intents)
    }
}

impl Step for MaintenanceOff {
    fn name(&self) -> &'static str {
        "maintenance-off"
    }

    fn summary(&self) -> &'static str {
        "take the maintenance page down: the platform is open again"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        switch(cx, false)
    }

    fn undo(&self, cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
        undo_switch(cx, intents)
    }
}

fn switch(cx: &mut Context<'_>, open: bool) -> Result<(), StepError> {
    let Some(spec) = cx.host.maintenance.clone() else {
        cx.say("no maintenance page configured (host profile [maintenance])");
        return Ok(());
    };
    cx.intend(Intent::Maintenance { open })?;
    set(cx, &spec, open)
}

fn undo_switch(cx: &Context<'_>, intents: &[Intent]) -> Result<(), StepError> {
    for intent in intents.iter().rev() {
        if let (Intent::Maintenance { open }, Some(spec)) = (intent, &cx.host.maintenance) {
            set(cx, spec, !open)?;
        }
    }
    Ok(())
}

fn set(cx: &Context<'_>, spec: &maintenance::MaintenanceSpec, open: bool) -> Result<(), StepError> {
    if open {
        maintenance::open(spec, cx.log)?;
        cx.say("maintenance page on");
    } else {
        maintenance::close(spec, cx.log)?;
        cx.say("maintenance page off");
    }
    Ok(())
}
