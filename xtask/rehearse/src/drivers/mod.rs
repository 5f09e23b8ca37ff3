//! The rehearsal drivers, one file each; [`ALL`] lists them for `target.toml`'s `driver`.

use crate::driver::{Driver, DriverError};
use crate::target::Target;

pub mod libvirt;
pub mod qemu;
pub mod ssh;

/// Opens a driver for a target (reads its `[<driver>]` table, checks what it needs).
pub type Open = fn(&Target) -> Result<Box<dyn Driver>, DriverError>;

/// Every driver, by the name `target.toml` gives it.
pub const ALL: &[(&str, Open)] = &[
    ("qemu", qemu::open),
    ("libvirt", libvirt::open),
    ("ssh", ssh::open),
];

pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|(name, _)| *name).collect()
}

/// The driver `target` names.
pub fn open(target: &Target) -> Result<Box<dyn Driver>, DriverError> {
    match ALL.iter().find(|(name, _)| *name == target.driver) {
        Some((_, open)) => open(target),
        None => Err(DriverError::Other(format!(
            "{}: driver `{}` is not one of {}",
            target.path.display(),
            target.driver,
            names().join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_without_a_driver_is_told_every_driver_and_an_unknown_one_too() {
        let path = std::path::Path::new("/t/target.toml");
        let Err(missing) = Target::parse(path, "timeout_secs = 5\n") else {
            panic!("a target without a driver was accepted");
        };
        let unknown = Target::parse(path, "driver = \"vbox\"\n").expect("parses");
        let Err(unknown) = open(&unknown) else {
            panic!("an unknown driver was opened");
        };
        for name in names() {
            let quoted = format!("\"{name}\"");
            assert!(missing.to_string().contains(&quoted), "{missing}");
            assert!(unknown.to_string().contains(name), "{unknown}");
        }
    }
}
