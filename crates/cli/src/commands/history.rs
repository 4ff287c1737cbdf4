//! `techlead history` (past missions, or one mission task by task) and
//! `techlead agents stats` (how agents did, per kind of task).

use crate::args::{HistoryArgs, StatsArgs};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::history::missions;
use crate::render::{self, dollars, duration, table};
use serde_json::{Value, json};
use std::fmt::Write;
use techlead_core::history::past::resolution_text;
use techlead_core::history::{AgentStats, History, PastMission, TaskOutcome};

pub fn run(args: &HistoryArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    if let Some(name) = &args.mission {
        let row = database::mission(&store, &path, Some(name))?;
        let state = database::state(&store, &row.id)?;
        let mission = PastMission::new(&row.id, &state);
        if args.json {
            print_json(&mission);
        } else {
            print!("{}", one(&mission));
        }
        return Ok(Outcome::Success);
    }
    let missions = missions(&store)?;
    if missions.is_empty() {
        return Err(CliError::NoMissions {
            database: database::shown(&path),
        });
    }
    if args.json {
        print_json(&missions.iter().map(summary_json).collect::<Vec<_>>());
        return Ok(Outcome::Success);
    }
    print!("{}", list(&missions));
    Ok(Outcome::Success)
}

pub fn agent_stats(args: &StatsArgs, json: bool) -> Result<Outcome, CliError> {
    let (store, _) = database::open_existing(&args.database)?;
    let history = History::new(missions(&store)?);
    let rows: Vec<&AgentStats> = history
        .stats
        .iter()
        .filter(|s| args.agent.as_ref().is_none_or(|a| *a == s.agent))
        // With --kind, the rows of that kind; without, every row.
        .filter(|s| args.kind.is_none() || s.kind == args.kind)
        .collect();
    if json {
        print_json(&rows);
        return Ok(Outcome::Success);
    }
    if rows.is_empty() {
        eprintln!("no finished work matches: `techlead history` lists what the record holds");
        return Ok(Outcome::Success);
    }
    print!("{}", stats_table(&rows));
    Ok(Outcome::Success)
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("history serialises")
    );
}

fn stats_table(rows: &[&AgentStats]) -> String {
    let columns = [
        table::column("AGENT", true),
        table::column("KIND", false),
        table::column("TASKS", false),
        table::column("ATTEMPTS", false),
        table::column("SUCCESS", false),
        table::column("RETRIES", false),
        table::column("TIME/EST", false),
        table::column("COST/BUDGET", false),
        table::column("GATES 1ST", false),
    ];
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|s| {
            vec![
                s.agent.clone(),
                s.kind.map_or_else(|| "all".to_string(), |k| k.to_string()),
                s.tasks.to_string(),
                s.attempts.to_string(),
                percent(s.success_rate()),
                s.retries.to_string(),
                times(s.duration_ratio),
                times(s.cost_ratio),
                percent(s.gate_first_pass_rate()),
            ]
        })
        .collect();
    table::render(&columns, &cells, render::width())
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_string(), |r| format!("{:.0}%", r * 100.0))
}

fn times(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "—".to_string(), |r| format!("{r:.2}×"))
}

fn list(missions: &[PastMission]) -> String {
    let columns = [
        table::column("MISSION", false),
        table::column("STATUS", false),
        table::column("TASKS", false),
        table::column("RUN TIME", false),
        table::column("COST", false),
        table::column("PROBLEMS", true),
    ];
    let rows: Vec<Vec<String>> = missions
        .iter()
        .map(|m| {
            let mut status = m.status.to_string();
            if m.simulated() {
                status.push_str(" (simulation)");
            }
            vec![
                m.id.clone(),
                status,
                format!("{}/{} ok", m.succeeded(), m.tasks.len()),
                duration(m.duration_ms() / 1000),
                dollars(m.cost_usd()),
                problems(m),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

/// `API: failed, then succeeded after 2 attempts; UI: unresolved`.
fn problems(mission: &PastMission) -> String {
    let troubled: Vec<String> = mission
        .troubled()
        .map(|t| {
            let resolution = t.resolution.as_ref().map(resolution_text);
            format!("{}: {}", t.task, resolution.unwrap_or_default())
        })
        .collect();
    if troubled.is_empty() {
        "none".to_string()
    } else {
        troubled.join("; ")
    }
}

fn summary_json(mission: &PastMission) -> Value {
    let troubled: Vec<Value> = mission
        .troubled()
        .map(|t| json!({"task": t.task, "problems": t.problems, "resolution": t.resolution}))
        .collect();
    json!({
        "id": mission.id,
        "name": mission.name,
        "status": mission.status,
        "simulated": mission.simulated(),
        "created_at": mission.created_at,
        "tasks": mission.tasks.len(),
        "succeeded": mission.succeeded(),
        "duration_ms": mission.duration_ms(),
        "cost_usd": mission.cost_usd(),
        "problems": troubled,
    })
}

fn one(mission: &PastMission) -> String {
    let mut out = String::new();
    let simulated = if mission.simulated() {
        " (simulation: seeded results)"
    } else {
        ""
    };
    let _ = writeln!(out, "{}  {}{simulated}", mission.id, mission.status);
    if !mission.objective.is_empty() {
        let _ = writeln!(out, "{}", mission.objective.trim());
    }
    let _ = writeln!(
        out,
        "{}/{} tasks succeeded, run time {}, cost {}\n",
        mission.succeeded(),
        mission.tasks.len(),
        duration(mission.duration_ms() / 1000),
        dollars(mission.cost_usd())
    );
    out.push_str(&tasks_table(&mission.tasks));
    let troubled: Vec<&TaskOutcome> = mission.troubled().collect();
    if !troubled.is_empty() {
        let _ = writeln!(out, "\nProblems");
    }
    for task in troubled {
        for problem in &task.problems {
            let _ = writeln!(
                out,
                "  {} attempt {} on {}: {}",
                task.task, problem.attempt, problem.agent, problem.what
            );
        }
        let resolution = task.resolution.as_ref().map(resolution_text);
        let _ = writeln!(out, "    → {}", resolution.unwrap_or_default());
    }
    out
}

fn tasks_table(tasks: &[TaskOutcome]) -> String {
    let columns = [
        table::column("TASK", false),
        table::column("KIND", false),
        table::column("AGENT", true),
        table::column("STATUS", false),
        table::column("ATTEMPTS", false),
        table::column("RUN TIME", false),
        table::column("TIME/EST", false),
        table::column("COST", false),
        table::column("GATES 1ST", false),
    ];
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .map(|t| {
            vec![
                t.task.clone(),
                t.kind.to_string(),
                t.agent.clone(),
                t.status.to_string(),
                t.attempts.to_string(),
                duration(t.duration_ms / 1000),
                times(t.duration_ratio()),
                dollars(t.cost_usd),
                t.first_gate_passed
                    .map_or("—", |p| if p { "passed" } else { "failed" })
                    .to_string(),
            ]
        })
        .collect();
    table::render(&columns, &rows, render::width())
}
