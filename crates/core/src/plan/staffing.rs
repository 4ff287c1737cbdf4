//! Staffing: which agent does each task, which agent backs it up, and why.
//!
//! A task that names an agent keeps it. A task naming an agent the library
//! lacks runs on the general-purpose agent, briefed with the context of
//! the specialists closest to what was asked for. A task naming none gets
//! the best-ranked agent, considering the work already handed out in this
//! plan so that near-equal specialists share the load.

use super::assign::{AssignContext, Candidate, DEFAULT_LIMIT, HISTORY_REASON, Ranker};
use super::graph::Graph;
use crate::agents::{Library, Resolution};
use crate::history::TaskKind;
use crate::spec::Mission;
use serde::Serialize;

/// Scores below this are noise: nobody in the library matches.
const MIN_SCORE: f64 = 0.05;
/// A runner-up is worth suggesting as backup when it scores at least this
/// share of the winner.
const BACKUP_SHARE: f64 = 0.5;
/// How many candidates a plan keeps per task for `--json` readers.
const KEPT_CANDIDATES: usize = 3;

/// How a task's agent was chosen.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Choice {
    /// The mission file names the agent.
    Named,
    /// The planner ranked the library and picked the best match.
    Ranked { score: f64 },
    /// The named agent does not exist; the general-purpose agent runs the
    /// task with these specialists' context.
    Fallback {
        requested: String,
        context_from: Vec<String>,
    },
    /// No agent matches the task at all; the general-purpose agent runs it.
    Unmatched,
}

/// Who does one task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Staffing {
    pub agent: String,
    pub choice: Choice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    /// True when the backup is the planner's suggestion, not the file's.
    pub backup_suggested: bool,
    /// One sentence a person can check.
    pub why: String,
    /// The best candidates the ranker saw, best first.
    pub candidates: Vec<Candidate>,
}

/// Staffs every task of `mission` (index = task), in dependency order so
/// that the load seen by each choice is the load of the work before it.
pub fn staff(
    mission: &Mission,
    graph: &Graph,
    library: &Library,
    context: &AssignContext,
) -> Vec<Staffing> {
    let ranker = Ranker::new(library.agents());
    let kept = KEPT_CANDIDATES;
    staff_keeping(mission, graph, library, &ranker, context, kept, |s| s)
}

/// Only the agent of each task (index = task), as [`staff`] chooses it:
/// what a run needs, without the candidates and reasons a plan shows.
/// Each task's agent, and for a task whose named agent is missing, that
/// name and the specialists whose context the stand-in gets.
pub fn agents(
    mission: &Mission,
    graph: &Graph,
    library: &Library,
    context: &AssignContext,
) -> Vec<(String, Option<crate::state::StandIn>)> {
    let ranker = Ranker::new(library.agents());
    staff_keeping(mission, graph, library, &ranker, context, 0, |s| {
        let stand_in = match s.choice {
            Choice::Fallback {
                requested,
                context_from,
            } => Some(crate::state::StandIn {
                requested,
                context_from,
            }),
            _ => None,
        };
        (s.agent, stand_in)
    })
}

/// Staffs every task and keeps what `keep` takes of each choice, with
/// reasons for the first `explained` candidates (the choice itself does
/// not depend on them).
pub(super) fn staff_keeping<T>(
    mission: &Mission,
    graph: &Graph,
    library: &Library,
    ranker: &Ranker,
    context: &AssignContext,
    explained: usize,
    mut keep: impl FnMut(Staffing) -> T,
) -> Vec<T> {
    let mut context = context.clone();
    let mut staffed: Vec<Option<T>> = std::iter::repeat_with(|| None)
        .take(mission.tasks.len())
        .collect();
    for &task in graph.topological_order() {
        let staffing = staff_one(mission, task, library, ranker, &context, explained);
        match context.load.get_mut(&staffing.agent) {
            Some(load) => *load += 1,
            None => {
                context.load.insert(staffing.agent.clone(), 1);
            }
        }
        staffed[task] = Some(keep(staffing));
    }
    staffed
        .into_iter()
        .map(|s| s.expect("the topological order covers every task"))
        .collect()
}

/// The load each agent had when [`staff`] reached each task, so that one
/// task can be staffed again, alone, exactly as it was then.
pub(super) struct Replay {
    context: AssignContext,
    /// Per task: its place in the topological order.
    position: Vec<usize>,
    /// Per agent: the places of its tasks, in order.
    tasks_of: Vec<(String, Vec<usize>)>,
}

