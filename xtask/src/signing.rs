//! `cargo xtask keygen` and `build-patch --sign`: the release team's signing key, in minisign's
//! format, so the stock `minisign` tool reads the same files.
//!
//! The secret key is password-protected (scrypt, minisign's default) unless `--unencrypted`
//! asks otherwise, for a key kept in a CI secret store. The password comes from the environment
//! variable `BASCULE_KEY_PASSWORD` when it is set, else from the terminal. What the host checks
//! and how is `bascule_bundle::signature`; the trusted comment written here is its
//! [`TrustedComment`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use bascule_bundle::signature::{signature_path, TrustedComment};
use minisign::{KeyPair, PublicKeyBox, SecretKey, SecretKeyBox};

/// The environment variable a key's password may come from (automation); else it is asked.
pub const PASSWORD_VAR: &str = "BASCULE_KEY_PASSWORD";

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key pair: `<PATH>.key` (secret, mode 0600) and `<PATH>.pub`.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    /// Do not protect the secret key with a password (for a key kept in a secret store).
    #[arg(long)]
    pub unencrypted: bool,
}

/// A new key pair's files.
#[derive(Debug)]
pub struct KeyFiles {
    pub secret: PathBuf,
    pub public: PathBuf,
    /// The public key's base64 line: what a host profile pins.
    pub public_line: String,
}

pub fn keygen_command(args: KeygenArgs) -> anyhow::Result<()> {
    let keys = keygen(&args.out, args.unencrypted)?;
    println!("secret key: {} (keep it secret)", keys.secret.display());
    println!("public key: {}", keys.public.display());
    println!();
    println!("Pin it in each host profile:");
    println!();
    println!("[trust]");
    println!("public_keys = [\"{}\"]", keys.public_line);
    Ok(())
}

/// Writes a new key pair at `<base>.key` and `<base>.pub`; refuses to overwrite either.
pub fn keygen(base: &Path, unencrypted: bool) -> anyhow::Result<KeyFiles> {
    let secret = with_suffix(base, "key");
    let public = with_suffix(base, "pub");
    for path in [&secret, &public] {
        if path.exists() {
            bail!(
                "{}: already exists; a signing key is never overwritten (move it away first)",
                path.display()
            );
        }
    }
    if let Some(dir) = secret.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
    }
    let pair = if unencrypted {
        KeyPair::generate_unencrypted_keypair()
    } else {
        KeyPair::generate_encrypted_keypair(std::env::var(PASSWORD_VAR).ok())
    }
    .map_err(|e| anyhow::anyhow!("cannot generate a key pair: {e}"))?;
    let secret_text = pair
        .sk
        .to_box(Some("bascule release signing key"))
        .map_err(|e| anyhow::anyhow!("cannot encode the secret key: {e}"))?
        .to_string();
    let public_box = pair
        .pk
        .to_box()
        .map_err(|e| anyhow::anyhow!("cannot encode the public key: {e}"))?;
    write_new(&secret, secret_text.as_bytes(), 0o600)?;
    let public_text = public_box.to_string();
    write_new(&public, public_text.as_bytes(), 0o644)?;
    Ok(KeyFiles {
        secret,
        public,
        public_line: pair.pk.to_base64(),
    })
}

/// Signs the bundle `tarball` with the secret key at `key`: writes `<tarball>.minisig`, whose
/// trusted comment carries the bundle's version, `from` range and manifest digest.
pub fn sign_bundle(tarball: &Path, key: &Path) -> anyhow::Result<PathBuf> {
    let secret = load_secret_key(key)?;
    // The manifest the comment vouches for is read back from the tarball itself, as the host
    // will read it: what is signed is what was built.
    let manifest = bascule_bundle::verify_tarball(tarball)?;
    let file = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .context("the bundle's file name")?;
    let comment = TrustedComment::of(&manifest, file).to_line();
    let data = std::fs::File::open(tarball)
        .with_context(|| format!("{}: cannot read", tarball.display()))?;
    let signature = minisign::sign(
        None,
        &secret,
        std::io::BufReader::new(data),
        Some(&comment),
        Some("signature of a bascule bundle"),
    )
    .map_err(|e| anyhow::anyhow!("{}: cannot sign: {e}", tarball.display()))?;
    let path = signature_path(tarball);
    let aside = with_suffix(&path, "tmp");
    std::fs::write(&aside, signature.to_string())
        .with_context(|| format!("{}: cannot write", aside.display()))?;
    std::fs::rename(&aside, &path).with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(path)
}

