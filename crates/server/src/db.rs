//! The store, for async handlers: rusqlite is synchronous, so every read
//! runs on tokio's blocking pool, on a connection taken from a small pool
//! of open ones (opening a store checks its schema; a connection is kept
//! for the next request rather than reopened).

use crate::error::ApiError;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use techlead_core::state::{EventRecord, MissionState};
use techlead_store::sqlite::SqliteStore;
use techlead_store::{MissionRow, Store};

/// Connections kept open between requests.
const KEEP: usize = 8;

#[derive(Clone)]
pub struct Db {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<SqliteStore>>>,
}

impl Db {
    /// Opens the database once, so that a file that is not techlead's is
    /// refused at start rather than on the first request.
    pub async fn open(path: PathBuf) -> Result<Db, techlead_store::Error> {
        let opened = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .expect("opening the store does not panic")?
        };
        Ok(Db {
            path: Arc::new(path),
            idle: Arc::new(Mutex::new(vec![opened])),
        })
    }

    /// Runs `read` on a connection, on the blocking pool.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&SqliteStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let taken = db.idle.lock().expect("the pool is never poisoned").pop();
            let store = match taken {
                Some(store) => store,
                None => SqliteStore::open(&db.path)?,
            };
            let result = read(&store);
            let mut idle = db.idle.lock().expect("the pool is never poisoned");
            if idle.len() < KEEP {
                idle.push(store);
            }
            result
        })
        .await
        .map_err(ApiError::internal)?
    }
}

/// The mission with that ID, or the newest with that name; 404 otherwise.
pub fn mission(store: &SqliteStore, id_or_name: &str) -> Result<MissionRow, ApiError> {
    store.find_mission(id_or_name)?.ok_or_else(|| {
        ApiError::not_found(
            format!("no mission `{id_or_name}` in this database"),
            "GET /api/missions lists the missions",
        )
    })
}

/// The mission's state, folded from its whole record.
pub fn state(store: &SqliteStore, id: &str) -> Result<MissionState, ApiError> {
    fold(id, &store.events(id, 0)?)
}

/// The state `events` (a mission's whole log) fold into.
pub fn fold(id: &str, events: &[EventRecord]) -> Result<MissionState, ApiError> {
    MissionState::replay(events)
        .map_err(|e| ApiError::internal(format!("the record of mission `{id}` does not fold: {e}")))
}
