//! The dependency graph of a mission: which task waits for which, the waves
//! tasks can run in, and the critical path.
//!
//! Edges come from two places:
//!
//! - **explicit** `depends_on` entries, by task ID (unknown IDs are skipped
//!   here; validation reports them);
//! - **implicit phase edges**: every task of a phase waits for every task of
//!   the previous non-empty phase, because that phase's gates sit between
//!   them. Tasks outside any phase get no implicit edges.
//!
//! Implicit edges are not stored one by one (two phases of 5,000 tasks would
//! make 25 million): each phase boundary is a zero-hour *barrier* node inside
//! the graph that waits for the earlier phase and that the later phase waits
//! for. The public API speaks only of task indices into
//! [`Mission::tasks`]; barriers never show.
//!
//! A missing (or negative, or not finite) estimate counts as
//! [`DEFAULT_ESTIMATE_HOURS`] and is flagged, so callers can say that a
//! number rests on a default. The rules are described for people in
//! docs/planning.md.

use crate::spec::Mission;
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::fmt;

/// Hours a task without a usable `estimate_hours` counts for.
pub const DEFAULT_ESTIMATE_HOURS: f64 = 1.0;

/// Why one task waits for another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum EdgeKind {
    /// The task lists the other in `depends_on`.
    Explicit,
    /// The task is in phase `later`, the other in phase `earlier` (indices
    /// into [`Mission::phases`]), and phases run in order.
    Phase { earlier: usize, later: usize },
}

/// A dependency cycle: `tasks[i]` waits for `tasks[i + 1]`, and the last
/// task waits for the first. The first task is the smallest index of the
/// cycle; a task that depends on itself is a cycle of one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cycle {
    /// Task indices, in cycle order.
    pub tasks: Vec<usize>,
    /// The task IDs, same order.
    pub ids: Vec<String>,
    /// `links[i]`: why `tasks[i]` waits for the next task.
    pub links: Vec<EdgeKind>,
}

impl Cycle {
    /// One cycle of `mission`, if there is any, considering explicit and
    /// implicit phase edges. Deterministic: the search starts from the
    /// lowest task index and follows dependencies in file order.
    pub fn find(mission: &Mission) -> Option<Cycle> {
        let nodes = Nodes::build(mission);
        nodes.cycle().map(|path| nodes.describe(mission, &path))
    }

    /// True when at least one link is a phase edge: the cycle exists
    /// because a task depends on a task of a later phase.
    pub fn through_phases(&self) -> bool {
        self.links
            .iter()
            .any(|l| matches!(l, EdgeKind::Phase { .. }))
    }
}

/// `a → b → c → a`, with the phase links named.
impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, id) in self.ids.iter().enumerate() {
            f.write_str(id)?;
            match self.links[i] {
                EdgeKind::Explicit => f.write_str(" → ")?,
                EdgeKind::Phase { earlier, later } => write!(
                    f,
                    " → (phase {} runs after phase {}) → ",
                    later + 1,
                    earlier + 1
                )?,
            }
        }
        f.write_str(&self.ids[0])
    }
}

impl std::error::Error for Cycle {}

/// One cycle as task indices in order (see [`Cycle`]), or `None` when the
/// mission's dependencies, phase order included, form no cycle.
pub fn find_cycle(mission: &Mission) -> Option<Vec<usize>> {
    Cycle::find(mission).map(|c| c.tasks)
}

/// The longest path through the graph by estimated hours.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CriticalPath {
    /// Task indices from first to last.
    pub tasks: Vec<usize>,
    /// Total hours along the path: the earliest the mission can finish with
    /// unlimited parallelism.
    pub hours: f64,
    /// Tasks on the path that have no estimate and count as
    /// [`DEFAULT_ESTIMATE_HOURS`].
    pub unestimated: Vec<usize>,
}

/// The dependency graph of a mission, free of cycles.
#[derive(Debug, Clone)]
pub struct Graph {
    nodes: Nodes,
    /// Per node: the nodes that wait for it.
    succs: Vec<Vec<usize>>,
    /// Per task: the tasks that list it in `depends_on`.
    dependents: Vec<Vec<usize>>,
    /// Tasks in a topological order (dependencies first).
    order: Vec<usize>,
    hours: Vec<f64>,
    estimated: Vec<bool>,
    /// Per node, with unlimited parallelism.
    earliest_start: Vec<f64>,
    /// Per node: the longest path in hours from its start to the end.
    remaining: Vec<f64>,
    wave: Vec<usize>,
    critical: CriticalPath,
    on_critical: Vec<bool>,
    chain: Vec<usize>,
}

