//! Who succeeds at what: task outcomes added up per agent and per (agent,
//! kind). A task counts for an agent once its part in it is over (the
//! task settled, or another agent took it over); rehearsals (the
//! `simulate` executor) are not evidence and are left out.

use super::kind::TaskKind;
use super::outcome::{AgentPart, TaskOutcome, ratio};
use crate::plan::assign::AgentRecord;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// What one agent did on one kind of task, or on every kind (`kind`
/// `None`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentStats {
    pub agent: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<TaskKind>,
    /// Tasks the agent's part in is over.
    pub tasks: u32,
    /// Of those, the ones its attempt made succeed.
    pub succeeded: u32,
    /// Attempts with a verdict on those tasks.
    pub attempts: u32,
    /// Attempts beyond the first on each task.
    pub retries: u32,
    /// The median of run time over estimate, over the tasks it made
    /// succeed that had an estimate; `None` without any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ratio: Option<f64>,
    /// The median of cost over the task's dollar budget, over the tasks
    /// that had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_ratio: Option<f64>,
    pub cost_usd: f64,
    /// Tasks whose gates judged the agent's work.
    pub gated: u32,
    /// Of those, the ones whose gates passed its first work.
    pub gate_first_passed: u32,
}

impl AgentStats {
    /// Succeeded over tasks, when it has any.
    pub fn success_rate(&self) -> Option<f64> {
        (self.tasks > 0).then(|| f64::from(self.succeeded) / f64::from(self.tasks))
    }

    /// Gates passed at first over tasks gated, when any were.
    pub fn gate_first_pass_rate(&self) -> Option<f64> {
        (self.gated > 0).then(|| f64::from(self.gate_first_passed) / f64::from(self.gated))
    }

    /// The successes and failures the assignment ranker weighs.
    pub fn record(&self) -> AgentRecord {
        AgentRecord {
            successes: self.succeeded,
            failures: self.tasks - self.succeeded,
        }
    }
}

/// Per agent (`kind` `None`) and per (agent, kind), ordered by agent, then
/// the agent's total before its kinds.
pub fn stats(outcomes: &[TaskOutcome]) -> Vec<AgentStats> {
    let mut groups: BTreeMap<(String, Option<TaskKind>), Vec<Sample>> = BTreeMap::new();
    for outcome in outcomes.iter().filter(|o| !o.simulated) {
        for part in outcome.agents.iter().filter(|p| p.settled) {
            let sample = Sample { outcome, part };
            for kind in [None, Some(outcome.kind)] {
                groups
                    .entry((part.agent.clone(), kind))
                    .or_default()
                    .push(sample);
            }
        }
    }
    groups
        .into_iter()
        .map(|((agent, kind), samples)| add_up(agent, kind, &samples))
        .collect()
}

/// The records the ranker weighs: per agent, and per agent and kind.
pub fn records(
    stats: &[AgentStats],
) -> (
    HashMap<String, AgentRecord>,
    HashMap<String, HashMap<TaskKind, AgentRecord>>,
) {
    let mut overall = HashMap::new();
    let mut by_kind: HashMap<String, HashMap<TaskKind, AgentRecord>> = HashMap::new();
    for row in stats {
        match row.kind {
            None => {
                overall.insert(row.agent.clone(), row.record());
            }
            Some(kind) => {
                by_kind
                    .entry(row.agent.clone())
                    .or_default()
                    .insert(kind, row.record());
            }
        }
    }
    (overall, by_kind)
}

#[derive(Clone, Copy)]
struct Sample<'a> {
    outcome: &'a TaskOutcome,
    part: &'a AgentPart,
}

fn add_up(agent: String, kind: Option<TaskKind>, samples: &[Sample<'_>]) -> AgentStats {
    let mut durations = Vec::new();
    let mut costs = Vec::new();
    let mut row = AgentStats {
        agent,
        kind,
        tasks: 0,
        succeeded: 0,
        attempts: 0,
        retries: 0,
        duration_ratio: None,
        cost_ratio: None,
        cost_usd: 0.0,
        gated: 0,
        gate_first_passed: 0,
    };
    for Sample { outcome, part } in samples {
        row.tasks += 1;
        row.succeeded += u32::from(part.succeeded);
        row.attempts += part.attempts;
        row.retries += part.attempts.saturating_sub(1);
        row.cost_usd += part.cost_usd;
        if let Some(passed) = part.first_gate_passed {
            row.gated += 1;
            row.gate_first_passed += u32::from(passed);
        }
        if part.succeeded {
            let hours = part.duration_ms as f64 / 3_600_000.0;
            durations.extend(ratio(hours, outcome.estimate_hours));
        }
        costs.extend(ratio(part.cost_usd, outcome.budget_usd));
    }
    row.duration_ratio = median(&mut durations);
    row.cost_ratio = median(&mut costs);
    row
}

/// The middle value (the mean of the two middle ones for an even count):
/// one task that ran ten times over does not move it much.
pub(super) fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}
