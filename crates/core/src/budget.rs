//! Spend against the mission's and each task's budget: what has been spent
//! (every attempt's reported usage, failed and rate-limited ones too), when
//! dispatch must stop, and how much one more attempt may spend.

use crate::state::{Budget, MissionState};

/// US dollars and tokens (input and output together) spent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spent {
    pub usd: f64,
    pub tokens: u64,
}

impl Spent {
    /// Whether `budget` is used up.
    pub fn reaches(&self, budget: &Budget) -> bool {
        budget.usd.is_some_and(|usd| self.usd >= usd)
            || budget.tokens.is_some_and(|tokens| self.tokens >= tokens)
    }
}

/// What the whole mission has spent (the fold keeps the sums).
pub fn mission_spent(state: &MissionState) -> Spent {
    Spent {
        usd: state.spent_usd,
        tokens: state.spent_tokens,
    }
}

/// Whether any budget applies to the mission or one of its tasks, so that
/// missions without one pay nothing for the checks.
pub fn any(state: &MissionState) -> bool {
    !state.budget.is_unlimited()
        || state
            .plan
            .tasks
            .iter()
            .any(|t| !t.detail.budget.is_unlimited())
}

/// What task `t` has spent over all its attempts.
pub fn task_spent(state: &MissionState, t: usize) -> Spent {
    let mut spent = Spent::default();
    for usage in state.tasks[t]
        .attempts
        .iter()
        .filter_map(|a| a.detail.usage.as_ref())
    {
        spent.usd += usage.cost_usd;
        spent.tokens += usage.input_tokens + usage.output_tokens;
    }
    spent
}

/// Why dispatch must stop, if a budget is used up: the mission's, or that
/// of a task that is ready to run again.
pub fn exhausted(state: &MissionState, ready: &[usize]) -> Option<String> {
    let spent = mission_spent(state);
    if spent.reaches(&state.budget) {
        return Some(format!(
            "the mission's budget is spent: {} of {}",
            describe(spent),
            limit(&state.budget)
        ));
    }
    ready.iter().find_map(|&t| {
        let budget = &state.plan.tasks[t].detail.budget;
        if budget.is_unlimited() {
            return None;
        }
        let spent = task_spent(state, t);
        spent.reaches(budget).then(|| {
            format!(
                "task `{}` has spent its budget: {} of {}",
                state.plan.tasks[t].id,
                describe(spent),
                limit(budget)
            )
        })
    })
}

/// The most the next attempt of task `t` may spend in US dollars, when a
/// dollar budget applies: what is left of the task's budget, and of the
/// mission's shared with the attempts already running.
pub fn attempt_cap(state: &MissionState, t: usize, running: usize) -> Option<f64> {
    let task = state.plan.tasks[t]
        .detail
        .budget
        .usd
        .map(|usd| usd - task_spent(state, t).usd);
    let mission = state
        .budget
        .usd
        .map(|usd| (usd - mission_spent(state).usd) / (running + 1) as f64);
    match (task, mission) {
        (Some(a), Some(b)) => Some(a.min(b).max(0.0)),
        (a, b) => a.or(b).map(|usd| usd.max(0.0)),
    }
}

fn describe(spent: Spent) -> String {
    format!("${:.2} and {} tokens", spent.usd, spent.tokens)
}

fn limit(budget: &Budget) -> String {
    match (budget.usd, budget.tokens) {
        (Some(usd), Some(tokens)) => format!("${usd:.2} or {tokens} tokens"),
        (Some(usd), None) => format!("${usd:.2}"),
        (None, Some(tokens)) => format!("{tokens} tokens"),
        (None, None) => "no limit".to_string(),
    }
}
