//! Helpers shared by the bundle tests: a realistic staging tree, and hand-crafted tarballs for
//! the attacks `pack` would never produce.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use flate2::{Compression, GzBuilder};
use tar::{EntryType, Header};

use super::{
    pack, BuildInfo, FileEntry, Manifest, MigrationEntry, PackMeta, PackedBundle, PatchMeta,
    FORMAT, MANIFEST_FILE,
};
use bascule_patch::sha256_hex;

pub const TOP: &str = "bascule-2.0.0";
pub const MTIME: u64 = 1_700_000_000;
/// Longer than the 100 bytes of a tar name field: needs a GNU long-name entry.
pub const LONG: &str = "code/vendor/some-library-with-a-long-name/src/Deeply/Nested/Namespace/\
                        AndAVeryLongClassNameIndeed.php";

pub fn file_entry(path: &str, content: &[u8]) -> FileEntry {
    FileEntry {
        path: path.into(),
        size: content.len() as u64,
        sha256: sha256_hex(content),
        mode: 0o644,
        link: None,
    }
}

pub fn manifest(files: Vec<FileEntry>) -> Manifest {
    let meta = meta();
    Manifest {
        format: FORMAT,
        patch: meta.patch,
        build: meta.build,
        base_versions: Default::default(),
        migrations: vec![],
        files,
    }
}

pub fn meta() -> PackMeta {
    PackMeta {
        patch: PatchMeta {
            version: "2.0.0".into(),
            from: "1.0.0".into(),
            mode: "downtime".into(),
            title: "Avatars".into(),
        },
        build: BuildInfo {
            bascule_version: "0.1.0".into(),
            source_date_epoch: MTIME,
            runtime_target: "x86_64-unknown-linux-musl".into(),
        },
        base_versions: Default::default(),
        migrations: vec![MigrationEntry {
            class: "site".into(),
            id: 1,
            name: "init".into(),
            up_sha256: sha256_hex(b"CREATE TABLE t (id INTEGER);\n"),
            down_sha256: sha256_hex(b"DROP TABLE t;\n"),
            dir_name: None,
        }],
    }
}

pub fn write(root: &Path, rel: &str, content: &[u8], mode: u32) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, content).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A bundle tree as `cargo xtask build-patch` would stage it, in `<dir>/staging`.
pub fn staging(dir: &Path) -> PathBuf {
    let root = dir.join("staging");
    write(&root, "bin/bascule", b"\x7fELF pretend binary", 0o755);
    write(&root, "patch.toml", b"version = \"2.0.0\"\n", 0o644);
    write(&root, "code/index.php", b"<?php echo 'hello';\n", 0o644);
    write(
        &root,
        "code/a-b.php",
        b"<?php // sorts before code/a/\n",
        0o600,
    );
    write(&root, "code/a/z.php", b"<?php\n", 0o644);
    write(&root, LONG, b"<?php class X {}\n", 0o644);
    write(
        &root,
        "migrations/site/0001_init/up.sql",
        b"CREATE TABLE t (id INTEGER);\n",
        0o644,
    );
    write(
        &root,
        "migrations/site/0001_init/down.sql",
        b"DROP TABLE t;\n",
        0o644,
    );
    write(&root, "docs/bulletin.md", b"# 2.0.0\n", 0o644);
    fs::create_dir_all(root.join("hooks")).unwrap();
    std::os::unix::fs::symlink("index.php", root.join("code/current.php")).unwrap();
    std::os::unix::fs::symlink("../docs/bulletin.md", root.join("code/NEWS.md")).unwrap();
    root
}

/// Packs [`staging`] into `<dir>/out/bascule-2.0.0.tar.gz`.
pub fn packed(dir: &Path) -> (PathBuf, PackedBundle) {
    let staging = staging(dir);
    let out_dir = dir.join("out");
    fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(format!("{TOP}.tar.gz"));
    let bundle = pack(&staging, TOP, meta(), MTIME, &out).unwrap();
    (staging, bundle)
}

/// Every path under `dir`, sorted: compared before and after to prove nothing was written.
pub fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .collect();
    paths.sort();
    paths
}

/// A tarball built entry by entry, including entries `pack` refuses to write.
pub struct Craft {
    tar: tar::Builder<Vec<u8>>,
}

impl Craft {
    pub fn new() -> Craft {
        Craft {
            tar: tar::Builder::new(Vec::new()),
        }
    }

    /// The top directory and the manifest, as `pack` starts a bundle.
    pub fn start(manifest: &Manifest) -> Craft {
        let mut craft = Craft::new();
        craft.dir(TOP);
        craft.manifest(manifest);
        craft
    }

    /// [`Craft::start`], then every entry of `manifest` with its content from `staging`,
    /// except `skip`.
    pub fn honest_except(manifest: &Manifest, staging: &Path, skip: &str) -> Craft {
        let mut craft = Craft::start(manifest);
        for entry in manifest.files.iter().filter(|f| f.path != skip) {
            let name = format!("{TOP}/{}", entry.path);
            match &entry.link {
                Some(target) => craft.symlink(&name, target),
                None => {
                    let content = fs::read(staging.join(&entry.path)).unwrap();
                    craft.file(&name, &content, entry.mode)
                }
            }
        }
        craft
    }

    pub fn manifest(&mut self, manifest: &Manifest) {
        let text = manifest.to_toml().unwrap();
        self.file(&format!("{TOP}/{MANIFEST_FILE}"), text.as_bytes(), 0o644);
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> Header {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header
    }

    pub fn dir(&mut self, name: &str) {
        let mut header = Craft::header(EntryType::Directory, 0o755, 0);
        self.tar
            .append_data(&mut header, format!("{name}/"), std::io::empty())
            .unwrap();
    }

    pub fn file(&mut self, name: &str, content: &[u8], mode: u32) {
        let mut header = Craft::header(EntryType::Regular, mode, content.len() as u64);
        self.tar.append_data(&mut header, name, content).unwrap();
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        let mut header = Craft::header(EntryType::Symlink, 0o777, 0);
        self.tar.append_link(&mut header, name, target).unwrap();
    }

    pub fn hardlink(&mut self, name: &str, target: &str) {
        let mut header = Craft::header(EntryType::Link, 0o644, 0);
        self.tar.append_link(&mut header, name, target).unwrap();
    }

    /// An entry whose name bytes are written as given: the tar crate refuses absolute paths
    /// and `..`, attackers do not.
    pub fn raw(&mut self, name: &[u8], kind: EntryType, content: &[u8]) {
        let mut header = Craft::header(kind, 0o644, content.len() as u64);
        let field = &mut header.as_old_mut().name;
        field.fill(0);
        field[..name.len()].copy_from_slice(name);
        header.set_cksum();
        self.tar.append(&header, content).unwrap();
    }

    pub fn gzip(self) -> Vec<u8> {
        let tar = self.tar.into_inner().unwrap();
        let mut gz = GzBuilder::new().write(Vec::new(), Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    /// Writes the gzipped tarball to `<dir>/crafted.tar.gz`.
    pub fn write_to(self, dir: &Path) -> PathBuf {
        let path = dir.join("crafted.tar.gz");
        fs::write(&path, self.gzip()).unwrap();
        path
    }
}
