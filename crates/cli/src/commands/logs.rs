//! `techlead logs`: an attempt's output, optionally followed as it grows.

use crate::args::LogsArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;
use techlead_core::diagnostic::nearest;
use techlead_core::state::MissionState;
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

pub fn run(args: &LogsArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    let data_dir = database::data_dir(&path);
    let state = replay(&store, &row.id)?;
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
    let mut printed = print_from(&log, 0)?;
    if !args.follow {
        return Ok(Outcome::Success);
    }
    // Follow until the attempt has ended and its last output is printed.
    loop {
        let state = replay(&store, &row.id)?;
        let ended = state.tasks[task]
            .attempts
            .iter()
            .any(|a| a.number == wanted && a.outcome.is_some());
        printed = print_from(&log, printed)?;
        if ended {
            return Ok(Outcome::Success);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn replay(store: &SqliteStore, id: &str) -> Result<MissionState, CliError> {
    Ok(MissionState::replay(&store.events(id, 0)?)
        .map_err(techlead_engine::mission::Error::from)?)
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
