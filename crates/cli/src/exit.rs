//! Exit codes and the errors that decide them. Documented in docs/cli.md.

use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything as asked.
    Success,
    /// The command ran, and what it checked needs attention (fmt --check),
    /// or the mission finished with failed tasks.
    Attention,
    /// The mission paused for the person's decision.
    Paused,
    /// The person interrupted the run.
    Interrupted,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Attention => ExitCode::from(1),
            Outcome::Paused => ExitCode::from(3),
            Outcome::Interrupted => ExitCode::from(130),
        }
    }
}

/// Why a command could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Diagnostics were already printed; this only carries the count.
    #[error("{path} has {count} error{}", if *.count == 1 { "" } else { "s" })]
    Invalid { path: PathBuf, count: usize },
    #[error(transparent)]
    Agents(#[from] techlead_engine::library::Error),
    #[error("no agent named `{name}`")]
    NoSuchAgent { name: String, hint: String },
    #[error("no agents to choose from")]
    NoAgents,
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
    #[error(transparent)]
    Engine(#[from] techlead_engine::mission::Error),
    #[error("{path} changed since mission `{mission}` started")]
    MissionChanged { path: String, mission: String },
    #[error("no missions in {}", path.display())]
    NoMissions { path: PathBuf },
    #[error("mission `{mission}` has no task `{task}`")]
    NoSuchTask {
        mission: String,
        task: String,
        hint: String,
    },
    #[error("task `{task}` has {}", match .attempts { 0 => "not started yet".to_string(), n => format!("no attempt {wanted} (it has {n})") })]
    NoSuchAttempt {
        task: String,
        wanted: u32,
        attempts: usize,
    },
    #[error("the repository {} has no commit yet", path.display())]
    NoCommit { path: PathBuf },
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error("the simulate executor's settings are wrong: {0}")]
    Simulate(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Engine(techlead_engine::mission::Error::Killed) => 130,
            _ => 2,
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Read { .. } => Some("check the path and its permissions".into()),
            CliError::NoCommit { .. } => Some(
                "techlead branches its work off your last commit: commit something first (`git commit --allow-empty -m start` will do)".into(),
            ),
            CliError::Write { .. } => {
                Some("check free space and permissions; the original file is unchanged".into())
            }
            CliError::Invalid { .. } => {
                Some("fix the errors above; `techlead schema` prints the format".into())
            }
            CliError::Agents(error) => Some(error.hint().into()),
            CliError::NoSuchAgent { hint, .. } => Some(hint.clone()),
            CliError::NoAgents => Some(
                "add agent files to .claude/agents/ or pass --agents DIR; see docs/agents.md"
                    .into(),
            ),
            CliError::Store(error) => error.hint().map(String::from),
            CliError::Engine(error) => error.hint(),
            CliError::MissionChanged { .. } => Some(
                "`techlead run` the edited file for a new mission, or `techlead resume --ignore-changes` to finish the recorded plan".into(),
            ),
            CliError::NoMissions { .. } => Some(
                "`techlead run mission.yaml` starts one; --db picks another database".into(),
            ),
            CliError::NoSuchTask { hint, .. } => Some(hint.clone()),
            CliError::NoSuchAttempt { .. } => {
                Some("`techlead status MISSION` lists tasks and their attempts".into())
            }
            CliError::Runtime(_) => None,
            CliError::Simulate(_) => Some(
                "fix or unset the TECHLEAD_SIMULATE_* variable named above (docs/executors.md, `simulate`)".into(),
            ),
        }
    }
}
