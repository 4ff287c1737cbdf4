//! A list-scheduling simulation of a mission under its limits: when each
//! task would start and finish, how long the whole takes, and how busy the
//! slots are.
//!
//! The rules (also in docs/planning.md):
//!
//! - A task can start once everything it waits for has finished (explicit
//!   dependencies and the phase order, see [`Graph`]).
//! - At most [`Limits::max_parallel`] tasks run at once, and at most an
//!   agent's own `max_parallel` on that agent. Tasks without an agent have
//!   no per-agent limit. A limit of 0 counts as 1.
//! - Whenever a slot is free, the ready task that comes first in this order
//!   starts: higher priority first (critical, high, medium, low), then the
//!   longest remaining path in hours (so the critical path goes first),
//!   then file order. Finishing tasks free their slots before new tasks
//!   start at the same hour.
//! - A task takes its estimate (or [`DEFAULT_ESTIMATE_HOURS`]); hours are
//!   counted from the mission's start.
//!
//! The simulation is deterministic and runs in O((tasks + dependencies) ×
//! log tasks).
//!
//! [`DEFAULT_ESTIMATE_HOURS`]: super::graph::DEFAULT_ESTIMATE_HOURS

use super::graph::Graph;
use crate::priority::Priority;
use crate::spec::Mission;
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

/// How much may run at once.
#[derive(Clone, Copy)]
pub struct Limits<'a> {
    /// Tasks running at once, mission-wide (the mission's
    /// `defaults.max_parallel` unless overridden).
    pub max_parallel: u32,
    /// An agent's own `max_parallel`, by agent name; `None`: no per-agent
    /// limit.
    pub agent_max_parallel: &'a dyn Fn(&str) -> Option<u32>,
}

impl<'a> Limits<'a> {
    /// The mission's `defaults.max_parallel` and the given per-agent
    /// limits.
    pub fn new(mission: &Mission, agent_max_parallel: &'a dyn Fn(&str) -> Option<u32>) -> Self {
        Limits {
            max_parallel: mission.defaults.max_parallel,
            agent_max_parallel,
        }
    }
}

/// When one task runs, in hours from the mission's start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Slot {
    pub start: f64,
    pub finish: f64,
}

/// A stretch of time during which the same number of tasks run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Segment {
    pub from_hour: f64,
    pub to_hour: f64,
    pub running: u32,
}

/// The simulated plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    /// The global limit the simulation ran under (at least 1).
    pub max_parallel: u32,
    /// Per task, same indices as [`Mission::tasks`].
    pub tasks: Vec<Slot>,
    /// The hour the last task finishes: the earliest finish under the
    /// limits.
    pub makespan: f64,
    /// How many tasks run when, from hour 0 to the makespan; consecutive
    /// segments differ in `running`. Zero-hour tasks do not show.
    pub profile: Vec<Segment>,
    /// The most tasks running at once.
    pub peak: u32,
    /// Tasks running on average over the makespan.
    pub average_parallelism: f64,
    /// `average_parallelism / max_parallel`, from 0 to 1.
    pub utilisation: f64,
}

impl Schedule {
    /// Tasks in the order they start (ties: file order).
    pub fn start_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.tasks.len()).collect();
        order.sort_by(|&a, &b| {
            self.tasks[a]
                .start
                .total_cmp(&self.tasks[b].start)
                .then(a.cmp(&b))
        });
        order
    }
}

/// Simulates `mission` with each task taking its estimate.
///
/// `assignments[t]` is the agent task `t` runs on (shorter slices mean
/// `None` for the rest); the per-agent limit applies to it.
pub fn simulate(
    mission: &Mission,
    graph: &Graph,
    assignments: &[Option<String>],
    limits: &Limits<'_>,
) -> Schedule {
    let hours: Vec<f64> = (0..graph.len()).map(|t| graph.hours(t)).collect();
    simulate_with_hours(mission, graph, assignments, limits, &hours)
}

