//! What could go wrong across missions (docs/portfolio.md, "Risks"): an
//! agent over the allocation threshold, an agent on the critical path of
//! several missions, and missions due close together on a shared agent.
//! Levels are `plan::risk`'s, so they read as a plan's risks do.

use super::{Allocation, MissionLoad, Params};
use crate::plan::risk::{Level, count, hours, list};
use serde::Serialize;

/// What kind of portfolio risk. Risks of the same level sort in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PortfolioRiskKind {
    /// An agent's allocation is above the threshold. **Medium** up to
    /// 100 %, **High** above, **Critical** when work is due with no time
    /// left.
    OverAllocation,
    /// One agent has tasks on the remaining critical path of two or more
    /// missions: its delay delays them all. **High** when the agent is
    /// over-allocated too; **Medium** otherwise.
    SharedCriticalPath,
    /// Missions whose deadlines fall within the window of each other
    /// share an agent: their last work lands on it at once. **High** when
    /// the agent is over-allocated too; **Medium** otherwise.
    DeadlineCluster,
}

/// One portfolio risk, with what to do about it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortfolioRisk {
    pub kind: PortfolioRiskKind,
    pub level: Level,
    pub agent: String,
    pub missions: Vec<String>,
    /// `mission/task`, the tasks concerned.
    pub tasks: Vec<String>,
    pub message: String,
    pub mitigation: String,
}

pub(super) fn assess(
    agents: &[Allocation],
    missions: &[MissionLoad],
    params: Params,
) -> Vec<PortfolioRisk> {
    let mut risks: Vec<PortfolioRisk> = agents
        .iter()
        .flat_map(|a| {
            let mut found: Vec<PortfolioRisk> = over_allocation(a, params).into_iter().collect();
            found.extend(shared_critical_path(a));
            found.extend(deadline_clusters(a, missions, params.window_hours));
            found
        })
        .collect();
    risks.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.kind.cmp(&b.kind))
            .then(a.agent.cmp(&b.agent))
    });
    risks
}

fn over_allocation(a: &Allocation, params: Params) -> Option<PortfolioRisk> {
    if !a.over {
        return None;
    }
    let missions = a.mission_ids();
    let (level, share) = match a.percent {
        None => (Level::Critical, "with no time left".to_string()),
        Some(p) => (
            if p > 100.0 {
                Level::High
            } else {
                Level::Medium
            },
            format!(
                "{p:.0}% of the {} it can give ({} × {})",
                hours(a.window_capacity_hours),
                count(a.slots as usize, "slot"),
                hours(a.window_hours)
            ),
        ),
    };
    Some(PortfolioRisk {
        kind: PortfolioRiskKind::OverAllocation,
        level,
        agent: a.agent.clone(),
        message: format!(
            "`{}` has {} of work due in the next {} across {}: {share}, over the {:.0}% threshold",
            a.agent,
            hours(a.window_work_hours),
            hours(a.window_hours.max(0.0)),
            list(&missions),
            params.threshold
        ),
        mitigation: format!(
            "Move some of `{}`'s tasks to other agents, raise its `orchestration.max_parallel`, move a deadline, or pause one of {}.",
            a.agent,
            list(&missions)
        ),
        tasks: tasks_of(a, |s| &s.tasks),
        missions,
    })
}

fn shared_critical_path(a: &Allocation) -> Option<PortfolioRisk> {
    let on: Vec<String> = a
        .missions
        .iter()
        .filter(|s| !s.critical.is_empty())
        .map(|s| s.mission.clone())
        .collect();
    if on.len() < 2 {
        return None;
    }
    let tasks = tasks_of(a, |s| &s.critical);
    Some(PortfolioRisk {
        kind: PortfolioRiskKind::SharedCriticalPath,
        level: if a.over { Level::High } else { Level::Medium },
        agent: a.agent.clone(),
        message: format!(
            "`{}` is on the critical path of {} ({}): an hour lost on it is an hour lost on each",
            a.agent,
            count(on.len(), "mission"),
            list(&tasks)
        ),
        mitigation: format!(
            "Give the critical tasks of one of {} to another agent, or name a `backup:` on them, so that one agent's delay does not hold up every mission.",
            list(&on)
        ),
        tasks,
        missions: on,
    })
}

fn deadline_clusters(a: &Allocation, missions: &[MissionLoad], window: f64) -> Vec<PortfolioRisk> {
    // The agent's missions with a deadline, soonest first (shares are so sorted).
    let dated: Vec<(&str, f64)> = a
        .missions
        .iter()
        .filter(|s| {
            missions
                .iter()
                .any(|m| m.id == s.mission && m.deadline.is_some())
        })
        .map(|s| (s.mission.as_str(), s.due_hours))
        .collect();
    let mut risks = Vec::new();
    let mut start = 0;
    while start < dated.len() {
        let mut end = start + 1;
        while end < dated.len() && dated[end].1 - dated[start].1 <= window {
            end += 1;
        }
        if end - start >= 2 {
            let ids: Vec<String> = dated[start..end]
                .iter()
                .map(|(m, _)| m.to_string())
                .collect();
            risks.push(cluster(a, ids, window));
        }
        start = end;
    }
    risks
}

fn cluster(a: &Allocation, ids: Vec<String>, window: f64) -> PortfolioRisk {
    PortfolioRisk {
        kind: PortfolioRiskKind::DeadlineCluster,
        level: if a.over { Level::High } else { Level::Medium },
        agent: a.agent.clone(),
        message: format!(
            "{} are due within {} of each other and all need `{}`: their last work lands on it at once",
            list(&ids),
            hours(window),
            a.agent
        ),
        mitigation: format!(
            "Stagger the deadlines of {}, or move the work of one of them on `{}` to another agent.",
            list(&ids),
            a.agent
        ),
        tasks: a
            .missions
            .iter()
            .filter(|s| ids.contains(&s.mission))
            .flat_map(|s| s.tasks.iter().map(|t| format!("{}/{t}", s.mission)))
            .collect(),
        missions: ids,
    }
}

/// `mission/task` for the tasks `pick` chooses from each share.
fn tasks_of(a: &Allocation, pick: impl Fn(&super::Share) -> &Vec<String>) -> Vec<String> {
    a.missions
        .iter()
        .flat_map(|s| pick(s).iter().map(|t| format!("{}/{t}", s.mission)))
        .collect()
}
