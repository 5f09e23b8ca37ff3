//! A [`Session`]: one connection that a worker carries from database to database.
//!
//! Opening a connection costs a TCP handshake, authentication and session setup — more than
//! reading a version table or running a small migration. A worker migrating 500 tenant databases
//! of one server therefore keeps one connection and switches it:
//!
//! | backend | switching to the next database |
//! |---|---|
//! | MariaDB/MySQL | `USE db` on the same connection |
//! | PostgreSQL, tenants are schemas | `SET search_path` on the same connection (same database) |
//! | PostgreSQL, tenants are databases | a new connection: a PostgreSQL connection is bound to one database |
//! | SQLite | opening the file (no server, nothing to reuse) |
//!
//! A connection that failed (server gone, statement error that broke it) is dropped and the next
//! database gets a fresh one, so one bad database does not poison the rest of the worker's queue.
//!
//! A session that migrates ([`Session::migrating`]) hands each database's connection the lock
//! and statement timeouts of its class as it reaches it (see [`crate::timeouts`]): every
//! database starts its migrations, or its downs, from them, whatever the previous one set.

use super::{connect, Connection, DbError, DbTarget, MigrationTimeouts};

/// One worker's connection, reused across the databases it handles.
#[derive(Default)]
pub struct Session {
    current: Option<(DbTarget, Box<dyn Connection>)>,
    opened: usize,
    /// The limits of the migrations run through this session; `None`: it only reads.
    timeouts: Option<MigrationTimeouts>,
}

impl Session {
    /// A session that reads (surveys, checks): no timeouts are set.
    pub fn new() -> Session {
        Session::default()
    }

    /// A session that runs migrations or downs: each database it reaches gets `timeouts` of
    /// its class before the first statement.
    pub fn migrating(timeouts: MigrationTimeouts) -> Session {
        Session {
            timeouts: Some(timeouts),
            ..Session::default()
        }
    }

    /// A connection to `target`: the current one moved there if the backend can, else a new one.
    pub fn open(&mut self, target: &DbTarget) -> Result<&mut dyn Connection, DbError> {
        let same = matches!(&self.current, Some((at, _)) if at == target);
        let reusable = match &mut self.current {
            Some((at, _)) if at == target => true,
            Some((_, conn)) => conn.switch_to(target).unwrap_or(false),
            None => false,
        };
        if reusable {
            if let Some((at, _)) = &mut self.current {
                at.clone_from(target);
            }
        } else {
            self.current = None;
            let conn = connect(target)?;
            self.opened += 1;
            self.current = Some((target.clone(), conn));
        }
        match &mut self.current {
            Some((_, conn)) => {
                if let (false, Some(timeouts)) = (same, &self.timeouts) {
                    conn.set_timeouts(timeouts.for_class(&target.class));
                }
                Ok(conn.as_mut())
            }
            None => Err(super::backend_error(&target.to_string(), "no connection")),
        }
    }

    /// Forgets the connection (after an error that may have left it unusable).
    pub fn reset(&mut self) {
        self.current = None;
    }

    /// Connections this session opened so far.
    pub fn connections_opened(&self) -> usize {
        self.opened
    }

    /// Runs `f` on a connection to `target`; on error the connection is dropped, so the next
    /// database starts on a fresh one.
    pub fn with<R>(
        &mut self,
        target: &DbTarget,
        f: impl FnOnce(&mut dyn Connection) -> Result<R, DbError>,
    ) -> Result<R, DbError> {
        let result = self.open(target).and_then(f);
        if result.is_err() {
            self.reset();
        }
        result
    }
}
