//! `techlead land`: hands a mission's result (its integration branch) to
//! the person, by fast-forwarding one of their branches, or as a new branch
//! for a pull request. Never a merge and never a forced move: when their
//! branch has moved on, the hint gives the `git merge` to run.
//!
//! Only a mission that succeeded lands by default: the integration branch
//! of a paused, interrupted or failed mission holds part of the work, and
//! landing part of it takes `--force`, on purpose. A run in progress holds
//! the mission's lock, and landing waits for no one: it is refused.

use crate::args::LandArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render;
use std::path::{Path, PathBuf};
use techlead_core::state::{MissionState, MissionStatus, TaskStatus};
use techlead_engine::git::Git;
use techlead_engine::workspace::{self, Landed, Workspaces};
use techlead_store::Store;

pub fn run(args: &LandArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = database::mission(&store, &path, Some(&args.mission))?;
    // Held until the end: no run may start and move the integration
    // branch while it lands. A run in progress makes this fail.
    let _lock = store.lock(&row.id)?;
    let state = database::state(&store, &row.id)?;
    let Some(repository) = &state.plan.repository else {
        return Err(CliError::NoRepository { mission: row.id });
    };
    let merged = merged_tasks(&state);
    let tasks = state.plan.tasks.len();
    if state.status != MissionStatus::Succeeded {
        let refusal = CliError::Unfinished {
            mission: row.id.clone(),
            status: state.status,
            merged,
            tasks,
        };
        if !args.force {
            return Err(refusal);
        }
        eprintln!("warning: {refusal}; landing it as it is (--force)");
    }
    let git = Git::open(Path::new(&repository.path)).map_err(workspace::Error::from)?;
    let workspaces = Workspaces::new(git, &data_dir(&path), &row.id);
    let landed = match (&args.as_branch, &args.into) {
        (Some(name), _) => workspaces.land_as_branch(name)?,
        (None, Some(into)) => workspaces.land(into)?,
        (None, None) => match &repository.branch {
            Some(branch) => workspaces.land(branch)?,
            None => return Err(CliError::NoTarget { mission: row.id }),
        },
    };
    // What came in: the mission's work between where the branch was (or
    // the mission's base, for a new branch) and where it is now.
    let (from, to) = match &landed {
        Landed::FastForwarded { from, to, .. } => (from.clone(), to.clone()),
        Landed::UpToDate { commit, .. } => (commit.clone(), commit.clone()),
        Landed::Created { commit, .. } => (repository.base.clone(), commit.clone()),
    };
    let brought = tasks_between(&workspaces, &row.id, &from, &to)?;
    if args.json {
        let (action, branch, from) = match &landed {
            Landed::FastForwarded { branch, from, .. } => {
                ("fast_forwarded", branch, Some(from.clone()))
            }
            Landed::UpToDate { branch, commit } => ("up_to_date", branch, Some(commit.clone())),
            Landed::Created { branch, .. } => ("created", branch, None),
        };
        let json = serde_json::json!({
            "mission": row.id,
            "status": state.status.as_str(),
            "forced": state.status != MissionStatus::Succeeded,
            "action": action,
            "branch": branch,
            "from": from,
            "to": to,
            "tasks": brought,
            "integration_branch": workspaces.integration_branch(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
        return Ok(Outcome::Success);
    }
    let count = render::plural(brought.len(), "task");
    match &landed {
        Landed::FastForwarded { branch, from, to } => {
            println!("{branch}: {} → {} ({count} merged)", short(from), short(to));
        }
        Landed::UpToDate { branch, commit } => {
            println!(
                "{branch}: already at {}, the result of {}",
                short(commit),
                row.id
            );
        }
        Landed::Created { branch, commit } => {
            println!("{branch}: new branch at {} ({count} merged)", short(commit));
            eprintln!(
                "next: `git push -u origin {branch}` and open a pull request, or `git merge {branch}`"
            );
        }
    }
    Ok(Outcome::Success)
}

/// Tasks of the mission recorded as merged (succeeded: with a repository,
/// a task succeeds when its work is in the integration branch).
fn merged_tasks(state: &MissionState) -> usize {
    state
        .tasks
        .iter()
        .filter(|task| task.status == TaskStatus::Succeeded)
        .count()
}

/// The tasks whose work the integration commits in `from..to` brought in,
/// in history order, each once: the `Techlead-Task` trailers of this
/// mission's commits on the integration branch's own line.
fn tasks_between(
    workspaces: &Workspaces,
    mission: &str,
    from: &str,
    to: &str,
) -> Result<Vec<String>, CliError> {
    if from == to {
        return Ok(Vec::new());
    }
    let log = workspaces
        .git()
        .cmd()
        .args([
            "log",
            "--first-parent",
            "--reverse",
            "--format=%(trailers:key=Techlead-Mission,valueonly,separator=%x1e)%x1f%(trailers:key=Techlead-Task,valueonly,separator=%x1e)",
        ])
        .arg(format!("{from}..{to}"))
        .arg("--")
        .run()
        .map_err(workspace::Error::from)?;
    let mut tasks: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some((missions, task)) = line.split_once('\x1f') else {
            continue;
        };
        let task = task.split('\x1e').next().unwrap_or("").trim();
        let ours = missions.split('\x1e').any(|m| m.trim() == mission);
        if ours && !task.is_empty() && !tasks.iter().any(|t| t == task) {
            tasks.push(task.to_string());
        }
    }
    Ok(tasks)
}

/// The directory holding the database, as `run` gave it to the engine
/// (symbolic links resolved): the worktrees live under it.
pub fn data_dir(database: &Path) -> PathBuf {
    let dir = database::data_dir(database);
    std::fs::canonicalize(&dir).unwrap_or(dir)
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(7)]
}
