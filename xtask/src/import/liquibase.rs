//! Liquibase formatted SQL: files starting `--liquibase formatted sql`, each `--changeset
//! author:id` up to the next one, its `--rollback …` lines the rollback. A changeset is known
//! to `DATABASECHANGELOG` by its author and id. Files are read in name order, changesets in
//! file order (what `includeAll` does).

use std::path::Path;

use anyhow::bail;

use super::{bascule_name, read_text, sql_files, Imported, Skipped, Source};

pub fn read(dir: &Path) -> anyhow::Result<Source> {
    let mut source = Source::default();
    let mut ids = std::collections::BTreeSet::new();
    for rel in sql_files(dir)? {
        let file = rel.to_string_lossy().into_owned();
        let text = read_text(&dir.join(&rel))?;
        let first = text.lines().next().unwrap_or_default().trim();
        if !first
            .to_ascii_lowercase()
            .starts_with("--liquibase formatted sql")
        {
            source.skipped.push(Skipped {
                origin: file,
                why: "does not start with `--liquibase formatted sql`".into(),
            });
            continue;
        }
        let mut current: Option<(String, usize, String, Vec<String>)> = None;
        let mut finish = |current: Option<(String, usize, String, Vec<String>)>,
                          source: &mut Source|
         -> anyhow::Result<()> {
            let Some((id, line, up, rollback)) = current else {
                return Ok(());
            };
            if !ids.insert(id.clone()) {
                bail!("{file}:{line}: changeset {id} appears twice");
            }
            let rollback = rollback.join("\n");
            let down = match rollback.trim() {
                "" => None,
                r if r.eq_ignore_ascii_case("not required") || r.eq_ignore_ascii_case("empty") => {
                    Some((
                        format!("{file}:{line} (--rollback {r})"),
                        format!("-- Liquibase: rollback {r}\n"),
                    ))
                }
                _ => Some((format!("{file}:{line} (--rollback)"), rollback + "\n")),
            };
            let (author, short) = id.split_once(':').unwrap_or(("", id.as_str()));
            source.migrations.push(Imported {
                name: bascule_name(&format!("{author} {short}")),
                origin: format!("{file}:{line} changeset {id}"),
                tool_id: id.clone(),
                up,
                down,
                checksum: None,
            });
            Ok(())
        };
        for (index, line) in text.lines().enumerate().skip(1) {
            let trimmed = line.trim_start();
            if let Some(rest) = trimmed.strip_prefix("--changeset") {
                finish(current.take(), &mut source)?;
                let Some(id) = rest.split_whitespace().next().filter(|id| id.contains(':')) else {
                    bail!("{file}:{}: `--changeset` needs author:id", index + 1);
                };
                current = Some((id.to_string(), index + 1, String::new(), Vec::new()));
                continue;
            }
            let Some((_, _, up, rollback)) = current.as_mut() else {
                continue;
            };
            if let Some(r) = trimmed.strip_prefix("--rollback") {
                rollback.push(r.trim_start_matches(':').trim().to_string());
            } else {
                up.push_str(line);
                up.push('\n');
            }
        }
        finish(current.take(), &mut source)?;
    }
    Ok(source)
}
