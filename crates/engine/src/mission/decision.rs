//! The person's decisions, carried out by the mission's one writer. Other
//! processes (`techlead decide`, the server) put them in the store's inbox;
//! the writer reads it while an escalation is open (every
//! [`INBOX_POLL`]), and at take-over, and turns each into events:
//! `EscalationResolved` and the task moves it causes, or `DecisionRefused`
//! with the reason. A decision whose events were lost to a crash is still
//! pending in the inbox, and is carried out again at resume.

use super::{Error, Mission};
use std::time::{Duration, Instant};
use techlead_core::state::{Decision, Event};
use techlead_store::{DecisionRow, Store};

/// How often a running mission with an open escalation looks for the
/// person's decision: soon enough that a click in the dashboard shows its
/// effect at once, rare enough to cost nothing.
pub const INBOX_POLL: Duration = Duration::from_millis(200);

impl<S: Store + 'static> Mission<S> {
    /// Carries out the decisions waiting in the inbox, when one may be
    /// there and the store is not away committing.
    pub(super) fn take_decisions(&mut self, now: bool) -> Result<(), Error> {
        if !now
            && (self.state.open_escalations.is_empty()
                || self.inbox_read.is_some_and(|at| at.elapsed() < INBOX_POLL))
        {
            return Ok(());
        }
        let Some(store) = self.store.as_ref() else {
            return Ok(());
        };
        self.inbox_read = Some(Instant::now());
        let pending = store.decisions(&self.id, true)?;
        for row in pending {
            // Staged already, its commit still to come.
            if self.decisions_taken.insert(row.id) {
                self.carry_out(row)?;
            }
        }
        Ok(())
    }

    /// When to look at the inbox next, while an escalation is open.
    pub(super) fn next_inbox_read(&self) -> Option<Instant> {
        if self.state.open_escalations.is_empty() {
            return None;
        }
        Some(
            self.inbox_read
                .map_or_else(Instant::now, |at| at + INBOX_POLL),
        )
    }

    fn carry_out(&mut self, row: DecisionRow) -> Result<(), Error> {
        let decision = match &row.decision {
            Ok(decision) => decision.clone(),
            Err(action) => return self.refuse(&row, format!("unknown action `{action}`")),
        };
        if let Some(reason) = self.state.refusal(row.escalation, &decision) {
            return self.refuse(&row, reason);
        }
        let effects = self.state.decision_effects(row.escalation, &decision);
        let abort = decision == Decision::Abort;
        self.stage(Event::EscalationResolved {
            id: row.escalation,
            decision,
            by: row.by,
            note: row.note,
            request: Some(row.id),
        })?;
        for event in effects {
            self.stage(event)?;
        }
        self.unblock_freed()?;
        if abort {
            self.stop_everything();
        }
        Ok(())
    }

    fn refuse(&mut self, row: &DecisionRow, reason: String) -> Result<(), Error> {
        self.stage(Event::DecisionRefused {
            request: row.id,
            escalation: row.escalation,
            reason,
        })
    }

    /// Blocked tasks whose blockers a decision reopened or skipped wait
    /// again, and so on down the graph.
    fn unblock_freed(&mut self) -> Result<(), Error> {
        loop {
            let freed = self.state.newly_unblocked();
            if freed.is_empty() {
                return Ok(());
            }
            for t in freed {
                let task = self.state.plan.tasks[t].id.clone();
                self.stage(Event::TaskReopened { task, agent: None })?;
            }
        }
    }

    /// The person aborted: every attempt and gate is stopped the way
    /// Ctrl-C stops them; the mission finishes once they have.
    fn stop_everything(&mut self) {
        for running in self.running.values() {
            running.cancel.cancel();
        }
        self.inputs.cancel_gates();
    }
}

/// Why a decision was not put in the inbox.
#[derive(Debug, thiserror::Error)]
pub enum NotRecorded {
    /// The mission as recorded does not allow it (already decided, an
    /// unknown agent, a finished mission, ...).
    #[error("{0}")]
    Refused(String),
    /// A decision on the same escalation waits to be carried out.
    #[error(
        "escalation {escalation} already has a decision waiting to be carried out (decision {decision}, by {by})"
    )]
    Waiting {
        escalation: u32,
        decision: u32,
        by: String,
    },
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
}

/// A decision in the inbox: its number, and whether a run holds the
/// mission (it carries the decision out shortly; else `resume` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub decision: u32,
    pub running: bool,
}

/// Puts the person's decision on mission `mission` (folded as `state`) in
/// its inbox, once checked against the record: what `techlead decide` and
/// the server's decisions endpoint both do.
pub fn request<S: Store>(
    store: &mut S,
    mission: &str,
    state: &techlead_core::state::MissionState,
    request: &techlead_store::DecisionRequest,
) -> Result<Recorded, NotRecorded> {
    if let Some(reason) = state.refusal(request.escalation, &request.decision) {
        return Err(NotRecorded::Refused(reason));
    }
    if let Some(waiting) = store
        .decisions(mission, true)?
        .into_iter()
        .find(|d| d.escalation == request.escalation)
    {
        return Err(NotRecorded::Waiting {
            escalation: request.escalation,
            decision: waiting.id,
            by: waiting.by,
        });
    }
    let decision = store.request_decision(mission, request, jiff::Timestamp::now())?;
    // The lock is held by the run that carries it out, if any.
    let running = match store.lock(mission) {
        Ok(_lock) => false,
        Err(techlead_store::Error::Locked { .. }) => true,
        Err(e) => return Err(e.into()),
    };
    Ok(Recorded { decision, running })
}
