//! What a task may take: its estimate times a ratio drawn from history.
//!
//! Each finished task of a past mission is a [`Sample`]: how long it
//! really took against its estimate (the ratio), what it cost per
//! estimated hour, and whether it succeeded. A task of the mission being
//! forecast draws one sample, whole, so that a slow draw is also a costly
//! one when history says they go together.
//!
//! Where the draw comes from backs off as history thins, like a Dirichlet
//! process with [`PSEUDO_COUNT`] pseudo-samples at each level: from the
//! task's agent's samples with probability `n / (n + 5)`, else from the
//! samples of its kind of work (`core::history::TaskKind`) likewise, else
//! from every sample likewise, else from the [`PRIOR`]. An agent with 45
//! samples is its own history 90 % of the time; an agent with 2 is mostly
//! its kind's and everyone else's; with no history at all the estimate is
//! the median of a lognormal (docs/forecast.md, "The model").
//!
//! Samples come from `core::history::outcome`: each settled task that ran,
//! rehearsals (the `simulate` executor) left out as history leaves them.

use super::rng::Rng;
use crate::history::TaskKind;
use crate::history::outcome::TaskOutcome;
use crate::plan::graph::DEFAULT_ESTIMATE_HOURS;
use crate::state::TaskStatus;
use serde::Serialize;

/// One finished task of a past mission.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub agent: String,
    pub kind: TaskKind,
    /// The estimate it was planned with (the default hour when it had
    /// none, as the forecast counts an unestimated task).
    pub estimate_hours: f64,
    /// Its attempts' run time, retries included.
    pub actual_hours: f64,
    /// Every attempt's cost.
    pub cost_usd: f64,
    pub succeeded: bool,
}

/// The past the forecast learns from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub samples: Vec<Sample>,
    /// How many missions the samples came from (for people).
    pub missions: usize,
}

/// The newest missions a forecast learns from: enough for agents' ratios
/// to settle, few enough that a start does not fold a whole database.
pub const HISTORY_MISSIONS: usize = 50;

impl History {
    /// The newest [`HISTORY_MISSIONS`] missions of the record that have a
    /// task to learn from.
    pub fn of_record(record: &crate::history::History) -> History {
        let mut history = History::default();
        for mission in &record.missions {
            if history.missions == HISTORY_MISSIONS {
                break;
            }
            history.add(&mission.tasks);
        }
        history
    }

    /// Adds the tasks of one mission that ran and settled as succeeded or
    /// failed; rehearsals (`simulate`) are not evidence. The outcomes may
    /// be kept ones or made as they are read, none kept.
    pub fn add<O: std::borrow::Borrow<TaskOutcome>>(
        &mut self,
        outcomes: impl IntoIterator<Item = O>,
    ) {
        let before = self.samples.len();
        for outcome in outcomes {
            self.push(outcome.borrow());
        }
        self.missions += usize::from(self.samples.len() > before);
    }

    fn push(&mut self, outcome: &TaskOutcome) {
        let ran = outcome.attempts > 0 && outcome.duration_ms > 0;
        let settled = matches!(outcome.status, TaskStatus::Succeeded | TaskStatus::Failed);
        if !ran || !settled || outcome.simulated {
            return;
        }
        self.samples.push(Sample {
            agent: outcome.agent.clone(),
            kind: outcome.kind,
            estimate_hours: match outcome.estimate_hours {
                Some(h) if h.is_finite() && h >= 0.0 => h,
                _ => DEFAULT_ESTIMATE_HOURS,
            },
            actual_hours: outcome.duration_ms as f64 / 3_600_000.0,
            cost_usd: outcome.cost_usd,
            succeeded: outcome.succeeded,
        });
    }
}

/// The distribution of `actual / estimate` when history says nothing:
/// lognormal, with the estimate as its median, and `sigma` such that one
/// task in ten takes more than 1.9 times its estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prior {
    pub median: f64,
    pub sigma: f64,
}

pub const PRIOR: Prior = Prior {
    median: 1.0,
    sigma: 0.5,
};

/// The weight of the next level down, in samples.
pub const PSEUDO_COUNT: f64 = 5.0;

