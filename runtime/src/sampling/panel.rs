//! The panel: which pages of which sites are sampled.
//!
//! The patch says which pages matter for each site class (it knows what it changes); the host
//! profile says which sites of this host stand for the others: some named explicitly (the
//! biggest customer, the one with the odd configuration) plus N chosen at random among the rest.
//! The random choice is seeded (`[sampling] seed`), so a rerun after a fix samples the same
//! sites, and the "before" of one run can be compared with the "after" of another.

use std::collections::BTreeMap;

use super::{ClassPanel, SamplingError};
use crate::host::{HostClassSampling, HostProfile};

/// One page of one site to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub class: String,
    pub site: String,
    pub page: String,
    pub url: String,
}

impl Target {
    /// `<class>/<site>/<page>`, a relative path safe for any page name.
    pub fn file_stem(&self) -> String {
        format!("{}/{}/{}", self.class, self.site, safe_name(&self.page))
    }

    pub fn label(&self) -> String {
        format!("{}/{}/{}", self.class, self.site, self.page)
    }
}

/// A page path as a file name: letters, digits, `.`, `-` and `_` kept, the rest `_`.
pub fn safe_name(page: &str) -> String {
    let name: String = page
        .trim_matches('/')
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        format!("index{name}")
    } else {
        name
    }
}

/// A site's URL for `page`.
pub fn site_page_url(site_url: &str, site: &str, page: &str) -> String {
    crate::http::join(&site_url.replace("{site}", site), page)
}

/// Every site of `class` on this host: the names of its databases.
pub fn all_sites(host: &HostProfile, class: &str) -> Result<Vec<String>, SamplingError> {
    let targets = host
        .discover(class)
        .map_err(|e| SamplingError::Config(e.to_string()))?;
    Ok(targets.into_iter().map(|t| t.name).collect())
}

/// The sampled sites of `class`: the explicit ones, then `random` others chosen with `seed`.
pub fn sample_sites(
    all: &[String],
    spec: &HostClassSampling,
    seed: u64,
    class: &str,
) -> Result<Vec<String>, SamplingError> {
    let unknown: Vec<&String> = spec.sites.iter().filter(|s| !all.contains(s)).collect();
    if !unknown.is_empty() {
        return Err(SamplingError::Config(format!(
            "sampling.classes.{class}.sites names site(s) this host does not have: {}; \
             fix the host profile",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut rest: Vec<&String> = all.iter().filter(|s| !spec.sites.contains(s)).collect();
    rest.sort();
    let mut rng = SplitMix64(seed);
    for i in (1..rest.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        rest.swap(i, j);
    }
    let mut chosen = spec.sites.clone();
    chosen.extend(rest.into_iter().take(spec.random).cloned());
    Ok(chosen)
}

/// The whole panel of this run: for each class the patch samples, every page of every sampled
/// site. Empty when the patch samples nothing.
pub fn targets(
    host: &HostProfile,
    panels: &BTreeMap<String, ClassPanel>,
) -> Result<Vec<Target>, SamplingError> {
    if panels.is_empty() {
        return Ok(Vec::new());
    }
    let sampling = host.sampling.as_ref().ok_or_else(|| {
        SamplingError::Config(format!(
            "{}: the patch samples pages of class(es) {}, but the host profile has no [sampling] section; \
             add one with [sampling.classes.<class>] site_url (see the sampling docs)",
            host.path.display(),
            panels.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let mut targets = Vec::new();
    for (class, panel) in panels {
        let spec = sampling.classes.get(class).ok_or_else(|| {
            SamplingError::Config(format!(
                "{}: the patch samples class `{class}`, but the host profile has no [sampling.classes.{class}]; \
                 add it with its site_url",
                host.path.display()
            ))
        })?;
        let all = all_sites(host, class)?;
        for site in sample_sites(&all, spec, sampling.seed, class)? {
            for page in &panel.pages {
                targets.push(Target {
                    class: class.clone(),
                    site: site.clone(),
                    page: page.clone(),
                    url: site_page_url(&spec.site_url, &site, page),
                });
            }
        }
    }
    Ok(targets)
}

/// A small, well-mixed PRNG (Vigna's SplitMix64): the same seed gives the same sites on every
/// platform and every version of Bascule.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sites(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("site-{i:04}")).collect()
    }

    fn spec(explicit: &[&str], random: usize) -> HostClassSampling {
        HostClassSampling {
            site_url: "http://h/{site}/".into(),
            sites: explicit.iter().map(|s| s.to_string()).collect(),
            random,
        }
    }

    #[test]
    fn explicit_sites_then_seeded_random_ones() {
        let all = sites(100);
        let chosen = sample_sites(&all, &spec(&["site-0042"], 5), 7, "site").unwrap();
        assert_eq!(chosen.len(), 6);
        assert_eq!(chosen[0], "site-0042");
        assert!(!chosen[1..].contains(&"site-0042".to_string()));
        let again = sample_sites(&all, &spec(&["site-0042"], 5), 7, "site").unwrap();
        assert_eq!(chosen, again, "same seed, same sites");
        let other = sample_sites(&all, &spec(&["site-0042"], 5), 8, "site").unwrap();
        assert_ne!(chosen, other, "another seed, other sites");
        let mut reversed = all.clone();
        reversed.reverse();
        let unordered = sample_sites(&reversed, &spec(&["site-0042"], 5), 7, "site").unwrap();
        assert_eq!(chosen, unordered, "discovery order does not matter");
    }

    #[test]
    fn more_random_sites_than_there_are_takes_them_all() {
        let chosen = sample_sites(&sites(3), &spec(&[], 10), 1, "site").unwrap();
        assert_eq!(chosen.len(), 3);
    }

    #[test]
    fn an_unknown_explicit_site_is_refused() {
        let err = sample_sites(&sites(3), &spec(&["site-9999"], 0), 1, "site").unwrap_err();
        assert!(err.to_string().contains("site-9999"), "{err}");
    }

    #[test]
    fn urls_and_file_names() {
        assert_eq!(
            site_page_url("http://h:1/{site}/", "site-0001", "shop"),
            "http://h:1/site-0001/shop"
        );
        assert_eq!(safe_name("/blog/post?id=3"), "blog_post_id_3");
        assert_eq!(safe_name("/"), "index");
        assert_eq!(safe_name("../x"), "index.._x");
    }
}
