//! `bascule`: the runtime that ships inside every patch bundle.

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use bascule::detach::{self, Awaited, Started};
use bascule::engine::Options;
use bascule::fingerprint::{rehearsal, Fingerprint};
use bascule::gate::{self, Decision};
use bascule::host::{HostProfile, DEFAULT_PROFILE};
use bascule::journal::RunKind;
use bascule::json_output::RunResult;
use bascule::log::{Comparison, RunDir, Slowest, Timings};
use bascule::report;
use bascule::run::{self, RunReport, Setup};
use bascule::state::runs_dir;
use bascule::steps::acceptance;
use bascule::steps::apply_steps;
use bascule::trusted::{self, Trust};
use bascule_bundle::{self as bundle, Manifest, MANIFEST_FILE};
use bascule_patch::Patch;

/// Apply a platform release with automatic, complete rollback.
///
/// This program is the runtime of one patch bundle. Unpack the bundle on the host and run
/// the `bascule` inside it:
///
///     tar xzf bascule-2.4.0.tar.gz
///     bascule-2.4.0/bin/bascule verify
///     bascule-2.4.0/bin/bascule plan
///     tmux new -s release
///     bascule-2.4.0/bin/bascule apply
///
/// `apply` runs these steps in order (`bascule apply --help` says what each does):
///
/// {apply_steps}
///
/// If any step fails, every step already done is undone in reverse: the host ends exactly as
/// it started (same `current` release, same schemas and data, same services running, same
/// version).
/// Every command and statement is logged with a timestamp in
/// <state_dir>/runs/<run-id>/update.log, and every action is journaled before it happens, so
/// `bascule recover` can finish the undo of a run that was killed.
/// When a run ends, whatever its outcome, its directory also holds its intervention sheet
/// (intervention.md, .html, .json) and report.html, and <state_dir>/releases.jsonl its line
/// (`bascule report`, `bascule history`).
///
/// Exit status: 0 success; 1 the run failed and the host is as it was; 2 refused before
/// starting (bad input, tampered bundle); 3 the undo is incomplete: fix the cause, then run
/// `bascule recover`.
#[derive(Parser)]
#[command(name = "bascule", version, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every file of the bundle against its manifest (an unpacked tree or a .tar.gz).
    ///
    /// Refuses a file changed by one byte, a truncated archive, a file the manifest does not
    /// list, a missing file, and hostile entries (absolute paths, `..`, links leaving the
    /// tree). Verifying an archive extracts nothing: it is read as a stream.
    ///
    /// With --host, and keys pinned in its [trust], the bundle must also be signed by one of
    /// them: a tarball's signature (<tarball>.minisig) is checked over its bytes before the
    /// archive is even read; an unpacked tree must match the manifest the signature vouches
    /// for. Run it with the host's own runtime (<state_dir>/bin/bascule, left there by the last
    /// apply), never with the one inside the bundle it checks.
    Verify(VerifyArgs),
    /// Show what `apply` would do on this host, without changing anything.
    ///
    /// Verifies the bundle as `apply` will (every file against the manifest and, when the host
    /// pins keys, the signature), reads the platform version, discovers every database of every
    /// class and reads its version table, and lists: the patch's requirements with the versions found here; whether
    /// the bundle was rehearsed on an environment like this one, with every fact on which this
    /// host differs from that rehearsal (`!` marks a critical one, which `apply` refuses without
    /// --accept-differences); the pending migrations, the checks and the steps.
    Plan(PlanArgs),
    /// Apply the bundle to this host; on any failure, undo everything.
    ///
    /// Must run inside tmux or screen, or detached (--detach): an SSH cut must not kill it
    /// half-way. Never on a day the patch's policy forbids (Fridays by default).
    Apply(ApplyArgs),
    /// Undo the last apply, which must have been made by this same bundle.
    ///
    /// Runs the down migrations back to each database's own starting version, switches
    /// `current` back, removes the new release and restores the recorded platform version.
    /// Holds the database-side migration locks while it undoes (as `apply` and `migrate` do),
    /// so no `bascule migrate` from another host changes those databases meanwhile. Refused,
    /// changing nothing, when another run (a later bundle's `bascule migrate`, from any host)
    /// has migrated those databases further since: its code may rely on what this undo would
    /// remove. The refusal names that run.
    Rollback(RunArgs),
    /// Finish the undo of a run that was killed (SSH cut, kill -9, power loss).
    ///
    /// Reads the journal of the run that still holds the host lock and undoes every action
    /// it records, in reverse, under the database-side migration locks. Safe to run more than
    /// once. Refused, changing nothing, while the run holding the lock is still alive (waiting
    /// at the acceptance gate, say): the refusal names it, its pid and its host.
    ///
    /// Exit status: 0 the interrupted run is undone (or had finished); 2 nothing to recover, or
    /// its run is still alive; 3 some undo failed again: fix the cause and run it again.
    Recover(RunArgs),
    /// Run only the bundle's migrations, once, even when started on several hosts at once.
    ///
    /// For rolling deploys: a deploy system runs `bascule migrate` as a task before the first
    /// instance of the new release starts, while the old release still serves. The patch's
    /// migrations must then be the kind the old code tolerates (add a nullable column, a new
    /// table, a backfill: the first phase of a multi-phase change), which `cargo xtask lint`
    /// checks for `mode = "online"` patches.
    ///
    /// What it does, in order:
    ///
    ///   1. discovers every database of every class the patch migrates (host profile
    ///      [databases.*]);
    ///   2. takes a lock on each of them ON THE DATABASE SERVER: MariaDB/MySQL
    ///      GET_LOCK('bascule:<database>'), PostgreSQL pg_advisory_lock (one session per
    ///      server), in a fixed order, waiting at most --lock-timeout;
    ///   3. runs these steps of `apply`: {migrate_steps} (guard takes the host lock;
    ///      --no-multiplexer is implied: a deploy task has no terminal);
    ///   4. releases the locks.
    ///
    /// Started at once on several hosts, one run migrates; the others wait for its locks,
    /// then find every database at the bundle's version and succeed with nothing to do. The
    /// locks belong to server sessions: a run that dies releases them with its connections,
    /// so no lock is ever left behind to clear by hand.
    ///
    /// On any failure the migrations of this run are undone on every database, in parallel,
    /// exactly as `apply` does, and the exit status is 1. A run killed half-way keeps the host
    /// lock of the host it ran on: run `bascule recover` there. Neither the code (`current`)
    /// nor the recorded platform version is touched: the deploy system installs the code.
    ///
    /// Exit status: 0 every database is at the bundle's version (possibly nothing to do); 1 the
    /// run failed and its migrations were undone, or a lock was not granted in time (nothing
    /// was done); 2 refused before starting; 3 the undo is incomplete: run `bascule recover`.
    ///
    /// Example (deploy task, once per release, on any number of hosts):
    ///
    ///     bascule-2.4.0/bin/bascule migrate --host /etc/bascule/host.toml --lock-timeout 900
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Record test-book results, and let the run waiting at the acceptance gate go on.
    ///
    /// Finds the run holding the host lock; it must be waiting at its `acceptance` step. With
    /// --case, records the results of the test book's cases (numbered as the run and
    /// `docs/testbook.md` of the bundle show them) and the run goes on waiting; with --interactive, asks each case's
    /// result here, then whether to accept. Accepting is refused while a recorded case has
    /// failed: record it again once fixed, or abort. Every result goes in the journal and the
    /// intervention sheet, with who recorded it and when.
    Accept(AcceptArgs),
    /// Say that the manual checklist item the run waits for is done (from another terminal).
    ///
    /// Finds the waiting run — the one holding the host lock, or a live run waiting at an item
    /// due before it takes it — which must be waiting at a checklist item (a run with no
    /// terminal of its own, started without --yes, waits there).
    Confirm(DecideArgs),
    /// Make the waiting run fail, at the acceptance gate or a checklist item: every step is
    /// rolled back.
    ///
    /// Finds the waiting run, as `confirm` does; it must be waiting at a gate.
    Abort(DecideArgs),
    /// Say whether a run is going on or was interrupted here, and what the last runs did.
    ///
    /// Reads the state directory only (no bundle, no database): the platform version, the run
    /// holding the host lock — its step, whether its process is alive, and what `recover` would
    /// do (refuse while it lives; else undo its started steps in reverse, named) — and the last
    /// runs with how each ended. Run it first when you arrive at a host.
    Status(StatusArgs),
    /// Print a run's update.log; follow it as it is written, or rank and compare its times.
    ///
    /// Reads the state directory only (no bundle, no database), like `status`. RUN is a run id,
    /// as `bascule status` lists them, or a run directory given as a path (a copy, a rehearsal's
    /// run brought back from its guest); by default, the newest run of this host.
    ///
    /// With --follow, prints the log and then what the run appends to it, until the run's
    /// process is gone (committed, undone, refused, or killed), and exits with the status its
    /// command ended with: 0 committed (or recovered); 1 failed and undone, or refused having
    /// changed nothing; 2 ended before its first step; 3 the undo is incomplete or the run was
    /// killed: run `bascule recover`. It is how to watch a run started with --detach.
    ///
    /// With --slowest, ranks the run's steps by time (the journal's), and its databases and
    /// migration statements (update.log's; a statement's time is summed over the databases that
    /// ran it). With --compare, sets two runs side by side — this host's apply and its
    /// rehearsal's, say: for the steps, databases and statements both have, what got slower and
    /// what faster, with the ratio B/A.
    Log(LogArgs),
    /// Show a run at a glance: its steps on one time axis, migrations, checklist, test book.
    ///
    /// Reads the run's directory only, like `log`. RUN is a run id or a run directory (a
    /// rehearsal's, brought back from its guest); by default, the newest run of this host. Every
    /// run writes its report.html and its intervention sheet (intervention.md, .html, .json) into
    /// its directory when it ends, failed and rolled-back runs included; this prints the same
    /// data as text (or --format json), or writes the report page elsewhere with --html. The page
    /// is one self-contained file: inline SVG and style, no script, nothing fetched.
    Report(ReportArgs),
    /// Add a hitch to a run's intervention sheet: something that went badly, or oddly.
    ///
    /// To the newest run of this host (the one going on, if any), or to --run. The sheet of a
    /// finished run is redrawn at once; a live run's when it ends. Open hitches of a
    /// release's sheets are carried into the next patch's checklist by `cargo xtask new-patch`.
    Note(NoteArgs),
    /// Print the host's release history: one line per run, oldest first.
    ///
    /// Every run appends its line to <state_dir>/releases.jsonl when it ends: run, kind, bundle
    /// digest, platform version before and after, outcome, operator, start, end and downtime.
    History(HistoryArgs),
    /// Print the host's state, one fact per line, and a digest of it; changes nothing.
    ///
    /// The recorded version, the host lock, `current`, a digest of every file under releases/
    /// and the shared directories, every database's version, schema and content digests, the
    /// services' status and the maintenance flag; the last line digests all the others. Run it
    /// before `apply` and after `rollback`: the same lines prove the host is as it was (it is
    /// how `cargo xtask rehearse` checks every rollback in its guests).
    Digest(ProfileArgs),
    /// Print this host's environment fingerprint, one fact per line; changes nothing.
    ///
    /// The OS release and kernel, architecture, locale and time zone, the versions of the
    /// software the bundle's patch declares ([requirements.software]), whether the platform's
    /// filesystem is case-sensitive, and each database class's servers (engine, version, major
    /// version, SQL mode, lower_case_table_names, charset and collation, time zone). Every run
    /// records it as <run dir>/fingerprint.json; `plan` and `apply` compare it with the
    /// rehearsal the bundle passed (bascule-<version>.rehearsal.json beside the bundle).
    Fingerprint(HostArgs),
}

