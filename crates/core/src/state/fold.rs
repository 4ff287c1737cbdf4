//! The fold: mission state as a function of its events.

use super::event::{AttemptOutcome, Event, EventRecord, NextStep, Report, Usage};
use super::index::Index;
use super::plan::{MissionPlan, TaskPlan};
use super::rare::{Empty, Rare};
use super::status::{IllegalTransition, MissionMove, MissionStatus, TaskMove, TaskStatus};
use jiff::Timestamp;
use serde::Serialize;

/// Why an event was rejected. The state is unchanged when this is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StateError {
    #[error("the first event of a mission must be mission_created")]
    NotCreatedFirst,
    #[error("mission_created can only be the first event")]
    CreatedTwice,
    #[error("event {got} follows event {last}: the log has a gap or a duplicate")]
    OutOfSequence { last: u64, got: u64 },
    #[error("unknown task `{0}`")]
    UnknownTask(String),
    #[error("unknown phase {0}")]
    UnknownPhase(usize),
    #[error("task `{task}`: {source}")]
    Task {
        task: String,
        #[source]
        source: IllegalTransition,
    },
    #[error("mission: {0}")]
    Mission(#[source] IllegalTransition),
    #[error("task `{task}`: expected attempt {expected}, got {got}")]
    WrongAttempt {
        task: String,
        expected: u32,
        got: u32,
    },
    #[error("task `{task}`: attempt outcome {outcome} cannot lead to {next}")]
    InconsistentNext {
        task: String,
        outcome: String,
        next: String,
    },
    #[error("task `{task}` cannot be blocked by `{by}`, which has not failed")]
    NotBlocking { task: String, by: String },
    #[error("run {got} follows run {last}")]
    WrongRun { last: u32, got: u32 },
    #[error("task `{0}` cannot wait again: what blocked it still does")]
    StillBlocked(String),
    #[error("escalation {id}: {reason}")]
    Decision { id: u32, reason: String },
    #[error("the mission cannot finish as {status}: {why}")]
    CannotFinish { status: MissionStatus, why: String },
    #[error("the gate of phase {0} runs before its tasks succeeded")]
    GateTooEarly(usize),
    #[error("phase {phase} has no gate `{gate}`")]
    UnknownGate { phase: usize, gate: String },
    #[error("the gate `{gate}` of phase {phase} was already decided")]
    GateDecided { phase: usize, gate: String },
    #[error("the definition of done has no check at item {0}")]
    UnknownDoneCheck(usize),
    #[error("the definition-of-done check {0} runs before every task and phase gate succeeded")]
    DoneTooEarly(usize),
    #[error("the definition-of-done check {0} was already decided")]
    DoneDecided(usize),
    #[error("task `{0}` is not ready: its dependencies or its phase are not done")]
    NotReady(String),
    #[error("task `{0}` is not waiting for its gates or its merge")]
    NotChecking(String),
    #[error("task `{task}`: the next gate is `{expected}`, not `{got}`")]
    WrongGate {
        task: String,
        expected: String,
        got: String,
    },
    #[error("task `{0}`: the mission has no repository to save or merge work in")]
    NoRepository(String),
    #[error("task `{task}` cannot be split: {reason}")]
    Split { task: String, reason: String },
    #[error("invalid plan: {0}")]
    Plan(#[from] super::plan::PlanError),
    #[error("the mission already has a baseline forecast")]
    BaselineTwice,
    #[error("a forecast slipped before any baseline was made")]
    NoBaseline,
    #[error("task `{task}` does not depend on `{on}`")]
    UnknownExternal { task: String, on: String },
    #[error("task `{task}` no longer waits for `{on}`")]
    ExternalDecided { task: String, on: String },
}

/// The baseline forecast and the slips reported against it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ForecastTrack {
    /// When the baseline was made.
    pub since: Timestamp,
    /// Its P50 and P90 finish.
    pub p50: Timestamp,
    pub p90: Timestamp,
    /// The slip of the last `forecast_slipped`, if any: the next is due
    /// at the next step of the threshold.
    pub slipped: Option<f64>,
}

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttemptState {
    pub number: u32,
    pub agent: String,
    pub executor: String,
    pub dir: String,
    /// When the attempt claimed its slot.
    pub queued_at: Timestamp,
    /// When it took the slot and its process was spawned; `None` while it
    /// waits for the slot (or when its process never started).
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub outcome: Option<AttemptOutcome>,
    pub duration_ms: Option<u64>,
    /// What an agent reported about the attempt, and a gate's rejection:
    /// none of it for most attempts, so it takes one pointer until set.
    #[serde(flatten)]
    pub detail: Rare<AttemptDetail>,
}

/// The parts of an attempt that most attempts never set.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttemptDetail {
    /// What it used, as last reported.
    pub usage: Option<Usage>,
    /// The agent's session, if it named one.
    pub session: Option<String>,
    /// The gate that rejected the attempt's work: it counts as a failure.
    pub rejected_by: Option<String>,
    /// What the agent said blocks it (`::blocked`), unless it reported
    /// progress since: an attempt that ends blocked did not do its task.
    pub blocked: Option<String>,
    /// The smaller tasks the agent proposed instead (`::split`), in order.
    pub parts: Vec<String>,
}

static NO_ATTEMPT_DETAIL: AttemptDetail = AttemptDetail {
    usage: None,
    session: None,
    rejected_by: None,
    blocked: None,
    parts: Vec::new(),
};

