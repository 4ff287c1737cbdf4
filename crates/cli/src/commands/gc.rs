//! `techlead gc`: what missions left behind in their repositories (task
//! worktrees, task branches, the integration checkout of phase gates),
//! each with its state and what gc does with it. Without `--yes` it only
//! lists. With it, it removes what loses nothing, and never work that is
//! not merged or not committed: for that it says how to keep it or give it
//! up (`--abandon MISSION/TASK --yes`).
//!
//! What is safe depends on whether the mission can still go on:
//! - a finished mission (succeeded or failed; it cannot be resumed): merged
//!   worktrees and merged task branches (their work is in the integration
//!   branch), and the integration checkout;
//! - an unfinished one (paused, interrupted, cut off): only the worktrees
//!   of tasks recorded as succeeded, whose work is merged; their branches
//!   and the integration checkout stay for `techlead resume`.
//!
//! A mission being run (its lock is held) is skipped; gc holds the lock of
//! each mission while it works on it, so no run starts meanwhile. The
//! integration branch itself is the mission's result and is never touched.

use crate::args::GcArgs;
use crate::commands::land::data_dir;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render::{self, table};
use std::path::Path;
use techlead_core::state::{MissionState, MissionStatus, TaskStatus};
use techlead_engine::git::Git;
use techlead_engine::workspace::{
    self, Abandon, Branch, Leftover, State, Workspaces, ref_component,
};
use techlead_store::{MissionLock, MissionRow, Store};

/// What gc does with one leftover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    /// The worktree (if any) and the branch (if any): nothing is lost.
    Remove,
    /// The worktree only; the branch stays for a resume.
    RemoveWorktree,
    /// Nothing: it holds work, or the mission still needs it.
    Keep,
    /// Everything, whatever it holds: the person gave it up.
    Abandon,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Remove => "remove",
            Action::RemoveWorktree => "remove_worktree",
            Action::Keep => "keep",
            Action::Abandon => "abandon",
        }
    }
}

/// One leftover, what gc does with it, and how that went.
#[derive(Debug)]
struct Item {
    leftover: Leftover,
    /// The task's ID, when the leftover is one of the plan's tasks.
    task: Option<String>,
    action: Action,
    /// Why it is kept.
    reason: Option<String>,
    /// How to keep or give up what is kept.
    advice: Option<String>,
    removed: bool,
    error: Option<String>,
}

/// One mission's leftovers.
#[derive(Debug)]
struct Report {
    mission: String,
    status: MissionStatus,
    repository: String,
    /// Why nothing was looked at or done (a run holds it, the repository
    /// is gone).
    skipped: Option<String>,
    /// Where the mission's result is, for a finished mission.
    note: Option<String>,
    items: Vec<Item>,
}

pub fn run(args: &GcArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let data_dir = data_dir(&path);
    let reports = if args.abandon.is_empty() {
        let rows = match &args.mission {
            Some(mission) => vec![database::mission(&store, &path, Some(mission))?],
            None => store.missions()?,
        };
        let mut reports = Vec::new();
        for row in rows {
            if let Some(report) = sweep(&store, &data_dir, &row, args.yes)? {
                reports.push(report);
            }
        }
        reports
    } else {
        abandon(&store, &data_dir, &args.abandon, args.yes)?
    };
    let failed = reports
        .iter()
        .flat_map(|r| &r.items)
        .any(|item| item.error.is_some());
    if args.json {
        print_json(&reports, args.yes);
    } else {
        print_text(&reports, args.yes, !args.abandon.is_empty());
    }
    Ok(if failed {
        Outcome::Attention
    } else {
        Outcome::Success
    })
}

/// The lock of `mission`, or why a run holds it.
fn try_lock(store: &dyn Store, mission: &str) -> Result<Result<MissionLock, String>, CliError> {
    match store.lock(mission) {
        Ok(lock) => Ok(Ok(lock)),
        Err(techlead_store::Error::Locked { holder, .. }) => Ok(Err(holder)),
        Err(error) => Err(error.into()),
    }
}

/// The mission's workspaces; `None` for a mission without a repository.
fn workspaces(
    state: &MissionState,
    data_dir: &Path,
    mission: &str,
) -> Option<Result<Workspaces, workspace::Error>> {
    let repository = state.plan.repository.as_ref()?;
    Some(
        Git::open(Path::new(&repository.path))
            .map(|git| Workspaces::new(git, data_dir, mission))
            .map_err(workspace::Error::from),
    )
}

