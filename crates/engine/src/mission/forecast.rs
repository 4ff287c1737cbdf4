//! The live forecast (docs/forecast.md, "During a run"). It is made once
//! the run has lasted [`INTERVAL`] and again when a task finishes, off the
//! actor's thread (a 10,000-task mission takes tens of milliseconds), from
//! the work left and the history the run was given plus the mission's own
//! finished tasks, at most once per [`INTERVAL`], and less often when
//! forecasts take long ([`COST_RATIO`]): an ETA in hours needs no fresher
//! figure, and a forecast at every task's end cost a mission of short
//! tasks more CPU than its scheduling. The mission's first becomes its
//! baseline (`forecast_baseline`, once per mission, so a resumed run keeps
//! measuring against it). It waits for the run's first [`INTERVAL`] like
//! every later one: made as the run started, it took the CPU from the
//! first tasks just when they start, and a run over within a second has
//! no end worth forecasting (its next run, if any, makes the baseline).
//! Each later one is compared with it, and a slip that crosses a new step
//! of the mission's threshold is recorded (`forecast_slipped`), which the
//! terminal, the dashboard and webhooks show. Observers see every
//! forecast (the terminal's ETA).

use super::{Error, Input, Mission};
use jiff::Timestamp;
use std::sync::Arc;
use std::time::{Duration, Instant};
use techlead_core::forecast::{self, Forecast, History, Model, Work, slip};
use techlead_core::history::outcome::settled_outcomes;
use techlead_core::state::{Event, MissionState, MissionStatus, TaskStatus};
use techlead_store::Store;

/// The least time between two forecasts of a run. Tasks that finish
/// within it are taken by one forecast at its end.
const INTERVAL: Duration = Duration::from_secs(1);
/// A forecast waits this many times as long as the last one took, when
/// that is longer than [`INTERVAL`]: the live forecast keeps to 2 % of a
/// core whatever the mission's size (at 10,000 tasks one takes about
/// 90 ms, and forecasting every second took 0.5 s of CPU from a run of
/// 6 s on two cores).
const COST_RATIO: u32 = 50;
/// Tasks named as drivers in `forecast_slipped`.
const DRIVERS: usize = 3;

/// The live forecast's bookkeeping.
#[derive(Default)]
pub(super) struct Live {
    /// Past missions' finished tasks.
    history: Arc<History>,
    /// Finished tasks when the last forecast was asked for.
    finished: Option<usize>,
    asked: Option<Instant>,
    /// How long the last forecast took, from the ask to the answer.
    took: Duration,
    in_flight: bool,
    /// When the baseline is due, once the run asked for it.
    baseline_at: Option<Instant>,
}

