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

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Gathered writes are flushed once they reach this size.
const BUFFER: usize = 64 * 1024;

pub(crate) struct RotatingLog {
    path: PathBuf,
    file: File,
    /// Bytes not yet written to `file`.
    pending: Vec<u8>,
    /// The file's size including `pending`.
    size: u64,
    cap: u64,
    keep: usize,
    /// The first write error. After one, the log stops: the attempt goes
    /// on, and the error is reported once at the end.
    error: Option<io::Error>,
}

impl RotatingLog {
    /// Opens (appending to) the log at `path`, creating it if needed.
    pub(crate) fn open(path: &Path, cap: u64, keep: usize) -> io::Result<RotatingLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_owned(),
            file,
            pending: Vec::with_capacity(BUFFER),
            size,
            cap: cap.max(1),
            keep,
            error: None,
        })
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
        let len = bytes.len() as u64;
        if self.size > 0 && self.size.saturating_add(len) > self.cap {
            self.write_pending()?;
            self.rotate()?;
        }
        if self.pending.len() + bytes.len() > BUFFER {
            self.write_pending()?;
        }
        if bytes.len() >= BUFFER {
            self.file.write_all(bytes)?;
        } else {
            self.pending.extend_from_slice(bytes);
        }
        self.size += len;
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let result = self.file.write_all(&self.pending);
            self.pending.clear();
            result?;
        }
        Ok(())
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
        self.file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        self.size = 0;
        Ok(())
    }
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
    fn rotates_at_the_cap_and_keeps_at_most_keep_files() {
        let dir = scratch("rotate");
        let path = dir.join("output.log");
        let mut log = RotatingLog::open(&path, 10, 2).unwrap();
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
        let mut log = RotatingLog::open(&path, 10, 0).unwrap();
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
        let mut log = RotatingLog::open(&path, 4, 1).unwrap();
        log.write(b"ab");
        log.write(b"0123456789");
        log.write(b"c");
        drop(log);
        assert_eq!(fs::read_to_string(&path).unwrap(), "c");
        assert_eq!(fs::read_to_string(rotated(&path, 1)).unwrap(), "0123456789");
        fs::remove_dir_all(dir).unwrap();
    }
}
