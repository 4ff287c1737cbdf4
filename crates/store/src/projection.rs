//! Projections: the tables that answer questions without replaying the
//! log (tasks, attempts, gates, escalations, the mission row's counts and
//! status). Each event updates them in the transaction that appends it, so
//! they never disagree with the log; the log stays the truth.

//!
//! Written once for both backends against [`Writer`]: the SQL is the
//! subset SQLite and PostgreSQL share, with `?N` parameters.

use crate::writer::{Writer, v};
use techlead_core::state::Decision;
use techlead_core::state::{
    AttemptOutcome, Event, EventRecord, MissionPlan, MissionStatus, NextStep, Report, TaskPart,
};

/// What one append changes on the mission's row, summed over its events
/// and written once at the end.
#[derive(Debug, Default)]
pub(crate) struct MissionChange {
    pub status: Option<MissionStatus>,
    pub succeeded: i64,
    pub failed: i64,
    /// Tasks added (the parts of split tasks).
    pub tasks: i64,
}

/// The `type` column: the event's serde tag.
pub(crate) fn event_type(event: &Event) -> &'static str {
    match event {
        Event::MissionCreated { .. } => "mission_created",
        Event::RunStarted { .. } => "run_started",
        Event::AttemptQueued { .. } => "attempt_queued",
        Event::AttemptStarted { .. } => "attempt_started",
        Event::AttemptWithdrawn { .. } => "attempt_withdrawn",
        Event::AttemptProgress { .. } => "attempt_progress",
        Event::AttemptReported { .. } => "attempt_reported",
        Event::AttemptFinished { .. } => "attempt_finished",
        Event::AttemptUsage { .. } => "attempt_usage",
        Event::ExecutorPaused { .. } => "executor_paused",
        Event::TaskBlocked { .. } => "task_blocked",
        Event::WorkSaved { .. } => "work_saved",
        Event::HandoffIncomplete { .. } => "handoff_incomplete",
        Event::TaskGateFinished { .. } => "task_gate_finished",
        Event::TaskAccepted { .. } => "task_accepted",
        Event::MergeConflicted { .. } => "merge_conflicted",
        Event::PhaseGateFinished { .. } => "phase_gate_finished",
        Event::DoneChecked { .. } => "done_checked",
        Event::DispatchPaused { .. } => "dispatch_paused",
        Event::BudgetChanged { .. } => "budget_changed",
        Event::DispatchResumed => "dispatch_resumed",
        Event::EscalationRaised { .. } => "escalation_raised",
        Event::EscalationResolved { .. } => "escalation_resolved",
        Event::TaskReopened { .. } => "task_reopened",
        Event::TaskApproved { .. } => "task_approved",
        Event::TaskSkipped { .. } => "task_skipped",
        Event::TaskSplit { .. } => "task_split",
        Event::DecisionRefused { .. } => "decision_refused",
        Event::ExternalSucceeded { .. } => "external_succeeded",
        Event::ExternalFailed { .. } => "external_failed",
        Event::Preempted { .. } => "preempted",
        Event::PreemptionEnded { .. } => "preemption_ended",
        Event::ForecastBaseline { .. } => "forecast_baseline",
        Event::ForecastSlipped { .. } => "forecast_slipped",
        Event::RunInterrupted { .. } => "run_interrupted",
        Event::MissionFinished { .. } => "mission_finished",
    }
}

/// The `task` column: the task the event is about, if any.
pub(crate) fn event_task(event: &Event) -> Option<&str> {
    match event {
        Event::AttemptQueued { task, .. }
        | Event::AttemptStarted { task, .. }
        | Event::AttemptWithdrawn { task, .. }
        | Event::AttemptProgress { task, .. }
        | Event::AttemptReported { task, .. }
        | Event::AttemptFinished { task, .. }
        | Event::AttemptUsage { task, .. }
        | Event::WorkSaved { task, .. }
        | Event::HandoffIncomplete { task, .. }
        | Event::TaskGateFinished { task, .. }
        | Event::TaskAccepted { task, .. }
        | Event::MergeConflicted { task, .. }
        | Event::TaskBlocked { task, .. }
        | Event::ExternalSucceeded { task, .. }
        | Event::ExternalFailed { task, .. }
        | Event::TaskReopened { task, .. }
        | Event::TaskSkipped { task }
        | Event::TaskSplit { task, .. }
        | Event::TaskApproved { task } => Some(task),
        _ => None,
    }
}