impl<S: Store + 'static> Mission<S> {
    /// The past missions the live forecast learns from (without it: the
    /// prior, and the mission's own finished tasks).
    pub fn use_history(&mut self, history: History) {
        self.live.history = Arc::new(history);
    }

    /// Asks for the baseline when the mission has none: it is made off
    /// the actor's thread from the work left once the run has lasted
    /// [`INTERVAL`], and recorded when it is ready; a mission over by then
    /// has none, and its next run makes one.
    pub(super) fn ask_baseline(&mut self) {
        if self.state.forecast.is_none() && self.state.status == MissionStatus::Running {
            self.live.baseline_at = Some(Instant::now() + INTERVAL);
        }
    }

    /// Asks for a forecast when a task finished since the last, none is
    /// being made, and the interval has passed.
    pub(super) fn forecast_if_due(&mut self) {
        if self.next_forecast().is_none_or(|at| at > Instant::now()) {
            return;
        }
        self.spawn_forecast();
    }

    fn spawn_forecast(&mut self) {
        self.live.in_flight = true;
        let (ask, at) = self.forecast_ask();
        let inputs = self.inputs.sender();
        tokio::task::spawn_blocking(move || {
            let forecast = Box::new(ask.answer());
            let _ = inputs.send(Input::Forecast { forecast, at });
        });
    }

    /// When a forecast is owed, if one is: the baseline the run asked for,
    /// or tasks finished since the last one; and the mission goes on.
    pub(super) fn next_forecast(&self) -> Option<Instant> {
        let state = &self.state;
        if self.live.in_flight
            || state.status != MissionStatus::Running
            || state.aborting
            || self.interrupting
        {
            return None;
        }
        let finished = finished(state);
        if finished == state.tasks.len() {
            return None;
        }
        if state.forecast.is_none() {
            return self.live.baseline_at;
        }
        if self.live.finished == Some(finished) {
            return None;
        }
        let wait = between(self.live.took);
        Some(self.live.asked.map_or_else(Instant::now, |at| at + wait))
    }

    /// What a forecast of now needs, taken from the state.
    fn forecast_ask(&mut self) -> (Ask, Timestamp) {
        self.live.finished = Some(finished(&self.state));
        self.live.asked = Some(Instant::now());
        let now = Timestamp::now();
        let mut own = History::default();
        own.add(settled_outcomes(&self.id, &self.state));
        let ask = Ask {
            work: Work::remaining(&self.state, now),
            history: self.live.history.clone(),
            own,
        };
        (ask, now)
    }

    /// A forecast made at `at`: the baseline if the mission has none, else
    /// a slip recorded when it crosses a new step of the threshold.
    pub(super) fn forecast_made(
        &mut self,
        forecast: &Forecast,
        at: Timestamp,
    ) -> Result<(), Error> {
        self.live.in_flight = false;
        if let Some(asked) = self.live.asked {
            self.live.took = asked.elapsed();
        }
        self.observer.forecast(forecast, at);
        if self.state.status != MissionStatus::Running {
            return Ok(());
        }
        let p50 = slip::after(at, forecast.finish_hours.p50);
        let p90 = slip::after(at, forecast.finish_hours.p90);
        let Some(track) = self.state.forecast else {
            return self.stage(Event::ForecastBaseline {
                p50,
                p90,
                runs: forecast.runs,
            });
        };
        let Some(slipped) = slip::slip(track.since, track.p50, p50) else {
            return Ok(());
        };
        if !slip::crosses(slipped, self.state.plan.forecast.slip, track.slipped) {
            return Ok(());
        }
        self.stage(Event::ForecastSlipped {
            baseline: track.p50,
            forecast: p50,
            p90,
            slip: slipped,
            drivers: forecast
                .drivers
                .iter()
                .take(DRIVERS)
                .map(|d| d.task.clone())
                .collect(),
        })
    }
}

/// A forecast to make, with everything it needs (it may run on another
/// thread).
struct Ask {
    work: Work,
    history: Arc<History>,
    /// The mission's own finished tasks: the freshest history there is.
    own: History,
}

impl Ask {
    fn answer(self) -> Forecast {
        let mut samples = self.own.samples;
        samples.extend(self.history.samples.iter().cloned());
        let model = Model::new(&History {
            samples,
            missions: self.history.missions + self.own.missions,
        });
        let runs = forecast::live_runs(self.work.tasks.len());
        forecast::forecast(&self.work, &model, runs, forecast::DEFAULT_SEED)
    }
}

/// Tasks that will not run again.
fn finished(state: &MissionState) -> usize {
    [
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Blocked,
        TaskStatus::Skipped,
    ]
    .map(|s| state.count(s))
    .iter()
    .sum()
}

/// The time between two forecasts when the last one took `took`.
fn between(took: Duration) -> Duration {
    INTERVAL.max(took * COST_RATIO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forecasts_keep_to_their_share_of_a_core() {
        assert_eq!(between(Duration::ZERO), INTERVAL);
        assert_eq!(between(Duration::from_millis(5)), INTERVAL);
        assert_eq!(
            between(Duration::from_millis(90)),
            Duration::from_millis(4500)
        );
        let took = Duration::from_millis(300);
        assert!(took.as_secs_f64() / between(took).as_secs_f64() <= 0.02);
    }
}
