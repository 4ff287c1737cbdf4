//! The store, for async handlers: both backends are synchronous, so every
//! read runs on tokio's blocking pool, on a connection taken from a small
//! pool of open ones (opening a store checks its schema; a connection is
//! kept for the next request rather than reopened). Each mission's folded
//! state is kept between requests and brought up to date with the events
//! appended since, so a dashboard asking every second does not replay the
//! whole log each time.

use crate::error::ApiError;
use axum::http::StatusCode;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use techlead_core::forecast::History;
use techlead_core::state::{Event, EventRecord, MissionState};
use techlead_store::{MissionRow, Store};

/// Connections kept open between requests.
const KEEP: usize = 8;

#[derive(Clone)]
pub struct Db {
    /// `--db`: a SQLite file's path or a PostgreSQL URL.
    location: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Box<dyn Store>>>>,
    folded: Arc<Mutex<HashMap<String, Folded>>>,
    history: Arc<Mutex<Option<Kept>>>,
}

/// The history forecasts learn from, and when it was read.
type Kept = (Instant, Arc<History>);

/// How long the history read for forecasts is kept: reading it folds up
/// to 50 missions, too much for every outlook the dashboard asks for.
const HISTORY_KEPT: Duration = Duration::from_secs(30);

/// What a mission's log folds into, as of its `state.last_seq`.
#[derive(Clone)]
pub struct Folded {
    pub state: MissionState,
    /// Every escalation raised, with when it was resolved.
    pub escalations: Vec<Value>,
    /// What `/metrics` counts that the state does not keep.
    pub tally: crate::metrics::Tally,
}

impl Folded {
    fn of(id: &str, events: &[EventRecord]) -> Result<Folded, ApiError> {
        let state = fold(id, events)?;
        let mut escalations = Vec::new();
        let mut tally = crate::metrics::Tally::default();
        for record in events {
            note_escalation(&mut escalations, record);
            tally.note(record);
        }
        Ok(Folded {
            state,
            escalations,
            tally,
        })
    }

    fn apply(&mut self, id: &str, record: &EventRecord) -> Result<(), ApiError> {
        self.state.apply(record).map_err(|e| {
            ApiError::internal(format!("the record of mission `{id}` does not fold: {e}"))
        })?;
        note_escalation(&mut self.escalations, record);
        self.tally.note(record);
        Ok(())
    }
}

impl Db {
    /// Opens the database once, so that one that is not techlead's (or a
    /// PostgreSQL server that does not answer) is refused at start rather
    /// than on the first request.
    pub async fn open(location: PathBuf) -> Result<Db, techlead_store::Error> {
        let opened = {
            let location = location.clone();
            tokio::task::spawn_blocking(move || techlead_store::open(&location))
                .await
                .expect("opening the store does not panic")?
        };
        Ok(Db {
            location: Arc::new(location),
            idle: Arc::new(Mutex::new(vec![opened])),
            folded: Arc::default(),
            history: Arc::default(),
        })
    }

    /// Runs `read` on a connection, on the blocking pool. A kept
    /// connection that the database server has ended (a restart ends them
    /// all) fails as unreachable: then `read` runs again on a new one, so
    /// that the first requests after a restart do not fail.
    pub async fn read<T: Send + 'static>(
        &self,
        read: impl Fn(&dyn Store) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            loop {
                let (store, kept) = db.take()?;
                let result = read(&*store);
                let again = kept && unreachable(&result);
                db.put_back(store, &result);
                if !again {
                    return result;
                }
            }
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// Runs `write` on a connection, on the blocking pool: the decision
    /// inbox is the one thing the server writes. It is never run twice:
    /// a write whose connection was lost may have committed.
    pub async fn write<T: Send + 'static>(
        &self,
        write: impl FnOnce(&mut Box<dyn Store>) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let (mut store, _) = db.take()?;
            let result = write(&mut store);
            db.put_back(store, &result);
            result
        })
        .await
        .map_err(ApiError::internal)?
    }

    /// A kept connection (true), or a new one.
    fn take(&self) -> Result<(Box<dyn Store>, bool), ApiError> {
        let kept = self.idle.lock().expect("the pool is never poisoned").pop();
        match kept {
            Some(store) => Ok((store, true)),
            None => Ok((techlead_store::open(&*self.location)?, false)),
        }
    }

    /// Keeps `store` for the next request, unless this one found the
    /// database server out of reach: its other connections to that server
    /// are as dead, so none is kept.
    fn put_back<T>(&self, store: Box<dyn Store>, result: &Result<T, ApiError>) {
        let mut idle = self.idle.lock().expect("the pool is never poisoned");
        if unreachable(result) {
            idle.clear();
        } else if idle.len() < KEEP {
            idle.push(store);
        }
    }
}