impl Graph {
    /// Builds the graph, or returns the cycle that makes it impossible.
    pub fn new(mission: &Mission) -> Result<Graph, Cycle> {
        let nodes = Nodes::build(mission);
        let total = nodes.preds.len();
        let mut succs = vec![Vec::new(); total];
        for (node, preds) in nodes.preds.iter().enumerate() {
            for &p in preds {
                succs[p].push(node);
            }
        }
        let mut waiting: Vec<usize> = nodes.preds.iter().map(Vec::len).collect();
        let mut queue: VecDeque<usize> = (0..total).filter(|&v| waiting[v] == 0).collect();
        let mut node_order = Vec::with_capacity(total);
        while let Some(v) = queue.pop_front() {
            node_order.push(v);
            for &s in &succs[v] {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    queue.push_back(s);
                }
            }
        }
        if node_order.len() < total {
            let path = nodes
                .cycle()
                .expect("a graph without a topological order has a cycle");
            return Err(nodes.describe(mission, &path));
        }

        let n = nodes.tasks;
        let mut dependents = vec![Vec::new(); n];
        for (task, deps) in nodes.explicit.iter().enumerate() {
            for &d in deps {
                dependents[d].push(task);
            }
        }
        let (hours, estimated): (Vec<f64>, Vec<bool>) = mission
            .tasks
            .iter()
            .map(|t| match t.estimate_hours {
                Some(h) if h.is_finite() && h >= 0.0 => (h, true),
                _ => (DEFAULT_ESTIMATE_HOURS, false),
            })
            .unzip();
        let weight_hours: Vec<f64> = (0..total)
            .map(|v| if v < n { hours[v] } else { 0.0 })
            .collect();
        let weight_count: Vec<f64> = (0..total).map(|v| if v < n { 1.0 } else { 0.0 }).collect();

