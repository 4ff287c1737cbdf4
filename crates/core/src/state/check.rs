//! The fold of what happens to a task's work after its attempt succeeds:
//! saving it to the task branch, its gates in order, and its merge into
//! the integration branch (docs/workspaces.md).

use super::event::NextStep;
use super::fold::{CheckResult, MissionState, StateError};
use super::plan::{GatePlan, TaskPlan};
use super::status::{TaskMove, TaskStatus};

/// A gate's verdict as an event carries it.
pub(super) struct Verdict<'a> {
    pub gate: &'a str,
    pub passed: bool,
    pub reasons: &'a [String],
    pub log: &'a str,
}

impl MissionState {
    /// Whether a succeeded attempt of task `t` still has gates to pass or
    /// work to merge before the task is done.
    pub fn needs_check(&self, t: usize) -> bool {
        !self.plan.tasks[t].detail.gates.is_empty() || self.plan.repository.is_some()
    }

    /// Tasks whose work waits for its gates or its merge.
    pub fn checking(&self) -> impl Iterator<Item = usize> + '_ {
        self.derived.checking.iter().copied()
    }

    /// The next gate task `t` runs on its last attempt's work, or `None`
    /// when every gate passed (or the task is not being checked).
    pub fn next_gate(&self, t: usize) -> Option<(usize, &GatePlan)> {
        if self.tasks[t].status != TaskStatus::Checking || self.tasks[t].work.approved {
            return None;
        }
        let done = self.checks_of_last_attempt(t).count();
        self.plan.tasks[t].detail.gates.get(done).map(|g| (done, g))
    }

    /// Whether task `t` passed every gate and now waits to be accepted
    /// (merged, in a mission with a repository).
    pub fn accept_due(&self, t: usize) -> bool {
        self.tasks[t].status == TaskStatus::Checking && self.next_gate(t).is_none()
    }

    /// The verdicts on task `t`'s last attempt, in gate order.
    pub fn checks_of_last_attempt(&self, t: usize) -> impl Iterator<Item = &CheckResult> + '_ {
        let last = self.tasks[t].attempts.last().map_or(0, |a| a.number);
        self.tasks[t]
            .work
            .checks
            .iter()
            .filter(move |c| c.attempt == last)
    }

    pub(super) fn work_saved(
        &mut self,
        task: &str,
        attempt: u32,
        commit: &str,
        files: &[String],
    ) -> Result<(), StateError> {
        let i = self.current(task, attempt, &[TaskStatus::Queued, TaskStatus::Running])?;
        self.no_repository_is_an_error(i)?;
        let state = &mut self.tasks[i];
        state.work.commit = Some(commit.to_string());
        state.work.changed_files = files.to_vec();
        Ok(())
    }

    pub(super) fn task_gate_finished(
        &mut self,
        task: &str,
        attempt: u32,
        verdict: Verdict<'_>,
        next: Option<&NextStep>,
    ) -> Result<(), StateError> {
        let i = self.checked(task, attempt)?;
        let expected = self.next_gate(i).map(|(_, g)| g.name());
        if expected.as_deref() != Some(verdict.gate) {
            return Err(StateError::WrongGate {
                task: task.to_string(),
                expected: expected.unwrap_or_else(|| "none".into()),
                got: verdict.gate.to_string(),
            });
        }
        let action = match (verdict.passed, next) {
            (true, None) => None,
            (false, Some(NextStep::Retry { .. })) => Some(TaskMove::Retry),
            (false, Some(NextStep::Fail)) => Some(TaskMove::Fail),
            _ => {
                return Err(StateError::InconsistentNext {
                    task: task.to_string(),
                    outcome: format!("gate {} passed: {}", verdict.gate, verdict.passed),
                    next: format!("{next:?}"),
                });
            }
        };
        let status = action.map(|a| self.task_after(i, a)).transpose()?;
        let state = &mut self.tasks[i];
        state.work.checks.push(CheckResult {
            attempt,
            gate: verdict.gate.to_string(),
            passed: verdict.passed,
            reasons: verdict.reasons.to_vec(),
            log: verdict.log.to_string(),
        });
        if !verdict.passed {
            if let Some(last) = state.attempts.last_mut() {
                last.detail.rejected_by = Some(verdict.gate.to_string());
            }
            if let Some(NextStep::Retry { agent, at }) = next {
                state.agent = agent.clone();
                state.retry_at = Some(*at);
            }
        }
        if let Some(status) = status {
            self.set_status(i, status);
        }
        Ok(())
    }

    pub(super) fn accepted(&mut self, task: &str, merge: Option<&str>) -> Result<(), StateError> {
        let i = self.acceptable(task)?;
        if merge.is_some() {
            self.no_repository_is_an_error(i)?;
        }
        let status = self.task_after(i, TaskMove::Succeed)?;
        self.tasks[i].work.merged = merge.map(str::to_string);
        self.set_status(i, status);
        Ok(())
    }

    pub(super) fn conflicted(
        &mut self,
        task: &str,
        files: &[String],
        next: &NextStep,
    ) -> Result<(), StateError> {
        let i = self.acceptable(task)?;
        self.no_repository_is_an_error(i)?;
        let action = match next {
            NextStep::Retry { .. } => TaskMove::Retry,
            NextStep::Fail => TaskMove::Fail,
            _ => {
                return Err(StateError::InconsistentNext {
                    task: task.to_string(),
                    outcome: "merge conflict".into(),
                    next: format!("{next:?}"),
                });
            }
        };
        let status = self.task_after(i, action)?;
        let state = &mut self.tasks[i];
        state.work.conflicts += 1;
        if let NextStep::Retry { agent, at } = next {
            state.work.conflict = Some(files.to_vec());
            state.agent = agent.clone();
            state.retry_at = Some(*at);
        }
        self.set_status(i, status);
        Ok(())
    }

    /// Task `task`, being checked after attempt `attempt`.
    fn checked(&self, task: &str, attempt: u32) -> Result<usize, StateError> {
        let i = self.task(task)?;
        let last = self.tasks[i].attempts.last().map(|a| a.number);
        if self.tasks[i].status != TaskStatus::Checking || last != Some(attempt) {
            return Err(StateError::NotChecking(task.to_string()));
        }
        Ok(i)
    }

    /// Task `task`, whose gates all passed.
    fn acceptable(&self, task: &str) -> Result<usize, StateError> {
        let i = self.task(task)?;
        if !self.accept_due(i) {
            return Err(StateError::NotChecking(task.to_string()));
        }
        Ok(i)
    }

    fn no_repository_is_an_error(&self, i: usize) -> Result<(), StateError> {
        match self.plan.repository {
            Some(_) => Ok(()),
            None => Err(StateError::NoRepository(self.plan.tasks[i].id.clone())),
        }
    }
}

