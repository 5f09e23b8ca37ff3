//! Trust: which bundle this host runs, and which `bascule` checks it.
//!
//! A bundle cannot vouch for itself: its own `bin/bascule` verifying its own manifest proves
//! nothing once someone rebuilt both. Two things answer that:
//!
//! - **Pinned keys.** When the host profile's `[trust]` pins public keys, a bundle is run only
//!   if its tarball's signature (`bascule-<v>.tar.gz.minisig`, beside it) is one of theirs, the
//!   signature vouches for this bundle's manifest digest, and the unpacked tree matches that
//!   manifest ([`check_bundle`]). `apply` checks it in preflight, `migrate` before it starts.
//! - **The host's own runtime.** Every committed `apply` copies its `bascule` into
//!   `<state_dir>/bin/bascule` ([`install_runtime`]): the runtime of the last release this host
//!   accepted, which the operator runs to verify the *next* bundle before unpacking it
//!   (`<state_dir>/bin/bascule verify bascule-2.1.0.tar.gz --host …`). It can also be installed
//!   once by hand from a bundle verified another way.

use std::path::{Path, PathBuf};

use bascule_bundle::signature::{self, signature_path, Signed};
use bascule_bundle::{self as bundle, Manifest};

use crate::engine::StepError;
use crate::host::HostProfile;

/// Where every committed apply leaves the runtime that verifies the next bundle.
pub fn runtime_path(state_dir: &Path) -> PathBuf {
    state_dir.join("bin").join("bascule")
}

/// What was proven about a bundle tree.
#[derive(Debug)]
pub enum Trust {
    /// It matches its manifest; the host pins no key, so its origin was not checked.
    Unsigned,
    /// It matches its manifest, which a pinned key signed.
    Signed(Signed),
}

impl Trust {
    /// One line for the log and the operator.
    pub fn describe(&self) -> String {
        match self {
            Trust::Unsigned => {
                "signature not required: the host profile pins no key ([trust])".to_string()
            }
            Trust::Signed(signed) => format!(
                "signed by key {} ({}), for version {} from `{}`",
                signed.key, signed.key_source, signed.comment.version, signed.comment.from
            ),
        }
    }
}

/// The tarball an unpacked bundle came from: `bascule-<v>.tar.gz` beside its directory, where
/// `tar xzf` leaves it.
pub fn tarball_of(bundle_root: &Path) -> PathBuf {
    let mut name = bundle_root
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".tar.gz");
    bundle_root.with_file_name(name)
}

/// Checks the bundle tree at `bundle_root` against its manifest (`manifest`, read when the run
/// started), and when the host pins keys, that a pinned key signed that very manifest.
pub fn check_bundle(
    host: &HostProfile,
    bundle_root: &Path,
    manifest: &Manifest,
) -> Result<Trust, StepError> {
    let on_disk = bundle::verify_dir(bundle_root)?;
    if on_disk.digest() != manifest.digest() {
        return Err(StepError::Failed(format!(
            "{}: the manifest changed since the run started; unpack the bundle again",
            bundle_root.display()
        )));
    }
    if host.trusted_keys.is_empty() {
        return Ok(Trust::Unsigned);
    }
    let tarball = tarball_of(bundle_root);
    if !tarball.is_file() {
        return Err(StepError::Failed(format!(
            "{}: this host runs only signed bundles (host profile [trust]), and the signature \
             covers the tarball, which is not beside the bundle directory. Keep the signed tarball \
             and its {} there, as `tar xzf` leaves them",
            tarball.display(),
            signature::SIGNATURE_SUFFIX
        )));
    }
    let (_, signed) =
        signature::verify_signed_tarball(&tarball, &signature_path(&tarball), &host.trusted_keys)?;
    // The tree is the tarball's own: not a rebuilt manifest beside a signed tarball.
    signature::check_manifest(&signed, manifest, bundle_root).map_err(bundle::BundleError::from)?;
    Ok(Trust::Signed(signed))
}

/// Copies the bundle's runtime to [`runtime_path`], atomically: the next bundle is verified by
/// the runtime of the release this host last accepted, not by its own.
pub fn install_runtime(state_dir: &Path, bundle_root: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let target = runtime_path(state_dir);
    let dir = target.parent().unwrap_or(state_dir);
    std::fs::create_dir_all(dir)?;
    let aside = dir.join(format!(".bascule.{}", std::process::id()));
    std::fs::copy(bundle_root.join("bin/bascule"), &aside)?;
    std::fs::set_permissions(&aside, std::fs::Permissions::from_mode(0o755))?;
    std::fs::File::open(&aside)?.sync_all()?;
    std::fs::rename(&aside, &target)?;
    crate::state::sync_dir(dir)?;
    Ok(target)
}
