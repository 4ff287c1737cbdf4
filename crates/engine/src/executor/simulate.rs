//! The `simulate` executor: runs nothing. Each attempt waits a seeded
//! duration drawn around the task's estimate and then succeeds or fails as a
//! seeded draw says, so that a mission can be rehearsed (the engine, the
//! retries, the phases, the view) and its length forecast without an agent,
//! a key or a cent. Every report, log line and outcome says SIMULATION, so a
//! simulated attempt is never taken for work done. See docs/executors.md.
//!
//! Everything random is a pure function of (seed, task ID, attempt): the
//! same seed replays the same rehearsal, and a retry (another attempt) draws
//! again, so it can succeed where the first try failed. The mission ID is
//! left out on purpose: a mission gets a new ID (`name-N`) each time it is
//! run, and a rehearsal run twice must go the same way.
//!
//! One attempt is a timeline on tokio's clock: started, then progress at
//! 25, 50 and 75 % of the drawn duration, then the end (success, or a
//! seeded failure part way through), cut short by the timeout or the cancel
//! token, whichever comes first.

use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;
use techlead_core::plan::graph::DEFAULT_ESTIMATE_HOURS;
use techlead_core::state::Usage;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

/// The word every report, log line and outcome of this executor starts
/// with.
pub const MARK: &str = "SIMULATION";

/// The model named in the usage this executor reports.
pub const MODEL: &str = "simulation";

/// Overrides [`SimulateConfig::scale`]: wall-clock seconds per estimated
/// hour (a decimal number, 0 or more).
pub const SCALE_VARIABLE: &str = "TECHLEAD_SIMULATE_SCALE";
/// Overrides [`SimulateConfig::seed`] (a whole number).
pub const SEED_VARIABLE: &str = "TECHLEAD_SIMULATE_SEED";
/// Overrides [`SimulateConfig::failure_rate`] (from 0 to 1).
pub const FAILURE_RATE_VARIABLE: &str = "TECHLEAD_SIMULATE_FAILURE_RATE";

/// How a simulation runs. [`Default`] is fixed; [`SimulateConfig::from_env`]
/// is the default with the `TECHLEAD_SIMULATE_*` variables applied.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulateConfig {
    scale: f64,
    failure_rate: f64,
    seed: u64,
    estimates: HashMap<String, f64>,
}

impl SimulateConfig {
    /// One estimated hour takes one second of wall time.
    pub const DEFAULT_SCALE: f64 = 1.0;
    /// One attempt in ten fails.
    pub const DEFAULT_FAILURE_RATE: f64 = 0.1;
    /// Fixed, so that two rehearsals without a seed go the same way.
    pub const DEFAULT_SEED: u64 = 1;