/// Lists one mission's leftovers and, with `apply`, removes the safe ones.
/// `None` for a mission without a repository (it leaves nothing in git).
fn sweep(
    store: &dyn Store,
    data_dir: &Path,
    row: &MissionRow,
    apply: bool,
) -> Result<Option<Report>, CliError> {
    let state = database::state(store, &row.id)?;
    let Some(opened) = workspaces(&state, data_dir, &row.id) else {
        return Ok(None);
    };
    let repository = state
        .plan
        .repository
        .as_ref()
        .map(|r| r.path.clone())
        .unwrap_or_default();
    let mut report = Report {
        mission: row.id.clone(),
        status: state.status,
        repository,
        skipped: None,
        note: None,
        items: Vec::new(),
    };
    let _lock = match try_lock(store, &row.id)? {
        Ok(lock) => lock,
        Err(holder) => {
            report.skipped = Some(format!("being run ({holder}); skipped"));
            return Ok(Some(report));
        }
    };
    // The record may have moved on before the lock was taken.
    let state = database::state(store, &row.id)?;
    report.status = state.status;
    let workspaces = match opened {
        Ok(workspaces) => workspaces,
        Err(error) => {
            report.skipped = Some(format!("its repository cannot be used: {error}"));
            return Ok(Some(report));
        }
    };
    let leftovers = match workspaces.leftovers() {
        Ok(leftovers) => leftovers,
        Err(error) => {
            report.skipped = Some(format!("cannot list what it left: {error}"));
            return Ok(Some(report));
        }
    };
    for leftover in leftovers {
        let mut item = decide(&state, &row.id, leftover);
        if apply && item.action != Action::Keep {
            carry_out(&workspaces, &mut item);
        }
        report.items.push(item);
    }
    if state.status.is_finished() {
        let branch = state
            .plan
            .repository
            .as_ref()
            .and_then(|r| r.branch.as_deref());
        report.note = result_note(&workspaces, branch);
    }
    Ok(Some(report))
}

/// Where a finished mission's result is: landed in `branch` (its
/// integration branch may go), or still to land.
fn result_note(workspaces: &Workspaces, branch: Option<&str>) -> Option<String> {
    let integration = workspaces.integration_branch();
    let tip = workspaces.integration_tip().ok()?;
    let mission = workspaces.mission();
    let landed = branch.filter(|branch| {
        workspaces
            .git()
            .is_ancestor(&tip, &format!("refs/heads/{branch}"))
            .unwrap_or(false)
    });
    Some(match landed {
        Some(branch) => format!(
            "its result is in `{branch}`; `git branch -d {integration}` deletes the integration branch"
        ),
        None => {
            format!("its result is on `{integration}`: `techlead land {mission}` brings it to you")
        }
    })
}

/// The plan's task whose worktree or branch is named `name`.
fn task_of<'a>(state: &'a MissionState, name: &str) -> Option<(&'a str, TaskStatus)> {
    state
        .plan
        .tasks
        .iter()
        .zip(&state.tasks)
        .find(|(plan, _)| ref_component(&plan.id) == name)
        .map(|(plan, task)| (plan.id.as_str(), task.status))
}

