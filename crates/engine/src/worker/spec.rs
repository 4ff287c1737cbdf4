//! What a coordinator puts on the queue for one attempt: the
//! [`AttemptSpec`] without what only the worker knows (where it runs,
//! where its files go, its environment), as JSON.

use crate::executor::AttemptSpec;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkSpec {
    pub mission: String,
    pub task: String,
    pub title: String,
    pub attempt: u32,
    pub agent: String,
    pub executor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub prompt: String,
    pub timeout_ms: u64,
    #[serde(default)]
    pub agent_prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_session: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_hours: Option<f64>,
    /// The mission's repository, for a mission that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepoSpec>,
}

/// Where a worker fetches a task's branches and pushes its work
/// (docs/workers.md, "Missions with a repository").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepoSpec {
    /// What `git fetch` and `git push` take: the coordinator's repository.
    pub url: String,
    /// The ref the worker pushes the task branch to; the coordinator moves
    /// its task branch there.
    pub remote_ref: String,
    /// Whether the attempt resolves a conflict with the integration
    /// branch: the merge is begun in the worktree before it starts.
    #[serde(default)]
    pub resolve_conflict: bool,
}

/// The ref a worker pushes task `task` of `mission` to: not a branch, so
/// that no worktree has it checked out and a push is never refused.
pub fn remote_ref(mission: &str, task: &str) -> String {
    use crate::workspace::ref_component;
    format!(
        "refs/techlead/remote/{}/{}",
        ref_component(mission),
        ref_component(task)
    )
}

impl WorkSpec {
    pub fn of(spec: &AttemptSpec, executor: &str) -> WorkSpec {
        WorkSpec {
            mission: spec.mission_id.clone(),
            task: spec.task_id.clone(),
            title: spec.task_title.clone(),
            attempt: spec.attempt,
            agent: spec.agent.clone(),
            executor: executor.to_string(),
            command: spec.command.clone(),
            prompt: spec.prompt.clone(),
            timeout_ms: spec.timeout.as_millis() as u64,
            agent_prompt: spec.agent_prompt.clone(),
            model: spec.model.clone(),
            tools: spec.tools.clone(),
            resume_session: spec.resume_session.clone(),
            budget_usd: spec.budget_usd,
            estimate_hours: spec.estimate_hours,
            repository: None,
        }
    }

    /// The attempt as this worker runs it: in `workdir`, with its files
    /// at `attempt_dir` and `env` added.
    pub fn attempt(
        self,
        workdir: PathBuf,
        attempt_dir: PathBuf,
        env: Vec<(String, String)>,
    ) -> AttemptSpec {
        AttemptSpec {
            mission_id: self.mission,
            task_id: self.task,
            task_title: self.title,
            attempt: self.attempt,
            agent: self.agent,
            command: self.command,
            prompt: self.prompt,
            workdir,
            attempt_dir,
            timeout: Duration::from_millis(self.timeout_ms),
            env,
            agent_prompt: self.agent_prompt,
            model: self.model,
            tools: self.tools,
            resume_session: self.resume_session,
            budget_usd: self.budget_usd,
            estimate_hours: self.estimate_hours,
        }
    }
}