    /// The defaults, then the variables [`SCALE_VARIABLE`],
    /// [`SEED_VARIABLE`] and [`FAILURE_RATE_VARIABLE`] where set. A value
    /// that does not parse is an error (a sentence naming the variable),
    /// not silently ignored.
    pub fn from_env() -> Result<SimulateConfig, String> {
        SimulateConfig::from_lookup(|name| match std::env::var(name) {
            Ok(value) => Some(value),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(value)) => {
                Some(value.to_string_lossy().into_owned())
            }
        })
    }

    /// [`SimulateConfig::from_env`] with the variables read by `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SimulateConfig, String> {
        let mut config = SimulateConfig::default();
        if let Some(value) = lookup(SCALE_VARIABLE) {
            config.scale = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|scale| scale.is_finite() && *scale >= 0.0)
                .ok_or_else(|| {
                    format!(
                        "{SCALE_VARIABLE} must be a number of seconds per estimated hour, \
                         0 or more (e.g. 0.5), not `{value}`"
                    )
                })?;
        }
        if let Some(value) = lookup(SEED_VARIABLE) {
            config.seed = value.trim().parse::<u64>().map_err(|_| {
                format!(
                    "{SEED_VARIABLE} must be a whole number from 0 to {}, not `{value}`",
                    u64::MAX
                )
            })?;
        }
        if let Some(value) = lookup(FAILURE_RATE_VARIABLE) {
            config.failure_rate = value
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|rate| (0.0..=1.0).contains(rate))
                .ok_or_else(|| {
                    format!(
                        "{FAILURE_RATE_VARIABLE} must be a number from 0 to 1 (e.g. 0.1 for one \
                         attempt in ten), not `{value}`"
                    )
                })?;
        }
        Ok(config)
    }

    /// Wall-clock seconds one estimated hour takes. A negative or
    /// non-finite value counts as 0 (every attempt ends at once).
    pub fn with_scale(mut self, seconds_per_hour: f64) -> SimulateConfig {
        self.scale = if seconds_per_hour.is_finite() {
            seconds_per_hour.max(0.0)
        } else {
            0.0
        };
        self
    }

    /// The share of attempts that fail, from 0 (none) to 1 (all); clamped
    /// into that range, NaN counts as 0.
    pub fn with_failure_rate(mut self, rate: f64) -> SimulateConfig {
        self.failure_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    pub fn with_seed(mut self, seed: u64) -> SimulateConfig {
        self.seed = seed;
        self
    }

    /// The estimate of task `task`, in hours.
    pub fn with_estimate(mut self, task: impl Into<String>, hours: f64) -> SimulateConfig {
        self.estimates.insert(task.into(), hours);
        self
    }

    /// Estimates of many tasks, as a plan has them
    /// (`(task.id, task.estimate_hours)`); `None` is left out.
    pub fn with_estimates<S: Into<String>>(
        mut self,
        estimates: impl IntoIterator<Item = (S, Option<f64>)>,
    ) -> SimulateConfig {
        for (task, hours) in estimates {
            if let Some(hours) = hours {
                self.estimates.insert(task.into(), hours);
            }
        }
        self
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    pub fn failure_rate(&self) -> f64 {
        self.failure_rate
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The estimate used for `task`, and whether the task had one: `given`
    /// when there is one, else the one given with
    /// [`SimulateConfig::with_estimate`]. A missing, negative or non-finite
    /// estimate counts as [`DEFAULT_ESTIMATE_HOURS`], as the planner counts
    /// it.
    pub fn estimate(&self, task: &str, given: Option<f64>) -> (f64, bool) {
        match given.or_else(|| self.estimates.get(task).copied()) {
            Some(hours) if hours.is_finite() && hours >= 0.0 => (hours, true),
            _ => (DEFAULT_ESTIMATE_HOURS, false),
        }
    }

    /// What attempt `attempt` of task `task` will do: a pure function of
    /// the seed, the task, the attempt, the estimate, the scale and the
    /// failure rate.
    pub fn draw(&self, task: &str, attempt: u32) -> Draw {
        self.draw_with(task, attempt, None)
    }

    /// [`SimulateConfig::draw`] around the estimate `given` when there is
    /// one, rather than the configured one.
    pub fn draw_with(&self, task: &str, attempt: u32, given: Option<f64>) -> Draw {
        let (estimate_hours, estimated) = self.estimate(task, given);
        let unit = |stream: u8| unit(self.seed, task, attempt, stream);
        // A standard normal (Box–Muller), kept within 3 deviations.
        let z = ((-2.0 * (1.0 - unit(1)).ln()).sqrt() * (std::f64::consts::TAU * unit(2)).cos())
            .clamp(-3.0, 3.0);
        let hours = estimate_hours * (SPREAD * z).exp();
        let fails_at =
            (unit(3) < self.failure_rate).then(|| FAIL_EARLIEST + (1.0 - FAIL_EARLIEST) * unit(4));
        Draw {
            estimate_hours,
            estimated,
            hours,
            duration: seconds(hours * self.scale),
            fails_at,
        }
    }
}

impl Default for SimulateConfig {
    fn default() -> SimulateConfig {
        SimulateConfig {
            scale: SimulateConfig::DEFAULT_SCALE,
            failure_rate: SimulateConfig::DEFAULT_FAILURE_RATE,
            seed: SimulateConfig::DEFAULT_SEED,
            estimates: HashMap::new(),
        }
    }
}

/// The spread of simulated durations: the log of (actual / estimate) is
/// normal with this deviation, so the estimate is the median, half the
/// attempts take between 0.71 and 1.4 times it, and overruns reach further
/// than underruns (the mean is 1.13 times the estimate).
const SPREAD: f64 = 0.5;

/// A failing attempt fails somewhere between this share of its duration
/// and its end: failures cost time too.
const FAIL_EARLIEST: f64 = 0.1;

/// The progress reports, in percent of the drawn duration.
const MILESTONES: [u8; 3] = [25, 50, 75];

/// What one attempt does, drawn by [`SimulateConfig::draw`].
#[derive(Debug, Clone, PartialEq)]
pub struct Draw {
    /// The estimate the draw is around, in hours.
    pub estimate_hours: f64,
    /// False when the task had no usable estimate and
    /// [`DEFAULT_ESTIMATE_HOURS`] stood in.
    pub estimated: bool,
    /// Simulated hours the whole attempt takes.
    pub hours: f64,
    /// Wall time of the whole attempt: `hours` times the scale.
    pub duration: Duration,
    /// `Some(share)`: the attempt fails at this share (0.1 to 1) of its
    /// duration.
    pub fails_at: Option<f64>,
}

impl Draw {
    /// The share of the duration at which the attempt ends by itself.
    pub fn end_share(&self) -> f64 {
        self.fails_at.unwrap_or(1.0)
    }

    /// Wall time until the attempt ends by itself (before any timeout).
    pub fn ends_after(&self) -> Duration {
        seconds(self.duration.as_secs_f64() * self.end_share())
    }
}

/// Rehearses attempts without running anything. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SimulateExecutor {
    config: Arc<SimulateConfig>,
}

impl SimulateExecutor {
    pub fn new(config: SimulateConfig) -> SimulateExecutor {
        SimulateExecutor {
            config: Arc::new(config),
        }
    }

    pub fn config(&self) -> &SimulateConfig {
        &self.config
    }
}

impl Executor for SimulateExecutor {
    fn name(&self) -> &'static str {
        "simulate"
    }

    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture {
        Box::pin(run(self.config.clone(), spec, events, cancel))
    }
}

