//! The work a forecast covers: the tasks still to finish, what each waits
//! for, and the limits they run under, from a recorded plan (and, during
//! a run, its state).
//!
//! Finished tasks (succeeded, skipped, and failed or blocked ones, which
//! wait for the person and that nothing runs) drop out with their edges,
//! as in the server's outlook. Phases are kept as the graph keeps them:
//! a zero-hour barrier node between a phase and the previous non-empty
//! one, so that two phases of 5,000 tasks take 10,000 edges, not 25
//! million. Phase gates take no time here.

use crate::history::TaskKind;
use crate::plan::graph::DEFAULT_ESTIMATE_HOURS;
use crate::state::{MissionPlan, MissionState};
use jiff::Timestamp;
use std::collections::HashMap;

/// One task still to finish.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkTask {
    pub id: String,
    /// The mission file's `kind:`, else the one its texts suggest.
    pub kind: TaskKind,
    /// Its estimate, or [`DEFAULT_ESTIMATE_HOURS`] when it has none.
    pub estimate_hours: f64,
    pub estimated: bool,
    /// How long since its first attempt started, when it has started.
    pub elapsed_hours: f64,
}

/// The remaining work as a graph, ready to simulate.
#[derive(Debug, Clone)]
pub struct Work {
    pub tasks: Vec<WorkTask>,
    /// Per node (tasks first, then phase barriers): the nodes it waits for.
    pub(super) waits: Vec<u32>,
    /// Per node: where its successors start in `succs`; one more entry
    /// than there are nodes.
    pub(super) succ_start: Vec<u32>,
    pub(super) succs: Vec<u32>,
    pub(super) max_parallel: u32,
    /// Per task: its agent and executor, as indices into the limits.
    pub(super) agent_of: Vec<u32>,
    /// The agents' names, in the order of `agent_limit`: one copy of each
    /// name rather than one per task (10,000 strings fewer in each live
    /// forecast of a 10,000-task mission, made beside the run's state).
    agent_names: Vec<String>,
    pub(super) executor_of: Vec<u32>,
    pub(super) agent_limit: Vec<u32>,
    pub(super) executor_limit: Vec<u32>,
    /// Per task: its place in the dispatch order (priority, then the
    /// longest remaining path by estimate, then file order).
    pub(super) rank: Vec<u32>,
    /// Hours from now to the mission's deadline (negative once past).
    pub deadline_hours: Option<f64>,
    /// What the mission has spent so far.
    pub spent_usd: f64,
}

impl Work {
    /// Every task of a plan that has not run yet.
    pub fn planned(plan: &MissionPlan, now: Timestamp) -> Work {
        let fresh = |t: usize| {
            Some(Progress {
                agent: &plan.tasks[t].agent,
                elapsed_hours: 0.0,
            })
        };
        build(plan, fresh, now, 0.0)
    }

    /// What is left of a mission as of `now`.
    pub fn remaining(state: &MissionState, now: Timestamp) -> Work {
        let left = |t: usize| {
            let task = &state.tasks[t];
            if task.status.is_terminal() {
                return None;
            }
            let started = task.attempts.iter().filter_map(|a| a.started_at).min();
            Some(Progress {
                agent: &task.agent,
                elapsed_hours: started.map_or(0.0, |s| hours_between(s, now)),
            })
        };
        build(&state.plan, left, now, state.spent_usd)
    }

    /// The agent task `t` runs on now.
    pub fn agent(&self, t: usize) -> &str {
        &self.agent_names[self.agent_of[t] as usize]
    }

    pub fn node_count(&self) -> usize {
        self.waits.len()
    }

    pub(super) fn successors(&self, node: usize) -> &[u32] {
        &self.succs[self.succ_start[node] as usize..self.succ_start[node + 1] as usize]
    }
}

/// Hours from `from` to `to`, at least 0.
pub fn hours_between(from: Timestamp, to: Timestamp) -> f64 {
    (to.duration_since(from).as_secs_f64() / 3600.0).max(0.0)
}

struct Progress<'a> {
    agent: &'a str,
    elapsed_hours: f64,
}

