//! What could go wrong with a mission plan, how bad it would be, and what
//! to do about it.
//!
//! [`assess`] looks at the graph, the assignments and (optionally) the
//! scheduled plan, and returns [`Risk`]s sorted most severe first. Each
//! kind, its levels and its mitigation are documented on [`RiskKind`] and,
//! for people, in docs/planning.md. Time comes in as `now`: this crate
//! never reads the clock. Hours are wall-clock hours (agents do not sleep).

use super::graph::{DEFAULT_ESTIMATE_HOURS, Graph};
use super::overlap::{Overlap, overlaps_summary};
use super::schedule::Schedule;
use crate::priority::Priority;
use crate::spec::Mission;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

mod history;

/// The default for [`RiskInput::long_chain`]: chains of more tasks than
/// this are a serial risk.
pub const DEFAULT_LONG_CHAIN: usize = 5;

/// Pairs of overlapping tasks reported one by one, declared and guessed
/// each; the rest are counted in one more risk.
pub const SHOWN_OVERLAPS: usize = 10;

/// How bad a risk is. Ordered: `Critical` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; the plan holds.
    Low,
    /// Likely to cost time or quality if ignored.
    Medium,
    /// Likely to miss the deadline or stall the mission if ignored.
    High,
    /// The plan cannot succeed as it stands.
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of risk. Risks of the same level sort in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskKind {
    /// The deadline cannot be met. **Critical** when the critical path
    /// alone ends after it (or it has passed): no parallelism helps.
    /// **High** when only the scheduled plan under the limits ends after
    /// it: more parallelism would help.
    DeadlineInfeasible,
    /// An agent has more estimated hours than it can work before the
    /// deadline (hours left × its `max_parallel`, default 1). **High** up
    /// to 1.5 × its capacity, **Critical** beyond or when no time is left.
    /// Only assessed when the mission has a deadline.
    OverAllocation,
    /// One agent runs tasks on the critical path and none of them names a
    /// backup. **High** when those tasks carry half the critical path's
    /// hours or more, or one is of critical priority; **Medium** otherwise.
    SinglePointOfFailure,
    /// The longest dependency chain (phase order included) has more tasks
    /// than [`RiskInput::long_chain`]. **Medium**; **High** beyond twice
    /// the threshold.
    LongChain,
    /// Two tasks that may run at the same time may edit the same files
    /// (see `plan::overlap`): their agents' changes would conflict.
    /// **Medium** when both declare the paths in `paths:`; **Low** when
    /// they are guessed from titles, descriptions and artifacts. Past
    /// [`SHOWN_OVERLAPS`] pairs of each, one more risk counts the rest.
    ParallelEdits,
    /// Tasks name an agent the library does not have, so they run on
    /// general-purpose. **High** when one of them is on the critical path;
    /// **Medium** otherwise.
    UnknownAgent,
    /// Tasks have no `estimate_hours` and count as
    /// [`DEFAULT_ESTIMATE_HOURS`]. **Medium** when one of them is on the
    /// critical path; **Low** otherwise.
    NoEstimate,
    /// Tasks with no gate whose phase has no gate either: nothing checks
    /// their work. **Medium** when one of them is of critical or high
    /// priority; **Low** otherwise.
    NoGates,
    /// History: an agent succeeded on fewer than half of its past tasks of
    /// a kind (at least [`crate::history::MIN_SAMPLES`]) and runs tasks of
    /// that kind here. **High** when one of them is on the critical path
    /// or of critical priority; **Medium** otherwise.
    LowSuccess,
    /// History: agents already have unfinished work in other missions
    /// under way, as many tasks as their `max_parallel` or more, so this
    /// mission's tasks on them wait for slots. **High** when, with a
    /// deadline, that work and this mission's exceed the agent's capacity
    /// before it; **Medium** otherwise.
    BusyElsewhere,
    /// History: past tasks of a kind took, in the median, more than 1.5×
    /// or less than half their estimate (at least
    /// [`crate::history::MIN_SAMPLES`] of them). **Medium** when a task of
    /// that kind is on the critical path; **Low** otherwise.
    EstimateDrift,
}

impl RiskKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskKind::DeadlineInfeasible => "deadline-infeasible",
            RiskKind::OverAllocation => "over-allocation",
            RiskKind::SinglePointOfFailure => "single-point-of-failure",
            RiskKind::LongChain => "long-chain",
            RiskKind::ParallelEdits => "parallel-edits",
            RiskKind::UnknownAgent => "unknown-agent",
            RiskKind::NoEstimate => "no-estimate",
            RiskKind::NoGates => "no-gates",
            RiskKind::LowSuccess => "low-success",
            RiskKind::BusyElsewhere => "busy-elsewhere",
            RiskKind::EstimateDrift => "estimate-drift",
        }
    }
}

