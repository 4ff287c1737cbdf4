//! Indexes the fold keeps beside the state so that the engine's questions
//! (what is ready, in which order; what can never start; how many are
//! running) cost time in proportion to the answer, not to the mission.
//! They are derived from the events like the rest of the state, so a
//! replay rebuilds them exactly.

use super::plan::{MissionPlan, TaskPlan};
use super::status::TaskStatus;
use crate::priority::Priority;
use std::collections::BTreeSet;

/// Dispatch order: critical first, then the longest remaining path, then
/// file order.
pub(super) type Key = (Priority, u64, usize);

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Index {
    dependents: Vec<Vec<usize>>,
    /// Dependencies of each task that have not succeeded yet, those on
    /// other missions' tasks included.
    unmet: Vec<u32>,
    phase_tasks: Vec<Vec<usize>>,
    phase_succeeded: Vec<usize>,
    /// Leading phases whose tasks all succeeded and whose gates passed.
    open_phases: usize,
    counts: [usize; TaskStatus::ALL.len()],
    keys: Vec<Key>,
    /// Pending tasks whose dependencies succeeded and whose phase is open.
    pub ready: BTreeSet<Key>,
    /// Tasks whose attempt claimed a slot, in dispatch order.
    pub queued: BTreeSet<Key>,
    pub retrying: BTreeSet<usize>,
    pub running: BTreeSet<usize>,
    /// Tasks whose work waits for its gates or its merge.
    pub checking: BTreeSet<usize>,
    /// Pending tasks that can never start.
    pub blockable: BTreeSet<usize>,
}

fn key(t: usize, task: &TaskPlan) -> Key {
    (
        task.priority,
        u64::MAX - task.remaining_hours.max(0.0).to_bits(),
        t,
    )
}

fn slot(status: TaskStatus) -> usize {
    status as usize
}

impl Index {
    pub fn new(plan: &MissionPlan, position: impl Fn(&str) -> Option<usize>) -> Index {
        let n = plan.tasks.len();
        let mut dependents = vec![Vec::new(); n];
        let mut unmet = vec![0; n];
        let mut phase_tasks = vec![Vec::new(); plan.phases.len()];
        for (t, task) in plan.tasks.iter().enumerate() {
            for dependency in task.depends_on.iter().filter_map(|d| position(d)) {
                dependents[dependency].push(t);
                unmet[t] += 1;
            }
            unmet[t] += task.detail.external.len() as u32;
            if let Some(p) = task.detail.phase {
                phase_tasks[p].push(t);
            }
        }
        let keys = plan
            .tasks
            .iter()
            .enumerate()
            .map(|(t, task)| key(t, task))
            .collect();
        let mut index = Index {
            dependents,
            unmet,
            phase_succeeded: vec![0; phase_tasks.len()],
            phase_tasks,
            open_phases: 0,
            counts: {
                let mut counts = [0; TaskStatus::ALL.len()];
                counts[slot(TaskStatus::Pending)] = n;
                counts
            },
            keys,
            ready: BTreeSet::new(),
            queued: BTreeSet::new(),
            retrying: BTreeSet::new(),
            running: BTreeSet::new(),
            checking: BTreeSet::new(),
            blockable: BTreeSet::new(),
        };
        index.open_phases = index.count_open_phases(|p| plan.phases[p].gates.is_empty());
        for t in 0..n {
            index.enqueue_if_ready(t, plan, TaskStatus::Pending);
        }
        index
    }

    pub fn key(&self, t: usize) -> Key {
        self.keys[t]
    }

    pub fn is_ready(&self, t: usize) -> bool {
        self.ready.contains(&self.keys[t])
    }

    pub fn count(&self, status: TaskStatus) -> usize {
        self.counts[slot(status)]
    }

    pub fn phase_tasks(&self, phase: usize) -> &[usize] {
        &self.phase_tasks[phase]
    }

    pub fn phase_complete(&self, phase: usize) -> bool {
        self.phase_succeeded[phase] == self.phase_tasks[phase].len()
    }

    fn phase_open(&self, phase: Option<usize>) -> bool {
        phase.is_none_or(|p| p <= self.open_phases)
    }

    fn enqueue_if_ready(&mut self, t: usize, plan: &MissionPlan, status: TaskStatus) {
        if status == TaskStatus::Pending
            && self.unmet[t] == 0
            && self.phase_open(plan.tasks[t].detail.phase)
        {
            self.ready.insert(self.keys[t]);
        }
    }

