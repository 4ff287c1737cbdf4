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

use crate::Shared;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::sync::Arc;
use techlead_core::plan::graph::DEFAULT_ESTIMATE_HOURS;
use techlead_core::state::{MissionState, TaskStatus};

pub async fn outlook(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            Ok(Json(answer(&row.id, &state, Timestamp::now())))
        })
        .await
}

fn answer(id: &str, state: &MissionState, now: Timestamp) -> Value {
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
    // At the pace so far: the time since the first attempt started, per
    // finished task, times the tasks left. Nothing to say before a task
    // finished or after the mission did.
    let eta = match started {
        Some(started) if finished > 0 && finished < total && !state.status.is_finished() => {
            let elapsed = now.duration_since(started).as_secs_f64().max(0.0);
            let left = elapsed / finished as f64 * (total - finished) as f64;
            Some(left)
        }
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
        "critical_path": {
            "tasks": path.tasks.iter().map(|&t| &state.plan.tasks[t].id).collect::<Vec<_>>(),
            "hours": path.hours,
            "unestimated": path.unestimated.iter().map(|&t| &state.plan.tasks[t].id).collect::<Vec<_>>(),
        },
    })
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
