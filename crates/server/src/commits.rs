//! Noticing that something committed to the database, whichever process
//! wrote it: one thread asks SQLite's `PRAGMA data_version` on a connection
//! of its own every `Config::poll`, and bumps a counter when the answer
//! changes. The value changes whenever another connection (the engine's,
//! in this or another process) commits, and costs a read of the WAL
//! index's header in shared memory: no query of a table, no file read.
//! The thread asks only while some mission is followed; otherwise it
//! sleeps until a tail starts (`Commits::follow`).
//!
//! docs/server.md ("The live feeds") says why this rather than inotify on
//! the WAL.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How long the idle thread sleeps before it looks whether the server is
/// gone (its last receiver dropped).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The commit counter and the count of tails that want it kept.
pub struct Commits {
    seen: watch::Receiver<u64>,
    followed: Arc<(Mutex<usize>, Condvar)>,
}

/// One tail's interest in commits; the watcher idles when none is left.
pub struct Following {
    followed: Arc<(Mutex<usize>, Condvar)>,
}

impl Drop for Following {
    fn drop(&mut self) {
        let (count, _) = &*self.followed;
        *count.lock().expect("never poisoned") -= 1;
    }
}

impl Commits {
    /// Starts the watcher thread on its own read-only connection to `db`.
    pub fn watch(db: &Path, poll: Duration) -> Result<Commits, techlead_store::Error> {
        // Read-write without create: a read-only connection to a WAL
        // database fails when its `-shm` file is missing; this one never
        // writes.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let connection = Connection::open_with_flags(db, flags).map_err(|e| {
            techlead_store::Error::Database(
                format!("cannot open {} to watch it: {e}", db.display()).into(),
            )
        })?;
        let (bump, seen) = watch::channel(0u64);
        let followed = Arc::new((Mutex::new(0usize), Condvar::new()));
        let shared = followed.clone();
        std::thread::Builder::new()
            .name("techlead-commits".into())
            .spawn(move || watcher(connection, poll, bump, shared))
            .map_err(|source| techlead_store::Error::Io {
                path: db.to_path_buf(),
                source,
            })?;
        Ok(Commits { seen, followed })
    }

    /// A receiver that sees every commit noticed from now on, and keeps the
    /// watcher asking while it is held.
    pub fn follow(&self) -> (watch::Receiver<u64>, Following) {
        let (count, wake) = &*self.followed;
        *count.lock().expect("never poisoned") += 1;
        wake.notify_all();
        let mut seen = self.seen.clone();
        seen.mark_unchanged();
        (
            seen,
            Following {
                followed: self.followed.clone(),
            },
        )
    }
}

fn watcher(
    connection: Connection,
    poll: Duration,
    bump: watch::Sender<u64>,
    followed: Arc<(Mutex<usize>, Condvar)>,
) {
    let version = || -> Option<i64> {
        connection
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .ok()
    };
    let mut last = version();
    loop {
        {
            let (count, wake) = &*followed;
            let mut count = count.lock().expect("never poisoned");
            while *count == 0 {
                if bump.is_closed() {
                    return; // the server is gone
                }
                count = wake
                    .wait_timeout(count, IDLE_CHECK)
                    .expect("never poisoned")
                    .0;
            }
        }
        std::thread::sleep(poll);
        let now = version();
        // An error (the file busy being recovered, say) counts as a change:
        // the tails read, and a real failure reaches the clients from there.
        if now != last || now.is_none() {
            last = now;
            bump.send_modify(|n| *n = n.wrapping_add(1));
        }
        if bump.is_closed() {
            return;
        }
    }
}