/// Whether `result` is the database server's absence (`Unreachable`).
fn unreachable<T>(result: &Result<T, ApiError>) -> bool {
    matches!(result, Err(e) if e.status == StatusCode::SERVICE_UNAVAILABLE)
}

impl Db {
    /// Runs `answer` on a connection, on the blocking pool, with mission
    /// `id_or_name` (404 if there is none) folded up to its last event:
    /// what every endpoint about one mission starts with.
    pub async fn read_folded<T: Send + 'static>(
        &self,
        id_or_name: String,
        answer: impl Fn(&dyn Store, MissionRow, Folded) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let cached = self.clone();
        self.read(move |store| {
            let row = mission(store, &id_or_name)?;
            let folded = cached.folded(store, &row.id)?;
            answer(store, row, folded)
        })
        .await
    }

    /// The missions' finished tasks forecasts learn from, read again when
    /// older than [`HISTORY_KEPT`].
    pub fn history(&self, store: &dyn Store) -> Result<Arc<History>, ApiError> {
        let mut kept = self
            .history
            .lock()
            .expect("the history lock is never poisoned");
        if let Some((at, history)) = kept.as_ref()
            && at.elapsed() < HISTORY_KEPT
        {
            return Ok(history.clone());
        }
        let history = Arc::new(techlead_engine::forecast::history(store, None)?);
        *kept = Some((Instant::now(), history.clone()));
        Ok(history)
    }

    /// Mission `id` folded up to its last event: the kept state and the
    /// events since, or the whole log the first time.
    pub fn folded(&self, store: &dyn Store, id: &str) -> Result<Folded, ApiError> {
        let kept = self.folded.lock().expect("never poisoned").remove(id);
        let mut folded = match kept {
            Some(folded) => folded,
            None => Folded::of(id, &store.events(id, 0)?)?,
        };
        for record in store.events(id, folded.state.last_seq)? {
            folded.apply(id, &record)?;
        }
        self.folded
            .lock()
            .expect("never poisoned")
            .insert(id.to_string(), folded.clone());
        Ok(folded)
    }
}

/// The mission with that ID, or the newest with that name; 404 otherwise.
pub fn mission(store: &dyn Store, id_or_name: &str) -> Result<MissionRow, ApiError> {
    store.find_mission(id_or_name)?.ok_or_else(|| {
        ApiError::not_found(
            format!("no mission `{id_or_name}` in this database"),
            "GET /api/missions lists the missions",
        )
    })
}

/// The state `events` (a mission's whole log) fold into.
fn fold(id: &str, events: &[EventRecord]) -> Result<MissionState, ApiError> {
    MissionState::replay(events)
        .map_err(|e| ApiError::internal(format!("the record of mission `{id}` does not fold: {e}")))
}

/// Adds what `record` says of escalations: a new one, or the open ones
/// resolved (dispatch resumed, or the mission finished), as the store's
/// projection has it.
fn note_escalation(escalations: &mut Vec<Value>, record: &EventRecord) {
    match &record.event {
        Event::EscalationRaised {
            id,
            kind,
            message,
            tasks,
            options,
        } => escalations.push(json!({
            "id": id,
            "kind": kind,
            "message": message,
            "tasks": tasks,
            "options": options,
            "raised_at": record.at,
            "raised_seq": record.seq,
            "resolved_at": null,
        })),
        Event::EscalationResolved {
            id,
            decision,
            by,
            note,
            ..
        } => {
            if let Some(e) = escalations.iter_mut().find(|e| e["id"] == *id) {
                e["resolved_at"] = json!(record.at);
                e["resolution"] = json!({ "decision": decision, "by": by, "note": note });
            }
        }
        // A failed mission's escalations stay open: a decision gives it
        // another round.
        Event::MissionFinished {
            status: techlead_core::state::MissionStatus::Failed,
        } => {}
        Event::DispatchResumed | Event::MissionFinished { .. } => {
            for open in escalations
                .iter_mut()
                .filter(|e| e["resolved_at"].is_null())
            {
                open["resolved_at"] = json!(record.at);
            }
        }
        _ => {}
    }
}
