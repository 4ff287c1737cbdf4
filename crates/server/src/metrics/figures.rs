//! One mission's figures, derived from its folded state, and how a scrape
//! writes them: one family per figure, a sample per mission and label set.

use crate::db::Folded;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;
use std::collections::BTreeMap;
use std::sync::Arc;
use techlead_core::state::TaskStatus;

/// Attempt durations' buckets, in seconds: agents work from seconds to
/// hours.
const DURATION_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0,
];
/// Queue waits' buckets, in seconds: from a slot that was free (a few
/// milliseconds) to one held by a long attempt.
const WAIT_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0,
];

/// A histogram already counted, written as OpenMetrics has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket, not cumulative; the last one is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        let bucket = self.bounds.partition_point(|&bound| bound < value);
        self.counts[bucket] += 1;
        self.sum += value;
        self.count += 1;
    }
}

// By reference: a scrape writes the kept histograms without copying them.
impl EncodeMetric for &Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .copied()
            .chain([f64::INFINITY])
            .zip(self.counts.iter().copied())
            .collect();
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// An agent and the executor it ran on.
type Runner = (String, String);

/// What `/metrics` shows of one mission.
#[derive(Debug)]
pub struct Figures {
    pub mission: String,
    pub last_seq: u64,
    name: String,
    status: &'static str,
    tasks: Vec<(&'static str, u64)>,
    attempts: BTreeMap<(Runner, &'static str), u64>,
    retries: BTreeMap<String, u64>,
    durations: BTreeMap<Runner, Histogram>,
    waits: BTreeMap<Runner, Histogram>,
    tokens: BTreeMap<Runner, [u64; 4]>,
    cost: BTreeMap<Runner, f64>,
    pauses: BTreeMap<String, u64>,
}

/// The token kinds, in `Figures::tokens` order.
const TOKEN_KINDS: [&str; 4] = ["input", "output", "cache_read", "cache_write"];

impl Figures {
    pub fn of(mission: &str, folded: &Folded) -> Figures {
        let state = &folded.state;
        let mut figures = Figures {
            mission: mission.to_string(),
            last_seq: state.last_seq,
            name: state.plan.name.clone(),
            status: state.status.as_str(),
            tasks: TaskStatus::ALL
                .iter()
                .map(|&s| (s.as_str(), state.count(s) as u64))
                .collect(),
            attempts: BTreeMap::new(),
            retries: folded.tally.retries.clone(),
            durations: BTreeMap::new(),
            waits: BTreeMap::new(),
            tokens: BTreeMap::new(),
            cost: BTreeMap::new(),
            pauses: folded.tally.pauses.clone(),
        };
        for attempt in state.tasks.iter().flat_map(|t| &t.attempts) {
            let runner = (attempt.agent.clone(), attempt.executor.clone());
            if let Some(started) = attempt.started_at {
                let wait = started.duration_since(attempt.queued_at).as_secs_f64();
                figures
                    .waits
                    .entry(runner.clone())
                    .or_insert_with(|| Histogram::new(WAIT_BUCKETS))
                    .observe(wait.max(0.0));
            }
            if let Some(outcome) = &attempt.outcome {
                // A gate's rejection makes a finished attempt a failure.
                let outcome = match attempt.detail.rejected_by {
                    Some(_) => "rejected",
                    None => outcome.kind(),
                };
                *figures
                    .attempts
                    .entry((runner.clone(), outcome))
                    .or_default() += 1;
            }
            if let Some(ms) = attempt.duration_ms {
                figures
                    .durations
                    .entry(runner.clone())
                    .or_insert_with(|| Histogram::new(DURATION_BUCKETS))
                    .observe(ms as f64 / 1000.0);
            }
            if let Some(usage) = &attempt.detail.usage {
                let tokens = figures.tokens.entry(runner.clone()).or_default();
                for (total, used) in tokens.iter_mut().zip([
                    usage.input_tokens,
                    usage.output_tokens,
                    usage.cache_read_tokens,
                    usage.cache_write_tokens,
                ]) {
                    *total += used;
                }
                *figures.cost.entry(runner).or_default() += usage.cost_usd;
            }
        }
        figures
    }
}

/// One scrape: every mission's figures and the live feeds' counts.
#[derive(Debug)]
pub struct Scrape {
    pub missions: Vec<Arc<Figures>>,
    pub followers: usize,
    pub fallbacks: u64,
    pub tailed: usize,
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// A family's name, help, unit and type.
type Descriptor<'a> = (&'a str, &'a str, Option<&'a Unit>, MetricType);

impl Scrape {
    /// One family: its descriptor, then a sample per label set that
    /// `samples` gives for each mission.
    fn family<'m, M: EncodeMetric + 'm>(
        &'m self,
        encoder: &mut DescriptorEncoder,
        (name, help, unit, kind): Descriptor,
        samples: impl Fn(&'m Figures) -> Vec<(Labels<'m>, M)>,
    ) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(name, help, unit, kind)?;
        for figures in &self.missions {
            for (labels, metric) in samples(figures) {
                metric.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

fn runner<'a>(mission: &'a str, (agent, executor): &'a Runner) -> Labels<'a> {
    vec![
        ("mission", mission),
        ("agent", agent),
        ("executor", executor),
    ]
}

fn of_mission(mission: &str) -> Labels<'_> {
    vec![("mission", mission)]
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use MetricType::{Counter, Gauge, Histogram as Hist};
        let seconds = Unit::Seconds;
        let e = &mut encoder;
        let info = "A mission's name and status (always 1).";
        self.family(e, ("techlead_mission_info", info, None, Gauge), |f| {
            let mut labels = of_mission(&f.mission);
            labels.extend([("name", f.name.as_str()), ("status", f.status)]);
            vec![(labels, ConstGauge::new(1u64))]
        })?;
        let events = "Events in the mission's log.";
        self.family(e, ("techlead_events", events, None, Counter), |f| {
            vec![(of_mission(&f.mission), ConstCounter::new(f.last_seq))]
        })?;
        let tasks = "The mission's tasks by status.";
        self.family(e, ("techlead_tasks", tasks, None, Gauge), |f| {
            let by_status = f.tasks.iter().map(|(status, n)| {
                let mut labels = of_mission(&f.mission);
                labels.push(("status", status));
                (labels, ConstGauge::new(*n))
            });
            by_status.collect()
        })?;
        let attempts = "Finished attempts by outcome (`rejected`: a gate refused the work).";
        self.family(e, ("techlead_attempts", attempts, None, Counter), |f| {
            let by_outcome = f.attempts.iter().map(|((r, outcome), n)| {
                let mut labels = runner(&f.mission, r);
                labels.push(("outcome", outcome));
                (labels, ConstCounter::new(*n))
            });
            by_outcome.collect()
        })?;
        let retries = "Retries scheduled (after a failed or rejected attempt, or a merge conflict), by the agent that takes them.";
        self.family(e, ("techlead_retries", retries, None, Counter), |f| {
            let by_agent = f.retries.iter().map(|(agent, n)| {
                let mut labels = of_mission(&f.mission);
                labels.push(("agent", agent));
                (labels, ConstCounter::new(*n))
            });
            by_agent.collect()
        })?;
        let durations = "How long finished attempts ran.";
        let family = ("techlead_attempt_duration", durations, Some(&seconds), Hist);
        self.family(e, family, |f| {
            let by_runner = f.durations.iter();
            by_runner.map(|(r, h)| (runner(&f.mission, r), h)).collect()
        })?;
        let waits = "From an attempt's claim (queued) to its start.";
        let family = ("techlead_queue_wait", waits, Some(&seconds), Hist);
        self.family(e, family, |f| {
            let by_runner = f.waits.iter();
            by_runner.map(|(r, h)| (runner(&f.mission, r), h)).collect()
        })?;
        let tokens = "Tokens the attempts used, by kind (input, output, cache_read, cache_write).";
        self.family(e, ("techlead_tokens", tokens, None, Counter), |f| {
            let by_kind = f.tokens.iter().flat_map(|(r, used)| {
                TOKEN_KINDS.iter().zip(used).map(move |(kind, n)| {
                    let mut labels = runner(&f.mission, r);
                    labels.push(("kind", kind));
                    (labels, ConstCounter::new(*n))
                })
            });
            by_kind.collect()
        })?;
        let cost = "What the attempts cost, in US dollars.";
        self.family(e, ("techlead_cost_usd", cost, None, Counter), |f| {
            let by_runner = f.cost.iter();
            by_runner
                .map(|(r, usd)| (runner(&f.mission, r), ConstCounter::new(*usd)))
                .collect()
        })?;
        let pauses = "Times an executor was paused by its provider's rate or usage limit.";
        self.family(
            e,
            ("techlead_executor_pauses", pauses, None, Counter),
            |f| {
                let by_executor = f.pauses.iter().map(|(executor, n)| {
                    let mut labels = of_mission(&f.mission);
                    labels.push(("executor", executor));
                    (labels, ConstCounter::new(*n))
                });
                by_executor.collect()
            },
        )?;
        ConstGauge::new(self.followers as u64).encode(encoder.encode_descriptor(
            "techlead_feed_clients",
            "Clients following a mission's live feed (SSE or WebSocket).",
            None,
            Gauge,
        )?)?;
        ConstCounter::new(self.fallbacks).encode(encoder.encode_descriptor(
            "techlead_feed_fallbacks",
            "Times a live feed's client fell behind its mission's shared tail and read what it missed from the database.",
            None,
            Counter,
        )?)?;
        ConstGauge::new(self.tailed as u64).encode(encoder.encode_descriptor(
            "techlead_feed_missions",
            "Missions whose log a shared tail follows for those clients.",
            None,
            Gauge,
        )?)?;
        Ok(())
    }
}