    /// Records that task `t` moved from `from` to `to`. `status_of` gives
    /// every task's status after the move.
    pub fn moved(
        &mut self,
        t: usize,
        from: TaskStatus,
        to: TaskStatus,
        plan: &MissionPlan,
        status_of: &dyn Fn(usize) -> TaskStatus,
        gates_passed: &dyn Fn(usize) -> bool,
    ) {
        self.counts[slot(from)] -= 1;
        self.counts[slot(to)] += 1;
        if from == TaskStatus::Pending {
            self.ready.remove(&self.keys[t]);
            self.blockable.remove(&t);
        }
        if from == TaskStatus::Queued {
            self.queued.remove(&self.keys[t]);
        }
        if to == TaskStatus::Queued {
            self.queued.insert(self.keys[t]);
        }
        for (status, set) in [
            (TaskStatus::Retrying, &mut self.retrying),
            (TaskStatus::Running, &mut self.running),
            (TaskStatus::Checking, &mut self.checking),
        ] {
            if from == status {
                set.remove(&t);
            }
            if to == status {
                set.insert(t);
            }
        }
        match to {
            TaskStatus::Pending => self.enqueue_if_ready(t, plan, to),
            // Dependents of a skipped task start as if it had succeeded.
            TaskStatus::Succeeded | TaskStatus::Skipped => {
                self.succeeded(t, plan, status_of, gates_passed)
            }
            TaskStatus::Failed | TaskStatus::Blocked => self.dead(t, plan, status_of),
            TaskStatus::Queued
            | TaskStatus::Running
            | TaskStatus::Retrying
            | TaskStatus::Checking => {}
        }
    }

    fn succeeded(
        &mut self,
        t: usize,
        plan: &MissionPlan,
        status_of: &dyn Fn(usize) -> TaskStatus,
        gates_passed: &dyn Fn(usize) -> bool,
    ) {
        for i in 0..self.dependents[t].len() {
            let dependent = self.dependents[t][i];
            self.unmet[dependent] -= 1;
            self.enqueue_if_ready(dependent, plan, status_of(dependent));
        }
        if let Some(p) = plan.tasks[t].detail.phase {
            self.phase_succeeded[p] += 1;
            self.reopen(plan, status_of, gates_passed);
        }
    }

    /// Opens the phases that became open, queueing their ready tasks.
    pub fn reopen(
        &mut self,
        plan: &MissionPlan,
        status_of: &dyn Fn(usize) -> TaskStatus,
        gates_passed: &dyn Fn(usize) -> bool,
    ) {
        let before = self.open_phases;
        self.open_phases = self.count_open_phases(gates_passed);
        for phase in before + 1
            ..=self
                .open_phases
                .min(self.phase_tasks.len().saturating_sub(1))
        {
            for i in 0..self.phase_tasks[phase].len() {
                let t = self.phase_tasks[phase][i];
                self.enqueue_if_ready(t, plan, status_of(t));
            }
        }
    }

    /// Pending task `t`'s dependency on another mission's task succeeded.
    pub fn external_met(&mut self, t: usize, plan: &MissionPlan) {
        self.unmet[t] -= 1;
        self.enqueue_if_ready(t, plan, TaskStatus::Pending);
    }

    /// Tasks `first..` were added (the parts of a split task), pending,
    /// and task `parent` now waits for them too.
    pub fn add_parts(
        &mut self,
        plan: &MissionPlan,
        parent: usize,
        first: usize,
        position: impl Fn(&str) -> Option<usize>,
        status_of: &dyn Fn(usize) -> TaskStatus,
    ) {
        for (t, task) in plan.tasks.iter().enumerate().skip(first) {
            self.dependents.push(Vec::new());
            self.unmet.push(0);
            self.keys.push(key(t, task));
            self.counts[slot(TaskStatus::Pending)] += 1;
            if let Some(p) = task.detail.phase {
                self.phase_tasks[p].push(t);
            }
        }
        for (t, task) in plan.tasks.iter().enumerate().skip(first) {
            for dependency in task.depends_on.iter().filter_map(|d| position(d)) {
                self.dependents[dependency].push(t);
                if !status_of(dependency).lets_dependents_start() {
                    self.unmet[t] += 1;
                }
            }
            self.dependents[t].push(parent);
            self.unmet[parent] += 1;
        }
        self.ready.remove(&self.keys[parent]);
        for t in first..plan.tasks.len() {
            self.enqueue_if_ready(t, plan, TaskStatus::Pending);
        }
    }

    fn count_open_phases(&self, gates_passed: impl Fn(usize) -> bool) -> usize {
        (0..self.phase_tasks.len())
            .take_while(|&p| self.phase_complete(p) && gates_passed(p))
            .count()
    }

    /// Task `t` failed or was blocked: its pending dependents, and every
    /// pending task of a later phase, can never start.
    fn dead(&mut self, t: usize, plan: &MissionPlan, status_of: &dyn Fn(usize) -> TaskStatus) {
        for &dependent in &self.dependents[t] {
            if status_of(dependent) == TaskStatus::Pending {
                self.blockable.insert(dependent);
            }
        }
        if let Some(p) = plan.tasks[t].detail.phase {
            self.phase_dead(p, status_of);
        }
    }

    /// Phase `p` can never pass: every pending task of a later phase is
    /// blockable.
    pub fn phase_dead(&mut self, p: usize, status_of: &dyn Fn(usize) -> TaskStatus) {
        for later in p + 1..self.phase_tasks.len() {
            for &t in &self.phase_tasks[later] {
                if status_of(t) == TaskStatus::Pending {
                    self.blockable.insert(t);
                }
            }
        }
    }
}