        let mut graph = Graph {
            order: node_order.iter().copied().filter(|&v| v < n).collect(),
            nodes,
            succs,
            dependents,
            hours,
            estimated,
            earliest_start: Vec::new(),
            remaining: Vec::new(),
            wave: Vec::new(),
            critical: CriticalPath {
                tasks: Vec::new(),
                hours: 0.0,
                unestimated: Vec::new(),
            },
            on_critical: vec![false; n],
            chain: Vec::new(),
        };
        graph.earliest_start = graph.forward(&node_order, &weight_hours);
        // Counting weights are whole numbers well inside f64's exact range.
        graph.wave = graph.forward(&node_order, &weight_count)[..n]
            .iter()
            .map(|&w| w as usize)
            .collect();
        graph.remaining = graph.backward(&node_order, &weight_hours);
        let path = graph.longest_path(&graph.remaining);
        let chain_remaining = graph.backward(&node_order, &weight_count);
        graph.chain = graph.longest_path(&chain_remaining);
        for &t in &path {
            graph.on_critical[t] = true;
        }
        graph.critical = CriticalPath {
            hours: path.first().map_or(0.0, |&t| graph.remaining[t]),
            unestimated: path
                .iter()
                .copied()
                .filter(|&t| !graph.estimated[t])
                .collect(),
            tasks: path,
        };
        Ok(graph)
    }

    /// The number of tasks.
    pub fn len(&self) -> usize {
        self.nodes.tasks
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.tasks == 0
    }

    /// The tasks `task` lists in `depends_on` (known IDs only, without
    /// repeats, in file order).
    pub fn dependencies(&self, task: usize) -> &[usize] {
        &self.nodes.explicit[task]
    }

    /// The tasks that list `task` in `depends_on`, in file order.
    pub fn dependents(&self, task: usize) -> &[usize] {
        &self.dependents[task]
    }

    /// The tasks `task` waits for because of the phase order: every task of
    /// the previous non-empty phase. Empty outside phases and in the first
    /// phase.
    pub fn phase_dependencies(&self, task: usize) -> &[usize] {
        match self.nodes.barrier_of(task) {
            Some(b) => &self.nodes.preds[b],
            None => &[],
        }
    }

    /// Every task `task` waits for directly, with the reason: explicit
    /// dependencies first, then phase ones. A task can appear twice when it
    /// is both.
    pub fn all_dependencies(&self, task: usize) -> impl Iterator<Item = (usize, EdgeKind)> + '_ {
        let explicit = self
            .dependencies(task)
            .iter()
            .map(|&d| (d, EdgeKind::Explicit));
        let phase = self.nodes.barrier_of(task).into_iter().flat_map(move |b| {
            let (earlier, later) = self.nodes.barriers[b - self.nodes.tasks];
            self.nodes.preds[b]
                .iter()
                .map(move |&d| (d, EdgeKind::Phase { earlier, later }))
        });
        explicit.chain(phase)
    }

    /// The phase `task` belongs to (index into [`Mission::phases`]).
    pub fn phase(&self, task: usize) -> Option<usize> {
        self.nodes.phase_of[task]
    }

    /// The hours `task` counts for: its estimate, or the default.
    pub fn hours(&self, task: usize) -> f64 {
        self.hours[task]
    }

    /// False when `task` has no usable estimate and counts as
    /// [`DEFAULT_ESTIMATE_HOURS`].
    pub fn is_estimated(&self, task: usize) -> bool {
        self.estimated[task]
    }

    /// Tasks without a usable estimate, in file order.
    pub fn unestimated(&self) -> Vec<usize> {
        (0..self.len()).filter(|&t| !self.estimated[t]).collect()
    }

    /// Every task, dependencies before dependents.
    pub fn topological_order(&self) -> &[usize] {
        &self.order
    }

    /// The wave of `task`: 0 when it waits for nothing, else one more than
    /// the highest wave it waits for (phase order included).
    pub fn wave(&self, task: usize) -> usize {
        self.wave[task]
    }

    /// Tasks grouped by wave, each wave in file order. The tasks of a wave
    /// can all run at once once the earlier waves are done.
    pub fn waves(&self) -> Vec<Vec<usize>> {
        let count = self.wave.iter().max().map_or(0, |&w| w + 1);
        let mut waves = vec![Vec::new(); count];
        for (task, &w) in self.wave.iter().enumerate() {
            waves[w].push(task);
        }
        waves
    }

    /// The longest path by hours. Ties go to the lower task index.
    pub fn critical_path(&self) -> &CriticalPath {
        &self.critical
    }

    /// True when `task` is on [`Graph::critical_path`].
    pub fn on_critical_path(&self, task: usize) -> bool {
        self.on_critical[task]
    }

    /// The hour the whole mission can finish with unlimited parallelism:
    /// the critical path's hours.
    pub fn earliest_finish(&self) -> f64 {
        self.critical.hours
    }

    /// The hour `task` can start at the earliest, with unlimited
    /// parallelism.
    pub fn earliest_start(&self, task: usize) -> f64 {
        self.earliest_start[task]
    }

    /// The hour `task` can finish at the earliest, with unlimited
    /// parallelism.
    pub fn earliest_finish_of(&self, task: usize) -> f64 {
        self.earliest_start[task] + self.hours[task]
    }

    /// The longest path in hours from the start of `task` to the end of the
    /// mission, `task` included. The scheduler runs long tails first.
    pub fn remaining_hours(&self, task: usize) -> f64 {
        self.remaining[task]
    }

    /// How many hours `task` can slip without delaying the mission (with
    /// unlimited parallelism). Zero on the critical path.
    pub fn slack(&self, task: usize) -> f64 {
        (self.critical.hours - self.earliest_start[task] - self.remaining[task]).max(0.0)
    }

    /// The longest chain by number of tasks, first to last: these run one
    /// after another whatever the parallelism. Ties go to the lower index.
    pub fn longest_chain(&self) -> &[usize] {
        &self.chain
    }

    /// The number of tasks in [`Graph::longest_chain`].
    pub fn longest_chain_len(&self) -> usize {
        self.chain.len()
    }

    /// Tasks plus barriers; node `v < len()` is task `v`.
    pub(crate) fn node_count(&self) -> usize {
        self.nodes.preds.len()
    }

    /// How many nodes `node` waits for.
    pub(crate) fn node_waits_for(&self, node: usize) -> usize {
        self.nodes.preds[node].len()
    }

    /// The nodes that wait for `node`.
    pub(crate) fn node_successors(&self, node: usize) -> &[usize] {
        &self.succs[node]
    }

    /// Longest-path start per node over `node_order`.
    fn forward(&self, node_order: &[usize], weight: &[f64]) -> Vec<f64> {
        let mut start = vec![0.0_f64; node_order.len()];
        for &v in node_order {
            let finish = start[v] + weight[v];
            for &s in &self.succs[v] {
                start[s] = start[s].max(finish);
            }
        }
        start
    }

    /// Longest path from each node's start to the end, the node included.
    fn backward(&self, node_order: &[usize], weight: &[f64]) -> Vec<f64> {
        let mut remaining = vec![0.0_f64; node_order.len()];
        for &v in node_order.iter().rev() {
            let tail = self.succs[v]
                .iter()
                .map(|&s| remaining[s])
                .fold(0.0, f64::max);
            remaining[v] = weight[v] + tail;
        }
        remaining
    }

    /// Follows the largest `remaining` from the best starting task to the
    /// end; returns the tasks on the way. Ties go to the lower node.
    fn longest_path(&self, remaining: &[f64]) -> Vec<usize> {
        let n = self.len();
        // With non-negative weights a task that waits for nothing starts
        // every longest path.
        let mut best: Option<usize> = None;
        for t in (0..n).filter(|&t| self.nodes.preds[t].is_empty()) {
            if best.is_none_or(|b| remaining[t] > remaining[b]) {
                best = Some(t);
            }
        }
        let mut path = Vec::new();
        let mut at = best;
        while let Some(v) = at {
            if v < n {
                path.push(v);
            }
            at = None;
            for &s in &self.succs[v] {
                if at.is_none_or(|b| {
                    remaining[s] > remaining[b] || (remaining[s] == remaining[b] && s < b)
                }) {
                    at = Some(s);
                }
            }
        }
        path
    }
}

