//! Mission files: the YAML a person writes to describe a mission.
//!
//! `parse` turns text into a [`Mission`] plus diagnostics, `validate` checks
//! what needs the whole mission (and the agent library) at once, `schema`
//! describes the format as JSON Schema, and `fmt` writes auto-assigned task
//! IDs back into the text. The format is documented in docs/mission-spec.md.

mod fmt;
mod keys;
mod parse;
mod schema;
mod validate;

pub use crate::yaml::CompactSpan;
pub use fmt::assign_ids_in_text;
pub use parse::{Parsed, parse};
pub use schema::json_schema;
pub use validate::validate;

use crate::diagnostic::SourceSpan;
use crate::priority::Priority;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

/// A whole mission as written in its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mission {
    pub name: String,
    pub objective: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_type: Option<String>,
    /// `critical`: an emergency, which takes the agents it needs from the
    /// other running missions until it ends.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<crate::Priority>,
    /// `priority` as a number and `share`: its place among the missions
    /// sharing an agent's slots.
    #[serde(skip_serializing_if = "crate::state::Standing::is_default")]
    pub standing: crate::state::Standing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// The repository the mission works on, as written (relative paths are
    /// relative to the mission file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// How task work joins the integration branch: `merge` or `rebase`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merge: Option<String>,
    /// Who resolves merge conflicts: `agent`, an agent's name, `escalate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<String>,
    /// Tasks that may wait for gates or merge before new work starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wip_limit: Option<u32>,
    /// Agent directories, as written (relative to the mission file).
    pub agents: Vec<String>,
    pub defaults: Defaults,
    pub phases: Vec<Phase>,
    /// Every task, in file order, phases' tasks included.
    pub tasks: Vec<Task>,
    /// Things that must hold for the mission to count as done.
    pub done_when: Vec<DoneItem>,
    /// Endpoints told about escalations, failed gates and the end.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<crate::webhook::Webhook>,
}

impl Mission {
    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }
}

/// One item of the mission's definition of done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoneItem {
    /// The statement, as written.
    pub text: String,
    /// The shell command that checks it; `None`: the person confirms it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// Spend limits. Either or both may be set.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Budget {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
}

/// Mission-wide defaults that tasks may override.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Defaults {
    pub executor: String,
    #[serde(with = "duration_secs")]
    pub timeout: SignedDuration,
    /// `None`: by priority (critical and high 3, others 2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(with = "durations_secs")]
    pub backoff: Vec<SignedDuration>,
    pub max_parallel: u32,
    /// Fraction of failed tasks (0..=1) above which dispatch pauses.
    pub failure_threshold: f64,
    #[serde(with = "duration_secs")]
    pub launch_delay: SignedDuration,
    /// Per-executor concurrency limits.
    pub concurrency: Vec<(String, u32)>,
    /// Tasks whose declared `paths` overlap run one after another
    /// (`plan::overlap::serialising_edges`).
    pub serialize_overlaps: bool,
    /// What an agent's `::blocked` leads to.
    pub on_blocked: OnBlocked,
    /// Share by which the live forecast's finish may slip past the
    /// baseline before it is reported (0: never).
    pub forecast_slip: f64,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            executor: "claude-code".to_string(),
            timeout: SignedDuration::from_mins(30),
            retries: None,
            backoff: [5, 15, 30].map(SignedDuration::from_secs).to_vec(),
            max_parallel: 4,
            failure_threshold: 0.5,
            launch_delay: SignedDuration::ZERO,
            concurrency: Vec::new(),
            serialize_overlaps: false,
            on_blocked: OnBlocked::Retry,
            forecast_slip: crate::state::ForecastPlan::SLIP,
        }
    }
}

/// What an agent's `::blocked` leads to (docs/running.md, "Blocked
/// agents").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBlocked {
    /// The next attempts are told what blocked the last; then the backup
    /// agent; then the person.
    #[default]
    Retry,
    /// As `retry`, but a task whose agent proposed parts (`::split`) is
    /// split into them at once.
    Split,
    /// The person, at the first blocker.
    Ask,
}

