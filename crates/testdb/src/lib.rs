//! A real, throwaway PostgreSQL server for tests: Debian's (or any)
//! `initdb` and `pg_ctl`, found on `PATH` or in `/usr/lib/postgresql/*/bin`,
//! a cluster in a temporary directory, listening only on a Unix socket in
//! that directory (no TCP port to clash over), `fsync` on like production.
//! One server per test binary, started by the first test that asks; each
//! test gets a fresh database on it ([`database`]).
//!
//! As root (CI), the server runs as the `postgres` user (`initdb` refuses
//! root). The cluster is stopped and removed when the test binary exits,
//! however it exits, by a watchdog that waits for the end of a pipe only
//! the test binary holds.
//!
//! Without a server, a test calls [`database`], is told why, and returns
//! early: "skipped". With `TECHLEAD_REQUIRE_POSTGRES=1` (set by `.ci/run`)
//! that is a failure instead.

mod cluster;

pub use cluster::Cluster;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The role every test connects as (trusted, superuser).
pub const USER: &str = "techlead";

/// A role that must give its password (`right`), for tests of a wrong one.
pub const PASSWORD_USER: &str = "secret";

/// A fresh, empty database on the shared server.
#[derive(Debug, Clone)]
pub struct Database {
    pub name: String,
    /// `postgresql://techlead@<socket dir>/<name>`.
    pub url: String,
}

/// A new database for one test, or `None` after saying on stderr why there
/// is no server (a skip). Panics instead when `TECHLEAD_REQUIRE_POSTGRES`
/// is set.
pub fn database() -> Option<Database> {
    match cluster() {
        Ok(cluster) => Some(cluster.create_database()),
        Err(reason) => {
            let message = format!("no PostgreSQL server could be started ({reason})");
            if std::env::var_os("TECHLEAD_REQUIRE_POSTGRES").is_some_and(|v| v != "0") {
                panic!("{message}; TECHLEAD_REQUIRE_POSTGRES is set");
            }
            eprintln!("skipped: {message}");
            None
        }
    }
}

/// The shared server, started on first use.
pub fn cluster() -> Result<&'static Cluster, String> {
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    // Started on a plain thread: the client runs its own runtime, which
    // must not start inside a test's tokio runtime.
    CLUSTER
        .get_or_init(|| {
            std::thread::spawn(Cluster::start)
                .join()
                .unwrap_or_else(|_| Err("starting the server panicked".to_string()))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A database name no other test of this binary has.
fn next_name() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