/// Like [`simulate`], with each task taking `hours[t]` instead of its
/// estimate (for forecasts that sample durations). The start order still
/// follows the estimates' remaining paths, as a real dispatcher would.
///
/// # Panics
///
/// When `hours` is shorter than the task list.
pub fn simulate_with_hours(
    mission: &Mission,
    graph: &Graph,
    assignments: &[Option<String>],
    limits: &Limits<'_>,
    hours: &[f64],
) -> Schedule {
    let n = graph.len();
    assert!(hours.len() >= n, "one duration per task");
    let max_parallel = limits.max_parallel.max(1);

    // Agent groups; group 0 holds tasks without an agent.
    let mut group_of_name: HashMap<&str, usize> = HashMap::new();
    let mut group_limit = vec![u32::MAX];
    let group: Vec<usize> = (0..n)
        .map(|t| match assignments.get(t).and_then(Option::as_deref) {
            None => 0,
            Some(name) => *group_of_name.entry(name).or_insert_with(|| {
                let limit = (limits.agent_max_parallel)(name).map_or(u32::MAX, |l| l.max(1));
                group_limit.push(limit);
                group_limit.len() - 1
            }),
        })
        .collect();
    let key = |t: usize| Key {
        priority: mission
            .tasks
            .get(t)
            .map_or(Priority::default(), |task| task.priority),
        remaining: graph.remaining_hours(t),
        task: t,
    };

    let mut state = Dispatch {
        ready: vec![BinaryHeap::new(); group_limit.len()],
        running_in: vec![0; group_limit.len()],
        group_limit,
        offers: BinaryHeap::new(),
    };
    let mut waiting: Vec<usize> = (0..graph.node_count())
        .map(|v| graph.node_waits_for(v))
        .collect();
    let mut slots = vec![
        Slot {
            start: 0.0,
            finish: 0.0
        };
        n
    ];
    let mut finishing: BinaryHeap<Reverse<(Hour, usize)>> = BinaryHeap::new();
    let mut running = 0u32;
    let mut released = Vec::new();

    // Release: a node whose last dependency finished. Barriers pass
    // through at once.
    let mut release = |start: usize, waiting: &mut Vec<usize>, state: &mut Dispatch| {
        released.push(start);
        while let Some(v) = released.pop() {
            if v < n {
                state.push_ready(group[v], key(v));
                continue;
            }
            for &s in graph.node_successors(v) {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    released.push(s);
                }
            }
        }
    };
    for v in 0..graph.node_count() {
        if waiting[v] == 0 {
            release(v, &mut waiting, &mut state);
        }
    }

    let mut now = 0.0_f64;
    loop {
        while running < max_parallel {
            let Some(t) = state.pop_best() else { break };
            running += 1;
            let finish = now + hours[t].max(0.0);
            slots[t] = Slot { start: now, finish };
            finishing.push(Reverse((Hour(finish), t)));
        }
        let Some(&Reverse((Hour(next), _))) = finishing.peek() else {
            break;
        };
        now = next;
        while let Some(&Reverse((Hour(at), t))) = finishing.peek() {
            if at != now {
                break;
            }
            finishing.pop();
            running -= 1;
            state.finished(group[t]);
            for &s in graph.node_successors(t) {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    release(s, &mut waiting, &mut state);
                }
            }
        }
    }

    let makespan = slots.iter().map(|s| s.finish).fold(0.0, f64::max);
    let profile = profile(&slots);
    let peak = profile.iter().map(|s| s.running).max().unwrap_or(0);
    let busy: f64 = profile
        .iter()
        .map(|s| f64::from(s.running) * (s.to_hour - s.from_hour))
        .sum();
    let average_parallelism = if makespan > 0.0 { busy / makespan } else { 0.0 };
    Schedule {
        max_parallel,
        tasks: slots,
        makespan,
        profile,
        peak,
        average_parallelism,
        utilisation: average_parallelism / f64::from(max_parallel),
    }
}

/// The ready tasks per agent group and which groups can start one.
struct Dispatch {
    /// Per group: ready tasks, best first.
    ready: Vec<BinaryHeap<Reverse<Key>>>,
    running_in: Vec<u32>,
    group_limit: Vec<u32>,
    /// (best ready task, group) for groups that had a free slot when
    /// offered; stale entries are skipped when popped.
    offers: BinaryHeap<Reverse<(Key, usize)>>,
}

