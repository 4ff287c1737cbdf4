//! The forecast's simulation over small missions whose answers are known:
//! dependencies, phases, limits, what is left of a running mission, the
//! deadline, the drivers, and the seed.

use jiff::Timestamp;
use serde_json::json;
use techlead_core::forecast::{self, History, Model, Sample, Work};
use techlead_core::history::TaskKind;
use techlead_core::state::{Event, EventRecord, MissionPlan, MissionState, NextStep};

fn now() -> Timestamp {
    "2026-06-01T09:00:00Z".parse().unwrap()
}

/// A task: (id, agent, estimate hours, dependencies, phase).
type Spec<'a> = (&'a str, &'a str, f64, &'a [&'a str], Option<usize>);

fn plan(tasks: &[Spec], phases: usize, max_parallel: u32) -> MissionPlan {
    let tasks: Vec<_> = tasks
        .iter()
        .map(|(id, agent, hours, deps, phase)| {
            json!({
                "id": id, "title": id, "priority": "medium", "depends_on": deps,
                "phase": phase, "agent": agent, "executor": "command",
                "timeout_ms": 1000, "retries": 0, "estimate_hours": hours,
            })
        })
        .collect();
    let phases: Vec<_> = (0..phases)
        .map(|p| json!({"name": format!("p{p}"), "gates": []}))
        .collect();
    serde_json::from_value(json!({
        "name": "demo", "source": "m.yaml", "source_hash": "0", "workdir": ".",
        "max_parallel": max_parallel, "failure_threshold": 0.5, "backoff_ms": [],
        "phases": phases, "tasks": tasks,
    }))
    .unwrap()
}

/// History in which every task of `agent` took `ratio` times its estimate
/// and cost `cost_per_hour` per estimated hour (so many samples that a
/// draw from the prior is too rare to see).
fn exact(agent: &str, ratio: f64, cost_per_hour: f64) -> Model {
    Model::new(&History {
        samples: (0..100_000)
            .map(|_| Sample {
                agent: agent.into(),
                kind: TaskKind::Implement,
                estimate_hours: 2.0,
                actual_hours: 2.0 * ratio,
                cost_usd: 2.0 * cost_per_hour,
                succeeded: true,
            })
            .collect(),
        missions: 1,
    })
}

fn p50(work: &Work, model: &Model) -> f64 {
    forecast::forecast(work, model, 200, 7).finish_hours.p50
}

#[test]
fn a_chain_takes_its_estimates_times_the_historical_ratio() {
    let plan = plan(
        &[
            ("a", "dev", 1.0, &[], None),
            ("b", "dev", 2.0, &["a"], None),
            ("c", "dev", 3.0, &["b"], None),
        ],
        0,
        4,
    );
    let work = Work::planned(&plan, now());
    let f = forecast::forecast(&work, &exact("dev", 2.0, 10.0), 200, 7);
    assert_eq!(f.finish_hours.p50, 12.0);
    assert_eq!(f.finish_hours.p90, 12.0);
    // Cost goes by the estimate: $10 an estimated hour, 6 hours.
    assert!((f.cost_usd.p50 - 60.0).abs() < 1e-9, "{}", f.cost_usd.p50);
    assert_eq!(f.tasks, 3);
    assert_eq!(f.history.samples, 100_000);
}

#[test]
fn limits_hold_parallel_work_back() {
    let four: Vec<Spec> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| (*id, "dev", 1.0, &[][..], None))
        .collect();
    let model = exact("dev", 1.0, 0.0);
    assert_eq!(p50(&Work::planned(&plan(&four, 0, 4), now()), &model), 1.0);
    assert_eq!(p50(&Work::planned(&plan(&four, 0, 2), now()), &model), 2.0);
    let mut one_agent = plan(&four, 0, 4);
    one_agent.agent_limits = vec![("dev".into(), 1)];
    assert_eq!(p50(&Work::planned(&one_agent, now()), &model), 4.0);
    let mut three_per_executor = plan(&four, 0, 4);
    three_per_executor.executor_limits = vec![("command".into(), 3)];
    assert_eq!(p50(&Work::planned(&three_per_executor, now()), &model), 2.0);
}