#[derive(Args)]
struct ProfileArgs {
    /// The host profile: where the platform, its databases and Bascule's state are on this host
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
}

#[derive(Args)]
struct StatusArgs {
    /// The host profile: its state dir holds the lock and the runs
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
    /// How many of the last runs to list
    #[arg(long, value_name = "N", default_value_t = 5)]
    last: usize,
    /// `text` for a person, `json` for a program
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Args)]
struct ReportArgs {
    /// A run id, or a run directory (a path with a `/`) [default: the newest run]
    #[arg(value_name = "RUN")]
    run: Option<String>,
    /// The host profile: its state dir holds the runs
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
    /// Write the report page to FILE instead of printing the report
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// `text` for a person, `json` for a program
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Args)]
struct NoteArgs {
    /// What happened, in words
    #[arg(value_name = "TEXT", value_parser = non_empty_reason)]
    text: String,
    /// The run it belongs to [default: the newest run, which is the one going on if any]
    #[arg(long, value_name = "RUN")]
    run: Option<String>,
    /// Dealt with already: the next patch's checklist need not carry it
    #[arg(long)]
    closed: bool,
    /// The host profile: its state dir holds the runs
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
}

#[derive(Args)]
struct HistoryArgs {
    /// The host profile: its state dir holds releases.jsonl
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
    /// `text` for a person, `json` for a program (one array)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Args)]
struct LogArgs {
    /// A run id, or a run directory (a path with a `/`) [default: the newest run]
    #[arg(value_name = "RUN")]
    run: Option<String>,
    /// The host profile: its state dir holds the runs
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
    /// Keep printing what the run appends until it ends; exit with how it ended
    #[arg(long, conflicts_with_all = ["slowest", "compare"])]
    follow: bool,
    /// Rank every step, and the N slowest databases and statements (`--slowest=N`, default
    /// 10), by time
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "10"
    )]
    slowest: Option<usize>,
    /// What got slower or faster from RUN_A to RUN_B (run ids or run directories)
    #[arg(long, num_args = 2, value_names = ["RUN_A", "RUN_B"], conflicts_with_all = ["run", "slowest"])]
    compare: Option<Vec<String>>,
    /// With --slowest or --compare: `text` for a person, `json` for a program
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Args)]
struct AcceptArgs {
    #[command(flatten)]
    decide: DecideArgs,
    /// A case's result, as NUMBER=RESULT (RESULT: passed, failed or skipped); repeat it for
    /// several cases. Records them without accepting
    #[arg(long, value_name = "NUMBER=RESULT", value_parser = case_result)]
    case: Vec<(usize, String)>,
    /// A comment kept with the results given by --case (what failed, why it was skipped)
    #[arg(long, value_name = "TEXT", requires = "case")]
    comment: Option<String>,
    /// Ask each case's result on this terminal, then whether to accept
    #[arg(long, conflicts_with = "case")]
    interactive: bool,
}

