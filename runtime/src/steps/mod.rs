//! The steps of `bascule apply`, one module each, in the order they run.
//!
//! Adding a step means writing its module and listing it in [`apply_steps`]; the engine, the
//! journal, `plan`, `rollback` and `recover` pick it up from there.

pub mod acceptance;
pub mod checks;
pub mod finish;
pub mod guard;
pub mod install_code;
pub mod maintenance;
pub mod migrate;
pub mod post_checks;
pub mod preflight;
pub mod purge_caches;
pub mod sample;
pub mod smoke;
pub mod start_services;
pub mod stop_services;

use crate::engine::Step;

/// The steps of `bascule apply`, in order.
pub fn apply_steps() -> Vec<Box<dyn Step>> {
    vec![
        Box::new(guard::Guard),
        Box::new(preflight::Preflight),
        Box::new(sample::SampleBefore),
        Box::new(maintenance::MaintenanceOn),
        Box::new(stop_services::StopServices),
        Box::new(install_code::InstallCode),
        Box::new(purge_caches::PurgeCaches),
        Box::new(migrate::Migrate),
        Box::new(post_checks::PostChecks),
        Box::new(start_services::StartServices),
        Box::new(smoke::Smoke),
        Box::new(sample::SampleAfter),
        Box::new(acceptance::Acceptance),
        Box::new(maintenance::MaintenanceOff),
        Box::new(finish::Finish),
    ]
}
