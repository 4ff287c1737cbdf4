//! Calibration: does P90 cover nine outcomes in ten?
//!
//! Many missions are generated (random DAGs, estimates, agents and
//! limits) and "run" with true durations drawn from known, per-agent
//! distributions (two lognormals and a bimodal one the model does not
//! assume). Each mission is forecast from the history of all the others
//! (leave one out), and its true finish is compared with the forecast's
//! P50 and P90. The true finish is scheduled by the same dispatch rules
//! the forecast uses, so what is measured is the model of durations, not
//! the scheduler. Seeds are fixed: the figures are the same on every run.
//! docs/forecast.md reports them ("Calibration").

use serde_json::json;
use techlead_core::forecast::rng::Rng;
use techlead_core::forecast::simulate::schedule;
use techlead_core::forecast::{self, History, Model, Sample, Work};
use techlead_core::history::TaskKind;
use techlead_core::state::MissionPlan;

const AGENTS: [&str; 3] = ["fast", "slow", "erratic"];

/// The true `actual / estimate` of a task of `agent`.
fn true_ratio(agent: usize, rng: &mut Rng) -> f64 {
    match agent {
        0 => 0.6 * (0.3 * rng.normal()).exp(),
        1 => 1.8 * (0.5 * rng.normal()).exp(),
        // Mostly a little early, sometimes badly late.
        _ => {
            if rng.unit() < 0.7 {
                0.8 * (0.1 * rng.normal()).exp()
            } else {
                2.5 * (0.2 * rng.normal()).exp()
            }
        }
    }
}

struct Mission {
    plan: MissionPlan,
    /// Per task: agent index, estimate, true hours.
    tasks: Vec<(usize, f64, f64)>,
}

fn mission(index: usize, rng: &mut Rng) -> Mission {
    let n = 8 + rng.below(20);
    let mut tasks = Vec::new();
    let mut specs = Vec::new();
    for t in 0..n {
        let agent = rng.below(AGENTS.len());
        let estimate = [0.5, 1.0, 2.0, 3.0, 4.0, 8.0][rng.below(6)];
        let deps: Vec<String> = (0..t)
            .filter(|_| rng.below(6) == 0)
            .map(|d| format!("t{d}"))
            .collect();
        tasks.push((agent, estimate, estimate * true_ratio(agent, rng)));
        specs.push(json!({
            "id": format!("t{t}"), "title": "x", "priority": "medium",
            "depends_on": deps, "agent": AGENTS[agent], "executor": "command",
            "timeout_ms": 1, "retries": 0, "estimate_hours": estimate,
        }));
    }
    let plan = serde_json::from_value(json!({
        "name": format!("m{index}"), "source": "m.yaml", "source_hash": "0",
        "workdir": ".", "max_parallel": 2 + rng.below(3), "failure_threshold": 0.5,
        "backoff_ms": [], "phases": [], "tasks": specs,
    }))
    .unwrap();
    Mission { plan, tasks }
}

fn samples(mission: &Mission) -> impl Iterator<Item = Sample> + '_ {
    mission
        .tasks
        .iter()
        .map(|&(agent, estimate, actual)| Sample {
            agent: AGENTS[agent].to_string(),
            kind: TaskKind::Implement,
            estimate_hours: estimate,
            actual_hours: actual,
            cost_usd: 0.0,
            succeeded: true,
        })
}

/// Forecasts `count` missions, each from the history of `others` other
/// missions; returns the shares of true finishes at or under P50 and P90.
fn coverage(count: usize, others: usize, seed: u64) -> (f64, f64) {
    let mut rng = Rng::new(seed);
    let missions: Vec<Mission> = (0..count).map(|i| mission(i, &mut rng)).collect();
    let now = "2026-06-01T00:00:00Z".parse().unwrap();
    let (mut under_p50, mut under_p90) = (0, 0);
    for (i, m) in missions.iter().enumerate() {
        let history = History {
            samples: (1..=others)
                .flat_map(|k| samples(&missions[(i + k) % count]))
                .collect(),
            missions: others,
        };
        let work = Work::planned(&m.plan, now);
        let truth: Vec<f64> = m.tasks.iter().map(|t| t.2).collect();
        let actual = schedule(&work, &truth);
        let f = forecast::forecast(&work, &Model::new(&history), 500, i as u64);
        under_p50 += usize::from(actual <= f.finish_hours.p50);
        under_p90 += usize::from(actual <= f.finish_hours.p90);
    }
    (
        under_p50 as f64 / count as f64,
        under_p90 as f64 / count as f64,
    )
}

#[test]
fn p90_covers_nine_outcomes_in_ten_with_a_rich_history() {
    let (p50, p90) = coverage(400, 399, 2026);
    println!("rich history (399 missions): P50 covers {p50:.3}, P90 covers {p90:.3}");
    assert!((0.85..=0.95).contains(&p90), "P90 covered {p90}");
    assert!((0.43..=0.57).contains(&p50), "P50 covered {p50}");
}

#[test]
fn a_thin_history_stays_roughly_calibrated() {
    // Three missions of history: about 15 samples per agent, so a third
    // of each agent's draws back off to everyone's and the prior.
    let (p50, p90) = coverage(400, 3, 7);
    println!("thin history (3 missions): P50 covers {p50:.3}, P90 covers {p90:.3}");
    assert!((0.80..=0.96).contains(&p90), "P90 covered {p90}");
}
