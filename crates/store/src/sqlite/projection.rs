//! Projections: the tables that answer questions without replaying the
//! log (tasks, attempts, gates, escalations, the mission row's counts and
//! status). Each event updates them in the transaction that appends it, so
//! they never disagree with the log; the log stays the truth.

use rusqlite::{Transaction, params};
use techlead_core::state::{
    AttemptOutcome, Event, EventRecord, MissionPlan, MissionStatus, NextStep, Report, TaskPart,
};

/// What one append changes on the mission's row, summed over its events
/// and written once at the end.
#[derive(Debug, Default)]
pub(super) struct MissionChange {
    pub status: Option<MissionStatus>,
    pub succeeded: i64,
    pub failed: i64,
    /// Tasks added (the parts of split tasks).
    pub tasks: i64,
}

/// The `type` column: the event's serde tag.
pub(super) fn event_type(event: &Event) -> &'static str {
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
        Event::Preempted { .. } => "preempted",
        Event::PreemptionEnded { .. } => "preemption_ended",
        Event::ForecastBaseline { .. } => "forecast_baseline",
        Event::ForecastSlipped { .. } => "forecast_slipped",
        Event::RunInterrupted { .. } => "run_interrupted",
        Event::MissionFinished { .. } => "mission_finished",
    }
}

/// The `task` column: the task the event is about, if any.
pub(super) fn event_task(event: &Event) -> Option<&str> {
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
        | Event::TaskReopened { task, .. }
        | Event::TaskSkipped { task }
        | Event::TaskSplit { task, .. }
        | Event::TaskApproved { task } => Some(task),
        _ => None,
    }
}

fn set_status(
    tx: &Transaction<'_>,
    mission: &str,
    task: &str,
    status: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE tasks SET status = ?3 WHERE mission = ?1 AND id = ?2")?
        .execute(params![mission, task, status])?;
    Ok(())
}

/// A task's status (and agent) after an attempt or a check.
fn project_next(
    tx: &Transaction<'_>,
    mission: &str,
    task: &str,
    next: &NextStep,
    change: &mut MissionChange,
) -> rusqlite::Result<()> {
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
    tx.prepare_cached(
        "UPDATE tasks SET status = ?3, agent = COALESCE(?4, agent)
         WHERE mission = ?1 AND id = ?2",
    )?
    .execute(params![mission, task, status, agent])?;
    Ok(())
}

/// The tasks of a new mission, each `pending`.
pub(super) fn project_created(
    tx: &Transaction<'_>,
    mission: &str,
    plan: &MissionPlan,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO tasks (mission, id, position, title, phase, priority, agent, executor, status)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending')",
    )?;
    for (position, task) in plan.tasks.iter().enumerate() {
        insert.execute(params![
            mission,
            task.id,
            position as i64,
            task.title,
            task.phase.map(|p| p as i64),
            task.priority.as_str(),
            task.agent,
            task.executor,
        ])?;
    }
    Ok(())
}

