//! `GET /api/missions/{id}/tasks/{task}/diff`: what a task changed, as a
//! review reads it: its branch against the point it forked from the
//! mission's integration branch, in files, hunks and numbered lines.
//!
//! Only techlead's own git commands run, on the repository the mission's
//! plan names; the request contributes nothing to them but the mission
//! and task IDs, and only after they were found in the record (so they
//! name a real mission and task), turned into branch names the way the
//! engine makes them. External diff drivers and text conversions are
//! off: the server runs git and nothing the repository's config points at.

use crate::Shared;
use crate::api::find_task;
use crate::error::ApiError;
use crate::patch;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::Arc;
use techlead_engine::git::Git;
use techlead_engine::workspace::{integration_branch, task_branch};

/// The most of a diff read into the answer; the rest is left out and
/// said so (`truncated`), with the command that shows all of it.
const MAX_BYTES: usize = 4 << 20;

pub async fn diff(
    State(shared): State<Arc<Shared>>,
    Path((id, task)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let (mission, task, repository) = shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            let t = find_task(&state, &row.id, &task)?;
            let Some(repository) = &state.plan.repository else {
                return Err(ApiError::not_found(
                    format!("mission `{}` names no repository", row.id),
                    "its tasks work in its working directory, without branches to compare",
                ));
            };
            Ok((
                row.id,
                state.plan.tasks[t].id.clone(),
                repository.path.clone(),
            ))
        })
        .await?;
    tokio::task::spawn_blocking(move || compare(&mission, &task, &repository))
        .await
        .map_err(ApiError::internal)?
        .map(Json)
}

fn compare(mission: &str, task: &str, repository: &str) -> Result<Value, ApiError> {
    let git = Git::open(std::path::Path::new(repository)).map_err(git_error)?;
    let head_branch = task_branch(mission, task);
    let base_branch = integration_branch(mission);
    let Some(head) = git
        .resolve(&format!("refs/heads/{head_branch}"))
        .map_err(git_error)?
    else {
        return Err(ApiError::not_found(
            format!("task `{task}` has no branch `{head_branch}` yet"),
            "a task's branch is made when its first attempt starts",
        ));
    };
    let Some(integration) = git
        .resolve(&format!("refs/heads/{base_branch}"))
        .map_err(git_error)?
    else {
        return Err(ApiError::not_found(
            format!("mission `{mission}` has no integration branch `{base_branch}`"),
            "it is made when the mission's first task starts",
        ));
    };
    let base = fork_point(&git, &integration, &head)?;
    let output = git
        .cmd()
        .args(["-c", "core.quotePath=false", "diff"])
        .args(["--no-color", "--no-ext-diff", "--no-textconv", "-M"])
        .arg(&base)
        .arg(&head)
        .arg("--")
        .run()
        .map_err(git_error)?;
    let truncated = output.len() > MAX_BYTES;
    let text = if truncated {
        let cut = output[..MAX_BYTES].rfind('\n').map_or(0, |i| i + 1);
        &output[..cut]
    } else {
        &output[..]
    };
    Ok(json!({
        "mission": mission,
        "task": task,
        "branch": head_branch,
        "head": head,
        "base": base,
        "integration": base_branch,
        "files": patch::parse(text),
        "truncated": truncated,
        "command": format!("git diff {base} {head_branch}"),
    }))
}

/// Where the task forked from the integration branch: the newest commit
/// of the integration branch's first-parent line that the task holds.
/// Unlike `git merge-base`, this stays right after the task merged (the
/// merge commit's second parent is the task's tip, which would make the
/// diff empty) and under the rebase strategy (the replayed copies are not
/// the task's commits). The commits of that line the task lacks come
/// first in it, so their count is how far back the fork is.
fn fork_point(git: &Git, integration: &str, head: &str) -> Result<String, ApiError> {
    let count = git
        .cmd()
        .args(["rev-list", "--count", "--first-parent"])
        .arg(integration)
        .arg(format!("^{head}"))
        .run()
        .map_err(git_error)?;
    let back: u64 = count.trim().parse().map_err(ApiError::internal)?;
    git.resolve(&format!("{integration}~{back}"))
        .map_err(git_error)?
        .ok_or_else(|| {
            ApiError::internal(format!(
                "the task's branch shares no history with the integration branch ({integration})"
            ))
        })
}

fn git_error(e: techlead_engine::git::Error) -> ApiError {
    let mut error = ApiError::internal(&e);
    error.hint = e.hint();
    error
}
