//! The failure policy (DESIGN decision 11): what happens to a task after
//! an attempt. Retries on the same agent with growing delays and jitter,
//! then the backup agent with its own retries, then failure. Interrupted
//! and cancelled attempts go back to the queue without using a retry.

use crate::state::{AttemptOutcome, MissionPlan, MissionState, NextStep};
use jiff::{SignedDuration, Timestamp};

/// Jitter spreads retries of tasks that failed together by up to this
/// share of the delay, either way.
const JITTER: f64 = 0.2;

/// The next step for task `task` of `state` after `outcome`, as of `now`.
/// `state` is the state before the attempt's end is applied.
pub fn next_step(
    state: &MissionState,
    task: usize,
    outcome: &AttemptOutcome,
    now: Timestamp,
) -> NextStep {
    match outcome {
        AttemptOutcome::Succeeded { .. } if state.needs_check(task) => NextStep::Check,
        AttemptOutcome::Succeeded { .. } => NextStep::Done,
        AttemptOutcome::Cancelled
        | AttemptOutcome::Interrupted
        | AttemptOutcome::RateLimited { .. }
        | AttemptOutcome::NeedsPerson { .. }
        | AttemptOutcome::Suspended { .. } => NextStep::Requeue,
        AttemptOutcome::Failed { .. } | AttemptOutcome::TimedOut => retry_or_fail(state, task, now),
    }
}

/// The next step after a gate rejected the work of task `task`'s last
/// attempt: it counts as a failure of that attempt, so the same retries,
/// delays and backup apply; the next attempt gets the gate's output.
pub fn after_rejection(state: &MissionState, task: usize, now: Timestamp) -> NextStep {
    retry_or_fail(state, task, now)
}

fn retry_or_fail(state: &MissionState, task: usize, now: Timestamp) -> NextStep {
    let plan = &state.plan.tasks[task];
    let current = state.tasks[task].agent.as_str();
    let failures = state.tasks[task].failures_on(current) + 1;
    if failures <= plan.retries {
        let at = now
            + delay(
                &state.plan,
                &plan.id,
                failures,
                state.tasks[task].attempts.len(),
            );
        return NextStep::Retry {
            agent: current.to_string(),
            at,
        };
    }
    match &plan.detail.backup {
        Some(backup) if backup != current => NextStep::Retry {
            agent: backup.clone(),
            at: now + delay(&state.plan, &plan.id, 1, state.tasks[task].attempts.len()),
        },
        _ => NextStep::Fail,
    }
}

/// The delay before retry `retry` (1-based) of a task, with jitter that is
/// random-looking across tasks but the same on every replay.
fn delay(plan: &MissionPlan, task: &str, retry: u32, attempt: usize) -> SignedDuration {
    let base = plan.backoff(retry) as f64;
    let spread = 1.0 + JITTER * (2.0 * unit_hash(task, attempt) - 1.0);
    SignedDuration::from_millis((base * spread).round() as i64)
}

/// A number in [0, 1) from the task and attempt.
fn unit_hash(task: &str, attempt: usize) -> f64 {
    let hash = crate::fingerprint::fnv1a(task.bytes().chain(attempt.to_le_bytes()));
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether the mission should stop dispatching and ask the person: more
/// than the threshold of finished tasks failed, counting at least two
/// failures so that one early failure does not stop a large mission, and
/// only once more tasks failed since the person last let it go on.
pub fn failure_rate_exceeded(state: &MissionState) -> bool {
    let failed = state.count(crate::state::TaskStatus::Failed);
    failed >= 2
        && failed > state.failed_at_last_pause
        && state.failure_rate() > state.plan.failure_threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_fifth_of_the_delay() {
        for attempt in 0..200 {
            let u = unit_hash("API-001", attempt);
            assert!((0.0..1.0).contains(&u));
        }
        let spread: Vec<f64> = (0..50).map(|a| unit_hash("T", a)).collect();
        assert!(spread.iter().any(|&u| u < 0.3) && spread.iter().any(|&u| u > 0.7));
    }
}