/// Applies one stored event to the projections.
/// `at` is the record's time as stored.
pub(super) fn project(
    tx: &Transaction<'_>,
    mission: &str,
    record: &EventRecord,
    at: &str,
    change: &mut MissionChange,
) -> rusqlite::Result<()> {
    match &record.event {
        Event::MissionCreated { plan } => project_created(tx, mission, plan)?,
        Event::RunStarted { .. } | Event::DispatchResumed => {
            change.status = Some(MissionStatus::Running);
            if matches!(record.event, Event::DispatchResumed) {
                resolve_escalations(tx, mission, at)?;
            }
        }
        Event::AttemptQueued {
            task,
            attempt,
            agent,
            executor,
            dir,
        } => {
            tx.prepare_cached(
                "INSERT INTO attempts (mission, task, attempt, agent, executor, dir, queued_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![mission, task, attempt, agent, executor, dir, at])?;
            tx.prepare_cached(
                "UPDATE tasks SET status = 'queued', attempts = ?3, agent = ?4
                 WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, task, attempt, agent])?;
        }
        Event::AttemptStarted { task, attempt } => {
            tx.prepare_cached(
                "UPDATE attempts SET started_at = ?4 WHERE mission = ?1 AND task = ?2 AND attempt = ?3",
            )?
            .execute(params![mission, task, attempt, at])?;
            set_status(tx, mission, task, "running")?;
        }
        Event::AttemptWithdrawn { task, attempt } => {
            tx.prepare_cached(
                "DELETE FROM attempts WHERE mission = ?1 AND task = ?2 AND attempt = ?3",
            )?
            .execute(params![mission, task, attempt])?;
            // Back where it was: retrying after a failed attempt, else pending.
            tx.prepare_cached(
                "UPDATE tasks SET attempts = ?3, status = CASE WHEN EXISTS (
                     SELECT 1 FROM attempts WHERE mission = ?1 AND task = ?2 AND attempt = ?3
                     AND outcome IN ('failed', 'timed_out')) THEN 'retrying' ELSE 'pending' END
                 WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, task, attempt - 1])?;
        }
        Event::AttemptProgress { .. }
        | Event::ExecutorPaused { .. }
        // Emergencies are read from the log (the fold keeps who holds what).
        | Event::Preempted { .. }
        | Event::PreemptionEnded { .. }
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
            tx.prepare_cached(
                "UPDATE attempts SET input_tokens = ?4, output_tokens = ?5, cache_read_tokens = ?6,
                     cache_write_tokens = ?7, cost_usd = ?8, turns = ?9, model = COALESCE(?10, model)
                 WHERE mission = ?1 AND task = ?2 AND attempt = ?3",
            )?
            .execute(params![
                mission,
                task,
                attempt,
                usage.input_tokens as i64,
                usage.output_tokens as i64,
                usage.cache_read_tokens as i64,
                usage.cache_write_tokens as i64,
                usage.cost_usd,
                usage.turns,
                usage.model,
            ])?;
        }
        Event::AttemptReported {
            task,
            report: Report::Summary(summary),
            ..
        } => set_summary(tx, mission, task, summary)?,
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
            tx.prepare_cached(
                "UPDATE attempts
                 SET finished_at = ?4, outcome = ?5, exit_code = ?6, signal = ?7, message = ?8,
                     duration_ms = ?9
                 WHERE mission = ?1 AND task = ?2 AND attempt = ?3",
            )?
            .execute(params![
                mission,
                task,
                attempt,
                at,
                outcome.kind(),
                exit_code,
                signal,
                message,
                *duration_ms as i64,
            ])?;
            project_next(tx, mission, task, next, change)?;
            if let AttemptOutcome::Succeeded {
                summary: Some(summary),
            } = outcome
            {
                set_summary(tx, mission, task, summary)?;
            }
        }
        Event::TaskGateFinished {
            task,
            next: Some(next),
            ..
        }
        | Event::MergeConflicted { task, next, .. } => {
            project_next(tx, mission, task, next, change)?;
        }
        Event::TaskAccepted { task, .. } => {
            change.succeeded += 1;
            set_status(tx, mission, task, "succeeded")?;
        }
        Event::TaskBlocked { task, by } => {
            tx.prepare_cached(
                "UPDATE tasks SET status = 'blocked', blocked_by = ?3 WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, task, by])?;
        }
        Event::PhaseGateFinished {
            phase,
            gate,
            passed,
            exit_code,
            log,
        } => {
            tx.prepare_cached(
                "INSERT INTO gates (mission, seq, phase, gate, passed, exit_code, log, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                mission,
                record.seq as i64,
                *phase as i64,
                gate,
                passed,
                exit_code,
                log,
                at
            ])?;
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
            tx.prepare_cached(
                "INSERT INTO escalations (mission, id, kind, message, tasks, options, raised_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![mission, id, kind, message, tasks, options, at])?;
        }
        Event::EscalationResolved {
            id,
            decision,
            by,
            request,
            ..
        } => {
            tx.prepare_cached(
                "UPDATE escalations SET resolved_at = ?3, resolution = ?4, resolved_by = ?5
                 WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, id, at, decision.to_string(), by])?;
            if let Some(request) = request {
                super::inbox::applied(tx, mission, *request, record.seq)?;
            }
            if let Some(status) = status_after_decision(tx, mission, change, decision)? {
                change.status = Some(status);
            }
        }
        Event::DecisionRefused {
            request, reason, ..
        } => super::inbox::refused(tx, mission, *request, reason)?,
        Event::TaskReopened { task, agent } => {
            uncount_failure(tx, mission, task, change)?;
            tx.prepare_cached(
                "UPDATE tasks SET status = 'pending', blocked_by = NULL, agent = COALESCE(?3, agent)
                 WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, task, agent])?;
        }
        Event::TaskApproved { task } => {
            uncount_failure(tx, mission, task, change)?;
            set_status(tx, mission, task, "checking")?;
        }
        Event::TaskSplit { task, parts } => {
            uncount_failure(tx, mission, task, change)?;
            project_split(tx, mission, task, parts)?;
            change.tasks += parts.len() as i64;
        }
        Event::TaskSkipped { task } => {
            uncount_failure(tx, mission, task, change)?;
            tx.prepare_cached(
                "UPDATE tasks SET status = 'skipped', blocked_by = NULL WHERE mission = ?1 AND id = ?2",
            )?
            .execute(params![mission, task])?;
        }
        Event::RunInterrupted { .. } => change.status = Some(MissionStatus::Interrupted),
        Event::MissionFinished { status } => {
            change.status = Some(*status);
            // A failed mission's escalations stay open: deciding one gives
            // the mission another round.
            if *status != MissionStatus::Failed {
                resolve_escalations(tx, mission, at)?;
            }
        }
    }
    Ok(())
}

