//! `bascule log --slowest [N]`: where a run's time went — every step, and the N slowest
//! databases and migration statements ([`super::timings`] says where each time comes from).

use serde::Serialize;

use super::human;
use super::timings::{StatementTime, Timed, Timings};

/// A run's times, slowest first.
#[derive(Debug, Serialize)]
pub struct Slowest {
    pub run: String,
    /// Every step (there are a handful).
    pub steps: Vec<Timed>,
    /// The slowest databases, at most N of them.
    pub databases: Vec<Timed>,
    /// How many databases have a time.
    pub databases_timed: usize,
    /// The slowest statements, at most N of them.
    pub statements: Vec<StatementTime>,
    /// How many statements have a time.
    pub statements_timed: usize,
}

impl Slowest {
    /// Ranks the times of run `run`; `n` databases and `n` statements at most.
    pub fn new(run: &str, timings: Timings, n: usize) -> Slowest {
        let Timings {
            mut steps,
            mut databases,
            mut statements,
        } = timings;
        // Slowest first; equal times by name, so the order is the same at every reading.
        steps.sort_by(|a, b| b.ms.cmp(&a.ms).then_with(|| a.name.cmp(&b.name)));
        databases.sort_by(|a, b| b.ms.cmp(&a.ms).then_with(|| a.name.cmp(&b.name)));
        statements.sort_by(|a, b| b.ms.cmp(&a.ms).then_with(|| a.statement.cmp(&b.statement)));
        let (databases_timed, statements_timed) = (databases.len(), statements.len());
        databases.truncate(n);
        statements.truncate(n);
        Slowest {
            run: run.to_string(),
            steps,
            databases,
            databases_timed,
            statements,
            statements_timed,
        }
    }

    /// The ranking as a person reads it.
    pub fn render(&self) -> String {
        let mut out = format!("run {}\n", self.run);
        out.push_str("\nsteps, slowest first:\n");
        if self.steps.is_empty() {
            out.push_str("  none finished\n");
        }
        for step in &self.steps {
            out.push_str(&format!("  {:>10}  {}\n", human(step.ms), step.name));
        }
        if self.databases.is_empty() {
            out.push_str("\ndatabases: none timed (the run migrated none)\n");
        } else {
            out.push_str(&format!(
                "\ndatabases, the {} slowest of {}:\n",
                self.databases.len(),
                self.databases_timed
            ));
        }
        for db in &self.databases {
            out.push_str(&format!("  {:>10}  {}\n", human(db.ms), db.name));
        }
        if self.statements.is_empty() {
            out.push_str("\nstatements: none timed (the run ran no migration)\n");
        } else {
            out.push_str(&format!(
                "\nstatements, the {} slowest of {} (summed over the databases that ran them):\n",
                self.statements.len(),
                self.statements_timed
            ));
        }
        for s in &self.statements {
            out.push_str(&format!("  {:>10}  {}\n", human(s.ms), s.statement));
            out.push_str(&format!(
                "  {:>10}  {} database(s); slowest {}, {}\n",
                "",
                s.databases,
                s.slowest.name,
                human(s.slowest.ms)
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{start, Fixture};
    use super::super::RunDir;
    use super::*;

    #[test]
    fn the_slowest_steps_databases_and_statements_come_first() {
        let fixture = Fixture::new();
        let run = fixture.three_sites("20260310T100000-2.0.0-apply", 1_200, 610);
        let slowest = Slowest::new(&run.name, Timings::read(&run).unwrap(), 2);
        insta::assert_snapshot!("slowest", slowest.render());
        let json = serde_json::to_value(&slowest).unwrap();
        assert_eq!(json["databases_timed"], 4);
        assert_eq!(json["statements_timed"], 3);
        assert_eq!(json["statements"][0]["slowest"]["name"], "site/bravo");
    }

    #[test]
    fn a_run_that_migrated_nothing_says_so() {
        let fixture = Fixture::new();
        let id = "20260310T100000-2.0.0-rollback";
        fixture.run(id, &[start(id)], &[(0, "step guard start")]);
        let run = RunDir::find(fixture.state_dir(), None).unwrap();
        let slowest = Slowest::new(&run.name, Timings::read(&run).unwrap(), 10);
        insta::assert_snapshot!("slowest_of_nothing", slowest.render());
    }
}
