//! Several statements in one request: how a database's migrations and their version-row writes
//! reach the server without a round trip per statement.
//!
//! The server runs a multi-statement request (`CLIENT_MULTI_STATEMENTS`, which the `mysql`
//! client turns on) in order and stops at the first statement that fails. So a batch keeps the
//! meaning of statements sent one by one: every statement before the failing one ran (and, DDL
//! or autocommit, committed), none after it did, and the index of the failing result set says
//! which one it was. A killed server or connection is reported at the statement whose result
//! was awaited, as it would be one by one.
//!
//! A statement whose text holds a `;` (a trigger or routine body, a literal) is sent in a
//! request of its own, so the server never has to find where it ends among others; statements
//! are joined by `\n;\n`, so a trailing `--` or `#` comment cannot swallow the separator.

use std::time::{Duration, Instant};

use mysql::prelude::Queryable as _;

/// Statements to run in order, each with what it is (`T`), to say which failed.
pub(super) struct Batch<T> {
    items: Vec<(String, T)>,
}

/// The statement at `index` of the batch failed; those before it ran, those after it did not.
pub(super) struct Failed {
    pub index: usize,
    pub error: mysql::Error,
}

impl<T> Batch<T> {
    pub fn new() -> Self {
        Batch { items: Vec::new() }
    }

    pub fn push(&mut self, sql: impl Into<String>, what: T) {
        self.items.push((sql.into(), what));
    }

    /// Statement `index` and what it is.
    pub fn item(&self, index: usize) -> Option<&(String, T)> {
        self.items.get(index)
    }

    /// The statements as one script, each ended by `;` on a line of its own (for a plain client;
    /// a statement holding a `;` would need the client's `DELIMITER`).
    pub fn script(&self) -> String {
        self.items
            .iter()
            .map(|(sql, _)| format!("{sql}\n;\n"))
            .collect()
    }

    /// Runs the batch in as few requests as it can; `answered` is called with each statement,
    /// what it is and how long it took as its result arrives, in order, before the next result
    /// is read.
    pub fn run(
        &self,
        conn: &mut mysql::Conn,
        mut answered: impl FnMut(&str, &T, Duration),
    ) -> Result<(), Failed> {
        let mut start = 0;
        while start < self.items.len() {
            let end = self.request_end(start);
            let texts: Vec<&str> = self.items[start..end]
                .iter()
                .map(|(sql, _)| sql.as_str())
                .collect();
            let request = &self.items[start..end];
            send(conn, &texts, |i, took| {
                answered(&request[i].0, &request[i].1, took)
            })
            .map_err(|(i, error)| Failed {
                index: start + i,
                error,
            })?;
            start = end;
        }
        Ok(())
    }

    /// Where the request starting at `start` ends: before the next statement holding a `;`,
    /// or just after `start` if it holds one itself.
    fn request_end(&self, start: usize) -> usize {
        if self.items[start].0.contains(';') {
            return start + 1;
        }
        self.items[start..]
            .iter()
            .position(|(sql, _)| sql.contains(';'))
            .map_or(self.items.len(), |n| start + n)
    }
}

/// Sends `texts` as one request and reads every result; the error carries the index of the
/// statement it belongs to. The server runs the statements in turn and sends each result as
/// its statement ends, so the time from one result to the next is that statement's.
fn send(
    conn: &mut mysql::Conn,
    texts: &[&str],
    mut answered: impl FnMut(usize, Duration),
) -> Result<(), (usize, mysql::Error)> {
    let mut clock = Instant::now();
    let mut result = conn.query_iter(texts.join("\n;\n")).map_err(|e| (0, e))?;
    let mut index = 0;
    while let Some(set) = result.iter() {
        for row in set {
            row.map_err(|e| (index, e))?;
        }
        answered(index, clock.elapsed());
        clock = Instant::now();
        index += 1;
    }
    Ok(())
}
