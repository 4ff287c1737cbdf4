//! What became of each task of a mission: who worked on it, how long it
//! really took against its estimate, what it cost, what went wrong and
//! what fixed it. The raw material of every history figure.

use super::kind::TaskKind;
use crate::Priority;
use crate::state::{AttemptOutcome, AttemptState, MissionState, TaskPlan, TaskState, TaskStatus};
use serde::Serialize;

/// The executor whose results are rehearsals, not evidence.
const SIMULATE: &str = "simulate";

/// One task of a mission, as of the mission's last event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskOutcome {
    /// The mission's ID, as the caller named it.
    pub mission: String,
    pub task: String,
    pub title: String,
    pub kind: TaskKind,
    pub priority: Priority,
    /// The agent of the last attempt (the plan's agent if none ran).
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_hours: Option<f64>,
    /// The task's dollar budget: what the mission file expected it to cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// The run time of every attempt, summed: what the work took, without
    /// the waits for a slot, a retry's delay or the person.
    pub duration_ms: u64,
    pub cost_usd: f64,
    /// Input and output tokens.
    pub tokens: u64,
    pub status: TaskStatus,
    pub succeeded: bool,
    /// Attempts that ended with a verdict on the work: succeeded, failed,
    /// timed out (rate limits, interruptions and suspensions are not the
    /// task's doing and are left out).
    pub attempts: u32,
    /// Of those, the ones that failed or whose work a gate rejected.
    pub failures: u32,
    /// Whether the task's gates passed the first work they checked;
    /// `None` when no gate checked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_gate_passed: Option<bool>,
    /// Each agent that worked on the task, in the order they started.
    pub agents: Vec<AgentPart>,
    /// What went wrong, attempt by attempt.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    /// How the problems ended; `None` when there were none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
    /// Run by the `simulate` executor: a rehearsal with seeded results.
    pub simulated: bool,
}

impl TaskOutcome {
    /// Hours of actual run time over the estimate, when there is one.
    pub fn duration_ratio(&self) -> Option<f64> {
        ratio(self.duration_ms as f64 / 3_600_000.0, self.estimate_hours)
    }

    /// Whether the task will change no more without someone acting:
    /// succeeded, failed, blocked or skipped.
    pub fn settled(&self) -> bool {
        self.status.is_terminal()
    }
}

/// One agent's share of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentPart {
    pub agent: String,
    /// Attempts with a verdict, as [`TaskOutcome::attempts`].
    pub attempts: u32,
    pub failures: u32,
    pub duration_ms: u64,
    pub cost_usd: f64,
    /// This agent's attempt made the task succeed.
    pub succeeded: bool,
    /// The agent's part is over: the task settled, or another agent took
    /// it over. Success rates count only settled parts.
    pub settled: bool,
    /// The verdict of the task's gates on this agent's first checked work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_gate_passed: Option<bool>,
}

/// One thing that went wrong.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    pub attempt: u32,
    pub agent: String,
    /// What happened, in one line.
    pub what: String,
}

/// What ended a task's problems.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Resolution {
    /// A later attempt on the same agent succeeded.
    Retried { attempts: u32 },
    /// Another agent (the backup, or the person's reassignment) succeeded.
    Reassigned { agent: String },
    /// The person accepted the work its gates rejected.
    Approved,
    /// The person chose to go on without the task.
    Skipped,
    /// Nothing yet: the task failed, is blocked, or still runs.
    Unresolved,
}

/// The outcome of every task of `state`, in plan order. `mission` is the
/// mission's ID, copied into each outcome.
pub fn outcomes(mission: &str, state: &MissionState) -> Vec<TaskOutcome> {
    state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .map(|(plan, task)| outcome(mission, plan, task))
        .collect()
}

/// The outcome of each task of `state` that settled as succeeded or
/// failed, made one at a time as the iterator is read (a live forecast
/// reads them once a second during a run of thousands of tasks).
pub fn settled_outcomes<'a>(
    mission: &'a str,
    state: &'a MissionState,
) -> impl Iterator<Item = TaskOutcome> + 'a {
    state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .filter(|(_, task)| matches!(task.status, TaskStatus::Succeeded | TaskStatus::Failed))
        .map(move |(plan, task)| outcome(mission, plan, task))
}

fn outcome(mission: &str, plan: &TaskPlan, task: &TaskState) -> TaskOutcome {
    let agents = parts(task);
    let problems = problems(task);
    let succeeded = task.status == TaskStatus::Succeeded;
    TaskOutcome {
        mission: mission.to_string(),
        task: plan.id.clone(),
        title: plan.title.clone(),
        kind: plan
            .kind
            .unwrap_or_else(|| TaskKind::infer(&plan.title, &plan.description)),
        priority: plan.priority,
        agent: task
            .attempts
            .last()
            .map_or_else(|| plan.agent.clone(), |a| a.agent.clone()),
        estimate_hours: plan.detail.estimate_hours,
        budget_usd: plan.detail.budget.usd,
        duration_ms: task.attempts.iter().filter_map(|a| a.duration_ms).sum(),
        cost_usd: task.attempts.iter().map(cost).sum(),
        tokens: task.attempts.iter().map(tokens).sum(),
        status: task.status,
        succeeded,
        attempts: agents.iter().map(|p| p.attempts).sum(),
        failures: agents.iter().map(|p| p.failures).sum(),
        first_gate_passed: first_gate(task, |_| true),
        resolution: (!problems.is_empty()).then(|| resolution(task)),
        problems,
        simulated: task.attempts.iter().any(|a| a.executor == SIMULATE),
        agents,
    }
}

