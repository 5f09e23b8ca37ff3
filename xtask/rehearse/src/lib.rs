//! Rehearsal: a bundle applied to a snapshot of production, as many times as it takes.
//!
//! "Le dev, c'est pas la prod": a patch that works on a developer's machine can break on
//! production (a file name whose case differs, on a case-insensitive laptop). So before
//! production sees a bundle, `cargo xtask rehearse` runs it on a *target* that holds a snapshot
//! of an ISO-prod environment, with the same static runtime production will run:
//!
//! 1. **revert** the target to its snapshot (every run starts from the same state);
//! 2. **deliver** the payload: the bundle and `run.sh` ([`payload`]), one plain tar;
//! 3. **execute**: boot if needed, run `run.sh`, which digests the host's state
//!    (`bascule digest`), runs `bascule apply` non-interactively, optionally `bascule rollback`
//!    in a fresh process, digests again, and copies the run directories;
//! 4. **collect** what `run.sh` wrote, into the run's directory on the developer's machine.
//!
//! Then [`report`] reads each run ([`outcome`]) and prints a summary per run and a comparison
//! across runs: outcome, step durations, state digests, whether the rollback restored the
//! snapshot's state. A rehearsal that passed leaves the guest's environment fingerprint beside
//! the bundle ([`record`]), for production to be compared with.
//!
//! A target is a file (`target.toml`, [`target`]) naming a **driver** ([`drivers`]): `qemu`
//! (built in, no daemon: a qcow2 overlay or an internal snapshot per run), `libvirt`
//! (`virsh snapshot-revert`), `ssh` (any host, with a revert command of its own: Proxmox,
//! LVM, ZFS, a cloud snapshot). Drivers implement [`driver::Driver`]; adding one is a file in
//! `drivers/` and a line in [`drivers::ALL`].
//!
//! Guests need no network: the qemu and libvirt drivers deliver the payload on a read-only raw
//! disk holding a plain tar and collect the results from a second raw disk the guest writes
//! with `tar` ([`disks`]). [`guest`] builds such guests from Debian's packages only (kernel,
//! busybox): a tiny initramfs that loads the virtio modules and switches to an ext4 root made
//! without mounting. Every process a driver starts is owned by a guard that kills it, so
//! nothing is left running, even when a run or a test fails ([`process`]).

pub mod disks;
pub mod driver;
pub mod drivers;
pub mod guest;
pub mod outcome;
pub mod payload;
pub mod process;
pub mod record;
pub mod rehearsal;
pub mod report;
pub mod target;

pub use driver::{Driver, DriverError};
pub use rehearsal::{rehearse, Rehearsal, RehearsalOptions};
pub use target::Target;