impl fmt::Display for RiskKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One risk of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Risk {
    pub kind: RiskKind,
    pub level: Level,
    /// IDs of the tasks concerned: in path order for chains and the
    /// critical path, else in file order.
    pub tasks: Vec<String>,
    /// The agent concerned, for agent risks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to do about it, in one sentence.
    pub mitigation: String,
}

/// What [`assess`] looks at.
#[derive(Clone, Copy)]
pub struct RiskInput<'a> {
    pub mission: &'a Mission,
    pub graph: &'a Graph,
    /// The plan simulated under the limits, if there is one; without it the
    /// deadline check uses the critical path only.
    pub schedule: Option<&'a Schedule>,
    /// The agent each task runs on (index = task). A task without an entry
    /// counts as running on the agent its file names, if any.
    pub assignments: &'a [Option<String>],
    /// An agent's `max_parallel`; `None` counts as 1.
    pub agent_max_parallel: &'a dyn Fn(&str) -> Option<u32>,
    /// Tasks whose named agent is not in the library (they fall back to
    /// general-purpose).
    pub missing_agents: &'a [usize],
    /// The time the plan is assessed at; capacity runs from here to the
    /// deadline.
    pub now: Timestamp,
    /// Chains of more tasks than this are a risk.
    pub long_chain: usize,
    /// The record of past missions, for the history risks (none without).
    pub history: Option<&'a crate::history::History>,
}

fn no_limit(_: &str) -> Option<u32> {
    None
}

impl<'a> RiskInput<'a> {
    /// An input with no schedule, no assignments beyond the mission file,
    /// no agent limits, no missing agents and the default chain threshold.
    pub fn new(mission: &'a Mission, graph: &'a Graph, now: Timestamp) -> Self {
        RiskInput {
            mission,
            graph,
            schedule: None,
            assignments: &[],
            agent_max_parallel: &no_limit,
            missing_agents: &[],
            now,
            long_chain: DEFAULT_LONG_CHAIN,
            history: None,
        }
    }

    fn agent_of(&self, task: usize) -> Option<&'a str> {
        self.assignments
            .get(task)
            .and_then(Option::as_deref)
            .or(self.mission.tasks[task].agent.as_deref())
    }

    fn id(&self, task: usize) -> String {
        self.mission.tasks[task].id.clone()
    }

    fn ids(&self, tasks: &[usize]) -> Vec<String> {
        tasks.iter().map(|&t| self.id(t)).collect()
    }

    /// Hours from `now` to the deadline (negative once it passed).
    fn hours_left(&self) -> Option<f64> {
        let deadline = self.mission.deadline?;
        Some(deadline.duration_since(self.now).as_secs_f64() / 3600.0)
    }

    /// `now` plus `hours`, for "move the deadline to …".
    fn at(&self, hours: f64) -> String {
        SignedDuration::try_from_secs_f64(hours * 3600.0)
            .ok()
            .and_then(|d| self.now.checked_add(d).ok())
            .map_or_else(|| "a later date".to_string(), stamp)
    }
}

/// Every risk of the plan, most severe first (then by kind, tasks and
/// agent).
pub fn assess(input: &RiskInput<'_>) -> Vec<Risk> {
    let mut risks = Vec::new();
    risks.extend(deadline_infeasible(input));
    risks.extend(over_allocation(input));
    risks.extend(single_points_of_failure(input));
    risks.extend(long_chain(input));
    risks.extend(parallel_edits(input));
    risks.extend(unknown_agents(input));
    risks.extend(no_estimate(input));
    risks.extend(no_gates(input));
    if let Some(past) = input.history {
        risks.extend(history::risks(input, past));
    }
    risks.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(a.kind.cmp(&b.kind))
            .then_with(|| a.tasks.cmp(&b.tasks))
            .then_with(|| a.agent.cmp(&b.agent))
    });
    risks
}

/// Tolerance for comparing sums of hours.
const EPSILON: f64 = 1e-9;

