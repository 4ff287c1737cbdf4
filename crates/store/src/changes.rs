//! Noticing that something was committed to the database, by whichever
//! connection of whichever process: what the server's live feeds wait on
//! before they read a mission's new events. Each backend has its own way:
//! SQLite's `PRAGMA data_version`, asked every `poll`
//! ([`crate::sqlite::DataVersion`]); PostgreSQL's `LISTEN`, told by every
//! append, with a look at the log now and then in case a notification
//! never comes ([`crate::postgres::Listener`]). [`watch`] picks one by
//! what `--db` says, as [`crate::open`] does.

use crate::{Result, postgres, sqlite};
use std::ffi::OsStr;
use std::time::Duration;

/// A connection that watches for commits.
pub trait Changes: Send {
    /// Waits for a commit by any connection, for about a second at most,
    /// and says whether there may have been one since the last call (a
    /// commit is never missed; a false alarm costs the caller a read). An
    /// error means the connection is lost: drop it and watch anew.
    fn wait(&mut self) -> Result<bool>;
}

/// Watches the database `db` names, which must exist (opened once with
/// [`crate::open`]). `poll`: how often SQLite is asked; PostgreSQL tells of
/// commits as they happen.
pub fn watch(db: impl AsRef<OsStr>, poll: Duration) -> Result<Box<dyn Changes>> {
    let db = db.as_ref();
    match db.to_str().filter(|db| postgres::is_postgres_url(db)) {
        Some(url) => Ok(Box::new(postgres::Listener::open(url)?)),
        None => Ok(Box::new(sqlite::DataVersion::open(
            std::path::Path::new(db),
            poll,
        )?)),
    }
}
