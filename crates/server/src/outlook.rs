//! `GET /api/missions/{id}/outlook`: what is left of a mission. The
//! critical path through the unfinished work (the longest chain of
//! tasks still to finish, by estimate, so the one that decides when the
//! mission ends), the progress, and an ETA at the pace so far.
//!
//! The plan's own critical path (`techlead plan`, `core::plan::Graph`) is
//! over the mission file before anything ran; here finished tasks weigh
//! nothing and a running task weighs what its reported progress leaves,
//! so the path moves as work is done. Phases count as the graph counts
//! them: every task of a phase waits for the previous non-empty phase.
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
use techlead_core::plan::graph::DEFAULT_ESTIMATE_HOURS;
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

#[derive(Debug, PartialEq)]
struct Path_ {
    tasks: Vec<usize>,
    hours: f64,
    unestimated: Vec<usize>,
}

/// Whether a task's work is still to come: not succeeded, and not failed
/// or blocked (those wait for the person; nothing runs them).
fn unfinished(status: TaskStatus) -> bool {
    !status.is_terminal()
}

/// The hours a task has left: its estimate (or the default), less what
/// its progress reports; nothing once finished.
fn hours_left(state: &MissionState, t: usize) -> (f64, bool) {
    let task = &state.tasks[t];
    if !unfinished(task.status) {
        return (0.0, true);
    }
    let (hours, estimated) = match state.plan.tasks[t].estimate_hours {
        Some(h) if h.is_finite() && h >= 0.0 => (h, true),
        _ => (DEFAULT_ESTIMATE_HOURS, false),
    };
    let done = match (&task.progress, task.status) {
        (Some((Some(percent), _)), TaskStatus::Running) => f64::from((*percent).min(100)) / 100.0,
        _ => 0.0,
    };
    (hours * (1.0 - done), estimated)
}

/// The longest chain of unfinished work by hours left, first task first.
/// Ties go to the task that comes first in the plan.
fn critical_path(state: &MissionState) -> Path_ {
    let plan = &state.plan;
    let n = plan.tasks.len();
    let index: std::collections::HashMap<&str, usize> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    // What each task waits for: its dependencies, and every task of the
    // previous non-empty phase.
    let mut by_phase: Vec<Vec<usize>> = vec![Vec::new(); plan.phases.len()];
    for (t, task) in plan.tasks.iter().enumerate() {
        if let Some(p) = task.phase.filter(|&p| p < by_phase.len()) {
            by_phase[p].push(t);
        }
    }
    let waits: Vec<Vec<usize>> = plan
        .tasks
        .iter()
        .map(|task| {
            let mut preds: Vec<usize> = task
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            if let Some(p) = task.phase
                && let Some(earlier) = by_phase[..p.min(by_phase.len())]
                    .iter()
                    .rev()
                    .find(|tasks| !tasks.is_empty())
            {
                preds.extend(earlier);
            }
            preds
        })
        .collect();
    // Finish hours with unlimited parallelism, in an order where a task
    // comes after what it waits for (the plan was checked free of cycles;
    // a task caught in one anyway is left at zero).
    let mut finish = vec![f64::NAN; n];
    let mut via: Vec<Option<usize>> = vec![None; n];
    let mut done = 0;
    while done < n {
        let before = done;
        for t in 0..n {
            if !finish[t].is_nan() || waits[t].iter().any(|&p| finish[p].is_nan()) {
                continue;
            }
            let mut start = 0.0;
            for &p in &waits[t] {
                if finish[p] > start {
                    (start, via[t]) = (finish[p], Some(p));
                }
            }
            finish[t] = start + hours_left(state, t).0;
            done += 1;
        }
        if done == before {
            finish
                .iter_mut()
                .filter(|f| f.is_nan())
                .for_each(|f| *f = 0.0);
            break;
        }
    }
    let mut last = None;
    for t in 0..n {
        if unfinished(state.tasks[t].status) && last.is_none_or(|l: usize| finish[t] > finish[l]) {
            last = Some(t);
        }
    }
    let mut tasks = Vec::new();
    let mut at = last;
    while let Some(t) = at {
        if unfinished(state.tasks[t].status) {
            tasks.push(t);
        }
        at = via[t];
    }
    tasks.reverse();
    Path_ {
        hours: last.map_or(0.0, |t| finish[t]),
        unestimated: tasks
            .iter()
            .copied()
            .filter(|&t| !hours_left(state, t).1)
            .collect(),
        tasks,
    }
}
