//! The fold of the mission's definition of done: its checks (items with a
//! `run` command) run once every task and phase gate succeeded, one at a
//! time in list order, each decided once; the mission succeeds only if
//! every check passed. Items without a command are statements the person
//! confirms: the record never decides them.

use super::fold::{MissionState, StateError};
use super::status::IllegalTransition;
use serde::Serialize;

/// A definition-of-done check's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DoneResult {
    pub passed: bool,
    pub exit_code: Option<i32>,
    /// The check's output file, relative to the data directory.
    pub log: String,
    /// The check failed and the person accepted it anyway.
    pub approved: bool,
}

/// Where one item of the definition of done stands, as a report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DoneState {
    /// Its check passed.
    Met,
    /// Its check failed.
    NotMet,
    /// Its check failed, and the person accepted it (`approve`).
    Approved,
    /// A statement the person confirms; techlead does not check it.
    ToConfirm,
    /// Its check has not run yet (the work is not all in, or it is next).
    NotChecked,
}

impl DoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            DoneState::Met => "met",
            DoneState::NotMet => "not met",
            DoneState::Approved => "not met, approved by you",
            DoneState::ToConfirm => "to confirm",
            DoneState::NotChecked => "not checked yet",
        }
    }
}

impl MissionState {
    /// The next check of the definition of done to run, once the work is
    /// all in: the first item with a command and no verdict. Checks run one
    /// at a time (they share the integration checkout), and every one runs
    /// even after one failed, so that the report is whole.
    pub fn done_due(&self) -> Option<usize> {
        if !self.work_succeeded() {
            return None;
        }
        self.plan
            .done_when
            .iter()
            .zip(&self.done)
            .position(|(item, result)| item.run.is_some() && result.is_none())
    }

    /// Whether every check of the definition of done passed (trivially,
    /// with none).
    pub fn done_met(&self) -> bool {
        self.plan
            .done_when
            .iter()
            .zip(&self.done)
            .all(|(item, result)| {
                item.run.is_none() || result.as_ref().is_some_and(|r| r.passed || r.approved)
            })
    }

    /// Where item `i` of the definition of done stands.
    pub fn done_state(&self, i: usize) -> DoneState {
        match (&self.plan.done_when[i].run, &self.done[i]) {
            (None, _) => DoneState::ToConfirm,
            (Some(_), None) => DoneState::NotChecked,
            (Some(_), Some(result)) if result.passed => DoneState::Met,
            (Some(_), Some(result)) if result.approved => DoneState::Approved,
            (Some(_), Some(_)) => DoneState::NotMet,
        }
    }

    pub(super) fn done_checked(
        &mut self,
        item: usize,
        passed: bool,
        exit_code: Option<i32>,
        log: &str,
    ) -> Result<(), StateError> {
        if self
            .plan
            .done_when
            .get(item)
            .is_none_or(|i| i.run.is_none())
        {
            return Err(StateError::UnknownDoneCheck(item));
        }
        if self.status.is_finished() {
            return Err(StateError::Mission(IllegalTransition {
                from: self.status.to_string(),
                action: "record a definition-of-done check".to_string(),
            }));
        }
        if !self.work_succeeded() {
            return Err(StateError::DoneTooEarly(item));
        }
        if self.done[item].is_some() {
            return Err(StateError::DoneDecided(item));
        }
        self.done[item] = Some(DoneResult {
            passed,
            exit_code,
            log: log.to_string(),
            approved: false,
        });
        Ok(())
    }
}
