//! Capacity: does each agent's estimated work fit before the deadline, given
//! the hours a day it is available? When it does not, three ways out:
//! extend the deadline, cut the lowest-priority scope, or add a backup
//! agent. Shown under the blueprint of `techlead plan --objective`.
//!
//! Unlike the `over-allocation` risk (which counts wall-clock hours times
//! an agent's parallel slots), this counts the hours a person budgets for
//! each agent a day: a cost, review and attention limit as much as a
//! machine one.

use crate::priority::Priority;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The hours a day an agent works when nothing else is said.
pub const DEFAULT_HOURS_PER_DAY: f64 = 8.0;

/// One task's share of the work, as the plan staffs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Work<'a> {
    pub task: &'a str,
    pub agent: &'a str,
    pub hours: f64,
    pub priority: Priority,
    pub depends_on: &'a [String],
    /// The task's backup agent (named or suggested), if any.
    pub backup: Option<&'a str>,
}

/// Hours a day per agent.
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub default_hours_per_day: f64,
    pub agents: HashMap<String, f64>,
}

impl Default for Availability {
    fn default() -> Self {
        Availability {
            default_hours_per_day: DEFAULT_HOURS_PER_DAY,
            agents: HashMap::new(),
        }
    }
}

impl Availability {
    pub fn hours_per_day(&self, agent: &str) -> f64 {
        self.agents
            .get(agent)
            .copied()
            .unwrap_or(self.default_hours_per_day)
            .max(0.0)
    }
}

/// One agent's load against its capacity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentLoad {
    pub agent: String,
    pub hours: f64,
    pub hours_per_day: f64,
    /// Hours it can work before the deadline.
    pub capacity: f64,
}

impl AgentLoad {
    pub fn over(&self) -> bool {
        self.hours > self.capacity + 1e-9
    }
}

/// The check, and the ways out when some agent is over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Capacity {
    pub deadline: Timestamp,
    /// Days from now to the deadline (0 when it has passed).
    pub days: f64,
    /// By agent name.
    pub agents: Vec<AgentLoad>,
    /// `None` when every agent fits.
    pub options: Option<Options>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Options {
    /// The earliest deadline at which every agent fits, to the hour.
    pub extend_to: Timestamp,
    /// Tasks to drop, lowest priority first, with the tasks that depend on
    /// them; `None` when dropping every non-critical task is not enough.
    pub cut: Option<Cut>,
    /// One per agent over its capacity.
    pub backups: Vec<Backup>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cut {
    pub tasks: Vec<String>,
    pub hours: f64,
}

/// Move `hours` of `agent`'s work (the `tasks`) to `backup`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Backup {
    pub agent: String,
    /// An agent of the plan with enough spare hours, preferring the tasks'
    /// own backups; `None`: nobody in the plan has them, add a new agent.
    pub backup: Option<String>,
    pub hours: f64,
    pub tasks: Vec<String>,
}