async fn run(
    config: Arc<SimulateConfig>,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let mut out = match Reports::open(&spec, events) {
        Ok(out) => out,
        Err(error) => {
            return failed(format!(
                "{MARK}: cannot create the directory for the attempt's files `{}`: {error}",
                spec.files_dir().display()
            ));
        }
    };
    // The spec carries no estimate (yet): the configured ones stand.
    let draw = config.draw_with(&spec.task_id, spec.attempt, spec.estimate_hours);
    let start = Instant::now();
    let task = format!("`{}` ({})", spec.task_id, spec.task_title);
    let estimate = if draw.estimated {
        format!("an estimate of {} h", draw.estimate_hours)
    } else {
        format!("no estimate (counted as {} h)", draw.estimate_hours)
    };
    out.log(&format!(
        "{MARK}: started {task}, attempt {}: nothing runs; {estimate}, drawn {:.2} simulated \
         hours ({:.1} s of wall time at {} s per hour), seed {}",
        spec.attempt,
        draw.hours,
        draw.duration.as_secs_f64(),
        config.scale,
        config.seed,
    ));
    out.send(ExecEvent::Started { pid: None });

    let ends_after = draw.ends_after();
    let timed_out = ends_after > spec.timeout;
    let stop = if timed_out { spec.timeout } else { ends_after };
    for percent in MILESTONES {
        let share = f64::from(percent) / 100.0;
        let at = seconds(draw.duration.as_secs_f64() * share);
        if share >= draw.end_share() || (timed_out && at >= stop) {
            break;
        }
        if wait(start.checked_add(at), &cancel).await {
            return out.cancelled(&draw, start);
        }
        out.report(ExecEvent::Progress {
            percent: Some(percent),
            message: format!(
                "{MARK}: {percent} % of {task}, {:.2} of {:.2} simulated hours",
                draw.hours * share,
                draw.hours,
            ),
        });
    }
    if wait(start.checked_add(stop), &cancel).await {
        return out.cancelled(&draw, start);
    }

    if timed_out {
        out.usage(&draw, share_done(&draw, spec.timeout));
        let line = format!(
            "{MARK}: timed out: the attempt ran past its timeout of {:.1} s (it would have \
             taken {:.1} s)",
            spec.timeout.as_secs_f64(),
            ends_after.as_secs_f64(),
        );
        return out.finish(Outcome::TimedOut, &line);
    }
    out.usage(&draw, draw.end_share());
    match draw.fails_at {
        Some(share) => {
            let message = format!(
                "{MARK}: seeded failure of {task}, attempt {}, at {:.0} % of {:.2} simulated hours \
             (failure rate {}, seed {}); nothing ran",
                spec.attempt,
                share * 100.0,
                draw.hours,
                config.failure_rate,
                config.seed,
            );
            let line = format!("{MARK}: failed: {message}");
            out.finish(failed(message), &line)
        }
        None => {
            let summary = format!(
                "{MARK}: {task} done in {:.2} simulated hours against {estimate}; nothing ran",
                draw.hours
            );
            out.report(ExecEvent::Summary(summary.clone()));
            out.finish(
                Outcome::Succeeded {
                    summary: Some(summary),
                },
                &format!("{MARK}: succeeded"),
            )
        }
    }
}

