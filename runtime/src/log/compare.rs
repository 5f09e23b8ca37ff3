//! `bascule log --compare RUN_A RUN_B`: what got slower or faster from one run to another — a
//! production run against its rehearsal, this release's apply against the last one's.
//!
//! Only what both runs have is compared: the steps, the databases and the migration
//! statements of both (a statement summed over its databases, see [`super::timings`]). Each
//! change gives both times and the ratio B/A: above 1, B was slower.

use std::collections::HashMap;

use serde::Serialize;

use super::human;
use super::timings::{Timed, Timings};

/// How many changes of each kind the text shows; the JSON has them all.
const SHOWN: usize = 10;

/// One thing both runs did, and its two times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub name: String,
    pub a_ms: u64,
    pub b_ms: u64,
    /// B's time over A's, to two decimals (`None`: A took no measurable time).
    pub ratio: Option<f64>,
}

impl Change {
    fn delta(&self) -> u64 {
        self.a_ms.abs_diff(self.b_ms)
    }
}

/// Two runs' times side by side, the largest changes first.
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub steps: Vec<Change>,
    pub databases: Vec<Change>,
    pub statements: Vec<Change>,
}

impl Comparison {
    pub fn new(a: (&str, &Timings), b: (&str, &Timings)) -> Comparison {
        let statements = |t: &Timings| -> Vec<Timed> {
            t.statements
                .iter()
                .map(|s| Timed {
                    name: s.statement.clone(),
                    ms: s.ms,
                })
                .collect()
        };
        Comparison {
            a: a.0.to_string(),
            b: b.0.to_string(),
            steps: changes(&a.1.steps, &b.1.steps),
            databases: changes(&a.1.databases, &b.1.databases),
            statements: changes(&statements(a.1), &statements(b.1)),
        }
    }

    /// The comparison as a person reads it: per kind, what got slower and what faster, the
    /// largest changes first.
    pub fn render(&self) -> String {
        let mut out = format!("A  {}\nB  {}\ntimes in A → in B, and B/A\n", self.a, self.b);
        for (kind, changes) in [
            ("steps", &self.steps),
            ("databases", &self.databases),
            ("statements", &self.statements),
        ] {
            out.push_str(&format!("\n{kind}, {} in both:\n", changes.len()));
            let slower: Vec<&Change> = changes.iter().filter(|c| c.b_ms > c.a_ms).collect();
            let faster: Vec<&Change> = changes.iter().filter(|c| c.b_ms < c.a_ms).collect();
            section(&mut out, "slower", &slower);
            section(&mut out, "faster", &faster);
            let same = changes.len() - slower.len() - faster.len();
            if same > 0 {
                out.push_str(&format!("  the same: {same}\n"));
            }
        }
        out
    }
}

fn section(out: &mut String, title: &str, changes: &[&Change]) {
    if changes.is_empty() {
        return;
    }
    out.push_str(&format!("  {title}:\n"));
    for change in changes.iter().take(SHOWN) {
        let ratio = change
            .ratio
            .map_or_else(|| "—".to_string(), |r| format!("×{r:.2}"));
        out.push_str(&format!(
            "  {:>10} → {:<10} {:>7}  {}\n",
            human(change.a_ms),
            human(change.b_ms),
            ratio,
            change.name
        ));
    }
    if changes.len() > SHOWN {
        out.push_str(&format!(
            "  … and {} more (--format json lists them all)\n",
            changes.len() - SHOWN
        ));
    }
}

/// What `a` and `b` both have, the largest change first.
fn changes(a: &[Timed], b: &[Timed]) -> Vec<Change> {
    let in_b: HashMap<&str, u64> = b.iter().map(|t| (t.name.as_str(), t.ms)).collect();
    let mut changes: Vec<Change> = a
        .iter()
        .filter_map(|t| {
            let b_ms = *in_b.get(t.name.as_str())?;
            let ratio = (t.ms > 0).then(|| (b_ms as f64 / t.ms as f64 * 100.0).round() / 100.0);
            Some(Change {
                name: t.name.clone(),
                a_ms: t.ms,
                b_ms,
                ratio,
            })
        })
        .collect();
    changes.sort_by(|x, y| y.delta().cmp(&x.delta()).then_with(|| x.name.cmp(&y.name)));
    changes
}

#[cfg(test)]
mod tests {
    use super::super::tests::Fixture;
    use super::super::RunDir;
    use super::*;

    #[test]
    fn what_got_slower_and_faster_with_the_ratio() {
        let fixture = Fixture::new();
        // Production spends longer in one site's UPDATE; its rehearsal in installing the code.
        let production = fixture.three_sites("20260310T100000-2.0.0-apply", 1_200, 610);
        // The rehearsal's run, brought back from its guest: given by its path.
        let rehearsal = fixture.three_sites("rehearsal", 0, 2_900);
        let guest = RunDir::at(&rehearsal.dir.display().to_string()).unwrap();
        let comparison = Comparison::new(
            (&production.name, &Timings::read(&production).unwrap()),
            ("guest/runs/apply", &Timings::read(&guest).unwrap()),
        );
        insta::assert_snapshot!("compare", comparison.render());
        let ratios: Vec<(&str, Option<f64>)> = comparison
            .steps
            .iter()
            .map(|c| (c.name.as_str(), c.ratio))
            .collect();
        assert_eq!(
            ratios[..2],
            [("install-code", Some(4.75)), ("migrate", Some(0.2))],
            "the largest change first"
        );
    }

    #[test]
    fn only_what_both_runs_have_is_compared() {
        let timed = |name: &str, ms| Timed {
            name: name.into(),
            ms,
        };
        let a = [timed("guard", 0), timed("migrate", 10), timed("smoke", 4)];
        let b = [
            timed("migrate", 25),
            timed("guard", 3),
            timed("acceptance", 9),
        ];
        assert_eq!(
            changes(&a, &b),
            [
                Change {
                    name: "migrate".into(),
                    a_ms: 10,
                    b_ms: 25,
                    ratio: Some(2.5)
                },
                Change {
                    name: "guard".into(),
                    a_ms: 0,
                    b_ms: 3,
                    ratio: None
                },
            ]
        );
    }
}