impl Empty for AttemptDetail {
    fn empty() -> &'static Self {
        &NO_ATTEMPT_DETAIL
    }
}

/// One task as of the last event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskState {
    pub status: TaskStatus,
    /// The agent the next (or current) attempt runs on.
    pub agent: String,
    pub attempts: Vec<AttemptState>,
    pub retry_at: Option<Timestamp>,
    pub blocked_by: Option<String>,
    pub progress: Option<(Option<u8>, String)>,
    /// What the agent reported; one pointer until it reports something.
    #[serde(flatten)]
    pub reports: Rare<TaskReports>,
    /// The task's work in a mission with a repository: saved, checked,
    /// merged; one pointer in a mission without one.
    #[serde(flatten)]
    pub work: Rare<TaskWork>,
}

/// What an agent reported about its task (`::summary`, `::artifact`,
/// `::decision`, `::blocked`, or the result file).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskReports {
    pub summary: Option<String>,
    pub artifacts: Vec<String>,
    pub decisions: Vec<String>,
    pub blockers: Vec<String>,
}

static NO_REPORTS: TaskReports = TaskReports {
    summary: None,
    artifacts: Vec::new(),
    decisions: Vec::new(),
    blockers: Vec::new(),
};

impl Empty for TaskReports {
    fn empty() -> &'static Self {
        &NO_REPORTS
    }
}

/// A task's work on its branch, its gates' verdicts and its merge
/// (missions with a repository).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskWork {
    /// The task branch's last saved commit.
    pub commit: Option<String>,
    /// What the task branch changed since it forked.
    pub changed_files: Vec<String>,
    /// Every gate verdict, oldest first.
    pub checks: Vec<CheckResult>,
    /// The merge commit on the integration branch, once the task's work
    /// joined it.
    pub merged: Option<String>,
    /// The files of a merge conflict the next attempt resolves.
    pub conflict: Option<Vec<String>>,
    /// Merge conflicts so far.
    pub conflicts: u32,
    /// What the task needs that its dependencies' work lacked when it
    /// first started.
    pub missing_inputs: Vec<String>,
    /// Attempts up to this number do not count against the task's
    /// retries: the person asked for another round after them.
    pub fresh_from: u32,
    /// What the person said to the task's next attempts (`edit`).
    pub guidance: Option<String>,
    /// The person accepted the last attempt's work without its gates.
    pub approved: bool,
    /// The tasks it was split into, in order (`task_split`).
    pub parts: Vec<String>,
}

static NO_WORK: TaskWork = TaskWork {
    commit: None,
    changed_files: Vec::new(),
    checks: Vec::new(),
    merged: None,
    conflict: None,
    conflicts: 0,
    missing_inputs: Vec::new(),
    fresh_from: 0,
    guidance: None,
    approved: false,
    parts: Vec::new(),
};

impl Empty for TaskWork {
    fn empty() -> &'static Self {
        &NO_WORK
    }
}

/// A task gate's verdict on one attempt's work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    pub attempt: u32,
    pub gate: String,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub log: String,
}

impl TaskState {
    pub fn current_attempt(&self) -> Option<&AttemptState> {
        self.attempts.last().filter(|a| a.outcome.is_none())
    }

    /// Attempts that failed on `agent` (retries used on it).
    pub fn failures_on(&self, agent: &str) -> u32 {
        self.attempts
            .iter()
            .filter(|a| {
                a.agent == agent
                    && a.number > self.work.fresh_from
                    && (a.detail.rejected_by.is_some()
                        || a.outcome.as_ref().is_some_and(AttemptOutcome::is_failure))
            })
            .count() as u32
    }
}

/// A phase gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    pub gate: String,
    pub passed: bool,
    pub log: String,
}

/// A mission as of its last event.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MissionState {
    pub plan: MissionPlan,
    pub status: MissionStatus,
    pub created_at: Timestamp,
    pub tasks: Vec<TaskState>,
    /// Per phase, the gate results so far.
    pub gates: Vec<Vec<GateResult>>,
    /// Per item of the definition of done, its check's verdict once it ran
    /// (always `None` for the statements the person confirms).
    pub done: Vec<Option<super::done::DoneResult>>,
    pub runs: u32,
    pub last_seq: u64,
    pub last_event_at: Timestamp,
    pub escalations: u32,
    /// Emergency missions holding agents this mission shares: their
    /// agents take no new non-critical work here until they end.
    pub preempted_by: Vec<(String, Vec<String>)>,
    /// Every task's dependencies on tasks of other missions, and where
    /// each stands (`external_due`, `waiting_for`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(super) external: Vec<super::external::ExternalWait>,
    /// Escalations the person has not decided yet, oldest first.
    pub open_escalations: Vec<super::escalation::OpenEscalation>,
    /// The person decided to abort: nothing more starts, what runs is
    /// stopped, and the mission finishes as aborted.
    pub aborting: bool,
    /// Failed tasks when dispatch last paused, so that resuming does not
    /// pause again until another task fails.
    pub failed_at_last_pause: usize,
    /// Executors that start nothing until the time given (rate limits).
    pub paused_executors: Vec<(String, Timestamp)>,
    /// The mission's spend limits: the plan's, or the person's since.
    pub budget: super::plan::Budget,
    /// The baseline forecast, once made, and the last slip reported.
    pub forecast: Option<ForecastTrack>,
    /// What every attempt reported spending, summed: US dollars, and
    /// tokens in and out.
    pub spent_usd: f64,
    pub spent_tokens: u64,
    /// Task positions in the order of their IDs, to find a task by its ID
    /// by binary search: 4 bytes a task, where a `HashMap<String, usize>`
    /// held a copy of every ID besides (about 90 bytes a task, 0.9 MB of a
    /// 10,000-task run's peak RSS), for about 14 short comparisons a
    /// lookup at that size.
    #[serde(skip)]
    by_id: Vec<u32>,
    #[serde(skip)]
    pub(super) derived: Index,
}

