//! Sqitch: `sqitch.plan` lists the changes in order (`%project=` names the project), each with
//! `deploy/<change>.sql`, `revert/<change>.sql` and `verify/<change>.sql`. The registry
//! records each deployed change with `script_hash`, the SHA-1 of its deploy script's bytes.
//!
//! Sqitch's PostgreSQL scripts wrap themselves in `BEGIN;` … `COMMIT;`; Bascule runs each
//! migration in its own transaction, so those two lines are removed (and said so). Verify
//! scripts fail by raising an error, where a Bascule check returns the wrong rows: they are not
//! converted, and listed as not imported.

use std::path::Path;

use anyhow::bail;
use sha1::{Digest, Sha1};

use super::{bascule_name, non_empty, Imported, Skipped, Source};

pub fn read(dir: &Path) -> anyhow::Result<Source> {
    let plan_path = dir.join("sqitch.plan");
    let plan = std::fs::read_to_string(&plan_path)
        .map_err(|e| anyhow::anyhow!("{}: {e}", plan_path.display()))?;
    let mut source = Source::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut stripped = 0;
    for (number, line) in plan.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        if let Some(pragma) = line.strip_prefix('%') {
            if let Some(project) = pragma.strip_prefix("project=") {
                source.project = Some(project.trim().to_string());
            }
            continue;
        }
        let change = line.split_whitespace().next().unwrap_or_default();
        let change = change.trim_start_matches('+');
        if change.starts_with('-') {
            bail!(
                "sqitch.plan:{}: `{change}` removes a change; import a plan without reverts",
                number + 1
            );
        }
        if !seen.insert(change.to_string()) {
            bail!(
                "sqitch.plan:{}: `{change}` is reworked (planned twice); import the plan before the rework",
                number + 1
            );
        }
        let file = format!("{change}.sql");
        let deploy_path = dir.join("deploy").join(&file);
        let bytes = std::fs::read(&deploy_path).map_err(|e| {
            anyhow::anyhow!("sqitch.plan:{}: {}: {e}", number + 1, deploy_path.display())
        })?;
        let hash = format!("{:x}", Sha1::digest(&bytes));
        let up = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{}: not UTF-8", deploy_path.display()))?;
        let (up, up_stripped) = without_transaction(&up);
        let revert_path = dir.join("revert").join(&file);
        let down = match std::fs::read_to_string(&revert_path) {
            Ok(text) => {
                let (text, down_stripped) = without_transaction(&text);
                stripped += usize::from(down_stripped);
                non_empty(&text).map(|t| (format!("revert/{file}"), t))
            }
            Err(_) => None,
        };
        stripped += usize::from(up_stripped);
        if dir.join("verify").join(&file).is_file() {
            source.skipped.push(Skipped {
                origin: format!("verify/{file}"),
                why: "a Sqitch verify script raises an error where a Bascule check (checks/<class>/) returns rows: rewrite it as a query returning the wrong rows if you want it".into(),
            });
        }
        source.migrations.push(Imported {
            tool_id: change.to_string(),
            name: bascule_name(change),
            origin: format!("deploy/{file}"),
            up,
            down,
            checksum: Some(hash),
        });
    }
    if stripped > 0 {
        source.notes.push(format!(
            "removed `BEGIN;`/`COMMIT;` from {stripped} script(s): Bascule runs each migration in a transaction of its own"
        ));
    }
    Ok(source)
}

/// The script without its own `BEGIN;` and `COMMIT;` lines, and whether it had them.
fn without_transaction(text: &str) -> (String, bool) {
    let mut out = String::new();
    let mut found = false;
    for line in text.split_inclusive('\n') {
        let t = line
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_ascii_uppercase();
        if t == "BEGIN" || t == "COMMIT" {
            found = true;
            continue;
        }
        out.push_str(line);
    }
    (out, found)
}