fn build<'a>(
    plan: &'a MissionPlan,
    progress: impl Fn(usize) -> Option<Progress<'a>>,
    now: Timestamp,
    spent_usd: f64,
) -> Work {
    let left: Vec<Option<Progress>> = (0..plan.tasks.len()).map(progress).collect();
    // Plan index → work index, for the tasks still to finish.
    let mut index = vec![u32::MAX; plan.tasks.len()];
    let mut kept = Vec::new();
    for (t, p) in left.iter().enumerate() {
        if p.is_some() {
            index[t] = kept.len() as u32;
            kept.push(t);
        }
    }
    let preds = predecessors(plan, &index, kept.len());
    let n = kept.len();
    let waits: Vec<u32> = preds.iter().map(|p| p.len() as u32).collect();
    let mut succs: Vec<Vec<u32>> = vec![Vec::new(); preds.len()];
    for (node, list) in preds.iter().enumerate() {
        for &p in list {
            succs[p as usize].push(node as u32);
        }
    }
    let mut succ_start = Vec::with_capacity(succs.len() + 1);
    let mut flat = Vec::new();
    for list in &succs {
        succ_start.push(flat.len() as u32);
        flat.extend_from_slice(list);
    }
    succ_start.push(flat.len() as u32);

    let mut agents = Interner::default();
    let mut executors = Interner::default();
    let mut tasks = Vec::with_capacity(n);
    let (mut agent_of, mut executor_of) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for &t in &kept {
        let task = &plan.tasks[t];
        let progress = left[t].as_ref().expect("kept tasks have progress");
        let (estimate_hours, estimated) = match task.detail.estimate_hours {
            Some(h) if h.is_finite() && h >= 0.0 => (h, true),
            _ => (DEFAULT_ESTIMATE_HOURS, false),
        };
        agent_of.push(agents.get(progress.agent));
        executor_of.push(executors.get(&task.executor));
        tasks.push(WorkTask {
            id: task.id.clone(),
            kind: task
                .kind
                .unwrap_or_else(|| TaskKind::infer(&task.title, &task.description)),
            estimate_hours,
            estimated,
            elapsed_hours: progress.elapsed_hours,
        });
    }
    let limit = |limits: &[(String, u32)], name: &String| {
        limits
            .iter()
            .find(|(n, _)| n == name)
            .map_or(u32::MAX, |(_, l)| (*l).max(1))
    };
    Work {
        rank: ranks(plan, &kept),
        tasks,
        waits,
        succ_start,
        succs: flat,
        max_parallel: plan.max_parallel.max(1),
        agent_limit: agents
            .names
            .iter()
            .map(|a| limit(&plan.agent_limits, a))
            .collect(),
        executor_limit: executors
            .names
            .iter()
            .map(|e| limit(&plan.executor_limits, e))
            .collect(),
        agent_of,
        agent_names: agents.names,
        executor_of,
        deadline_hours: plan
            .deadline
            .map(|d| d.duration_since(now).as_secs_f64() / 3600.0),
        spent_usd,
    }
}

/// Per node: what it waits for. Tasks `0..n` wait for their unfinished
/// dependencies and for the barrier before their phase; a barrier waits
/// for the unfinished tasks of the previous non-empty phase.
fn predecessors(plan: &MissionPlan, index: &[u32], n: usize) -> Vec<Vec<u32>> {
    let ids: HashMap<&str, usize> = plan
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut preds: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut phase_tasks: Vec<Vec<usize>> = vec![Vec::new(); plan.phases.len()];
    for (t, task) in plan.tasks.iter().enumerate() {
        if let Some(p) = task.detail.phase.filter(|&p| p < phase_tasks.len()) {
            phase_tasks[p].push(t);
        }
        if index[t] == u32::MAX {
            continue;
        }
        preds[index[t] as usize] = task
            .depends_on
            .iter()
            .filter_map(|d| ids.get(d.as_str()).map(|&d| index[d]))
            .filter(|&d| d != u32::MAX)
            .collect();
    }
    let mut previous: Option<usize> = None;
    for p in 0..phase_tasks.len() {
        if phase_tasks[p].is_empty() {
            continue;
        }
        if let Some(before) = previous {
            let barrier = preds.len() as u32;
            preds.push(
                phase_tasks[before]
                    .iter()
                    .map(|&t| index[t])
                    .filter(|&t| t != u32::MAX)
                    .collect(),
            );
            for &t in &phase_tasks[p] {
                if index[t] != u32::MAX {
                    preds[index[t] as usize].push(barrier);
                }
            }
        }
        previous = Some(p);
    }
    preds
}

/// The dispatch order of the kept tasks, as `core::plan::schedule` and
/// the dispatcher order them.
fn ranks(plan: &MissionPlan, kept: &[usize]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..kept.len() as u32).collect();
    order.sort_by(|&a, &b| {
        let (ta, tb) = (&plan.tasks[kept[a as usize]], &plan.tasks[kept[b as usize]]);
        ta.priority
            .cmp(&tb.priority)
            .then(tb.remaining_hours.total_cmp(&ta.remaining_hours))
            .then(a.cmp(&b))
    });
    let mut rank = vec![0; kept.len()];
    for (r, &t) in order.iter().enumerate() {
        rank[t as usize] = r as u32;
    }
    rank
}

#[derive(Default)]
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u32>,
}

impl Interner {
    fn get(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }
}
