//! The `gemini` executor: runs Gemini CLI headless (`gemini -p <prompt> -o
//! stream-json`) as one attempt of a task. See docs/executors.md.
//!
//! The child runs under [`supervise::run`] (its own process group, every
//! byte logged, SIGTERM then SIGKILL on timeout or cancel). The prompt is
//! the `-p` argument; a prompt too long for one argument goes on stdin
//! instead (Gemini CLI puts stdin before `-p`, which is then empty). Each
//! stdout line is read by [`stream::Stream`], which reports the session,
//! progress and usage as they come and decides the outcome with the exit
//! code.

mod stream;

use super::mcp::McpServer;
use super::supervise::{self, Input, Launch, with_instructions};
use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use std::ffi::OsString;
use std::time::Duration;
use stream::Stream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs Gemini CLI. [`GeminiExecutor::new`] is what missions use; the
/// `with_*` settings are for tuning and tests.
#[derive(Debug, Clone)]
pub struct GeminiExecutor {
    program: OsString,
    approval_mode: String,
    grace: Duration,
    drain: Duration,
}

impl GeminiExecutor {
    /// Between SIGTERM and SIGKILL.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);
    /// How long the pipes may stay open after `gemini` exited.
    pub const DEFAULT_DRAIN: Duration = Duration::from_millis(500);
    /// Headless, nobody can approve a tool call: every call is allowed
    /// (`yolo`), else the agent could neither edit nor run a command.
    pub const DEFAULT_APPROVAL_MODE: &'static str = "yolo";
    /// Names the `gemini` program; `gemini` on PATH when unset.
    pub const PROGRAM_VARIABLE: &'static str = "TECHLEAD_GEMINI";
    /// Prompts longer than this go on stdin rather than in argv (Linux
    /// refuses a single argument over 128 KiB).
    pub const ARGUMENT_MAX: usize = 100 * 1024;

    /// The program comes from `TECHLEAD_GEMINI`, else `gemini` on PATH.
    pub fn new() -> GeminiExecutor {
        let program = super::supervise::program_from(Self::PROGRAM_VARIABLE, "gemini");
        GeminiExecutor {
            program,
            approval_mode: Self::DEFAULT_APPROVAL_MODE.to_owned(),
            grace: Self::DEFAULT_GRACE,
            drain: Self::DEFAULT_DRAIN,
        }
    }

    /// Runs this program instead of `gemini`.
    pub fn with_program(mut self, program: impl Into<OsString>) -> GeminiExecutor {
        self.program = program.into();
        self
    }

    /// Passes this `--approval-mode` (`default`, `auto_edit`, `yolo` (the
    /// default) or `plan`).
    pub fn with_approval_mode(mut self, mode: impl Into<String>) -> GeminiExecutor {
        self.approval_mode = mode.into();
        self
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn with_grace(mut self, grace: Duration) -> GeminiExecutor {
        self.grace = grace;
        self
    }

    /// Time the output pipes may stay open after `gemini` exited.
    pub fn with_drain(mut self, drain: Duration) -> GeminiExecutor {
        self.drain = drain;
        self
    }

    /// The arguments (after the program) for one attempt, and where the
    /// prompt goes. `spec.prompt` is the whole prompt.
    fn command_line(&self, spec: &AttemptSpec) -> (Vec<String>, Input) {
        let (prompt, input) = if spec.prompt.len() <= Self::ARGUMENT_MAX {
            (spec.prompt.clone(), Input::Nothing)
        } else {
            (String::new(), Input::Prompt)
        };
        let mut args: Vec<String> = vec![
            "-p".into(),
            prompt,
            "-o".into(),
            "stream-json".into(),
            "--approval-mode".into(),
            self.approval_mode.clone(),
        ];
        if let Some(model) = &spec.model {
            args.push("-m".into());
            args.push(model.clone());
        }
        if let Some(session) = &spec.resume_session {
            args.push("--resume".into());
            args.push(session.clone());
        }
        (args, input)
    }

    /// The arguments (after the program) for one attempt.
    pub fn arguments(&self, spec: &AttemptSpec) -> Vec<String> {
        let mut spec = spec.clone();
        spec.prompt = with_instructions(&spec.agent_prompt, &spec.prompt);
        self.command_line(&spec).0
    }
}

impl Default for GeminiExecutor {
    fn default() -> GeminiExecutor {
        GeminiExecutor::new()
    }
}

impl Executor for GeminiExecutor {
    fn name(&self) -> &'static str {
        "gemini"
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

/// Where Gemini CLI reads its system settings from.
const SETTINGS_VARIABLE: &str = "GEMINI_CLI_SYSTEM_SETTINGS_PATH";

async fn run(
    config: GeminiExecutor,
    mut spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    spec.prompt = with_instructions(&spec.agent_prompt, &spec.prompt);
    // Gemini CLI takes MCP servers only from settings files: the attempt's
    // own, beside its other files, read as the system settings (which
    // come after the user's and the project's, and leave the worktree
    // alone).
    if let Some(mcp) = McpServer::for_attempt(&spec) {
        let settings = spec.attempt_file("gemini-settings.json");
        match std::fs::write(&settings, mcp.json().to_string()) {
            Ok(()) => spec.env.push((
                SETTINGS_VARIABLE.to_string(),
                settings.to_string_lossy().into_owned(),
            )),
            Err(e) => {
                let _ = events.send(ExecEvent::Progress {
                    percent: None,
                    message: format!("no MCP server: {} not written: {e}", settings.display()),
                });
            }
        }
    }
    let (args, stdin) = config.command_line(&spec);
    let launch = Launch {
        program: config.program.clone(),
        args,
        stdin,
        grace: config.grace,
        drain: config.drain,
        agent: "Gemini CLI",
        program_variable: GeminiExecutor::PROGRAM_VARIABLE,
    };
    let parser = Stream::new(spec.model.clone());
    supervise::run(launch, parser, spec, events, cancel).await
}
