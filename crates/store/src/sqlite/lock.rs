//! The one-writer-per-mission lock: an advisory `flock` on
//! `<db>.locks/<mission>.lock`, so that the kernel releases it when the
//! holder exits, however it exits (kill -9 included). The file says who
//! holds it, for the error the next taker gets.

use super::io_error;
use crate::{Error, MissionLock, Result, holder};
use rustix::fs::{FlockOperation, flock};
use rustix::io::Errno;
use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory of lock files of the database at `db`: beside it, named
/// after it, so that two databases in one directory never share locks.
pub fn lock_dir(db: &Path) -> PathBuf {
    let mut name = OsString::from(db.as_os_str());
    name.push(".locks");
    PathBuf::from(name)
}

/// The lock file of `mission`. IDs are escaped so that any mission name
/// gives one plain file name, and two names never give the same one.
pub fn lock_path(db: &Path, mission: &str) -> PathBuf {
    let mut name = String::with_capacity(mission.len() + 5);
    for byte in mission.bytes() {
        match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' => name.push(byte as char),
            b'.' if !name.is_empty() => name.push('.'),
            _ => name.push_str(&format!("%{byte:02X}")),
        }
    }
    name.push_str(".lock");
    lock_dir(db).join(name)
}

/// Takes the lock of `mission` without waiting, or says who holds it.
pub(super) fn acquire(db: &Path, mission: &str) -> Result<MissionLock> {
    let dir = lock_dir(db);
    std::fs::create_dir_all(&dir).map_err(|source| io_error(&dir, source))?;
    let path = lock_path(db, mission);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|source| io_error(&path, source))?;
    take(&mut file, &path, mission)?;
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now());
    let text = format!("{} since {now}\n", holder::me());
    (|| {
        file.set_len(0)?;
        file.rewind()?;
        file.write_all(text.as_bytes())
    })()
    .map_err(|source| io_error(&path, source))?;
    Ok(MissionLock {
        _release: Box::new(file),
    })
}

/// Whether a run holds `mission`'s lock. Tested with a shared lock,
/// dropped at once and only on a lock file a run already made: a run
/// taking the lock in that instant waits, as for a dead holder, while the
/// file names the last run.
pub(super) fn is_held(db: &Path, mission: &str) -> bool {
    let Ok(file) = File::open(lock_path(db, mission)) else {
        return false;
    };
    matches!(
        file.try_lock_shared(),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

fn take(file: &mut File, path: &Path, mission: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + holder::DEAD_HOLDER_WAIT;
    loop {
        match flock(&*file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(()),
            Err(Errno::WOULDBLOCK) => {
                let holder = holder(file);
                if holder::is_dead(&holder) && std::time::Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(25));
                    continue;
                }
                return Err(Error::Locked {
                    mission: mission.to_string(),
                    holder,
                });
            }
            Err(errno) => return Err(io_error(path, errno.into())),
        }
    }
}

/// What the holder wrote in the lock file. It writes right after taking
/// the lock, so an empty file is read again a few times.
fn holder(file: &mut File) -> String {
    for _ in 0..10 {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() {
            let text = text.trim();
            if !text.is_empty() {
                return text.to_string();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    "a process that has not said who it is".to_string()
}
