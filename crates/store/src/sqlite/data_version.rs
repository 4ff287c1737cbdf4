//! Commits seen through `PRAGMA data_version` on a connection of its own.
//! The value changes when, and only when, another connection's commit
//! becomes visible to this one, whichever process made it, and reading it
//! costs a look at the WAL index's header in shared memory: no table, no
//! file read. docs/server.md ("The live feeds") says why this rather than
//! inotify on the WAL.

use super::sql;
use crate::Result;
use crate::changes::Changes;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A SQLite database's commits, asked for every `poll`.
pub struct DataVersion {
    conn: Connection,
    path: PathBuf,
    poll: Duration,
    last: i64,
}

impl DataVersion {
    /// Watches the database at `path`, which must exist.
    pub fn open(path: &Path, poll: Duration) -> Result<DataVersion> {
        // Read-write without create: a read-only connection to a WAL
        // database fails when its `-shm` file is missing; this one never
        // writes.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sql(path))?;
        let last = version(&conn, path)?;
        Ok(DataVersion {
            conn,
            path: path.to_path_buf(),
            poll,
            last,
        })
    }
}

impl Changes for DataVersion {
    fn wait(&mut self) -> Result<bool> {
        std::thread::sleep(self.poll);
        let now = version(&self.conn, &self.path)?;
        let changed = now != self.last;
        self.last = now;
        Ok(changed)
    }
}

fn version(conn: &Connection, path: &Path) -> Result<i64> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0))
        .map_err(sql(path))
}
