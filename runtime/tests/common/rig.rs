//! A migrate step run for real, without a bundle: a patch source in a temporary directory, a
//! host profile, a journal, and the engine (`engine::run` with the `migrate` step, then
//! `engine::undo_history` from the journal as `bascule recover` does).

use std::path::{Path, PathBuf};

use bascule::engine::{self, Context, Options, Outcome, Step, StepError};
use bascule::host::HostProfile;
use bascule::journal::{Journal, RunHistory};
use bascule::steps::migrate::Migrate;
use bascule_bundle::{BuildInfo, Manifest, PatchMeta, FORMAT};
use bascule_patch::Patch;
use bascule_runlog::RunLog;
use tempfile::TempDir;

pub struct Rig {
    pub dir: TempDir,
    pub host: HostProfile,
    pub patch: Patch,
    manifest: Manifest,
    runs: std::cell::Cell<u32>,
}

/// One migration of class `site`: (id, name, up.sql, down.sql).
pub type Spec<'a> = (u32, &'a str, &'a str, &'a str);

impl Rig {
    /// A patch `2.0.0` of `dialect` with `migrations` for class `site`, and a host whose
    /// `[databases.site]` is `section`.
    pub fn new(dialect: &str, migrations: &[Spec<'_>], section: &str) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let patch_dir = dir.path().join("patch");
        std::fs::create_dir_all(patch_dir.join("code")).unwrap();
        std::fs::write(
            patch_dir.join("patch.toml"),
            format!(
                "[patch]\nversion = \"2.0.0\"\nfrom = \"*\"\nmode = \"downtime\"\ntitle = \"t\"\n\n\
                 [code]\nsource = \"code\"\n\n[classes.site]\ndialect = \"{dialect}\"\n"
            ),
        )
        .unwrap();
        for (id, name, up, down) in migrations {
            let m = patch_dir.join(format!("migrations/site/{id:04}_{name}"));
            std::fs::create_dir_all(&m).unwrap();
            std::fs::write(m.join("up.sql"), up).unwrap();
            std::fs::write(m.join("down.sql"), down).unwrap();
        }
        let host = super::host(dir.path(), section);
        let patch = Patch::load(&patch_dir).unwrap();
        let manifest = Manifest {
            format: FORMAT,
            patch: PatchMeta {
                version: "2.0.0".into(),
                from: "*".into(),
                mode: "downtime".into(),
                title: "t".into(),
            },
            build: BuildInfo {
                bascule_version: "test".into(),
                source_date_epoch: 0,
                runtime_target: "test".into(),
            },
            base_versions: Default::default(),
            migrations: Vec::new(),
            files: Vec::new(),
        };
        Rig {
            dir,
            host,
            patch,
            manifest,
            runs: std::cell::Cell::new(0),
        }
    }

    fn steps() -> Vec<Box<dyn Step>> {
        vec![Box::new(Migrate)]
    }

    /// Runs the migrate step through the engine (which undoes it on failure); returns the
    /// outcome and the run directory (journal, log).
    pub fn migrate(&self) -> (Outcome, PathBuf) {
        let run = self.next_run();
        let (log, journal) = self.files(&run);
        let options = Options::default();
        let mut cx = self.context(&run, &log, &journal, &options);
        let outcome = engine::run(&Self::steps(), &mut cx).unwrap();
        (outcome, run)
    }

    /// What `bascule recover` does: undo, from the journal of `run`, what it did not undo.
    pub fn recover(&self, run: &Path) -> Vec<(String, StepError)> {
        let history = RunHistory::from_events(&Journal::read(&run.join("journal.jsonl")).unwrap());
        let again = self.next_run();
        let (log, journal) = self.files(&again);
        let options = Options::default();
        let cx = self.context(&again, &log, &journal, &options);
        engine::undo_history(&Self::steps(), &history, &cx).unwrap()
    }

    /// The run log of a run, as text.
    pub fn log_of(run: &Path) -> String {
        std::fs::read_to_string(run.join("update.log")).unwrap_or_default()
    }

    fn next_run(&self) -> PathBuf {
        self.runs.set(self.runs.get() + 1);
        let run = self.dir.path().join(format!("run-{}", self.runs.get()));
        std::fs::create_dir_all(&run).unwrap();
        run
    }

    fn files(&self, run: &Path) -> (RunLog, Journal) {
        (
            RunLog::open(&run.join("update.log"), false).unwrap(),
            Journal::create(&run.join("journal.jsonl")).unwrap(),
        )
    }

    fn context<'a>(
        &'a self,
        run: &'a Path,
        log: &'a RunLog,
        journal: &'a Journal,
        options: &'a Options,
    ) -> Context<'a> {
        Context::new(
            &self.host,
            &self.patch,
            &self.patch.dir,
            &self.manifest,
            "test-run",
            run,
            log,
            journal,
            options,
        )
    }
}
