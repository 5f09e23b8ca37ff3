//! `cargo xtask lint <patch-dir> [--format human|json]` (or `--rules`, `--explain <rule-id>`):
//! the migration linter of
//! [`bascule_lint`] — parse validation, the down-undoes-up pair check and the zero-downtime
//! rules — on a patch source, with the history of its sibling patches of lower versions; and
//! its release documents ([`bascule_lint::documents`]): `docs/bulletin.toml`, `checklist.toml`
//! and `testbook.toml` exist and are well formed, and every checklist item names a step of the
//! run ([`run_steps`]). Each problem is a finding at its file and line.
//!
//! The exit code is non-zero when there is an error; warnings are printed only.
//! `build-patch` runs the migration check through [`check_before_build`] and refuses errors; it
//! loads the documents itself, refusing every problem the same way.

use std::path::{Path, PathBuf};

use anyhow::bail;
use bascule_lint::rules::down_undoes_up as pairs;
use bascule_lint::{self as lint, Report};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-like messages with the SQL excerpt, then a summary line.
    Human,
    /// One JSON document (stable field names) for CI.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The patch source: the directory holding patch.toml.
    pub patch_dir: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// List the rules (id, level, dialects, summary) and exit.
    #[arg(long)]
    pub rules: bool,
    /// Print a rule's explanation and its safe recipe (per dialect), and exit.
    #[arg(long, value_name = "RULE-ID")]
    pub explain: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.rules {
        print!("{}", rules_table());
        return Ok(());
    }
    if let Some(id) = args.explain {
        print!("{}", explain(&id)?);
        return Ok(());
    }
    let Some(dir) = args.patch_dir else {
        bail!("give the patch source directory: cargo xtask lint patches/<version>");
    };
    let report = lint_dir(&dir)?;
    match args.format {
        Format::Human => print!("{}", report.render_human()),
        Format::Json => println!("{}", report.render_json()),
    }
    if report.has_errors() {
        bail!("{} lint error(s) in {}", report.errors(), dir.display());
    }
    Ok(())
}

/// Lints the patch source at `dir`: its migrations, and its documents
/// ([`lint::documents`]: they exist, are well formed, and the checklist names real steps).
pub fn lint_dir(dir: &Path) -> anyhow::Result<Report> {
    let mut report = lint::lint_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot load the patch source {}:\n{e}", dir.display()))?;
    report
        .findings
        .extend(lint::documents::check_documents(dir, &run_steps()));
    report.sort();
    Ok(report)
}

/// The names of the steps of `bascule apply`, in the order they run: what a checklist item may
/// be attached to.
pub fn run_steps() -> Vec<&'static str> {
    bascule::steps::apply_steps()
        .iter()
        .map(|step| step.name())
        .collect()
}

/// What `build-patch` runs before building: prints the report (to stderr) when it has
/// findings, and fails on errors; the report, whose counts the bulletin shows.
pub fn check_before_build(patch: &bascule_patch::Patch) -> anyhow::Result<Report> {
    let earlier = lint::history::earlier_patches(patch);
    let report = lint::lint_patch(patch, &earlier);
    if !report.findings.is_empty() || !report.suppressed.is_empty() || report.unchecked > 0 {
        eprint!("{}", report.render_human());
    }
    if report.has_errors() {
        bail!(
            "{} lint error(s) in the migrations of {}; nothing was built (see `cargo xtask lint {}`)",
            report.errors(),
            patch.dir.display(),
            patch.dir.display()
        );
    }
    Ok(report)
}

/// The counts of a report as the bulletin shows them: advice rules' warnings are advisories.
pub fn counts(report: &Report) -> bascule_pages::documents::LintCounts {
    let advice =
        |rule: &str| lint::rules::by_id(rule).is_some_and(|r| r.level() == lint::Level::Advice);
    let mut counts = bascule_pages::documents::LintCounts {
        suppressed: report.suppressed.len(),
        ..Default::default()
    };
    for f in &report.findings {
        match f.severity {
            lint::Severity::Error => counts.errors += 1,
            lint::Severity::Warning if advice(&f.rule) => counts.advisories += 1,
            lint::Severity::Warning => counts.warnings += 1,
            // An irreversible migration's note: the bulletin lists the migrations themselves.
            lint::Severity::Note => {}
        }
    }
    counts
}

fn level_name(level: lint::Level) -> &'static str {
    match level {
        lint::Level::ZeroDowntime => "online",
        lint::Level::Always => "always",
        lint::Level::Advice => "advice",
    }
}

/// What `--explain <rule-id>` prints: the rule's summary, level, dialects, explanation, and its
/// recipe (once when it is the same in every dialect, else per dialect).
pub fn explain(id: &str) -> anyhow::Result<String> {
    if id == pairs::RULE {
        return Ok(explain_pair_check());
    }
    let Some(rule) = lint::rules::by_id(id) else {
        bail!("no rule has the id `{id}`; `cargo xtask lint --rules` lists them");
    };
    let level = match rule.level() {
        lint::Level::ZeroDowntime => {
            "error when the patch is `mode = \"online\"`, warning in `downtime` mode"
        }
        lint::Level::Always => "error in every mode",
        lint::Level::Advice => "warning in every mode (advice)",
    };
    let dialects: Vec<String> = rule.dialects().iter().map(ToString::to_string).collect();
    let mut out = format!(
        "{}: {}\n\nlevel: {level}\ndialects: {}\n\n{}\n\n",
        rule.id(),
        rule.summary(),
        dialects.join(", "),
        rule.explanation()
    );
    let recipes: Vec<(String, String)> = rule
        .dialects()
        .iter()
        .map(|d| (d.to_string(), rule.recipe(*d)))
        .collect();
    let same = recipes.windows(2).all(|w| w[0].1 == w[1].1);
    for (dialect, recipe) in &recipes {
        if same {
            out.push_str("what to do instead:\n");
        } else {
            out.push_str(&format!("what to do instead ({dialect}):\n"));
        }
        for line in recipe.lines() {
            out.push_str(&format!("  {line}\n"));
        }
        if same {
            break;
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "\nsilence one statement with: -- bascule:allow {} <reason>\n",
        rule.id()
    ));
    Ok(out)
}

/// `--explain down-undoes-up`: the pair check is not a [`lint::Rule`] (it reads both scripts of
/// a migration, not one statement), so its text comes from its module.
fn explain_pair_check() -> String {
    let recipe: String = pairs::RECIPE.lines().map(|l| format!("  {l}\n")).collect();
    format!(
        "{}: {}\n\nlevel: error in every mode\ndialects: sqlite, mysql, postgres\n\n{}\n\n\
         what to do instead:\n{recipe}\nsilence one statement with: -- bascule:allow {} <reason>\n",
        pairs::RULE,
        pairs::SUMMARY,
        pairs::EXPLANATION,
        pairs::RULE
    )
}

/// The rule list: id, level, dialects, summary; the pair check last.
pub fn rules_table() -> String {
    let row = |id: &str, level: &str, dialects: &str, summary: &str| {
        format!("{id:<36} {level:<7} {dialects:<22} {summary}\n")
    };
    let mut out = String::new();
    for rule in lint::rules::all() {
        let dialects: Vec<String> = rule.dialects().iter().map(ToString::to_string).collect();
        out.push_str(&row(
            rule.id(),
            level_name(rule.level()),
            &dialects.join(","),
            rule.summary(),
        ));
    }
    out.push_str(&row(
        pairs::RULE,
        "always",
        "sqlite,mysql,postgres",
        pairs::SUMMARY,
    ));
    out
}
