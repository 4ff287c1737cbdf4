//! The portfolio: every mission not finished, seen together (docs/portfolio.md).
//!
//! Missions share agents. [`build`] adds up, per agent, the hours its
//! unfinished tasks still need in each mission (`state::remaining`: the
//! estimate, less what a running task reported done), sets them against
//! the hours the agent can give before each mission is due
//! (`allocation`), and names the portfolio's risks: an agent over the
//! allocation threshold, an agent on the critical path of several
//! missions, and missions due close together on a shared agent (`risk`).
//!
//! Each mission says its place among missions sharing agents (priority
//! and share) and what its unfinished tasks wait for in other missions.
//!
//! Counted: missions running, paused for the person, interrupted (a
//! resume continues them) and created but never run; their work is owed
//! whichever. Finished missions owe nothing. Tasks on the `simulate`
//! executor are rehearsals and hold no agent's time.

mod allocation;
mod risk;
pub mod slots;
#[cfg(test)]
mod tests;

pub use allocation::{Allocation, Share};
pub use risk::{PortfolioRisk, PortfolioRiskKind};

use crate::state::remaining::{critical_path, hours_left, unfinished};
use crate::state::{MissionState, MissionStatus};
use jiff::Timestamp;
use serde::Serialize;
use std::collections::BTreeMap;

/// Allocation above this share of an agent's time is flagged, in percent.
pub const DEFAULT_THRESHOLD: f64 = 90.0;
/// Work of a mission without a deadline is due within this many hours
/// (a week: agents work around the clock).
pub const DEFAULT_HORIZON_HOURS: f64 = 168.0;
/// Deadlines of missions sharing an agent this close together (hours)
/// are a cluster.
pub const DEFAULT_WINDOW_HOURS: f64 = 24.0;

const SIMULATE: &str = "simulate";

/// What the caller may choose.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Percent of an agent's time above which it is over-allocated.
    pub threshold: f64,
    pub horizon_hours: f64,
    pub window_hours: f64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            threshold: DEFAULT_THRESHOLD,
            horizon_hours: DEFAULT_HORIZON_HOURS,
            window_hours: DEFAULT_WINDOW_HOURS,
        }
    }
}

/// The whole portfolio as of `as_of`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Portfolio {
    pub as_of: Timestamp,
    pub threshold: f64,
    pub horizon_hours: f64,
    pub window_hours: f64,
    /// The missions counted, in the order given (the store's: newest first).
    pub missions: Vec<MissionLoad>,
    /// Per agent, by name.
    pub agents: Vec<Allocation>,
    /// Most severe first.
    pub risks: Vec<PortfolioRisk>,
}

/// One mission under way: its work left and what decides its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissionLoad {
    pub id: String,
    pub name: String,
    pub status: MissionStatus,
    pub deadline: Option<Timestamp>,
    /// Hours from now until its work is due: its deadline, else the horizon.
    pub due_hours: f64,
    /// Unfinished tasks, and the hours they need.
    pub tasks: usize,
    pub hours: f64,
    /// The remaining critical path's task IDs, and its hours.
    pub critical_path: Vec<String>,
    pub critical_hours: f64,
    /// Its place among the missions sharing agents' slots: the highest
    /// priority goes first, then slots by `share` (docs/portfolio.md).
    pub priority: i32,
    pub share: u32,
    /// Its unfinished tasks' dependencies on other missions' tasks, and
    /// where each stands.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_for: Vec<CrossWait>,
}

/// A task of one mission waiting for a task of another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossWait {
    pub task: String,
    #[serde(flatten)]
    pub wait: crate::state::ExternalWait,
}

/// Whether a mission's work is still owed (see the module's doc).
pub fn under_way(status: MissionStatus) -> bool {
    !status.is_finished()
}

/// The portfolio of `missions` (ID and folded state; finished ones are
/// left out) as of `now`.
pub fn build(missions: &[(&str, &MissionState)], now: Timestamp, params: Params) -> Portfolio {
    let mut loads = Vec::new();
    let mut shares: BTreeMap<String, Vec<Share>> = BTreeMap::new();
    let mut slots: BTreeMap<String, u32> = BTreeMap::new();
    for &(id, state) in missions.iter().filter(|(_, s)| under_way(s.status)) {
        let load = mission_load(id, state, now, params.horizon_hours);
        for (agent, share) in agent_shares(state, &load) {
            let limit = state
                .plan
                .agent_limits
                .iter()
                .find(|(a, _)| *a == agent)
                .map_or(1, |(_, l)| (*l).max(1));
            let kept = slots.entry(agent.clone()).or_insert(limit);
            *kept = (*kept).max(limit);
            shares.entry(agent).or_default().push(share);
        }
        loads.push(load);
    }
    let agents: Vec<Allocation> = shares
        .into_iter()
        .map(|(agent, shares)| {
            let slots = slots[&agent];
            allocation::allocate(agent, slots, shares, params.threshold)
        })
        .collect();
    let risks = risk::assess(&agents, &loads, params);
    Portfolio {
        as_of: now,
        threshold: params.threshold,
        horizon_hours: params.horizon_hours,
        window_hours: params.window_hours,
        missions: loads,
        agents,
        risks,
    }
}

fn mission_load(id: &str, state: &MissionState, now: Timestamp, horizon: f64) -> MissionLoad {
    let path = critical_path(state);
    let due_hours = state.plan.deadline.map_or(horizon, |d| {
        // Signed: a deadline that has passed leaves no time at all.
        d.duration_since(now).as_secs_f64() / 3600.0
    });
    let left: Vec<usize> = (0..state.tasks.len())
        .filter(|&t| counted(state, t))
        .collect();
    MissionLoad {
        id: id.to_string(),
        name: state.plan.name.clone(),
        status: state.status,
        deadline: state.plan.deadline,
        due_hours,
        tasks: left.len(),
        hours: left.iter().map(|&t| hours_left(state, t).0).sum(),
        critical_path: path
            .tasks
            .iter()
            .map(|&t| state.plan.tasks[t].id.clone())
            .collect(),
        critical_hours: path.hours,
        priority: state.plan.standing.priority,
        share: state.plan.standing.share,
        waits_for: state
            .external()
            .iter()
            .filter(|w| !state.tasks[w.task].status.is_terminal())
            .map(|w| CrossWait {
                task: state.plan.tasks[w.task].id.clone(),
                wait: w.clone(),
            })
            .collect(),
    }
}

/// Whether task `t` holds its agent's time: unfinished, and not a rehearsal.
fn counted(state: &MissionState, t: usize) -> bool {
    unfinished(state.tasks[t].status) && state.plan.tasks[t].executor != SIMULATE
}

/// Each agent's share of one mission's unfinished work.
fn agent_shares(state: &MissionState, load: &MissionLoad) -> BTreeMap<String, Share> {
    let mut shares: BTreeMap<String, Share> = BTreeMap::new();
    for t in (0..state.tasks.len()).filter(|&t| counted(state, t)) {
        let agent = &state.tasks[t].agent;
        let id = &state.plan.tasks[t].id;
        let share = shares
            .entry(agent.clone())
            .or_insert_with(|| Share::new(&load.id, load.due_hours));
        share.tasks.push(id.clone());
        share.hours += hours_left(state, t).0;
        if load.critical_path.contains(id) {
            share.critical.push(id.clone());
        }
    }
    shares
}