/// `2=passed`.
fn case_result(text: &str) -> Result<(usize, String), String> {
    let wrong = || {
        format!(
            "`{text}` is not NUMBER=RESULT; write e.g. 2=passed (RESULT: {})",
            acceptance::RESULTS.join(", ")
        )
    };
    let (number, result) = text.split_once('=').ok_or_else(wrong)?;
    let number: usize = number.trim().parse().map_err(|_| wrong())?;
    let result = result.trim();
    if number == 0 || !acceptance::RESULTS.contains(&result) {
        return Err(wrong());
    }
    Ok((number, result.to_string()))
}

#[derive(Args)]
struct DecideArgs {
    /// The host profile: its state dir holds the lock naming the waiting run
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
}

#[derive(Args)]
struct BundleArg {
    /// The unpacked bundle to use [default: the bundle this program is in]
    #[arg(long, value_name = "DIR")]
    bundle: Option<PathBuf>,
}

#[derive(Args)]
struct VerifyArgs {
    /// An unpacked bundle directory or a bundle .tar.gz [default: the bundle this program is in]
    path: Option<PathBuf>,
    /// The host profile whose [trust] keys must have signed the bundle; without it, the
    /// signature is not checked
    #[arg(long, value_name = "FILE")]
    host: Option<PathBuf>,
}

#[derive(Args)]
struct HostArgs {
    /// The host profile: where the platform, its databases and Bascule's state are on this host
    #[arg(long, value_name = "FILE", default_value = DEFAULT_PROFILE)]
    host: PathBuf,
    #[command(flatten)]
    bundle: BundleArg,
}

