//! The report from the record: the folded state for where things stand,
//! the events for when they happened.

use super::lessons::lessons;
use super::model::{
    BurnUp, Cost, DoneLine, EscalationLine, Forecast, GateLine, Outcome, Report, TaskLine, Timeline,
};
use super::planned::planned;
use super::text::{self, ms_between, plural};
use crate::spend::{self, By};
use crate::state::{
    Event, EventRecord, MissionState, MissionStatus, NextStep, TaskStatus, escalation_history,
};
use jiff::Timestamp;

/// What a report is made from.
pub struct Inputs<'a> {
    /// The mission's ID in the store.
    pub mission: &'a str,
    /// The mission folded from `records`.
    pub state: &'a MissionState,
    /// Every event of the mission, first first.
    pub records: &'a [EventRecord],
    /// The time to describe a mission that has not finished at.
    pub now: Timestamp,
    /// A forecast of the remaining work, when the caller has one.
    pub forecast: Option<Forecast>,
}

pub fn build(inputs: Inputs<'_>) -> Report {
    let Inputs {
        mission,
        state,
        records,
        now,
        forecast,
    } = inputs;
    let moments = Moments::of(state, records);
    let timeline = timeline(state, &moments, now, forecast);
    let burnup = BurnUp {
        total: state.tasks.len(),
        actual: moments.burnup(),
        planned: planned_burnup(&timeline.planned.task_finish_hours),
    };
    let outcome = outcome(state, timeline.elapsed_ms, timeline.planned.hours);
    Report {
        mission: mission.to_string(),
        name: state.plan.name.clone(),
        objective: state.plan.objective.trim().to_string(),
        status: state.status,
        simulated: simulated(state),
        as_of: now,
        outcome,
        cost: cost(state),
        tasks: tasks(state, &moments),
        attempts: super::attempts::attempts(state, now),
        gates: gates(state),
        escalations: escalations(state, records),
        lessons: lessons(state, records),
        done: done(state),
        timeline,
        burnup,
    }
}

/// The times the folded state does not keep.
struct Moments {
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    /// Per task, when it succeeded or was skipped.
    task_done: Vec<Option<Timestamp>>,
}

impl Moments {
    fn of(state: &MissionState, records: &[EventRecord]) -> Moments {
        let mut moments = Moments {
            started_at: None,
            finished_at: None,
            task_done: vec![None; state.tasks.len()],
        };
        for record in records {
            let done = match &record.event {
                Event::AttemptStarted { .. } => {
                    moments.started_at.get_or_insert(record.at);
                    None
                }
                Event::MissionFinished { .. } => {
                    moments.finished_at = Some(record.at);
                    None
                }
                Event::AttemptFinished {
                    task,
                    next: NextStep::Done,
                    ..
                }
                | Event::TaskAccepted { task, .. }
                | Event::TaskSkipped { task } => Some(task),
                _ => None,
            };
            if let Some(t) = done.and_then(|task| state.task_index(task)) {
                moments.task_done[t].get_or_insert(record.at);
            }
        }
        // A failed mission a decision reopened has not finished.
        if !state.status.is_finished() {
            moments.finished_at = None;
        }
        moments
    }

    fn burnup(&self) -> Vec<(Timestamp, usize)> {
        let mut times: Vec<Timestamp> = self.task_done.iter().flatten().copied().collect();
        times.sort();
        times.into_iter().zip(1..).collect()
    }
}

fn timeline(
    state: &MissionState,
    moments: &Moments,
    now: Timestamp,
    forecast: Option<Forecast>,
) -> Timeline {
    let elapsed_ms = moments.started_at.map_or(0, |start| {
        ms_between(start, moments.finished_at.unwrap_or(now))
    });
    Timeline {
        created_at: state.created_at,
        started_at: moments.started_at,
        finished_at: moments.finished_at,
        elapsed_ms,
        runs: state.runs,
        planned: planned(&state.plan, moments.started_at),
        deadline: state.plan.deadline,
        // Only what is left can be forecast: a finished mission has none.
        forecast: forecast.filter(|_| !state.status.is_finished()),
    }
}

/// The planned count of finished tasks at each hour a planned task ends.
fn planned_burnup(finish_hours: &[f64]) -> Vec<(f64, usize)> {
    let mut hours = finish_hours.to_vec();
    hours.sort_by(f64::total_cmp);
    hours.into_iter().zip(1..).collect()
}

fn outcome(state: &MissionState, elapsed_ms: u64, planned_hours: f64) -> Outcome {
    let tally = state.tally();
    let count = |s| tally.count(s);
    let (succeeded, skipped) = (count(TaskStatus::Succeeded), count(TaskStatus::Skipped));
    let (failed, blocked) = (count(TaskStatus::Failed), count(TaskStatus::Blocked));
    let total = state.tasks.len();
    let mut outcome = Outcome {
        headline: String::new(),
        total,
        succeeded,
        skipped,
        failed,
        blocked,
        unfinished: total - succeeded - skipped - failed - blocked,
        retried: state.tasks.iter().filter(|t| t.attempts.len() > 1).count(),
    };
    outcome.headline = headline(state.status, &outcome, elapsed_ms, planned_hours);
    outcome
}

