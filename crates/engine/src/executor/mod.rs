//! Executors run one attempt of one task and report what happens. They
//! never write mission state (DESIGN decision 2): they send [`ExecEvent`]s
//! over a channel while running and return an [`Outcome`] at the end; the
//! mission actor records both.

pub mod command;

use std::future::Future;
use std::path::PathBuf;
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
    /// Directory for this attempt's files: the prompt, the log, the result.
    pub attempt_dir: PathBuf,
    pub timeout: Duration,
    /// Extra environment variables for the child.
    pub env: Vec<(String, String)>,
}

impl AttemptSpec {
    pub fn log_path(&self) -> PathBuf {
        self.attempt_dir.join("output.log")
    }

    pub fn prompt_path(&self) -> PathBuf {
        self.attempt_dir.join("prompt.md")
    }

    pub fn result_path(&self) -> PathBuf {
        self.attempt_dir.join("result.json")
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
}

pub type OutcomeFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// One way of running agents.
pub trait Executor: Send + Sync {
    /// The name used in mission and agent files (`command`, `claude-code`, ...).
    fn name(&self) -> &'static str;

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
