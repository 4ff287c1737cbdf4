//! Noticing that something committed to the database, whichever process
//! wrote it: one thread waits on the store's watcher
//! (`techlead_store::changes`: SQLite's `data_version` asked every
//! `Config::poll`, PostgreSQL's `LISTEN`) and bumps a counter for every
//! commit it is told of. It watches only while some mission is followed;
//! otherwise it lets go of its connection and sleeps until a tail starts
//! (`Commits::follow`).
//!
//! A watcher that fails (the PostgreSQL server restarted, the network
//! went) counts as a commit, so that the tails read and a real failure
//! reaches the clients from there, and is opened again, after a pause that
//! grows while it keeps failing. A watcher just opened counts as a commit
//! too: it cannot know what was committed before it looked.
//!
//! docs/server.md ("The live feeds") says why `data_version` rather than
//! inotify on the WAL, and how the feeds follow PostgreSQL.

use std::ffi::OsString;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use techlead_store::changes::{self, Changes};
use tokio::sync::watch;

/// How long the idle thread sleeps before it looks whether the server is
/// gone (its last receiver dropped).
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The pause before a failed watcher is opened again, doubled after each
/// failure up to [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

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
    /// Starts the watcher thread for the database `db` names (a SQLite
    /// file that exists, or a PostgreSQL URL), asking SQLite every `poll`.
    pub fn watch(db: OsString, poll: Duration) -> Commits {
        let (bump, seen) = watch::channel(0u64);
        let followed = Arc::new((Mutex::new(0usize), Condvar::new()));
        let shared = followed.clone();
        let open = move || changes::watch(&db, poll);
        std::thread::Builder::new()
            .name("techlead-commits".into())
            .spawn(move || watcher(open, bump, shared))
            .expect("a thread for the commit watcher");
        Commits { seen, followed }
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

type Watcher = Box<dyn Changes>;

fn watcher(
    open: impl Fn() -> techlead_store::Result<Watcher>,
    bump: watch::Sender<u64>,
    followed: Arc<(Mutex<usize>, Condvar)>,
) {
    let mut watching: Option<Watcher> = None;
    let mut retry = RETRY_FIRST;
    let mut lost = false;
    loop {
        if !is_followed(&followed) {
            watching = None; // nobody follows: no connection held
            if !await_followers(&followed, &bump) {
                return; // the server is gone
            }
        }
        let seen = match watching.as_mut() {
            Some(changes) => changes.wait(),
            None => open().map(|opened| {
                watching = Some(opened);
                true
            }),
        };
        match seen {
            Ok(seen) => {
                if lost {
                    eprintln!("techlead serve: the database answers again; the live feeds go on");
                    lost = false;
                }
                retry = RETRY_FIRST;
                if seen {
                    bump.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
            Err(error) => {
                if !lost {
                    eprintln!(
                        "techlead serve: the live feeds lost the database ({}); trying again",
                        crate::error::one_line(&error)
                    );
                    lost = true;
                }
                watching = None;
                bump.send_modify(|n| *n = n.wrapping_add(1));
                std::thread::sleep(retry);
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
        if bump.is_closed() {
            return;
        }
    }
}

fn is_followed(followed: &(Mutex<usize>, Condvar)) -> bool {
    *followed.0.lock().expect("never poisoned") > 0
}

/// Sleeps until some tail follows (true) or the server is gone (false).
fn await_followers(followed: &(Mutex<usize>, Condvar), bump: &watch::Sender<u64>) -> bool {
    let (count, wake) = followed;
    let mut count = count.lock().expect("never poisoned");
    while *count == 0 {
        if bump.is_closed() {
            return false;
        }
        count = wake
            .wait_timeout(count, IDLE_CHECK)
            .expect("never poisoned")
            .0;
    }
    true
}