impl Replay {
    /// `agents[t]` is the agent [`staff`] chose for task `t` with
    /// `context`.
    pub(super) fn new(graph: &Graph, agents: Vec<String>, context: &AssignContext) -> Replay {
        let mut position = vec![0; agents.len()];
        for (place, &task) in graph.topological_order().iter().enumerate() {
            position[task] = place;
        }
        let mut tasks_of: Vec<(String, Vec<usize>)> = Vec::new();
        for (task, agent) in agents.into_iter().enumerate() {
            match tasks_of.iter_mut().find(|(name, _)| *name == agent) {
                Some((_, places)) => places.push(position[task]),
                None => tasks_of.push((agent, vec![position[task]])),
            }
        }
        for (_, places) in &mut tasks_of {
            places.sort_unstable();
        }
        Replay {
            context: context.clone(),
            position,
            tasks_of,
        }
    }

    /// Staffs `task` as [`staff`] did.
    pub(super) fn staff(
        &self,
        mission: &Mission,
        task: usize,
        library: &Library,
        ranker: &Ranker,
    ) -> Staffing {
        let mut context = self.context.clone();
        for (agent, places) in &self.tasks_of {
            let before = places.partition_point(|&p| p < self.position[task]) as u32;
            if before > 0 {
                *context.load.entry(agent.clone()).or_default() += before;
            }
        }
        staff_one(mission, task, library, ranker, &context, KEPT_CANDIDATES)
    }
}

fn staff_one(
    mission: &Mission,
    task_index: usize,
    library: &Library,
    ranker: &Ranker,
    context: &AssignContext,
    explained: usize,
) -> Staffing {
    let task = &mission.tasks[task_index];
    let kind = task
        .kind
        .unwrap_or_else(|| TaskKind::infer(&task.title, &task.description));
    let mut candidates =
        ranker.rank_kind(&task.text(), Some(kind), context, DEFAULT_LIMIT, explained);
    candidates.retain(|c| c.score >= MIN_SCORE);
    let mut staffing = match task.agent.as_deref().map(|name| library.resolve(name)) {
        Some(Resolution::Found(agent)) => Staffing {
            agent: agent.name.clone(),
            choice: Choice::Named,
            backup: None,
            backup_suggested: false,
            why: "named in the mission".to_string(),
            candidates: Vec::new(),
        },
        Some(Resolution::Fallback {
            agent, requested, ..
        }) => {
            let context_from = specialists_like(ranker, requested, &task.text(), context);
            let why = match context_from.as_slice() {
                [] => format!(
                    "`{requested}` is not in the library; the general-purpose agent runs it"
                ),
                names => format!(
                    "`{requested}` is not in the library; the general-purpose agent runs it with the context of {}",
                    names.join(" and ")
                ),
            };
            Staffing {
                agent: agent.name.clone(),
                choice: Choice::Fallback {
                    requested: requested.to_string(),
                    context_from,
                },
                backup: None,
                backup_suggested: false,
                why,
                candidates: Vec::new(),
            }
        }
        None => match candidates.first() {
            Some(best) => Staffing {
                agent: best.name.clone(),
                choice: Choice::Ranked { score: best.score },
                backup: None,
                backup_suggested: false,
                why: ranked_why(best),
                candidates: Vec::new(),
            },
            None => Staffing {
                agent: library.general_purpose().name.clone(),
                choice: Choice::Unmatched,
                backup: None,
                backup_suggested: false,
                why: "no agent in the library matches this task; the general-purpose agent runs it"
                    .to_string(),
                candidates: Vec::new(),
            },
        },
    };
    staffing.backup = task.backup.clone();
    if staffing.backup.is_none() {
        staffing.backup = suggest_backup(&candidates, &staffing.agent);
        staffing.backup_suggested = staffing.backup.is_some();
    }
    candidates.truncate(KEPT_CANDIDATES);
    candidates.shrink_to_fit();
    staffing.candidates = candidates;
    staffing
}

/// The score, the strongest text reason and, when history weighed in,
/// what it said.
fn ranked_why(best: &Candidate) -> String {
    let mut why = format!("best match ({:.2})", best.score);
    if let Some(reason) = best.reasons.first() {
        why.push_str(": ");
        why.push_str(reason);
    }
    let mut later = best.reasons.iter().skip(1);
    if let Some(reason) = later.find(|r| r.starts_with(HISTORY_REASON)) {
        why.push_str("; ");
        why.push_str(reason);
    }
    why
}

/// The runner-up other than `agent`, when it is close enough to stand in.
fn suggest_backup(candidates: &[Candidate], agent: &str) -> Option<String> {
    let best = candidates.first()?.score;
    candidates
        .iter()
        .find(|c| c.name != agent && c.score >= best * BACKUP_SHARE)
        .map(|c| c.name.clone())
}

/// The two specialists closest to a missing agent's name and the task.
fn specialists_like(
    ranker: &Ranker,
    requested: &str,
    task_text: &str,
    context: &AssignContext,
) -> Vec<String> {
    let query = format!("{} {task_text}", requested.replace(['-', '_'], " "));
    ranker
        .rank_explained(&query, context, DEFAULT_LIMIT, 0)
        .into_iter()
        .filter(|c| c.score >= MIN_SCORE)
        .take(2)
        .map(|c| c.name)
        .collect()
}
