//! Dependencies on tasks of other missions in the same database
//! (`depends_on: [billing/API]`, docs/mission-spec.md, "Other missions").
//!
//! The mission's writer looks at the other mission's record and records
//! what it saw in this mission's log (`external_succeeded`,
//! `external_failed`) before acting on it: the fold only ever reads this
//! mission's events, so a replay reaches the same state whatever the other
//! mission did since. What the writer saw is judged here ([`judge`]), as
//! plain data.

use super::fold::{MissionState, StateError};
use super::status::{MissionStatus, TaskStatus};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A task of another mission that a task waits for: `mission/TASK`. The
/// mission is a name (its newest run) or an ID (`billing-2`). Task IDs
/// have no `/`, so the last `/` splits the two.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExternalDependency {
    pub mission: String,
    pub task: String,
}

impl ExternalDependency {
    /// Reads `mission/TASK`; `None` when the text has no `/` (a task of
    /// this mission). A malformed one is an error saying what is wrong.
    pub fn parse(text: &str) -> Option<Result<ExternalDependency, String>> {
        let (mission, task) = text.rsplit_once('/')?;
        let (mission, task) = (mission.trim(), task.trim());
        Some(if mission.is_empty() {
            Err(format!("`{text}` names no mission before the `/`"))
        } else if task.is_empty() {
            Err(format!("`{text}` names no task after the `/`"))
        } else if !is_task_id(task) {
            Err(format!("`{task}` in `{text}` is not a task ID"))
        } else {
            Ok(ExternalDependency {
                mission: mission.to_string(),
                task: task.to_string(),
            })
        })
    }
}

/// Letters, digits, `-`, `_` and `.`, starting with a letter or digit: the
/// task IDs of mission files.
fn is_task_id(id: &str) -> bool {
    id.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

impl fmt::Display for ExternalDependency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.mission, self.task)
    }
}

impl Serialize for ExternalDependency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ExternalDependency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match ExternalDependency::parse(&text) {
            Some(Ok(dependency)) => Ok(dependency),
            Some(Err(why)) => Err(serde::de::Error::custom(why)),
            None => Err(serde::de::Error::custom(format!(
                "`{text}` is not `mission/TASK`"
            ))),
        }
    }
}

/// Where one external dependency stands, as this mission's log says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ExternalState {
    /// Not seen succeeded yet: the task waits.
    Waiting,
    /// The other task durably succeeded, in mission `mission`.
    Succeeded { mission: String },
    /// It can no longer succeed (it failed, was blocked or skipped, its
    /// mission was aborted, or has no such task): the task is blocked until
    /// the person decides.
    Failed { mission: String, reason: String },
}

/// One external dependency of one task, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalWait {
    /// The waiting task's position.
    #[serde(skip)]
    pub task: usize,
    pub on: ExternalDependency,
    #[serde(flatten)]
    pub state: ExternalState,
}

/// What the writer saw of the other mission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// No mission of that name or ID in the database (yet).
    NoMission,
    Mission {
        /// Its ID.
        id: &'a str,
        status: MissionStatus,
        /// The task's status there; `None`: it has no such task.
        task: Option<TaskStatus>,
    },
}

/// What to do about an external dependency, given what was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to record: the task keeps waiting, for this reason.
    Wait(String),
    /// Record `external_succeeded`.
    Succeeded { mission: String },
    /// Record `external_failed`: the task is blocked.
    Failed { mission: String, reason: String },
}

/// Judges one external dependency: succeeded once the other task durably
/// succeeded; failed once it cannot any more (failed, blocked or skipped
/// there, its mission aborted or failed, or no such task); otherwise wait.
/// A failed task in a mission still running counts as failed: its person
/// may retry it there, and then this mission's person retries here.
pub fn judge(on: &ExternalDependency, seen: Seen<'_>) -> Verdict {
    let Seen::Mission { id, status, task } = seen else {
        return Verdict::Wait(format!("mission `{}` has not started yet", on.mission));
    };
    let failed = |reason: String| Verdict::Failed {
        mission: id.to_string(),
        reason,
    };
    let task_id = &on.task;
    match task {
        None => failed(format!("{id} has no task `{task_id}`")),
        Some(TaskStatus::Succeeded) => Verdict::Succeeded {
            mission: id.to_string(),
        },
        Some(TaskStatus::Failed) => failed(format!("{task_id} failed in {id}")),
        Some(TaskStatus::Blocked) => failed(format!("{task_id} is blocked in {id}")),
        Some(TaskStatus::Skipped) => failed(format!(
            "{task_id} was skipped in {id}: its work was never done"
        )),
        Some(_) if status == MissionStatus::Aborted => failed(format!("{id} was aborted")),
        Some(_) if status == MissionStatus::Failed => failed(format!("{id} failed")),
        Some(other) => Verdict::Wait(format!("{task_id} is {other} in {id}")),
    }
}