/// The graph's nodes and what each waits for: tasks first (node `t` is
/// task `t`), then one barrier per phase boundary.
#[derive(Debug, Clone)]
struct Nodes {
    tasks: usize,
    /// Per task: explicit dependencies.
    explicit: Vec<Vec<usize>>,
    /// Per task: its phase, if any.
    phase_of: Vec<Option<usize>>,
    /// Per phase: the barrier node its tasks wait for.
    barrier_before: Vec<Option<usize>>,
    /// Per barrier (node `tasks + i`): (earlier phase, later phase).
    barriers: Vec<(usize, usize)>,
    /// Per node: the nodes it waits for. Tasks list explicit dependencies,
    /// then their phase's barrier; barriers list the earlier phase's tasks.
    preds: Vec<Vec<usize>>,
}

impl Nodes {
    fn build(mission: &Mission) -> Nodes {
        let n = mission.tasks.len();
        let mut index: HashMap<&str, usize> = HashMap::with_capacity(n);
        for (i, task) in mission.tasks.iter().enumerate() {
            // A duplicated ID resolves to its first task; validation
            // reports the duplicate.
            index.entry(task.id.as_str()).or_insert(i);
        }
        let mut seen = vec![usize::MAX; n];
        let explicit: Vec<Vec<usize>> = mission
            .tasks
            .iter()
            .enumerate()
            .map(|(i, task)| {
                let mut deps = Vec::with_capacity(task.depends_on.len());
                for id in &task.depends_on {
                    match index.get(id.as_str()) {
                        Some(&d) if seen[d] != i => {
                            seen[d] = i;
                            deps.push(d);
                        }
                        _ => {}
                    }
                }
                deps
            })
            .collect();

        let phases = mission.phases.len();
        let mut phase_of: Vec<Option<usize>> = mission
            .tasks
            .iter()
            .map(|t| t.phase.filter(|&p| p < phases))
            .collect();
        for (p, phase) in mission.phases.iter().enumerate() {
            for &t in &phase.tasks {
                if t < n && phase_of[t].is_none() {
                    phase_of[t] = Some(p);
                }
            }
        }
        let mut members = vec![Vec::new(); phases];
        for (t, p) in phase_of.iter().enumerate() {
            if let Some(p) = *p {
                members[p].push(t);
            }
        }

        let mut barrier_before = vec![None; phases];
        let mut barriers = Vec::new();
        let mut barrier_preds = Vec::new();
        let mut last: Option<usize> = None;
        for p in 0..phases {
            if members[p].is_empty() {
                continue;
            }
            if let Some(earlier) = last {
                barrier_before[p] = Some(n + barriers.len());
                barriers.push((earlier, p));
                barrier_preds.push(std::mem::take(&mut members[earlier]));
            }
            last = Some(p);
        }

        let mut preds: Vec<Vec<usize>> = explicit.clone();
        for (t, deps) in preds.iter_mut().enumerate() {
            if let Some(b) = phase_of[t].and_then(|p| barrier_before[p]) {
                deps.push(b);
            }
        }
        preds.extend(barrier_preds);
        Nodes {
            tasks: n,
            explicit,
            phase_of,
            barrier_before,
            barriers,
            preds,
        }
    }

