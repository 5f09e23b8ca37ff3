//! The static `bascule` runtime that ships inside every bundle.
//!
//! A bundle must run on a production host that has nothing installed — not even the same libc as
//! the build machine. So the runtime is linked statically: with musl when that target is
//! installed, otherwise with glibc and `+crt-static`. Either way it is built into its own target
//! directory (`target/static`): a `cargo test` holding the lock on `target/` does not deadlock it,
//! and the different `RUSTFLAGS` do not invalidate the everyday build.
//!
//! "Static" is then *checked*, not assumed: an ELF file that names a program interpreter
//! (`PT_INTERP`, e.g. `/lib64/ld-linux-x86-64.so.2`) needs a dynamic loader on the host, and is
//! refused. The ELF header is read by hand: it is a few fixed offsets, not worth a dependency.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use xshell::{cmd, Shell};

const MUSL: &str = "x86_64-unknown-linux-musl";
const GNU: &str = "x86_64-unknown-linux-gnu";

/// A runtime binary checked to be static, and the target it was built for (recorded in the
/// bundle's build info).
#[derive(Debug, Clone)]
pub struct StaticRuntime {
    pub path: PathBuf,
    pub target: String,
}

/// Builds the runtime as a static binary under `<workspace>/target/static`, checks it, and
/// returns its path (`target/static/<triple>/release/bascule`).
pub fn build_static_runtime(workspace: &Path) -> anyhow::Result<PathBuf> {
    build_static_runtime_into(workspace, &workspace.join("target").join("static"))
}

/// Builds the runtime for the repository `cargo xtask` works for ([`crate::project_root`]):
/// from this Bascule checkout's source (the one the developer library was built from, which a
/// platform's `xtask` crate depends on), with this checkout's `Cargo.lock`, into
/// `<cargo target dir>/static` of the project ([`crate::cargo_target_dir`]).
pub fn build_for_project() -> anyhow::Result<PathBuf> {
    build_static_runtime_into(
        &crate::workspace_root(),
        &crate::cargo_target_dir().join("static"),
    )
}

/// Builds the runtime of the Bascule workspace `workspace` as a static binary under
/// `target_dir`, checks it, and returns its path (`<target_dir>/<triple>/release/bascule`).
pub fn build_static_runtime_into(workspace: &Path, target_dir: &Path) -> anyhow::Result<PathBuf> {
    let sh = Shell::new()?;
    sh.change_dir(workspace);
    let musl = musl_installed(&sh);
    let target = if musl { MUSL } else { GNU };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = cmd!(
        sh,
        "{cargo} build --release -p bascule --bin bascule --target {target} --target-dir {target_dir} --locked"
    )
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .quiet();
    for name in inherited_package_vars() {
        build = build.env_remove(name);
    }
    build = if musl {
        build.env_remove("RUSTFLAGS")
    } else {
        build.env("RUSTFLAGS", "-C target-feature=+crt-static")
    };
    eprintln!("$ {build}");
    build
        .run()
        .context("building the static runtime failed (see cargo's output above)")?;
    let path = target_dir.join(target).join("release").join("bascule");
    ensure_static(&path)?;
    Ok(path)
}

/// The variables cargo sets for the program it runs (`cargo run`, `cargo test`) that describe
/// that program's package. A build script of the runtime's dependencies (ring's) records
/// `CARGO_MANIFEST_DIR` as it finds it, so a build inheriting them from one caller (the tests'
/// crate, Bascule's xtask, a platform's xtask) would be redone for the next: they are removed,
/// and every caller shares one build.
fn inherited_package_vars() -> Vec<std::ffi::OsString> {
    const EXACT: [&str; 8] = [
        "CARGO_MANIFEST_DIR",
        "CARGO_MANIFEST_PATH",
        "CARGO_CRATE_NAME",
        "CARGO_BIN_NAME",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "CARGO_RUSTC_CURRENT_DIR",
        "OUT_DIR",
    ];
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            name.to_str().is_some_and(|n| {
                EXACT.contains(&n) || n.starts_with("CARGO_PKG_") || n.starts_with("CARGO_BIN_EXE_")
            })
        })
        .collect()
}

/// Checks that a runtime binary is static and names its target: from the path when it lies in
/// a `<triple>/release/` directory, as cargo puts it (so a runtime built here and the same file
/// given with `--runtime` give the same build info, hence the same bundle bytes), otherwise from
/// the ELF machine.
pub fn inspect(path: &Path) -> anyhow::Result<StaticRuntime> {
    ensure_static(path)?;
    let from_path = path
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .find(|c| c.contains("-linux-"))
        .map(describe_target);
    let target = match from_path {
        Some(target) => target,
        None => format!("{}-linux (prebuilt)", elf_machine(path)?),
    };
    Ok(StaticRuntime {
        path: path.to_path_buf(),
        target,
    })
}

