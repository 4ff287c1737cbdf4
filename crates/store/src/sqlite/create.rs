//! Creating a new database file whole. The schema is written to a file of
//! its own beside the database, without a sync per step (a new file in
//! rollback mode costs four `fsync`s to switch it to WAL and one more per
//! transaction), synced once, then linked into place under its real name,
//! which fails rather than replace a database another process created
//! meanwhile. A crash part way leaves a stray `.NAME.creating-PID-N` file and
//! never a half-made database; the next creation in the directory removes
//! strays whose process is gone.

use super::{io_error, schema, sql};
use crate::Result;
use rusqlite::{Connection, OpenFlags};
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Creations this process began.
static CREATIONS: AtomicU64 = AtomicU64::new(0);

/// Makes the database at `path`, unless a file is there by the time it is
/// ready. Falls back to nothing (the caller creates the file in place)
/// where the filesystem cannot hard-link.
pub(super) fn create(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let prefix = format!(".{name}.creating-");
    remove_strays(&dir, &prefix);
    // The process's ID first (what `remove_strays` reads), then a count,
    // so that two threads creating at once do not share a file.
    let count = CREATIONS.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!("{prefix}{}-{count}", std::process::id()));
    remove_with_journals(&temp);
    let made = write_schema(&temp, path).and_then(|()| link(&temp, path, &dir));
    remove_with_journals(&temp);
    made
}

/// The schema in a new WAL-mode file at `temp`, synced once; errors name
/// the database being created.
fn write_schema(temp: &Path, path: &Path) -> Result<()> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = Connection::open_with_flags(temp, flags).map_err(sql(path))?;
    // Unsynced: nothing is durable until the one sync below, and nothing
    // is a database until the link.
    // No journal either: a failure leaves a file no one will open. The
    // switch to WAL at the end only marks the header (no log is made
    // before the database is opened under its name).
    conn.pragma_update(None, "synchronous", "OFF")
        .map_err(sql(path))?;
    conn.pragma_update_and_check(None, "journal_mode", "OFF", |row| row.get::<_, String>(0))
        .map_err(sql(path))?;
    schema::migrate(&mut conn, path)?;
    conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
        .map_err(sql(path))?;
    conn.close().map_err(|(_, e)| sql(path)(e))?;
    fs::File::open(temp)
        .and_then(|file| file.sync_all())
        .map_err(|source| io_error(path, source))
}

/// Gives the made file its name, unless the name is taken, and syncs the
/// directory so that the name survives a crash.
fn link(temp: &Path, path: &Path, dir: &Path) -> Result<()> {
    match fs::hard_link(temp, path) {
        Ok(()) => {}
        // Taken: another process made the database first; it is opened.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Ok(()),
        // No hard links here: the caller creates the file in place.
        Err(_) => return Ok(()),
    }
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| io_error(dir, source))
}

fn remove_with_journals(temp: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = temp.as_os_str().to_owned();
        name.push(suffix);
        let _ = fs::remove_file(PathBuf::from(name));
    }
}

/// Removes what creations that died left: files of the prefix whose
/// process no longer runs.
fn remove_strays(dir: &Path, prefix: &str) {
    // Whether a process runs is read from /proc: without it, strays stay.
    let Ok(entries) = fs::read_dir(dir).and_then(|e| fs::metadata("/proc/self").map(|_| e)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_file(entry.path());
        }
    }
}