    fn barrier_of(&self, task: usize) -> Option<usize> {
        self.phase_of[task].and_then(|p| self.barrier_before[p])
    }

    /// A cycle as nodes, each waiting for the next, found by a depth-first
    /// search from the lowest node following `preds` in order.
    fn cycle(&self) -> Option<Vec<usize>> {
        const NEW: u8 = 0;
        const OPEN: u8 = 1;
        const DONE: u8 = 2;
        let total = self.preds.len();
        let mut state = vec![NEW; total];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for start in 0..total {
            if state[start] != NEW {
                continue;
            }
            state[start] = OPEN;
            stack.push((start, 0));
            while let Some(top) = stack.last_mut() {
                let (v, next) = *top;
                let Some(&w) = self.preds[v].get(next) else {
                    state[v] = DONE;
                    stack.pop();
                    continue;
                };
                top.1 += 1;
                match state[w] {
                    NEW => {
                        state[w] = OPEN;
                        stack.push((w, 0));
                    }
                    OPEN => {
                        let from = stack
                            .iter()
                            .position(|&(x, _)| x == w)
                            .expect("open nodes are on the stack");
                        return Some(stack[from..].iter().map(|&(x, _)| x).collect());
                    }
                    _ => {}
                }
            }
        }
        None
    }

    /// Turns a cycle of nodes into a [`Cycle`] of tasks starting at its
    /// lowest task.
    fn describe(&self, mission: &Mission, path: &[usize]) -> Cycle {
        let mut tasks = Vec::new();
        let mut links = Vec::new();
        for (i, &v) in path.iter().enumerate() {
            if v >= self.tasks {
                continue;
            }
            let next = path[(i + 1) % path.len()];
            tasks.push(v);
            links.push(if next >= self.tasks {
                let (earlier, later) = self.barriers[next - self.tasks];
                EdgeKind::Phase { earlier, later }
            } else {
                EdgeKind::Explicit
            });
        }
        let first = (0..tasks.len()).min_by_key(|&i| tasks[i]).unwrap_or(0);
        tasks.rotate_left(first);
        links.rotate_left(first);
        Cycle {
            ids: tasks.iter().map(|&t| mission.tasks[t].id.clone()).collect(),
            tasks,
            links,
        }
    }
}

/// Mission values for tests, built directly (no parser involved).
#[cfg(test)]
pub(crate) mod fixture {
    use crate::priority::Priority;
    use crate::spec::{Defaults, Mission, Phase, Task};

    /// A task with only an ID set.
    pub fn task(id: &str) -> Task {
        Task {
            id: id.to_string(),
            id_assigned: false,
            title: id.to_string(),
            description: String::new(),
            agent: None,
            backup: None,
            priority: Priority::Medium,
            kind: None,
            depends_on: Vec::new(),
            external: Vec::new(),
            estimate_hours: None,
            timeout: None,
            retries: None,
            executor: None,
            command: None,
            gates: Vec::new(),
            acceptance: Vec::new(),
            artifacts: Vec::new(),
            needs: Vec::new(),
            paths: Vec::new(),
            labels: Vec::new(),
            budget: None,
            phase: None,
            spans: Default::default(),
        }
    }

    /// A mission of `(id, depends_on, estimate_hours)` tasks; a negative
    /// estimate means none.
    pub fn mission(tasks: &[(&str, &[&str], f64)]) -> Mission {
        Mission {
            name: "test".to_string(),
            objective: String::new(),
            project_type: None,
            standing: Default::default(),
            deadline: None,
            budget: None,
            repository: None,
            merge: None,
            on_conflict: None,
            wip_limit: None,
            agents: Vec::new(),
            defaults: Defaults::default(),
            phases: Vec::new(),
            tasks: tasks
                .iter()
                .map(|(id, deps, hours)| Task {
                    depends_on: deps.iter().map(|d| d.to_string()).collect(),
                    estimate_hours: (*hours >= 0.0).then_some(*hours),
                    ..task(id)
                })
                .collect(),
            done_when: Vec::new(),
            webhooks: Vec::new(),
            priority: None,
        }
    }