fn deadline_infeasible(input: &RiskInput<'_>) -> Option<Risk> {
    let deadline = input.mission.deadline?;
    let left = input.hours_left()?;
    let graph = input.graph;
    let critical = graph.critical_path();
    let risk = |level, tasks, message, mitigation| Risk {
        kind: RiskKind::DeadlineInfeasible,
        level,
        tasks,
        agent: None,
        message,
        mitigation,
    };
    let needed = input.schedule.map_or(critical.hours, |s| s.makespan);
    if left <= 0.0 {
        return Some(risk(
            Level::Critical,
            input.ids(&critical.tasks),
            format!(
                "the deadline {} passed {} ago",
                stamp(deadline),
                hours(-left)
            ),
            format!("Set a new deadline of {} or later.", input.at(needed)),
        ));
    }
    if critical.hours > left + EPSILON {
        return Some(risk(
            Level::Critical,
            input.ids(&critical.tasks),
            format!(
                "the critical path alone takes {} but the deadline {} is {} away: no amount of parallelism finishes in time",
                hours(critical.hours),
                stamp(deadline),
                hours(left)
            ),
            format!(
                "Move the deadline to {} or later, or cut or split work on the critical path ({}).",
                input.at(needed),
                list(&input.ids(&critical.tasks))
            ),
        ));
    }
    let schedule = input.schedule?;
    if schedule.makespan <= left + EPSILON {
        return None;
    }
    let late: Vec<usize> = (0..schedule.tasks.len())
        .filter(|&t| schedule.tasks[t].finish > left + EPSILON)
        .collect();
    Some(risk(
        Level::High,
        input.ids(&late),
        format!(
            "under the limits (max_parallel {}) the plan takes {}, {} past the deadline {}; with unlimited parallelism it would take {}",
            schedule.max_parallel,
            hours(schedule.makespan),
            hours(schedule.makespan - left),
            stamp(deadline),
            hours(critical.hours)
        ),
        format!(
            "Raise max_parallel or the busiest agents' max_parallel, move work to idle agents, or move the deadline to {} or later.",
            input.at(schedule.makespan)
        ),
    ))
}

fn over_allocation(input: &RiskInput<'_>) -> Vec<Risk> {
    let Some(left) = input.hours_left() else {
        return Vec::new();
    };
    let mut load: BTreeMap<&str, (Vec<usize>, f64)> = BTreeMap::new();
    for t in 0..input.graph.len() {
        if let Some(agent) = input.agent_of(t) {
            let entry = load.entry(agent).or_default();
            entry.0.push(t);
            entry.1 += input.graph.hours(t);
        }
    }
    let mut risks = Vec::new();
    for (agent, (tasks, work)) in load {
        let slots = (input.agent_max_parallel)(agent).unwrap_or(1).max(1);
        let capacity = left.max(0.0) * f64::from(slots);
        if work <= capacity + EPSILON {
            continue;
        }
        let level = if capacity <= 0.0 || work > 1.5 * capacity {
            Level::Critical
        } else {
            Level::High
        };
        let mitigation = if left > 0.0 {
            let needed = (work / left).ceil();
            format!(
                "Move at least {} of `{agent}`'s tasks to other agents, raise its `orchestration.max_parallel` to {needed} if the work can run side by side, or move the deadline.",
                hours(work - capacity)
            )
        } else {
            "Move the deadline: it has passed.".to_string()
        };
        risks.push(Risk {
            kind: RiskKind::OverAllocation,
            level,
            tasks: input.ids(&tasks),
            agent: Some(agent.to_string()),
            message: format!(
                "`{agent}` has {} of work but {} of capacity before the deadline ({} left × max_parallel {slots})",
                hours(work),
                hours(capacity),
                hours(left.max(0.0))
            ),
            mitigation,
        });
    }
    risks
}

fn single_points_of_failure(input: &RiskInput<'_>) -> Vec<Risk> {
    let critical = input.graph.critical_path();
    let mut alone: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &t in &critical.tasks {
        let Some(agent) = input.agent_of(t) else {
            continue;
        };
        let backup = input.mission.tasks[t].backup.as_deref();
        if backup.is_none_or(|b| b == agent) {
            alone.entry(agent).or_default().push(t);
        }
    }
    alone
        .into_iter()
        .map(|(agent, tasks)| {
            let work: f64 = tasks.iter().map(|&t| input.graph.hours(t)).sum();
            let urgent = tasks
                .iter()
                .any(|&t| input.mission.tasks[t].priority == Priority::Critical);
            let level = if urgent || 2.0 * work + EPSILON >= critical.hours {
                Level::High
            } else {
                Level::Medium
            };
            let ids = input.ids(&tasks);
            Risk {
                kind: RiskKind::SinglePointOfFailure,
                level,
                message: format!(
                    "`{agent}` runs {} on the critical path ({}, {}) with no backup agent: if it fails or stalls, the mission waits",
                    count(tasks.len(), "task"),
                    list(&ids),
                    hours(work)
                ),
                mitigation: format!(
                    "Name a `backup:` agent on {}, or split the work so another specialist can take part of it.",
                    list(&ids)
                ),
                tasks: ids,
                agent: Some(agent.to_string()),
            }
        })
        .collect()
}

