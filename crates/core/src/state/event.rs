//! The events of a mission. Each names a fact that already happened or a
//! decision already taken, with what the fold needs and nothing derived.

use super::plan::MissionPlan;
use super::status::MissionStatus;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// An event as stored: its place in the mission's log and its time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// 1-based, gapless within a mission.
    pub seq: u64,
    pub at: Timestamp,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The mission's plan, recorded once, first.
    MissionCreated {
        // Boxed: the plan is many times the size of any other event.
        plan: Box<MissionPlan>,
    },
    /// A `run` or `resume` took over the mission.
    RunStarted {
        run: u32,
        pid: u32,
        host: String,
    },
    /// An attempt claims the next free slot. Durable before its process is
    /// spawned; a claim is made while the slot is still busy, so that the
    /// slot refills without waiting for a commit.
    AttemptQueued {
        task: String,
        attempt: u32,
        agent: String,
        executor: String,
        /// The attempt's directory (prompt, log, result), relative to the
        /// techlead data directory.
        dir: String,
    },
    /// The claimed attempt took a slot and its process is being spawned.
    AttemptStarted {
        task: String,
        attempt: u32,
    },
    /// A claim given back before its attempt started (dispatch paused, the
    /// run interrupted); the attempt number is free again.
    AttemptWithdrawn {
        task: String,
        attempt: u32,
    },
    AttemptProgress {
        task: String,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
        message: String,
    },
    AttemptReported {
        task: String,
        attempt: u32,
        report: Report,
    },
    /// An attempt ended, and what happens to the task next.
    AttemptFinished {
        task: String,
        attempt: u32,
        outcome: AttemptOutcome,
        duration_ms: u64,
        next: NextStep,
    },
    /// What the attempt left in the task's worktree, committed to the task's
    /// branch before anything else happens to it (missions with a
    /// repository). `files`: what the branch changed since it forked from
    /// the integration branch.
    WorkSaved {
        task: String,
        attempt: u32,
        commit: String,
        files: Vec<String>,
    },
    /// A task's gate judged the work of its last attempt. Gates run in
    /// order; a failed one ends the check, and `next` says what happens to
    /// the task then (another attempt with the gate's output, or failure).
    TaskGateFinished {
        task: String,
        attempt: u32,
        gate: String,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// Why a reviewer asked for changes, or what a command printed
        /// last.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reasons: Vec<String>,
        /// The gate's output file, relative to the data directory.
        log: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<NextStep>,
    },
    /// The task's work passed every gate and, in a mission with a
    /// repository, joined the integration branch as `merge` (`None`: no
    /// repository, or the work changed nothing). The task has succeeded.
    TaskAccepted {
        task: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        merge: Option<String>,
    },
    /// The task's branch conflicts with the integration branch in `files`:
    /// an agent resolves it in the task's worktree (`Retry`), or the task
    /// fails and the person is asked (`Fail`).
    MergeConflicted {
        task: String,
        files: Vec<String>,
        next: NextStep,
    },
    /// What an attempt has used so far (running totals; the latest wins).
    AttemptUsage {
        task: String,
        attempt: u32,
        usage: Usage,
    },
    /// An executor stops starting attempts until `until`: its provider
    /// refused for now (a rate or usage limit). Every task on it waits;
    /// none of them fails.
    ExecutorPaused {
        executor: String,
        until: Timestamp,
        reason: String,
    },
    /// A task is about to start without something it said it needs: no
    /// dependency's work has it (neither reported nor changed).
    HandoffIncomplete {
        task: String,
        missing: Vec<String>,
    },
    /// A pending task can never start: a dependency failed or is blocked.
    TaskBlocked {
        task: String,
        by: String,
    },
    PhaseGateFinished {
        phase: usize,
        gate: String,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The gate's output file, relative to the data directory.
        log: String,
    },
    /// A check of the definition of done ran (item `item` of the plan's
    /// `done_when`, 0-based), once every task and phase gate succeeded.
    /// Each check is decided once; the mission succeeds only if every
    /// check passed.
    DoneChecked {
        item: usize,
        passed: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        /// The check's output file, relative to the data directory.
        log: String,
    },
    DispatchPaused {
        reason: String,
    },
    /// The person set a new budget for the mission (on resume).
    BudgetChanged {
        budget: super::plan::Budget,
    },
    DispatchResumed,
    EscalationRaised {
        id: u32,
        kind: EscalationKind,
        message: String,
        tasks: Vec<String>,
        options: Vec<String>,
    },
    /// The person decided what to do about escalation `id` (`techlead
    /// decide`, the dashboard or the API). `request`: the row of the
    /// mission's decision inbox it came from.
    EscalationResolved {
        id: u32,
        decision: Decision,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<u32>,
    },
    /// A failed or blocked task waits again, with fresh retries, on
    /// `agent` if given: the person's decision, or the end of what blocked
    /// it.
    TaskReopened {
        task: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// A task too big for one attempt becomes smaller ones: `parts` run in
    /// order, each after the one before (the first after the task's own
    /// dependencies), and the task itself waits for them, with fresh
    /// retries, to finish what remains. Its agent proposed the parts
    /// (`::split`) or the person gave them (`decide ... split`).
    TaskSplit {
        task: String,
        parts: Vec<TaskPart>,
    },
    /// The person's decision lets the mission go on without a failed or
    /// blocked task: its dependents start as if it had succeeded.
    TaskSkipped {
        task: String,
    },
    /// The person accepted the work of a task whose gates kept rejecting
    /// it: it goes on to its merge without them.
    TaskApproved {
        task: String,
    },
    /// A decision from the inbox that could not be carried out (the
    /// escalation was already resolved, the agent is unknown, ...).
    DecisionRefused {
        request: u32,
        escalation: u32,
        reason: String,
    },
    /// Task `task`'s dependency `on`, a task of another mission, was seen
    /// durably succeeded in mission `mission` (its ID): one wait less.
    ExternalSucceeded {
        task: String,
        on: super::external::ExternalDependency,
        mission: String,
    },
    /// Task `task`'s dependency `on`, a task of another mission, can no
    /// longer succeed as seen in mission `mission` (`reason`): the task is
    /// blocked and the person decides.
    ExternalFailed {
        task: String,
        on: super::external::ExternalDependency,
        mission: String,
        reason: String,
    },
    /// An emergency mission (`by`) needs `agents`: this mission's
    /// non-critical tasks on them are suspended and wait until it ends.
    Preempted {
        by: String,
        agents: Vec<String>,
    },
    /// The emergency mission `by` ended (or no run holds it any more): the
    /// tasks it held go on.
    PreemptionEnded {
        by: String,
    },
    /// The forecast a run's progress is measured against, made from the
    /// plan and history when the mission's first run started: the P50 and
    /// P90 finish of its work (docs/forecast.md).
    ForecastBaseline {
        p50: Timestamp,
        p90: Timestamp,
        runs: u32,
    },
    /// The live forecast's P50 finish slipped past the baseline's by
    /// `slip` (0.25: the mission now looks like taking 25 % longer than
    /// the baseline said), crossing a step of the mission's threshold
    /// (`defaults.forecast_slip`) that no earlier slip crossed. `drivers`:
    /// the tasks that most drive the risk now.
    ForecastSlipped {
        baseline: Timestamp,
        forecast: Timestamp,
        p90: Timestamp,
        slip: f64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        drivers: Vec<String>,
    },
    /// The person stopped the run (Ctrl-C, SIGTERM).
    RunInterrupted {
        reason: String,
    },
    MissionFinished {
        status: MissionStatus,
    },
}