impl OnBlocked {
    pub fn is_retry(&self) -> bool {
        *self == OnBlocked::Retry
    }
}

/// A named group of tasks; its gates must pass before the next phase
/// starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Phase {
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub gates: Vec<Gate>,
    /// Indices into [`Mission::tasks`].
    pub tasks: Vec<usize>,
    #[serde(skip)]
    pub span: SourceSpan,
}

/// One unit of work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Task {
    pub id: String,
    /// True when the file gave no ID and one was assigned in file order.
    pub id_assigned: bool,
    pub title: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    pub priority: Priority,
    /// What sort of work the task is, when the file says (`kind:`);
    /// otherwise history infers it from the texts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::history::TaskKind>,
    pub depends_on: Vec<String>,
    /// Tasks of other missions in the same database it waits for
    /// (`depends_on: [billing/API]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<crate::state::ExternalDependency>,
    /// Estimated hours of work.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_hours: Option<f64>,
    #[serde(with = "opt_duration_secs", skip_serializing_if = "Option::is_none")]
    pub timeout: Option<SignedDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub executor: Option<String>,
    /// A program to run directly (argv), for the `command` executor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    pub gates: Vec<Gate>,
    pub acceptance: Vec<String>,
    pub artifacts: Vec<String>,
    /// What the task needs from its dependencies' work.
    pub needs: Vec<String>,
    /// Paths the task expects to touch, for conflict warnings.
    pub paths: Vec<String>,
    /// What a worker must offer to run it (docs/workers.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<Budget>,
    /// Index into [`Mission::phases`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<usize>,
    #[serde(skip)]
    pub spans: TaskSpans,
}

impl Task {
    /// The retries this task gets: its own, else the mission default, else
    /// by priority.
    pub fn effective_retries(&self, defaults: &Defaults) -> u32 {
        self.retries
            .or(defaults.retries)
            .unwrap_or_else(|| self.priority.default_retries())
    }

    /// The text a ranker should read to understand the task.
    pub fn text(&self) -> String {
        format!("{}\n{}", self.title, self.description)
    }
}

/// Where the parts of a task are in its file, for later diagnostics.
/// Compact: a mission keeps these for every task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TaskSpans {
    /// The whole task entry.
    pub entry: CompactSpan,
    /// The ID value, or the entry when the ID was assigned.
    pub id: CompactSpan,
    pub agent: Option<CompactSpan>,
    pub backup: Option<CompactSpan>,
    /// One per `depends_on` entry naming a task of this mission.
    pub depends_on: Box<[CompactSpan]>,
    /// One per `depends_on` entry naming a task of another mission.
    pub external: Box<[CompactSpan]>,
}

/// A quality gate: a check that must pass.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Gate {
    /// A shell command written by the person; passes on exit code 0.
    Command {
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        run: String,
        #[serde(with = "opt_duration_secs", skip_serializing_if = "Option::is_none")]
        timeout: Option<SignedDuration>,
    },
    /// An agent reviews the work and approves or requests changes.
    Review {
        agent: String,
        #[serde(skip_serializing_if = "String::is_empty")]
        instructions: String,
    },
}

impl Gate {
    /// A short label for tables.
    pub fn summary(&self) -> String {
        match self {
            Gate::Command {
                name: Some(name), ..
            } => name.clone(),
            Gate::Command { run, .. } => run.clone(),
            Gate::Review { agent, .. } => format!("review by {agent}"),
        }
    }
}

mod duration_secs {
    use jiff::SignedDuration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

mod durations_secs {
    use jiff::SignedDuration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &[SignedDuration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(d.iter().map(|d| d.as_secs_f64()))
    }
}

mod opt_duration_secs {
    use jiff::SignedDuration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Option<SignedDuration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}
