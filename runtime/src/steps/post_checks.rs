//! `post-checks`: the consistency checks again, on the migrated databases.

use super::checks::run_checks;
use crate::engine::{Context, Step, StepError};
use crate::journal::Intent;
use bascule_patch::Moment;

pub struct PostChecks;

impl Step for PostChecks {
    fn name(&self) -> &'static str {
        "post-checks"
    }

    fn summary(&self) -> &'static str {
        "consistency queries return zero rows on every migrated database"
    }

    fn run(&self, cx: &mut Context<'_>) -> Result<(), StepError> {
        run_checks(cx, Moment::After)
    }

    fn undo(&self, _cx: &Context<'_>, _intents: &[Intent]) -> Result<(), StepError> {
        Ok(())
    }
}