#[derive(Args)]
struct RehearsalArg {
    /// The rehearsal record to compare this host with [default: bascule-<version>.rehearsal.json
    /// beside the bundle directory]
    #[arg(long, value_name = "FILE")]
    rehearsal: Option<PathBuf>,
}

#[derive(Args)]
struct PlanArgs {
    #[command(flatten)]
    host: HostArgs,
    #[command(flatten)]
    rehearsal: RehearsalArg,
    /// `text` for a person; `json` for a program: one object on stdout, as
    /// runtime/schema/plan.schema.json describes (`action`, `changed`, `refusals`, …)
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
}

#[derive(Args)]
struct RunFormat {
    /// `text` for a person; `json` for a program: the steps are not printed, and one object
    /// goes to stdout when the run ends, as runtime/schema/run.schema.json describes (`outcome`,
    /// `changed`, `steps` with their durations, per-class counts, `errors`); the exit code is
    /// the same
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"],
          conflicts_with = "detach")]
    format: String,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    host: HostArgs,
    /// Run outside tmux/screen (for automation that keeps its own session)
    #[arg(long)]
    no_multiplexer: bool,
    /// Print only the outcome, not each step
    #[arg(long, short)]
    quiet: bool,
    /// Seconds to wait for the database-side migration locks another run holds (a `bascule
    /// migrate` from another host) before giving up, having changed nothing
    #[arg(long, value_name = "SECONDS", default_value_t = run::OPERATOR_LOCK_TIMEOUT_SECS)]
    lock_timeout: u64,
    /// Go on in the background, in a session of its own that outlives the terminal: prints the
    /// run id and how to follow it (`bascule log --follow`); the output goes to
    /// <state_dir>/detached.log
    #[arg(long)]
    detach: bool,
    #[command(flatten)]
    output: RunFormat,
}

#[derive(Args)]
struct MigrateArgs {
    #[command(flatten)]
    host: HostArgs,
    /// Seconds to wait for the migration locks another run holds before giving up (nothing done)
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    lock_timeout: u64,
    #[command(flatten)]
    overrides: Overrides,
    /// Print only the outcome, not each step
    #[arg(long, short)]
    quiet: bool,
    /// Go on in the background, in a session of its own that outlives the terminal: prints the
    /// run id and how to follow it (`bascule log --follow`); the output goes to
    /// <state_dir>/detached.log
    #[arg(long)]
    detach: bool,
    #[command(flatten)]
    output: RunFormat,
}

#[derive(Args)]
struct ApplyArgs {
    #[command(flatten)]
    run: RunArgs,
    #[command(flatten)]
    overrides: Overrides,
    /// Start although the platform's or the state directory's disk has less room than the run
    /// needs or the profile asks ([guards] min_free, min_free_state); REASON says why it is safe
    #[arg(long, value_name = "REASON", value_parser = non_empty_reason)]
    allow_low_disk: Option<String>,
    #[command(flatten)]
    rehearsal: RehearsalArg,
    /// Run although this host differs from the bundle's rehearsal in a critical fact (or the
    /// patch requires a rehearsal and there is none); REASON says why it is safe, and goes in
    /// the log and the report
    #[arg(long, value_name = "REASON", value_parser = non_empty_reason)]
    accept_differences: Option<String>,
    /// Confirm every manual item of the patch's checklist in advance (automation, a rehearsal):
    /// each is still shown at its step, and the journal and the intervention sheet say it was
    /// confirmed by --yes
    #[arg(long)]
    yes: bool,
}

/// The guards a release team may override, each only with a written reason, which goes in the
/// log and the report.
#[derive(Args)]
struct Overrides {
    /// Start although the patch's policy forbids this day or hour ([policy] forbidden_days,
    /// forbidden_hours); REASON says why it must be now
    #[arg(long, value_name = "REASON", value_parser = non_empty_reason)]
    allow_forbidden_time: Option<String>,
    /// Start although the host's newest backup is older than its profile allows ([guards.backup])
    /// or its time cannot be told; REASON says why it is safe
    #[arg(long, value_name = "REASON", value_parser = non_empty_reason)]
    allow_stale_backup: Option<String>,
}

/// A written reason: at least one word.
fn non_empty_reason(text: &str) -> Result<String, String> {
    let reason = text.trim();
    if reason.is_empty() {
        return Err("write why, in words: it goes in the log and the report".into());
    }
    Ok(reason.to_string())
}

/// The command line, its help completed from the code: the step lists come from
/// [`apply_steps`] and [`run::migrate_steps`], so the manual cannot fall behind the engine.
fn command() -> clap::Command {
    let names = |steps: Vec<Box<dyn bascule::engine::Step>>| {
        steps.iter().map(|s| s.name()).collect::<Vec<_>>()
    };
    // `guard →`, `preflight →`, …, `finish`: an arrow never starts a line.
    let arrows = |steps: Vec<Box<dyn bascule::engine::Step>>| {
        let mut words: Vec<String> = steps.iter().map(|s| format!("{} →", s.name())).collect();
        if let (Some(last), Some(step)) = (words.last_mut(), steps.last()) {
            *last = step.name().to_string();
        }
        words
    };
    let fill = |text: Option<&clap::builder::StyledStr>| {
        text.map(|t| t.to_string())
            .unwrap_or_default()
            .replace(
                "{apply_steps}",
                wrapped(arrows(apply_steps()), "    ", 80).trim_end(),
            )
            .replace("{migrate_steps}", &names(run::migrate_steps()).join(", "))
    };
    let cli = Cli::command();
    let about = fill(cli.get_long_about());
    cli.long_about(about)
        .mut_subcommand("apply", |apply| apply.after_long_help(step_table()))
        .mut_subcommand("migrate", |migrate| {
            let about = fill(migrate.get_long_about());
            migrate.long_about(about)
        })
}