fn headline(status: MissionStatus, o: &Outcome, elapsed_ms: u64, planned_hours: f64) -> String {
    let done = o.succeeded + o.skipped;
    let tasks_done = format!("{done} of {} done", plural(o.total, "task"));
    let stuck = match (o.failed, o.blocked) {
        (0, 0) => String::new(),
        (f, 0) => format!("; {f} failed"),
        (0, b) => format!("; {b} blocked"),
        (f, b) => format!("; {f} failed, {b} blocked"),
    };
    let took = format!(
        "in {} (planned {})",
        text::duration_ms(elapsed_ms),
        text::hours(planned_hours)
    );
    match status {
        MissionStatus::Succeeded => format!("Succeeded: {tasks_done} {took}."),
        MissionStatus::Failed => format!("Failed: {tasks_done}{stuck}."),
        MissionStatus::Aborted => format!("Aborted by decision: {tasks_done}{stuck}."),
        MissionStatus::Paused => format!("Paused for a decision: {tasks_done}{stuck}."),
        MissionStatus::Interrupted => {
            format!("Interrupted: {tasks_done}{stuck}; `techlead resume` goes on.")
        }
        MissionStatus::Running => format!("Running: {tasks_done} so far{stuck}."),
        MissionStatus::Created => format!("Not started: {}.", plural(o.total, "task")),
    }
}

/// The `simulate` executor's results are always labelled as such.
fn simulated(state: &MissionState) -> bool {
    state.plan.tasks.iter().any(|t| t.executor == "simulate")
        || state
            .tasks
            .iter()
            .flat_map(|t| &t.attempts)
            .any(|a| a.executor == "simulate")
}

fn cost(state: &MissionState) -> Cost {
    let by_agent = spend::grouped(state, By::Agent);
    let agent_hours = by_agent
        .iter()
        .map(|row| {
            let ms: u64 = state
                .tasks
                .iter()
                .flat_map(|t| &t.attempts)
                .filter(|a| a.agent == row.name)
                .filter_map(|a| a.duration_ms)
                .sum();
            ms as f64 / 3_600_000.0
        })
        .collect();
    Cost {
        total: spend::total(state),
        budget: state.budget,
        by_agent,
        agent_hours,
    }
}

fn tasks(state: &MissionState, moments: &Moments) -> Vec<TaskLine> {
    state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .enumerate()
        .map(|(t, (plan, task))| TaskLine {
            id: plan.id.clone(),
            title: plan.title.clone(),
            agent: task
                .attempts
                .last()
                .map_or(&plan.agent, |a| &a.agent)
                .clone(),
            status: task.status,
            attempts: task.attempts.len(),
            worked_ms: task.attempts.iter().filter_map(|a| a.duration_ms).sum(),
            estimate_hours: plan.detail.estimate_hours,
            cost_usd: crate::budget::task_spent(state, t).usd,
            finished_at: moments.task_done[t],
            summary: task.reports.summary.clone(),
            blocked_by: task.blocked_by.clone(),
        })
        .collect()
}

fn gates(state: &MissionState) -> Vec<GateLine> {
    let task_gates = state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .flat_map(|(plan, task)| {
            task.work.checks.iter().map(|check| GateLine {
                subject: plan.id.clone(),
                attempt: Some(check.attempt),
                gate: check.gate.clone(),
                passed: check.passed,
                reasons: check.reasons.clone(),
                log: check.log.clone(),
            })
        });
    let phase_gates = state
        .plan
        .phases
        .iter()
        .zip(&state.gates)
        .flat_map(|(phase, results)| {
            results.iter().map(|result| GateLine {
                subject: format!("phase {}", phase.name),
                attempt: None,
                gate: result.gate.clone(),
                passed: result.passed,
                reasons: Vec::new(),
                log: result.log.clone(),
            })
        });
    task_gates.chain(phase_gates).collect()
}

fn escalations(state: &MissionState, records: &[EventRecord]) -> Vec<EscalationLine> {
    escalation_history(records, &state.plan)
        .into_iter()
        .map(|record| EscalationLine {
            open: state.open_escalation(record.id).is_some(),
            record,
        })
        .collect()
}

fn done(state: &MissionState) -> Vec<DoneLine> {
    state
        .plan
        .done_when
        .iter()
        .zip(&state.done)
        .enumerate()
        .map(|(i, (item, result))| DoneLine {
            text: item.text.clone(),
            state: state.done_state(i),
            log: result.as_ref().map(|r| r.log.clone()),
        })
        .collect()
}
