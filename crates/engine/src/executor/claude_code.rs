//! The `claude-code` executor: runs Claude Code headless (`claude -p
//! --output-format stream-json --verbose`) as one attempt of a task. See
//! docs/executors.md.
//!
//! The child runs under [`supervise::run`] (its own process group, every
//! byte logged, SIGTERM then SIGKILL on timeout or cancel), its stdin is the
//! prompt file, and each stdout line is read by [`stream::Stream`], which
//! reports the session, progress and usage as they come and decides the
//! outcome from the `result` line.

mod stream;

use super::mcp::McpServer;
use super::supervise::{self, Input, Launch};
use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use std::ffi::OsString;
use std::time::Duration;
use stream::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs Claude Code. [`ClaudeCodeExecutor::new`] is what missions use; the
/// `with_*` settings are for tuning and tests.
#[derive(Debug, Clone)]
pub struct ClaudeCodeExecutor {
    program: OsString,
    max_turns: Option<u32>,
    permission_mode: String,
    grace: Duration,
    drain: Duration,
}

impl ClaudeCodeExecutor {
    /// Between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long the pipes may stay open after `claude` exited.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);
    /// Edits in the working directory are allowed without asking; other
    /// tools that would ask are denied (there is nobody to ask).
    pub const DEFAULT_PERMISSION_MODE: &'static str = "acceptEdits";
    /// Names the `claude` program; `claude` on PATH when unset.
    pub const PROGRAM_VARIABLE: &'static str = "TECHLEAD_CLAUDE";

    /// The program comes from `TECHLEAD_CLAUDE`, else `claude` on PATH; the
    /// permission mode from `TECHLEAD_CLAUDE_PERMISSION_MODE` and the turn
    /// limit from `TECHLEAD_CLAUDE_MAX_TURNS` when set (a value that is not
    /// a whole number is ignored).
    pub fn new() -> ClaudeCodeExecutor {
        let program = super::supervise::program_from(Self::PROGRAM_VARIABLE, "claude");
        let setting = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        ClaudeCodeExecutor {
            program,
            max_turns: setting("TECHLEAD_CLAUDE_MAX_TURNS").and_then(|v| v.trim().parse().ok()),
            permission_mode: setting("TECHLEAD_CLAUDE_PERMISSION_MODE")
                .unwrap_or_else(|| Self::DEFAULT_PERMISSION_MODE.to_owned()),
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// Runs this program instead of `claude`.
    pub fn with_program(mut self, program: impl Into<OsString>) -> ClaudeCodeExecutor {
        self.program = program.into();
        self
    }

    /// Passes `--max-turns`; no limit when `None` (the default).
    pub fn with_max_turns(mut self, turns: Option<u32>) -> ClaudeCodeExecutor {
        self.max_turns = turns;
        self
    }

    /// Passes this `--permission-mode` (default `acceptEdits`).
    pub fn with_permission_mode(mut self, mode: impl Into<String>) -> ClaudeCodeExecutor {
        self.permission_mode = mode.into();
        self
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> ClaudeCodeExecutor {
        self.grace = grace;
        self
    }

    /// Time the output pipes may stay open after `claude` exited.
    pub fn with_drain(mut self, drain: Duration) -> ClaudeCodeExecutor {
        self.drain = drain;
        self
    }

    /// The arguments (after the program) for one attempt.
    pub fn arguments(&self, spec: &AttemptSpec) -> Vec<String> {
        let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
            .map(str::to_owned)
            .into();
        let mut flag = |name: &str, value: String| {
            args.push(name.to_owned());
            args.push(value);
        };
        if !spec.agent_prompt.trim().is_empty() {
            flag("--append-system-prompt", spec.agent_prompt.clone());
        }
        if let Some(model) = &spec.model {
            flag("--model", model.clone());
        }
        // techlead's MCP server for the attempt; its tools are allowed
        // outright, as nobody is there to approve a call.
        let mcp = McpServer::for_attempt(spec);
        let mut allowed = spec.tools.clone();
        if let Some(mcp) = &mcp {
            flag("--mcp-config", mcp.json().to_string());
            allowed
                .get_or_insert_with(Vec::new)
                .push(format!("mcp__{}", super::mcp::SERVER));
        }
        if let Some(tools) = &allowed {
            flag("--allowedTools", tools.join(","));
        }
        if let Some(turns) = self.max_turns {
            flag("--max-turns", turns.to_string());
        }
        if let Some(budget) = spec.budget_usd {
            flag("--max-budget-usd", budget.to_string());
        }
        flag("--permission-mode", self.permission_mode.clone());
        if let Some(session) = &spec.resume_session {
            flag("--resume", session.clone());
        }
        args
    }
}

impl Default for ClaudeCodeExecutor {
    fn default() -> ClaudeCodeExecutor {
        ClaudeCodeExecutor::new()
    }
}

impl Executor for ClaudeCodeExecutor {
    fn name(&self) -> &'static str {
        "claude-code"
    }

    fn reports_over_socket(&self) -> bool {
        true
    }

    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture {
        Box::pin(run(self.clone(), spec, events, cancel))
    }
}

async fn run(
    config: ClaudeCodeExecutor,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let launch = Launch {
        program: config.program.clone(),
        args: config.arguments(&spec),
        stdin: Input::Prompt,
        grace: config.grace,
        drain: config.drain,
        agent: "Claude Code",
        program_variable: ClaudeCodeExecutor::PROGRAM_VARIABLE,
    };
    supervise::run(launch, Stream::new(), spec, events, cancel).await
}
