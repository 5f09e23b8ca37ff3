//! Flyway: `V<version>__<description>.sql` (versioned), `U<version>__<description>.sql` (its
//! undo), `R__<description>.sql` (repeatable, re-run whenever it changes: no Bascule
//! equivalent, so not imported). Versions are dot- or underscore-separated numbers, ordered
//! numerically. `checksum` is what Flyway records: the CRC32 of the script's lines, each
//! without its line ending (a BOM dropped), as a signed 32-bit integer.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;

use super::{bascule_name, read_text, sql_files, Imported, Skipped, Source};

pub fn read(dir: &Path) -> anyhow::Result<Source> {
    let mut source = Source::default();
    let mut versioned: Vec<(Vec<u128>, String, String, String)> = Vec::new();
    let mut undos: BTreeMap<Vec<u128>, String> = BTreeMap::new();
    for rel in sql_files(dir)? {
        let file = rel.to_string_lossy().into_owned();
        let name = rel
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.trim_end_matches(".sql");
        if stem.starts_with("R__") {
            source.skipped.push(Skipped {
                origin: file,
                why: "a repeatable migration (re-run by Flyway whenever it changes) has no Bascule equivalent: ship its statements in a migration of the patch that changes it".into(),
            });
            continue;
        }
        let parsed = stem
            .split_once("__")
            .filter(|(prefix, _)| prefix.starts_with('V') || prefix.starts_with('U'));
        let Some((prefix, description)) = parsed else {
            source.skipped.push(Skipped {
                origin: file,
                why: "not V<version>__<description>.sql, U… or R__…: Flyway does not run it either"
                    .into(),
            });
            continue;
        };
        let version = prefix[1..].replace('_', ".");
        let Some(key) = version_key(&version) else {
            bail!("{file}: `{version}` is not a Flyway version (numbers separated by dots)");
        };
        if prefix.starts_with('U') {
            undos.insert(key, file);
        } else {
            versioned.push((key, version, description.to_string(), file));
        }
    }
    versioned.sort_by(|a, b| compare(&a.0, &b.0));
    for pair in versioned.windows(2) {
        if compare(&pair[0].0, &pair[1].0) == Ordering::Equal {
            bail!(
                "version {} is used by {} and {}",
                pair[0].1,
                pair[0].3,
                pair[1].3
            );
        }
    }
    for (key, version, description, file) in versioned {
        let up = read_text(&dir.join(&file))?;
        let undo = undos
            .iter()
            .find(|(k, _)| compare(k, &key) == Ordering::Equal)
            .map(|(_, f)| f.clone());
        let down = match undo {
            Some(undo) => Some((undo.clone(), read_text(&dir.join(&undo))?)),
            None => None,
        };
        source.migrations.push(Imported {
            tool_id: version,
            name: bascule_name(&description),
            checksum: Some(checksum(&up).to_string()),
            origin: file,
            up,
            down,
        });
    }
    Ok(source)
}

/// `1.2.10` → `[1, 2, 10]`.
fn version_key(version: &str) -> Option<Vec<u128>> {
    version.split('.').map(|p| p.parse().ok()).collect()
}

/// Flyway compares versions part by part, missing parts being 0 (`1.0` = `1`).
fn compare(a: &[u128], b: &[u128]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| a.get(i).unwrap_or(&0).cmp(b.get(i).unwrap_or(&0)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

/// Flyway's checksum of a script: CRC32 over the UTF-8 bytes of each line without its ending
/// (`\n`, `\r\n` or `\r`, as Java's `readLine`), the byte-order mark dropped, as an `int`.
pub fn checksum(text: &str) -> i32 {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut crc = crc32fast::Hasher::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find(['\n', '\r']) {
            Some(end) => {
                crc.update(&rest.as_bytes()[..end]);
                let skip = if rest[end..].starts_with("\r\n") {
                    2
                } else {
                    1
                };
                rest = &rest[end + skip..];
            }
            None => {
                crc.update(rest.as_bytes());
                rest = "";
            }
        }
    }
    crc.finalize() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_ignores_line_endings_and_the_bom() {
        let lf = checksum("CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n");
        assert_eq!(
            lf,
            checksum("CREATE TABLE t (id INT);\r\nINSERT INTO t VALUES (1);")
        );
        assert_eq!(
            lf,
            checksum("\u{feff}CREATE TABLE t (id INT);\rINSERT INTO t VALUES (1);\n")
        );
        // CRC32 of the bytes "ab" (the lines "a" and "b" without their endings).
        assert_eq!(checksum("a\nb\n"), crc32fast::hash(b"ab") as i32);
    }

    #[test]
    fn versions_compare_numerically() {
        let k = |v| version_key(v).unwrap();
        assert_eq!(compare(&k("1.10"), &k("1.9")), Ordering::Greater);
        assert_eq!(compare(&k("1.0"), &k("1")), Ordering::Equal);
        assert!(version_key("1.a").is_none());
    }
}
