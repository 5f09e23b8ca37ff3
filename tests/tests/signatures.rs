//! Signed bundles, end to end: a team key made by `cargo xtask keygen`, a bundle signed by
//! `build-patch --sign`'s signer, a host profile pinning the key, and the host's own trusted
//! runtime (not the bundle's) verifying. A changed byte, a stranger's key, a missing signature
//! and a tree whose manifest was rebuilt after a migration was swapped are each refused, with
//! the host state compared before and after.

use std::path::{Path, PathBuf};
use std::process::Command;

use bascule_tests::{
    bascule, fixture_bundle, generate, static_runtime, text, untar, DemoHost, HostState,
};
use xtask::signing::{keygen, sign_bundle, KeyFiles};

struct Delivery {
    tarball: PathBuf,
    tree: PathBuf,
}

/// The 2.0.0 tarball copied into `dir`, signed with `key` (if any), and unpacked beside it.
fn deliver(dir: &Path, key: Option<&Path>) -> Delivery {
    std::fs::create_dir_all(dir).unwrap();
    let built = fixture_bundle("2.0.0");
    let tarball = dir.join(built.file_name().unwrap());
    std::fs::copy(&built, &tarball).unwrap();
    if let Some(key) = key {
        sign_bundle(&tarball, key).unwrap();
    }
    let tree = untar(&tarball, dir).unwrap();
    Delivery { tarball, tree }
}

/// `bascule verify` run by the host's trusted runtime, against the profile's pinned keys.
fn trusted_verify(path: &Path, demo: &DemoHost) -> std::process::Output {
    Command::new(static_runtime())
        .arg("verify")
        .arg(path)
        .arg("--host")
        .arg(&demo.host_profile)
        .output()
        .unwrap()
}

fn pin(demo: &DemoHost, keys: &KeyFiles) {
    let mut profile = std::fs::read_to_string(&demo.host_profile).unwrap();
    profile.push_str(&format!(
        "\n[trust]\npublic_keys = [\"{}\"]\n",
        keys.public_line
    ));
    std::fs::write(&demo.host_profile, profile).unwrap();
}

fn assert_refused(out: &std::process::Output, code: i32, says: &str, context: &str) {
    let said = text(out);
    assert_eq!(out.status.code(), Some(code), "{context}: {said}");
    assert!(
        said.contains(says),
        "{context}: expected `{says}` in {said}"
    );
}

#[test]
fn only_a_bundle_signed_by_a_pinned_key_verifies_and_applies() {
    let dir = tempfile::tempdir().unwrap();
    let demo = generate(&dir.path().join("host"), 3).unwrap();
    let team = keygen(&dir.path().join("keys/team"), true).unwrap();
    let stranger = keygen(&dir.path().join("keys/stranger"), true).unwrap();
    pin(&demo, &team);
    let _services = demo.start_services().unwrap();
    let before = HostState::capture(&demo).unwrap();
    let tue = [("BASCULE_TODAY", "tue")];

    // The stock minisign tool accepts the signature with the team's .pub file.
    let signed = deliver(&dir.path().join("signed"), Some(&team.secret));
    let stock = Command::new("minisign")
        .arg("-Vm")
        .arg(&signed.tarball)
        .arg("-p")
        .arg(&team.public)
        .output()
        .expect("minisign is installed by scripts/setup.sh");
    assert!(stock.status.success(), "{}", text(&stock));
    assert!(
        String::from_utf8_lossy(&stock.stdout).contains("manifest:"),
        "the trusted comment names the manifest: {}",
        text(&stock)
    );

    // One byte changed in the signed tarball: refused before it is read as an archive.
    let changed = deliver(&dir.path().join("changed"), Some(&team.secret));
    let mut bytes = std::fs::read(&changed.tarball).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&changed.tarball, bytes).unwrap();
    let out = trusted_verify(&changed.tarball, &demo);
    assert_refused(&out, 2, "was changed after it was signed", "one byte");
    let out = bascule(&changed.tree, &demo, &["apply"], &tue);
    assert_refused(
        &out,
        1,
        "was changed after it was signed",
        "apply, one byte",
    );

    // Re-signed by a key the host does not pin.
    let foreign = deliver(&dir.path().join("foreign"), Some(&stranger.secret));
    let out = trusted_verify(&foreign.tarball, &demo);
    assert_refused(&out, 2, "a key this host does not trust", "unknown key");
    let out = bascule(&foreign.tree, &demo, &["apply"], &tue);
    assert_refused(
        &out,
        1,
        "a key this host does not trust",
        "apply, unknown key",
    );

    // Unsigned, with keys pinned.
    let unsigned = deliver(&dir.path().join("unsigned"), None);
    let out = trusted_verify(&unsigned.tarball, &demo);
    assert_refused(&out, 2, "build-patch --sign", "unsigned");
    let out = bascule(&unsigned.tree, &demo, &["migrate"], &[]);
    assert_refused(&out, 1, "not signed", "migrate, unsigned");

    // The genuine signed tarball beside a tree whose migration was swapped and whose manifest
    // was rebuilt to match: the tree verifies against itself, not against what was signed.
    let evil = deliver(&dir.path().join("evil"), Some(&team.secret));
    swap_migration(&evil.tree, "DROP TABLE members;\n");
    bascule_bundle::verify_dir(&evil.tree).expect("the rebuilt manifest matches its tree");
    let out = trusted_verify(&evil.tree, &demo);
    assert_refused(
        &out,
        2,
        "its files were changed after it was signed",
        "evil tree",
    );
    let out = bascule(&evil.tree, &demo, &["apply"], &tue);
    assert_refused(
        &out,
        1,
        "its files were changed after it was signed",
        "apply, evil",
    );

    HostState::capture(&demo)
        .unwrap()
        .assert_same(&before, "after every refused bundle");
    assert!(
        !bascule::trusted::runtime_path(&demo.state_dir).exists(),
        "no refused run installed its runtime"
    );

    // The signed bundle verifies, applies, and leaves its runtime to verify the next one.
    let out = trusted_verify(&signed.tarball, &demo);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("signed by key"), "{}", text(&out));
    let out = bascule(&signed.tree, &demo, &["apply"], &tue);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let installed = bascule::trusted::runtime_path(&demo.state_dir);
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(signed.tree.join("bin/bascule")).unwrap(),
        "the host keeps the runtime of the release it accepted"
    );
}

/// Replaces the site class's up migration with `sql` and rebuilds MANIFEST.toml to match, as
/// someone who can write the tree would.
fn swap_migration(tree: &Path, sql: &str) {
    bascule_tests::rewrite_bundle_file(tree, "migrations/site/0002_add_avatar/up.sql", sql);
}
