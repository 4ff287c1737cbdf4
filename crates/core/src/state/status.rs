//! Task and mission statuses and the only moves between them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Waiting for its dependencies (or its phase) or for a free slot.
    Pending,
    /// An attempt is claimed: it starts as soon as a slot frees. The claim
    /// is durable before the process is spawned, so a crash never loses
    /// track of a process (docs/running.md, "Claims").
    Queued,
    /// An attempt is running.
    Running,
    /// An attempt failed; the next one starts after a delay.
    Retrying,
    /// The last attempt succeeded; its gates check the work, then it
    /// merges into the integration branch.
    Checking,
    Succeeded,
    /// Retries (and the backup agent) are exhausted.
    Failed,
    /// A dependency failed or was blocked, so this task cannot start.
    Blocked,
    /// The person chose to go on without it: its dependents start as if
    /// it had succeeded.
    Skipped,
}

/// What moves a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskMove {
    /// Claim the next slot.
    Queue,
    Start,
    /// The attempt succeeded; gates or a merge come next.
    Check,
    Succeed,
    Retry,
    Fail,
    /// Back to pending without using a retry (interrupted, cancelled, a
    /// claim given back).
    Requeue,
    Block,
    /// The person asked for another round: a failed or blocked task waits
    /// again.
    Reopen,
    /// The person chose to go on without a failed or blocked task.
    Skip,
    /// The person accepted a failed task's work as it is: it merges.
    Approve,
    /// The task becomes smaller ones and waits for them: after an attempt
    /// that proposed them, or the person's decision.
    Split,
}

/// A move that is not allowed from a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} from {from}")]
pub struct IllegalTransition {
    pub from: String,
    pub action: String,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 9] = [
        TaskStatus::Pending,
        TaskStatus::Queued,
        TaskStatus::Running,
        TaskStatus::Retrying,
        TaskStatus::Checking,
        TaskStatus::Succeeded,
        TaskStatus::Failed,
        TaskStatus::Blocked,
        TaskStatus::Skipped,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskStatus::Succeeded | TaskStatus::Failed | TaskStatus::Blocked | TaskStatus::Skipped
        )
    }

    /// Whether its dependents may start: it succeeded, or the person chose
    /// to go on without it.
    pub fn lets_dependents_start(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Queued => "queued",
            TaskStatus::Running => "running",
            TaskStatus::Retrying => "retrying",
            TaskStatus::Checking => "checking",
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::Blocked => "blocked",
            TaskStatus::Skipped => "skipped",
        }
    }

    /// The status after `action`, or why it is not allowed.
    pub fn after(self, action: TaskMove) -> Result<TaskStatus, IllegalTransition> {
        use TaskMove as M;
        use TaskStatus as S;
        let next = match (self, action) {
            (S::Pending | S::Retrying, M::Queue) => S::Queued,
            (S::Queued, M::Start) => S::Running,
            (S::Running, M::Check) => S::Checking,
            (S::Running | S::Checking, M::Succeed) => S::Succeeded,
            // A claimed attempt whose process could not start; a gate that
            // rejected the work; a merge conflict an agent resolves.
            (S::Queued | S::Running | S::Checking, M::Retry) => S::Retrying,
            (S::Queued | S::Running | S::Checking, M::Fail) => S::Failed,
            (S::Queued | S::Running, M::Requeue) => S::Pending,
            (S::Pending | S::Retrying, M::Block) => S::Blocked,
            (S::Failed | S::Blocked, M::Reopen) => S::Pending,
            (S::Failed | S::Blocked, M::Skip) => S::Skipped,
            (S::Failed, M::Approve) => S::Checking,
            (S::Pending | S::Failed | S::Blocked, M::Split) => S::Pending,
            _ => {
                return Err(IllegalTransition {
                    from: self.to_string(),
                    action: format!("{action:?}").to_lowercase(),
                });
            }
        };
        Ok(next)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a mission is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionStatus {
    /// Recorded, never run.
    Created,
    Running,
    /// Dispatch stopped until the person decides (an escalation).
    Paused,
    /// Stopped by the person (Ctrl-C); `resume` continues it.
    Interrupted,
    Succeeded,
    /// Finished with failed or blocked tasks.
    Failed,
    /// Stopped for good by the person's decision.
    Aborted,
}

/// What moves a mission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MissionMove {
    /// A run or resume begins. From `Running` too: the last run crashed.
    Run,
    Pause,
    Unpause,
    Interrupt,
    Succeed,
    Fail,
    /// The person's decision gives a failed mission another round: it
    /// waits for a run, paused until one takes it over.
    Reopen,
    /// The person stopped the mission for good.
    Abort,
}

