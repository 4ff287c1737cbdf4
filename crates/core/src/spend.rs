//! What a mission spent, in total or grouped by task, agent or model, from
//! the usage its attempts reported. Every attempt counts, failed and
//! rate-limited ones too: they were paid for.

use crate::state::{MissionState, Usage};
use serde::Serialize;

/// One row: a task, agent or model and what its attempts used.
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct Spend {
    pub name: String,
    pub attempts: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    pub cost_usd: f64,
}

/// How rows are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Task,
    Agent,
    Model,
}

impl Spend {
    fn named(name: &str) -> Spend {
        Spend {
            name: name.to_string(),
            ..Spend::default()
        }
    }

    fn add(&mut self, usage: Option<&Usage>) {
        self.attempts += 1;
        let Some(usage) = usage else { return };
        self.input_tokens += usage.input_tokens;
        self.output_tokens += usage.output_tokens;
        self.cache_read_tokens += usage.cache_read_tokens;
        self.cache_write_tokens += usage.cache_write_tokens;
        self.cost_usd += usage.cost_usd;
    }
}

/// Every attempt's usage, summed, as the row `total`.
pub fn total(state: &MissionState) -> Spend {
    let mut total = Spend::named("total");
    for attempt in state.tasks.iter().flat_map(|t| &t.attempts) {
        total.add(attempt.detail.usage.as_ref());
    }
    total
}

/// Rows grouped `by`, most expensive first (ties in plan order).
pub fn grouped(state: &MissionState, by: By) -> Vec<Spend> {
    let mut rows: Vec<Spend> = Vec::new();
    for (task, plan) in state.tasks.iter().zip(&state.plan.tasks) {
        for attempt in &task.attempts {
            let name = match by {
                By::Task => plan.id.as_str(),
                By::Agent => attempt.agent.as_str(),
                By::Model => attempt
                    .detail
                    .usage
                    .as_ref()
                    .and_then(|u| u.model.as_deref())
                    .unwrap_or("(not reported)"),
            };
            let at = match rows.iter().position(|r| r.name == name) {
                Some(at) => at,
                None => {
                    rows.push(Spend::named(name));
                    rows.len() - 1
                }
            };
            rows[at].add(attempt.detail.usage.as_ref());
        }
    }
    rows.sort_by(|a, b| b.cost_usd.total_cmp(&a.cost_usd));
    rows
}
