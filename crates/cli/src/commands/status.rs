//! `techlead status` and `techlead missions`: where missions stand, read
//! from the record (safe while a run is writing).

use crate::args::{MissionsArgs, StatusArgs};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::progress::seconds;
use crate::render::{self, table};
use serde_json::json;
use techlead_core::state::{MissionState, TaskStatus};
use techlead_store::Store;

pub fn status(args: &StatusArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let state = database::state(&store, &row.id)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&status_json(&row.id, &state))
                .expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    let queued = match state.count(TaskStatus::Queued) {
        0 => String::new(),
        n => format!(", {n} queued"),
    };
    println!(
        "{} · {} · {} of {} tasks succeeded, {} running{queued}, {} failed, {} blocked · run {}",
        row.id,
        state.status,
        state.count(TaskStatus::Succeeded),
        state.tasks.len(),
        state.count(TaskStatus::Running),
        state.count(TaskStatus::Failed),
        state.count(TaskStatus::Blocked),
        state.runs
    );
    let now = jiff::Timestamp::now();
    for (executor, _) in &state.paused_executors {
        if let Some(until) = state.executor_paused_until(executor, now) {
            let waiting = (0..state.tasks.len())
                .filter(|&t| {
                    state.plan.tasks[t].executor == *executor
                        && !state.tasks[t].status.is_terminal()
                })
                .count();
            println!(
                "{executor} is paused by a rate limit until {}: {waiting} task(s) wait, none fails",
                until.strftime("%H:%M:%S UTC")
            );
        }
    }
    println!();
    print!("{}", tasks_table(&state));
    Ok(Outcome::Success)
}

fn tasks_table(state: &MissionState) -> String {
    let columns = [
        table::column("TASK", false),
        table::column("STATUS", false),
        table::column("AGENT", false),
        table::column("ATTEMPTS", false),
        table::column("TIME", false),
        table::column("NOTE", true),
    ];
    let rows: Vec<Vec<String>> = state
        .tasks
        .iter()
        .zip(&state.plan.tasks)
        .map(|(task, plan)| {
            let time: u64 = task.attempts.iter().filter_map(|a| a.duration_ms).sum();
            vec![
                plan.id.clone(),
                task.status.to_string(),
                task.agent.clone(),
                task.attempts.len().to_string(),
                if task.attempts.is_empty() {
                    "—".into()
                } else {
                    seconds(time)
                },
                note(task),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

fn note(task: &techlead_core::state::TaskState) -> String {
    match task.status {
        TaskStatus::Blocked => format!("blocked by {}", task.blocked_by.as_deref().unwrap_or("?")),
        TaskStatus::Running => task
            .progress
            .as_ref()
            .map(|(p, m)| p.map_or(m.clone(), |p| format!("{p}% {m}")))
            .unwrap_or_default(),
        TaskStatus::Queued => "claimed a slot; starts when one frees".to_string(),
        TaskStatus::Retrying => task
            .retry_at
            .map(|at| format!("next attempt at {}", at.strftime("%H:%M:%S")))
            .unwrap_or_default(),
        TaskStatus::Failed => task
            .attempts
            .last()
            .and_then(|a| a.outcome.as_ref())
            .map(|o| format!("{o:?}"))
            .unwrap_or_default(),
        _ => task.summary.clone().unwrap_or_default(),
    }
}

fn status_json(id: &str, state: &MissionState) -> serde_json::Value {
    json!({
        "id": id,
        "name": state.plan.name,
        "status": state.status,
        "runs": state.runs,
        "last_seq": state.last_seq,
        "paused_executors": state.paused_executors.iter().map(|(executor, until)| json!({
            "executor": executor,
            "until": until,
        })).collect::<Vec<_>>(),
        "tasks": state.tasks.iter().zip(&state.plan.tasks).map(|(task, plan)| json!({
            "id": plan.id,
            "status": task.status,
            "agent": task.agent,
            "attempts": task.attempts,
            "blocked_by": task.blocked_by,
            "summary": task.summary,
            "artifacts": task.artifacts,
            "decisions": task.decisions,
        })).collect::<Vec<_>>(),
    })
}

pub fn missions(args: &MissionsArgs) -> Result<Outcome, CliError> {
    let (store, _) = database::open_existing(&args.database)?;
    let rows = store.missions()?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).expect("rows serialise")
        );
        return Ok(Outcome::Success);
    }
    let columns = [
        table::column("MISSION", false),
        table::column("STATUS", false),
        table::column("TASKS", false),
        table::column("UPDATED", false),
        table::column("SOURCE", true),
    ];
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.id.clone(),
                m.status.to_string(),
                format!("{}/{} ok, {} failed", m.succeeded, m.tasks, m.failed),
                m.updated_at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                m.source.clone(),
            ]
        })
        .collect();
    print!("{}", table::render(&columns, &rows, render::width()));
    Ok(Outcome::Success)
}