fn set_status<W: Writer>(
    w: &mut W,
    mission: &str,
    task: &str,
    status: &str,
) -> Result<(), W::Error> {
    w.execute(
        "UPDATE tasks SET status = ?3 WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(task), v(status)],
    )?;
    Ok(())
}

/// A task's status (and agent) after an attempt or a check.
fn project_next<W: Writer>(
    w: &mut W,
    mission: &str,
    task: &str,
    next: &NextStep,
    change: &mut MissionChange,
) -> Result<(), W::Error> {
    let (status, agent) = match next {
        NextStep::Done => {
            change.succeeded += 1;
            ("succeeded", None)
        }
        NextStep::Check => ("checking", None),
        NextStep::Retry { agent, .. } => ("retrying", Some(agent.as_str())),
        NextStep::Fail => {
            change.failed += 1;
            ("failed", None)
        }
        NextStep::Requeue | NextStep::Split => ("pending", None),
    };
    w.execute(
        "UPDATE tasks SET status = ?3, agent = COALESCE(?4, agent)
         WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(task), v(status), v(agent)],
    )?;
    Ok(())
}

/// The mission's row after an append whose last event is `last`: its
/// last seq and time, and what the append's events changed.
pub(crate) fn finish<W: Writer>(
    w: &mut W,
    mission: &str,
    last: &EventRecord,
    change: &MissionChange,
) -> Result<(), W::Error> {
    w.execute(
        "UPDATE missions
         SET last_seq = ?2, updated_at = ?3, status = COALESCE(?4, status),
             succeeded = succeeded + ?5, failed = failed + ?6, tasks = tasks + ?7
         WHERE id = ?1",
        &[
            v(mission),
            v(last.seq as i64),
            v(&crate::encoding::timestamp(last.at)),
            v(change.status.map(MissionStatus::as_str)),
            v(change.succeeded),
            v(change.failed),
            v(change.tasks),
        ],
    )
}

/// The tasks of a new mission, each `pending`.
pub(crate) fn project_created<W: Writer>(
    w: &mut W,
    mission: &str,
    plan: &MissionPlan,
) -> Result<(), W::Error> {
    for (position, task) in plan.tasks.iter().enumerate() {
        w.execute(
            "INSERT INTO tasks (mission, id, position, title, phase, priority, agent, executor, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')",
            &[
                v(mission),
                v(&task.id),
                v(position as i64),
                v(&task.title),
                v(task.detail.phase.map(|p| p as i64)),
                v(task.priority.as_str()),
                v(&task.agent),
                v(&task.executor),
            ],
        )?;
    }
    Ok(())
}

/// Applies an append's events to the projections, in order; `at` is each
/// record's time as stored.
///
/// An attempt that starts and finishes within the append writes its start
/// with its finish: one statement on its row and one on its task's instead
/// of two of each. Short tasks mostly start and finish within one group
/// commit, so this is most of their projection work.
pub(crate) fn project_all<W: Writer>(
    w: &mut W,
    mission: &str,
    rows: &[(&EventRecord, &str)],
    change: &mut MissionChange,
) -> Result<(), W::Error> {
    let started = starts_with_finish(rows);
    for (i, &(record, at)) in rows.iter().enumerate() {
        match started[i] {
            Start::WithItsFinish => {}
            Start::At(started_at) => project(w, mission, record, at, Some(started_at), change)?,
            Start::Apart => project(w, mission, record, at, None, change)?,
        }
    }
    Ok(())
}

/// How an event's row goes with an attempt's start in the same append.
#[derive(Clone, Copy)]
enum Start<'a> {
    /// Projected on its own.
    Apart,
    /// An `attempt_started` written by its attempt's finish, later on.
    WithItsFinish,
    /// An `attempt_finished` that also writes its attempt's start, made at
    /// this time.
    At(&'a str),
}