/// `apply --help`'s list of steps: number, name and what it does, in the order they run.
fn step_table() -> String {
    let mut table = String::from(
        "Steps, in the order they run (on a failure, those done are undone in reverse):\n",
    );
    for (i, step) in apply_steps().iter().enumerate() {
        table.push_str(&format!("\n  {:>2}. {}\n", i + 1, step.name()));
        table.push_str(&wrapped(step.summary().split_whitespace(), "      ", 80));
    }
    table
}

/// `words` in lines of at most `width` columns, each starting with `indent` (shorter than
/// clap's own wrapping width, so it keeps them as they are).
fn wrapped<S: AsRef<str>>(
    words: impl IntoIterator<Item = S>,
    indent: &str,
    width: usize,
) -> String {
    let mut out = String::new();
    let mut line = String::from(indent);
    for word in words {
        let word = word.as_ref();
        if line.len() > indent.len() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = String::from(indent);
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error_text(&error));
            ExitCode::from(2)
        }
    }
}

/// `error` and its causes, each once: many errors already quote their source in their own
/// message, which `{:#}` would print a second time.
fn error_text(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn dispatch(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Verify(args) => verify(args),
        Command::Plan(args) => plan(args),
        Command::Apply(args) if args.run.detach => {
            detached(&args.run.host.host, Awaited::New(RunKind::Apply))
        }
        Command::Rollback(args) if args.detach => {
            detached(&args.host.host, Awaited::New(RunKind::Rollback))
        }
        Command::Recover(args) if args.detach => detached(&args.host.host, Awaited::TakenOver),
        Command::Migrate(args) if args.detach => {
            detached(&args.host.host, Awaited::New(RunKind::Migrate))
        }
        Command::Apply(args) => {
            let json = args.run.output.format == "json";
            finish("apply", json, || {
                let mut setup = setup(&args.run, args.overrides)?;
                setup.options.accept_differences = args.accept_differences;
                setup.options.allow_low_disk = args.allow_low_disk;
                setup.options.rehearsal = args.rehearsal.rehearsal;
                setup.options.yes = args.yes;
                Ok(run::apply(&setup)?)
            })
        }
        Command::Rollback(args) => finish("rollback", args.output.format == "json", || {
            Ok(run::rollback(&setup(&args, Overrides::none())?)?)
        }),
        Command::Recover(args) => finish("recover", args.output.format == "json", || {
            Ok(run::recover(&setup(&args, Overrides::none())?)?)
        }),
        Command::Migrate(args) => migrate(args),
        Command::Accept(args) => accept(args),
        Command::Confirm(args) => decide(&args, Decision::Confirm),
        Command::Abort(args) => decide(&args, Decision::Abort),
        Command::Status(args) => {
            let host = HostProfile::load(&args.host)?;
            let status = bascule::status::Status::read(&host, args.last)?;
            match args.format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&status)?),
                _ => print!("{}", status.render()),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Log(args) => log(args),
        Command::Report(args) => run_report(args),
        Command::Note(args) => note(args),
        Command::History(args) => {
            let host = HostProfile::load(&args.host)?;
            let releases = report::history::read(&host.state_dir)?;
            match args.format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&releases)?),
                _ if releases.is_empty() => println!("no run has ended on this host yet"),
                _ => print!("{}", report::history::table(&releases)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Digest(args) => {
            let host = HostProfile::load(&args.host)?;
            print!("{}", bascule::digest::StateDigest::capture(&host)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Fingerprint(args) => {
            let (host, patch, _, _) = load(&args)?;
            print!("{}", Fingerprint::capture(&host, &patch).lines());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let state_dir = match &args.run {
        Some(run) if RunDir::is_path(run) => PathBuf::new(),
        _ => HostProfile::load(&args.host)?.state_dir,
    };
    let run = RunDir::find(&state_dir, args.run.as_deref())?;
    let mut view = report::view::assemble(&run)?;
    // Its files alone read a live run as interrupted: its journal's flock says it runs.
    if bascule::journal::writer_alive(&run.journal_path()) == Some(true) {
        view.outcome = "in progress".into();
    }
    if let Some(path) = &args.html {
        std::fs::write(path, bascule_pages::report::html(&view))
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("report of run {} written to {}", view.run, path.display());
        return Ok(ExitCode::SUCCESS);
    }
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&view)?),
        _ => {
            print!("{}", report::text(&view));
            for name in [report::REPORT_HTML, report::SHEET_HTML, report::SHEET_MD] {
                let path = run.dir.join(name);
                if path.is_file() {
                    println!("{name:<18} {}", path.display());
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn note(args: NoteArgs) -> anyhow::Result<ExitCode> {
    let host = HostProfile::load(&args.host)?;
    let run = RunDir::find(&host.state_dir, args.run.as_deref())?;
    let hitch = bascule_pages::run_view::Hitch {
        text: args.text,
        by: gate::operator(),
        at: bascule::journal::now(),
        open: !args.closed,
    };
    report::hitches::add(&run.dir, &hitch)?;
    // A live run draws its sheet when it ends; a finished one's is drawn again now.
    if bascule::journal::writer_alive(&run.journal_path()) == Some(true) {
        println!(
            "hitch noted for run {}: its sheet shows it when the run ends",
            run.id()
        );
    } else {
        let view = report::view::assemble(&run)?;
        let (sheet, _) = report::write_pages(&run.dir, &view)?;
        println!("hitch noted for run {}: {}", run.id(), sheet.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn log(args: LogArgs) -> anyhow::Result<ExitCode> {
    let json = args.format == "json";
    if json && args.slowest.is_none() && args.compare.is_none() {
        bail!("--format json goes with --slowest or --compare: the log itself is text");
    }
    let named: Vec<Option<&str>> = match &args.compare {
        Some(pair) => pair.iter().map(|run| Some(run.as_str())).collect(),
        None => vec![args.run.as_deref()],
    };
    // Run directories given as paths need no host profile: a rehearsal's runs are compared on
    // the machine that ran it.
    let state_dir = if named.iter().all(|run| run.is_some_and(RunDir::is_path)) {
        PathBuf::new()
    } else {
        HostProfile::load(&args.host)?.state_dir
    };
    let runs = named
        .iter()
        .map(|run| RunDir::find(&state_dir, *run))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = std::io::stdout().lock();
    let report = match (&runs[..], args.slowest) {
        ([a, b], _) => {
            let (ta, tb) = (Timings::read(a)?, Timings::read(b)?);
            let comparison = Comparison::new((&a.name, &ta), (&b.name, &tb));
            match json {
                true => serde_json::to_string_pretty(&comparison)? + "\n",
                false => comparison.render(),
            }
        }
        ([run], Some(n)) => {
            let slowest = Slowest::new(&run.name, Timings::read(run)?, n);
            match json {
                true => serde_json::to_string_pretty(&slowest)? + "\n",
                false => slowest.render(),
            }
        }
        ([run], None) if args.follow => {
            let ending = bascule::log::follow(run, &mut out)?;
            eprintln!("run {} {}", run.name, ending.describe());
            return Ok(ExitCode::from(ending.exit_code()));
        }
        ([run], None) => {
            run.print_log(&mut out)?;
            return Ok(ExitCode::SUCCESS);
        }
        _ => bail!("give one run, or two with --compare"),
    };
    out.write_all(report.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The command given, started again in the background ([`bascule::detach`]) without
/// `--detach`; what the operator needs to follow it.
fn detached(host: &Path, awaited: Awaited) -> anyhow::Result<ExitCode> {
    let profile = HostProfile::load(host)?;
    let program = std::env::current_exe().context("cannot locate this program")?;
    let mut words = std::env::args_os();
    let invoked = words.next().unwrap_or_else(|| program.clone().into());
    let mut args: Vec<OsString> = words.filter(|word| word != "--detach").collect();
    // The guard refuses a run outside tmux or screen, since it would die with its terminal; a
    // detached one leads a session of its own, which no terminal's end reaches. `migrate`
    // implies it already.
    let guarded = !matches!(awaited, Awaited::New(RunKind::Migrate));
    if guarded && !args.iter().any(|word| word == "--no-multiplexer") {
        args.push("--no-multiplexer".into());
    }
    let detached = detach::detach(&profile.state_dir, &program, &args, awaited)?;
    let command = args
        .first()
        .map_or("bascule".into(), |c| c.to_string_lossy());
    let mut follow = format!("{} log --follow", invoked.to_string_lossy());
    if host != Path::new(DEFAULT_PROFILE) {
        follow.push_str(&format!(" --host {}", host.display()));
    }
    match detached.started {
        Started::Run(run) => {
            println!("{command} detached (pid {}): run {run}", detached.pid);
            println!("follow it:   {follow} {run}");
            println!("its output:  {}", detached.output.display());
            Ok(ExitCode::SUCCESS)
        }
        Started::Ended { code, output } => {
            eprint!("{output}");
            let code = code.and_then(|c| u8::try_from(c).ok()).unwrap_or(2);
            println!(
                "{command} ended at once, with exit status {code}, before its run started \
                 (its output is in {})",
                detached.output.display()
            );
            Ok(ExitCode::from(code))
        }
        Started::Unseen => {
            println!(
                "{command} detached (pid {}), still starting: its run is not in {} yet",
                detached.pid,
                runs_dir(&profile.state_dir).display()
            );
            println!("follow it:   {follow}   (the newest run, once it shows in `bascule status`)");
            println!("its output:  {}", detached.output.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn decide(args: &DecideArgs, decision: Decision) -> anyhow::Result<ExitCode> {
    let host = HostProfile::load(&args.host)?;
    let by = gate::operator();
    let (run, at) = gate::decide(&host, decision, &by)?;
    println!(
        "{}: `{}` sent by {by} at the run's {at}; the run will {} (its log: {})",
        run.display(),
        decision.word(),
        match decision {
            Decision::Accept | Decision::Confirm => "go on",
            Decision::Abort => "roll everything back",
        },
        run.join("update.log").display()
    );
    Ok(ExitCode::SUCCESS)
}

fn accept(args: AcceptArgs) -> anyhow::Result<ExitCode> {
    let host = HostProfile::load(&args.decide.host)?;
    let run = gate::waiting_run(&host)?;
    let waiting = gate::waiting_gate(&run)?;
    if waiting.as_deref() != Some(gate::ACCEPTANCE) {
        bail!(
            "the run in {} is not waiting at the acceptance gate ({}): nothing was recorded",
            run.display(),
            waiting.map_or("it waits for nobody".into(), |gate| format!(
                "it waits at {gate}"
            ))
        );
    }
    let by = gate::operator();
    let record = |cases: Vec<(usize, String)>, comment: Option<String>| {
        let results: Vec<acceptance::CaseResult> = cases
            .into_iter()
            .map(|(case, result)| acceptance::CaseResult {
                case,
                result,
                by: by.clone(),
                at: bascule::journal::now(),
                comment: comment.clone(),
            })
            .collect();
        acceptance::record_results(&run, &results)
    };
    if !args.case.is_empty() {
        let count = args.case.len();
        record(args.case, args.comment)?;
        println!(
            "{}: {count} result(s) recorded by {by}; the run still waits: `bascule accept` when the test book is done",
            run.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.interactive {
        let answers = ask_cases()?;
        record(answers, None)?;
        if !ask_yes("accept the release?")? {
            println!("not accepted: the run still waits (`bascule abort` rolls it back)");
            return Ok(ExitCode::SUCCESS);
        }
    }
    let failed: Vec<String> = acceptance::latest_results(&run)?
        .values()
        .filter(|r| r.result == "failed")
        .map(|r| r.case.to_string())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!(
            "case(s) {} of the test book failed: record them again once they pass (`bascule accept --case N=passed`), or `bascule abort`; nothing was decided",
            failed.join(", ")
        );
    }
    decide(&args.decide, Decision::Accept)
}

/// Each case of this bundle's test book, asked on the terminal: `p`, `f` or `s`.
fn ask_cases() -> anyhow::Result<Vec<(usize, String)>> {
    let root = own_bundle()?;
    let documents = bascule_patch::docs::Documents::load_for_run(&root)
        .map_err(|problems| anyhow::anyhow!(join_problems(&problems)))?;
    let mut answers = Vec::new();
    for (i, case) in documents.testbook.cases.iter().enumerate() {
        println!("case {}: {}", i + 1, case.area);
        for step in &case.steps {
            println!("  - {step}");
        }
        println!("  expected: {}", case.expected);
        let result = loop {
            match prompt("  result? [p = passed, f = failed, s = skipped] ")?.as_str() {
                "p" | "passed" => break "passed",
                "f" | "failed" => break "failed",
                "s" | "skipped" => break "skipped",
                _ => continue,
            }
        };
        answers.push((i + 1, result.to_string()));
    }
    Ok(answers)
}

fn ask_yes(question: &str) -> anyhow::Result<bool> {
    loop {
        match prompt(&format!("{question} [y/n] "))?.as_str() {
            "y" | "yes" => return Ok(true),
            "n" | "no" => return Ok(false),
            _ => continue,
        }
    }
}

/// One trimmed line from the terminal; the end of input is an error.
fn prompt(question: &str) -> anyhow::Result<String> {
    use std::io::{BufRead as _, Write as _};
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line)? == 0 {
        anyhow::bail!("the input ended before an answer: nothing more was recorded");
    }
    Ok(line.trim().to_string())
}

fn join_problems(problems: &[bascule_patch::docs::DocError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

fn verify(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let path = match args.path {
        Some(path) => path,
        None => own_bundle()?,
    };
    let host = args.host.as_deref().map(HostProfile::load).transpose()?;
    let (manifest, trust) = match &host {
        Some(host) if path.is_dir() => {
            let manifest = Manifest::read(&path)?;
            let trust = trusted::check_bundle(host, &path, &manifest)?;
            (manifest, trust)
        }
        Some(host) if !host.trusted_keys.is_empty() => {
            // The signature first, over the raw bytes: an unsigned tarball is not even parsed.
            let signature = bundle::signature::signature_path(&path);
            let (manifest, signed) =
                bundle::signature::verify_signed_tarball(&path, &signature, &host.trusted_keys)?;
            (manifest, Trust::Signed(signed))
        }
        _ if path.is_dir() => (bundle::verify_dir(&path)?, Trust::Unsigned),
        _ => (bundle::verify_tarball(&path)?, Trust::Unsigned),
    };
    println!(
        "{}: bundle {} verified: {} files match MANIFEST.toml (digest {})",
        path.display(),
        manifest.patch.version,
        manifest.files.len(),
        manifest.digest()
    );
    match (&host, trust) {
        (None, _) => println!(
            "signature: not checked (give --host to check it against the keys the host pins)"
        ),
        (Some(_), trust) => println!("{}", trust.describe()),
    }
    Ok(ExitCode::SUCCESS)
}

fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let (host, patch, manifest, bundle_root) = load(&args.host)?;
    // What apply's preflight will refuse, plan refuses first.
    let trust = trusted::check_bundle(&host, &bundle_root, &manifest)?;
    let record = rehearsal::record_for(args.rehearsal.rehearsal.as_deref(), &bundle_root);
    let plan = bascule::plan::Plan::survey(&host, &patch, &manifest, &trust, &record)?;
    match args.format.as_str() {
        "json" => println!("{}", serde_json::to_string_pretty(&plan)?),
        _ => print!("{}", plan.text),
    }
    Ok(ExitCode::SUCCESS)
}

fn load(args: &HostArgs) -> anyhow::Result<(HostProfile, Patch, Manifest, PathBuf)> {
    let bundle_root = match &args.bundle.bundle {
        Some(dir) => dir.clone(),
        None => own_bundle()?,
    };
    // Verified before anything in it is parsed: a file that is not what the manifest lists
    // (a symlink, a fifo, a changed or grown file) is refused unread.
    let manifest = bundle::verify_dir(&bundle_root)?;
    let mut patch = Patch::load(&bundle_root)?;
    // The base versions the build found beside the patch source, which the tree alone lacks.
    manifest.set_base_versions(&mut patch.migrations);
    let host = HostProfile::load(&args.host)?;
    Ok((host, patch, manifest, bundle_root))
}

impl Overrides {
    /// An undo's: no guard to override.
    fn none() -> Overrides {
        Overrides {
            allow_forbidden_time: None,
            allow_stale_backup: None,
        }
    }
}

fn setup(args: &RunArgs, overrides: Overrides) -> anyhow::Result<Setup> {
    let (host, patch, manifest, bundle_root) = load(&args.host)?;
    let options = Options {
        no_multiplexer: args.no_multiplexer,
        allow_forbidden_time: overrides.allow_forbidden_time,
        allow_stale_backup: overrides.allow_stale_backup,
        allow_low_disk: None,
        fail_at: std::env::var("BASCULE_FAIL_AT").ok(),
        crash_at: std::env::var("BASCULE_CRASH_AT").ok(),
        pause_at: std::env::var("BASCULE_PAUSE_AT").ok(),
        today: std::env::var("BASCULE_TODAY").ok(),
        // A program reading the result reads nothing else on stdout.
        verbose: !args.quiet && args.output.format != "json",
        yes: false,
        accept_differences: None,
        rehearsal: None,
    };
    let documents = bascule_patch::docs::Documents::load_for_run(&bundle_root)
        .map_err(|problems| anyhow::anyhow!(join_problems(&problems)))?;
    Ok(Setup {
        host,
        patch,
        bundle_root,
        manifest,
        documents,
        options,
        lock_timeout: std::time::Duration::from_secs(args.lock_timeout),
    })
}

fn migrate(args: MigrateArgs) -> anyhow::Result<ExitCode> {
    let json = args.output.format == "json";
    let run_args = RunArgs {
        host: args.host,
        // A deploy system's task runs without a terminal, let alone tmux.
        no_multiplexer: true,
        quiet: args.quiet,
        lock_timeout: args.lock_timeout,
        detach: args.detach,
        output: args.output,
    };
    finish("migrate", json, || {
        Ok(run::migrate(&setup(&run_args, args.overrides)?)?)
    })
}

/// The bundle this binary was unpacked with: `<bundle>/bin/bascule`.
fn own_bundle() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot locate this program")?;
    let root = exe.parent().and_then(Path::parent).map(Path::to_path_buf);
    match root {
        // Present as anything: what it is (a symlink, a fifo) is for the verification to refuse.
        Some(root) if root.join(MANIFEST_FILE).symlink_metadata().is_ok() => Ok(root),
        _ => bail!(
            "{} is not inside an unpacked bundle (no ../{MANIFEST_FILE}); run the bascule of the bundle, \
             or pass --bundle DIR",
            exe.display()
        ),
    }
}

/// Runs `command` and says how it ended: as text, or (`json`) as one
/// [`RunResult`] on stdout — a refusal before any run started included, so a program always
/// reads an object.
fn finish(
    command: &str,
    json: bool,
    run: impl FnOnce() -> anyhow::Result<RunReport>,
) -> anyhow::Result<ExitCode> {
    let report = match run() {
        Ok(report) => report,
        Err(error) if json => {
            let result = RunResult::refused(command, error_text(&error));
            println!("{}", serde_json::to_string_pretty(&result)?);
            return Ok(ExitCode::from(result.exit_code));
        }
        Err(error) => return Err(error),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&RunResult::of(command, &report))?
        );
    } else {
        println!("{}", report.summary);
        println!(
            "run {}: log and journal in {}",
            report.run_id,
            report.run_dir.display()
        );
    }
    Ok(ExitCode::from(report.exit_code()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_help(args: &[&str]) -> String {
        let error = command()
            .try_get_matches_from(args)
            .expect_err("--help stops parsing");
        error.to_string()
    }

    #[test]
    fn the_help_lists_every_step_of_apply_in_order() {
        let top = long_help(&["bascule", "--help"]);
        let mut from = 0;
        for step in apply_steps() {
            let name = format!(" {}", step.name());
            let at = top[from..]
                .find(&name)
                .unwrap_or_else(|| panic!("`{name}` missing or out of order in:\n{top}"));
            from += at + name.len();
        }
        let apply = long_help(&["bascule", "apply", "--help"]);
        let flat = apply.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut from = 0;
        for (i, step) in apply_steps().iter().enumerate() {
            let entry = format!("{}. {} {}", i + 1, step.name(), step.summary());
            let at = flat[from..]
                .find(&entry)
                .unwrap_or_else(|| panic!("`{entry}` missing or out of order in:\n{apply}"));
            from += at + entry.len();
        }
        let migrate = long_help(&["bascule", "migrate", "--help"]);
        assert!(migrate.contains("guard, migrate, post-checks"), "{migrate}");
        assert!(!top.contains('{') && !migrate.contains("{migrate_steps}"));
    }
}
