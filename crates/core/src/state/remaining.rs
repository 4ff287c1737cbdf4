//! What is left of a recorded mission: the hours each unfinished task
//! still needs, and the critical path through them (the longest chain of
//! tasks still to finish, so the one that decides when the mission ends).
//!
//! The plan's own critical path (`core::plan::graph`) is over the mission
//! file before anything ran; here finished tasks weigh nothing and a
//! running task weighs what its reported progress leaves, so the path
//! moves as work is done. Phases count as the graph counts them: every
//! task of a phase waits for the previous non-empty phase. The server's
//! outlook and the portfolio read it.

use super::{MissionState, TaskStatus};
use crate::plan::graph::DEFAULT_ESTIMATE_HOURS;
use std::collections::HashMap;

/// The longest chain of unfinished work, by hours left.
#[derive(Debug, Clone, PartialEq)]
pub struct RemainingPath {
    /// Task indices, first task first.
    pub tasks: Vec<usize>,
    pub hours: f64,
    /// Tasks on it that count [`DEFAULT_ESTIMATE_HOURS`] for want of an
    /// estimate.
    pub unestimated: Vec<usize>,
}

/// Whether a task's work is still to come: not succeeded or skipped, and
/// not failed or blocked (those wait for the person; nothing runs them).
pub fn unfinished(status: TaskStatus) -> bool {
    !status.is_terminal()
}

/// The hours task `t` has left: its estimate (or the default), less what
/// its progress reports; nothing once finished. The flag says whether an
/// estimate stands behind it.
pub fn hours_left(state: &MissionState, t: usize) -> (f64, bool) {
    let task = &state.tasks[t];
    if !unfinished(task.status) {
        return (0.0, true);
    }
    let (hours, estimated) = match state.plan.tasks[t].detail.estimate_hours {
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
pub fn critical_path(state: &MissionState) -> RemainingPath {
    let n = state.plan.tasks.len();
    let waits = waits(state);
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
    RemainingPath {
        hours: last.map_or(0.0, |t| finish[t]),
        unestimated: tasks
            .iter()
            .copied()
            .filter(|&t| !hours_left(state, t).1)
            .collect(),
        tasks,
    }
}

/// What each task waits for: its dependencies, and every task of the
/// previous non-empty phase.
fn waits(state: &MissionState) -> Vec<Vec<usize>> {
    let plan = &state.plan;
    let index: HashMap<&str, usize> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut by_phase: Vec<Vec<usize>> = vec![Vec::new(); plan.phases.len()];
    for (t, task) in plan.tasks.iter().enumerate() {
        if let Some(p) = task.detail.phase.filter(|&p| p < by_phase.len()) {
            by_phase[p].push(t);
        }
    }
    plan.tasks
        .iter()
        .map(|task| {
            let mut preds: Vec<usize> = task
                .depends_on
                .iter()
                .filter_map(|d| index.get(d.as_str()).copied())
                .collect();
            if let Some(p) = task.detail.phase
                && let Some(earlier) = by_phase[..p.min(by_phase.len())]
                    .iter()
                    .rev()
                    .find(|tasks| !tasks.is_empty())
            {
                preds.extend(earlier);
            }
            preds
        })
        .collect()
}