#[test]
fn a_phase_waits_for_the_previous_one() {
    // x (phase 2) has no dependency but waits for all of phase 1; the
    // empty phase in between changes nothing.
    let plan = plan(
        &[
            ("a", "dev", 1.0, &[], Some(0)),
            ("b", "dev", 3.0, &[], Some(0)),
            ("x", "dev", 1.0, &[], Some(2)),
        ],
        3,
        4,
    );
    assert_eq!(
        p50(&Work::planned(&plan, now()), &exact("dev", 1.0, 0.0)),
        4.0
    );
}

fn record(seq: u64, at: Timestamp, event: Event) -> EventRecord {
    EventRecord { seq, at, event }
}

/// `a` succeeded, `b` has run for an hour, `c` waits for `b`.
fn running_state() -> MissionState {
    let plan = plan(
        &[
            ("a", "dev", 1.0, &[], None),
            ("b", "dev", 4.0, &[], None),
            ("c", "dev", 2.0, &["b"], None),
        ],
        0,
        4,
    );
    let start = now() - jiff::SignedDuration::from_hours(2);
    let mut state = MissionState::new(plan, start).unwrap();
    let events: Vec<Event> = vec![
        serde_json::from_value(json!({"type": "run_started", "run": 1, "pid": 1, "host": "h"}))
            .unwrap(),
        queued("a"),
        Event::AttemptStarted {
            task: "a".into(),
            attempt: 1,
        },
        Event::AttemptFinished {
            task: "a".into(),
            attempt: 1,
            outcome: techlead_core::state::AttemptOutcome::Succeeded { summary: None },
            duration_ms: 3_600_000,
            next: NextStep::Done,
        },
        queued("b"),
    ];
    for (i, event) in events.into_iter().enumerate() {
        state.apply(&record(i as u64 + 2, start, event)).unwrap();
    }
    let started = Event::AttemptStarted {
        task: "b".into(),
        attempt: 1,
    };
    let at = now() - jiff::SignedDuration::from_hours(1);
    state
        .apply(&record(state.last_seq + 1, at, started))
        .unwrap();
    state
}

fn queued(task: &str) -> Event {
    Event::AttemptQueued {
        task: task.into(),
        attempt: 1,
        agent: "dev".into(),
        executor: "command".into(),
        dir: format!("runs/{task}"),
    }
}

#[test]
fn a_running_mission_forecasts_what_is_left() {
    let work = Work::remaining(&running_state(), now());
    let ids: Vec<&str> = work.tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["b", "c"]);
    assert_eq!(work.tasks[0].elapsed_hours, 1.0);
    // b takes its 4 hours (3 left), then c its 2.
    assert_eq!(p50(&work, &exact("dev", 1.0, 0.0)), 5.0);
    // b has outlived every duration history allows (0.2 × 4 h): a
    // quarter of its hour so far again.
    assert_eq!(p50(&work, &exact("dev", 0.2, 0.0)), 0.25 + 0.4);
}

#[test]
fn the_deadline_chance_is_the_share_of_runs_done_by_then() {
    let mut plan = plan(&[("a", "dev", 10.0, &[], None)], 0, 1);
    plan.deadline = Some(now() + jiff::SignedDuration::from_hours(10));
    let work = Work::planned(&plan, now());
    // No history: the lognormal prior has the estimate as its median.
    let f = forecast::forecast(&work, &Model::default(), 4000, 3);
    let deadline = f.deadline.unwrap();
    assert_eq!(deadline.hours_left, 10.0);
    assert!((deadline.chance - 0.5).abs() < 0.03, "{}", deadline.chance);
    assert!((f.finish_hours.p50 - 10.0).abs() < 0.3);
    assert!(f.finish_hours.p90 > 17.0 && f.finish_hours.p90 < 21.0);
}