/// What an attempt has used so far: tokens, money, turns. Executors report
/// running totals; the latest report of an attempt is its usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    #[serde(default)]
    pub cache_read_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default)]
    pub cache_write_tokens: u64,
    /// In US dollars, as the agent or the price table says.
    #[serde(default)]
    pub cost_usd: f64,
    #[serde(default)]
    pub turns: u32,
    #[serde(default)]
    pub tool_uses: u32,
    /// The model that did the work, when the agent says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// What an agent said about its work while it ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "text", rename_all = "snake_case")]
pub enum Report {
    Blocked(String),
    Artifact(String),
    Decision(String),
    Summary(String),
    /// The agent's session or thread ID, which a retry may resume.
    Session(String),
    /// A smaller task the agent proposes to do instead of its own, one
    /// report per part in the order to do them (`::split`). An attempt
    /// that proposes parts ends blocked: the task is too big for one go.
    Split(String),
}

/// One part of a split task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskPart {
    pub id: String,
    pub title: String,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AttemptOutcome {
    Succeeded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
    },
    Failed {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        exit_code: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        message: String,
    },
    TimedOut,
    /// Stopped by the person.
    Cancelled,
    /// techlead itself died while the attempt ran; found at resume.
    Interrupted,
    /// The provider refused for now (a rate or usage limit): not the
    /// task's fault; it runs again without using a retry.
    RateLimited {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
        message: String,
    },
    /// Retrying cannot help (credentials, quota, a refused request): the
    /// task waits for the person.
    NeedsPerson {
        message: String,
    },
    /// Stopped to make way for the emergency mission `by`: not the task's
    /// fault; it runs again once the emergency is over.
    Suspended {
        by: String,
    },
}

