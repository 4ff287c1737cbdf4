//! What the runs say, for people: the finish and the cost as percentiles,
//! the chance of meeting the deadline, and the tasks that drive the risk.
//!
//! A driver is ranked by the correlation of its duration with the
//! mission's finish over the runs (the "cruciality index"): a task whose
//! slow draws are the runs that finish late is the one whose uncertainty
//! moves P90. Its criticality (the share of runs in which it was on the
//! critical chain) is shown beside it: a task can be always critical and
//! still not matter, when its duration hardly varies.

use super::model::Used;
use super::simulate::{Runs, TaskTally};
use super::work::Work;
use serde::Serialize;

/// A forecast of the remaining work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub runs: u32,
    pub seed: u64,
    /// Tasks still to finish, and how many of them have no estimate (they
    /// count as one hour).
    pub tasks: usize,
    pub unestimated: usize,
    /// Hours from now until the last task finishes.
    pub finish_hours: Spread,
    /// US dollars the remaining work costs.
    pub cost_usd: Spread,
    /// What the mission has spent so far (not in `cost_usd`).
    pub spent_usd: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Deadline>,
    /// Share of runs in which a task failed as some did in history: the
    /// mission would wait for the person.
    pub failure_chance: f64,
    pub drivers: Vec<Driver>,
    pub history: Used,
}

/// Percentiles over the runs (nearest rank) and the mean.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub p10: f64,
    pub p50: f64,
    pub p80: f64,
    pub p90: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Deadline {
    /// Hours from now to the deadline (negative once past).
    pub hours_left: f64,
    /// Share of runs that finish by then.
    pub chance: f64,
}

/// A task that drives the risk of finishing late.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Driver {
    pub task: String,
    pub agent: String,
    /// Correlation of its duration with the mission's finish, -1 to 1.
    pub correlation: f64,
    /// Share of runs in which it was on the critical chain.
    pub criticality: f64,
    pub mean_hours: f64,
    /// Standard deviation of its duration.
    pub spread_hours: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Spread {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at = |p: f64| {
            if sorted.is_empty() {
                return 0.0;
            }
            let rank = (p * sorted.len() as f64).ceil() as usize;
            sorted[rank.clamp(1, sorted.len()) - 1]
        };
        Spread {
            p10: at(0.1),
            p50: at(0.5),
            p80: at(0.8),
            p90: at(0.9),
            mean: if values.is_empty() {
                0.0
            } else {
                values.iter().sum::<f64>() / values.len() as f64
            },
        }
    }
}

/// Puts the runs together; `drivers` is how many to name.
pub fn summarise(work: &Work, runs: &Runs, seed: u64, drivers: usize, used: Used) -> Forecast {
    let count = runs.finish.len();
    let share = |k: usize| {
        if count == 0 {
            0.0
        } else {
            k as f64 / count as f64
        }
    };
    let finish = Spread::of(&runs.finish);
    Forecast {
        runs: count as u32,
        seed,
        tasks: work.tasks.len(),
        unestimated: work.tasks.iter().filter(|t| !t.estimated).count(),
        finish_hours: finish,
        cost_usd: Spread::of(&runs.cost),
        spent_usd: work.spent_usd,
        deadline: work.deadline_hours.map(|hours_left| Deadline {
            hours_left,
            chance: share(runs.finish.iter().filter(|&&f| f <= hours_left).count()),
        }),
        failure_chance: share(runs.failed_runs as usize),
        drivers: top_drivers(work, runs, finish.mean, drivers),
        history: used,
    }
}

fn top_drivers(work: &Work, runs: &Runs, mean_finish: f64, top: usize) -> Vec<Driver> {
    let n = runs.finish.len() as f64;
    if n < 2.0 {
        return Vec::new();
    }
    let finish_sd = (runs
        .finish
        .iter()
        .map(|f| (f - mean_finish).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    // Every task is scored, and only the top ones get their names copied.
    let mut scored: Vec<(usize, f64, f64, f64, f64)> = (runs.tasks.iter().enumerate())
        .filter_map(|(t, tally)| {
            let (mean, sd) = moments(tally, n);
            let correlation = correlation(tally, n, mean, sd, mean_finish, finish_sd);
            let criticality = f64::from(tally.critical) / n;
            (correlation > 0.0).then_some((t, correlation, criticality, mean, sd))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.2.total_cmp(&a.2)));
    scored.truncate(top);
    scored
        .into_iter()
        .map(|(t, correlation, criticality, mean, sd)| Driver {
            task: work.tasks[t].id.clone(),
            agent: work.agent(t).to_string(),
            correlation,
            criticality,
            mean_hours: mean,
            spread_hours: sd,
        })
        .collect()
}

fn moments(tally: &TaskTally, n: f64) -> (f64, f64) {
    let mean = tally.sum / n;
    let var = (tally.sum_sq / n - mean * mean).max(0.0);
    (mean, var.sqrt())
}

fn correlation(tally: &TaskTally, n: f64, mean: f64, sd: f64, mean_f: f64, sd_f: f64) -> f64 {
    if sd <= 1e-12 || sd_f <= 1e-12 {
        return 0.0;
    }
    let cov = tally.sum_by_finish / n - mean * mean_f;
    (cov / (sd * sd_f)).clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = Spread::of(&values);
        assert_eq!((s.p10, s.p50, s.p80, s.p90), (1.0, 5.0, 8.0, 9.0));
        assert_eq!(s.mean, 5.5);
        assert_eq!(Spread::of(&[]).p90, 0.0);
    }
}