impl MissionState {
    /// Folds a whole log, first event first.
    pub fn replay<'a>(
        records: impl IntoIterator<Item = &'a EventRecord>,
    ) -> Result<MissionState, StateError> {
        let mut records = records.into_iter();
        let first = records.next().ok_or(StateError::NotCreatedFirst)?;
        let mut state = MissionState::created(first)?;
        for record in records {
            state.apply(record)?;
        }
        Ok(state)
    }

    /// The state right after the mission's first event.
    pub fn created(record: &EventRecord) -> Result<MissionState, StateError> {
        let Event::MissionCreated { plan } = &record.event else {
            return Err(StateError::NotCreatedFirst);
        };
        if record.seq != 1 {
            return Err(StateError::OutOfSequence {
                last: 0,
                got: record.seq,
            });
        }
        MissionState::new(MissionPlan::clone(plan), record.at)
    }

    /// The state right after `MissionCreated { plan }` at `at`, taking the
    /// plan (a writer that has just recorded it need not read it back).
    pub fn new(plan: MissionPlan, at: Timestamp) -> Result<MissionState, StateError> {
        plan.check()?;
        let tasks = plan
            .tasks
            .iter()
            .map(|t| TaskState {
                status: TaskStatus::Pending,
                agent: t.agent.clone(),
                attempts: Vec::new(),
                retry_at: None,
                blocked_by: None,
                progress: None,
                reports: Rare::new(),
                work: Rare::new(),
            })
            .collect();
        let mut by_id: Vec<u32> = (0..plan.tasks.len() as u32).collect();
        by_id.sort_unstable_by(|&a, &b| plan.tasks[a as usize].id.cmp(&plan.tasks[b as usize].id));
        let derived = Index::new(&plan, |id| find(&plan, &by_id, id));
        let budget = plan.budget;
        let external = super::external::waits(&plan);
        Ok(MissionState {
            external,
            by_id,
            derived,
            gates: vec![Vec::new(); plan.phases.len()],
            done: vec![None; plan.done_when.len()],
            plan,
            status: MissionStatus::Created,
            created_at: at,
            tasks,
            runs: 0,
            last_seq: 1,
            last_event_at: at,
            escalations: 0,
            open_escalations: Vec::new(),
            preempted_by: Vec::new(),
            aborting: false,
            failed_at_last_pause: 0,
            paused_executors: Vec::new(),
            budget,
            forecast: None,
            spent_usd: 0.0,
            spent_tokens: 0,
        })
    }

    pub fn task_index(&self, id: &str) -> Option<usize> {
        find(&self.plan, &self.by_id, id)
    }

    /// Applies one event, or rejects it and changes nothing.
    pub fn apply(&mut self, record: &EventRecord) -> Result<(), StateError> {
        if record.seq != self.last_seq + 1 {
            return Err(StateError::OutOfSequence {
                last: self.last_seq,
                got: record.seq,
            });
        }
        self.apply_event(&record.event, record.at)?;
        self.last_seq = record.seq;
        self.last_event_at = record.at;
        Ok(())
    }

    pub(super) fn apply_event(&mut self, event: &Event, at: Timestamp) -> Result<(), StateError> {
        match event {
            Event::MissionCreated { .. } => Err(StateError::CreatedTwice),
            Event::RunStarted { run, .. } => {
                if *run != self.runs + 1 {
                    return Err(StateError::WrongRun {
                        last: self.runs,
                        got: *run,
                    });
                }
                self.status = self.mission_after(MissionMove::Run)?;
                self.runs = *run;
                Ok(())
            }
            Event::AttemptQueued {
                task,
                attempt,
                agent,
                executor,
                dir,
            } => self.queue_attempt(task, *attempt, agent, executor, dir, at),
            Event::AttemptStarted { task, attempt } => self.start_attempt(task, *attempt, at),
            Event::AttemptWithdrawn { task, attempt } => self.withdraw_attempt(task, *attempt),
            Event::AttemptProgress {
                task,
                attempt,
                percent,
                message,
            } => {
                let i = self.current(task, *attempt, &[TaskStatus::Running])?;
                self.tasks[i].progress = Some((*percent, message.clone()));
                // Read first: writing would allocate the attempt's details.
                if let Some(current) = self.tasks[i].attempts.last_mut()
                    && current.detail.blocked.is_some()
                {
                    current.detail.blocked = None;
                }
                Ok(())
            }
            Event::AttemptReported {
                task,
                attempt,
                report,
            } => {
                let i = self.current(task, *attempt, &[TaskStatus::Running])?;
                let state = &mut self.tasks[i];
                match report {
                    Report::Blocked(text) => {
                        state.reports.blockers.push(text.clone());
                        if let Some(current) = state.attempts.last_mut() {
                            current.detail.blocked = Some(text.clone());
                        }
                    }
                    Report::Artifact(path) => state.reports.artifacts.push(path.clone()),
                    Report::Decision(text) => state.reports.decisions.push(text.clone()),
                    Report::Summary(text) => state.reports.summary = Some(text.clone()),
                    Report::Session(id) => {
                        if let Some(current) = state.attempts.last_mut() {
                            current.detail.session = Some(id.clone());
                        }
                    }
                    Report::Split(title) => {
                        if let Some(current) = state.attempts.last_mut() {
                            propose_part(&mut current.detail, title);
                        }
                    }
                }
                Ok(())
            }
            Event::AttemptUsage {
                task,
                attempt,
                usage,
            } => {
                let i = self.current(task, *attempt, &[TaskStatus::Running])?;
                if let Some(current) = self.tasks[i].attempts.last_mut() {
                    // Reports are running totals: the new one replaces the
                    // last in the mission's sums.
                    if let Some(before) = current.detail.usage.replace(usage.clone()) {
                        self.spent_usd -= before.cost_usd;
                        self.spent_tokens -= before.input_tokens + before.output_tokens;
                    }
                    self.spent_usd += usage.cost_usd;
                    self.spent_tokens += usage.input_tokens + usage.output_tokens;
                }
                Ok(())
            }
            Event::ExecutorPaused {
                executor, until, ..
            } => {
                self.paused_executors.retain(|(e, _)| e != executor);
                self.paused_executors.push((executor.clone(), *until));
                Ok(())
            }
            Event::AttemptFinished {
                task,
                attempt,
                outcome,
                duration_ms,
                next,
            } => self.finish_attempt(task, *attempt, outcome, *duration_ms, next, at),
            Event::WorkSaved {
                task,
                attempt,
                commit,
                files,
            } => self.work_saved(task, *attempt, commit, files),
            Event::TaskGateFinished {
                task,
                attempt,
                gate,
                passed,
                reasons,
                log,
                next,
                ..
            } => self.task_gate_finished(
                task,
                *attempt,
                super::check::Verdict {
                    gate,
                    passed: *passed,
                    reasons,
                    log,
                },
                next.as_ref(),
            ),
            Event::TaskAccepted { task, merge } => self.accepted(task, merge.as_deref()),
            Event::MergeConflicted { task, files, next } => self.conflicted(task, files, next),
            Event::HandoffIncomplete { task, missing } => {
                let i = self.task(task)?;
                if self.tasks[i].status.is_terminal() {
                    return Err(StateError::Task {
                        task: task.clone(),
                        source: IllegalTransition {
                            from: self.tasks[i].status.to_string(),
                            action: "flag its handoff".to_string(),
                        },
                    });
                }
                self.tasks[i].work.missing_inputs = missing.clone();
                Ok(())
            }
            Event::TaskBlocked { task, by } => self.block(task, by),
            Event::PhaseGateFinished {
                phase,
                gate,
                passed,
                log,
                ..
            } => self.gate_finished(*phase, gate, *passed, log),
            Event::DoneChecked {
                item,
                passed,
                exit_code,
                log,
            } => self.done_checked(*item, *passed, *exit_code, log),
            Event::DispatchPaused { .. } => {
                self.status = self.mission_after(MissionMove::Pause)?;
                self.failed_at_last_pause = self.count(TaskStatus::Failed);
                Ok(())
            }
            Event::BudgetChanged { budget } => {
                self.budget = *budget;
                Ok(())
            }
            Event::DispatchResumed => {
                self.status = self.mission_after(MissionMove::Unpause)?;
                Ok(())
            }
            Event::EscalationRaised {
                id,
                kind,
                tasks,
                options,
                ..
            } => self.raise(*id, *kind, tasks, options),
            Event::EscalationResolved { id, decision, .. } => self.resolve(*id, decision),
            Event::TaskReopened { task, agent } => self.reopen(task, agent.as_deref()),
            Event::TaskSkipped { task } => self.skip(task),
            Event::TaskSplit { task, parts } => self.split(task, parts),
            Event::TaskApproved { task } => self.approve(task),
            // The log keeps what was asked; nothing changes.
            Event::DecisionRefused { .. } => Ok(()),
            Event::Preempted { by, agents } => {
                self.preempted_by.retain(|(b, _)| b != by);
                self.preempted_by.push((by.clone(), agents.clone()));
                Ok(())
            }
            Event::PreemptionEnded { by } => {
                self.preempted_by.retain(|(b, _)| b != by);
                Ok(())
            }
            Event::ExternalSucceeded { task, on, mission } => {
                self.external_succeeded(task, on, mission)
            }
            Event::ExternalFailed {
                task,
                on,
                mission,
                reason,
            } => self.external_failed(task, on, mission, reason),
            Event::ForecastBaseline { p50, p90, .. } => {
                if self.forecast.is_some() {
                    return Err(StateError::BaselineTwice);
                }
                self.forecast = Some(ForecastTrack {
                    since: at,
                    p50: *p50,
                    p90: *p90,
                    slipped: None,
                });
                Ok(())
            }
            Event::ForecastSlipped { slip, .. } => {
                let track = self.forecast.as_mut().ok_or(StateError::NoBaseline)?;
                track.slipped = Some(*slip);
                Ok(())
            }
            Event::RunInterrupted { .. } => {
                self.status = self.mission_after(MissionMove::Interrupt)?;
                Ok(())
            }
            Event::MissionFinished { status } => self.finish(*status),
        }
    }

    fn mission_after(&self, action: MissionMove) -> Result<MissionStatus, StateError> {
        self.status.after(action).map_err(StateError::Mission)
    }

    pub(super) fn task(&self, id: &str) -> Result<usize, StateError> {
        self.task_index(id)
            .ok_or_else(|| StateError::UnknownTask(id.to_string()))
    }

    pub(super) fn task_after(&self, i: usize, action: TaskMove) -> Result<TaskStatus, StateError> {
        self.tasks[i]
            .status
            .after(action)
            .map_err(|source| StateError::Task {
                task: self.plan.tasks[i].id.clone(),
                source,
            })
    }

    fn queue_attempt(
        &mut self,
        task: &str,
        attempt: u32,
        agent: &str,
        executor: &str,
        dir: &str,
        at: Timestamp,
    ) -> Result<(), StateError> {
        let i = self.task(task)?;
        if self.status != MissionStatus::Running || self.aborting {
            return Err(StateError::Mission(IllegalTransition {
                from: if self.aborting {
                    "aborting".to_string()
                } else {
                    self.status.to_string()
                },
                action: "claim a slot".to_string(),
            }));
        }
        let next = self.task_after(i, TaskMove::Queue)?;
        if self.tasks[i].status == TaskStatus::Pending && !self.derived.is_ready(i) {
            return Err(StateError::NotReady(task.to_string()));
        }
        let expected = self.tasks[i].attempts.len() as u32 + 1;
        if attempt != expected {
            return Err(StateError::WrongAttempt {
                task: task.to_string(),
                expected,
                got: attempt,
            });
        }
        self.set_status(i, next);
        let state = &mut self.tasks[i];
        state.agent = agent.to_string();
        state.progress = None;
        // An approval covered the work it was given for, not a new
        // attempt's. Read first: writing would allocate the task's work.
        if state.work.approved {
            state.work.approved = false;
        }
        // Most tasks take one attempt; the default growth (to four) would
        // hold megabytes of empty attempts in a 10,000-task mission.
        state.attempts.reserve_exact(1);
        state.attempts.push(AttemptState {
            number: attempt,
            agent: agent.to_string(),
            executor: executor.to_string(),
            dir: dir.to_string(),
            queued_at: at,
            started_at: None,
            finished_at: None,
            outcome: None,
            duration_ms: None,
            detail: Rare::new(),
        });
        Ok(())
    }

    /// A claimed attempt takes its slot. Also while dispatch is paused: a
    /// claim already handed to its slot is not taken back.
    fn start_attempt(&mut self, task: &str, attempt: u32, at: Timestamp) -> Result<(), StateError> {
        let i = self.current(task, attempt, &[TaskStatus::Queued])?;
        if !matches!(self.status, MissionStatus::Running | MissionStatus::Paused) {
            return Err(StateError::Mission(IllegalTransition {
                from: self.status.to_string(),
                action: "start an attempt".to_string(),
            }));
        }
        let next = self.task_after(i, TaskMove::Start)?;
        self.set_status(i, next);
        // Kept while queued, so that a withdrawn claim retries as planned.
        self.tasks[i].retry_at = None;
        let current = self.tasks[i]
            .attempts
            .last_mut()
            .expect("a queued task has an attempt");
        current.started_at = Some(at);
        Ok(())
    }

    /// A claim given back unused: the attempt never happened, and the task
    /// is back where it was (pending, or retrying after a failure).
    fn withdraw_attempt(&mut self, task: &str, attempt: u32) -> Result<(), StateError> {
        let i = self.current(task, attempt, &[TaskStatus::Queued])?;
        // A claim keeps the retry time of the task it came from: it goes
        // back to waiting for that retry, or to pending.
        let after_failure = self.tasks[i].retry_at.is_some();
        let action = if after_failure {
            TaskMove::Retry
        } else {
            TaskMove::Requeue
        };
        let next = self.task_after(i, action)?;
        self.tasks[i].attempts.pop();
        self.set_status(i, next);
        Ok(())
    }

    /// Task `task`, if its current attempt is `attempt` and its status one
    /// of `statuses`.
    pub(super) fn current(
        &self,
        task: &str,
        attempt: u32,
        statuses: &[TaskStatus],
    ) -> Result<usize, StateError> {
        let i = self.task(task)?;
        let current = self.tasks[i].current_attempt().map(|a| a.number);
        if !statuses.contains(&self.tasks[i].status) || current != Some(attempt) {
            return Err(StateError::WrongAttempt {
                task: task.to_string(),
                expected: current.unwrap_or(0),
                got: attempt,
            });
        }
        Ok(i)
    }

    fn finish_attempt(
        &mut self,
        task: &str,
        attempt: u32,
        outcome: &AttemptOutcome,
        duration_ms: u64,
        next: &NextStep,
        at: Timestamp,
    ) -> Result<(), StateError> {
        let i = self.current(task, attempt, &[TaskStatus::Queued, TaskStatus::Running])?;
        let action = match (outcome, next) {
            (AttemptOutcome::Succeeded { .. }, NextStep::Done) if !self.needs_check(i) => {
                TaskMove::Succeed
            }
            (AttemptOutcome::Succeeded { .. }, NextStep::Check) if self.needs_check(i) => {
                TaskMove::Check
            }
            (o, NextStep::Retry { .. }) if o.is_failure() => TaskMove::Retry,
            (o, NextStep::Fail) if o.is_failure() => TaskMove::Fail,
            // The task waits for the parts its `task_split` brings.
            (o, NextStep::Split) if o.is_failure() && !self.proposed_parts(i).is_empty() => {
                TaskMove::Requeue
            }
            (
                AttemptOutcome::Cancelled
                | AttemptOutcome::Interrupted
                | AttemptOutcome::RateLimited { .. }
                | AttemptOutcome::NeedsPerson { .. }
                | AttemptOutcome::Suspended { .. },
                NextStep::Requeue,
            ) => TaskMove::Requeue,
            _ => {
                return Err(StateError::InconsistentNext {
                    task: task.to_string(),
                    outcome: format!("{outcome:?}"),
                    next: format!("{next:?}"),
                });
            }
        };
        let status = self.task_after(i, action)?;
        let state = &mut self.tasks[i];
        if let AttemptOutcome::Succeeded {
            summary: Some(summary),
        } = outcome
        {
            state.reports.summary = Some(summary.clone());
        }
        state.retry_at = None;
        if action == TaskMove::Check && state.work.conflict.is_some() {
            state.work.conflict = None;
        }
        if let NextStep::Retry { agent, at } = next {
            state.agent = agent.clone();
            state.retry_at = Some(*at);
        }
        let current = state
            .attempts
            .last_mut()
            .expect("a queued or running task has an attempt");
        current.finished_at = Some(at);
        current.outcome = Some(outcome.clone());
        current.duration_ms = Some(duration_ms);
        self.set_status(i, status);
        Ok(())
    }

    fn block(&mut self, task: &str, by: &str) -> Result<(), StateError> {
        let i = self.task(task)?;
        // A finished task says so first; otherwise the missing reason is
        // the more useful complaint.
        if self.tasks[i].status.is_terminal() {
            self.task_after(i, TaskMove::Block)?;
        }
        if !self.blocks(i, by) {
            return Err(StateError::NotBlocking {
                task: task.to_string(),
                by: by.to_string(),
            });
        }
        let status = self.task_after(i, TaskMove::Block)?;
        self.set_status(i, status);
        self.tasks[i].blocked_by = Some(by.to_string());
        Ok(())
    }

    /// Whether `by` keeps task `t` from ever starting: a dependency that
    /// failed or is blocked, or `phase:<name>` of an earlier phase that can
    /// never pass.
    fn blocks(&self, t: usize, by: &str) -> bool {
        let plan = &self.plan.tasks[t];
        if self.external_block(t).is_some_and(|on| on == by) {
            return true;
        }
        if plan.depends_on.iter().any(|d| d == by) {
            return self.task_index(by).is_some_and(|b| {
                matches!(
                    self.tasks[b].status,
                    TaskStatus::Failed | TaskStatus::Blocked
                )
            });
        }
        let Some(name) = by.strip_prefix("phase:") else {
            return false;
        };
        let earlier = plan.detail.phase.unwrap_or(0);
        (0..earlier).any(|q| self.plan.phases[q].name == name && self.phase_dead(q))
    }

    fn gate_finished(
        &mut self,
        phase: usize,
        gate: &str,
        passed: bool,
        log: &str,
    ) -> Result<(), StateError> {
        let Some(plan) = self.plan.phases.get(phase) else {
            return Err(StateError::UnknownPhase(phase));
        };
        if !plan.gates.iter().any(|g| g == gate) {
            return Err(StateError::UnknownGate {
                phase,
                gate: gate.to_string(),
            });
        }
        if self.status.is_finished() {
            return Err(StateError::Mission(IllegalTransition {
                from: self.status.to_string(),
                action: "record a gate".to_string(),
            }));
        }
        if !self.derived.phase_complete(phase) {
            return Err(StateError::GateTooEarly(phase));
        }
        if self.phase_gate_failed(phase) || self.gates[phase].iter().any(|r| r.gate == gate) {
            return Err(StateError::GateDecided {
                phase,
                gate: gate.to_string(),
            });
        }
        self.gates[phase].push(GateResult {
            gate: gate.to_string(),
            passed,
            log: log.to_string(),
        });
        let (tasks, plan, gates) = (&self.tasks, &self.plan, &self.gates);
        let status_of = |t: usize| tasks[t].status;
        if passed {
            self.derived
                .reopen(plan, &status_of, &|p| gates_passed(plan, gates, p));
        } else {
            self.derived.phase_dead(phase, &status_of);
        }
        Ok(())
    }

    /// Moves task `i` to `to` and keeps the indexes in step.
    /// Adds a task at the end, pending, on `agent`, to the plan and the
    /// lookup by ID. The index learns of it with [`Self::index_parts`].
    pub(super) fn add_task(&mut self, plan: TaskPlan, agent: String) {
        let t = self.plan.tasks.len();
        self.plan.tasks.push(plan);
        self.tasks.push(TaskState {
            status: TaskStatus::Pending,
            agent,
            attempts: Vec::new(),
            retry_at: None,
            blocked_by: None,
            progress: None,
            reports: Rare::new(),
            work: Rare::new(),
        });
        let at = self.by_id.partition_point(|&other| {
            self.plan.tasks[other as usize].id.as_str() < self.plan.tasks[t].id.as_str()
        });
        self.by_id.insert(at, t as u32);
    }

    /// The index learns of the tasks from `first` on, which task `parent`
    /// now waits for.
    pub(super) fn index_parts(&mut self, parent: usize, first: usize) {
        let (tasks, plan, by_id) = (&self.tasks, &self.plan, &self.by_id);
        self.derived
            .add_parts(plan, parent, first, |id| find(plan, by_id, id), &|t| {
                tasks[t].status
            });
    }

    pub(super) fn set_status(&mut self, i: usize, to: TaskStatus) {
        let from = self.tasks[i].status;
        self.tasks[i].status = to;
        let (tasks, plan, gates) = (&self.tasks, &self.plan, &self.gates);
        self.derived
            .moved(i, from, to, plan, &|t| tasks[t].status, &|p| {
                gates_passed(plan, gates, p)
            });
    }

    fn finish(&mut self, status: MissionStatus) -> Result<(), StateError> {
        let cannot = |why: &str| StateError::CannotFinish {
            status,
            why: why.to_string(),
        };
        if status == MissionStatus::Aborted {
            return self.finish_aborted();
        }
        if let Some(t) = self.tasks.iter().position(|t| !t.status.is_terminal()) {
            return Err(cannot(&format!(
                "task `{}` is {}",
                self.plan.tasks[t].id, self.tasks[t].status
            )));
        }
        if !self.gates_due().is_empty() {
            return Err(cannot("a phase gate is still due"));
        }
        if self.done_due().is_some() {
            return Err(cannot("a check of the definition of done is still due"));
        }
        let action = match status {
            MissionStatus::Succeeded => {
                if !self.all_succeeded() {
                    return Err(cannot(
                        "not every task, gate and definition-of-done check succeeded",
                    ));
                }
                MissionMove::Succeed
            }
            MissionStatus::Failed => {
                if self.all_succeeded() {
                    return Err(cannot(
                        "every task, gate and definition-of-done check succeeded",
                    ));
                }
                MissionMove::Fail
            }
            _ => return Err(cannot("a mission finishes as succeeded or failed")),
        };
        self.status = self.mission_after(action)?;
        // A succeeded mission leaves nothing to decide; a failed one keeps
        // its escalations open: a decision gives it another round.
        if status == MissionStatus::Succeeded {
            self.open_escalations.clear();
        }
        Ok(())
    }

    /// The person aborted: the mission ends once nothing of it runs.
    fn finish_aborted(&mut self) -> Result<(), StateError> {
        let cannot = |why: String| StateError::CannotFinish {
            status: MissionStatus::Aborted,
            why,
        };
        if !self.aborting {
            return Err(cannot("nobody decided to abort it".into()));
        }
        let busy = [
            TaskStatus::Queued,
            TaskStatus::Running,
            TaskStatus::Checking,
        ];
        if let Some(t) = self.tasks.iter().position(|t| busy.contains(&t.status)) {
            return Err(cannot(format!(
                "task `{}` is still {}",
                self.plan.tasks[t].id, self.tasks[t].status
            )));
        }
        self.status = self.mission_after(MissionMove::Abort)?;
        self.open_escalations.clear();
        Ok(())
    }

    fn all_succeeded(&self) -> bool {
        self.work_succeeded() && self.done_met()
    }

    /// Whether every task and every phase gate succeeded: the work is all
    /// in, and the definition of done's checks may run.
    pub fn work_succeeded(&self) -> bool {
        self.derived.count(TaskStatus::Succeeded) + self.derived.count(TaskStatus::Skipped)
            == self.tasks.len()
            && (0..self.plan.phases.len()).all(|p| self.phase_gates_passed(p))
    }

    /// Whether every gate of `phase` has passed (trivially, with no gates).
    pub fn phase_gates_passed(&self, phase: usize) -> bool {
        gates_passed(&self.plan, &self.gates, phase)
    }

    /// Whether a gate of `phase` has failed.
    pub fn phase_gate_failed(&self, phase: usize) -> bool {
        self.gates[phase].iter().any(|r| !r.passed)
    }

    /// A phase that can never pass: a gate failed or a task failed or was
    /// blocked.
    fn phase_dead(&self, phase: usize) -> bool {
        self.phase_gate_failed(phase)
            || self.derived.phase_tasks(phase).iter().any(|&t| {
                matches!(
                    self.tasks[t].status,
                    TaskStatus::Failed | TaskStatus::Blocked
                )
            })
    }

    /// Phases whose tasks all succeeded, with the next gate not yet run.
    pub fn gates_due(&self) -> Vec<(usize, String)> {
        let mut due = Vec::new();
        for (p, phase) in self.plan.phases.iter().enumerate() {
            if !self.derived.phase_complete(p) || self.phase_gate_failed(p) {
                continue;
            }
            if let Some(gate) = phase
                .gates
                .iter()
                .find(|g| !self.gates[p].iter().any(|r| &r.gate == *g))
            {
                due.push((p, gate.clone()));
            }
        }
        due
    }

    /// Tasks that may start now, in task order: pending with every
    /// dependency succeeded and their phase open, or retrying with their
    /// delay over.
    pub fn ready(&self, now: Timestamp) -> Vec<usize> {
        let mut ready: Vec<usize> = self.ready_in_order(now).collect();
        ready.sort_unstable();
        ready
    }

    /// The same tasks in dispatch order: critical priority first, then the
    /// longest remaining path, then file order. Lazy, so that taking the
    /// first few costs little however many are ready.
    pub fn ready_in_order(&self, now: Timestamp) -> impl Iterator<Item = usize> + '_ {
        let mut due: Vec<_> = self
            .derived
            .retrying
            .iter()
            .filter(|&&t| self.tasks[t].retry_at.is_none_or(|at| at <= now))
            .map(|&t| self.derived.key(t))
            .collect();
        due.sort_unstable();
        merge(due.into_iter(), self.derived.ready.iter().copied()).map(|(_, _, t)| t)
    }

    /// Pending tasks that can never start, each with what blocks it.
    pub fn newly_blocked(&self) -> Vec<(usize, String)> {
        self.derived
            .blockable
            .iter()
            .filter_map(|&t| self.block_reason(t).map(|by| (t, by)))
            .collect()
    }

    pub(super) fn block_reason(&self, t: usize) -> Option<String> {
        let plan = &self.plan.tasks[t];
        let dependency = plan.depends_on.iter().find(|d| {
            self.task_index(d).is_some_and(|d| {
                matches!(
                    self.tasks[d].status,
                    TaskStatus::Failed | TaskStatus::Blocked
                )
            })
        });
        if let Some(dependency) = dependency {
            return Some(dependency.clone());
        }
        if let Some(on) = self.external_block(t) {
            return Some(on);
        }
        let closed = plan
            .detail
            .phase
            .and_then(|p| (0..p).find(|&q| self.phase_dead(q)))?;
        Some(format!("phase:{}", self.plan.phases[closed].name))
    }

    pub fn count(&self, status: TaskStatus) -> usize {
        self.derived.count(status)
    }

    /// Tasks running now.
    pub fn running(&self) -> impl Iterator<Item = usize> + '_ {
        self.derived.running.iter().copied()
    }

    /// Tasks whose attempt has claimed a slot and waits for it, most urgent
    /// first.
    pub fn queued(&self) -> impl Iterator<Item = usize> + '_ {
        self.derived.queued.iter().map(|&(_, _, t)| t)
    }

    /// Until when `executor` starts nothing, if it is paused at `now`.
    pub fn executor_paused_until(&self, executor: &str, now: Timestamp) -> Option<Timestamp> {
        self.paused_executors
            .iter()
            .find(|(e, until)| e == executor && *until > now)
            .map(|(_, until)| *until)
    }

    /// Whether task `a` goes before task `b` in dispatch order.
    pub fn more_urgent(&self, a: usize, b: usize) -> bool {
        self.derived.key(a) < self.derived.key(b)
    }

    /// How many tasks are in each status, as of the last event.
    pub fn tally(&self) -> Tally {
        Tally {
            counts: TaskStatus::ALL.map(|s| self.derived.count(s)),
        }
    }

    /// Tasks waiting for their next attempt.
    pub fn retrying(&self) -> impl Iterator<Item = usize> + '_ {
        self.derived.retrying.iter().copied()
    }

    /// Failed share of finished tasks (blocked tasks are not counted: they
    /// did not fail on their own).
    pub fn failure_rate(&self) -> f64 {
        let failed = self.count(TaskStatus::Failed);
        let finished = failed + self.count(TaskStatus::Succeeded);
        if finished == 0 {
            0.0
        } else {
            failed as f64 / finished as f64
        }
    }

    /// Whether nothing more can happen: every task finished, and every due
    /// gate and definition-of-done check has run (or can no longer run).
    pub fn is_settled(&self) -> bool {
        let finished = self.count(TaskStatus::Succeeded)
            + self.count(TaskStatus::Skipped)
            + self.count(TaskStatus::Failed)
            + self.count(TaskStatus::Blocked);
        finished == self.tasks.len() && self.gates_due().is_empty() && self.done_due().is_none()
    }

    /// The status a settled mission finishes with.
    pub fn final_status(&self) -> MissionStatus {
        if self.aborting {
            MissionStatus::Aborted
        } else if self.all_succeeded() {
            MissionStatus::Succeeded
        } else {
            MissionStatus::Failed
        }
    }
}