fn long_chain(input: &RiskInput<'_>) -> Option<Risk> {
    let chain = input.graph.longest_chain();
    if chain.len() <= input.long_chain {
        return None;
    }
    let work: f64 = chain.iter().map(|&t| input.graph.hours(t)).sum();
    let ids = input.ids(chain);
    Some(Risk {
        kind: RiskKind::LongChain,
        level: if chain.len() > 2 * input.long_chain {
            Level::High
        } else {
            Level::Medium
        },
        message: format!(
            "{} tasks must run one after another ({} → … → {}, {} of work): a delay in any of them delays all that follow",
            chain.len(),
            ids[0],
            ids[ids.len() - 1],
            hours(work)
        ),
        mitigation: "Shorten the chain: drop dependencies that only express a preferred order, or split its longest tasks so parts can run in parallel.".to_string(),
        tasks: ids,
        agent: None,
    })
}

fn parallel_edits(input: &RiskInput<'_>) -> Vec<Risk> {
    let found = overlaps_summary(input.mission, input.graph, SHOWN_OVERLAPS);
    let mut risks: Vec<Risk> = found
        .shown
        .iter()
        .map(|overlap| parallel_edit(input, overlap))
        .collect();
    let rest = found.total - found.shown.len();
    if rest > 0 {
        let shown_declared = found.shown.iter().filter(|o| o.declared).count();
        let ids = input.ids(&found.tasks);
        risks.push(Risk {
            kind: RiskKind::ParallelEdits,
            level: if found.declared > shown_declared {
                Level::Medium
            } else {
                Level::Low
            },
            message: format!(
                "{rest} more {} of tasks may edit the same files at the same time ({} overlap in all: {})",
                if rest == 1 { "pair" } else { "pairs" },
                count(ids.len(), "task"),
                list(&ids)
            ),
            mitigation: "Order the tasks that share files with `depends_on`, or declare their `paths:` and set `mission.defaults.serialize_overlaps: true`.".to_string(),
            tasks: ids,
            agent: None,
        });
    }
    risks
}

fn parallel_edit(input: &RiskInput<'_>, overlap: &Overlap) -> Risk {
    const SHOWN: usize = 5;
    let (a, b) = (input.id(overlap.a), input.id(overlap.b));
    let mut paths = overlap
        .paths
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if overlap.paths.len() > SHOWN {
        paths.push_str(&format!(" and {} more", overlap.paths.len() - SHOWN));
    }
    let (level, message, mitigation) = if overlap.declared {
        (
            Level::Medium,
            format!("{a} and {b} may edit the same files at the same time: {paths}"),
            format!(
                "Add `depends_on: [{a}]` to {b}, or set `mission.defaults.serialize_overlaps: true` to run tasks whose `paths:` overlap one after another."
            ),
        )
    } else {
        (
            Level::Low,
            format!(
                "{a} and {b} may edit the same files at the same time: {paths} (guessed from their titles, descriptions and artifacts)"
            ),
            format!(
                "If they do, add `depends_on: [{a}]` to {b}, or list the files in both tasks' `paths:` and set `mission.defaults.serialize_overlaps: true`."
            ),
        )
    };
    Risk {
        kind: RiskKind::ParallelEdits,
        level,
        tasks: vec![a, b],
        agent: None,
        message,
        mitigation,
    }
}

fn unknown_agents(input: &RiskInput<'_>) -> Vec<Risk> {
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for &t in input.missing_agents {
        if let Some(name) = input
            .mission
            .tasks
            .get(t)
            .and_then(|task| task.agent.as_deref())
        {
            by_name.entry(name).or_default().push(t);
        }
    }
    by_name
        .into_iter()
        .map(|(name, mut tasks)| {
            tasks.sort_unstable();
            tasks.dedup();
            let critical = tasks.iter().any(|&t| input.graph.on_critical_path(t));
            let ids = input.ids(&tasks);
            Risk {
                kind: RiskKind::UnknownAgent,
                level: if critical { Level::High } else { Level::Medium },
                message: format!(
                    "no agent named `{name}` is in the library: {} will run on general-purpose with `{name}`'s role described in the prompt",
                    list(&ids)
                ),
                mitigation: format!(
                    "Add an agent file for `{name}` (e.g. .claude/agents/{name}.md), or set these tasks' `agent:` to an existing specialist."
                ),
                tasks: ids,
                agent: Some(name.to_string()),
            }
        })
        .collect()
}