/// One drawn outcome, per estimated hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub ratio: f64,
    /// US dollars per estimated hour.
    pub cost_rate: f64,
    pub failed: bool,
}

/// Which agent's and which kind's samples a task draws from first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool {
    agent: Option<u32>,
    kind: Option<u32>,
}

/// History made ready to draw from.
#[derive(Debug, Clone, Default)]
pub struct Model {
    overall: Vec<Draw>,
    /// By agent name, sorted.
    agents: Vec<(String, Vec<Draw>)>,
    /// By kind, sorted.
    kinds: Vec<(TaskKind, Vec<Draw>)>,
    /// What a draw from the prior costs: the mean over history, else 0.
    prior_cost_rate: f64,
    missions: usize,
}

impl Model {
    /// Samples with no usable estimate or duration are left out.
    pub fn new(history: &History) -> Model {
        let mut agents: Vec<(String, Vec<Draw>)> = Vec::new();
        let mut kinds: Vec<(TaskKind, Vec<Draw>)> = Vec::new();
        let mut overall = Vec::new();
        for sample in &history.samples {
            let Some(draw) = draw_of(sample) else {
                continue;
            };
            overall.push(draw);
            match agents.binary_search_by(|(a, _)| a.as_str().cmp(&sample.agent)) {
                Ok(i) => agents[i].1.push(draw),
                Err(i) => agents.insert(i, (sample.agent.clone(), vec![draw])),
            }
            match kinds.binary_search_by(|(k, _)| k.cmp(&sample.kind)) {
                Ok(i) => kinds[i].1.push(draw),
                Err(i) => kinds.insert(i, (sample.kind, vec![draw])),
            }
        }
        let prior_cost_rate = if overall.is_empty() {
            0.0
        } else {
            overall.iter().map(|d| d.cost_rate).sum::<f64>() / overall.len() as f64
        };
        Model {
            overall,
            agents,
            kinds,
            prior_cost_rate,
            missions: history.missions,
        }
    }

    pub fn pool(&self, agent: &str, kind: TaskKind) -> Pool {
        Pool {
            agent: self
                .agents
                .binary_search_by(|(a, _)| a.as_str().cmp(agent))
                .ok()
                .map(|i| i as u32),
            kind: self
                .kinds
                .binary_search_by(|(k, _)| k.cmp(&kind))
                .ok()
                .map(|i| i as u32),
        }
    }

    /// One outcome for a task of `pool`'s agent and kind.
    pub fn draw(&self, pool: Pool, rng: &mut Rng) -> Draw {
        if let Some(i) = pool.agent
            && let Some(draw) = pick(&self.agents[i as usize].1, rng)
        {
            return draw;
        }
        if let Some(i) = pool.kind
            && let Some(draw) = pick(&self.kinds[i as usize].1, rng)
        {
            return draw;
        }
        if let Some(draw) = pick(&self.overall, rng) {
            return draw;
        }
        Draw {
            ratio: PRIOR.median * (PRIOR.sigma * rng.normal()).exp(),
            cost_rate: self.prior_cost_rate,
            failed: false,
        }
    }

    /// What history the forecast rests on, for people.
    pub fn used(&self) -> Used {
        Used {
            missions: self.missions,
            samples: self.overall.len(),
            median_ratio: median_ratio(&self.overall),
            agents: self
                .agents
                .iter()
                .map(|(agent, draws)| PoolHistory {
                    name: agent.clone(),
                    samples: draws.len(),
                    median_ratio: median_ratio(draws).unwrap_or(PRIOR.median),
                    weight: weight(draws.len()),
                })
                .collect(),
            kinds: self
                .kinds
                .iter()
                .map(|(kind, draws)| PoolHistory {
                    name: kind.as_str().to_string(),
                    samples: draws.len(),
                    median_ratio: median_ratio(draws).unwrap_or(PRIOR.median),
                    weight: weight(draws.len()),
                })
                .collect(),
            prior: PRIOR,
        }
    }
}

/// A sample from `draws` with probability `n / (n + PSEUDO_COUNT)`.
fn pick(draws: &[Draw], rng: &mut Rng) -> Option<Draw> {
    (!draws.is_empty() && rng.unit() < weight(draws.len())).then(|| draws[rng.below(draws.len())])
}