/// Checks `work` against the time from `now` to `deadline`.
pub fn check(
    work: &[Work<'_>],
    now: Timestamp,
    deadline: Timestamp,
    availability: &Availability,
) -> Capacity {
    let days = (deadline.duration_since(now).as_secs_f64() / 86_400.0).max(0.0);
    let mut hours: BTreeMap<&str, f64> = BTreeMap::new();
    for item in work {
        *hours.entry(item.agent).or_default() += item.hours;
    }
    let agents: Vec<AgentLoad> = hours
        .iter()
        .map(|(agent, hours)| {
            let per_day = availability.hours_per_day(agent);
            AgentLoad {
                agent: agent.to_string(),
                hours: *hours,
                hours_per_day: per_day,
                capacity: per_day * days,
            }
        })
        .collect();
    let options = agents.iter().any(AgentLoad::over).then(|| Options {
        extend_to: extend_to(&agents, now),
        cut: cut(work, &agents),
        backups: backups(work, &agents, days, availability),
    });
    Capacity {
        deadline,
        days,
        agents,
        options,
    }
}

/// The moment the busiest agent (for its hours a day) would be done,
/// rounded up to the hour.
fn extend_to(agents: &[AgentLoad], now: Timestamp) -> Timestamp {
    let days = agents
        .iter()
        .map(|a| match a.hours_per_day {
            0.0 => 0.0,
            per_day => a.hours / per_day,
        })
        .fold(0.0, f64::max);
    let hours = (days * 24.0).ceil() as i64;
    now.saturating_add(SignedDuration::from_hours(hours))
        .unwrap_or(now)
}

/// Drops tasks of over-allocated agents, each with everything that depends
/// on it, until every agent fits: first the groups whose most important
/// task matters least (a low task that high ones wait for is not low), the
/// later in the plan first among equals. Critical tasks are never dropped.
fn cut(work: &[Work<'_>], agents: &[AgentLoad]) -> Option<Cut> {
    let mut load: HashMap<&str, f64> = agents.iter().map(|a| (a.agent.as_str(), a.hours)).collect();
    let capacity: HashMap<&str, f64> = agents
        .iter()
        .map(|a| (a.agent.as_str(), a.capacity))
        .collect();
    let over = |load: &HashMap<&str, f64>, agent: &str| load[agent] > capacity[agent] + 1e-9;
    let mut order: Vec<usize> = (0..work.len()).collect();
    let top = |i: usize| {
        with_dependents(work, i, &BTreeSet::new())
            .into_iter()
            .map(|j| work[j].priority)
            .min()
            .unwrap_or(work[i].priority)
    };
    let tops: Vec<Priority> = (0..work.len()).map(top).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(tops[i]), std::cmp::Reverse(i)));
    let mut dropped: BTreeSet<usize> = BTreeSet::new();
    for i in order {
        if !agents.iter().any(|a| over(&load, &a.agent)) {
            break;
        }
        if dropped.contains(&i) || !over(&load, work[i].agent) {
            continue;
        }
        let group = with_dependents(work, i, &dropped);
        if group
            .iter()
            .any(|&j| work[j].priority == Priority::Critical)
        {
            continue;
        }
        for j in group {
            *load.get_mut(work[j].agent).expect("every agent has a load") -= work[j].hours;
            dropped.insert(j);
        }
    }
    if agents.iter().any(|a| over(&load, &a.agent)) {
        return None;
    }
    Some(Cut {
        hours: dropped.iter().map(|&i| work[i].hours).sum(),
        tasks: dropped.iter().map(|&i| work[i].task.to_string()).collect(),
    })
}

/// Task `i` and every task that waits for it, directly or not, not yet
/// dropped.
fn with_dependents(work: &[Work<'_>], i: usize, dropped: &BTreeSet<usize>) -> Vec<usize> {
    let mut group = vec![i];
    let mut next = 0;
    while next < group.len() {
        let id = work[group[next]].task;
        for (j, item) in work.iter().enumerate() {
            if !dropped.contains(&j)
                && !group.contains(&j)
                && item.depends_on.iter().any(|d| d == id)
            {
                group.push(j);
            }
        }
        next += 1;
    }
    group
}

/// For each agent over: the hours beyond its capacity, the tasks that
/// would move (lowest priority first), and who could take them.
fn backups(
    work: &[Work<'_>],
    agents: &[AgentLoad],
    days: f64,
    availability: &Availability,
) -> Vec<Backup> {
    let spare: HashMap<&str, f64> = agents
        .iter()
        .map(|a| (a.agent.as_str(), a.capacity - a.hours))
        .collect();
    let mut out = Vec::new();
    for agent in agents.iter().filter(|a| a.over()) {
        let excess = agent.hours - agent.capacity;
        let mut mine: Vec<&Work<'_>> = work.iter().filter(|w| w.agent == agent.agent).collect();
        mine.sort_by_key(|w| w.priority);
        mine.reverse();
        let mut tasks = Vec::new();
        let mut moved = 0.0;
        for item in mine {
            if moved >= excess - 1e-9 {
                break;
            }
            moved += item.hours;
            tasks.push(item.task);
        }
        // The tasks' own backups first, then anyone with room.
        let named = work
            .iter()
            .filter(|w| tasks.contains(&w.task))
            .filter_map(|w| w.backup);
        let anyone = agents.iter().map(|a| a.agent.as_str());
        let backup = named.chain(anyone).filter(|b| *b != agent.agent).find(|b| {
            // A backup with no work in the plan has all its hours.
            let room = spare
                .get(b)
                .copied()
                .unwrap_or_else(|| availability.hours_per_day(b) * days);
            room >= moved - 1e-9
        });
        out.push(Backup {
            agent: agent.agent.clone(),
            backup: backup.map(str::to_string),
            hours: moved,
            tasks: tasks.into_iter().map(str::to_string).collect(),
        });
    }
    out
}

#[cfg(test)]
#[path = "capacity_tests.rs"]
mod tests;
