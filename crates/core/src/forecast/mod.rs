//! Forecasts: when a mission will finish and what it will cost, as a
//! distribution rather than a number (docs/forecast.md).
//!
//! `work` is what is left to do (a plan, or a running mission's state),
//! `model` is history made ready to draw from (each task's estimate times
//! a ratio from past tasks of its agent, or from all, or from a lognormal
//! prior), `simulate` runs the work many times under the mission's
//! limits, `summary` says what the runs say (P50/P90 finish and cost, the
//! chance of meeting the deadline, the tasks that drive the risk), and
//! `slip` decides when a live forecast has slipped far enough past the
//! baseline to tell someone. `rng` is the seeded generator: a forecast is
//! the same for the same inputs and seed.

pub mod model;
pub mod rng;
pub mod simulate;
pub mod slip;
pub mod summary;
pub mod work;

pub use model::{History, Model, Sample};
pub use summary::{Driver, Forecast, Spread};
pub use work::Work;

/// Runs when the caller names none: P90 moves by about 1 % between seeds.
pub const DEFAULT_RUNS: u32 = 1000;
pub const DEFAULT_SEED: u64 = 1;
/// Tasks named as drivers.
pub const DRIVERS: usize = 5;

/// Task-runs a live forecast may take (tasks × runs): a few milliseconds,
/// whatever the mission's size.
const LIVE_BUDGET: usize = 100_000;

/// How many runs a forecast made during a run takes for `tasks` tasks:
/// 200 for a small mission, fewer (down to 20) for a big one.
pub fn live_runs(tasks: usize) -> u32 {
    (LIVE_BUDGET / tasks.max(1)).clamp(20, 200) as u32
}

/// Forecasts `work` from `model` with `runs` runs of the stream `seed`.
pub fn forecast(work: &Work, model: &Model, runs: u32, seed: u64) -> Forecast {
    let outcomes = simulate::simulate(work, model, runs, seed);
    summary::summarise(work, &outcomes, seed, DRIVERS, model.used())
}