impl Dispatch {
    fn push_ready(&mut self, group: usize, key: Key) {
        self.ready[group].push(Reverse(key));
        self.offer(group);
    }

    fn finished(&mut self, group: usize) {
        self.running_in[group] -= 1;
        self.offer(group);
    }

    fn offer(&mut self, group: usize) {
        if self.running_in[group] >= self.group_limit[group] {
            return;
        }
        if let Some(Reverse(best)) = self.ready[group].peek() {
            self.offers.push(Reverse((*best, group)));
        }
    }

    /// Starts the best ready task whose agent has a free slot.
    fn pop_best(&mut self) -> Option<usize> {
        while let Some(Reverse((key, group))) = self.offers.pop() {
            let current = self.ready[group].peek().map(|Reverse(k)| k.task);
            if self.running_in[group] >= self.group_limit[group] || current != Some(key.task) {
                continue;
            }
            self.ready[group].pop();
            self.running_in[group] += 1;
            self.offer(group);
            return Some(key.task);
        }
        None
    }
}

/// Start order of ready tasks: smaller is sooner.
#[derive(Debug, Clone, Copy)]
struct Key {
    priority: Priority,
    remaining: f64,
    task: usize,
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority
            .cmp(&other.priority)
            .then_with(|| other.remaining.total_cmp(&self.remaining))
            .then_with(|| self.task.cmp(&other.task))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Key {}

/// An hour, totally ordered (the forecast's simulation orders by it too).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hour(pub(crate) f64);

impl Ord for Hour {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl PartialOrd for Hour {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Hour {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Hour {}

/// Running counts over time, merged where they stay the same.
fn profile(slots: &[Slot]) -> Vec<Segment> {
    let mut changes: Vec<(f64, i64)> = Vec::with_capacity(slots.len() * 2);
    for slot in slots.iter().filter(|s| s.finish > s.start) {
        changes.push((slot.start, 1));
        changes.push((slot.finish, -1));
    }
    changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut segments: Vec<Segment> = Vec::new();
    let mut running = 0i64;
    let mut i = 0;
    while i < changes.len() {
        let at = changes[i].0;
        while i < changes.len() && changes[i].0 == at {
            running += changes[i].1;
            i += 1;
        }
        let Some(&(until, _)) = changes.get(i) else {
            break;
        };
        let running = u32::try_from(running).expect("never fewer than zero tasks run");
        match segments.last_mut() {
            Some(last) if last.running == running && last.to_hour == at => last.to_hour = until,
            _ => segments.push(Segment {
                from_hour: at,
                to_hour: until,
                running,
            }),
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::graph::fixture::{mission, with_phases};

    fn no_agent_limits(_: &str) -> Option<u32> {
        None
    }

    fn run(m: &Mission, p: u32) -> Schedule {
        let g = Graph::new(m).unwrap();
        simulate(
            m,
            &g,
            &[],
            &Limits {
                max_parallel: p,
                agent_max_parallel: &no_agent_limits,
            },
        )
    }

    /// Four independent tasks and one that waits for all of them.
    fn fan_in() -> Mission {
        mission(&[
            ("a", &[], 3.0),
            ("b", &[], 2.0),
            ("c", &[], 2.0),
            ("d", &[], 1.0),
            ("e", &["a", "b", "c", "d"], 1.0),
        ])
    }

    #[test]
    fn one_slot_runs_everything_in_sequence() {
        let s = run(&fan_in(), 1);
        assert_eq!(s.makespan, 9.0);
        assert_eq!(s.start_order(), [0, 1, 2, 3, 4]);
        assert_eq!(s.peak, 1);
        assert_eq!(s.utilisation, 1.0);
        assert_eq!(
            s.profile,
            [Segment {
                from_hour: 0.0,
                to_hour: 9.0,
                running: 1
            }]
        );
    }

    #[test]
    fn two_slots() {
        // a(3) and b(2) start; c(2) at 2; d(1) at 3; e at 4 after c and d.
        let s = run(&fan_in(), 2);
        assert_eq!(
            s.tasks[2],
            Slot {
                start: 2.0,
                finish: 4.0
            }
        );
        assert_eq!(
            s.tasks[3],
            Slot {
                start: 3.0,
                finish: 4.0
            }
        );
        assert_eq!(
            s.tasks[4],
            Slot {
                start: 4.0,
                finish: 5.0
            }
        );
        assert_eq!(s.makespan, 5.0);
        assert_eq!(s.peak, 2);
        assert_eq!(s.average_parallelism, 9.0 / 5.0);
        let seg = |from_hour, to_hour, running| Segment {
            from_hour,
            to_hour,
            running,
        };
        assert_eq!(s.profile, [seg(0.0, 4.0, 2), seg(4.0, 5.0, 1)]);
    }

    #[test]
    fn unlimited_slots_reach_the_critical_path() {
        let m = fan_in();
        let s = run(&m, u32::MAX);
        assert_eq!(s.makespan, Graph::new(&m).unwrap().earliest_finish());
        assert_eq!(s.peak, 4);
    }

    #[test]
    fn per_agent_limit() {
        let m = fan_in();
        let g = Graph::new(&m).unwrap();
        let dev = Some("dev".to_string());
        // a, b, c on `dev` (one at a time); d on nobody.
        let assignments = [dev.clone(), dev.clone(), dev, None, None];
        let limit = |name: &str| (name == "dev").then_some(1);
        let s = simulate(
            &m,
            &g,
            &assignments,
            &Limits {
                max_parallel: 4,
                agent_max_parallel: &limit,
            },
        );
        assert_eq!(s.tasks[0].start, 0.0);
        assert_eq!(s.tasks[3].start, 0.0);
        assert_eq!(s.tasks[1].start, 3.0);
        assert_eq!(s.tasks[2].start, 5.0);
        assert_eq!(s.makespan, 8.0);
        assert_eq!(s.peak, 2);
    }

    #[test]
    fn priority_then_remaining_path_then_file_order() {
        let mut m = mission(&[
            ("short", &[], 1.0),
            ("long", &[], 1.0),
            ("tail", &["long"], 5.0),
            ("urgent", &[], 1.0),
        ]);
        m.tasks[3].priority = Priority::Critical;
        let s = run(&m, 1);
        assert_eq!(s.start_order(), [3, 1, 2, 0]);
    }

    #[test]
    fn phases_hold_the_next_phase_back() {
        let m = with_phases(
            mission(&[("a", &[], 1.0), ("b", &[], 3.0), ("c", &[], 1.0)]),
            &[&[0, 1], &[2]],
        );
        let s = run(&m, 4);
        assert_eq!(s.tasks[2].start, 3.0);
        assert_eq!(s.makespan, 4.0);
    }

    #[test]
    fn zero_hour_tasks_and_zero_limits() {
        let m = mission(&[("a", &[], 0.0), ("b", &["a"], 2.0)]);
        let s = run(&m, 0);
        assert_eq!(s.max_parallel, 1);
        assert_eq!(
            s.tasks[1],
            Slot {
                start: 0.0,
                finish: 2.0
            }
        );
        assert_eq!(s.makespan, 2.0);
        let empty = run(&mission(&[]), 2);
        assert_eq!((empty.makespan, empty.peak), (0.0, 0));
        assert!(empty.profile.is_empty());
    }

    #[test]
    fn ten_thousand_tasks_schedule_quickly() {
        let names: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
        let deps: Vec<Vec<&str>> = (0..names.len())
            .map(|i| {
                [i / 2, i / 3]
                    .into_iter()
                    .filter(|&d| d < i)
                    .map(|d| names[d].as_str())
                    .collect()
            })
            .collect();
        let tasks: Vec<(&str, &[&str], f64)> = names
            .iter()
            .zip(&deps)
            .enumerate()
            .map(|(i, (n, d))| (n.as_str(), d.as_slice(), (i % 7) as f64))
            .collect();
        let m = with_phases(
            mission(&tasks),
            &[
                &(0..5_000).collect::<Vec<_>>(),
                &(5_000..10_000).collect::<Vec<_>>(),
            ],
        );
        let started = std::time::Instant::now();
        let s = run(&m, 8);
        assert!(started.elapsed().as_secs() < 5);
        assert!(s.peak <= 8);
    }

    /// A tiny xorshift generator: enough randomness, no dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn random_dags_respect_dependencies_and_limits() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let agents = ["a1", "a2", "a3"];
        let agent_limit = |name: &str| match name {
            "a1" => Some(1),
            "a2" => Some(2),
            _ => None,
        };
        for round in 0..300 {
            let n = 1 + rng.below(40) as usize;
            let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
            let deps: Vec<Vec<&str>> = (0..n)
                .map(|i| {
                    (0..i)
                        .filter(|_| rng.below(5) == 0)
                        .map(|d| names[d].as_str())
                        .collect()
                })
                .collect();
            let estimates: Vec<f64> = (0..n)
                .map(|_| match rng.below(10) {
                    0 => -1.0,
                    1 => 0.0,
                    _ => rng.below(16) as f64 / 2.0,
                })
                .collect();
            let tasks: Vec<(&str, &[&str], f64)> = (0..n)
                .map(|i| (names[i].as_str(), deps[i].as_slice(), estimates[i]))
                .collect();
            let mut m = mission(&tasks);
            if round % 3 == 0 {
                // Consecutive runs of tasks form phases, in order.
                let cut = rng.below(n as u64 + 1) as usize;
                let first: Vec<usize> = (0..cut).collect();
                let second: Vec<usize> = (cut..n).collect();
                m = with_phases(m, &[&first, &second]);
            }
            for task in &mut m.tasks {
                task.priority = Priority::ALL[rng.below(4) as usize];
            }
            let assignments: Vec<Option<String>> = (0..n)
                .map(|_| {
                    let pick = rng.below(4) as usize;
                    agents.get(pick).map(|a| a.to_string())
                })
                .collect();
            let p = 1 + rng.below(4) as u32;
            let g = Graph::new(&m).unwrap();
            let s = simulate(
                &m,
                &g,
                &assignments,
                &Limits {
                    max_parallel: p,
                    agent_max_parallel: &agent_limit,
                },
            );

            for t in 0..n {
                let slot = s.tasks[t];
                assert!(slot.start >= 0.0);
                assert_eq!(
                    slot.finish - slot.start,
                    g.hours(t),
                    "round {round} task {t}"
                );
                for (d, _) in g.all_dependencies(t) {
                    assert!(
                        s.tasks[d].finish <= slot.start,
                        "round {round}: {t} starts before {d} ends"
                    );
                }
            }
            // Sweep over starts and finishes: never over a limit.
            let mut changes: Vec<(f64, i32, usize)> = Vec::new();
            for (t, slot) in s
                .tasks
                .iter()
                .enumerate()
                .filter(|(_, s)| s.finish > s.start)
            {
                changes.push((slot.start, 1, t));
                changes.push((slot.finish, -1, t));
            }
            changes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut total = 0;
            let mut per_agent = [0; 3];
            for (_, delta, t) in changes {
                total += delta;
                assert!(total <= p as i32, "round {round}: over max_parallel");
                if let Some(a) = agents
                    .iter()
                    .position(|a| assignments[t].as_deref() == Some(*a))
                {
                    per_agent[a] += delta;
                    if let Some(limit) = agent_limit(agents[a]) {
                        assert!(
                            per_agent[a] <= limit as i32,
                            "round {round}: over {}'s limit",
                            agents[a]
                        );
                    }
                }
            }
            assert!(s.profile.iter().all(|seg| seg.running <= p));
            assert!(s.peak <= p);
            let sum: f64 = (0..n).map(|t| g.hours(t)).sum();
            let eps = 1e-9;
            assert!(
                s.makespan + eps >= g.earliest_finish(),
                "round {round}: faster than the critical path"
            );
            assert!(s.makespan <= sum + eps, "round {round}: slower than serial");
            assert!(s.utilisation <= 1.0 + eps);
        }
    }
}
