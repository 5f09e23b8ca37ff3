//! Guest images from Debian's packages only: the cloud kernel, busybox, and a root tree.
//!
//! A guest is three files: the kernel (`/boot/vmlinuz-<version>`), an initramfs and a qcow2
//! system disk. The cloud kernel has virtio as modules, so the initramfs is busybox, the
//! virtio modules (dependencies resolved from `modules.dep`, loaded in order) and a script
//! that mounts `/dev/vda` and switches to it ([`INITRAMFS_INIT`]). The system disk is ext4
//! made from a directory without mounting anything (`mkfs.ext4 -d`, lazy init off so the
//! first boot does not spend its time zeroing), then converted to qcow2 and given an internal
//! snapshot, `iso-prod`, that the qemu and libvirt drivers revert to.
//!
//! The root's PID 1 is [`INIT`]: boot scripts (`/etc/rehearse/boot.d/*.sh`: the host's
//! services), then one rehearsal run from the transfer disks ([`crate::disks`]), then power
//! off. Directories can be made case-insensitive (ext4 `casefold`, the flag set with
//! `debugfs` on the empty directory), to show a developer's filesystem beside production's.
//!
//! The tools (`cpio`, `gzip`, `mkfs.ext4`, `debugfs`, `qemu-img`, `ldd`) are Debian's, run as
//! commands: they are what builds such images, and no crate writes ext4.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::driver::DriverError;
use crate::process::run;

/// The initramfs's `/init`.
pub const INITRAMFS_INIT: &str = include_str!("guest/initramfs-init.sh");
/// The root's `/sbin/rehearse-init`.
pub const INIT: &str = include_str!("guest/init.sh");
/// The internal snapshot every image gets.
pub const SNAPSHOT: &str = "iso-prod";

/// The modules the initramfs loads by default: the disks.
pub const DEFAULT_MODULES: &[&str] = &["virtio_pci", "virtio_blk"];

/// A built guest.
#[derive(Debug, Clone)]
pub struct GuestImage {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// The qcow2 system disk, with its `iso-prod` snapshot.
    pub disk: PathBuf,
}

impl GuestImage {
    /// The files of an image built in `dir`.
    pub fn in_dir(dir: &Path) -> GuestImage {
        GuestImage {
            kernel: dir.join("vmlinuz"),
            initrd: dir.join("initramfs.cpio.gz"),
            disk: dir.join("base.qcow2"),
        }
    }

    pub fn exists(&self) -> bool {
        self.kernel.is_file() && self.initrd.is_file() && self.disk.is_file()
    }
}

/// What to build.
#[derive(Debug, Clone)]
pub struct GuestSpec {
    /// The kernel version under `/lib/modules` [default: the newest `*-cloud-amd64`].
    pub kernel_version: Option<String>,
    /// Modules for the initramfs, besides their dependencies.
    pub modules: Vec<String>,
    /// The root tree: the caller's files; busybox and the init are added to it.
    pub root: PathBuf,
    /// Empty directories of the root (absolute in the guest) made case-insensitive.
    pub casefold_dirs: Vec<String>,
}

/// Builds the image in `out` (created; files replaced).
pub fn build(spec: &GuestSpec, out: &Path) -> Result<GuestImage, DriverError> {
    std::fs::create_dir_all(out).map_err(DriverError::io(out))?;
    let version = match &spec.kernel_version {
        Some(v) => v.clone(),
        None => newest_cloud_kernel()?,
    };
    let image = GuestImage::in_dir(out);
    let kernel = PathBuf::from(format!("/boot/vmlinuz-{version}"));
    std::fs::copy(&kernel, &image.kernel).map_err(DriverError::io(&kernel))?;
    build_initramfs(&version, &spec.modules, out, &image.initrd)?;
    install_busybox(&spec.root)?;
    write_file(&spec.root.join("sbin/rehearse-init"), INIT, 0o755)?;
    for dir in ["proc", "sys", "dev", "tmp", "run", "etc/rehearse/boot.d"] {
        let path = spec.root.join(dir);
        std::fs::create_dir_all(&path).map_err(DriverError::io(&path))?;
    }
    build_disk(spec, out, &image.disk)?;
    Ok(image)
}

/// The newest `/lib/modules/*-cloud-amd64` (package `linux-image-cloud-amd64`).
pub fn newest_cloud_kernel() -> Result<String, DriverError> {
    let modules = Path::new("/lib/modules");
    let mut versions: Vec<String> = std::fs::read_dir(modules)
        .map_err(DriverError::io(modules))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|v| {
            v.ends_with("-cloud-amd64") && Path::new(&format!("/boot/vmlinuz-{v}")).is_file()
        })
        .collect();
    versions.sort_by_key(|v| version_key(v));
    versions.pop().ok_or_else(|| {
        DriverError::Other(
            "no cloud kernel in /lib/modules and /boot: install linux-image-cloud-amd64 \
             (bash scripts/setup.sh does)"
                .into(),
        )
    })
}

