//! A task of a mission with a repository, on a worker (docs/workers.md,
//! "Missions with a repository"): the worker keeps one clone per
//! repository under its directory, and in it the task's worktree as the
//! coordinator would have it (`Workspaces`, the same branches). Before an
//! attempt it fetches the integration branch and the task branch, and puts
//! the worktree on the task branch's tip (or the integration tip for a
//! task's first attempt); after it, it commits what the agent left as a
//! local attempt's save does, and pushes the task branch to the
//! coordinator's repository under `refs/techlead/remote/...`, a ref no
//! worktree has checked out. The coordinator moves its task branch there
//! before it gates and merges.

use super::spec::RepoSpec;
use crate::git::Git;
use crate::mission::work::{SavedWork, save_now};
use crate::workspace::{Workspaces, ref_component};
use std::path::{Path, PathBuf};

static FETCHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The task's worktree in the worker's clone, ready for the attempt.
pub(super) struct Checkout {
    pub workspaces: Workspaces,
    pub path: PathBuf,
}

/// Fetches what the task needs and puts its worktree on the task branch;
/// with `repo.resolve_conflict`, the merge of the integration branch is
/// begun in it, markers and all, as the coordinator does locally.
pub(super) fn prepare(
    dir: &Path,
    repo: &RepoSpec,
    mission: &str,
    task: &str,
) -> Result<Checkout, String> {
    // The worker's attempts take turns to make the clone and fetch into
    // it: two `git init`s of one directory, or two fetches moving the
    // same integration branch, would fail each other.
    let turn = FETCHING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let clone = dir.join("repos").join(ref_component(&repo.url));
    if !clone.join(".git").exists() {
        init(&clone)?;
    }
    let git = Git::open(&clone).map_err(|e| e.to_string())?;
    let workspaces = Workspaces::new(git, &clone.join(".techlead"), mission);
    let integration = format!("refs/heads/{}", workspaces.integration_branch());
    let branch = format!("refs/heads/{}", workspaces.task_branch(task));
    // The task branch exists at the coordinator once an attempt saved
    // work on it; it is fetched to a ref of its own, since the worktree
    // here may have it checked out.
    let fetched = format!("refs/techlead/fetched/{}", workspaces.task_branch(task));
    let listed = git_out(
        &workspaces,
        None,
        &[
            "ls-remote",
            "--end-of-options",
            &repo.url,
            &integration,
            &branch,
        ],
    )?;
    let has_task_branch = listed.lines().any(|l| l.ends_with(&format!("\t{branch}")));
    let mut fetch = vec![
        "fetch".to_string(),
        "--quiet".into(),
        "--no-tags".into(),
        "--no-write-fetch-head".into(),
        "--end-of-options".into(),
        repo.url.clone(),
        format!("+{integration}:{integration}"),
    ];
    if has_task_branch {
        fetch.push(format!("+{branch}:{fetched}"));
    }
    let fetch: Vec<&str> = fetch.iter().map(String::as_str).collect();
    git_out(&workspaces, None, &fetch)?;
    let start = match has_task_branch {
        true => fetched,
        false => integration,
    };
    drop(turn);
    let path = workspaces.prepare(task).map_err(|e| e.to_string())?;
    // Whatever an earlier attempt here left is either pushed or lost with
    // its lease: the worktree starts from the branch as the coordinator
    // has it. Ignored files (build output) stay, as they do locally.
    git_out(&workspaces, Some(&path), &["reset", "--quiet", "--hard"])?;
    git_out(
        &workspaces,
        Some(&path),
        &[
            "checkout",
            "--quiet",
            "--force",
            "-B",
            &workspaces.task_branch(task),
            &start,
        ],
    )?;
    git_out(&workspaces, Some(&path), &["clean", "-ffdq"])?;
    if repo.resolve_conflict {
        workspaces
            .begin_conflict_merge(task)
            .map_err(|e| e.to_string())?;
    }
    Ok(Checkout { workspaces, path })
}

/// Commits what the attempt left and pushes the task branch to the
/// coordinator's repository.
pub(super) fn finish(
    checkout: &Checkout,
    repo: &RepoSpec,
    (task, attempt, agent, outcome): (&str, u32, &str, &str),
) -> Result<SavedWork, String> {
    let saved =
        save_now(&checkout.workspaces, task, attempt, agent, outcome).map_err(|e| e.to_string())?;
    let pushed = format!("{}:{}", saved.commit, repo.remote_ref);
    git_out(
        &checkout.workspaces,
        Some(&checkout.path),
        &[
            "push",
            "--quiet",
            "--force",
            "--no-verify",
            "--end-of-options",
            &repo.url,
            &pushed,
        ],
    )?;
    Ok(saved)
}

/// An empty repository: only the refs a task needs are ever fetched.
fn init(clone: &Path) -> Result<(), String> {
    std::fs::create_dir_all(clone).map_err(|e| format!("{}: {e}", clone.display()))?;
    let output = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .arg(clone)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("git init cannot run: {e}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!(
            "git init {} failed: {}",
            clone.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

fn git_out(workspaces: &Workspaces, at: Option<&Path>, args: &[&str]) -> Result<String, String> {
    let git = workspaces.git();
    let invocation = match at {
        Some(path) => git.at(path),
        None => git.cmd(),
    };
    invocation.args(args).run().map_err(|e| e.to_string())
}
