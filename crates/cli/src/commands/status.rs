//! `techlead status` and `techlead missions`: where missions stand, read
//! from the record (safe while a run is writing).

use crate::args::{MissionsArgs, StatusArgs};
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::progress::seconds;
use crate::render::{self, table};
use serde_json::json;
use std::path::Path;
use techlead_core::portfolio::slots::{self, Admission, Demand};
use techlead_core::state::{
    AttemptOutcome, CheckResult, DoneState, GatePlan, MissionState, MissionStatus, TaskStatus,
    Verdict,
};
use techlead_engine::workspace::integration_branch;
use techlead_store::Store;

pub fn status(args: &StatusArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, args.mission.as_deref())?;
    let state = database::state(&store, &row.id)?;
    let data_dir = database::data_dir(&path);
    let shared = shared_agents(&store, &row.id)?;
    if args.json {
        let mut json = status_json(&row.id, &state, &data_dir);
        json["shared_agents"] = serde_json::to_value(&shared).expect("rows serialise");
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    let waits = external_waits(&store, &state);
    println!("{}", summary(&row.id, &state));
    if let Some(lines) = integration_lines(&row.id, &state) {
        println!("{lines}");
    }
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
    for agent in shared.iter().filter(|a| a.demand.waiting > 0) {
        let tasks = match agent.demand.waiting {
            1 => "1 ready task waits".to_string(),
            n => format!("{n} ready tasks wait"),
        };
        println!("⧗ {}: {tasks}", agent.why);
    }
    for line in super::webhooks::failing(&store, &row.id, &state.plan)? {
        println!("{line}");
    }
    if let Some(line) = escalations_line(&row.id, &state) {
        println!("{line}");
    }
    println!();
    print!("{}", tasks_table(&state, &waits));
    if !state.plan.done_when.is_empty() {
        println!();
        print!("{}", done_section(&state, &data_dir));
    }
    Ok(Outcome::Success)
}

/// The escalations that wait for the person, and where to decide them.
fn escalations_line(id: &str, state: &MissionState) -> Option<String> {
    let open = &state.open_escalations;
    if open.is_empty() {
        return None;
    }
    let numbers: Vec<String> = open.iter().map(|e| format!("#{}", e.id)).collect();
    Some(format!(
        "? {} waiting for your decision ({}): `techlead escalations {id}`, then `techlead decide {id} N ACTION`",
        render::plural(open.len(), "escalation"),
        numbers.join(", ")
    ))
}

/// Whether the mission's tasks pass through `checking`: they have gates,
/// or their work merges into the integration branch.
fn has_checks(state: &MissionState) -> bool {
    state.plan.repository.is_some() || state.plan.tasks.iter().any(|t| !t.detail.gates.is_empty())
}

/// `demo-1 · running · 1 of 3 tasks succeeded, 1 running, 1 checking, ...`
fn summary(id: &str, state: &MissionState) -> String {
    let queued = match state.count(TaskStatus::Queued) {
        0 => String::new(),
        n => format!(", {n} queued"),
    };
    let checking = match state.count(TaskStatus::Checking) {
        0 if !has_checks(state) => String::new(),
        n => format!(", {n} checking"),
    };
    format!(
        "{id} · {} · {} of {} tasks succeeded, {} running{queued}{checking}, {} failed, {} blocked · run {}",
        state.status,
        state.count(TaskStatus::Succeeded),
        state.tasks.len(),
        state.count(TaskStatus::Running),
        state.count(TaskStatus::Failed),
        state.count(TaskStatus::Blocked),
        state.runs
    )
}

/// For a mission with a repository: where its work is, and how it reaches
/// the person's branch (two lines).
fn integration_lines(id: &str, state: &MissionState) -> Option<String> {
    let repository = state.plan.repository.as_ref()?;
    let merged = state
        .tasks
        .iter()
        .filter(|t| t.work.merged.is_some())
        .count();
    let land = match &repository.branch {
        Some(branch) if state.status == MissionStatus::Succeeded => {
            format!("`techlead land {id}` brings it to {branch}")
        }
        Some(branch) => format!(
            "`techlead land {id}` brings it to {branch} once the mission succeeds (`--force`: as it is now)"
        ),
        None => format!(
            "`techlead land {id} --into BRANCH` brings it to a branch of yours (the mission started on a detached HEAD)"
        ),
    };
    Some(format!(
        "integration branch {}: {merged} of {} tasks merged\n{land}",
        integration_branch(id),
        state.tasks.len()
    ))
}

