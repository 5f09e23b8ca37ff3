//! How every benchmark measures: a child process under GNU `time` (wall time, peak resident
//! memory, CPU time), and a fresh directory under `target/bench/` for its files.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::workspace_root;

/// Wall time, peak memory and CPU time of one child process.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measure {
    pub(super) seconds: f64,
    pub(super) max_rss_kib: u64,
    /// User plus system CPU time of the process and the children it waited for: on a machine
    /// shared with a database server, what the client takes from the server's cores.
    pub(super) cpu_seconds: f64,
}

impl Measure {
    pub(super) fn show(&self, label: &str) {
        println!(
            "  {label:<44} {:>8.2} s   peak RSS {:>8.1} MiB",
            self.seconds,
            self.max_rss_kib as f64 / 1024.0
        );
    }
}

pub(super) fn ensure_gnu_time() -> anyhow::Result<()> {
    if Path::new("/usr/bin/time").is_file() {
        return Ok(());
    }
    bail!("benchmarks measure with GNU time: run `bash scripts/setup.sh` (it installs the `time` package)")
}

/// Runs `command` under `/usr/bin/time` and returns its wall time, peak RSS and CPU time.
pub(super) fn measure(program: &str, args: &[&str], cwd: Option<&Path>) -> anyhow::Result<Measure> {
    let report = tempfile::NamedTempFile::new()?;
    let mut command = Command::new("/usr/bin/time");
    command
        .arg("-f")
        .arg("%e %M %U %S")
        .arg("-o")
        .arg(report.path())
        .arg(program)
        .args(args);
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !output.status.success() {
        bail!(
            "{program} {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = std::fs::read_to_string(report.path())?;
    let mut fields = text.split_whitespace();
    let seconds = fields
        .next()
        .and_then(|s| s.parse().ok())
        .context("time: wall")?;
    let max_rss_kib = fields
        .next()
        .and_then(|s| s.parse().ok())
        .context("time: rss")?;
    let mut cpu = || -> anyhow::Result<f64> {
        fields
            .next()
            .and_then(|s| s.parse::<f64>().ok())
            .context("time: cpu")
    };
    let cpu_seconds = cpu()? + cpu()?;
    Ok(Measure {
        seconds,
        max_rss_kib,
        cpu_seconds,
    })
}

pub(super) fn bench_dir(name: &str) -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("target/bench").join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
