//! Splitting a task its agent found too big (`::split`): at once under
//! `on_blocked: split`, else offered to the person with the escalation
//! (docs/running.md, "Blocked agents").

use super::{Error, Mission};
use techlead_core::state::{AttemptOutcome, Event, MissionState, NextStep, OnBlocked};
use techlead_store::Store;

/// Fewest parts techlead splits a task into on its own: one part is the
/// task again.
const MIN_PARTS: usize = 2;

impl<S: Store + 'static> Mission<S> {
    /// What follows an attempt of task `t` that ended blocked, when the
    /// mission's policy says something other than the retry policy:
    /// `ask` fails the task (the person hears of it at once), `split`
    /// splits it when its agent proposed parts. A task is split once, and
    /// a part not at all, on techlead's own (an agent that keeps proposing
    /// parts would otherwise split forever): the person may split again.
    pub(super) fn when_blocked(&self, t: usize, outcome: &AttemptOutcome) -> Option<NextStep> {
        let blocked = self.state.tasks[t]
            .attempts
            .last()
            .is_some_and(|a| a.detail.blocked.is_some());
        if !blocked || !outcome.is_failure() {
            return None;
        }
        match self.state.plan.on_blocked {
            OnBlocked::Ask => Some(NextStep::Fail),
            OnBlocked::Split
                if self.state.proposed_parts(t).len() >= MIN_PARTS
                    && self.state.tasks[t].work.parts.is_empty()
                    && !self.state.is_part(t) =>
            {
                Some(NextStep::Split)
            }
            OnBlocked::Split | OnBlocked::Retry => None,
        }
    }

    /// Splits task `t` into the parts its agent proposed.
    pub(super) fn split_as_proposed(&mut self, t: usize) -> Result<(), Error> {
        let parts = self.state.parts_of(t, self.state.proposed_parts(t));
        let task = self.state.plan.tasks[t].id.clone();
        self.stage(Event::TaskSplit { task, parts })
    }

    /// The person's options on task `t`, which failed for good: splitting
    /// it is one when its agent proposed parts.
    pub(super) fn failure_options(&self, t: usize) -> Vec<String> {
        let mut options = vec!["retry", "reassign", "skip", "abort"];
        if !self.state.proposed_parts(t).is_empty() {
            options.insert(1, "split");
        }
        options.into_iter().map(String::from).collect()
    }

    /// The parts task `t`'s agent proposed, as the escalation's message
    /// ends with them.
    pub(super) fn proposal_note(&self, t: usize) -> Option<String> {
        let parts = self.state.proposed_parts(t);
        if parts.is_empty() {
            return None;
        }
        Some(format!(
            "; its agent proposed splitting it into: {} (decide `split` to do so)",
            parts.join("; ")
        ))
    }
}

/// The merge commit of split task `t`'s last merged part: the task's
/// branch must hold it before its agent finishes the task.
pub(super) fn parts_merge(state: &MissionState, t: usize) -> Option<String> {
    state.tasks[t]
        .work
        .parts
        .iter()
        .rev()
        .filter_map(|id| state.task_index(id))
        .find_map(|p| state.tasks[p].work.merged.clone())
}
