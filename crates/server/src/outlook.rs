//! `GET /api/missions/{id}/outlook`: what is left of a mission. The
//! critical path through the unfinished work (the longest chain of
//! tasks still to finish, by estimate, so the one that decides when the
//! mission ends), the progress, and an ETA at the pace so far.
//!
//! The path is `core::state::remaining`'s: finished tasks weigh nothing
//! and a running task weighs what its reported progress leaves, so it
//! moves as work is done (the portfolio reads the same path).
//!
//! The ETA is the forecast's (docs/forecast.md): a Monte Carlo of the
//! remaining work from the database's history, with its P50 and P90, the
//! baseline the run recorded and the last slip past it.

use crate::Shared;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use techlead_core::forecast::{self, Forecast, History, Model, Work, slip};
use techlead_core::state::remaining::critical_path;
use techlead_core::state::{MissionState, TaskStatus};

pub async fn outlook(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let db = shared.db.clone();
    shared
        .db
        .read_folded(id, move |store, row, folded| {
            let state = folded.state;
            let history = if state.status.is_finished() {
                None
            } else {
                Some(db.history(store)?)
            };
            Ok(Json(answer(
                &row.id,
                &state,
                history.as_deref(),
                Timestamp::now(),
            )))
        })
        .await
}

fn answer(id: &str, state: &MissionState, history: Option<&History>, now: Timestamp) -> Value {
    let path = critical_path(state);
    let total = state.tasks.len();
    let succeeded = state.count(TaskStatus::Succeeded);
    let finished = state
        .tasks
        .iter()
        .filter(|t| t.status.is_terminal())
        .count();
    let started = state
        .tasks
        .iter()
        .flat_map(|t| &t.attempts)
        .filter_map(|a| a.started_at)
        .min();
    let forecast = history.map(|h| forecast(state, h, now));
    // The forecast's P50, once the mission has started and until it ends.
    let eta = match (&forecast, started) {
        (Some((f, _)), Some(_)) if finished < total => Some(f.finish_hours.p50 * 3600.0),
        _ => None,
    };
    json!({
        "mission": id,
        "status": state.status,
        "progress": {
            "total": total,
            "succeeded": succeeded,
            "finished": finished,
            "percent": if total == 0 { 100.0 } else { finished as f64 * 100.0 / total as f64 },
        },
        "started_at": started,
        "eta_seconds": eta,
        "forecast": forecast.map(|(_, json)| json),
        "critical_path": {
            "tasks": path.tasks.iter().map(|&t| &state.plan.tasks[t].id).collect::<Vec<_>>(),
            "hours": path.hours,
            "unestimated": path.unestimated.iter().map(|&t| &state.plan.tasks[t].id).collect::<Vec<_>>(),
        },
    })
}

/// The remaining work's forecast, and what the dashboard shows of it.
fn forecast(state: &MissionState, history: &History, now: Timestamp) -> (Forecast, Value) {
    let work = Work::remaining(state, now);
    let runs = forecast::live_runs(work.tasks.len());
    let f = forecast::forecast(&work, &Model::new(history), runs, forecast::DEFAULT_SEED);
    let json = json!({
        "p50": slip::after(now, f.finish_hours.p50),
        "p90": slip::after(now, f.finish_hours.p90),
        "p50_hours": f.finish_hours.p50,
        "p90_hours": f.finish_hours.p90,
        "cost_p50_usd": f.cost_usd.p50,
        "cost_p90_usd": f.cost_usd.p90,
        "deadline_chance": f.deadline.map(|d| d.chance),
        "runs": f.runs,
        "samples": f.history.samples,
        "drivers": f.drivers.iter().map(|d| json!({
            "task": d.task,
            "correlation": d.correlation,
            "criticality": d.criticality,
        })).collect::<Vec<_>>(),
        "baseline": state.forecast.map(|t| json!({"at": t.since, "p50": t.p50, "p90": t.p90})),
        "slip": state.forecast.and_then(|t| t.slipped),
    });
    (f, json)
}
