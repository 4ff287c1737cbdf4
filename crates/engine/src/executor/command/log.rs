//! An attempt's output log, capped and rotated so that a child writing
//! gigabytes uses bounded disk.
//!
//! Writes go to `output.log`. When the next write would take the file past
//! the cap, it is renamed to `output.log.1` (an older `.1` becomes `.2`, and
//! so on; at most `keep` rotated files remain) and a fresh `output.log`
//! continues. Each write is a whole line or a bounded piece of one, so every
//! file stays within the cap plus one piece. Writes are gathered in a small
//! buffer and reach the file at [`RotatingLog::flush`] (after each chunk the
//! child sends), so a child printing short lines costs one system call per
//! chunk rather than one per line.
//!
//! The file is created on the first write, so an attempt that prints
//! nothing (and that techlead has nothing to note about) leaves no
//! `output.log` at all: readers treat a missing log as empty output.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Gathered writes are flushed once they reach this size.
const BUFFER: usize = 64 * 1024;

pub(crate) struct RotatingLog {
    path: PathBuf,
    /// `None` until the first write opens (or creates) the file.
    file: Option<File>,
    /// Bytes not yet written to `file`.
    pending: Vec<u8>,
    /// The file's size including `pending` (known once the file is open).
    size: u64,
    cap: u64,
    keep: usize,
    /// The first write error. After one, the log stops: the attempt goes
    /// on, and the error is reported once at the end.
    error: Option<io::Error>,
}

impl RotatingLog {
    /// A log at `path`, not touched yet: the first write opens it
    /// (appending to what is there) or creates it. An error opening it is
    /// reported like a write error (see [`RotatingLog::take_error`]).
    pub(crate) fn new(path: PathBuf, cap: u64, keep: usize) -> RotatingLog {
        RotatingLog {
            path,
            file: None,
            pending: Vec::new(),
            size: 0,
            cap: cap.max(1),
            keep,
            error: None,
        }
    }

    /// Appends `bytes`, rotating first if they would take the file past the
    /// cap. A write error is kept (see [`RotatingLog::take_error`]) and
    /// stops further logging.
    pub(crate) fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() || bytes.is_empty() {
            return;
        }
        if let Err(error) = self.try_write(bytes) {
            self.error = Some(error);
        }
    }

    /// Writes what has been gathered to the file.
    pub(crate) fn flush(&mut self) {
        if self.error.is_some() {
            return;
        }
        if let Err(error) = self.write_pending() {
            self.error = Some(error);
        }
    }

    /// Appends a line of techlead's own, marked `techlead:` so that it is
    /// told apart from the child's output.
    pub(crate) fn note(&mut self, text: &str) {
        self.write(format!("techlead: {text}\n").as_bytes());
    }

    /// Flushes, and gives the write error that stopped the log, if any.
    pub(crate) fn take_error(&mut self) -> Option<io::Error> {
        self.flush();
        self.error.take()
    }

    fn try_write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            let file = append(&self.path)?;
            // What an earlier run of this attempt left counts toward the cap.
            self.size = file.metadata()?.len();
            self.file = Some(file);
            self.pending.reserve(BUFFER);
        }
        let len = bytes.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.cap {
            self.write_pending()?;
            self.rotate()?;
        }
        if self.pending.len() + bytes.len() > BUFFER {
            self.write_pending()?;
        }
        if bytes.len() >= BUFFER {
            self.file()?.write_all(bytes)?;
        } else {
            self.pending.extend_from_slice(bytes);
        }
        self.size += len;
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let result = match self.file.as_mut() {
                Some(file) => file.write_all(&self.pending),
                None => Err(unopened()),
            };
            self.pending.clear();
            result?;
        }
        Ok(())
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file.as_mut().ok_or_else(unopened)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.keep == 0 {
            fs::remove_file(&self.path)?;
        } else {
            for n in (1..self.keep).rev() {
                let from = rotated(&self.path, n);
                if from.exists() {
                    fs::rename(&from, rotated(&self.path, n + 1))?;
                }
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        }
        self.file = Some(append(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

fn append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Pending bytes without a file: cannot happen, as the first write opens it.
fn unopened() -> io::Error {
    io::Error::other("the log file was not opened")
}

impl Drop for RotatingLog {
    fn drop(&mut self) {
        self.flush();
    }
}

/// `output.log` → `output.log.N`.
pub(crate) fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("techlead-log-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_file_is_created_by_the_first_write_only() {
        let dir = scratch("lazy");
        let path = dir.join("output.log");
        let mut log = RotatingLog::new(path.clone(), 10, 2);
        log.flush();
        assert!(log.take_error().is_none());
        drop(log);
        assert!(!path.exists(), "a log without output has no file");

        let mut log = RotatingLog::new(path.clone(), 100, 2);
        log.note("stopped");
        drop(log);
        assert_eq!(fs::read_to_string(&path).unwrap(), "techlead: stopped\n");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_log_that_cannot_be_created_reports_why_once() {
        let dir = scratch("uncreatable");
        let path = dir.join("missing").join("output.log");
        let mut log = RotatingLog::new(path.clone(), 100, 2);
        log.write(b"a\n");
        log.write(b"b\n");
        let error = log.take_error().expect("an error");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        assert!(log.take_error().is_none());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn rotates_at_the_cap_and_keeps_at_most_keep_files() {
        let dir = scratch("rotate");
        let path = dir.join("output.log");
        let mut log = RotatingLog::new(path.clone(), 10, 2);
        for i in 0..10 {
            log.write(format!("line {i}\n").as_bytes()); // 7 bytes each
        }
        assert!(log.take_error().is_none());
        assert_eq!(fs::read_to_string(&path).unwrap(), "line 9\n");
        assert_eq!(fs::read_to_string(rotated(&path, 1)).unwrap(), "line 8\n");
        assert_eq!(fs::read_to_string(rotated(&path, 2)).unwrap(), "line 7\n");
        assert!(!rotated(&path, 3).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keep_zero_starts_over_and_a_reopened_log_counts_what_is_there() {
        let dir = scratch("keep0");
        let path = dir.join("output.log");
        fs::write(&path, "12345678").unwrap();
        let mut log = RotatingLog::new(path.clone(), 10, 0);
        log.write(b"ab");
        log.flush();
        assert_eq!(fs::read_to_string(&path).unwrap(), "12345678ab");
        log.write(b"c");
        log.flush();
        assert_eq!(fs::read_to_string(&path).unwrap(), "c");
        assert!(!rotated(&path, 1).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_piece_larger_than_the_cap_gets_a_file_of_its_own() {
        let dir = scratch("big");
        let path = dir.join("output.log");
        let mut log = RotatingLog::new(path.clone(), 4, 1);
        log.write(b"ab");
        log.write(b"0123456789");
        log.write(b"c");
        drop(log);
        assert_eq!(fs::read_to_string(&path).unwrap(), "c");
        assert_eq!(fs::read_to_string(rotated(&path, 1)).unwrap(), "0123456789");
        fs::remove_dir_all(dir).unwrap();
    }
}
