//! dbmate: `db/migrations/<digits>_<name>.sql`, each holding `-- migrate:up` and
//! `-- migrate:down` sections; the digits are the version in `schema_migrations`.

use std::path::Path;

use anyhow::bail;

use super::{bascule_name, non_empty, read_text, sql_files, Imported, Skipped, Source};

pub fn read(dir: &Path) -> anyhow::Result<Source> {
    let mut source = Source::default();
    let mut found = Vec::new();
    for rel in sql_files(dir)? {
        let file = rel.to_string_lossy().into_owned();
        let stem = file.trim_end_matches(".sql");
        let Some((version, name)) = stem
            .split_once('_')
            .filter(|(v, _)| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit()))
        else {
            source.skipped.push(Skipped {
                origin: file.clone(),
                why: "not named <digits>_<name>.sql: dbmate does not run it either".into(),
            });
            continue;
        };
        let text = read_text(&dir.join(&rel))?;
        let (up, down) =
            sections(&text).ok_or_else(|| anyhow::anyhow!("{file}: no `-- migrate:up` line"))?;
        found.push(Imported {
            tool_id: version.to_string(),
            name: bascule_name(name),
            origin: file.clone(),
            up,
            down: down.map(|d| (format!("{file} (migrate:down)"), d)),
            checksum: None,
        });
    }
    // dbmate applies in version order (the digits compared as text of equal length, in practice).
    found.sort_by(|a, b| (a.tool_id.len(), &a.tool_id).cmp(&(b.tool_id.len(), &b.tool_id)));
    for pair in found.windows(2) {
        if pair[0].tool_id == pair[1].tool_id {
            bail!(
                "version {} is used by {} and {}",
                pair[0].tool_id,
                pair[0].origin,
                pair[1].origin
            );
        }
    }
    source.migrations = found;
    Ok(source)
}

/// The up and down sections (`-- migrate:up [options]`, `-- migrate:down [options]`).
fn sections(text: &str) -> Option<(String, Option<String>)> {
    #[derive(PartialEq)]
    enum Part {
        Before,
        Up,
        Down,
    }
    let mut part = Part::Before;
    let mut up: Option<String> = None;
    let mut down: Option<String> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with("-- migrate:up") {
            part = Part::Up;
            up.get_or_insert_with(String::new);
        } else if trimmed.starts_with("-- migrate:down") {
            part = Part::Down;
            down.get_or_insert_with(String::new);
        } else {
            let section = match part {
                Part::Before => None,
                Part::Up => up.as_mut(),
                Part::Down => down.as_mut(),
            };
            if let Some(section) = section {
                section.push_str(line);
            }
        }
    }
    Some((up?, down.and_then(|d| non_empty(&d))))
}