    /// Puts tasks into phases: `phases[p]` lists the task indices of phase
    /// `p`.
    pub fn with_phases(mut mission: Mission, phases: &[&[usize]]) -> Mission {
        for (p, tasks) in phases.iter().enumerate() {
            for &t in *tasks {
                mission.tasks[t].phase = Some(p);
            }
            mission.phases.push(Phase {
                name: format!("phase-{}", p + 1),
                description: String::new(),
                gates: Vec::new(),
                tasks: tasks.to_vec(),
                span: Default::default(),
            });
        }
        mission
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{mission, with_phases};
    use super::*;

    fn ids(mission: &Mission, tasks: &[usize]) -> Vec<String> {
        tasks.iter().map(|&t| mission.tasks[t].id.clone()).collect()
    }

    #[test]
    fn no_cycle_in_a_dag() {
        let m = mission(&[("a", &[], 1.0), ("b", &["a"], 1.0), ("c", &["a", "b"], 1.0)]);
        assert_eq!(find_cycle(&m), None);
        assert!(Graph::new(&m).is_ok());
    }

    #[test]
    fn cycle_is_printed_in_order_from_the_smallest_task() {
        // x is outside the cycle; c → a → b → c, each waiting for the next.
        let m = mission(&[
            ("x", &[], 1.0),
            ("c", &["a"], 1.0),
            ("a", &["b"], 1.0),
            ("b", &["c"], 1.0),
        ]);
        assert_eq!(find_cycle(&m), Some(vec![1, 2, 3]));
        let cycle = Cycle::find(&m).unwrap();
        assert_eq!(cycle.ids, ["c", "a", "b"]);
        assert_eq!(cycle.links, [EdgeKind::Explicit; 3]);
        assert!(!cycle.through_phases());
        assert_eq!(cycle.to_string(), "c → a → b → c");
        assert_eq!(Graph::new(&m).unwrap_err(), cycle);
    }

    #[test]
    fn self_dependency_is_a_cycle_of_one() {
        let m = mission(&[("a", &[], 1.0), ("b", &["b"], 1.0)]);
        assert_eq!(find_cycle(&m), Some(vec![1]));
        assert_eq!(Cycle::find(&m).unwrap().to_string(), "b → b");
    }

    #[test]
    fn cycle_through_the_phase_order_is_reported() {
        // Phase 1: design; phase 2: build. design depends on build.
        let m = with_phases(
            mission(&[("design", &["build"], 1.0), ("build", &[], 1.0)]),
            &[&[0], &[1]],
        );
        let cycle = Cycle::find(&m).unwrap();
        assert_eq!(cycle.tasks, [0, 1]);
        assert_eq!(
            cycle.links,
            [
                EdgeKind::Explicit,
                EdgeKind::Phase {
                    earlier: 0,
                    later: 1
                }
            ]
        );
        assert!(cycle.through_phases());
        assert_eq!(
            cycle.to_string(),
            "design → build → (phase 2 runs after phase 1) → design"
        );
    }

    #[test]
    fn unknown_and_repeated_dependencies_are_ignored() {
        let m = mission(&[("a", &[], 1.0), ("b", &["a", "nope", "a"], 1.0)]);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.dependencies(1), [0]);
        assert_eq!(g.dependents(0), [1]);
    }

