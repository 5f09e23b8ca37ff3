//! golang-migrate: `<version>_<title>.up.sql` and `<version>_<title>.down.sql`, the version an
//! unsigned integer (a sequence number or a timestamp), applied in numeric order.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;

use super::{bascule_name, non_empty, read_text, Imported, Skipped, Source};

pub fn read(dir: &Path) -> anyhow::Result<Source> {
    let mut source = Source::default();
    // version → (title, up file, down file)
    let mut by_version: BTreeMap<u64, (String, Option<String>, Option<String>)> = BTreeMap::new();
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    for file in files {
        let parsed = file
            .strip_suffix(".up.sql")
            .map(|s| (s, true))
            .or_else(|| file.strip_suffix(".down.sql").map(|s| (s, false)));
        let Some((stem, is_up)) = parsed else {
            source.skipped.push(Skipped {
                origin: file.clone(),
                why: "not <version>_<title>.up.sql or .down.sql".into(),
            });
            continue;
        };
        let (digits, title) = stem.split_once('_').unwrap_or((stem, ""));
        let Ok(version) = digits.parse::<u64>() else {
            source.skipped.push(Skipped {
                origin: file.clone(),
                why: "its version is not an unsigned integer".into(),
            });
            continue;
        };
        let entry = by_version
            .entry(version)
            .or_insert_with(|| (title.to_string(), None, None));
        let slot = if is_up { &mut entry.1 } else { &mut entry.2 };
        if let Some(other) = slot {
            bail!(
                "version {version} has two {} files: {other} and {file}",
                if is_up { "up" } else { "down" }
            );
        }
        *slot = Some(file.clone());
    }
    for (version, (title, up, down)) in by_version {
        let Some(up) = up else {
            bail!("version {version} has a down file but no up file");
        };
        let down = match down {
            Some(file) => non_empty(&read_text(&dir.join(&file))?).map(|text| (file, text)),
            None => None,
        };
        source.migrations.push(Imported {
            tool_id: version.to_string(),
            name: bascule_name(&title),
            up: read_text(&dir.join(&up))?,
            origin: up,
            down,
            checksum: None,
        });
    }
    Ok(source)
}