/// One agent this mission shares with other missions on the database, as
/// its run published it, and why its ready tasks wait, if they do.
#[derive(serde::Serialize)]
struct SharedAgent {
    #[serde(flatten)]
    demand: Demand,
    why: String,
    /// Why its ready tasks wait for another mission, if they do.
    #[serde(skip)]
    wait: Option<slots::Wait>,
}

/// The agents the mission's run shares with the other live runs, from
/// what each published (`agent_shares`), each judged as the run would.
fn shared_agents(store: &dyn Store, id: &str) -> Result<Vec<SharedAgent>, CliError> {
    let rows = store.shares()?;
    let now = jiff::Timestamp::now();
    Ok(rows
        .iter()
        .filter(|d| d.mission == id)
        .map(|mine| {
            let others: Vec<Demand> = rows
                .iter()
                .filter(|d| d.agent == mine.agent && d.mission != id)
                .cloned()
                .collect();
            let admission = slots::admit(mine, &others, now);
            let why = match &admission {
                _ if mine.waiting == 0 => format!("{} has what it needs", mine.agent),
                Admission::Start => format!("{} has a free slot for it", mine.agent),
                Admission::Wait(wait) => wait.describe(&mine.agent),
            };
            SharedAgent {
                demand: mine.clone(),
                why,
                wait: match admission {
                    Admission::Wait(wait) => Some(wait),
                    Admission::Start => None,
                },
            }
        })
        .collect())
}

/// Why the mission's ready tasks wait for agents it shares, in the words
/// and order the run's own terminal uses (`dev is busy with mission
/// billing-1 (priority 10): 2 ready tasks wait`); empty when none waits.
pub(crate) fn shared_waits(store: &dyn Store, id: &str) -> Result<Vec<String>, CliError> {
    let mut waits: Vec<String> = shared_agents(store, id)?
        .into_iter()
        .filter(|shared| shared.demand.waiting > 0)
        .filter_map(|shared| {
            let wait = shared.wait?;
            Some(wait.line(&shared.demand.agent, shared.demand.waiting))
        })
        .collect();
    waits.sort();
    Ok(waits)
}

/// Why each task that waits for another mission's task waits, as that
/// mission's record says now: `waiting for billing/API (API is running in
/// billing-1)`. A record that cannot be read leaves the bare wait.
fn external_waits(store: &dyn Store, state: &MissionState) -> Vec<(usize, String)> {
    let mut others = techlead_engine::mission::Others::default();
    let mut waits: Vec<(usize, String)> = Vec::new();
    for t in 0..state.tasks.len() {
        let on: Vec<String> = state
            .waiting_for(t)
            .map(|on| match others.judge(store, on) {
                Ok(Verdict::Wait(why)) => format!("{on} ({why})"),
                _ => on.to_string(),
            })
            .collect();
        if !on.is_empty() {
            waits.push((t, format!("waiting for {}", on.join(", "))));
        }
    }
    waits
}

fn tasks_table(state: &MissionState, waits: &[(usize, String)]) -> String {
    let gated = state.plan.tasks.iter().any(|t| !t.detail.gates.is_empty());
    let merging = state.plan.repository.is_some();
    let mut columns = vec![
        table::column("TASK", false),
        table::column("STATUS", false),
        table::column("AGENT", false),
        table::column("ATTEMPTS", false),
        table::column("TIME", false),
    ];
    if gated {
        columns.push(table::column("GATES", true));
    }
    if merging {
        columns.push(table::column("MERGE", false));
    }
    columns.push(table::column("NOTE", true));
    let rows: Vec<Vec<String>> = (0..state.tasks.len())
        .map(|t| {
            let (task, plan) = (&state.tasks[t], &state.plan.tasks[t]);
            let time: u64 = task.attempts.iter().filter_map(|a| a.duration_ms).sum();
            let mut row = vec![
                plan.id.clone(),
                task.status.to_string(),
                task.agent.clone(),
                task.attempts.len().to_string(),
                if task.attempts.is_empty() {
                    "—".into()
                } else {
                    seconds(time)
                },
            ];
            if gated {
                row.push(gates_cell(state, t));
            }
            if merging {
                row.push(task.work.merged.as_deref().map_or("—", short).to_string());
            }
            row.push(match waits.iter().find(|(w, _)| *w == t) {
                Some((_, wait)) if state.tasks[t].status == TaskStatus::Pending => wait.clone(),
                _ => note(state, t),
            });
            row
        })
        .collect();
    table::render(&columns, &rows, render::width())
}