impl AttemptOutcome {
    /// Its kind, as the store's `outcome` column and the metrics' label
    /// name it (the serde tag).
    pub fn kind(&self) -> &'static str {
        match self {
            AttemptOutcome::Succeeded { .. } => "succeeded",
            AttemptOutcome::Failed { .. } => "failed",
            AttemptOutcome::TimedOut => "timed_out",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Interrupted => "interrupted",
            AttemptOutcome::RateLimited { .. } => "rate_limited",
            AttemptOutcome::NeedsPerson { .. } => "needs_person",
            AttemptOutcome::Suspended { .. } => "suspended",
        }
    }

    /// Whether the attempt counts against the task's retries.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            AttemptOutcome::Failed { .. } | AttemptOutcome::TimedOut
        )
    }
}

/// What happens to a task after an attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextStep {
    /// The task succeeded.
    Done,
    /// The attempt succeeded; the task's gates check it, then it merges.
    Check,
    /// Another attempt, on `agent`, not before `at`.
    Retry { agent: String, at: Timestamp },
    /// No retries left: the task failed.
    Fail,
    /// The agent proposed parts and the mission splits blocked tasks
    /// (`on_blocked: split`): a `task_split` follows, and the task waits
    /// for its parts.
    Split,
    /// Back to pending without using a retry (cancelled, interrupted, rate
    /// limited, waiting for the person).
    Requeue,
}

/// What the person decided about an escalation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Another round for the escalation's tasks, with fresh retries (and
    /// go on: dispatch resumes, a failed mission runs again).
    Retry,
    /// Go on without the escalation's failed tasks: their dependents start.
    Skip,
    /// Another round for the escalation's tasks, on another agent.
    Reassign { agent: String },
    /// Stop the mission for good.
    Abort,
    /// The person's answer to an agent's question (a `question`
    /// escalation): the asking attempt gets `text` and goes on.
    Answer { text: String },
    /// Accept as it is: a task's work its gates kept rejecting (it merges
    /// without them), or a failed check of the definition of done.
    Approve,
    /// Another round for the escalation's tasks, with `text` from the
    /// person added to their prompt.
    Edit { text: String },
    /// The escalation's task becomes smaller ones: `parts` (titles, in
    /// order), or when empty the parts its agent proposed.
    Split {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        parts: Vec<String>,
    },
}