/// Reads a secret key, asking its password (or taking it from [`PASSWORD_VAR`]) if it has one.
fn load_secret_key(path: &Path) -> anyhow::Result<SecretKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the signing key", path.display()))?;
    let boxed = SecretKeyBox::from_string(&text)
        .map_err(|e| anyhow::anyhow!("{}: not a minisign secret key: {e}", path.display()))?;
    let password = std::env::var(PASSWORD_VAR).ok();
    let loaded = match password {
        Some(password) => SecretKey::from_box(boxed, Some(password)),
        // An unencrypted key loads as is; an encrypted one fails its checksum that way, and is
        // then opened with a password asked on the terminal.
        None => SecretKey::from_unencrypted_box(boxed.clone())
            .or_else(|_| SecretKey::from_box(boxed, None)),
    };
    loaded.map_err(|e| anyhow::anyhow!("{}: cannot open the signing key: {e}", path.display()))
}

/// Reads the public key of a `.pub` file, as the stock tool writes it.
pub fn public_key_line(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let key = PublicKeyBox::from_string(&text)
        .and_then(PublicKeyBox::into_public_key)
        .map_err(|e| anyhow::anyhow!("{}: not a minisign public key: {e}", path.display()))?;
    Ok(key.to_base64())
}

fn with_suffix(base: &Path, suffix: &str) -> PathBuf {
    let mut name = base.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bascule_bundle::signature::{verify_signature, SignatureError, TrustedKey};

    #[test]
    fn a_new_key_refuses_to_overwrite_and_its_public_line_is_what_the_pub_file_holds() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("team");
        let keys = keygen(&base, true).unwrap();
        assert_eq!(public_key_line(&keys.public).unwrap(), keys.public_line);
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&keys.secret)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = keygen(&base, true).unwrap_err();
        assert!(again.to_string().contains("never overwritten"), "{again}");
    }

    #[test]
    fn the_host_s_verifier_accepts_a_signature_made_here_for_those_bytes_and_that_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let team = keygen(&dir.path().join("team"), true).unwrap();
        let other = keygen(&dir.path().join("other"), true).unwrap();
        let tarball = dir.path().join("bascule-2.0.0.tar.gz");
        let bytes = b"the bytes of a bundle".to_vec();
        std::fs::write(&tarball, &bytes).unwrap();
        let comment = TrustedComment {
            file: "bascule-2.0.0.tar.gz".into(),
            version: "2.0.0".into(),
            from: "^1.0.0".into(),
            manifest: "ab12".into(),
        };
        let secret = load_secret_key(&team.secret).unwrap();
        let signature = minisign::sign(None, &secret, &bytes[..], Some(&comment.to_line()), None)
            .unwrap()
            .to_string();
        let sig_path = signature_path(&tarball);
        std::fs::write(&sig_path, signature).unwrap();
        let trusted = |keys: &KeyFiles| [TrustedKey::parse(&keys.public_line, "test").unwrap()];

        let signed = verify_signature(&tarball, &sig_path, &trusted(&team)).unwrap();
        assert_eq!(signed.comment, comment);
        assert!(matches!(
            verify_signature(&tarball, &sig_path, &trusted(&other)),
            Err(SignatureError::UnknownKey { .. })
        ));
        let mut changed = bytes.clone();
        changed[7] ^= 1;
        std::fs::write(&tarball, changed).unwrap();
        assert!(matches!(
            verify_signature(&tarball, &sig_path, &trusted(&team)),
            Err(SignatureError::Forged { .. })
        ));
    }
}
