//! Finding and opening the techlead database: a SQLite file, or a
//! PostgreSQL database when `--db` is a `postgres://` or `postgresql://`
//! URL (docs/postgres.md).

use crate::args::Database;
use crate::exit::CliError;
use std::path::{Path, PathBuf};
use techlead_core::state::MissionState;
use techlead_store::postgres::{is_postgres_url, redact};
use techlead_store::{MissionRow, Store};

/// `--db`, else `.techlead/techlead.db` at the top of the git repository
/// the person is in, else in the current directory.
pub fn path(database: &Database) -> PathBuf {
    match &database.db {
        Some(path) => path.clone(),
        None => default_dir().join("techlead.db"),
    }
}

/// `.techlead` at the top of the git repository the person is in, else
/// in the current directory.
fn default_dir() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = cwd
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(&cwd);
    root.join(".techlead")
}

/// The `--db` that names a PostgreSQL database, if this one does.
pub fn url(path: &Path) -> Option<&str> {
    path.to_str().filter(|db| is_postgres_url(db))
}

/// The database as messages name it: a URL without its password.
pub fn shown(path: &Path) -> String {
    match url(path) {
        Some(url) => redact(url),
        None => path.display().to_string(),
    }
}

/// The directory attempt files and worktrees live in: beside a SQLite
/// file; for a PostgreSQL database, `.techlead` where the default file
/// would be (they are this machine's, not the team's).
pub fn data_dir(path: &Path) -> PathBuf {
    if url(path).is_some() {
        return default_dir();
    }
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Opens the database, creating it if needed.
pub fn open(database: &Database) -> Result<(Box<dyn Store>, PathBuf), CliError> {
    let path = path(database);
    let store = techlead_store::open(&path)?;
    Ok((store, path))
}

/// Opens a database that must already exist (commands that only read). A
/// PostgreSQL database is opened as it is: an empty one lists no missions.
pub fn open_existing(database: &Database) -> Result<(Box<dyn Store>, PathBuf), CliError> {
    let path = path(database);
    if url(&path).is_none() && !path.exists() {
        return Err(CliError::NoMissions {
            database: shown(&path),
        });
    }
    open(database)
}

/// The mission named `id_or_name`, or the newest one when `None`.
pub fn mission(
    store: &dyn Store,
    path: &Path,
    id_or_name: Option<&str>,
) -> Result<MissionRow, CliError> {
    let found = match id_or_name {
        Some(name) => store.find_mission(name)?,
        None => store.missions()?.into_iter().next(),
    };
    match (found, id_or_name) {
        (Some(row), _) => Ok(row),
        (None, Some(name)) => Err(techlead_store::Error::NoSuchMission(name.to_string()).into()),
        (None, None) => Err(CliError::NoMissions {
            database: shown(path),
        }),
    }
}

/// The mission's state, folded from its whole record.
pub fn state(store: &dyn Store, id: &str) -> Result<MissionState, CliError> {
    Ok(MissionState::replay(&store.events(id, 0)?)
        .map_err(techlead_engine::mission::Error::from)?)
}

/// Folds the events recorded since `state` was last brought up to date.
pub fn catch_up(store: &dyn Store, id: &str, state: &mut MissionState) -> Result<(), CliError> {
    for record in store.events(id, state.last_seq)? {
        state
            .apply(&record)
            .map_err(techlead_engine::mission::Error::from)?;
    }
    Ok(())
}
/// The index of task `task` of mission `mission`, or an error that names
/// the nearest task ID.
pub fn task(state: &MissionState, mission: &str, task: &str) -> Result<usize, CliError> {
    state.task_index(task).ok_or_else(|| {
        let ids = state.plan.tasks.iter().map(|t| t.id.as_str());
        let hint = match techlead_core::diagnostic::nearest(task, ids) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("`techlead status {mission}` lists its tasks"),
        };
        CliError::NoSuchTask {
            mission: mission.to_string(),
            task: task.to_string(),
            hint,
        }
    })
}
