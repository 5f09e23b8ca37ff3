//! The transfer disks: how a payload reaches a guest without a network, and results come back.
//!
//! A raw virtio disk can hold a plain tar as it is: the guest reads it with `tar -xf
//! /dev/vdb`, and writes its results to a second, empty raw disk with `tar -cf /dev/vdc`. No
//! filesystem, no mount, nothing to format. An all-zero results disk reads as an empty
//! archive, so a guest that died before writing is told apart by the `exit_code` file its
//! init writes last ([`crate::outcome`]), not by the read succeeding.

use std::fs::File;
use std::path::Path;

use crate::driver::DriverError;

/// Size of the results disk: the run directories of a demo run are a few MB.
pub const RESULTS_DISK_BYTES: u64 = 256 << 20;

/// An empty (sparse, all-zero) results disk at `path`.
pub fn create_results_disk(path: &Path) -> Result<(), DriverError> {
    let file = File::create(path).map_err(DriverError::io(path))?;
    file.set_len(RESULTS_DISK_BYTES)
        .map_err(DriverError::io(path))
}

/// Unpacks the tar a guest wrote on `disk` into `into` (the tar crate refuses `..` and
/// absolute paths, so a guest cannot write outside it).
pub fn read_results_disk(disk: &Path, into: &Path) -> Result<(), DriverError> {
    std::fs::create_dir_all(into).map_err(DriverError::io(into))?;
    let file = File::open(disk).map_err(DriverError::io(disk))?;
    tar::Archive::new(file)
        .unpack(into)
        .map_err(DriverError::io(disk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untouched_results_disk_reads_as_nothing_and_a_written_one_as_its_files() {
        let dir = tempfile::tempdir().unwrap();
        let disk = dir.path().join("results.disk");
        create_results_disk(&disk).unwrap();
        read_results_disk(&disk, &dir.path().join("empty")).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("empty")).unwrap().count(),
            0
        );

        // What the guest does with `tar -cf /dev/vdc -C /run/rehearse out`: write from offset 0.
        let file = std::fs::OpenOptions::new().write(true).open(&disk).unwrap();
        let mut builder = tar::Builder::new(file);
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        builder
            .append_data(&mut header, "out/exit_code", &b"0\n"[..])
            .unwrap();
        builder.finish().unwrap();
        read_results_disk(&disk, &dir.path().join("got")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("got/out/exit_code")).unwrap(),
            "0\n"
        );
    }
}