impl MissionState {
    /// Every external dependency of every task, and where it stands.
    pub fn external(&self) -> &[ExternalWait] {
        &self.external
    }

    /// Task `t`'s external dependencies, and where each stands.
    pub fn external_of(&self, t: usize) -> impl Iterator<Item = &ExternalWait> + '_ {
        self.external.iter().filter(move |w| w.task == t)
    }

    /// The external dependencies the writer should look at now: not yet
    /// decided, of a task that waits for nothing else of its own mission.
    pub fn external_due(&self) -> impl Iterator<Item = &ExternalWait> + '_ {
        self.external.iter().filter(|w| {
            w.state == ExternalState::Waiting && self.tasks[w.task].status == TaskStatus::Pending
        })
    }

    /// The external dependencies task `t` still waits for.
    pub fn waiting_for(&self, t: usize) -> impl Iterator<Item = &ExternalDependency> + '_ {
        self.external
            .iter()
            .filter(move |w| w.task == t && w.state == ExternalState::Waiting)
            .map(|w| &w.on)
    }

    pub(super) fn external_succeeded(
        &mut self,
        task: &str,
        on: &ExternalDependency,
        mission: &str,
    ) -> Result<(), StateError> {
        let (t, w) = self.waiting_on(task, on)?;
        self.external[w].state = ExternalState::Succeeded {
            mission: mission.to_string(),
        };
        self.derived.external_met(t, &self.plan);
        Ok(())
    }

    pub(super) fn external_failed(
        &mut self,
        task: &str,
        on: &ExternalDependency,
        mission: &str,
        reason: &str,
    ) -> Result<(), StateError> {
        let (t, w) = self.waiting_on(task, on)?;
        self.external[w].state = ExternalState::Failed {
            mission: mission.to_string(),
            reason: reason.to_string(),
        };
        self.derived.blockable.insert(t);
        Ok(())
    }

    /// The pending task `task` and its external dependency `on`, which it
    /// still waits for.
    fn waiting_on(
        &self,
        task: &str,
        on: &ExternalDependency,
    ) -> Result<(usize, usize), StateError> {
        let t = self.task(task)?;
        let w = self
            .external
            .iter()
            .position(|w| w.task == t && w.on == *on)
            .ok_or_else(|| StateError::UnknownExternal {
                task: task.to_string(),
                on: on.to_string(),
            })?;
        if self.external[w].state != ExternalState::Waiting
            || self.tasks[t].status != TaskStatus::Pending
        {
            return Err(StateError::ExternalDecided {
                task: task.to_string(),
                on: on.to_string(),
            });
        }
        Ok((t, w))
    }

    /// The external dependency that keeps task `t` from starting, as
    /// `mission/TASK`.
    pub(super) fn external_block(&self, t: usize) -> Option<String> {
        self.external
            .iter()
            .find(|w| w.task == t && matches!(w.state, ExternalState::Failed { .. }))
            .map(|w| w.on.to_string())
    }

    /// The person asked for another round of blocked task `t`: its failed
    /// external dependencies are looked at again (the other mission may
    /// have run the task again since).
    pub(super) fn rewait_external(&mut self, t: usize) {
        for w in self.external.iter_mut().filter(|w| w.task == t) {
            if matches!(w.state, ExternalState::Failed { .. }) {
                w.state = ExternalState::Waiting;
            }
        }
    }
}

/// The external dependencies of a plan's tasks, all waiting.
pub(super) fn waits(plan: &super::plan::MissionPlan) -> Vec<ExternalWait> {
    plan.tasks
        .iter()
        .enumerate()
        .flat_map(|(t, task)| {
            task.detail.external.iter().map(move |on| ExternalWait {
                task: t,
                on: on.clone(),
                state: ExternalState::Waiting,
            })
        })
        .collect()
}