fn no_estimate(input: &RiskInput<'_>) -> Option<Risk> {
    let tasks = input.graph.unestimated();
    if tasks.is_empty() {
        return None;
    }
    let critical = tasks.iter().any(|&t| input.graph.on_critical_path(t));
    let ids = input.ids(&tasks);
    Some(Risk {
        kind: RiskKind::NoEstimate,
        level: if critical { Level::Medium } else { Level::Low },
        message: format!(
            "{} without `estimate_hours` count as {} each in the critical path, schedule and deadline checks ({})",
            count(tasks.len(), "task"),
            hours(DEFAULT_ESTIMATE_HOURS),
            list(&ids)
        ),
        mitigation: "Add `estimate_hours:` to these tasks so the critical path and deadline checks rest on real numbers.".to_string(),
        tasks: ids,
        agent: None,
    })
}

fn no_gates(input: &RiskInput<'_>) -> Option<Risk> {
    let mission = input.mission;
    let tasks: Vec<usize> = (0..input.graph.len())
        .filter(|&t| {
            let phase_gated = input
                .graph
                .phase(t)
                .and_then(|p| mission.phases.get(p))
                .is_some_and(|p| !p.gates.is_empty());
            mission.tasks[t].gates.is_empty() && !phase_gated
        })
        .collect();
    if tasks.is_empty() {
        return None;
    }
    let important = tasks
        .iter()
        .any(|&t| mission.tasks[t].priority <= Priority::High);
    let ids = input.ids(&tasks);
    Some(Risk {
        kind: RiskKind::NoGates,
        level: if important { Level::Medium } else { Level::Low },
        message: format!(
            "{} have no gate and neither does their phase: nothing checks their work before others build on it ({})",
            count(tasks.len(), "task"),
            list(&ids)
        ),
        mitigation: "Add `gates:` to these tasks or to their phase: a command that runs the tests or linters, or a review by another agent.".to_string(),
        tasks: ids,
        agent: None,
    })
}

/// `3 h`, `2.5 h`.
pub(crate) fn hours(h: f64) -> String {
    if (h - h.round()).abs() < 0.05 {
        format!("{:.0} h", h.round())
    } else {
        format!("{h:.1} h")
    }
}

/// `1 task`, `3 tasks`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `` `a`, `b`, `c` `` and, past five, `and 4 more`.
pub(crate) fn list(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = ids
        .iter()
        .take(SHOWN)
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() > SHOWN {
        text.push_str(&format!(" and {} more", ids.len() - SHOWN));
    }
    text
}

