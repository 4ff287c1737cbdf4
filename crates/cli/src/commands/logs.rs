//! `techlead logs`: an attempt's output, optionally followed as it grows.

use crate::args::LogsArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub fn run(args: &LogsArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let data_dir = database::data_dir(&path);
    let mut state = database::state(&store, &row.id)?;
    let task = database::task(&state, &row.id, &args.task)?;
    let attempts = &state.tasks[task].attempts;
    let wanted = args.attempt.unwrap_or(attempts.len() as u32);
    let attempt = attempts
        .iter()
        .find(|a| a.number == wanted)
        .ok_or(CliError::NoSuchAttempt {
            task: args.task.clone(),
            wanted,
            attempts: attempts.len(),
        })?;
    let log = log_path(&data_dir.join(&attempt.dir));
    let attempt_index = (wanted - 1) as usize;
    let mut ended = attempt.outcome.is_some();
    let mut printed = print_from(&log, None)?;
    if args.follow {
        // Follow until the attempt has ended and its last output is printed.
        loop {
            database::catch_up(&store, &row.id, &mut state)?;
            // Attempt numbers count from 1 without gaps (the fold checks it).
            ended = state.tasks[task].attempts[attempt_index].outcome.is_some();
            printed = print_from(&log, printed)?;
            if ended {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    if printed.is_none() {
        // The executor creates the log at the first byte of output.
        let task = &args.task;
        if ended {
            eprintln!("attempt {wanted} of {task} printed nothing (it has no output.log)");
        } else {
            eprintln!("attempt {wanted} of {task} has printed nothing yet");
        }
    }
    Ok(Outcome::Success)
}

/// An attempt's log: `<stem>.output.log`, or `output.log` inside the
/// directory that attempts recorded by an older techlead had.
fn log_path(stem: &Path) -> PathBuf {
    if stem.is_dir() {
        return stem.join("output.log");
    }
    let mut path = stem.as_os_str().to_owned();
    path.push(".output.log");
    PathBuf::from(path)
}

/// Prints the log from byte `offset` (`None`: nothing printed yet); returns
/// the new end, or `None` while there is no log. An attempt gets its log on
/// its first byte of output, so a missing log is empty output, not an error.
fn print_from(log: &Path, offset: Option<u64>) -> Result<Option<u64>, CliError> {
    let mut file = match std::fs::File::open(log) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(offset),
        Err(source) => {
            return Err(CliError::Read {
                path: log.to_path_buf(),
                source,
            });
        }
    };
    let read = |e| CliError::Read {
        path: log.to_path_buf(),
        source: e,
    };
    let offset = offset.unwrap_or(0);
    file.seek(SeekFrom::Start(offset)).map_err(read)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&bytes);
    let _ = out.flush();
    Ok(Some(offset + bytes.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_beside_its_stem_or_in_an_older_attempt_directory() {
        let dir = tempfile::tempdir().unwrap();
        let stem = dir.path().join("runs").join("m-1").join("T1.2");
        assert_eq!(
            log_path(&stem),
            dir.path().join("runs").join("m-1").join("T1.2.output.log")
        );
        let old = dir.path().join("runs").join("m-1").join("T1").join("2");
        std::fs::create_dir_all(&old).unwrap();
        assert_eq!(log_path(&old), old.join("output.log"));
    }
}
