//! `cargo xtask demo-prod --sites N --dir D`: a demo "production" host at version 1.0.0.
//!
//! The host the demo, the rehearsal examples and the benchmarks run Bascule against: a platform
//! root with `releases/1.0.0` and `current`, a main database and N site databases, Bascule's state
//! and a host profile. The work is done by [`demo_site::prod::generate`], so tests build the very
//! same host; this command only says where things are.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Number of site databases (one per tenant).
    #[arg(long, default_value_t = 20)]
    pub sites: usize,
    /// Directory to create the host in; must be absent or empty.
    #[arg(long)]
    pub dir: PathBuf,
}

/// Builds the `demo-site` server (the demo host runs it as its `web` service) and makes sure the
/// generator finds it: `cargo xtask` builds only xtask and its libraries, not other binaries.
pub fn ensure_demo_site_binary() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "demo-site", "--bin", "demo-site"])
        .current_dir(crate::workspace_root())
        .status()
        .context("cannot run cargo to build the demo-site server")?;
    anyhow::ensure!(
        status.success(),
        "building the demo-site server failed: {status}"
    );
    demo_site::prod::demo_site_binary()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    ensure_demo_site_binary()?;
    let started = Instant::now();
    let host = demo_site::prod::generate(&args.dir, args.sites)
        .with_context(|| format!("generating a demo host in {}", args.dir.display()))?;
    let elapsed = started.elapsed();
    println!(
        "demo host at {} generated in {:.2}s",
        demo_site::prod::VERSION,
        elapsed.as_secs_f64()
    );
    println!("  host profile   {}", host.host_profile.display());
    println!(
        "  platform root  {}  (current -> releases/{})",
        host.root.display(),
        demo_site::prod::VERSION
    );
    println!("  state          {}", host.state_dir.display());
    println!(
        "  databases      {}: main.sqlite + {} site databases in sites/ ({} in all)",
        host.data_dir.display(),
        host.sites.len(),
        host.sites.len() + 1
    );
    println!(
        "  sites          {} … {}; {} has a duplicate member e-mail (2.0.0-broken fails there)",
        host.sites.first().map_or("", String::as_str),
        host.sites.last().map_or("", String::as_str),
        host.duplicate_email_site
    );
    println!(
        "  serve it       cargo run -p demo-site -- --root {} --data {} --listen 127.0.0.1:8080",
        host.root.display(),
        host.data_dir.display()
    );
    Ok(())
}