/// What gc does with `leftover` (see the module's comment).
fn decide(state: &MissionState, mission: &str, leftover: Leftover) -> Item {
    let finished = state.status.is_finished();
    let task = task_of(state, &leftover.name);
    let abandon = format!("techlead gc --abandon {mission}/{} --yes", leftover.name);
    let (action, reason, advice) = match &leftover.state {
        State::Merged if finished => (Action::Remove, None, None),
        State::Merged => match (&leftover.path, task) {
            (Some(_), Some((_, TaskStatus::Succeeded))) => (Action::RemoveWorktree, None, None),
            (Some(_), _) => (
                Action::Keep,
                Some("the mission is not finished and may still use it".to_string()),
                None,
            ),
            (None, _) => (
                Action::Keep,
                Some("the branch stays until the mission finishes".to_string()),
                None,
            ),
        },
        State::Integration if finished => (Action::Remove, None, None),
        State::Integration => (
            Action::Keep,
            Some("the mission's phase gates still use it".to_string()),
            None,
        ),
        State::Unmerged { commits } => {
            let branch = leftover.branch.clone().unwrap_or_default();
            (
                Action::Keep,
                Some(format!(
                    "{} not in the integration branch",
                    render::plural(*commits, "commit")
                )),
                Some(format!(
                    "`git log {branch}` shows its work; `git merge {branch}` keeps it, `{abandon}` gives it up"
                )),
            )
        }
        State::Dirty { files } => {
            let path = display(leftover.path.as_deref());
            (
                Action::Keep,
                Some(format!(
                    "{} not committed",
                    render::plural(files.len(), "changed file")
                )),
                Some(format!(
                    "commit it to keep it (`git -C {path} add -A && git -C {path} commit`), or `{abandon}` gives it up"
                )),
            )
        }
        State::Orphaned => (
            Action::Keep,
            Some("a directory git does not know as a worktree".to_string()),
            Some(format!(
                "look at {} and move what is worth keeping, then `{abandon}` deletes it",
                display(leftover.path.as_deref())
            )),
        ),
    };
    Item {
        task: task.map(|(id, _)| id.to_string()),
        leftover,
        action,
        reason,
        advice,
        removed: false,
        error: None,
    }
}

/// Removes what `item.action` says, recording how it went.
fn carry_out(workspaces: &Workspaces, item: &mut Item) {
    let leftover = &item.leftover;
    let name = &leftover.name;
    let result = match (&leftover.state, item.action) {
        (_, Action::Keep) => return,
        (State::Integration, _) => workspaces.remove_integration_checkout(),
        (_, Action::Remove) => workspaces.remove(name, Branch::Delete, Abandon::No),
        (_, Action::RemoveWorktree) => workspaces.remove(name, Branch::Keep, Abandon::No),
        // `remove` finds a directory by the task's name made valid
        // (`ref_component`), which a directory made by hand need not be:
        // an orphaned one is deleted where it is.
        (State::Orphaned, Action::Abandon) => {
            remove_dir(leftover.path.as_deref()).and_then(|()| match leftover.branch {
                Some(_) => workspaces.remove(name, Branch::Delete, Abandon::Yes),
                None => Ok(()),
            })
        }
        (_, Action::Abandon) => workspaces.remove(name, Branch::Delete, Abandon::Yes),
    };
    // Checked, not trusted: a leftover reported removed is gone.
    let still_there = leftover.path.as_ref().is_some_and(|path| path.exists());
    match result {
        Ok(()) if still_there => {
            item.error = Some(format!(
                "{} is still there",
                display(leftover.path.as_deref())
            ));
        }
        Ok(()) => item.removed = true,
        Err(error) => {
            let hint = error.hint().map(|h| format!(" ({h})")).unwrap_or_default();
            item.error = Some(format!("{error}{hint}"));
        }
    }
}

/// Deletes a directory git does not know, with everything in it.
fn remove_dir(path: Option<&Path>) -> Result<(), workspace::Error> {
    let Some(path) = path else { return Ok(()) };
    match std::fs::remove_dir_all(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(workspace::Error::Io {
            path: path.to_path_buf(),
            source: error,
        }),
        _ => Ok(()),
    }
}

