//! The `codex` executor: runs the OpenAI Codex CLI non-interactively
//! (`codex exec --json`) as one attempt of a task. See docs/executors.md.
//!
//! The child runs under [`supervise::run`] (its own process group, every
//! byte logged, SIGTERM then SIGKILL on timeout or cancel). The prompt goes
//! on stdin (the prompt file; the argument is `-`), and each stdout line is
//! read by [`events::Events`], which reports the thread, progress and usage
//! as they come and decides the outcome.

mod events;

use super::mcp::McpServer;
use super::supervise::{self, Input, Launch, with_instructions};
use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use events::Events;
use std::ffi::OsString;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs Codex. [`CodexExecutor::new`] is what missions use; the `with_*`
/// settings are for tuning and tests.
#[derive(Debug, Clone)]
pub struct CodexExecutor {
    program: OsString,
    sandbox: String,
    grace: Duration,
    drain: Duration,
}

impl CodexExecutor {
    /// Between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long the pipes may stay open after `codex` exited.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);
    /// Codex may write in the working directory and run commands there,
    /// sandboxed; Codex's own default, `read-only`, could not do a task.
    pub const DEFAULT_SANDBOX: &'static str = "workspace-write";
    /// Names the `codex` program; `codex` on PATH when unset.
    pub const PROGRAM_VARIABLE: &'static str = "TECHLEAD_CODEX";

    /// The program comes from `TECHLEAD_CODEX`, else `codex` on PATH.
    pub fn new() -> CodexExecutor {
        let program = super::supervise::program_from(Self::PROGRAM_VARIABLE, "codex");
        CodexExecutor {
            program,
            sandbox: Self::DEFAULT_SANDBOX.to_owned(),
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// Runs this program instead of `codex`.
    pub fn with_program(mut self, program: impl Into<OsString>) -> CodexExecutor {
        self.program = program.into();
        self
    }

    /// Passes this `--sandbox` (`read-only`, `workspace-write` (the
    /// default) or `danger-full-access`).
    pub fn with_sandbox(mut self, sandbox: impl Into<String>) -> CodexExecutor {
        self.sandbox = sandbox.into();
        self
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> CodexExecutor {
        self.grace = grace;
        self
    }

    /// Time the output pipes may stay open after `codex` exited.
    pub fn with_drain(mut self, drain: Duration) -> CodexExecutor {
        self.drain = drain;
        self
    }

    /// The arguments (after the program) for one attempt: `exec` and its
    /// flags, then `resume <thread>` when resuming, then `-` (the prompt
    /// is on stdin).
    pub fn arguments(&self, spec: &AttemptSpec) -> Vec<String> {
        let mut args: Vec<String> = [
            "exec",
            "--json",
            "--sandbox",
            &self.sandbox,
            "--skip-git-repo-check",
            "-C",
        ]
        .map(str::to_owned)
        .into();
        args.push(spec.workdir.display().to_string());
        // techlead's MCP server for the attempt, as config overrides.
        for value in McpServer::for_attempt(spec).map_or_else(Vec::new, |m| m.codex_overrides()) {
            args.push("-c".to_owned());
            args.push(value);
        }
        if let Some(model) = &spec.model {
            args.push("-m".to_owned());
            args.push(model.clone());
        }
        if let Some(thread) = &spec.resume_session {
            args.push("resume".to_owned());
            args.push(thread.clone());
        }
        args.push("-".to_owned());
        args
    }
}

impl Default for CodexExecutor {
    fn default() -> CodexExecutor {
        CodexExecutor::new()
    }
}

impl Executor for CodexExecutor {
    fn name(&self) -> &'static str {
        "codex"
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
    config: CodexExecutor,
    mut spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    spec.prompt = with_instructions(&spec.agent_prompt, &spec.prompt);
    let launch = Launch {
        program: config.program.clone(),
        args: config.arguments(&spec),
        stdin: Input::Prompt,
        grace: config.grace,
        drain: config.drain,
        agent: "Codex",
        program_variable: CodexExecutor::PROGRAM_VARIABLE,
    };
    let parser = Events::new(spec.model.clone());
    supervise::run(launch, parser, spec, events, cancel).await
}