impl Decision {
    /// The action's name, as `techlead decide` and the API take it.
    pub fn action(&self) -> &'static str {
        match self {
            Decision::Retry => "retry",
            Decision::Skip => "skip",
            Decision::Reassign { .. } => "reassign",
            Decision::Abort => "abort",
            Decision::Answer { .. } => "answer",
            Decision::Approve => "approve",
            Decision::Edit { .. } => "edit",
            Decision::Split { .. } => "split",
        }
    }

    /// What the decision carries besides its action, as [`Decision::parse`]
    /// reads it back: the agent, the text, or the parts one per line.
    pub fn argument(&self) -> Option<String> {
        match self {
            Decision::Reassign { agent } => Some(agent.clone()),
            Decision::Answer { text } | Decision::Edit { text } => Some(text.clone()),
            Decision::Split { parts } if !parts.is_empty() => Some(parts.join("\n")),
            _ => None,
        }
    }

    /// A decision from its action's name and its argument: the agent of a
    /// `reassign`, the text of an `answer`.
    pub fn parse(action: &str, agent: Option<&str>) -> Result<Decision, String> {
        let decision = match (action, agent) {
            ("retry", None) => Decision::Retry,
            ("skip", None) => Decision::Skip,
            ("abort", None) => Decision::Abort,
            ("reassign", Some(agent)) if !agent.trim().is_empty() => Decision::Reassign {
                agent: agent.trim().to_string(),
            },
            ("reassign", _) => return Err("`reassign` needs the agent to reassign to".into()),
            // An answer is kept as written: its spaces may matter to the agent.
            ("answer", Some(text)) if !text.trim().is_empty() => Decision::Answer {
                text: text.to_string(),
            },
            ("answer", _) => return Err("`answer` needs the text of the answer".into()),
            ("approve", None) => Decision::Approve,
            ("split", parts) => Decision::Split {
                parts: parts
                    .unwrap_or_default()
                    .lines()
                    .map(str::trim)
                    .filter(|part| !part.is_empty())
                    .map(str::to_string)
                    .collect(),
            },
            ("edit", Some(text)) if !text.trim().is_empty() => Decision::Edit {
                text: text.trim().to_string(),
            },
            ("edit", _) => {
                return Err("`edit` needs the guidance to add to the task's prompt".into());
            }
            ("retry" | "skip" | "abort" | "approve", Some(_)) => {
                return Err(format!(
                    "`{action}` takes no argument; only `reassign`, `edit`, `answer` and `split` do"
                ));
            }
            _ => {
                return Err(format!(
                    "unknown action `{action}`: use retry, skip, reassign <agent>, edit <guidance>, split [parts], approve, answer <text> or abort"
                ));
            }
        };
        Ok(decision)
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Decision::Reassign { agent } => write!(f, "reassign to {agent}"),
            Decision::Split { parts } if !parts.is_empty() => {
                write!(f, "split into {}", parts.join("; "))
            }
            other => f.write_str(other.action()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EscalationKind {
    FailureRate,
    /// A task failed on every attempt its retries and backup agent
    /// allowed; its dependents are blocked.
    RetriesExhausted,
    /// An agent reported it cannot go on (`::blocked`), and the retries
    /// with that guidance and the backup agent could not either.
    AgentBlocked,
    /// An executor needs the person: credentials, quota, billing.
    NeedsPerson,
    /// The mission's or a task's budget is spent.
    Budget,
    /// A task's gates kept rejecting its work.
    Gate,
    /// A task's work conflicts with the integration branch.
    Conflict,
    /// A check of the mission's definition of done failed: the work is all
    /// in, but the mission is not done.
    DefinitionOfDone,
    /// A running agent asked the person a question (`::ask`, the MCP
    /// tool `ask_person`) and waits for the answer; the mission goes on.
    Question,
    /// A task waits for a task of another mission that can no longer
    /// succeed there (it failed, was skipped, or its mission was aborted).
    ExternalDependency,
}
