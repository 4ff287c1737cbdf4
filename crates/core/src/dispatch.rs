//! Which ready tasks start now: the most urgent first (critical priority,
//! then the longest remaining path), within the mission's, each agent's
//! and each executor's limits.

use crate::state::MissionState;
use jiff::Timestamp;
use std::collections::HashMap;

/// Tasks to start now, in start order.
pub fn select(state: &MissionState, now: Timestamp) -> Vec<usize> {
    let plan = &state.plan;
    let max_parallel = plan.max_parallel.max(1) as usize;
    let mut by_agent: HashMap<&str, u32> = HashMap::new();
    let mut by_executor: HashMap<&str, u32> = HashMap::new();
    let mut total = 0;
    for t in state.running() {
        *by_agent.entry(state.tasks[t].agent.as_str()).or_default() += 1;
        *by_executor
            .entry(plan.tasks[t].executor.as_str())
            .or_default() += 1;
        total += 1;
    }
    let limit = |limits: &[(String, u32)], name: &str| {
        limits
            .iter()
            .find(|(n, _)| n == name)
            .map_or(u32::MAX, |(_, l)| (*l).max(1))
    };
    let mut chosen = Vec::new();
    for t in state.ready_in_order(now) {
        if total >= max_parallel {
            break;
        }
        let agent = state.tasks[t].agent.as_str();
        let executor = plan.tasks[t].executor.as_str();
        let agent_running = by_agent.get(agent).copied().unwrap_or(0);
        let executor_running = by_executor.get(executor).copied().unwrap_or(0);
        if agent_running >= limit(&plan.agent_limits, agent)
            || executor_running >= limit(&plan.executor_limits, executor)
        {
            continue;
        }
        *by_agent.entry(agent).or_default() += 1;
        *by_executor.entry(executor).or_default() += 1;
        total += 1;
        chosen.push(t);
    }
    chosen
}

/// When the next retry becomes due, if any task waits for one.
pub fn next_retry(state: &MissionState) -> Option<Timestamp> {
    state
        .retrying()
        .filter_map(|t| state.tasks[t].retry_at)
        .min()
}