    #[test]
    fn waves_of_a_diamond() {
        let m = mission(&[
            ("top", &[], 1.0),
            ("left", &["top"], 1.0),
            ("right", &["top"], 1.0),
            ("bottom", &["left", "right"], 1.0),
            ("alone", &[], 1.0),
        ]);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.waves(), vec![vec![0, 4], vec![1, 2], vec![3]]);
        assert_eq!(g.wave(3), 2);
        assert_eq!(g.longest_chain_len(), 3);
        let order = g.topological_order();
        let pos = |t: usize| order.iter().position(|&x| x == t).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(3) && pos(2) < pos(3));
    }

    #[test]
    fn critical_path_of_a_weighted_dag() {
        //   a(2) → b(5) → d(1)
        //   a(2) → c(1) → d(1)
        //   e(7)
        let m = mission(&[
            ("a", &[], 2.0),
            ("b", &["a"], 5.0),
            ("c", &["a"], 1.0),
            ("d", &["b", "c"], 1.0),
            ("e", &[], 7.0),
        ]);
        let g = Graph::new(&m).unwrap();
        let cp = g.critical_path();
        assert_eq!(ids(&m, &cp.tasks), ["a", "b", "d"]);
        assert_eq!(cp.hours, 8.0);
        assert!(cp.unestimated.is_empty());
        assert_eq!(g.earliest_finish(), 8.0);
        assert_eq!(g.earliest_start(3), 7.0);
        assert_eq!(g.earliest_finish_of(2), 3.0);
        assert_eq!(g.remaining_hours(0), 8.0);
        assert_eq!(g.slack(2), 4.0);
        assert_eq!(g.slack(4), 1.0);
        assert!(g.on_critical_path(1) && !g.on_critical_path(2));
    }

    #[test]
    fn missing_estimate_counts_as_default_and_is_flagged() {
        let m = mission(&[("a", &[], -1.0), ("b", &["a"], 2.0)]);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.hours(0), DEFAULT_ESTIMATE_HOURS);
        assert!(!g.is_estimated(0));
        assert_eq!(g.unestimated(), [0]);
        assert_eq!(g.critical_path().hours, 2.0 + DEFAULT_ESTIMATE_HOURS);
        assert_eq!(g.critical_path().unestimated, [0]);
    }

    #[test]
    fn critical_path_ties_go_to_the_lower_index() {
        let m = mission(&[("a", &[], 3.0), ("b", &[], 3.0), ("c", &["a", "b"], 1.0)]);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.critical_path().tasks, [0, 2]);
    }

    #[test]
    fn phases_add_implicit_edges_that_stay_distinguishable() {
        // Phase 1: a, b. Phase 2 (empty). Phase 3: c, d. d also depends on
        // c explicitly. x is outside any phase.
        let m = mission(&[
            ("a", &[], 1.0),
            ("b", &[], 4.0),
            ("c", &[], 1.0),
            ("d", &["c"], 1.0),
            ("x", &[], 1.0),
        ]);
        let m = with_phases(m, &[&[0, 1], &[], &[2, 3]]);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.dependencies(2), [] as [usize; 0]);
        assert_eq!(g.phase_dependencies(2), [0, 1]);
        assert_eq!(g.phase_dependencies(0), [] as [usize; 0]);
        assert_eq!(g.phase_dependencies(4), [] as [usize; 0]);
        let edge = EdgeKind::Phase {
            earlier: 0,
            later: 2,
        };
        assert_eq!(
            g.all_dependencies(3).collect::<Vec<_>>(),
            [(2, EdgeKind::Explicit), (0, edge), (1, edge)]
        );
        assert_eq!(g.waves(), vec![vec![0, 1, 4], vec![2], vec![3]]);
        assert_eq!(ids(&m, &g.critical_path().tasks), ["b", "c", "d"]);
        assert_eq!(g.critical_path().hours, 6.0);
        assert_eq!(g.longest_chain_len(), 3);
        assert_eq!(g.earliest_start(2), 4.0);
    }

    #[test]
    fn empty_mission() {
        let m = mission(&[]);
        let g = Graph::new(&m).unwrap();
        assert!(g.is_empty());
        assert!(g.waves().is_empty());
        assert_eq!(g.earliest_finish(), 0.0);
        assert_eq!(g.longest_chain_len(), 0);
    }

    #[test]
    fn long_chain_does_not_overflow_the_stack() {
        let names: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
        let deps: Vec<[&str; 1]> = (0..names.len())
            .map(|i| [names[i.saturating_sub(1)].as_str()])
            .collect();
        let tasks: Vec<(&str, &[&str], f64)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), if i == 0 { &[][..] } else { &deps[i][..] }, 1.0))
            .collect();
        let mut m = mission(&tasks);
        let g = Graph::new(&m).unwrap();
        assert_eq!(g.longest_chain_len(), 20_000);
        m.tasks[0].depends_on = vec!["t19999".to_string()];
        assert_eq!(find_cycle(&m).map(|c| c.len()), Some(20_000));
    }
}