/// Waits until `at` (forever when `None`, past the end of time); true when
/// `cancel` fired first (or had fired already).
async fn wait(at: Option<Instant>, cancel: &CancellationToken) -> bool {
    match at {
        Some(at) => tokio::select! {
            biased;
            () = cancel.cancelled() => true,
            () = sleep_until(at) => false,
        },
        None => {
            cancel.cancelled().await;
            true
        }
    }
}

/// The share of the drawn duration that `elapsed` is.
fn share_done(draw: &Draw, elapsed: Duration) -> f64 {
    let total = draw.duration.as_secs_f64();
    if total > 0.0 {
        (elapsed.as_secs_f64() / total).min(1.0)
    } else {
        1.0
    }
}

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

/// A duration of `secs` seconds; 0 for negative or NaN, the longest
/// duration for more than it can hold.
fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

/// A number in [0, 1) that depends only on its arguments: FNV-1a over
/// them, finished with the SplitMix64 mixer. Written out rather than
/// `std::hash`, whose output may change between Rust releases, so that a
/// seed replays the same rehearsal on any build.
fn unit(seed: u64, task: &str, attempt: u32, stream: u8) -> f64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &byte in bytes {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(&seed.to_le_bytes());
    eat(&(task.len() as u64).to_le_bytes());
    eat(task.as_bytes());
    eat(&attempt.to_le_bytes());
    eat(&[stream]);
    let mut z = hash;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Simulated tokens per simulated hour of work.
const INPUT_TOKENS_PER_HOUR: f64 = 40_000.0;
const OUTPUT_TOKENS_PER_HOUR: f64 = 4_000.0;
const TURNS_PER_HOUR: f64 = 12.0;

/// Where an attempt's reports go: the event channel, and one line each in
/// `output.log`.
struct Reports {
    events: mpsc::UnboundedSender<ExecEvent>,
    /// `None` once writing failed; the attempt goes on without it.
    log: Option<File>,
    log_error: Option<io::Error>,
    log_path: std::path::PathBuf,
    /// The prompt's size in tokens (about four bytes each), read once.
    prompt_tokens: u64,
}

impl Reports {
    /// Makes the directory of the attempt's files and a fresh log. Only a
    /// directory that cannot be made is an error; a log that cannot be
    /// opened is reported at the end.
    fn open(spec: &AttemptSpec, events: mpsc::UnboundedSender<ExecEvent>) -> io::Result<Reports> {
        spec.create_files_dir()?;
        let log_path = spec.log_path();
        let (log, log_error) = match File::create(&log_path) {
            Ok(file) => (Some(file), None),
            Err(error) => (None, Some(error)),
        };
        Ok(Reports {
            events,
            log,
            log_error,
            log_path,
            prompt_tokens: (spec.prompt.len() as u64).div_ceil(4),
        })
    }

    fn log(&mut self, line: &str) {
        if let Some(file) = &mut self.log
            && let Err(error) = writeln!(file, "{line}")
        {
            self.log = None;
            self.log_error = Some(error);
        }
    }

    /// Sends `event` without a line in the log (`Started`, whose line says
    /// more than the event).
    fn send(&self, event: ExecEvent) {
        // A closed channel means nobody listens any more; the attempt goes on.
        let _ = self.events.send(event);
    }

    fn report(&mut self, event: ExecEvent) {
        match &event {
            ExecEvent::Progress { message, .. } => self.log(message),
            // Already marked.
            ExecEvent::Summary(text) => self.log(text),
            ExecEvent::Usage(usage) => self.log(&format!(
                "{MARK}: usage (simulated): {} input tokens, {} output tokens, {} turns, \
                 ${:.2}, model {}",
                usage.input_tokens, usage.output_tokens, usage.turns, usage.cost_usd, MODEL,
            )),
            other => self.log(&format!("{MARK}: {other:?}")),
        }
        self.send(event);
    }

    /// Reports what `share` of the drawn attempt used: tokens in proportion
    /// to the simulated hours worked, no cost.
    fn usage(&mut self, draw: &Draw, share: f64) {
        let hours = draw.hours * share;
        let usage = Usage {
            input_tokens: self.prompt_tokens + (hours * INPUT_TOKENS_PER_HOUR) as u64,
            output_tokens: (hours * OUTPUT_TOKENS_PER_HOUR) as u64,
            turns: ((hours * TURNS_PER_HOUR).ceil() as u32).max(1),
            cost_usd: 0.0,
            model: Some(MODEL.to_string()),
            ..Usage::default()
        };
        self.report(ExecEvent::Usage(usage));
    }

    fn cancelled(mut self, draw: &Draw, start: Instant) -> Outcome {
        let elapsed = start.elapsed();
        // What it had used, as a real agent stopped half way would have.
        let share = share_done(draw, elapsed);
        self.usage(draw, share);
        let line = format!(
            "{MARK}: cancelled after {:.1} s, at {:.0} % of {:.2} simulated hours",
            elapsed.as_secs_f64(),
            share * 100.0,
            draw.hours,
        );
        self.finish(Outcome::Cancelled, &line)
    }

    /// Logs how the attempt ended (`line`), and tells of a log that could
    /// not be written: in a failure's message, or else as a last progress
    /// report.
    fn finish(mut self, outcome: Outcome, line: &str) -> Outcome {
        self.log(line);
        let Some(error) = self.log_error.take() else {
            return outcome;
        };
        let note = format!(
            "{MARK}: writing the log `{}` failed, so it is incomplete: {error}",
            self.log_path.display()
        );
        match outcome {
            Outcome::Failed {
                exit_code,
                signal,
                message,
            } => Outcome::Failed {
                exit_code,
                signal,
                message: format!("{message} ({note})"),
            },
            other => {
                self.send(ExecEvent::Progress {
                    percent: None,
                    message: note,
                });
                other
            }
        }
    }
}