/// What task `t` declared it needs (`needs:`) that none of its
/// dependencies' work has: neither reported as an artifact nor among the
/// files their branches changed.
pub fn missing_needs(state: &MissionState, t: usize) -> Vec<String> {
    let plan = &state.plan.tasks[t];
    plan.detail
        .needs
        .iter()
        .filter(|need| {
            !plan.depends_on.iter().any(|d| {
                state
                    .task_index(d)
                    .is_some_and(|d| has(&state.tasks[d], need))
            })
        })
        .cloned()
        .collect()
}

/// Whether a task's work has `path`: reported, or changed (a directory
/// covers what is under it).
fn has(state: &super::fold::TaskState, path: &str) -> bool {
    let path = path.trim_end_matches('/');
    state
        .reports
        .artifacts
        .iter()
        .chain(&state.work.changed_files)
        .any(|have| {
            let have = have.trim_end_matches('/');
            have == path
                || have.starts_with(&format!("{path}/"))
                || path.starts_with(&format!("{have}/"))
        })
}

/// The declared artifacts a task's work does not have: neither reported
/// (`::artifact`) nor among the files its branch changed.
pub fn missing_artifacts<'a>(plan: &'a TaskPlan, state: &super::fold::TaskState) -> Vec<&'a str> {
    plan.detail
        .artifacts
        .iter()
        .filter(|a| !has(state, a))
        .map(String::as_str)
        .collect()
}
