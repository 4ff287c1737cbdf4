//! Executors run one attempt of one task and report what happens. They
//! never write mission state (DESIGN decision 2): they send [`ExecEvent`]s
//! over a channel while running and return an [`Outcome`] at the end; the
//! mission actor records both.

pub mod anthropic;
pub mod claude_code;
pub mod codex;
pub mod command;
pub mod gemini;
pub mod mcp;
pub mod openai;
mod refusal;
pub mod report_socket;
pub mod simulate;
mod supervise;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Everything an executor needs to run one attempt.
#[derive(Debug, Clone)]
pub struct AttemptSpec {
    pub mission_id: String,
    pub task_id: String,
    pub task_title: String,
    /// 1-based, across retries and backup agents.
    pub attempt: u32,
    pub agent: String,
    /// The program and arguments, for the `command` executor.
    pub command: Option<Vec<String>>,
    /// The full prompt for the agent (given on stdin and in `prompt_path`).
    pub prompt: String,
    /// Where the attempt runs.
    pub workdir: PathBuf,
    /// Where this attempt's files go, as a path stem (not a directory):
    /// they are `<attempt_dir>.prompt.md`, `<attempt_dir>.output.log` and
    /// `<attempt_dir>.result.json` ([`AttemptSpec::attempt_file`]), side by
    /// side with the other attempts' in the stem's parent directory
    /// (`runs/<mission>/<task>.<attempt>` for a task: one file per attempt
    /// rather than two directories and a file, see docs/executors.md).
    pub attempt_dir: PathBuf,
    pub timeout: Duration,
    /// Extra environment variables for the child.
    pub env: Vec<(String, String)>,
    /// The agent's instructions (its file's Markdown body), for executors
    /// that run an agent; empty for the general-purpose agent.
    pub agent_prompt: String,
    /// The model the agent file names; `None` means the user's default
    /// (`inherit`).
    pub model: Option<String>,
    /// The tools the agent file allows; `None` means every tool the
    /// executor allows.
    pub tools: Option<Vec<String>>,
    /// The agent session of an earlier attempt of this task, which the
    /// executor may resume (see [`ExecEvent::Session`]).
    pub resume_session: Option<String>,
    /// The most this attempt may spend, in US dollars, when a budget
    /// applies.
    pub budget_usd: Option<f64>,
    /// The task's estimate, in hours, if the mission gave one.
    pub estimate_hours: Option<f64>,
}

impl AttemptSpec {
    /// One of this attempt's files: `<attempt_dir>.<name>`.
    pub fn attempt_file(&self, name: &str) -> PathBuf {
        let mut path = self.attempt_dir.clone().into_os_string();
        path.push(".");
        path.push(name);
        PathBuf::from(path)
    }

    pub fn log_path(&self) -> PathBuf {
        self.attempt_file("output.log")
    }

    pub fn prompt_path(&self) -> PathBuf {
        self.attempt_file("prompt.md")
    }

    pub fn result_path(&self) -> PathBuf {
        self.attempt_file("result.json")
    }

    /// The directory the attempt's files go in, shared with the mission's
    /// other attempts (empty for a bare stem: the current directory).
    pub fn files_dir(&self) -> &Path {
        self.attempt_dir.parent().unwrap_or(Path::new(""))
    }

    /// Makes [`AttemptSpec::files_dir`] and its parents when missing.
    pub fn create_files_dir(&self) -> std::io::Result<()> {
        match self.files_dir() {
            dir if dir.as_os_str().is_empty() => Ok(()),
            dir => std::fs::create_dir_all(dir),
        }
    }
}

/// What an agent reports while it works (DESIGN decision 8).
#[derive(Debug, Clone, PartialEq)]
pub enum ExecEvent {
    /// The process started (after spawn), with its process ID.
    Started {
        pid: Option<u32>,
    },
    Progress {
        percent: Option<u8>,
        message: String,
    },
    Blocked(String),
    Artifact(String),
    Decision(String),
    Summary(String),
    /// A question for the person (`::ask`): the engine raises a `question`
    /// escalation; the agent waits for the answer through the MCP tool
    /// `ask_person`, or goes on without it.
    Ask(String),
    /// What the attempt has used so far (running totals: each report
    /// replaces the last).
    Usage(techlead_core::state::Usage),
    /// The agent's session or thread ID, so that a retry can resume it.
    Session(String),
    /// A smaller task the agent proposes instead of its own (`::split`).
    Split(String),
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Succeeded {
        summary: Option<String>,
    },
    Failed {
        exit_code: Option<i32>,
        signal: Option<i32>,
        message: String,
    },
    /// The attempt ran past its timeout; its process group was killed.
    TimedOut,
    /// Stopped on request (Ctrl-C); its process group was terminated.
    Cancelled,
    /// The provider refused for now (HTTP 429 or 529, a session or usage
    /// limit, a `rate_limit_event` rejected): not the task's fault. The
    /// executor pauses until `until` (or a backoff when unknown) and the
    /// task runs again without using a retry.
    RateLimited {
        until: Option<jiff::Timestamp>,
        message: String,
    },
    /// Retrying cannot help (bad or missing credentials, no quota or
    /// credit left, a refused request): the person must act.
    NeedsPerson {
        message: String,
    },
}

pub type OutcomeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One way of running agents.
pub trait Executor: Send + Sync {
    /// The name used in mission and agent files (`command`, `claude-code`, ...).
    fn name(&self) -> &'static str;

    /// Whether the attempt's agent gets a report socket
    /// ([`report_socket`]): executors that run an agent process say yes.
    fn reports_over_socket(&self) -> bool {
        false
    }

    /// Runs one attempt to its end. Reports go to `events`; cancelling
    /// `cancel` stops the attempt (SIGTERM to its process group, a grace
    /// period, then SIGKILL) and yields [`Outcome::Cancelled`].
    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture;
}
