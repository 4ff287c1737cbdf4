//! Asking a planning agent through an executor: one attempt per question,
//! the prompt in, the answer out. The HTTP executors keep the whole answer
//! in the attempt's `answer.md`; agents with file tools (Claude Code,
//! Codex, Gemini) are asked to write the mission file there too, and their
//! summary is the fallback.

use crate::args::PlannerExecutor;
use crate::exit::CliError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use techlead_core::agents::{Agent, Model};
use techlead_core::plan::request::PLANNER_SYSTEM;
use techlead_engine::executor::anthropic::AnthropicExecutor;
use techlead_engine::executor::claude_code::ClaudeCodeExecutor;
use techlead_engine::executor::codex::CodexExecutor;
use techlead_engine::executor::gemini::GeminiExecutor;
use techlead_engine::executor::openai::OpenAiExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A planner answers in minutes; past this, something is stuck.
const TIMEOUT: Duration = Duration::from_secs(15 * 60);

pub struct Planner {
    executor: Arc<dyn Executor>,
    agent: String,
    instructions: String,
    model: Option<String>,
    /// The attempts' files; removed when the planner goes.
    dir: PathBuf,
    asked: u32,
}

impl Drop for Planner {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Planner {
    /// `None` for `simulate`, which plans from templates without asking.
    pub fn new(kind: PlannerExecutor, agent: Option<&Agent>) -> Result<Option<Planner>, CliError> {
        let executor: Arc<dyn Executor> = match kind {
            PlannerExecutor::Simulate => return Ok(None),
            PlannerExecutor::ClaudeCode => Arc::new(ClaudeCodeExecutor::new()),
            PlannerExecutor::Codex => Arc::new(CodexExecutor::new()),
            PlannerExecutor::Anthropic => Arc::new(AnthropicExecutor::new()),
            PlannerExecutor::Openai => Arc::new(OpenAiExecutor::new()),
            PlannerExecutor::Gemini => Arc::new(GeminiExecutor::new()),
        };
        let dir = std::env::temp_dir().join(format!("techlead-plan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| CliError::Write {
            path: dir.clone(),
            source,
        })?;
        let (name, instructions, model) = match agent {
            Some(agent) => (
                agent.name.clone(),
                agent.prompt.clone(),
                match &agent.model {
                    Model::Inherit => None,
                    model => Some(model.as_str().to_string()),
                },
            ),
            None => ("planner".to_string(), PLANNER_SYSTEM.to_string(), None),
        };
        Ok(Some(Planner {
            executor,
            agent: name,
            instructions,
            model,
            dir,
            asked: 0,
        }))
    }

    pub fn executor_name(&self) -> &'static str {
        self.executor.name()
    }

    /// Where the next attempt's answer goes, for the prompt.
    pub fn next_answer_path(&self) -> PathBuf {
        self.spec(String::new(), self.asked + 1)
            .attempt_file("answer.md")
    }

    fn spec(&self, prompt: String, attempt: u32) -> AttemptSpec {
        AttemptSpec {
            mission_id: "plan".into(),
            task_id: "PLAN".into(),
            task_title: "Plan the mission".into(),
            attempt,
            agent: self.agent.clone(),
            command: None,
            prompt,
            workdir: self.dir.clone(),
            attempt_dir: self.dir.join(format!("plan.{attempt}")),
            timeout: TIMEOUT,
            env: Vec::new(),
            agent_prompt: self.instructions.clone(),
            model: self.model.clone(),
            tools: None,
            resume_session: None,
            budget_usd: None,
            estimate_hours: None,
        }
    }

    /// One attempt: the answer's text, or why there is none.
    pub fn ask(&mut self, prompt: String) -> Result<String, CliError> {
        self.asked += 1;
        let spec = self.spec(prompt, self.asked);
        let answer_path = spec.attempt_file("answer.md");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(CliError::Runtime)?;
        let executor = self.executor.clone();
        let (outcome, summary) = runtime.block_on(async move {
            let (events, mut reports) = mpsc::unbounded_channel();
            let cancel = CancellationToken::new();
            let stop = cancel.clone();
            // Ctrl-C stops the agent's process group rather than orphaning it.
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    stop.cancel();
                }
            });
            let run = executor.run(spec, events, cancel);
            let outcome = run.await;
            let mut summary = None;
            while let Ok(event) = reports.try_recv() {
                if let ExecEvent::Summary(text) = event {
                    summary = Some(text);
                }
            }
            (outcome, summary)
        });
        match outcome {
            Outcome::Succeeded { .. } => {}
            outcome => return Err(self.failed(&outcome)),
        }
        match std::fs::read_to_string(&answer_path) {
            Ok(text) if !text.trim().is_empty() => Ok(text),
            _ => summary.ok_or_else(|| CliError::Plan {
                message: format!("the {} planner gave no answer", self.executor.name()),
                hint: format!(
                    "an agent with file tools should write the mission to {}; try --executor anthropic or openai",
                    answer_path.display()
                ),
                declined: false,
            }),
        }
    }

    fn failed(&self, outcome: &Outcome) -> CliError {
        let why = match outcome {
            Outcome::Failed { message, .. } => message.clone(),
            Outcome::TimedOut => format!("no answer within {} minutes", TIMEOUT.as_secs() / 60),
            Outcome::Cancelled => "interrupted".to_string(),
            Outcome::RateLimited { message, .. } => format!("rate limited: {message}"),
            Outcome::NeedsPerson { message } => message.clone(),
            Outcome::Succeeded { .. } => "succeeded".to_string(),
        };
        CliError::Plan {
            message: format!("the {} planner failed: {why}", self.executor.name()),
            hint: "check the executor's settings (docs/executors.md), or plan offline with --executor simulate".into(),
            declined: false,
        }
    }
}