fn weight(n: usize) -> f64 {
    n as f64 / (n as f64 + PSEUDO_COUNT)
}

fn draw_of(sample: &Sample) -> Option<Draw> {
    let usable = |x: f64| x.is_finite() && x >= 0.0;
    let estimated = usable(sample.estimate_hours) && sample.estimate_hours > 0.0;
    if !(estimated && usable(sample.actual_hours)) {
        return None;
    }
    Some(Draw {
        ratio: sample.actual_hours / sample.estimate_hours,
        cost_rate: if usable(sample.cost_usd) {
            sample.cost_usd / sample.estimate_hours
        } else {
            0.0
        },
        failed: !sample.succeeded,
    })
}

fn median_ratio(draws: &[Draw]) -> Option<f64> {
    let mut ratios: Vec<f64> = draws.iter().map(|d| d.ratio).collect();
    ratios.sort_by(f64::total_cmp);
    (!ratios.is_empty()).then(|| ratios[ratios.len() / 2])
}

/// The history behind a forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Used {
    pub missions: usize,
    pub samples: usize,
    /// Median of `actual / estimate` over every sample.
    pub median_ratio: Option<f64>,
    pub agents: Vec<PoolHistory>,
    pub kinds: Vec<PoolHistory>,
    pub prior: Prior,
}

/// One agent's or one kind's samples.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolHistory {
    /// The agent, or the kind of work.
    pub name: String,
    pub samples: usize,
    pub median_ratio: f64,
    /// How often a task that reaches this level draws from it.
    pub weight: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(agent: &str, estimate: f64, actual: f64) -> Sample {
        Sample {
            agent: agent.into(),
            kind: TaskKind::Implement,
            estimate_hours: estimate,
            actual_hours: actual,
            cost_usd: 2.0 * estimate,
            succeeded: true,
        }
    }

    #[test]
    fn an_agent_with_a_long_history_draws_mostly_its_own() {
        let mut samples: Vec<Sample> = (0..45).map(|_| sample("slow", 1.0, 3.0)).collect();
        samples.extend((0..200).map(|_| sample("fast", 2.0, 1.0)));
        let model = Model::new(&History {
            samples,
            missions: 3,
        });
        let mut rng = Rng::new(1);
        let slow = model.pool("slow", TaskKind::Implement);
        let own = (0..10_000)
            .filter(|_| model.draw(slow, &mut rng).ratio == 3.0)
            .count();
        // 45 / 50 from its own, and 45 / 245 of the rest from its kind's
        // (every sample here is of one kind).
        let expected = 0.9 + 0.1 * (245.0 / 250.0) * (45.0 / 245.0);
        assert!((own as f64 / 10_000.0 - expected).abs() < 0.01, "{own}");
        let draw = model.draw(model.pool("fast", TaskKind::Implement), &mut rng);
        assert_eq!(draw.cost_rate, 2.0);
    }

    #[test]
    fn no_history_means_the_lognormal_prior_around_the_estimate() {
        let model = Model::new(&History::default());
        let mut rng = Rng::new(3);
        let mut ratios: Vec<f64> = (0..20_000)
            .map(|_| {
                model
                    .draw(model.pool("anyone", TaskKind::Test), &mut rng)
                    .ratio
            })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let p50 = ratios[10_000];
        let p90 = ratios[18_000];
        assert!((p50 - 1.0).abs() < 0.03, "{p50}");
        assert!((p90 - (0.5 * 1.281_55_f64).exp()).abs() < 0.06, "{p90}");
        assert_eq!(model.used().samples, 0);
    }

    #[test]
    fn unusable_samples_are_left_out() {
        let model = Model::new(&History {
            samples: vec![
                sample("a", 0.0, 1.0),
                sample("a", 1.0, f64::NAN),
                sample("a", 2.0, 1.0),
            ],
            missions: 1,
        });
        let used = model.used();
        assert_eq!(used.samples, 1);
        assert_eq!(used.agents[0].median_ratio, 0.5);
        assert_eq!(used.kinds[0].name, "implement");
        assert!((used.agents[0].weight - 1.0 / 6.0).abs() < 1e-12);
    }
}