/// `--abandon MISSION/TASK`: each named leftover, removed with `apply`
/// whatever it holds.
fn abandon(
    store: &dyn Store,
    data_dir: &Path,
    given: &[String],
    apply: bool,
) -> Result<Vec<Report>, CliError> {
    // Everything named is found, and each mission locked, before anything
    // is removed: one wrong name changes nothing.
    let mut locks: Vec<(String, MissionLock)> = Vec::new();
    let mut found: Vec<(Workspaces, MissionStatus, Item)> = Vec::new();
    for spec in given {
        let (row, task) = split_spec(store, spec)?;
        if !locks.iter().any(|(mission, _)| *mission == row.id) {
            // A run in progress: refused, as `resume` would be.
            locks.push((row.id.clone(), store.lock(&row.id)?));
        }
        let state = database::state(store, &row.id)?;
        let Some(workspaces) = workspaces(&state, data_dir, &row.id) else {
            return Err(CliError::NoRepository { mission: row.id });
        };
        let workspaces = workspaces?;
        let mut leftovers = workspaces.leftovers()?;
        let name = ref_component(&task);
        let Some(at) = leftovers
            .iter()
            .position(|l| l.name == name || l.name == task)
        else {
            let names: Vec<String> = leftovers
                .iter()
                .map(|l| format!("{}/{}", row.id, l.name))
                .collect();
            let hint = if names.is_empty() {
                format!("mission `{}` left nothing behind", row.id)
            } else {
                format!("it left: {}", names.join(", "))
            };
            return Err(CliError::NoSuchLeftover {
                mission: row.id,
                name: task,
                hint,
            });
        };
        let leftover = leftovers.swap_remove(at);
        let task = task_of(&state, &leftover.name);
        // Giving up the work of a task the mission still has to finish
        // would break its resume.
        if let Some((id, status)) = task
            && !state.status.is_finished()
            && !matches!(
                status,
                TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Blocked
            )
        {
            return Err(CliError::StillNeeded {
                mission: row.id,
                task: id.to_string(),
                status: status.as_str(),
            });
        }
        let seen = found
            .iter()
            .any(|(w, _, item)| w.mission() == row.id && item.leftover.name == leftover.name);
        if !seen {
            let item = Item {
                task: task.map(|(id, _)| id.to_string()),
                leftover,
                action: Action::Abandon,
                reason: None,
                advice: None,
                removed: false,
                error: None,
            };
            found.push((workspaces, state.status, item));
        }
    }
    let mut reports: Vec<Report> = Vec::new();
    for (workspaces, status, mut item) in found {
        if apply {
            carry_out(&workspaces, &mut item);
        }
        match reports
            .iter_mut()
            .find(|r| r.mission == workspaces.mission())
        {
            Some(report) => report.items.push(item),
            None => reports.push(Report {
                mission: workspaces.mission().to_string(),
                status,
                repository: workspaces.git().repo().display().to_string(),
                skipped: None,
                note: None,
                items: vec![item],
            }),
        }
    }
    drop(locks);
    Ok(reports)
}

/// `MISSION/TASK`, split where the part before names a mission of the
/// database (mission names and task IDs may hold `/`).
fn split_spec(store: &dyn Store, spec: &str) -> Result<(MissionRow, String), CliError> {
    for (at, _) in spec.match_indices('/') {
        let (mission, task) = (&spec[..at], &spec[at + 1..]);
        if mission.is_empty() || task.is_empty() {
            continue;
        }
        if let Some(row) = store.find_mission(mission)? {
            return Ok((row, task.to_string()));
        }
    }
    Err(CliError::BadAbandon {
        given: spec.to_string(),
    })
}

fn display(path: Option<&Path>) -> String {
    path.map_or_else(String::new, |p| p.display().to_string())
}

/// What the leftover is made of.
fn what(leftover: &Leftover) -> &'static str {
    match (&leftover.state, &leftover.path, &leftover.branch) {
        (State::Integration, _, _) => "checkout",
        (State::Orphaned, _, _) => "directory",
        (_, Some(_), Some(_)) => "worktree + branch",
        (_, Some(_), None) => "worktree",
        (_, None, _) => "branch",
    }
}

fn state_name(state: &State) -> &'static str {
    match state {
        State::Merged => "merged",
        State::Unmerged { .. } => "unmerged",
        State::Dirty { .. } => "dirty",
        State::Orphaned => "orphaned",
        State::Integration => "integration",
    }
}

fn state_text(state: &State) -> String {
    match state {
        State::Merged => "merged".into(),
        State::Unmerged { commits } => {
            format!("unmerged: {}", render::plural(*commits, "commit"))
        }
        State::Dirty { files } => {
            format!("dirty: {}", render::plural(files.len(), "uncommitted file"))
        }
        State::Orphaned => "orphaned".into(),
        State::Integration => "integration checkout".into(),
    }
}

/// The ACTION cell: what gc would do, or did.
fn action_text(item: &Item, applied: bool) -> String {
    let what = what(&item.leftover);
    if let Some(error) = &item.error {
        return format!("failed: {error}");
    }
    let verb = match (item.action, applied && item.removed) {
        (Action::Keep, _) => {
            return match (&item.advice, &item.reason) {
                (None, Some(reason)) => format!("keep: {reason}"),
                _ => "keep".into(),
            };
        }
        (Action::RemoveWorktree, true) => return "removed worktree (branch kept)".into(),
        (Action::RemoveWorktree, false) => return "would remove worktree (branch kept)".into(),
        (Action::Remove, true) => "removed",
        (Action::Remove, false) => "would remove",
        (Action::Abandon, true) => "abandoned",
        (Action::Abandon, false) => "would abandon",
    };
    format!("{verb} {what}")
}