/// The last gate verdict on a task's work, as its table cell.
fn gates_cell(state: &MissionState, t: usize) -> String {
    let gates = &state.plan.tasks[t].detail.gates;
    if gates.is_empty() {
        return "—".to_string();
    }
    match last_check(state, t) {
        None => String::new(),
        Some(LastCheck {
            gate,
            passed: true,
            passed_of_last,
            ..
        }) if passed_of_last == gates.len() => match gates.len() {
            1 => format!("✓ {gate}"),
            n => format!("✓ all {n} passed"),
        },
        Some(LastCheck {
            gate,
            passed: true,
            passed_of_last,
            ..
        }) => format!("✓ {gate} ({passed_of_last} of {})", gates.len()),
        Some(LastCheck {
            gate,
            passed: false,
            reason,
            ..
        }) => match reason {
            Some(reason) => format!("✗ {gate}: {reason}"),
            None => format!("✗ {gate}"),
        },
    }
}

/// A task's last gate verdict, with what people read of it.
struct LastCheck<'s> {
    attempt: u32,
    gate: &'s str,
    passed: bool,
    /// Why it rejected the work, in one line.
    reason: Option<String>,
    /// How many gates passed on the attempt it judged.
    passed_of_last: usize,
}

fn last_check(state: &MissionState, t: usize) -> Option<LastCheck<'_>> {
    let task = &state.tasks[t];
    let last = task.work.checks.last()?;
    let passed_of_last = task
        .work
        .checks
        .iter()
        .filter(|c| c.attempt == last.attempt && c.passed)
        .count();
    Some(LastCheck {
        attempt: last.attempt,
        gate: &last.gate,
        passed: last.passed,
        reason: (!last.passed)
            .then(|| rejection_reason(state, t, last))
            .flatten(),
        passed_of_last,
    })
}

/// The one line that says why a gate rejected the work: a reviewer's first
/// reason; for a command, the executor's account (its exit code and last
/// line of output), which comes last.
fn rejection_reason(state: &MissionState, t: usize, check: &CheckResult) -> Option<String> {
    let review = state.plan.tasks[t]
        .detail
        .gates
        .iter()
        .any(|g| matches!(g, GatePlan::Review { .. }) && g.name() == check.gate);
    let mut reasons = check
        .reasons
        .iter()
        .map(|r| r.trim())
        .filter(|r| !r.is_empty());
    let reason = if review {
        reasons.next()
    } else {
        reasons.next_back()
    };
    reason.map(|r| command_failure(&one_line(r)))
}

