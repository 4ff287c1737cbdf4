//! Exit codes and the errors that decide them. Documented in docs/cli.md.

use std::path::PathBuf;
use std::process::ExitCode;

/// How a command ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything as asked.
    Success,
    /// The command ran, and what it checked needs attention (fmt --check).
    Attention,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Success => ExitCode::SUCCESS,
            Outcome::Attention => ExitCode::from(1),
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
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        2
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            CliError::Read { .. } => Some("check the path and its permissions".into()),
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
        }
    }
}