fn set_summary(
    tx: &Transaction<'_>,
    mission: &str,
    task: &str,
    summary: &str,
) -> rusqlite::Result<()> {
    tx.prepare_cached("UPDATE tasks SET summary = ?3 WHERE mission = ?1 AND id = ?2")?
        .execute(params![mission, task, summary])?;
    Ok(())
}

/// The person answered (dispatch resumed) or the mission ended: open
/// escalations are settled.
/// A decision lets a paused mission go on, gives a failed one another
/// round (paused until a run takes it), and leaves the rest as they are.
fn status_after_decision(
    tx: &Transaction<'_>,
    mission: &str,
    change: &MissionChange,
    decision: &techlead_core::state::Decision,
) -> rusqlite::Result<Option<MissionStatus>> {
    // An abort finishes the mission by its own event; an answer goes to
    // the asking agent and changes nothing of the mission's.
    if matches!(
        decision,
        techlead_core::state::Decision::Abort | techlead_core::state::Decision::Answer { .. }
    ) {
        return Ok(None);
    }
    let current = match change.status {
        Some(status) => status.as_str().to_string(),
        None => tx.query_row(
            "SELECT status FROM missions WHERE id = ?1",
            [mission],
            |row| row.get::<_, String>(0),
        )?,
    };
    Ok(match current.as_str() {
        "paused" => Some(MissionStatus::Running),
        "failed" => Some(MissionStatus::Paused),
        _ => None,
    })
}

/// A failed task that waits again, or is skipped, no longer counts as
/// failed on the mission's row.
/// A split task waits again; its parts join the mission after the last
/// task, on its agent, executor, phase and priority.
fn project_split(
    tx: &Transaction<'_>,
    mission: &str,
    task: &str,
    parts: &[TaskPart],
) -> rusqlite::Result<()> {
    set_status(tx, mission, task, "pending")?;
    tx.prepare_cached("UPDATE tasks SET blocked_by = NULL WHERE mission = ?1 AND id = ?2")?
        .execute(params![mission, task])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO tasks (mission, id, position, title, phase, priority, agent, executor, status)
         SELECT mission, ?3, (SELECT MAX(position) + 1 FROM tasks WHERE mission = ?1), ?4,
                phase, priority, agent, executor, 'pending'
         FROM tasks WHERE mission = ?1 AND id = ?2",
    )?;
    for part in parts {
        insert.execute(params![mission, task, part.id, part.title])?;
    }
    Ok(())
}

fn uncount_failure(
    tx: &Transaction<'_>,
    mission: &str,
    task: &str,
    change: &mut MissionChange,
) -> rusqlite::Result<()> {
    let status: String = tx.query_row(
        "SELECT status FROM tasks WHERE mission = ?1 AND id = ?2",
        params![mission, task],
        |row| row.get(0),
    )?;
    if status == "failed" {
        change.failed -= 1;
    }
    Ok(())
}

fn resolve_escalations(tx: &Transaction<'_>, mission: &str, at: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE escalations SET resolved_at = ?2 WHERE mission = ?1 AND resolved_at IS NULL",
    )?
    .execute(params![mission, at])?;
    Ok(())
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
