//! The MCP tools. Reports go to the attempt's report socket as stdout
//! protocol lines, on one connection, so they arrive in the order the
//! agent called them.

use super::Attempt;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use std::sync::Arc;
use techlead_core::state::{EventRecord, MissionState};
use techlead_store::Store;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::sync::Mutex;

#[derive(Clone)]
pub struct Tools {
    pub(super) attempt: Arc<Attempt>,
    connection: Arc<Mutex<Option<UnixStream>>>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Progress {
    /// How far the task is, from 0 to 100, if known.
    pub percent: Option<u8>,
    /// What the agent is doing now.
    pub message: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Reason {
    /// Why the agent cannot go on: what it needs.
    pub reason: String,
    /// When the task is too big for one attempt: the smaller tasks to do
    /// instead, in order, one title each.
    #[serde(default)]
    pub parts: Vec<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Text {
    pub text: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Artifact {
    /// The file, relative to the working directory.
    pub path: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Dependency {
    /// The ID of a task of the mission (one this task depends on).
    pub task: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Question {
    /// The question for the person, answerable on its own.
    pub question: String,
}

/// One report is one line: line breaks in the text become spaces.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn needs(text: &str, what: &str) -> Result<String, String> {
    let line = one_line(text);
    if line.is_empty() {
        return Err(format!("{what} is empty: say something"));
    }
    Ok(line)
}

impl Tools {
    pub fn new(attempt: Attempt) -> Tools {
        Tools {
            attempt: Arc::new(attempt),
            connection: Arc::new(Mutex::new(None)),
        }
    }

    /// Sends one protocol line to the report socket, connecting on first
    /// use and once more if the connection broke.
    pub(super) async fn send(&self, line: String) -> Result<(), String> {
        let mut connection = self.connection.lock().await;
        let bytes = format!("{line}\n");
        for _ in 0..2 {
            if connection.is_none() {
                let stream = UnixStream::connect(&self.attempt.socket)
                    .await
                    .map_err(|e| {
                        format!(
                            "cannot reach techlead at {}: {e} (has the attempt ended?)",
                            self.attempt.socket.display()
                        )
                    })?;
                *connection = Some(stream);
            }
            let stream = connection.as_mut().expect("connected above");
            match stream.write_all(bytes.as_bytes()).await {
                Ok(()) => return Ok(()),
                Err(_) => *connection = None,
            }
        }
        Err("the report could not be sent: techlead closed the connection".into())
    }

    /// The mission's events after `after`, read-only.
    pub(super) fn events(&self, after: u64) -> Result<Vec<EventRecord>, String> {
        let db = &self.attempt.db;
        // A SQLite file is looked for first, so that a wrong path is not
        // made into an empty database; a PostgreSQL URL (an agent on a
        // worker) is a server's to answer for.
        if crate::database::url(db).is_none() && !db.exists() {
            return Err(format!("no techlead database at {}", db.display()));
        }
        let store = techlead_store::open(db).map_err(|e| e.to_string())?;
        store
            .events(&self.attempt.mission, after)
            .map_err(|e| e.to_string())
    }

    /// The mission as recorded.
    pub(super) fn state(&self) -> Result<MissionState, String> {
        MissionState::replay(&self.events(0)?).map_err(|e| e.to_string())
    }
}

#[tool_router]
impl Tools {
    #[tool(
        description = "Report progress on the task: what you are doing, and how far along \
                          you are (0-100) if you know."
    )]
    async fn report_progress(&self, Parameters(p): Parameters<Progress>) -> Result<String, String> {
        let message = one_line(&p.message);
        let line = match p.percent {
            Some(percent) if percent > 100 => {
                return Err(format!("percent is {percent}: give 0 to 100"));
            }
            Some(percent) => format!("::progress {percent} {message}"),
            None => format!("::progress {message}"),
        };
        self.send(line).await?;
        Ok("progress recorded".into())
    }

    #[tool(
        description = "Say that you cannot go on with the task, and why (what you need). \
                          The attempt ends as blocked and the next one is told the reason. \
                          If the task is too big for one attempt, give `parts`: the smaller \
                          tasks to do instead, in order; techlead or the person may split it."
    )]
    async fn report_blocker(&self, Parameters(r): Parameters<Reason>) -> Result<String, String> {
        let reason = needs(&r.reason, "the reason")?;
        for part in r
            .parts
            .iter()
            .map(|p| one_line(p))
            .filter(|p| !p.is_empty())
        {
            self.send(format!("::split {part}")).await?;
        }
        self.send(format!("::blocked {reason}")).await?;
        Ok(match r.parts.is_empty() {
            true => "blocker recorded".into(),
            false => format!("blocker recorded, with {} parts proposed", r.parts.len()),
        })
    }

    #[tool(description = "Record a decision you took that a person may want to review.")]
    async fn record_decision(&self, Parameters(t): Parameters<Text>) -> Result<String, String> {
        let text = needs(&t.text, "the decision")?;
        self.send(format!("::decision {text}")).await?;
        Ok("decision recorded".into())
    }

    #[tool(
        description = "Point at a file you produced that is worth looking at (the tasks \
                          that build on yours see it)."
    )]
    async fn publish_artifact(
        &self,
        Parameters(a): Parameters<Artifact>,
    ) -> Result<String, String> {
        let path = needs(&a.path, "the path")?;
        self.send(format!("::artifact {path}")).await?;
        Ok("artifact recorded".into())
    }

    #[tool(
        description = "Say what this attempt did, for the person and for the tasks that \
                          build on it. The last summary counts."
    )]
    async fn set_summary(&self, Parameters(t): Parameters<Text>) -> Result<String, String> {
        let text = needs(&t.text, "the summary")?;
        self.send(format!("::summary {text}")).await?;
        Ok("summary recorded".into())
    }

    #[tool(
        description = "Read what another task of the mission produced (usually one this \
                          task depends on): its summary, decisions, artifacts and changed files."
    )]
    async fn read_handoff(&self, Parameters(d): Parameters<Dependency>) -> Result<String, String> {
        let state = self.state()?;
        let id = d.task.trim();
        let Some(t) = state.task_index(id) else {
            let known: Vec<&str> = state.plan.tasks.iter().map(|t| t.id.as_str()).collect();
            return Err(format!(
                "the mission has no task `{id}`; its tasks: {}",
                known.join(", ")
            ));
        };
        Ok(techlead_core::prompt::handoff_of(&state, t))
    }

    #[tool(
        description = "Ask the person a question and wait for the answer (it may take a \
                          while: a person reads it). Use it only when you cannot decide \
                          yourself; the answer comes back as the result."
    )]
    async fn ask_person(&self, Parameters(q): Parameters<Question>) -> Result<String, String> {
        let question = needs(&q.question, "the question")?;
        self.ask(question).await
    }
}

#[tool_handler]
impl rmcp::ServerHandler for Tools {}
