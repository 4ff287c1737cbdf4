//! What a report says, as plain data: built once from the record
//! (`build`), then written as Markdown, HTML or JSON. Every text here came
//! from a mission file or an agent and is escaped by the renderers, never
//! here.

use crate::spend::Spend;
use crate::state::{Budget, DoneState, EscalationRecord, MissionStatus};
use jiff::Timestamp;
use serde::Serialize;

/// Who reads the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// Outcome, dates against the deadline, cost against the budget, and
    /// the decisions the person owes: a few lines.
    Executive,
    /// Everything: tasks, attempts, gates, failures and how they were
    /// resolved, logs by path.
    Engineering,
}

/// A whole mission's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The mission's ID in the store.
    pub mission: String,
    pub name: String,
    pub objective: String,
    pub status: MissionStatus,
    /// Attempts ran on the `simulate` executor: nothing was built.
    pub simulated: bool,
    /// The time the report describes the mission at.
    pub as_of: Timestamp,
    pub outcome: Outcome,
    pub timeline: Timeline,
    pub cost: Cost,
    pub tasks: Vec<TaskLine>,
    pub attempts: Vec<AttemptBar>,
    pub gates: Vec<GateLine>,
    pub escalations: Vec<EscalationLine>,
    pub lessons: Vec<Lesson>,
    pub done: Vec<DoneLine>,
    pub burnup: BurnUp,
}

/// How the tasks ended up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// One sentence for the top of the report.
    pub headline: String,
    pub total: usize,
    pub succeeded: usize,
    pub skipped: usize,
    pub failed: usize,
    pub blocked: usize,
    /// Neither succeeded, skipped, failed nor blocked: still to do.
    pub unfinished: usize,
    /// Tasks that needed more than one attempt.
    pub retried: usize,
}

/// When things happened, against the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub created_at: Timestamp,
    /// The first attempt's start; `None` before any.
    pub started_at: Option<Timestamp>,
    /// When the mission last finished; `None` while it is not finished.
    pub finished_at: Option<Timestamp>,
    /// From the start to the finish, or to `as_of` while unfinished.
    pub elapsed_ms: u64,
    pub runs: u32,
    pub planned: Planned,
    pub deadline: Option<Timestamp>,
    pub forecast: Option<Forecast>,
}

/// The plan's own schedule: every task taking its estimate, under the
/// mission's limits (`plan::schedule`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// From the first start to the last finish.
    pub hours: f64,
    pub critical_path_hours: f64,
    /// Tasks without an estimate, counted at the default.
    pub unestimated: usize,
    /// The start plus `hours`, once the mission started.
    pub finish_at: Option<Timestamp>,
    /// Per task in plan order, the hour its planned run ends.
    pub task_finish_hours: Vec<f64>,
}

/// When the rest of the mission may finish, from a forecast of its
/// remaining work. The report has no forecast of its own: the caller
/// passes one in (`Inputs::forecast`) and the report shows it beside the
/// plan and the deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    /// Half the forecast's outcomes finish by then.
    pub p50: Timestamp,
    /// Nine in ten finish by then.
    pub p90: Timestamp,
}

/// What the mission spent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    pub total: Spend,
    pub budget: Budget,
    /// Most expensive first.
    pub by_agent: Vec<Spend>,
    /// Hours of attempt time per agent, in `by_agent`'s order: what the
    /// cost chart shows when no agent reported a cost.
    pub agent_hours: Vec<f64>,
}

/// One task, in plan order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskLine {
    pub id: String,
    pub title: String,
    /// The agent of its last attempt (or the planned one before any).
    pub agent: String,
    pub status: crate::state::TaskStatus,
    pub attempts: usize,
    /// Every attempt's running time, summed.
    pub worked_ms: u64,
    pub estimate_hours: Option<f64>,
    pub cost_usd: f64,
    /// When it succeeded or was skipped.
    pub finished_at: Option<Timestamp>,
    pub summary: Option<String>,
    pub blocked_by: Option<String>,
}

/// How an attempt's bar is coloured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptResult {
    Succeeded,
    /// Failed, timed out, or its work was rejected by a gate.
    Failed,
    /// Ended through no fault of its own (interrupted, cancelled, rate
    /// limited, suspended, waiting for the person): it ran again.
    Stopped,
    /// Still running at `as_of`.
    Running,
}

/// One attempt, as the Gantt chart and the attempts table show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptBar {
    pub task: String,
    pub number: u32,
    pub agent: String,
    pub executor: String,
    pub start: Timestamp,
    /// `as_of` while it runs.
    pub end: Timestamp,
    pub result: AttemptResult,
    /// The outcome in words: `failed (exit code 1): tests failed`.
    pub outcome: String,
    /// Its output, relative to the techlead data directory.
    pub log: String,
}

/// A gate's verdict: a task's (on one attempt's work) or a phase's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateLine {
    /// The task, or `phase <name>`.
    pub subject: String,
    pub attempt: Option<u32>,
    pub gate: String,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub log: String,
}

/// An escalation, and whether the person still owes a decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationLine {
    #[serde(flatten)]
    pub record: EscalationRecord,
    /// Open: the mission waits for the person's decision.
    pub open: bool,
}

/// What went wrong with a task and how it was resolved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lesson {
    pub task: String,
    pub title: String,
    /// Each failed attempt and each merge conflict, in order.
    pub failures: Vec<String>,
    pub resolution: String,
    /// Whether the task ended well (succeeded or skipped by decision).
    pub resolved: bool,
    /// The failed attempts' logs.
    pub logs: Vec<String>,
}

/// One item of the definition of done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoneLine {
    pub text: String,
    pub state: DoneState,
    /// The check's output, once it ran.
    pub log: Option<String>,
}

/// Tasks done over time, against the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BurnUp {
    pub total: usize,
    /// Each time a task succeeded or was skipped, with the count so far.
    pub actual: Vec<(Timestamp, usize)>,
    /// The plan's count of finished tasks by hour from the start.
    pub planned: Vec<(f64, usize)>,
}