/// How many tasks are in each status at one point of the log: small and
/// `Copy`, so that a view can keep the counts as of the last event it
/// showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Tally {
    counts: [usize; TaskStatus::ALL.len()],
}

impl Tally {
    pub fn count(&self, status: TaskStatus) -> usize {
        self.counts[status as usize]
    }

    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// Tasks that will not move again.
    pub fn finished(&self) -> usize {
        TaskStatus::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .map(|&s| self.count(s))
            .sum()
    }
}

fn gates_passed(plan: &MissionPlan, gates: &[Vec<GateResult>], phase: usize) -> bool {
    plan.phases[phase]
        .gates
        .iter()
        .all(|g| gates[phase].iter().any(|r| &r.gate == g && r.passed))
}

/// Records one part an agent proposed, once, up to the most a split takes;
/// proposing parts says the task is too big for this attempt.
fn propose_part(detail: &mut Rare<AttemptDetail>, title: &str) {
    if detail.parts.len() >= super::split::MAX_PARTS || detail.parts.iter().any(|p| p == title) {
        return;
    }
    detail.parts.push(title.to_string());
    if detail.blocked.is_none() {
        detail.blocked = Some("too big for one attempt: proposed splitting it".to_string());
    }
}

/// The position of the task with ID `id`, given the positions in ID order.
fn find(plan: &MissionPlan, by_id: &[u32], id: &str) -> Option<usize> {
    by_id
        .binary_search_by(|&t| plan.tasks[t as usize].id.as_str().cmp(id))
        .ok()
        .map(|i| by_id[i] as usize)
}

/// Merges two sorted iterators into one sorted iterator.
fn merge<T: Ord + Copy>(
    a: impl Iterator<Item = T>,
    b: impl Iterator<Item = T>,
) -> impl Iterator<Item = T> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    std::iter::from_fn(move || match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if x <= y => a.next(),
        (Some(_), Some(_)) => b.next(),
        (Some(_), None) => a.next(),
        (None, _) => b.next(),
    })
}
