//! The payload of a run: what a driver delivers, one plain tar holding `bundle.tar.gz` and
//! `run.sh`.
//!
//! `run.sh` (beside this file) is the whole run on the target, in POSIX `sh` so that busybox
//! in a guest and dash on a server both run it: digest the host's state (`bascule digest`),
//! `bascule apply` non-interactively (`--no-multiplexer`: the driver is the session;
//! `--allow-forbidden-time` and `--allow-stale-backup`: a rehearsal is not a release), digest again, optionally
//! `bascule rollback` in a fresh process and digest a third time, and copy the run
//! directories. A target runs it as `sh run.sh IN OUT` and sends `OUT` back; the drivers'
//! guests also write `OUT/exit_code` when it returns, the sign that the run finished.

use std::path::Path;

use crate::driver::DriverError;

/// `run.sh`, before its settings are filled in.
const RUN_SH: &str = include_str!("run.sh");

/// What a run does on the target.
#[derive(Debug, Clone)]
pub struct RunSettings {
    /// The host profile on the target.
    pub host_profile: String,
    /// Roll a successful apply back, in a fresh process.
    pub rollback: bool,
}

/// `run.sh` for these settings.
pub fn run_script(settings: &RunSettings) -> Result<String, DriverError> {
    if settings.host_profile.contains('\'') {
        return Err(DriverError::Other(format!(
            "host_profile `{}`: a path with a quote cannot be passed to the target's shell",
            settings.host_profile
        )));
    }
    Ok(RUN_SH
        .replace("{host_profile}", &settings.host_profile)
        .replace("{rollback}", if settings.rollback { "1" } else { "0" }))
}

/// Writes the payload tar at `payload`: the bundle as `bundle.tar.gz`, then `run.sh`.
pub fn write(payload: &Path, bundle: &Path, settings: &RunSettings) -> Result<(), DriverError> {
    let script = run_script(settings)?;
    let file = std::fs::File::create(payload).map_err(DriverError::io(payload))?;
    let mut builder = tar::Builder::new(file);
    let mut bundle_file = std::fs::File::open(bundle).map_err(DriverError::io(bundle))?;
    builder
        .append_file("bundle.tar.gz", &mut bundle_file)
        .map_err(DriverError::io(payload))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(script.len() as u64);
    header.set_mode(0o755);
    header.set_mtime(0);
    builder
        .append_data(&mut header, "run.sh", script.as_bytes())
        .map_err(DriverError::io(payload))?;
    builder
        .into_inner()
        .and_then(|f| f.sync_all())
        .map_err(DriverError::io(payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_gets_its_settings_and_refuses_a_quote() {
        let script = run_script(&RunSettings {
            host_profile: "/etc/bascule/host.toml".into(),
            rollback: true,
        })
        .unwrap();
        assert!(script.contains("HOST_PROFILE='/etc/bascule/host.toml'"));
        assert!(script.contains("ROLLBACK=1\n"));
        assert!(
            !script.contains("{host_profile}") && !script.contains("{rollback}"),
            "a setting was left unfilled"
        );
        let err = run_script(&RunSettings {
            host_profile: "/x'y".into(),
            rollback: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains("quote"), "{err}");
    }
}
