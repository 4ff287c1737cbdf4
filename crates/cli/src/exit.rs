//! Exit codes and the errors that decide them. Documented in docs/cli.md.

use std::path::PathBuf;
use std::process::ExitCode;
use techlead_core::state::MissionStatus;

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
    /// A decision on an escalation that cannot be taken.
    #[error("{message}")]
    Decision {
        message: String,
        hint: String,
        /// Refused by the mission's state (exit 1), not malformed (2).
        refused: bool,
    },
    /// `techlead mcp` cannot serve the attempt.
    #[error("{message}")]
    Mcp { message: String, hint: String },
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
    #[error(transparent)]
    Engine(#[from] techlead_engine::mission::Error),
    #[error(transparent)]
    Webhook(#[from] techlead_engine::webhook::Error),
    #[error("{path} changed since mission `{mission}` started")]
    MissionChanged { path: String, mission: String },
    /// `database`: a file's path, or a URL without its password.
    #[error("no missions in {database}")]
    NoMissions { database: String },
    /// Every mission of the database has finished: no portfolio to show.
    #[error("no missions under way in {database}")]
    NothingUnderWay { database: String },
    /// A mission asked for by a name the database does not hold; the hint
    /// lists what it does hold.
    #[error("no mission `{name}` in {database}")]
    UnknownMission {
        name: String,
        database: String,
        hint: String,
    },
    /// `database`: as `NoMissions`.
    #[error("workers need PostgreSQL, and {database} is not a PostgreSQL database")]
    WorkersNeedPostgres { database: String },
    #[error(transparent)]
    Labels(#[from] techlead_core::work::LabelError),
    #[error("this techlead has no executor `{name}`")]
    NoSuchExecutor { name: String, known: String },
    #[error(transparent)]
    Worker(#[from] techlead_engine::worker::Error),
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
    #[error(
        "mission `{mission}` has no repository: its tasks did not work on git branches, so there is nothing to land"
    )]
    NoRepository { mission: String },
    #[error("mission `{mission}` {}: its integration branch holds the work of {merged} of {tasks} tasks", match .status {
        MissionStatus::Failed => "finished with failed or blocked tasks".to_string(),
        status => format!("has not finished (it is {status})"),
    })]
    Unfinished {
        mission: String,
        status: MissionStatus,
        merged: usize,
        tasks: usize,
    },
    #[error(
        "mission `{mission}` started on a detached HEAD, so it has no branch to land onto by default"
    )]
    NoTarget { mission: String },
    #[error(transparent)]
    Workspace(#[from] techlead_engine::workspace::Error),
    #[error("`{given}` is not MISSION/TASK with a mission of this database")]
    BadAbandon { given: String },
    #[error("mission `{mission}` left nothing named `{name}` behind")]
    NoSuchLeftover {
        mission: String,
        name: String,
        hint: String,
    },
    #[error(
        "task `{task}` of mission `{mission}` is {status} and the mission is not finished: `techlead resume` still needs its work"
    )]
    StillNeeded {
        mission: String,
        task: String,
        status: &'static str,
    },
    /// `techlead plan --objective` could not get, check or write a plan.
    #[error("{message}")]
    Plan {
        message: String,
        hint: String,
        /// The person declined the plan (exit 1), rather than it failing (2).
        declined: bool,
    },
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        use techlead_engine::workspace::Error as Workspace;
        match self {
            CliError::Engine(techlead_engine::mission::Error::Killed) => 130,
            // Refusals: the command ran and what it found needs the person.
            CliError::NoRepository { .. }
            | CliError::Unfinished { .. }
            | CliError::NoTarget { .. }
            | CliError::StillNeeded { .. }
            | CliError::Decision { refused: true, .. }
            | CliError::Plan { declined: true, .. } => 1,
            CliError::Workspace(Workspace::Git(_) | Workspace::Io { .. }) => 2,
            CliError::Workspace(_) => 1,
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
            CliError::Decision { hint, .. } => Some(hint.clone()),
            CliError::Mcp { hint, .. } => Some(hint.clone()),
            CliError::NoAgents => Some(
                "add agent files to .claude/agents/ or pass --agents DIR; see docs/agents.md"
                    .into(),
            ),
            CliError::Store(error) => error.hint().map(String::from),
            CliError::Engine(error) => error.hint(),
            CliError::Webhook(error) => error.hint(),
            CliError::MissionChanged { .. } => Some(
                "`techlead run` the edited file for a new mission, or `techlead resume --ignore-changes` to finish the recorded plan".into(),
            ),
            CliError::NothingUnderWay { .. } => Some(
                "every mission has finished; `techlead history` shows them, `techlead run mission.yaml` starts one".into(),
            ),
            CliError::NoMissions { .. } => Some(
                "`techlead run mission.yaml` starts one; --db picks another database".into(),
            ),
            CliError::WorkersNeedPostgres { .. } => Some(
                "pass --db postgres://USER@HOST/DATABASE (or set TECHLEAD_DB), the database the missions are recorded in (docs/workers.md)".into(),
            ),
            CliError::Labels(_) => Some("e.g. --labels gpu,claude-login".into()),
            CliError::NoSuchExecutor { known, .. } => Some(format!("--executor takes any of: {known}")),
            CliError::Worker(_) => None,
            CliError::NoSuchTask { hint, .. } => Some(hint.clone()),
            CliError::UnknownMission { hint, .. } => Some(hint.clone()),
            CliError::NoSuchAttempt { .. } => {
                Some("`techlead status MISSION` lists tasks and their attempts".into())
            }
            CliError::Runtime(_) => None,
            CliError::Simulate(_) => Some(
                "fix or unset the TECHLEAD_SIMULATE_* variable named above (docs/executors.md, `simulate`)".into(),
            ),
            CliError::NoRepository { mission } => Some(format!(
                "only missions whose file names `repository:` work on branches; this one's work is in its task directories (`techlead status {mission}`)"
            )),
            CliError::Unfinished {
                mission, status, ..
            } => Some(match status {
                MissionStatus::Failed => format!(
                    "`techlead status {mission}` shows what failed; `techlead land {mission} --force` lands the work that did merge"
                ),
                _ => format!(
                    "`techlead resume {mission}` finishes it; `techlead land {mission} --force` lands what is merged so far"
                ),
            }),
            CliError::NoTarget { mission } => Some(format!(
                "name the branch: `techlead land {mission} --into BRANCH`, or create one with `--as-branch NAME`"
            )),
            CliError::Workspace(error) => workspace_hint(error),
            CliError::BadAbandon { .. } => Some(
                "`techlead gc` lists every leftover with the MISSION/TASK to pass".into(),
            ),
            CliError::NoSuchLeftover { hint, .. } => Some(hint.clone()),
            CliError::StillNeeded { mission, .. } => Some(format!(
                "finish the mission first (`techlead resume {mission}`, or answer its escalation), then abandon what is left"
            )),
            CliError::Plan { hint, .. } => Some(hint.clone()),
        }
    }
}

/// The engine's hint, in the words of `techlead land` where the engine's
/// speaks of landing in general.
fn workspace_hint(error: &techlead_engine::workspace::Error) -> Option<String> {
    use techlead_engine::workspace::Error;
    match error {
        Error::NotFastForward {
            target,
            integration,
        } => Some(format!(
            "`{target}` has moved on since the mission started; merge the mission yourself: `git switch {target} && git merge {integration}`, or land it as a new branch for a pull request (`--as-branch NAME`)"
        )),
        Error::NoSuchBranch { .. } => Some(
            "land `--into` a branch that exists (`git branch` lists them), or create one with `--as-branch NAME`".into(),
        ),
        Error::TargetDirty { worktree, .. } => Some(format!(
            "commit or stash the changes in `{}`, then land again; or land as a new branch (`--as-branch NAME`)",
            worktree.display()
        )),
        error => error.hint(),
    }
}