/// A timestamp to the minute: `2026-03-01 17:00 UTC`.
pub(crate) fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::graph::fixture::{mission, with_phases};
    use crate::plan::schedule::{Limits, simulate};
    use crate::spec::Gate;

    fn now() -> Timestamp {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    fn in_hours(h: i64) -> Timestamp {
        now().checked_add(SignedDuration::from_hours(h)).unwrap()
    }

    fn gate() -> Gate {
        Gate::Command {
            name: None,
            run: "cargo test".to_string(),
            timeout: None,
        }
    }

    /// Gives every task a gate, an estimate and a backup, so that only
    /// the risk under test shows.
    fn safe(mut m: Mission) -> Mission {
        for task in &mut m.tasks {
            task.gates = vec![gate()];
            task.estimate_hours.get_or_insert(1.0);
            task.backup = Some("backup".to_string());
        }
        m
    }

    /// What a test sets on top of [`RiskInput::new`].
    struct Extra<'a> {
        assignments: &'a [Option<String>],
        agent_max_parallel: &'a dyn Fn(&str) -> Option<u32>,
        missing_agents: &'a [usize],
        long_chain: usize,
    }

    impl Default for Extra<'_> {
        fn default() -> Self {
            Extra {
                assignments: &[],
                agent_max_parallel: &no_limit,
                missing_agents: &[],
                long_chain: DEFAULT_LONG_CHAIN,
            }
        }
    }

    fn assess_with(m: &Mission, extra: Extra<'_>) -> Vec<Risk> {
        let g = Graph::new(m).unwrap();
        assess(&RiskInput {
            assignments: extra.assignments,
            agent_max_parallel: extra.agent_max_parallel,
            missing_agents: extra.missing_agents,
            long_chain: extra.long_chain,
            ..RiskInput::new(m, &g, now())
        })
    }

    fn kinds(risks: &[Risk]) -> Vec<(RiskKind, Level)> {
        risks.iter().map(|r| (r.kind, r.level)).collect()
    }

    fn chain(n: usize) -> Mission {
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        let deps: Vec<Vec<&str>> = (0..n)
            .map(|i| {
                if i == 0 {
                    vec![]
                } else {
                    vec![names[i - 1].as_str()]
                }
            })
            .collect();
        let tasks: Vec<(&str, &[&str], f64)> = (0..n)
            .map(|i| (names[i].as_str(), deps[i].as_slice(), 1.0))
            .collect();
        mission(&tasks)
    }

    #[test]
    fn a_safe_plan_has_no_risks() {
        let mut m = safe(chain(3));
        m.deadline = Some(in_hours(10));
        for task in &mut m.tasks {
            task.agent = Some("dev".to_string());
        }
        assert_eq!(assess_with(&m, Extra::default()), []);
    }

    #[test]
    fn single_point_of_failure() {
        let mut m = safe(mission(&[
            ("a", &[], 4.0),
            ("b", &["a"], 1.0),
            ("c", &[], 1.0),
        ]));
        for task in &mut m.tasks {
            task.agent = Some("dev".to_string());
        }
        m.tasks[0].backup = None;
        m.tasks[2].backup = None; // Not on the critical path.
        let risks = assess_with(&m, Extra::default());
        assert_eq!(
            kinds(&risks),
            [(RiskKind::SinglePointOfFailure, Level::High)]
        );
        assert_eq!(risks[0].tasks, ["a"]);
        assert_eq!(risks[0].agent.as_deref(), Some("dev"));
        assert!(
            risks[0].mitigation.contains("`backup:`"),
            "{}",
            risks[0].mitigation
        );

        // Under half the critical path: medium.
        m.tasks[0].backup = Some("backup".to_string());
        m.tasks[1].backup = None;
        assert_eq!(
            kinds(&assess_with(&m, Extra::default())),
            [(RiskKind::SinglePointOfFailure, Level::Medium)]
        );
        // A backup equal to the agent is no backup; assignments override
        // the file's agent.
        m.tasks[1].backup = Some("other".to_string());
        let assignments = [Some("other".to_string()), Some("other".to_string()), None];
        let risks = assess_with(
            &m,
            Extra {
                assignments: &assignments,
                ..Extra::default()
            },
        );
        assert_eq!(risks[0].agent.as_deref(), Some("other"));
        assert_eq!(risks[0].tasks, ["b"]);
    }

    #[test]
    fn over_allocation() {
        let mut m = safe(mission(&[
            ("a", &[], 6.0),
            ("b", &[], 6.0),
            ("c", &[], 1.0),
        ]));
        m.deadline = Some(in_hours(8));
        m.tasks[0].agent = Some("dev".to_string());
        m.tasks[1].agent = Some("dev".to_string());
        m.tasks[2].agent = Some("ops".to_string());
        // 12 h on dev, 8 h of capacity: 150 % is still high.
        let risks = assess_with(&m, Extra::default());
        assert_eq!(kinds(&risks), [(RiskKind::OverAllocation, Level::High)]);
        assert_eq!(risks[0].tasks, ["a", "b"]);
        assert!(
            risks[0].mitigation.contains("max_parallel` to 2"),
            "{}",
            risks[0].mitigation
        );
        // Two slots: 16 h of capacity.
        let two = |name: &str| (name == "dev").then_some(2);
        assert_eq!(
            assess_with(
                &m,
                Extra {
                    agent_max_parallel: &two,
                    ..Extra::default()
                }
            ),
            []
        );
        // Beyond 150 %: critical.
        m.deadline = Some(in_hours(7));
        assert_eq!(
            kinds(&assess_with(&m, Extra::default())),
            [(RiskKind::OverAllocation, Level::Critical)]
        );
        // No deadline: not assessed.
        m.deadline = None;
        assert_eq!(assess_with(&m, Extra::default()), []);
    }

    #[test]
    fn tasks_without_gates() {
        let mut m = safe(mission(&[
            ("a", &[], 1.0),
            ("b", &[], 1.0),
            ("c", &[], 1.0),
        ]));
        m.tasks[1].gates.clear();
        m.tasks[2].gates.clear();
        let mut m = with_phases(m, &[&[0, 1], &[2]]);
        // b's phase has no gate either; c's phase has one.
        m.phases[1].gates = vec![gate()];
        let risks = assess_with(&m, Extra::default());
        assert_eq!(kinds(&risks), [(RiskKind::NoGates, Level::Low)]);
        assert_eq!(risks[0].tasks, ["b"]);
        m.tasks[1].priority = Priority::High;
        assert_eq!(
            kinds(&assess_with(&m, Extra::default())),
            [(RiskKind::NoGates, Level::Medium)]
        );
        m.phases[0].gates = vec![gate()];
        assert_eq!(assess_with(&m, Extra::default()), []);
    }

    #[test]
    fn long_chains() {
        assert_eq!(assess_with(&safe(chain(5)), Extra::default()), []);
        let risks = assess_with(&safe(chain(6)), Extra::default());
        assert_eq!(kinds(&risks), [(RiskKind::LongChain, Level::Medium)]);
        assert_eq!(risks[0].tasks.len(), 6);
        assert!(
            risks[0]
                .message
                .starts_with("6 tasks must run one after another (t0 → … → t5")
        );
        assert_eq!(
            kinds(&assess_with(&safe(chain(11)), Extra::default())),
            [(RiskKind::LongChain, Level::High)]
        );
        assert_eq!(
            assess_with(
                &safe(chain(11)),
                Extra {
                    long_chain: 11,
                    ..Extra::default()
                }
            ),
            []
        );
    }

    #[test]
    fn parallel_edits() {
        let mut m = safe(mission(&[
            ("a", &[], 1.0),
            ("b", &[], 1.0),
            ("c", &["a"], 1.0),
            ("d", &[], 1.0),
        ]));
        m.tasks[0].paths = vec!["api/".to_string()];
        m.tasks[1].paths = vec!["api/users.rs".to_string()];
        m.tasks[2].paths = vec!["api/".to_string()];
        m.tasks[3].description = "Regenerate api/openapi.yaml".to_string();
        let risks = assess_with(&m, Extra::default());
        assert_eq!(
            kinds(&risks),
            [
                (RiskKind::ParallelEdits, Level::Medium),
                (RiskKind::ParallelEdits, Level::Medium),
                (RiskKind::ParallelEdits, Level::Low),
                (RiskKind::ParallelEdits, Level::Low),
            ]
        );
        assert_eq!(risks[0].tasks, ["a", "b"]);
        assert_eq!(
            risks[0].message,
            "a and b may edit the same files at the same time: api/users.rs"
        );
        assert!(
            risks[0].mitigation.contains(
                "Add `depends_on: [a]` to b, or set `mission.defaults.serialize_overlaps: true`"
            ),
            "{}",
            risks[0].mitigation
        );
        // c waits for a, so it overlaps only with b and d; b and d share
        // nothing.
        assert_eq!(risks[1].tasks, ["b", "c"]);
        assert_eq!(risks[2].tasks, ["a", "d"]);
        assert!(risks[2].message.contains("api/openapi.yaml (guessed"));
        assert!(
            risks[2]
                .mitigation
                .starts_with("If they do, add `depends_on: [a]` to d")
        );
        assert_eq!(risks[3].tasks, ["c", "d"]);
    }

    #[test]
    fn many_parallel_edits_are_counted_in_one_more_risk() {
        let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
        let tasks: Vec<(&str, &[&str], f64)> =
            names.iter().map(|n| (n.as_str(), &[][..], 1.0)).collect();
        let mut m = safe(mission(&tasks));
        for task in &mut m.tasks {
            task.paths = vec!["src/".to_string()];
        }
        // 8 tasks, 28 pairs: 10 shown, 18 counted.
        let risks = assess_with(&m, Extra::default());
        assert_eq!(risks.len(), 11);
        assert!(risks.iter().all(|r| r.kind == RiskKind::ParallelEdits));
        let rest = risks.iter().find(|r| r.tasks.len() == 8).unwrap();
        assert_eq!(rest.level, Level::Medium);
        assert!(
            rest.message
                .starts_with("18 more pairs of tasks may edit the same files"),
            "{}",
            rest.message
        );
        m.defaults.serialize_overlaps = true;
        let g = Graph::new(&m).unwrap();
        crate::plan::overlap::serialise(&mut m, &g);
        // One after another now: a long chain, but no parallel edits.
        assert_eq!(
            kinds(&assess_with(&m, Extra::default())),
            [(RiskKind::LongChain, Level::Medium)]
        );
    }

    #[test]
    fn tasks_without_estimates() {
        let mut m = safe(mission(&[("a", &[], 3.0), ("b", &[], 1.0)]));
        m.tasks[1].estimate_hours = None;
        let risks = assess_with(&m, Extra::default());
        assert_eq!(kinds(&risks), [(RiskKind::NoEstimate, Level::Low)]);
        assert_eq!(risks[0].tasks, ["b"]);
        assert!(
            risks[0].message.contains("count as 1 h"),
            "{}",
            risks[0].message
        );
        // On the critical path: medium.
        m.tasks[0].estimate_hours = None;
        let risks = assess_with(&m, Extra::default());
        assert_eq!(kinds(&risks), [(RiskKind::NoEstimate, Level::Medium)]);
        assert_eq!(risks[0].tasks, ["a", "b"]);
    }

    #[test]
    fn unknown_agents() {
        let mut m = safe(mission(&[
            ("a", &[], 5.0),
            ("b", &[], 1.0),
            ("c", &[], 1.0),
        ]));
        m.tasks[0].agent = Some("ghost".to_string());
        m.tasks[1].agent = Some("phantom".to_string());
        m.tasks[2].agent = Some("phantom".to_string());
        assert_eq!(assess_with(&m, Extra::default()), []);
        let missing = [2, 1, 0];
        let risks = assess_with(
            &m,
            Extra {
                missing_agents: &missing,
                ..Extra::default()
            },
        );
        assert_eq!(
            kinds(&risks),
            [
                (RiskKind::UnknownAgent, Level::High),
                (RiskKind::UnknownAgent, Level::Medium)
            ]
        );
        assert_eq!(risks[0].agent.as_deref(), Some("ghost"));
        assert_eq!(risks[1].tasks, ["b", "c"]);
        assert!(risks[1].mitigation.contains(".claude/agents/phantom.md"));
    }

    #[test]
    fn deadline_past_the_critical_path_is_critical() {
        let mut m = safe(chain(3));
        m.deadline = Some(in_hours(2));
        let risks = assess_with(&m, Extra::default());
        assert_eq!(
            kinds(&risks),
            [(RiskKind::DeadlineInfeasible, Level::Critical)]
        );
        assert_eq!(risks[0].tasks, ["t0", "t1", "t2"]);
        assert!(
            risks[0]
                .mitigation
                .starts_with("Move the deadline to 2026-01-01 03:00 UTC or later"),
            "{}",
            risks[0].mitigation
        );
        m.deadline = Some(in_hours(-1));
        let risks = assess_with(&m, Extra::default());
        assert_eq!(
            risks[0].message,
            "the deadline 2025-12-31 23:00 UTC passed 1 h ago"
        );
    }

    #[test]
    fn deadline_past_the_schedule_is_high() {
        // Four independent 2 h tasks: 2 h with unlimited slots, 8 h with one.
        let mut m = safe(mission(&[
            ("a", &[], 2.0),
            ("b", &[], 2.0),
            ("c", &[], 2.0),
            ("d", &[], 2.0),
        ]));
        m.deadline = Some(in_hours(5));
        let g = Graph::new(&m).unwrap();
        let no_limits = |_: &str| None;
        let limits = |p| Limits {
            max_parallel: p,
            agent_max_parallel: &no_limits,
        };
        let serial = simulate(&m, &g, &[], &limits(1));
        let risks = assess(&RiskInput {
            schedule: Some(&serial),
            ..RiskInput::new(&m, &g, now())
        });
        assert_eq!(kinds(&risks), [(RiskKind::DeadlineInfeasible, Level::High)]);
        assert_eq!(risks[0].tasks, ["c", "d"]);
        let parallel = simulate(&m, &g, &[], &limits(2));
        let input = RiskInput {
            schedule: Some(&parallel),
            ..RiskInput::new(&m, &g, now())
        };
        assert_eq!(assess(&input), []);
        // Without a schedule only the critical path counts.
        assert_eq!(assess(&RiskInput::new(&m, &g, now())), []);
    }

    #[test]
    fn risks_sort_by_level_then_kind_then_tasks() {
        let mut m = mission(&[("a", &[], -1.0), ("b", &[], 2.0)]);
        m.tasks[0].agent = Some("dev".to_string());
        m.tasks[1].agent = Some("dev".to_string());
        m.deadline = Some(in_hours(1));
        let risks = assess_with(&m, Extra::default());
        assert_eq!(
            kinds(&risks),
            [
                (RiskKind::DeadlineInfeasible, Level::Critical),
                (RiskKind::OverAllocation, Level::Critical),
                (RiskKind::SinglePointOfFailure, Level::High),
                (RiskKind::NoEstimate, Level::Low),
                (RiskKind::NoGates, Level::Low),
            ]
        );
    }

    #[test]
    fn serialises_with_kebab_kinds() {
        let risk = Risk {
            kind: RiskKind::SinglePointOfFailure,
            level: Level::High,
            tasks: vec!["a".to_string()],
            agent: None,
            message: String::new(),
            mitigation: String::new(),
        };
        let json = serde_json::to_value(&risk).unwrap();
        assert_eq!(json["kind"], "single-point-of-failure");
        assert_eq!(json["level"], "high");
        assert!(json.get("agent").is_none());
        assert_eq!(RiskKind::NoGates.to_string(), "no-gates");
    }
}
