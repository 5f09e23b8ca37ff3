//! `cargo xtask bench sampling`: the core-sampling fetch of N sites × M pages from the demo app,
//! against `xargs -P <workers> curl` over the same URLs.
//!
//! The demo app serves a generated host (in this process, on a free port of 127.0.0.1); both
//! sides fetch every URL of the same list with the same number of parallel workers and write
//! each page to a file. Bascule's side is the runtime's own `sampling::fetch::fetch_all`
//! (keep-alive client, built-in normalisation, raw and normalised files), run as a child
//! (`cargo xtask bench sampling-fetch`, hidden) so that GNU time measures it like the peer.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context};
use bascule::http::{Client, Roots};
use bascule::sampling::fetch::fetch_all;
use bascule::sampling::panel::{site_page_url, Target};
use bascule::sampling::ClassPanel;
use bascule_patch::Moment;

use super::{bench_dir, measure, xtask_exe};

/// Ten page paths per site: the demo's four pages and query-string variants of them (the demo
/// app ignores the query, so each is a real page render).
const PAGES: [&str; 10] = [
    "home",
    "team",
    "blog",
    "shop",
    "home?page=2",
    "team?sort=name",
    "blog?page=2",
    "blog?tag=news",
    "shop?sort=price",
    "shop?currency=eur",
];

pub fn bench(sites: usize, pages: usize, workers: usize) -> anyhow::Result<()> {
    if pages == 0 || pages > PAGES.len() {
        bail!("--pages must be 1 to {}", PAGES.len());
    }
    let dir = bench_dir("sampling")?;
    let demo = demo_site::prod::generate(&dir.join("host"), sites)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let config = demo_site::server::Config {
        root: demo.root.clone(),
        data: demo.data_dir.clone(),
        maintenance_flag: None,
    };
    std::thread::spawn(move || demo_site::server::serve(listener, config));

    let site_url = format!("http://{addr}/{{site}}/");
    let mut panel = String::new();
    let mut curl_list = String::new();
    for site in &demo.sites {
        for (n, page) in PAGES.iter().take(pages).enumerate() {
            let url = site_page_url(&site_url, site, page);
            panel.push_str(&format!("site\t{site}\t{page}\t{url}\n"));
            curl_list.push_str(&format!("{}/peer/{site}-{n}.html {url}\n", dir.display()));
        }
    }
    let panel_file = dir.join("panel.tsv");
    std::fs::write(&panel_file, &panel)?;
    let list_file = dir.join("curl.txt");
    std::fs::write(&list_file, &curl_list)?;
    std::fs::create_dir_all(dir.join("peer"))?;
    let total = sites * pages;
    println!("sampling: {sites} sites × {pages} pages = {total} pages from the demo app at {addr}, {workers} workers");

    let xtask = xtask_exe()?;
    let out = dir.join("ours");
    let workers_arg = workers.to_string();
    let ours = measure(
        &xtask.to_string_lossy(),
        &[
            "bench",
            "sampling-fetch",
            &panel_file.to_string_lossy(),
            &out.to_string_lossy(),
            "--workers",
            &workers_arg,
        ],
        None,
    )?;
    let script = format!(
        "xargs -P {workers} -n 2 curl -s -f -o < {}",
        list_file.display()
    );
    let peer = measure("sh", &["-c", &script], None)?;
    let fetched = std::fs::read_dir(dir.join("peer"))?.count();
    if fetched != total {
        bail!("curl fetched {fetched} of {total} pages");
    }
    ours.show("bascule sampling fetch (raw + normalised files)");
    peer.show(&format!("xargs -P {workers} curl (raw files)"));
    println!(
        "  ratio bascule / curl: {:.2}×; {:.0} pages/s vs {:.0} pages/s",
        ours.seconds / peer.seconds.max(0.01),
        total as f64 / ours.seconds.max(0.001),
        total as f64 / peer.seconds.max(0.001)
    );
    Ok(())
}

/// The measured child: fetch every page of `panel` (a `panel.tsv` as `sample-before` writes
/// it) into `out`, as the runtime does.
pub fn fetch(panel: &Path, out: &Path, workers: usize) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(panel).with_context(|| panel.display().to_string())?;
    let targets: Vec<Target> = text
        .lines()
        .filter_map(|line| match line.split('\t').collect::<Vec<_>>()[..] {
            [class, site, page, url] => Some(Target {
                class: class.into(),
                site: site.into(),
                page: page.into(),
                url: url.into(),
            }),
            _ => None,
        })
        .collect();
    let panels: BTreeMap<String, ClassPanel> = BTreeMap::new();
    let client = Client::new(std::time::Duration::from_secs(30), &Roots::public());
    let samples = fetch_all(&targets, &panels, &client, workers, out, Moment::Before)?;
    let failed = samples.iter().filter(|s| s.status != 200).count();
    if failed > 0 {
        bail!("{failed} of {} pages did not answer 200", samples.len());
    }
    println!("{} pages fetched into {}", samples.len(), out.display());
    Ok(())
}
