//! `cargo xtask draft-bulletin <patch-dir> [--since <rev>] [--write]`: the bulletin's entries
//! drafted from the commits since the previous release, for a person to edit.
//!
//! The commits are `git log --no-merges <since>..HEAD` of the repository holding the patch.
//! `--since` defaults to the newest commit that touched the previous patch's directory (the
//! sibling with the highest version below this one): what was released then is in that patch.
//!
//! Conventional-commit subjects (`type(scope)!: description`) map to entry kinds:
//!
//! ```text
//! feat                          feature
//! fix                           fix
//! perf, refactor, improve       improvement
//! security, or any type with the scope `security` (`fix(security): …`)   security
//! chore, test, docs, ci, build, style, revert, and subjects that are not conventional: skipped
//! ```
//!
//! A `!` before the colon, or a `BREAKING CHANGE:` footer, marks the entry's details "Breaking
//! change". The ticket is a `Refs: X` trailer, else a trailing `(#123)` of the subject, which is
//! taken out of the title. The body's first paragraph (trailers left out) becomes the details.
//!
//! The entries are printed as `[[entry]]` TOML on stdout; `--write` appends them to
//! `docs/bulletin.toml` and checks that the file still loads.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use bascule_patch::docs::{Bulletin, EntryKind, BULLETIN_FILE};

#[derive(clap::Args)]
pub struct Args {
    /// The patch source: the directory holding patch.toml.
    pub patch_dir: PathBuf,
    /// The commits after this git revision [default: the newest commit that touched the
    /// previous patch's directory].
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,
    /// Append the entries to the patch's docs/bulletin.toml instead of printing them.
    #[arg(long)]
    pub write: bool,
}

/// One entry drafted from one commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drafted {
    pub kind: EntryKind,
    pub title: String,
    pub details: Option<String>,
    pub ticket: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let since = match args.since {
        Some(rev) => Some(rev),
        None => default_since(&args.patch_dir)?,
    };
    let commits = git_log(&args.patch_dir, since.as_deref())?;
    let drafted: Vec<Drafted> = commits.iter().filter_map(|c| draft(c)).collect();
    eprintln!(
        "{} commit(s), {} entr{} drafted, {} skipped",
        commits.len(),
        drafted.len(),
        if drafted.len() == 1 { "y" } else { "ies" },
        commits.len() - drafted.len()
    );
    let toml = render(&drafted);
    if args.write {
        append(&args.patch_dir.join("docs").join(BULLETIN_FILE), &toml)
    } else {
        print!("{toml}");
        Ok(())
    }
}

/// The newest commit that touched the previous patch's directory; `None` (and a note) when
/// there is no previous patch, or no commit touched it: the whole history is then read.
fn default_since(patch_dir: &Path) -> anyhow::Result<Option<String>> {
    let Some(previous) = crate::previous_patch(patch_dir)? else {
        eprintln!(
            "note: no patch of a lower version beside {}: drafting from the whole history \
             (give --since <rev> to start elsewhere)",
            patch_dir.display()
        );
        return Ok(None);
    };
    // Absolute: git runs in the patch's directory, and reads a relative path from there.
    let touched = std::fs::canonicalize(&previous.dir)
        .with_context(|| format!("cannot resolve {}", previous.dir.display()))?;
    let out = git(
        patch_dir,
        &["log", "-1", "--format=%H", "--", &touched.to_string_lossy()],
    )?;
    let rev = out.trim();
    if rev.is_empty() {
        eprintln!(
            "note: no commit touched the previous patch {} ({}): drafting from the whole history \
             (give --since <rev> to start elsewhere)",
            previous.version,
            previous.dir.display()
        );
        return Ok(None);
    }
    eprintln!(
        "since {} (the last commit of the previous patch {})",
        &rev[..rev.len().min(12)],
        previous.version
    );
    Ok(Some(rev.to_string()))
}