fn print_text(reports: &[Report], applied: bool, abandoning: bool) {
    if reports.is_empty() {
        eprintln!("no mission with a repository in this database: nothing left behind");
        return;
    }
    let (mut removable, mut removed, mut kept) = (0, 0, 0);
    let mut out = String::new();
    for report in reports {
        out.push_str(&format!(
            "{} ({}) · {}\n",
            report.mission, report.status, report.repository
        ));
        if let Some(skipped) = &report.skipped {
            out.push_str(&format!("  {skipped}\n"));
            continue;
        }
        if report.items.is_empty() {
            out.push_str("  nothing left behind\n");
        }
        let columns = [
            table::column("LEFTOVER", true),
            table::column("WHAT", false),
            table::column("STATE", false),
            table::column("ACTION", true),
        ];
        let rows: Vec<Vec<String>> = report
            .items
            .iter()
            .map(|item| {
                vec![
                    item.leftover.name.clone(),
                    what(&item.leftover).to_string(),
                    state_text(&item.leftover.state),
                    action_text(item, applied),
                ]
            })
            .collect();
        if !rows.is_empty() {
            let width = render::width().saturating_sub(2);
            for line in table::render(&columns, &rows, width).lines() {
                out.push_str(&format!("  {line}\n"));
            }
        }
        for item in &report.items {
            match item.action {
                Action::Keep => kept += 1,
                _ if item.removed => removed += 1,
                _ if item.error.is_none() => removable += 1,
                _ => {}
            }
            if let Some(advice) = &item.advice {
                out.push_str(&format!("  {}: {advice}\n", item.leftover.name));
            }
        }
        if let Some(note) = &report.note {
            out.push_str(&format!("  {note}\n"));
        }
    }
    print!("{out}");
    let noun = |n: usize| render::plural(n, "leftover");
    let summary = match (abandoning, applied) {
        (true, true) => format!("abandoned {}", noun(removed)),
        (true, false) => format!(
            "would abandon {}, losing what they hold; add --yes to abandon",
            noun(removable)
        ),
        (false, true) => format!("removed {}, kept {kept}", noun(removed)),
        (false, false) if removable > 0 => format!(
            "would remove {} and keep {kept}; add --yes to remove them",
            noun(removable)
        ),
        (false, false) if kept > 0 => format!("nothing to remove; {} kept", noun(kept)),
        (false, false) => "nothing left behind".to_string(),
    };
    eprintln!("{summary}");
}

fn print_json(reports: &[Report], applied: bool) {
    let missions: Vec<serde_json::Value> = reports
        .iter()
        .map(|report| {
            let leftovers: Vec<serde_json::Value> = report
                .items
                .iter()
                .map(|item| {
                    let leftover = &item.leftover;
                    let (commits, files) = match &leftover.state {
                        State::Unmerged { commits } => (Some(*commits), Vec::new()),
                        State::Dirty { files } => (None, files.clone()),
                        _ => (None, Vec::new()),
                    };
                    serde_json::json!({
                        "name": leftover.name,
                        "task": item.task,
                        "path": leftover.path.as_deref().map(|p| p.display().to_string()),
                        "branch": leftover.branch,
                        "state": state_name(&leftover.state),
                        "commits": commits,
                        "files": files,
                        "action": item.action.as_str(),
                        "reason": item.reason,
                        "advice": item.advice,
                        "removed": item.removed,
                        "error": item.error,
                    })
                })
                .collect();
            serde_json::json!({
                "mission": report.mission,
                "status": report.status.as_str(),
                "repository": report.repository,
                "skipped": report.skipped,
                "note": report.note,
                "leftovers": leftovers,
            })
        })
        .collect();
    let json = serde_json::json!({ "applied": applied, "missions": missions });
    println!(
        "{}",
        serde_json::to_string_pretty(&json).expect("JSON values serialise")
    );
}
