//! The risks the record of past missions shows (docs/history.md, "Risk"):
//! agents that rarely succeed at a kind of task, agents whose time other
//! missions already hold, and kinds of task whose estimates were off.

use super::{EPSILON, Level, Risk, RiskInput, RiskKind, count, hours, list};
use crate::Priority;
use crate::history::{History, MIN_SAMPLES, TaskKind};
use std::collections::BTreeMap;

/// Below this success rate on a kind, an agent is a risk for that kind.
const LOW_SUCCESS: f64 = 0.5;
/// Past tasks of a kind took more than this many times their estimate,
/// or less than its inverse: the estimates of that kind are off.
const DRIFT: f64 = 1.5;

pub(super) fn risks(input: &RiskInput<'_>, past: &History) -> Vec<Risk> {
    let kinds: Vec<TaskKind> = input
        .mission
        .tasks
        .iter()
        .map(|t| {
            t.kind
                .unwrap_or_else(|| TaskKind::infer(&t.title, &t.description))
        })
        .collect();
    let mut risks = low_success(input, past, &kinds);
    risks.extend(busy_elsewhere(input, past));
    risks.extend(estimate_drift(input, past, &kinds));
    risks
}

fn low_success(input: &RiskInput<'_>, past: &History, kinds: &[TaskKind]) -> Vec<Risk> {
    let mut groups: BTreeMap<(&str, TaskKind), Vec<usize>> = BTreeMap::new();
    for (t, &kind) in kinds.iter().enumerate() {
        if let Some(agent) = input.agent_of(t) {
            groups.entry((agent, kind)).or_default().push(t);
        }
    }
    groups
        .into_iter()
        .filter_map(|((agent, kind), tasks)| {
            let stats = past.agent(agent, Some(kind))?;
            let rate = stats.success_rate()?;
            if stats.tasks < MIN_SAMPLES || rate >= LOW_SUCCESS {
                return None;
            }
            let serious = tasks.iter().any(|&t| {
                input.graph.on_critical_path(t)
                    || input.mission.tasks[t].priority == Priority::Critical
            });
            let ids = input.ids(&tasks);
            Some(Risk {
                kind: RiskKind::LowSuccess,
                level: if serious { Level::High } else { Level::Medium },
                message: format!(
                    "`{agent}` succeeded on {} of {} past {kind} tasks and runs {} here ({})",
                    stats.succeeded,
                    stats.tasks,
                    count(tasks.len(), "task"),
                    list(&ids)
                ),
                mitigation: mitigation(past, agent, kind, &ids),
                tasks: ids,
                agent: Some(agent.to_string()),
            })
        })
        .collect()
}

/// Name the agent that did best at `kind`, if one did well enough.
fn mitigation(past: &History, agent: &str, kind: TaskKind, ids: &[String]) -> String {
    let best = past
        .stats
        .iter()
        .filter(|s| s.kind == Some(kind) && s.agent != agent && s.tasks >= MIN_SAMPLES)
        .filter(|s| s.success_rate().is_some_and(|r| r >= LOW_SUCCESS))
        .max_by(|a, b| {
            let rate = |s: &crate::history::AgentStats| s.success_rate().unwrap_or(0.0);
            rate(a).total_cmp(&rate(b)).then(b.agent.cmp(&a.agent))
        });
    match best {
        Some(best) => format!(
            "Give {} to `{}` (succeeded on {} of {} past {kind} tasks), or name it as their `backup:`.",
            list(ids),
            best.agent,
            best.succeeded,
            best.tasks
        ),
        None => format!(
            "Name a `backup:` agent on {}, and add gates that catch a bad result early.",
            list(ids)
        ),
    }
}

fn busy_elsewhere(input: &RiskInput<'_>, past: &History) -> Vec<Risk> {
    let mut load: BTreeMap<&str, (Vec<usize>, f64)> = BTreeMap::new();
    for t in 0..input.graph.len() {
        if let Some(agent) = input.agent_of(t) {
            let entry = load.entry(agent).or_default();
            entry.0.push(t);
            entry.1 += input.graph.hours(t);
        }
    }
    let commitments = past.commitments();
    let mut risks = Vec::new();
    for (agent, (tasks, work)) in load {
        let Some(held) = commitments.iter().find(|c| c.agent == agent) else {
            continue;
        };
        let slots = (input.agent_max_parallel)(agent).unwrap_or(1).max(1);
        if held.tasks < slots {
            continue;
        }
        let capacity = input
            .hours_left()
            .map(|left| left.max(0.0) * f64::from(slots));
        let over = capacity.is_some_and(|c| held.hours + work > c + EPSILON);
        let ids = input.ids(&tasks);
        risks.push(Risk {
            kind: RiskKind::BusyElsewhere,
            level: if over { Level::High } else { Level::Medium },
            message: format!(
                "`{agent}` already has {} ({}) unfinished in missions under way ({}), with max_parallel {slots}: its {} here wait for a slot",
                count(held.tasks as usize, "task"),
                hours(held.hours),
                held.missions.join(", "),
                count(tasks.len(), "task")
            ),
            mitigation: format!(
                "Move some of {} to other agents, raise `{agent}`'s `orchestration.max_parallel`, or run this mission after the others.",
                list(&ids)
            ),
            tasks: ids,
            agent: Some(agent.to_string()),
        });
    }
    risks
}

fn estimate_drift(input: &RiskInput<'_>, past: &History, kinds: &[TaskKind]) -> Vec<Risk> {
    let mut groups: BTreeMap<TaskKind, Vec<usize>> = BTreeMap::new();
    for (t, &kind) in kinds.iter().enumerate() {
        if input.mission.tasks[t].estimate_hours.is_some() {
            groups.entry(kind).or_default().push(t);
        }
    }
    groups
        .into_iter()
        .filter_map(|(kind, tasks)| {
            let (ratio, samples) = past.estimate_ratio(kind)?;
            if samples < MIN_SAMPLES || (1.0 / DRIFT..=DRIFT).contains(&ratio) {
                return None;
            }
            let critical = tasks.iter().any(|&t| input.graph.on_critical_path(t));
            let ids = input.ids(&tasks);
            let how = if ratio > 1.0 { "longer" } else { "shorter" };
            Some(Risk {
                kind: RiskKind::EstimateDrift,
                level: if critical { Level::Medium } else { Level::Low },
                message: format!(
                    "past {kind} tasks took {ratio:.1}× their estimate (median of {samples}): {} here may run {how} than planned ({})",
                    count(tasks.len(), "task"),
                    list(&ids)
                ),
                mitigation: format!(
                    "Multiply the estimates of {} by about {ratio:.1}, so the critical path and deadline checks rest on what such work really takes.",
                    list(&ids)
                ),
                tasks: ids,
                agent: None,
            })
        })
        .collect()
}