impl MissionStatus {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            MissionStatus::Succeeded | MissionStatus::Failed | MissionStatus::Aborted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MissionStatus::Created => "created",
            MissionStatus::Running => "running",
            MissionStatus::Paused => "paused",
            MissionStatus::Interrupted => "interrupted",
            MissionStatus::Succeeded => "succeeded",
            MissionStatus::Failed => "failed",
            MissionStatus::Aborted => "aborted",
        }
    }

    pub fn after(self, action: MissionMove) -> Result<MissionStatus, IllegalTransition> {
        use MissionMove as M;
        use MissionStatus as S;
        let next = match (self, action) {
            (S::Created | S::Running | S::Paused | S::Interrupted, M::Run) => S::Running,
            (S::Running, M::Pause) => S::Paused,
            (S::Paused, M::Unpause) => S::Running,
            (S::Running | S::Paused, M::Interrupt) => S::Interrupted,
            (S::Running, M::Succeed) => S::Succeeded,
            (S::Running | S::Paused, M::Fail) => S::Failed,
            (S::Failed, M::Reopen) => S::Paused,
            (S::Created | S::Running | S::Paused | S::Interrupted, M::Abort) => S::Aborted,
            _ => {
                return Err(IllegalTransition {
                    from: self.to_string(),
                    action: format!("{action:?}").to_lowercase(),
                });
            }
        };
        Ok(next)
    }
}

impl fmt::Display for MissionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_task_never_moves_again() {
        for status in [
            TaskStatus::Succeeded,
            TaskStatus::Failed,
            TaskStatus::Blocked,
        ] {
            for action in [
                TaskMove::Queue,
                TaskMove::Start,
                TaskMove::Check,
                TaskMove::Succeed,
                TaskMove::Retry,
                TaskMove::Fail,
                TaskMove::Requeue,
                TaskMove::Block,
            ] {
                assert!(status.after(action).is_err(), "{status} {action:?}");
            }
        }
    }

    #[test]
    fn an_attempt_is_claimed_before_it_starts() {
        assert_eq!(
            TaskStatus::Pending.after(TaskMove::Queue),
            Ok(TaskStatus::Queued)
        );
        assert_eq!(
            TaskStatus::Queued.after(TaskMove::Start),
            Ok(TaskStatus::Running)
        );
        assert!(TaskStatus::Pending.after(TaskMove::Start).is_err());
        assert!(TaskStatus::Queued.after(TaskMove::Succeed).is_err());
        assert!(TaskStatus::Queued.after(TaskMove::Queue).is_err());
    }

    #[test]
    fn a_crashed_run_can_be_resumed_but_a_finished_mission_cannot() {
        assert_eq!(
            MissionStatus::Running.after(MissionMove::Run),
            Ok(MissionStatus::Running)
        );
        assert!(MissionStatus::Succeeded.after(MissionMove::Run).is_err());
        assert!(MissionStatus::Failed.after(MissionMove::Run).is_err());
    }

    #[test]
    fn checked_work_succeeds_goes_back_or_fails_but_never_restarts_in_place() {
        let checking = TaskStatus::Running.after(TaskMove::Check).unwrap();
        assert_eq!(checking, TaskStatus::Checking);
        assert_eq!(checking.after(TaskMove::Succeed), Ok(TaskStatus::Succeeded));
        assert_eq!(checking.after(TaskMove::Retry), Ok(TaskStatus::Retrying));
        assert_eq!(checking.after(TaskMove::Fail), Ok(TaskStatus::Failed));
        for action in [
            TaskMove::Queue,
            TaskMove::Start,
            TaskMove::Check,
            TaskMove::Block,
        ] {
            assert!(checking.after(action).is_err(), "{action:?}");
        }
        assert!(TaskStatus::Queued.after(TaskMove::Check).is_err());
    }
}