fn version_key(version: &str) -> Vec<u64> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect()
}

/// `modules` and their dependencies, dependencies first, as `modules.dep` lists them; built-in
/// modules are left out.
pub fn module_load_order(
    modules_dir: &Path,
    modules: &[String],
) -> Result<Vec<(String, PathBuf)>, DriverError> {
    let dep_file = modules_dir.join("modules.dep");
    let deps = std::fs::read_to_string(&dep_file).map_err(DriverError::io(&dep_file))?;
    let builtin = std::fs::read_to_string(modules_dir.join("modules.builtin")).unwrap_or_default();
    let name_of = |path: &str| {
        Path::new(path)
            .file_name()
            .map(|f| {
                f.to_string_lossy()
                    .trim_end_matches(".ko")
                    .replace('-', "_")
            })
            .unwrap_or_default()
    };
    let table: Vec<(String, String, Vec<String>)> = deps
        .lines()
        .filter_map(|line| {
            let (module, needs) = line.split_once(':')?;
            Some((
                name_of(module),
                module.to_string(),
                needs.split_whitespace().map(String::from).collect(),
            ))
        })
        .collect();
    let is_builtin = |name: &str| builtin.lines().any(|l| name_of(l) == name);
    let mut order = Vec::new();
    fn visit(
        name: &str,
        table: &[(String, String, Vec<String>)],
        modules_dir: &Path,
        order: &mut Vec<(String, PathBuf)>,
        is_builtin: &dyn Fn(&str) -> bool,
    ) -> Result<(), DriverError> {
        if order.iter().any(|(n, _)| n == name) {
            return Ok(());
        }
        let Some((_, path, needs)) = table.iter().find(|(n, _, _)| n == name) else {
            if is_builtin(name) {
                return Ok(());
            }
            return Err(DriverError::Other(format!(
                "kernel module `{name}` is neither in {} nor built in",
                modules_dir.join("modules.dep").display()
            )));
        };
        if !path.ends_with(".ko") {
            return Err(DriverError::Other(format!(
                "kernel module {path} is compressed: busybox's insmod needs a plain .ko"
            )));
        }
        for need in needs.iter().rev() {
            let need_name = Path::new(need)
                .file_name()
                .map(|f| {
                    f.to_string_lossy()
                        .trim_end_matches(".ko")
                        .replace('-', "_")
                })
                .unwrap_or_default();
            visit(&need_name, table, modules_dir, order, is_builtin)?;
        }
        order.push((name.to_string(), modules_dir.join(path)));
        Ok(())
    }
    for module in modules {
        visit(
            &module.replace('-', "_"),
            &table,
            modules_dir,
            &mut order,
            &is_builtin,
        )?;
    }
    Ok(order)
}

fn build_initramfs(
    version: &str,
    modules: &[String],
    out: &Path,
    initrd: &Path,
) -> Result<(), DriverError> {
    let tree = out.join("initramfs");
    if tree.exists() {
        std::fs::remove_dir_all(&tree).map_err(DriverError::io(&tree))?;
    }
    for dir in ["bin", "dev", "proc", "sys", "newroot", "lib/modules"] {
        let path = tree.join(dir);
        std::fs::create_dir_all(&path).map_err(DriverError::io(&path))?;
    }
    let busybox = busybox()?;
    copy(&busybox, &tree.join("bin/busybox"))?;
    let order = module_load_order(&Path::new("/lib/modules").join(version), modules)?;
    for (name, path) in &order {
        copy(path, &tree.join(format!("lib/modules/{name}.ko")))?;
    }
    let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
    write_file(
        &tree.join("lib/modules/order"),
        &(names.join(" ") + "\n"),
        0o644,
    )?;
    write_file(&tree.join("init"), INITRAMFS_INIT, 0o755)?;
    let script = format!(
        "find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -1 > '{}'",
        initrd.display()
    );
    run(Command::new("sh").arg("-c").arg(script).current_dir(&tree))?;
    std::fs::remove_dir_all(&tree).map_err(DriverError::io(&tree))
}

/// The static busybox (package `busybox-static`).
fn busybox() -> Result<PathBuf, DriverError> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or_else(|| {
            DriverError::Other(
                "no busybox: install busybox-static (bash scripts/setup.sh does)".into(),
            )
        })
}

