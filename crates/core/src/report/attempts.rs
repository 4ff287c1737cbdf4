//! The attempts as the report shows them: a bar each for the Gantt chart
//! and the attempts table, how each ended in words, and its log.

use super::model::{AttemptBar, AttemptResult};
use crate::state::{AttemptOutcome, AttemptState, MissionState};
use jiff::Timestamp;

/// Every attempt that started or was claimed, by start time.
pub(super) fn attempts(state: &MissionState, now: Timestamp) -> Vec<AttemptBar> {
    let mut bars: Vec<AttemptBar> = state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .flat_map(|(plan, task)| task.attempts.iter().map(|a| bar(&plan.id, a, now)))
        .collect();
    bars.sort_by(|a, b| a.start.cmp(&b.start).then(a.task.cmp(&b.task)));
    bars
}

fn bar(task: &str, attempt: &AttemptState, now: Timestamp) -> AttemptBar {
    let start = attempt.started_at.unwrap_or(attempt.queued_at);
    AttemptBar {
        task: task.to_string(),
        number: attempt.number,
        agent: attempt.agent.clone(),
        executor: attempt.executor.clone(),
        start,
        end: attempt.finished_at.unwrap_or(now).max(start),
        result: result(attempt),
        outcome: outcome_text(attempt),
        log: log_path(&attempt.dir),
    }
}

/// An attempt's output file, as `techlead logs` finds it.
pub(super) fn log_path(dir: &str) -> String {
    format!("{dir}.output.log")
}

fn result(attempt: &AttemptState) -> AttemptResult {
    match &attempt.outcome {
        None => AttemptResult::Running,
        Some(_) if attempt.detail.rejected_by.is_some() => AttemptResult::Failed,
        Some(AttemptOutcome::Succeeded { .. }) => AttemptResult::Succeeded,
        Some(o) if o.is_failure() => AttemptResult::Failed,
        Some(_) => AttemptResult::Stopped,
    }
}

/// How an attempt ended, in words.
pub(super) fn outcome_text(attempt: &AttemptState) -> String {
    let Some(outcome) = &attempt.outcome else {
        return "running".to_string();
    };
    if let Some(gate) = &attempt.detail.rejected_by {
        return format!("rejected by gate `{gate}`");
    }
    match outcome {
        AttemptOutcome::Succeeded { .. } => "succeeded".to_string(),
        AttemptOutcome::Failed {
            exit_code, message, ..
        } => {
            let code = exit_code.map_or(String::new(), |c| format!(" (exit code {c})"));
            let message = message.trim();
            if message.is_empty() {
                format!("failed{code}")
            } else {
                format!("failed{code}: {message}")
            }
        }
        AttemptOutcome::TimedOut => "timed out".to_string(),
        AttemptOutcome::Cancelled => "cancelled".to_string(),
        AttemptOutcome::Interrupted => "interrupted (techlead stopped)".to_string(),
        AttemptOutcome::RateLimited { .. } => "rate limited (ran again)".to_string(),
        AttemptOutcome::NeedsPerson { message } => format!("needs the person: {message}"),
        AttemptOutcome::Suspended { by } => format!("suspended for emergency `{by}`"),
    }
}
