//! How long a forecast of a big mission takes: 10,000 tasks in two
//! phases, each depending on up to two tasks before it, on 8 agents (two
//! of them limited to 2 at a time), `max_parallel` 16, with a history of
//! 2,000 samples; 1,000 runs, and a live forecast's runs.
//!
//! Run with `cargo bench -p techlead-core --bench forecast`. The target
//! is seconds, not minutes; docs/forecast.md records the last figure.

use serde_json::json;
use std::time::Instant;
use techlead_core::forecast::rng::Rng;
use techlead_core::forecast::{self, History, Model, Sample, Work};
use techlead_core::history::TaskKind;
use techlead_core::state::MissionPlan;

const TASKS: usize = 10_000;
const AGENTS: usize = 8;

fn main() {
    let mut rng = Rng::new(5);
    let plan = mission(&mut rng);
    let history = History {
        samples: (0..2_000)
            .map(|i| Sample {
                agent: format!("agent-{}", i % AGENTS),
                kind: TaskKind::Implement,
                estimate_hours: 2.0,
                actual_hours: 2.0 * (0.5 * rng.normal()).exp(),
                cost_usd: 3.0,
                succeeded: i % 40 != 0,
            })
            .collect(),
        missions: 100,
    };
    let now = "2026-06-01T00:00:00Z".parse().unwrap();

    let started = Instant::now();
    let work = Work::planned(&plan, now);
    let model = Model::new(&history);
    let prepared = started.elapsed();
    let started = Instant::now();
    let f = forecast::forecast(&work, &model, 1_000, 1);
    let full = started.elapsed();
    let live = forecast::live_runs(TASKS);
    let started = Instant::now();
    forecast::forecast(&work, &model, live, 1);
    let quick = started.elapsed();

    println!(
        "{TASKS} tasks: graph and model {:.1} ms; 1,000 runs {:.2} s ({:.2} ms a run); \
         live forecast ({live} runs) {:.0} ms",
        prepared.as_secs_f64() * 1e3,
        full.as_secs_f64(),
        full.as_secs_f64() * 1e3 / 1_000.0,
        quick.as_secs_f64() * 1e3,
    );
    println!(
        "P50 {:.0} h, P90 {:.0} h, cost P50 ${:.0}; top driver {}",
        f.finish_hours.p50,
        f.finish_hours.p90,
        f.cost_usd.p50,
        f.drivers.first().map_or("none", |d| d.task.as_str()),
    );
}

fn mission(rng: &mut Rng) -> MissionPlan {
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let deps: Vec<String> = [rng.below(i.max(1)), rng.below(i.max(1))]
                .into_iter()
                .filter(|&d| d < i && rng.below(2) == 0)
                .map(|d| format!("t{d}"))
                .collect();
            json!({
                "id": format!("t{i}"), "title": "x", "priority": "medium",
                "depends_on": deps, "phase": usize::from(i >= TASKS / 2),
                "agent": format!("agent-{}", i % AGENTS), "executor": "command",
                "timeout_ms": 1, "retries": 0, "estimate_hours": 1 + rng.below(8),
            })
        })
        .collect();
    serde_json::from_value(json!({
        "name": "big", "source": "m.yaml", "source_hash": "0", "workdir": ".",
        "max_parallel": 16, "failure_threshold": 0.5, "backoff_ms": [],
        "agent_limits": [["agent-0", 2], ["agent-1", 2]],
        "phases": [{"name": "one", "gates": []}, {"name": "two", "gates": []}],
        "tasks": tasks,
    }))
    .unwrap()
}
