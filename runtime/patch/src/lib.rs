//! The patch source format: what a developer writes under `patches/<version>/`, and what an
//! unpacked bundle holds.
//!
//! Both sides of Bascule read a patch through this crate — `cargo xtask build-patch` and lint on
//! the developer's machine, `bascule apply` on the host — so what the developer checks is what the
//! host runs. The layout:
//!
//! ```text
//! patch.toml                                   the spec: version, from range, mode, code, classes,
//!                                              requirements, policy, fingerprint, smoke,
//!                                              sampling, acceptance, timeouts
//! migrations/<class>/<NNNN>_<name>/up.sql      every up has its down.sql (any number of digits)
//! checks/<class>/*.sql                         consistency queries that must return zero rows
//! adopt/<class>.toml                           the tool each imported migration came from (`adopt`)
//! docs/bulletin.toml checklist.toml testbook.toml   the release documents (`docs`)
//! hooks/
//! ```
//!
//! # Design
//!
//! - **The spec types live with the file that declares them.** `[[smoke]]`, `[sampling.<class>]`
//!   and `[acceptance]` are typed here ([`SmokeCheck`], [`ClassPanel`], [`AcceptanceSpec`]) with
//!   `deny_unknown_fields`, and checked when the patch is loaded: a bad regex or CSS selector fails
//!   `build-patch`, not a production run. The runtime's steps only *run* them.
//! - **Statements are split here, parsed elsewhere.** [`split_statements`] cuts a script the way
//!   the database's own client does (quotes, comments, dollar quotes, trigger bodies,
//!   `DELIMITER`); the host executes statements one by one and needs nothing more. Parsing with
//!   sqlparser is developer-side only (the `bascule-sql` crate), so the static runtime does not
//!   carry a SQL parser.
//! - **One matcher for the `-- bascule:` markers** ([`marker`](crate::marker_name)): the host and
//!   the linter agree on what `no-transaction` or `raw` marks.
//! - Nothing here talks to a database or a host: it reads files and returns typed values, with
//!   errors that name the file and the key.

mod acceptance;
pub mod adopt;
mod class;
pub mod docs;
mod fingerprint;
mod marker;
mod migration;
mod patch_toml;
mod policy;
pub mod read;
mod requirements;
mod sampling;
mod smoke;
mod split;
pub mod timeouts;

pub use acceptance::AcceptanceSpec;
pub use adopt::{AdoptError, AdoptMap, AdoptedMigration, Tool};
pub use class::{ClassSpec, Dialect, Flavour, Server, ServerVersion};
pub use fingerprint::{
    default_critical, key_matches, FingerprintSpec, DB_FACTS, FINGERPRINT_ROOTS,
};
pub use marker::{
    comment_markers, marker_argument, marker_name, other_tool_no_transaction, ALLOW, IRREVERSIBLE,
    MARKER_PREFIX, NO_TRANSACTION, PHASE, RAW,
};
pub use migration::{
    parse_dir_name, BadName, ClassMigrations, IrreversibleMarker, Migration, MigrationError,
    MigrationSet, MAX_MIGRATION_NUMBER, MIGRATION_NAME_RULE,
};
pub use patch_toml::{
    Check, CheckWhen, CodeSpec, Mode, Moment, Patch, PatchError, PatchInfo, PatchSpec, PATCH_FILE,
};
pub use policy::{weekday_from_name, HourRange, Policy};
pub use requirements::{
    check_range, found_version, parse_range, OsRequirement, Requirements, SoftwareProbe,
    SoftwareRequirement, VersionProbe, KNOWN_SOFTWARE,
};
pub use sampling::{
    compile_regex, compile_selector, ClassPanel, ExpectedDifference, NormaliseRule,
};
pub use smoke::{SiteChoice, SmokeCheck};
pub use split::{split_script, split_statements, LineIndex, Split, SplitProblem, SqlStatement};
pub use timeouts::{Timeout, TimeoutSettings, TimeoutsSpec};

/// Lower-case hex SHA-256 of some bytes: the one digest used everywhere (manifest, migrations).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("{:x}", Sha256::digest(bytes))
}