/// Pairs each `attempt_started` with its attempt's `attempt_finished` in
/// the same append, unless another event about the task (other than the
/// attempt's progress, reports and usage, which touch other columns) comes
/// between them.
fn starts_with_finish<'a>(rows: &[(&EventRecord, &'a str)]) -> Vec<Start<'a>> {
    let mut starts = vec![Start::Apart; rows.len()];
    let mut open: std::collections::HashMap<&str, (u32, usize)> = Default::default();
    for (i, (record, _)) in rows.iter().enumerate() {
        match &record.event {
            Event::AttemptStarted { task, attempt } => {
                open.insert(task, (*attempt, i));
            }
            Event::AttemptFinished { task, attempt, .. } => {
                if let Some((started, at)) = open.remove(task.as_str())
                    && started == *attempt
                {
                    starts[at] = Start::WithItsFinish;
                    starts[i] = Start::At(rows[at].1);
                }
            }
            Event::AttemptProgress { .. }
            | Event::AttemptReported { .. }
            | Event::AttemptUsage { .. } => {}
            other => {
                if let Some(task) = event_task(other) {
                    open.remove(task);
                }
            }
        }
    }
    starts
}

/// Applies one stored event to the projections. `at` is the record's time
/// as stored; `started_at`, for an `attempt_finished`, the time of its
/// attempt's start when that was not written on its own.
fn project<W: Writer>(
    w: &mut W,
    mission: &str,
    record: &EventRecord,
    at: &str,
    started_at: Option<&str>,
    change: &mut MissionChange,
) -> Result<(), W::Error> {
    match &record.event {
        Event::MissionCreated { plan } => project_created(w, mission, plan)?,
        Event::RunStarted { .. } | Event::DispatchResumed => {
            change.status = Some(MissionStatus::Running);
            if matches!(record.event, Event::DispatchResumed) {
                resolve_escalations(w, mission, at)?;
            }
        }
        Event::AttemptQueued {
            task,
            attempt,
            agent,
            executor,
            dir,
        } => {
            w.execute("INSERT INTO attempts (mission, task, attempt, agent, executor, dir, queued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &[v(mission), v(task), v(attempt), v(agent), v(executor), v(dir), v(at)])?;
            w.execute("UPDATE tasks SET status = 'queued', attempts = ?3, agent = ?4
                 WHERE mission = ?1 AND id = ?2", &[v(mission), v(task), v(attempt), v(agent)])?;
        }
        Event::AttemptStarted { task, attempt } => {
            w.execute("UPDATE attempts SET started_at = ?4 WHERE mission = ?1 AND task = ?2 AND attempt = ?3", &[v(mission), v(task), v(attempt), v(at)])?;
            set_status(w, mission, task, "running")?;
        }
        Event::AttemptWithdrawn { task, attempt } => {
            w.execute("DELETE FROM attempts WHERE mission = ?1 AND task = ?2 AND attempt = ?3", &[v(mission), v(task), v(attempt)])?;
            // Back where it was: retrying after a failed attempt, else pending.
            w.execute("UPDATE tasks SET attempts = ?3, status = CASE WHEN EXISTS (
                     SELECT 1 FROM attempts WHERE mission = ?1 AND task = ?2 AND attempt = ?3
                     AND outcome IN ('failed', 'timed_out')) THEN 'retrying' ELSE 'pending' END
                 WHERE mission = ?1 AND id = ?2", &[v(mission), v(task), v(attempt - 1)])?;
        }
        Event::AttemptProgress { .. }
        | Event::ExecutorPaused { .. }
        // Emergencies are read from the log (the fold keeps who holds what).
        | Event::Preempted { .. }
        | Event::PreemptionEnded { .. }
        // What was seen of other missions is read from the log (the fold
        // keeps it); a task it blocks has its own task_blocked.
        | Event::ExternalSucceeded { .. }
        | Event::ExternalFailed { .. }
        // The forecast is read from the log (the fold keeps the baseline).
        | Event::ForecastBaseline { .. }
        | Event::ForecastSlipped { .. }
        | Event::BudgetChanged { .. }
        | Event::WorkSaved { .. }
        | Event::HandoffIncomplete { .. }
        // The definition of done's checks are read from the log (`techlead
        // status` folds it); no table needs them.
        | Event::DoneChecked { .. }
        | Event::TaskGateFinished { next: None, .. } => {}
        Event::AttemptUsage {
            task,
            attempt,
            usage,
        } => {
            w.execute("UPDATE attempts SET input_tokens = ?4, output_tokens = ?5, cache_read_tokens = ?6,
                     cache_write_tokens = ?7, cost_usd = ?8, turns = ?9, model = COALESCE(?10, model)
                 WHERE mission = ?1 AND task = ?2 AND attempt = ?3", &[v(mission), v(task), v(attempt), v(usage.input_tokens as i64), v(usage.output_tokens as i64), v(usage.cache_read_tokens as i64), v(usage.cache_write_tokens as i64), v(usage.cost_usd), v(usage.turns), v(&usage.model)])?;
        }
        Event::AttemptReported {
            task,
            report: Report::Summary(summary),
            ..
        } => set_summary(w, mission, task, summary)?,
        Event::AttemptReported { .. } => {}
        Event::AttemptFinished {
            task,
            attempt,
            outcome,
            duration_ms,
            next,
        } => {
            let (exit_code, signal, message) = match outcome {
                AttemptOutcome::Failed {
                    exit_code,
                    signal,
                    message,
                } => (*exit_code, *signal, Some(message.as_str())),
                _ => (None, None, None),
            };
            w.execute("UPDATE attempts
                 SET finished_at = ?4, outcome = ?5, exit_code = ?6, signal = ?7, message = ?8,
                     duration_ms = ?9, started_at = COALESCE(?10, started_at)
                 WHERE mission = ?1 AND task = ?2 AND attempt = ?3", &[v(mission), v(task), v(attempt), v(at), v(outcome.kind()), v(exit_code), v(signal), v(message), v(*duration_ms as i64), v(started_at)])?;
            project_next(w, mission, task, next, change)?;
            if let AttemptOutcome::Succeeded {
                summary: Some(summary),
            } = outcome
            {
                set_summary(w, mission, task, summary)?;
            }
        }
        Event::TaskGateFinished {
            task,
            next: Some(next),
            ..
        }
        | Event::MergeConflicted { task, next, .. } => {
            project_next(w, mission, task, next, change)?;
        }
        Event::TaskAccepted { task, .. } => {
            change.succeeded += 1;
            set_status(w, mission, task, "succeeded")?;
        }
        Event::TaskBlocked { task, by } => {
            w.execute("UPDATE tasks SET status = 'blocked', blocked_by = ?3 WHERE mission = ?1 AND id = ?2", &[v(mission), v(task), v(by)])?;
        }
        Event::PhaseGateFinished {
            phase,
            gate,
            passed,
            exit_code,
            log,
        } => {
            w.execute("INSERT INTO gates (mission, seq, phase, gate, passed, exit_code, log, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &[v(mission), v(record.seq as i64), v(*phase as i64), v(gate), v(passed), v(exit_code), v(log), v(at)])?;
        }
        Event::DispatchPaused { .. } => change.status = Some(MissionStatus::Paused),
        Event::EscalationRaised {
            id,
            kind,
            message,
            tasks,
            options,
        } => {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            let tasks = serde_json::to_string(tasks).unwrap_or_default();
            let options = serde_json::to_string(options).unwrap_or_default();
            w.execute("INSERT INTO escalations (mission, id, kind, message, tasks, options, raised_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &[v(mission), v(id), v(&kind), v(message), v(&tasks), v(&options), v(at)])?;
        }
        Event::EscalationResolved {
            id,
            decision,
            by,
            request,
            ..
        } => {
            let resolution = decision.to_string();
            w.execute("UPDATE escalations SET resolved_at = ?3, resolution = ?4, resolved_by = ?5
                 WHERE mission = ?1 AND id = ?2", &[v(mission), v(id), v(at), v(&resolution), v(by)])?;
            if let Some(request) = request {
                applied(w, mission, *request, record.seq)?;
            }
            if let Some(status) = status_after_decision(w, mission, change, decision)? {
                change.status = Some(status);
            }
        }
        Event::DecisionRefused {
            request, reason, ..
        } => refused(w, mission, *request, reason)?,
        Event::TaskReopened { task, agent } => {
            uncount_failure(w, mission, task, change)?;
            w.execute("UPDATE tasks SET status = 'pending', blocked_by = NULL, agent = COALESCE(?3, agent)
                 WHERE mission = ?1 AND id = ?2", &[v(mission), v(task), v(agent)])?;
        }
        Event::TaskApproved { task } => {
            uncount_failure(w, mission, task, change)?;
            set_status(w, mission, task, "checking")?;
        }
        Event::TaskSplit { task, parts } => {
            uncount_failure(w, mission, task, change)?;
            project_split(w, mission, task, parts)?;
            change.tasks += parts.len() as i64;
        }
        Event::TaskSkipped { task } => {
            uncount_failure(w, mission, task, change)?;
            w.execute("UPDATE tasks SET status = 'skipped', blocked_by = NULL WHERE mission = ?1 AND id = ?2", &[v(mission), v(task)])?;
        }
        Event::RunInterrupted { .. } => change.status = Some(MissionStatus::Interrupted),
        Event::MissionFinished { status } => {
            change.status = Some(*status);
            // A failed mission's escalations stay open: deciding one gives
            // the mission another round.
            if *status != MissionStatus::Failed {
                resolve_escalations(w, mission, at)?;
            }
        }
    }
    Ok(())
}

fn set_summary<W: Writer>(
    w: &mut W,
    mission: &str,
    task: &str,
    summary: &str,
) -> Result<(), W::Error> {
    w.execute(
        "UPDATE tasks SET summary = ?3 WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(task), v(summary)],
    )?;
    Ok(())
}

/// The person answered (dispatch resumed) or the mission ended: open
/// escalations are settled.
/// A decision lets a paused mission go on, gives a failed one another
/// round (paused until a run takes it), and leaves the rest as they are.
fn status_after_decision<W: Writer>(
    w: &mut W,
    mission: &str,
    change: &MissionChange,
    decision: &Decision,
) -> Result<Option<MissionStatus>, W::Error> {
    // An abort finishes the mission by its own event; an answer goes to
    // the asking agent and changes nothing of the mission's.
    if matches!(decision, Decision::Abort | Decision::Answer { .. }) {
        return Ok(None);
    }
    let current = match change.status {
        Some(status) => status.as_str().to_string(),
        None => w.text("SELECT status FROM missions WHERE id = ?1", &[v(mission)])?,
    };
    Ok(match current.as_str() {
        "paused" => Some(MissionStatus::Running),
        "failed" => Some(MissionStatus::Paused),
        _ => None,
    })
}

/// A split task waits again; its parts join the mission after the last
/// task, on its agent, executor, phase and priority.
fn project_split<W: Writer>(
    w: &mut W,
    mission: &str,
    task: &str,
    parts: &[TaskPart],
) -> Result<(), W::Error> {
    w.execute(
        "UPDATE tasks SET status = 'pending', blocked_by = NULL WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(task)],
    )?;
    for part in parts {
        // The casts give PostgreSQL the parameters' types, which it cannot
        // infer in a select list.
        w.execute(
            "INSERT INTO tasks (mission, id, position, title, phase, priority, agent, executor, status)
             SELECT mission, CAST(?3 AS TEXT),
                    (SELECT MAX(position) + 1 FROM tasks WHERE mission = ?1), CAST(?4 AS TEXT),
                    phase, priority, agent, executor, 'pending'
             FROM tasks WHERE mission = ?1 AND id = ?2",
            &[v(mission), v(task), v(&part.id), v(&part.title)],
        )?;
    }
    Ok(())
}

/// A failed task that waits again, or is skipped, no longer counts as
/// failed on the mission's row.
fn uncount_failure<W: Writer>(
    w: &mut W,
    mission: &str,
    task: &str,
    change: &mut MissionChange,
) -> Result<(), W::Error> {
    let status = w.text(
        "SELECT status FROM tasks WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(task)],
    )?;
    if status == "failed" {
        change.failed -= 1;
    }
    Ok(())
}

fn resolve_escalations<W: Writer>(w: &mut W, mission: &str, at: &str) -> Result<(), W::Error> {
    w.execute(
        "UPDATE escalations SET resolved_at = ?2 WHERE mission = ?1 AND resolved_at IS NULL",
        &[v(mission), v(at)],
    )?;
    Ok(())
}

/// The writer carried out decision `request` (of the mission's inbox) as
/// event `seq`.
fn applied<W: Writer>(w: &mut W, mission: &str, request: u32, seq: u64) -> Result<(), W::Error> {
    w.execute(
        "UPDATE decisions SET applied_seq = ?3 WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(request), v(seq as i64)],
    )
}

/// The writer refused decision `request`, for `reason`.
fn refused<W: Writer>(
    w: &mut W,
    mission: &str,
    request: u32,
    reason: &str,
) -> Result<(), W::Error> {
    w.execute(
        "UPDATE decisions SET refused = ?3 WHERE mission = ?1 AND id = ?2",
        &[v(mission), v(request), v(reason)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use techlead_core::state::EscalationKind;

    /// The `type` column must be the tag serde writes in the body.
    #[test]
    fn the_type_column_is_the_serde_tag() {
        let events = [
            Event::RunStarted {
                run: 1,
                pid: 1,
                host: "h".into(),
            },
            Event::AttemptQueued {
                task: "t".into(),
                attempt: 1,
                agent: "a".into(),
                executor: "command".into(),
                dir: "d".into(),
            },
            Event::AttemptStarted {
                task: "t".into(),
                attempt: 1,
            },
            Event::AttemptWithdrawn {
                task: "t".into(),
                attempt: 1,
            },
            Event::AttemptProgress {
                task: "t".into(),
                attempt: 1,
                percent: None,
                message: "m".into(),
            },
            Event::AttemptReported {
                task: "t".into(),
                attempt: 1,
                report: Report::Artifact("x".into()),
            },
            Event::AttemptFinished {
                task: "t".into(),
                attempt: 1,
                outcome: AttemptOutcome::TimedOut,
                duration_ms: 1,
                next: NextStep::Fail,
            },
            Event::TaskBlocked {
                task: "t".into(),
                by: "u".into(),
            },
            Event::PhaseGateFinished {
                phase: 0,
                gate: "g".into(),
                passed: true,
                exit_code: None,
                log: "l".into(),
            },
            Event::DoneChecked {
                item: 0,
                passed: false,
                exit_code: Some(1),
                log: "l".into(),
            },
            Event::DispatchPaused { reason: "r".into() },
            Event::DispatchResumed,
            Event::EscalationRaised {
                id: 1,
                kind: EscalationKind::FailureRate,
                message: "m".into(),
                tasks: vec![],
                options: vec![],
            },
            Event::RunInterrupted { reason: "r".into() },
            Event::MissionFinished {
                status: MissionStatus::Failed,
            },
        ];
        for event in &events {
            let json = serde_json::to_value(event).unwrap();
            assert_eq!(json["type"], event_type(event), "{event:?}");
        }
    }

    #[test]
    fn outcome_kinds_are_the_serde_tags() {
        for outcome in [
            AttemptOutcome::Succeeded { summary: None },
            AttemptOutcome::Failed {
                exit_code: None,
                signal: None,
                message: String::new(),
            },
            AttemptOutcome::TimedOut,
            AttemptOutcome::Cancelled,
            AttemptOutcome::Interrupted,
        ] {
            let json = serde_json::to_value(&outcome).unwrap();
            assert_eq!(json["kind"], outcome.kind());
        }
    }
}