/// Each agent's share, in the order they first worked on the task.
fn parts(task: &TaskState) -> Vec<AgentPart> {
    let last = task.attempts.last().map(|a| a.agent.as_str());
    let mut parts: Vec<AgentPart> = Vec::new();
    for attempt in &task.attempts {
        let index = match parts.iter().position(|p| p.agent == attempt.agent) {
            Some(index) => index,
            None => {
                parts.push(part(task, &attempt.agent, last));
                parts.len() - 1
            }
        };
        let part = &mut parts[index];
        part.duration_ms += attempt.duration_ms.unwrap_or(0);
        part.cost_usd += cost(attempt);
        if has_verdict(attempt) {
            part.attempts += 1;
            part.failures += u32::from(failed(attempt));
        }
    }
    parts
}

fn part(task: &TaskState, agent: &str, last: Option<&str>) -> AgentPart {
    let is_last = last == Some(agent);
    AgentPart {
        agent: agent.to_string(),
        attempts: 0,
        failures: 0,
        duration_ms: 0,
        cost_usd: 0.0,
        succeeded: is_last && task.status == TaskStatus::Succeeded,
        settled: !is_last || task.status.is_terminal(),
        first_gate_passed: first_gate(task, |a| a.agent == agent),
    }
}

/// Whether an attempt's end says something about the work.
fn has_verdict(attempt: &AttemptState) -> bool {
    matches!(
        attempt.outcome,
        Some(AttemptOutcome::Succeeded { .. } | AttemptOutcome::Failed { .. })
            | Some(AttemptOutcome::TimedOut)
    )
}

/// A failure, or work a gate rejected.
fn failed(attempt: &AttemptState) -> bool {
    attempt.detail.rejected_by.is_some()
        || attempt
            .outcome
            .as_ref()
            .is_some_and(AttemptOutcome::is_failure)
}

/// The verdict of the task's gates on the first checked work of the
/// attempts `which` selects: passed when every gate that judged it did.
fn first_gate(task: &TaskState, which: impl Fn(&AttemptState) -> bool) -> Option<bool> {
    let checks = &task.work.checks;
    let first = task
        .attempts
        .iter()
        .filter(|a| which(a))
        .find(|a| checks.iter().any(|c| c.attempt == a.number))?;
    Some(
        checks
            .iter()
            .filter(|c| c.attempt == first.number)
            .all(|c| c.passed),
    )
}

fn problems(task: &TaskState) -> Vec<Problem> {
    task.attempts
        .iter()
        .filter_map(|attempt| {
            let what = problem(attempt)?;
            Some(Problem {
                attempt: attempt.number,
                agent: attempt.agent.clone(),
                what,
            })
        })
        .collect()
}

/// What went wrong in one attempt, if anything did.
fn problem(attempt: &AttemptState) -> Option<String> {
    if let Some(gate) = &attempt.detail.rejected_by {
        return Some(format!("rejected by {gate}"));
    }
    let blocked = attempt.detail.blocked.as_deref();
    match attempt.outcome.as_ref()? {
        AttemptOutcome::Failed { message, .. } => Some(match blocked {
            Some(reason) => format!("blocked: {reason}"),
            None if message.is_empty() => "failed".to_string(),
            None => format!("failed: {}", first_line(message)),
        }),
        AttemptOutcome::TimedOut => Some("timed out".to_string()),
        AttemptOutcome::NeedsPerson { message } => {
            Some(format!("needed the person: {}", first_line(message)))
        }
        _ => None,
    }
}

fn resolution(task: &TaskState) -> Resolution {
    match task.status {
        TaskStatus::Succeeded if task.work.approved => Resolution::Approved,
        TaskStatus::Succeeded => {
            let last = task.attempts.last().expect("a succeeded task ran");
            let first_failure = task.attempts.iter().find(|a| failed(a));
            match first_failure {
                Some(first) if first.agent != last.agent => Resolution::Reassigned {
                    agent: last.agent.clone(),
                },
                _ => Resolution::Retried {
                    attempts: task.attempts.iter().filter(|a| has_verdict(a)).count() as u32,
                },
            }
        }
        TaskStatus::Skipped => Resolution::Skipped,
        _ => Resolution::Unresolved,
    }
}

fn cost(attempt: &AttemptState) -> f64 {
    attempt.detail.usage.as_ref().map_or(0.0, |u| u.cost_usd)
}

fn tokens(attempt: &AttemptState) -> u64 {
    attempt
        .detail
        .usage
        .as_ref()
        .map_or(0, |u| u.input_tokens + u.output_tokens)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// `actual / expected`, when something was expected.
pub(super) fn ratio(actual: f64, expected: Option<f64>) -> Option<f64> {
    expected.filter(|&e| e > 0.0).map(|e| actual / e)
}