#[test]
fn the_uncertain_task_on_the_longest_chain_drives_the_risk() {
    // `wild` is long and uncertain; `calm` runs beside it, shorter and
    // sure; `tail` waits for both.
    let plan = plan(
        &[
            ("calm", "steady", 3.0, &[], None),
            ("wild", "gambler", 4.0, &[], None),
            ("tail", "steady", 1.0, &["calm", "wild"], None),
        ],
        0,
        4,
    );
    let mut samples: Vec<Sample> = (0..500)
        .map(|i| Sample {
            agent: "gambler".into(),
            kind: TaskKind::Implement,
            estimate_hours: 1.0,
            actual_hours: 0.5 + (i % 10) as f64 * 0.2,
            cost_usd: 0.0,
            succeeded: i % 50 != 0,
        })
        .collect();
    samples.extend((0..500).map(|_| Sample {
        agent: "steady".into(),
        kind: TaskKind::Implement,
        estimate_hours: 1.0,
        actual_hours: 1.0,
        cost_usd: 0.0,
        succeeded: true,
    }));
    let model = Model::new(&History {
        samples,
        missions: 10,
    });
    let f = forecast::forecast(&Work::planned(&plan, now()), &model, 2000, 11);
    assert_eq!(f.drivers[0].task, "wild");
    assert!(f.drivers[0].correlation > 0.9, "{:?}", f.drivers);
    assert!(f.drivers[0].criticality > 0.6, "{:?}", f.drivers);
    // `tail` is always critical, but its duration hardly varies.
    assert!(
        f.drivers
            .iter()
            .all(|d| d.task != "tail" || d.correlation < 0.5)
    );
    // One gambler task in 50 failed: about 2 % of runs see a failure.
    assert!(
        (f.failure_chance - 0.02).abs() < 0.01,
        "{}",
        f.failure_chance
    );
    let gambler = &f.history.agents[0];
    assert_eq!((gambler.name.as_str(), gambler.samples), ("gambler", 500));
}

#[test]
fn the_same_seed_gives_the_same_forecast() {
    let plan = plan(
        &[
            ("a", "dev", 3.0, &[], None),
            ("b", "ops", 2.0, &["a"], None),
        ],
        0,
        2,
    );
    let work = Work::planned(&plan, now());
    let model = Model::default();
    let once = forecast::forecast(&work, &model, 300, 42);
    assert_eq!(once, forecast::forecast(&work, &model, 300, 42));
    assert_ne!(
        once.finish_hours,
        forecast::forecast(&work, &model, 300, 43).finish_hours
    );
}

#[test]
fn the_fold_keeps_one_baseline_and_the_last_slip() {
    let mut state = running_state();
    let at = |h: i64| now() + jiff::SignedDuration::from_hours(h);
    let slipped = Event::ForecastSlipped {
        baseline: at(3),
        forecast: at(4),
        p90: at(6),
        slip: 0.3,
        drivers: vec!["b".into()],
    };
    let seq = state.last_seq + 1;
    assert_eq!(
        state.apply(&record(seq, now(), slipped.clone())),
        Err(techlead_core::state::StateError::NoBaseline)
    );
    let baseline = Event::ForecastBaseline {
        p50: at(3),
        p90: at(5),
        runs: 200,
    };
    state.apply(&record(seq, now(), baseline.clone())).unwrap();
    state.apply(&record(seq + 1, at(1), slipped)).unwrap();
    let track = state.forecast.unwrap();
    assert_eq!((track.since, track.p50, track.p90), (now(), at(3), at(5)));
    assert_eq!(track.slipped, Some(0.3));
    assert_eq!(
        state.apply(&record(seq + 2, at(1), baseline)),
        Err(techlead_core::state::StateError::BaselineTwice)
    );
}
