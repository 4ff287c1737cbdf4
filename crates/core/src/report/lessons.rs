//! Lessons: each task that failed on the way (a failed or rejected
//! attempt, a merge conflict) and what brought it in, or that nothing did.
//! The record holds both halves: the attempts' outcomes and agents, and
//! the person's decisions on the escalations naming the task.

use super::attempts::{log_path, outcome_text};
use super::model::Lesson;
use crate::state::{
    AttemptState, EscalationRecord, EventRecord, MissionState, TaskPlan, TaskState, TaskStatus,
    escalation_history,
};

pub fn lessons(state: &MissionState, records: &[EventRecord]) -> Vec<Lesson> {
    let history = escalation_history(records, &state.plan);
    state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .filter_map(|(plan, task)| lesson(plan, task, &history))
        .collect()
}

fn failed(attempt: &AttemptState) -> bool {
    attempt.detail.rejected_by.is_some() || attempt.outcome.as_ref().is_some_and(|o| o.is_failure())
}

fn lesson(plan: &TaskPlan, task: &TaskState, history: &[EscalationRecord]) -> Option<Lesson> {
    let failures: Vec<&AttemptState> = task.attempts.iter().filter(|a| failed(a)).collect();
    let escalated = history.iter().rfind(|e| e.tasks.contains(&plan.id));
    if failures.is_empty() && task.work.conflicts == 0 && escalated.is_none() {
        return None;
    }
    let mut said: Vec<String> = failures.iter().map(|a| failure(a)).collect();
    if task.work.conflicts > 0 {
        said.push(format!(
            "its work conflicted with the integration branch {}",
            times(task.work.conflicts)
        ));
    }
    let resolved = matches!(task.status, TaskStatus::Succeeded | TaskStatus::Skipped);
    Some(Lesson {
        task: plan.id.clone(),
        title: plan.title.clone(),
        failures: said,
        resolution: resolution(plan, task, escalated),
        resolved,
        logs: failures.iter().map(|a| log_path(&a.dir)).collect(),
    })
}

fn failure(attempt: &AttemptState) -> String {
    let blocked = attempt
        .detail
        .blocked
        .as_ref()
        .map_or(String::new(), |b| format!(" (blocked: {b})"));
    format!(
        "attempt {} on {}: {}{blocked}",
        attempt.number,
        attempt.agent,
        outcome_text(attempt)
    )
}

fn times(n: u32) -> String {
    match n {
        1 => "once".to_string(),
        2 => "twice".to_string(),
        n => format!("{n} times"),
    }
}

/// How the task came through, or where it stands.
fn resolution(plan: &TaskPlan, task: &TaskState, escalated: Option<&EscalationRecord>) -> String {
    let decided = escalated.and_then(decision_text);
    let last = task.attempts.last();
    let how = match (task.status, last) {
        (TaskStatus::Succeeded, Some(last)) if task.work.approved => format!(
            "the person approved the work of attempt {} without its gates",
            last.number
        ),
        (TaskStatus::Succeeded, Some(last)) => succeeded(plan, task, last),
        (TaskStatus::Skipped, _) => {
            "skipped by the person's decision: its dependents went on without it".to_string()
        }
        (TaskStatus::Failed, _) => format!(
            "not resolved: failed after {}",
            super::text::plural(task.attempts.len(), "attempt")
        ),
        (TaskStatus::Blocked, _) => format!(
            "not resolved: blocked by {}",
            task.blocked_by.as_deref().unwrap_or("a dependency")
        ),
        (status, _) => format!("not resolved yet: the task is {status}"),
    };
    match (decided, escalated) {
        (Some(decided), _) => format!("{how}; {decided}"),
        (None, Some(open)) => format!("{how}; escalation #{} waits for a decision", open.id),
        (None, None) => how,
    }
}

fn succeeded(plan: &TaskPlan, task: &TaskState, last: &AttemptState) -> String {
    if !task.work.parts.is_empty() {
        return format!(
            "split into {} ({}), then finished on attempt {} ({})",
            super::text::plural(task.work.parts.len(), "part"),
            task.work.parts.join(", "),
            last.number,
            last.agent
        );
    }
    let first = &task.attempts[0].agent;
    if &last.agent == first {
        return format!("succeeded on attempt {} ({})", last.number, last.agent);
    }
    if plan.detail.backup.as_ref() == Some(&last.agent) {
        format!(
            "the backup agent {} took over and succeeded on attempt {}",
            last.agent, last.number
        )
    } else {
        format!(
            "reassigned to {}, which succeeded on attempt {}",
            last.agent, last.number
        )
    }
}

fn decision_text(escalation: &EscalationRecord) -> Option<String> {
    let resolution = escalation.resolution.as_ref()?;
    let note = resolution
        .note
        .as_ref()
        .map_or(String::new(), |n| format!(" (\"{n}\")"));
    Some(format!(
        "escalation #{}: {} decided {}{note}",
        escalation.id, resolution.by, resolution.decision
    ))
}
