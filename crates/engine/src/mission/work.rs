//! A task's worktree around its attempts (missions with a repository):
//! prepared before the agent starts, and whatever the agent left saved to
//! the task branch when it stops, before anything else happens to it
//! (docs/workspaces.md).

use super::Error;
use crate::executor::Outcome;
use crate::workspace::Workspaces;
use std::path::PathBuf;
use std::sync::Arc;
use techlead_core::state::Event;

/// What an attempt's saved work is, for the `work_saved` event.
pub struct SavedWork {
    pub commit: String,
    pub files: Vec<String>,
    /// Files of a resolved conflict that still hold conflict markers.
    pub unresolved: Vec<String>,
}

/// The task's worktree, created or reused; with `resolve_conflict`, the
/// merge of the integration branch is begun in it, markers and all, for
/// the agent to finish; with `parts_merge` (a split task's), started again
/// on top of its parts' work when it does not hold it yet.
pub async fn prepare(
    workspaces: Arc<Workspaces>,
    task: String,
    resolve_conflict: bool,
    parts_merge: Option<String>,
) -> Result<PathBuf, String> {
    blocking(move || {
        if let Some(merge) = parts_merge {
            workspaces.refork_after_parts(&task, &merge)?;
        }
        let path = workspaces.prepare(&task)?;
        if resolve_conflict {
            workspaces.begin_conflict_merge(&task)?;
        }
        Ok(path)
    })
    .await
}

/// Commits what attempt `attempt` left in the worktree of `task`.
pub async fn save(
    workspaces: Arc<Workspaces>,
    task: String,
    attempt: u32,
    agent: String,
    outcome: &'static str,
) -> Result<SavedWork, String> {
    blocking(move || save_now(&workspaces, &task, attempt, &agent, outcome)).await
}

/// [`save`], on this thread (taking a mission over after a crash).
pub fn save_now(
    workspaces: &Workspaces,
    task: &str,
    attempt: u32,
    agent: &str,
    outcome: &str,
) -> Result<SavedWork, crate::workspace::Error> {
    // Not the trailers of integration commits (`Techlead-Task`, ...),
    // which mark work as merged.
    let message = format!(
        "techlead: {task} attempt {attempt} ({outcome}) by {agent}\n\n\
         Techlead-Attempt: {}/{task}/{attempt}\n",
        workspaces.mission()
    );
    let saved = workspaces.save(task, &message)?;
    let files = workspaces.changed_files(task)?;
    Ok(SavedWork {
        commit: saved.commit,
        files,
        unresolved: saved.unresolved,
    })
}

/// Whether task `task` has a worktree to save.
pub fn has_worktree(workspaces: &Workspaces, task: &str) -> bool {
    workspaces.task_path(task).is_dir()
}

/// Why saved work fails its attempt: conflict markers left in `unresolved`
/// files mean the merge conflict was not resolved.
pub(crate) fn unresolved_conflict(unresolved: &[String]) -> Option<String> {
    (!unresolved.is_empty()).then(|| {
        format!(
            "conflict markers are still in {}: the merge conflict is not resolved",
            unresolved.join(", ")
        )
    })
}

/// Why work that could not be saved fails its attempt.
pub(crate) fn unsaved(message: &str) -> String {
    format!("its work could not be saved to the task branch: {message}")
}

/// The attempt's outcome once its work is saved: a `failure` of the save
/// fails an attempt that would otherwise have succeeded.
pub(crate) fn after_save(outcome: Outcome, failure: Option<String>) -> Outcome {
    match (outcome, failure) {
        (Outcome::Succeeded { .. }, Some(message)) => Outcome::Failed {
            exit_code: None,
            signal: None,
            message,
        },
        (outcome, _) => outcome,
    }
}

/// How an outcome reads in a commit message.
pub fn outcome_word(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded { .. } => "succeeded",
        Outcome::Failed { .. } => "failed",
        Outcome::TimedOut => "timed out",
        Outcome::Cancelled => "cancelled",
        Outcome::RateLimited { .. } => "rate limited",
        Outcome::NeedsPerson { .. } => "needs the person",
    }
}

/// Runs git work on the blocking pool; its error as the text a person
/// reads in the attempt's outcome.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, crate::workspace::Error> + Send + 'static,
) -> Result<T, String> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(match error.hint() {
            Some(hint) => format!("{error} ({hint})"),
            None => error.to_string(),
        }),
        Err(error) => Err(format!("the git work stopped: {error}")),
    }
}

impl<S: techlead_store::Store + 'static> super::Mission<S> {
    /// Saves what an attempt cut off by a crash left in its worktree,
    /// before it is recorded as interrupted: the next attempt continues on
    /// it, and nothing the agent wrote is lost.
    pub(super) fn save_cut_off(&mut self, t: usize, attempt: u32) -> Result<(), Error> {
        let Some(workspaces) = self.workspaces.clone() else {
            return Ok(());
        };
        let task = self.state.plan.tasks[t].id.clone();
        if !has_worktree(&workspaces, &task) {
            return Ok(());
        }
        let agent = self.state.tasks[t].agent.clone();
        let saved = save_now(&workspaces, &task, attempt, &agent, "interrupted")?;
        self.stage(Event::WorkSaved {
            task,
            attempt,
            commit: saved.commit,
            files: saved.files,
        })
    }
}
