//! The Monte Carlo: the remaining work run many times, each time with
//! durations drawn from the model and scheduled as the dispatcher would.
//!
//! The scheduling follows `core::plan::schedule` (list scheduling: when a
//! slot is free, the ready task first in dispatch order whose agent and
//! executor have room starts), over the [`Work`] graph, with executor
//! limits as well. It keeps, per task, what its start waited for: the
//! dependency that finished last, or, when it waited for a slot, the task
//! that freed it. Walking that back from the last task to finish gives
//! the run's critical chain.
//!
//! Buffers are allocated once and reused by every run: a run costs
//! O((tasks + edges) × log tasks + tasks × agent-executor pairs).

use super::model::{Model, Pool};
use super::rng::Rng;
use super::work::Work;
use crate::plan::schedule::Hour;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const NONE: u32 = u32::MAX;

/// A started task that has outlived every duration drawn for it (16
/// tries) is given this share of its time so far again.
const OVERDUE_SHARE: f64 = 0.25;
const CONDITIONAL_TRIES: u32 = 16;

/// What every run came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Runs {
    /// Per run: hours from now until the last task finishes.
    pub finish: Vec<f64>,
    /// Per run: US dollars the remaining work costs.
    pub cost: Vec<f64>,
    /// Runs in which some task's draw was a failure.
    pub failed_runs: u32,
    /// Per task of the work.
    pub tasks: Vec<TaskTally>,
}

/// Sums over runs for one task, from which its criticality and its
/// correlation with the finish are read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskTally {
    /// Runs in which it was on the critical chain.
    pub critical: u32,
    pub sum: f64,
    pub sum_sq: f64,
    /// Sum of its duration times the run's finish.
    pub sum_by_finish: f64,
}

/// Runs the work `runs` times with the stream seeded by `seed`.
pub fn simulate(work: &Work, model: &Model, runs: u32, seed: u64) -> Runs {
    let mut rng = Rng::new(seed);
    let pools: Vec<Pool> = (work.tasks.iter().enumerate())
        .map(|(i, t)| model.pool(work.agent(i), t.kind))
        .collect();
    let mut scratch = Scratch::new(work);
    let n = work.tasks.len();
    let mut durations = vec![0.0; n];
    let mut out = Runs {
        finish: Vec::with_capacity(runs as usize),
        cost: Vec::with_capacity(runs as usize),
        failed_runs: 0,
        tasks: vec![TaskTally::default(); n],
    };
    for _ in 0..runs {
        let (cost, failed) = draw(work, model, &pools, &mut rng, &mut durations);
        let finish = scratch.run(work, &durations);
        scratch.mark_critical(work, &mut out.tasks);
        for (tally, &d) in out.tasks.iter_mut().zip(&durations) {
            tally.sum += d;
            tally.sum_sq += d * d;
            tally.sum_by_finish += d * finish;
        }
        out.finish.push(finish);
        out.cost.push(cost);
        out.failed_runs += u32::from(failed);
    }
    out
}

/// The hour the last task finishes when each takes `durations[t]` hours
/// (one run, no draws): what a mission whose durations are known would
/// take under the same dispatch rules.
///
/// # Panics
///
/// When `durations` is shorter than the work's task list.
pub fn schedule(work: &Work, durations: &[f64]) -> f64 {
    assert!(durations.len() >= work.tasks.len(), "one duration per task");
    Scratch::new(work).run(work, durations)
}

/// Draws every task's remaining hours; returns their cost and whether
/// any draw was a failure.
fn draw(
    work: &Work,
    model: &Model,
    pools: &[Pool],
    rng: &mut Rng,
    durations: &mut [f64],
) -> (f64, bool) {
    let mut cost = 0.0;
    let mut failed = false;
    for (t, task) in work.tasks.iter().enumerate() {
        let mut outcome = model.draw(pools[t], rng);
        let mut total = task.estimate_hours * outcome.ratio;
        // A started task: what it takes given that it has not ended yet.
        let mut tries = 1;
        while task.elapsed_hours > 0.0 && total <= task.elapsed_hours && tries < CONDITIONAL_TRIES {
            outcome = model.draw(pools[t], rng);
            total = task.estimate_hours * outcome.ratio;
            tries += 1;
        }
        if total <= task.elapsed_hours && task.elapsed_hours > 0.0 {
            total = task.elapsed_hours * (1.0 + OVERDUE_SHARE);
        }
        let left = total - task.elapsed_hours;
        durations[t] = left;
        if total > 0.0 {
            cost += outcome.cost_rate * task.estimate_hours * (left / total);
        }
        failed |= outcome.failed;
    }
    (cost, failed)
}

/// One run's bookkeeping, reused across runs.
struct Scratch {
    /// Per task: its group of (agent, executor).
    group_of: Vec<u32>,
    group_agent: Vec<u32>,
    group_executor: Vec<u32>,
    /// Task by dispatch rank.
    by_rank: Vec<u32>,
    waiting: Vec<u32>,
    ready_at: Vec<f64>,
    finish: Vec<f64>,
    /// Per node: what its start (or a barrier's passing) waited for.
    via: Vec<u32>,
    /// Per group: ready tasks by rank, best first.
    ready: Vec<BinaryHeap<Reverse<u32>>>,
    agent_running: Vec<u32>,
    executor_running: Vec<u32>,
    finishing: BinaryHeap<Reverse<(Hour, u32)>>,
    stack: Vec<(u32, u32)>,
    /// The task that finished last, at the current hour.
    last_freed: u32,
}

