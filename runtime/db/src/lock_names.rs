//! The names of the database-side locks (see the `lock` module), apart so that the backends that
//! take a lock in their own sessions (`mysql`'s work lock) and the lock module agree on them
//! without importing each other.

use sha2::{Digest as _, Sha256};

/// `bascule:<name>`; a name too long for MySQL's 64-character lock names is hashed.
pub fn lock_name(name: &str) -> String {
    prefixed("bascule:", name)
}

/// `bascule-work:<database>`: the MariaDB/MySQL lock a session holds while its statements run
/// on `database` (see "Statements that outlive their run").
pub fn work_lock_name(database: &str) -> String {
    prefixed("bascule-work:", database)
}

fn prefixed(prefix: &str, name: &str) -> String {
    let plain = format!("{prefix}{name}");
    if plain.len() <= 64 {
        return plain;
    }
    let digest = Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(20).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}
