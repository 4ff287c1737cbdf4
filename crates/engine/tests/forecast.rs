//! The live forecast end to end: a real SQLite store, real child
//! processes. A run records its baseline first; a mission that runs
//! slower than its estimates records its slips, each past a new step of
//! the threshold, and a resumed run keeps the first baseline and the
//! slips already reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use techlead_core::state::{Event, EventRecord, MissionPlan, MissionState, MissionStatus};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Interrupter, Mission, Settings, observer};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.dir.path().join("techlead.db")).unwrap()
    }

    fn settings(&self) -> Settings {
        Settings {
            data_dir: self.dir.path().to_path_buf(),
            executors: vec![Arc::new(
                CommandExecutor::new().with_grace(Duration::from_millis(200)),
            )],
            gate_grace: Duration::from_millis(200),
            workers: None,
        }
    }

    /// A chain of tasks, each estimated at 0.36 s, running `scripts`.
    fn plan(&self, scripts: &[&str]) -> MissionPlan {
        let tasks: Vec<serde_json::Value> = scripts
            .iter()
            .enumerate()
            .map(|(i, script)| {
                let deps: Vec<String> =
                    (i > 0).then(|| format!("T{}", i - 1)).into_iter().collect();
                serde_json::json!({
                    "id": format!("T{i}"), "title": "t", "priority": "medium",
                    "depends_on": deps, "agent": "worker", "executor": "command",
                    "command": ["sh", "-c", script], "timeout_ms": 30_000, "retries": 0,
                    "estimate_hours": 0.0001,
                })
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "name": "late", "source": "m.yaml", "source_hash": "0",
            "workdir": self.dir.path().display().to_string(), "max_parallel": 2,
            "failure_threshold": 0.5, "backoff_ms": [10], "phases": [], "tasks": tasks,
        }))
        .unwrap()
    }

    /// Runs mission `id`; `stop_at_slip`: interrupt the run at its first
    /// `forecast_slipped`, as Ctrl-C would.
    async fn run(&self, id: &str, stop_at_slip: bool) -> MissionStatus {
        let interrupter: Arc<Mutex<Option<Interrupter>>> = Arc::default();
        let held = interrupter.clone();
        let seen = observer(move |record: &EventRecord, _, _| {
            if stop_at_slip
                && matches!(record.event, Event::ForecastSlipped { .. })
                && let Some(i) = held.lock().unwrap().as_ref()
            {
                i.interrupt();
            }
        });
        let mission = Mission::open(self.store(), id, self.settings(), seen).unwrap();
        *interrupter.lock().unwrap() = Some(mission.interrupter());
        tokio::time::timeout(Duration::from_secs(60), mission.run())
            .await
            .expect("the run ends")
            .unwrap()
    }

    fn events(&self, id: &str) -> Vec<Event> {
        let records = self.store().events(id, 0).unwrap();
        records.into_iter().map(|r| r.event).collect()
    }
}

fn slips(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ForecastSlipped { slip, .. } => Some(*slip),
            _ => None,
        })
        .collect()
}

/// Each slip crossed a step of 20 % that no earlier one had.
fn each_on_a_new_step(slips: &[f64]) {
    let steps: Vec<f64> = slips.iter().map(|s| (s / 0.2).floor()).collect();
    assert!(steps.iter().all(|&s| s >= 1.0), "{slips:?}");
    assert!(steps.windows(2).all(|w| w[1] > w[0]), "{slips:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_baseline_comes_first_and_slips_are_recorded_once_per_step() {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let id = f
        .store()
        .create_mission(
            &f.plan(&["sleep 2", "true", "true"]),
            jiff::Timestamp::now(),
        )
        .unwrap();
    assert_eq!(f.run(&id, false).await, MissionStatus::Succeeded);
    let events = f.events(&id);
    assert!(matches!(events[1], Event::RunStarted { .. }));
    let baselines: Vec<(usize, jiff::Timestamp, jiff::Timestamp, u32)> =
        (events.iter().enumerate())
            .filter_map(|(i, e)| match e {
                Event::ForecastBaseline { p50, p90, runs } => Some((i, *p50, *p90, *runs)),
                _ => None,
            })
            .collect();
    let [(baseline, p50, p90, runs)] = baselines[..] else {
        panic!("one baseline: {events:?}");
    };
    assert!(p90 >= p50 && runs == 200);
    // Made while T0 runs, once the run has lasted a second: recorded
    // before its two-second attempt ends, and not before that second.
    let first_end = events
        .iter()
        .position(|e| matches!(e, Event::AttemptFinished { .. }))
        .unwrap();
    assert!(baseline < first_end, "{events:?}");
    let records = f.store().events(&id, 0).unwrap();
    let waited = records[baseline].at.duration_since(records[1].at);
    assert!(waited >= jiff::SignedDuration::from_secs(1), "{waited:?}");
    let slips = slips(&events);
    assert!(!slips.is_empty(), "a mission five times slower slipped");
    each_on_a_new_step(&slips);
    let state = MissionState::replay(&f.store().events(&id, 0).unwrap()).unwrap();
    assert_eq!(state.forecast.unwrap().slipped, slips.last().copied());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_keeps_the_baseline_and_the_slips_reported() {
    let f = Fixture {
        dir: tempfile::tempdir().unwrap(),
    };
    let id = f
        .store()
        .create_mission(
            &f.plan(&["sleep 2", "sleep 1", "true"]),
            jiff::Timestamp::now(),
        )
        .unwrap();
    assert_eq!(f.run(&id, true).await, MissionStatus::Interrupted);
    let first = slips(&f.events(&id));
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(f.run(&id, false).await, MissionStatus::Succeeded);
    let events = f.events(&id);
    let baselines = events
        .iter()
        .filter(|e| matches!(e, Event::ForecastBaseline { .. }))
        .count();
    assert_eq!(baselines, 1);
    each_on_a_new_step(&slips(&events));
}