impl Scratch {
    fn new(work: &Work) -> Scratch {
        let n = work.tasks.len();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let group_of = (0..n)
            .map(|t| {
                let pair = (work.agent_of[t], work.executor_of[t]);
                let found = pairs.iter().position(|&p| p == pair);
                found.unwrap_or_else(|| {
                    pairs.push(pair);
                    pairs.len() - 1
                }) as u32
            })
            .collect();
        let mut by_rank = vec![0; n];
        for (t, &r) in work.rank.iter().enumerate() {
            by_rank[r as usize] = t as u32;
        }
        Scratch {
            group_of,
            group_agent: pairs.iter().map(|p| p.0).collect(),
            group_executor: pairs.iter().map(|p| p.1).collect(),
            ready: vec![BinaryHeap::new(); pairs.len()],
            by_rank,
            waiting: Vec::new(),
            ready_at: vec![0.0; n],
            finish: vec![0.0; n],
            via: vec![NONE; work.node_count()],
            agent_running: vec![0; work.agent_limit.len()],
            executor_running: vec![0; work.executor_limit.len()],
            finishing: BinaryHeap::new(),
            stack: Vec::new(),
            last_freed: NONE,
        }
    }

    /// Schedules one run; returns the hour the last task finishes.
    fn run(&mut self, work: &Work, durations: &[f64]) -> f64 {
        self.waiting.clone_from(&work.waits);
        self.via.fill(NONE);
        // A task a cycle holds back never starts: it counts as nothing.
        self.finish.fill(0.0);
        self.last_freed = NONE;
        for v in 0..work.node_count() {
            if work.waits[v] == 0 {
                self.release(work, v as u32, NONE, 0.0);
            }
        }
        let mut now = 0.0;
        let mut running = 0;
        loop {
            while running < work.max_parallel {
                let Some(t) = self.pop_best(work) else { break };
                running += 1;
                if self.ready_at[t] < now {
                    self.via[t] = self.last_freed;
                }
                self.finish[t] = now + durations[t].max(0.0);
                self.finishing
                    .push(Reverse((Hour(self.finish[t]), t as u32)));
            }
            let Some(&Reverse((Hour(next), _))) = self.finishing.peek() else {
                break;
            };
            now = next;
            while let Some(&Reverse((Hour(at), t))) = self.finishing.peek() {
                if at != now {
                    break;
                }
                self.finishing.pop();
                running -= 1;
                self.agent_running[work.agent_of[t as usize] as usize] -= 1;
                self.executor_running[work.executor_of[t as usize] as usize] -= 1;
                self.last_freed = t;
                for &s in work.successors(t as usize) {
                    self.waiting[s as usize] -= 1;
                    if self.waiting[s as usize] == 0 {
                        self.release(work, s, t, now);
                    }
                }
            }
        }
        self.finish.iter().copied().fold(0.0, f64::max)
    }

    /// A node whose last predecessor (`by`) finished: a task becomes
    /// ready, a barrier passes at once.
    fn release(&mut self, work: &Work, node: u32, by: u32, now: f64) {
        let n = work.tasks.len();
        self.stack.push((node, by));
        while let Some((v, by)) = self.stack.pop() {
            self.via[v as usize] = by;
            if (v as usize) < n {
                self.ready_at[v as usize] = now;
                let group = self.group_of[v as usize] as usize;
                self.ready[group].push(Reverse(work.rank[v as usize]));
                continue;
            }
            for &s in work.successors(v as usize) {
                self.waiting[s as usize] -= 1;
                if self.waiting[s as usize] == 0 {
                    self.stack.push((s, v));
                }
            }
        }
    }

    /// Takes the best ready task whose agent and executor have room.
    fn pop_best(&mut self, work: &Work) -> Option<usize> {
        let mut best: Option<(u32, usize)> = None;
        for (g, heap) in self.ready.iter().enumerate() {
            let Some(&Reverse(rank)) = heap.peek() else {
                continue;
            };
            let (a, e) = (
                self.group_agent[g] as usize,
                self.group_executor[g] as usize,
            );
            let room = self.agent_running[a] < work.agent_limit[a]
                && self.executor_running[e] < work.executor_limit[e];
            if room && best.is_none_or(|(r, _)| rank < r) {
                best = Some((rank, g));
            }
        }
        let (rank, g) = best?;
        self.ready[g].pop();
        self.agent_running[self.group_agent[g] as usize] += 1;
        self.executor_running[self.group_executor[g] as usize] += 1;
        Some(self.by_rank[rank as usize] as usize)
    }

    /// Counts the tasks of the run's critical chain: back from the last
    /// task to finish (the first such, on ties) along what each waited for.
    fn mark_critical(&self, work: &Work, tallies: &mut [TaskTally]) {
        let n = work.tasks.len();
        let mut last = None;
        for t in 0..n {
            if last.is_none_or(|l: usize| self.finish[t] > self.finish[l]) {
                last = Some(t);
            }
        }
        let mut at = last.map_or(NONE, |t| t as u32);
        while at != NONE {
            if (at as usize) < n {
                tallies[at as usize].critical += 1;
            }
            at = self.via[at as usize];
        }
    }
}
