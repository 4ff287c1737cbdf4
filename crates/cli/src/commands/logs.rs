//! `techlead logs`: an attempt's output, optionally followed as it grows.

use crate::args::LogsArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;
use techlead_core::diagnostic::nearest;
use techlead_core::state::MissionState;

pub fn run(args: &LogsArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let data_dir = database::data_dir(&path);
    let mut state = database::state(&store, &row.id)?;
    let task = state
        .task_index(&args.task)
        .ok_or_else(|| no_such_task(&state, &row.id, &args.task))?;
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
    let log = data_dir.join(&attempt.dir).join("output.log");
    let attempt_index = (wanted - 1) as usize;
    let mut printed = print_from(&log, 0)?;
    if !args.follow {
        return Ok(Outcome::Success);
    }
    // Follow until the attempt has ended and its last output is printed.
    loop {
        database::catch_up(&store, &row.id, &mut state)?;
        // Attempt numbers count from 1 without gaps (the fold checks it).
        let ended = state.tasks[task].attempts[attempt_index].outcome.is_some();
        printed = print_from(&log, printed)?;
        if ended {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn no_such_task(state: &MissionState, mission: &str, task: &str) -> CliError {
    let ids = state.plan.tasks.iter().map(|t| t.id.as_str());
    let hint = match nearest(task, ids) {
        Some(near) => format!("did you mean `{near}`?"),
        None => format!("`techlead status {mission}` lists its tasks"),
    };
    CliError::NoSuchTask {
        mission: mission.to_string(),
        task: task.to_string(),
        hint,
    }
}

/// Prints the log from byte `offset`; returns the new end. A log not yet
/// created prints nothing.
fn print_from(log: &Path, offset: u64) -> Result<u64, CliError> {
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
    file.seek(SeekFrom::Start(offset)).map_err(read)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read)?;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&bytes);
    let _ = out.flush();
    Ok(offset + bytes.len() as u64)
}