/// The full messages of the commits after `since` (all of them without it), oldest first.
fn git_log(dir: &Path, since: Option<&str>) -> anyhow::Result<Vec<String>> {
    let range = since.map(|rev| format!("{rev}..HEAD"));
    let mut args = vec!["log", "--no-merges", "--reverse", "--format=%B%x1e"];
    args.push(range.as_deref().unwrap_or("HEAD"));
    let out = git(dir, &args)?;
    Ok(out
        .split('\u{1e}')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_string)
        .collect())
}

/// Runs `git` in `dir`; its stdout, or its stderr as the error.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run git")?;
    if !output.status.success() {
        bail!(
            "git {} (in {}) failed: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout).context("git printed something that is not UTF-8")
}

/// The entry of one commit message, or `None` when it is skipped.
pub fn draft(message: &str) -> Option<Drafted> {
    let mut lines = message.lines();
    let subject = lines.next()?.trim();
    let (head, description) = subject.split_once(':')?;
    let (head, bang) = match head.strip_suffix('!') {
        Some(head) => (head, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((kind, scope)) => (kind, scope.strip_suffix(')')?),
        None => (head, ""),
    };
    if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let kind = match (kind.to_ascii_lowercase().as_str(), scope) {
        (_, s) if s.eq_ignore_ascii_case("security") => EntryKind::Security,
        ("security" | "sec", _) => EntryKind::Security,
        ("feat" | "feature", _) => EntryKind::Feature,
        ("fix" | "bugfix", _) => EntryKind::Fix,
        ("perf" | "refactor" | "improve" | "improvement", _) => EntryKind::Improvement,
        _ => return None,
    };
    let (title, mut ticket) = split_ticket(description.trim());
    if title.is_empty() {
        return None;
    }
    let body: Vec<&str> = lines.collect();
    let mut breaking = bang;
    for line in &body {
        if let Some((key, value)) = line.split_once(':') {
            let key = key.trim();
            if key.eq_ignore_ascii_case("refs") && !value.trim().is_empty() {
                ticket = Some(value.trim().to_string());
            }
            if key == "BREAKING CHANGE" || key == "BREAKING-CHANGE" {
                breaking = true;
            }
        }
    }
    let paragraph = first_paragraph(&body);
    let details = match (breaking, paragraph) {
        (true, Some(p)) => Some(format!("Breaking change. {p}")),
        (true, None) => Some("Breaking change.".to_string()),
        (false, p) => p,
    };
    Some(Drafted {
        kind,
        title: capitalize(&title),
        details,
        ticket,
    })
}

/// A subject's trailing `(#123)` taken out as the ticket.
fn split_ticket(description: &str) -> (String, Option<String>) {
    if let Some(rest) = description.strip_suffix(')') {
        if let Some((title, ticket)) = rest.rsplit_once("(#") {
            if !ticket.is_empty() && ticket.chars().all(|c| c.is_ascii_digit()) {
                return (title.trim().to_string(), Some(format!("#{ticket}")));
            }
        }
    }
    (description.to_string(), None)
}

/// The body's first paragraph that is not trailers (`Key: value` lines), on one line.
fn first_paragraph(body: &[&str]) -> Option<String> {
    let is_trailer = |line: &str| {
        line.split_once(": ").is_some_and(|(key, _)| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
                && !key.contains("  ")
                && key.split(' ').count() <= 2
        })
    };
    body.split(|line| line.trim().is_empty())
        .find(|p| !p.is_empty() && !p.iter().all(|l| is_trailer(l)))
        .map(|p| p.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" "))
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The entries as `[[entry]]` TOML, grouped by kind in the bulletin's order.
pub fn render(drafted: &[Drafted]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let mut out = String::new();
    for kind in EntryKind::ALL {
        for d in drafted.iter().filter(|d| d.kind == kind) {
            let _ = write!(
                out,
                "\n[[entry]]\nkind = \"{}\"\ntitle = {}\n",
                kind.as_str(),
                quote(&d.title)
            );
            if let Some(details) = &d.details {
                let _ = writeln!(out, "details = {}", quote(details));
            }
            if let Some(ticket) = &d.ticket {
                let _ = writeln!(out, "ticket = {}", quote(ticket));
            }
        }
    }
    out
}

/// Appends `toml` to the bulletin at `path`, which must still load after.
fn append(path: &Path, toml: &str) -> anyhow::Result<()> {
    let mut text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(toml);
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
    if let Err(problems) = Bulletin::load(path) {
        for problem in &problems {
            eprintln!("{problem}");
        }
        bail!("{} no longer loads; edit it by hand", path.display());
    }
    eprintln!("appended to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind_title_ticket(message: &str) -> Option<(EntryKind, String, Option<String>)> {
        draft(message).map(|d| (d.kind, d.title, d.ticket))
    }

    #[test]
    fn prefixes_map_to_kinds() {
        use EntryKind::*;
        let cases = [
            ("feat: avatars on the team page", Some(Feature)),
            ("feat(team)!: avatars", Some(Feature)),
            ("fix: a crash", Some(Fix)),
            ("fix(security): escape names", Some(Security)),
            ("security: rotate the key", Some(Security)),
            ("perf: faster pages", Some(Improvement)),
            ("refactor(db): one pool", Some(Improvement)),
            ("improve: clearer errors", Some(Improvement)),
            ("chore: bump deps", None),
            ("docs: readme", None),
            ("test: more", None),
            ("ci: cache", None),
            ("build: flags", None),
            ("style: fmt", None),
            ("Merge branch 'x'", None),
            ("Fix the thing without a prefix", None),
            ("note: something: else", None),
        ];
        for (message, kind) in cases {
            assert_eq!(draft(message).map(|d| d.kind), kind, "{message}");
        }
    }

    #[test]
    fn tickets_come_from_refs_or_the_subject() {
        assert_eq!(
            kind_title_ticket("feat: avatars (#123)"),
            Some((EntryKind::Feature, "Avatars".into(), Some("#123".into())))
        );
        assert_eq!(
            kind_title_ticket("fix: crash (#12)\n\nThe page crashed.\n\nRefs: DEMO-7\n"),
            Some((EntryKind::Fix, "Crash".into(), Some("DEMO-7".into())))
        );
        assert_eq!(
            kind_title_ticket("fix: keep (parenthesis)"),
            Some((EntryKind::Fix, "Keep (parenthesis)".into(), None))
        );
    }

    #[test]
    fn details_are_the_first_paragraph_and_say_breaking() {
        let d = draft("feat!: new urls\n\nEvery page moves\nunder /s/.\n\nRefs: X-1\n").unwrap();
        assert_eq!(
            d.details.as_deref(),
            Some("Breaking change. Every page moves under /s/.")
        );
        let d = draft("fix: a\n\nRefs: X-2\nBREAKING CHANGE: gone\n").unwrap();
        assert_eq!(d.details.as_deref(), Some("Breaking change."));
        assert_eq!(draft("fix: a").unwrap().details, None);
    }

    #[test]
    fn rendered_entries_load_as_a_bulletin() {
        let drafted: Vec<Drafted> = [
            "fix: quotes \"here\" (#4)",
            "feat: a\n\nmulti\nline",
            "security: b",
        ]
        .iter()
        .filter_map(|m| draft(m))
        .collect();
        let toml = render(&drafted);
        assert!(toml.find("kind = \"feature\"") < toml.find("kind = \"fix\""));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(BULLETIN_FILE);
        std::fs::write(&path, &toml).unwrap();
        let bulletin = Bulletin::load(&path).unwrap();
        assert_eq!(bulletin.entries.len(), 3);
        assert_eq!(bulletin.entries[1].title, "Quotes \"here\"");
        assert_eq!(bulletin.entries[1].ticket.as_deref(), Some("#4"));
    }
}