/// The command executor's account of a failed gate, shortened for a table
/// cell: "`sh` exited with code 3: nope" reads "exit 3: nope".
fn command_failure(reason: &str) -> String {
    let Some(rest) = reason.strip_prefix("`sh` exited with code ") else {
        return reason.to_string();
    };
    match rest.split_once(": ") {
        Some((code, last)) => format!("exit {code}: {last}"),
        None => format!("exit {rest}"),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn note(state: &MissionState, t: usize) -> String {
    let task = &state.tasks[t];
    let note = match task.status {
        TaskStatus::Blocked => format!("blocked by {}", task.blocked_by.as_deref().unwrap_or("?")),
        TaskStatus::Skipped => "skipped by your decision".to_string(),
        TaskStatus::Running => match (&task.work.conflict, &task.progress) {
            (_, Some((p, m))) => p.map_or(m.clone(), |p| format!("{p}% {m}")),
            (Some(files), None) => format!("resolving a conflict in {}", files.join(", ")),
            (None, None) => String::new(),
        },
        TaskStatus::Queued => "claimed a slot; starts when one frees".to_string(),
        TaskStatus::Retrying => {
            let when = task
                .retry_at
                .map(|at| format!("next attempt at {}", at.strftime("%H:%M:%S")))
                .unwrap_or_default();
            match &task.work.conflict {
                Some(files) => format!("{when}, to resolve a conflict in {}", files.join(", ")),
                None => when,
            }
        }
        TaskStatus::Checking => match state.next_gate(t) {
            Some((i, gate)) => format!(
                "gate {} of {}: {}",
                i + 1,
                state.plan.tasks[t].detail.gates.len(),
                gate.name()
            ),
            None if state.plan.repository.is_some() => {
                "merging into the integration branch".to_string()
            }
            None => String::new(),
        },
        TaskStatus::Failed => failure(state, t),
        TaskStatus::Pending | TaskStatus::Succeeded => {
            task.reports.summary.clone().unwrap_or_default()
        }
    };
    match task.work.missing_inputs.as_slice() {
        [] => note,
        missing if note.is_empty() => format!("! lacks {}", missing.join(", ")),
        missing => format!("! lacks {} · {note}", missing.join(", ")),
    }
}

/// Why a task failed, in a few words.
fn failure(state: &MissionState, t: usize) -> String {
    let task = &state.tasks[t];
    let Some(last) = task.attempts.last() else {
        return String::new();
    };
    if last.detail.rejected_by.is_some() {
        return "its gate rejected the work; no retries left".to_string();
    }
    match &last.outcome {
        Some(AttemptOutcome::Succeeded { .. }) if task.work.conflicts > 0 => {
            "its work conflicts with the integration branch; you decide".to_string()
        }
        Some(AttemptOutcome::Failed {
            exit_code,
            signal,
            message,
        }) => match (message.trim(), exit_code, signal) {
            ("", Some(code), _) => format!("exit code {code}"),
            ("", None, Some(signal)) => format!("killed by signal {signal}"),
            (message, ..) => one_line(message),
        },
        Some(AttemptOutcome::TimedOut) => "timed out".to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

/// The definition of done as a checklist.
fn done_section(state: &MissionState, data_dir: &Path) -> String {
    let mut out = String::from("Definition of done\n");
    for (i, item) in state.plan.done_when.iter().enumerate() {
        let done = state.done_state(i);
        // A finished mission will not check it any more.
        let word = match done {
            DoneState::NotChecked if state.status.is_finished() => "not checked",
            done => done.as_str(),
        };
        let mark = match done {
            DoneState::Met => "✓",
            DoneState::NotMet => "✗",
            DoneState::Approved => "≈",
            DoneState::ToConfirm => "·",
            DoneState::NotChecked => "…",
        };
        let how = match (&item.run, &state.done[i]) {
            (None, _) => String::new(),
            (Some(run), None) => format!(" (`{run}`)"),
            (Some(run), Some(result)) if result.passed => format!(" (`{run}` passed)"),
            (Some(run), Some(result)) => {
                let ended = match result.exit_code {
                    Some(code) => format!("exited with code {code}"),
                    None => "did not finish".to_string(),
                };
                format!(
                    " (`{run}` {ended}; output: {})",
                    data_dir.join(&result.log).display()
                )
            }
        };
        out.push_str(&format!("  {mark} {:<15} {}{how}\n", word, item.text));
    }
    out
}

/// A commit as people quote it.
fn short(commit: &str) -> &str {
    &commit[..commit.len().min(10)]
}

fn status_json(id: &str, state: &MissionState, data_dir: &Path) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = TaskStatus::ALL
        .iter()
        .map(|&s| (s.as_str().to_string(), json!(state.count(s))))
        .collect();
    json!({
        "id": id,
        "name": state.plan.name,
        "status": state.status,
        "runs": state.runs,
        "open_escalations": state.open_escalations,
        "last_seq": state.last_seq,
        "counts": counts,
        "repository": state.plan.repository.as_ref().map(|r| json!({
            "path": r.path,
            "base": r.base,
            "branch": r.branch,
            "integration_branch": integration_branch(id),
            "merged": state.tasks.iter().filter(|t| t.work.merged.is_some()).count(),
            "land": match &r.branch {
                Some(_) => format!("techlead land {id}"),
                None => format!("techlead land {id} --into BRANCH"),
            },
        })),
        "paused_executors": state.paused_executors.iter().map(|(executor, until)| json!({
            "executor": executor,
            "until": until,
        })).collect::<Vec<_>>(),
        "tasks": (0..state.tasks.len()).map(|t| {
            let (task, plan) = (&state.tasks[t], &state.plan.tasks[t]);
            json!({
                "id": plan.id,
                "status": task.status,
                "agent": task.agent,
                "attempts": task.attempts,
                "blocked_by": task.blocked_by,
                "external": state.external_of(t).collect::<Vec<_>>(),
                "summary": task.reports.summary,
                "artifacts": task.reports.artifacts,
                "decisions": task.reports.decisions,
                "gates": plan.detail.gates.iter().map(GatePlan::name).collect::<Vec<_>>(),
                "checks": task.work.checks,
                "last_check": last_check(state, t).map(|c| json!({
                    "attempt": c.attempt,
                    "gate": c.gate,
                    "passed": c.passed,
                    "reason": c.reason,
                })),
                "next_gate": state.next_gate(t).map(|(_, g)| g.name()),
                "commit": task.work.commit,
                "changed_files": task.work.changed_files,
                "merged": task.work.merged,
                "conflict": task.work.conflict,
                "missing_inputs": task.work.missing_inputs,
            })
        }).collect::<Vec<_>>(),
        "definition_of_done": state.plan.done_when.iter().enumerate().map(|(i, item)| {
            let result = state.done[i].as_ref();
            json!({
                "item": item.text,
                "run": item.run,
                "state": state.done_state(i),
                "exit_code": result.and_then(|r| r.exit_code),
                "log": result.map(|r| data_dir.join(&r.log)),
            })
        }).collect::<Vec<_>>(),
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