/// busybox as `/bin/busybox`, with a link for each of its applets not already in the root.
fn install_busybox(root: &Path) -> Result<(), DriverError> {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).map_err(DriverError::io(&bin))?;
    let busybox = busybox()?;
    copy(&busybox, &bin.join("busybox"))?;
    let list = run(Command::new(&busybox).arg("--list"))?;
    for applet in list.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        let link = bin.join(applet);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink("busybox", &link).map_err(DriverError::io(&link))?;
        }
    }
    Ok(())
}

/// Copies a dynamically linked program into the root at the same path, with the shared
/// libraries `ldd` lists.
/// Debug information is stripped (`strip`, from binutils): a debug build of a Rust program is
/// mostly debug information, and the guest's disk need not carry it.
pub fn install_program(root: &Path, program: &Path, at: &Path) -> Result<(), DriverError> {
    let installed = root.join(at.strip_prefix("/").unwrap_or(at));
    if let Some(parent) = installed.parent() {
        std::fs::create_dir_all(parent).map_err(DriverError::io(parent))?;
    }
    run(Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&installed)
        .arg(program))?;
    let libs = run(Command::new("ldd").arg(program)).unwrap_or_default();
    for word in libs.split_whitespace().filter(|w| w.starts_with('/')) {
        let lib = Path::new(word);
        let target = root.join(lib.strip_prefix("/").unwrap_or(lib));
        if !target.exists() {
            copy(
                &std::fs::canonicalize(lib).map_err(DriverError::io(lib))?,
                &target,
            )?;
        }
    }
    Ok(())
}

fn build_disk(spec: &GuestSpec, out: &Path, disk: &Path) -> Result<(), DriverError> {
    let raw = out.join("base.raw");
    let used: u64 = walkdir::WalkDir::new(&spec.root)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len().div_ceil(4096) * 4096)
        .sum();
    let size_mb = (used * 2 / (1 << 20) + 64).max(96);
    let mut extended = "lazy_itable_init=0,lazy_journal_init=0".to_string();
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.args(["-q", "-F", "-L", "iso-prod"]);
    if !spec.casefold_dirs.is_empty() {
        mkfs.args(["-O", "casefold"]);
        extended.push_str(",encoding=utf8");
    }
    mkfs.arg("-E")
        .arg(extended)
        .arg("-d")
        .arg(&spec.root)
        .arg(&raw)
        .arg(format!("{size_mb}M"));
    run(&mut mkfs)?;
    for dir in &spec.casefold_dirs {
        // EXT4_CASEFOLD_FL (0x40000000) with EXTENTS_FL (0x80000), which the directory has.
        run(Command::new("debugfs")
            .arg("-w")
            .arg("-R")
            .arg(format!("set_inode_field {dir} flags 0x40080000"))
            .arg(&raw))?;
    }
    if disk.exists() {
        std::fs::remove_file(disk).map_err(DriverError::io(disk))?;
    }
    run(Command::new("qemu-img")
        .args(["convert", "-q", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(disk))?;
    std::fs::remove_file(&raw).map_err(DriverError::io(&raw))?;
    run(Command::new("qemu-img")
        .args(["snapshot", "-c", SNAPSHOT])
        .arg(disk))?;
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), DriverError> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(DriverError::io(parent))?;
    }
    std::fs::copy(from, to).map_err(DriverError::io(from))?;
    Ok(())
}

/// Writes `text` at `path` with `mode`, creating the directories.
pub fn write_file(path: &Path, text: &str, mode: u32) -> Result<(), DriverError> {
    use std::os::unix::fs::PermissionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(DriverError::io(parent))?;
    }
    std::fs::write(path, text).map_err(DriverError::io(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(DriverError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_load_first_and_builtins_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("modules.dep"),
            "kernel/a/virtio_pci.ko: kernel/a/virtio_pci_modern_dev.ko kernel/a/virtio.ko kernel/a/virtio_ring.ko\n\
             kernel/a/virtio_pci_modern_dev.ko: kernel/a/virtio.ko kernel/a/virtio_ring.ko\n\
             kernel/a/virtio.ko: kernel/a/virtio_ring.ko\n\
             kernel/a/virtio_ring.ko:\n\
             kernel/a/virtio_blk.ko: kernel/a/virtio.ko kernel/a/virtio_ring.ko\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("modules.builtin"),
            "kernel/fs/ext4/ext4.ko\n",
        )
        .unwrap();
        let order = module_load_order(
            dir.path(),
            &["virtio_pci".into(), "virtio_blk".into(), "ext4".into()],
        )
        .unwrap();
        let names: Vec<&str> = order.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "virtio_ring",
                "virtio",
                "virtio_pci_modern_dev",
                "virtio_pci",
                "virtio_blk"
            ]
        );
        let err = module_load_order(dir.path(), &["nosuch".into()]).unwrap_err();
        assert!(err.to_string().contains("`nosuch`"), "{err}");
    }
}