/// The glibc build is only static because of `+crt-static`: say so in the build info.
fn describe_target(triple: &str) -> String {
    if triple.ends_with("-gnu") {
        format!("{triple}+crt-static")
    } else {
        triple.to_string()
    }
}

/// Whether the musl standard library is installed for the active toolchain: its directory in
/// the sysroot is what `rustup target add` creates, and works without rustup too.
fn musl_installed(sh: &Shell) -> bool {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    cmd!(sh, "{rustc} --print sysroot")
        .quiet()
        .read()
        .map(|sysroot| {
            Path::new(sysroot.trim())
                .join("lib/rustlib")
                .join(MUSL)
                .join("lib")
                .is_dir()
        })
        .unwrap_or(false)
}

/// Refuses a binary that needs a dynamic loader.
pub fn ensure_static(path: &Path) -> anyhow::Result<()> {
    if has_elf_interpreter(path)? {
        bail!(
            "{}: not a static binary (it names a program interpreter, so the host would need a dynamic loader)",
            path.display()
        );
    }
    Ok(())
}

/// Whether a 64-bit little-endian ELF file has a `PT_INTERP` program header.
pub fn has_elf_interpreter(path: impl AsRef<Path>) -> anyhow::Result<bool> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    elf_has_interp(&bytes).with_context(|| format!("{}: not a usable ELF file", path.display()))
}

const PT_INTERP: u32 = 3;

fn elf_has_interp(elf: &[u8]) -> anyhow::Result<bool> {
    check_elf64_le(elf)?;
    let phoff = usize::try_from(read_u64(elf, 0x20)?)?;
    let phentsize = usize::from(read_u16(elf, 0x36)?);
    let phnum = usize::from(read_u16(elf, 0x38)?);
    if phentsize < 4 {
        bail!("program header entries of {phentsize} bytes");
    }
    for i in 0..phnum {
        let entry = phoff
            .checked_add(i * phentsize)
            .context("program header offset overflows")?;
        if read_u32(elf, entry)? == PT_INTERP {
            return Ok(true);
        }
    }
    Ok(false)
}

fn check_elf64_le(elf: &[u8]) -> anyhow::Result<()> {
    if elf.get(..4) != Some(b"\x7fELF") {
        bail!("no ELF magic number");
    }
    if elf.get(4) != Some(&2) || elf.get(5) != Some(&1) {
        bail!("not a 64-bit little-endian ELF file");
    }
    Ok(())
}

fn elf_machine(path: &Path) -> anyhow::Result<&'static str> {
    let elf = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    check_elf64_le(&elf)?;
    Ok(match read_u16(&elf, 0x12)? {
        0x3e => "x86_64",
        0xb7 => "aarch64",
        0xf3 => "riscv64",
        _ => "unknown",
    })
}

fn field<const N: usize>(elf: &[u8], at: usize) -> anyhow::Result<[u8; N]> {
    elf.get(at..at + N)
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("truncated: no {N} bytes at offset {at:#x}"))
}

fn read_u16(elf: &[u8], at: usize) -> anyhow::Result<u16> {
    Ok(u16::from_le_bytes(field(elf, at)?))
}

fn read_u32(elf: &[u8], at: usize) -> anyhow::Result<u32> {
    Ok(u32::from_le_bytes(field(elf, at)?))
}

fn read_u64(elf: &[u8], at: usize) -> anyhow::Result<u64> {
    Ok(u64::from_le_bytes(field(elf, at)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF64 header with `types` as its program headers.
    fn elf_with(types: &[u32]) -> Vec<u8> {
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        elf[0x12..0x14].copy_from_slice(&0x3eu16.to_le_bytes());
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        elf[0x38..0x3a].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            elf.extend(ph);
        }
        elf
    }

    #[test]
    fn static_layout_has_no_interpreter() {
        assert!(!elf_has_interp(&elf_with(&[1, 1, 2, 6])).unwrap());
    }

    #[test]
    fn dynamic_layout_has_an_interpreter() {
        assert!(elf_has_interp(&elf_with(&[6, 3, 1])).unwrap());
    }

    #[test]
    fn bin_sh_is_dynamic() {
        assert!(has_elf_interpreter("/bin/sh").unwrap());
    }

    #[test]
    fn truncated_and_foreign_files_are_errors() {
        let mut elf = elf_with(&[1, 3]);
        elf.truncate(100);
        assert!(elf_has_interp(&elf).is_err());
        assert!(elf_has_interp(b"#!/bin/sh\n").is_err());
    }

    /// Real static binaries: Debian's `ldconfig` (static-pie) and the runtime a previous
    /// `build-patch` left, when present.
    #[test]
    fn real_static_binaries_have_no_interpreter() {
        let built = crate::workspace_root().join(format!("target/static/{GNU}/release/bascule"));
        for path in [Path::new("/sbin/ldconfig"), &built] {
            if path.is_file() {
                assert!(!has_elf_interpreter(path).unwrap(), "{}", path.display());
            }
        }
    }
}
