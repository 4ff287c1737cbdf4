//! Emergencies across missions (`techlead run --emergency`). An emergency
//! mission records the agents it needs in the store; the writer of every
//! other mission looks at those records every [`PREEMPTION_POLL`], and
//! while an emergency whose run is alive holds agents it shares, it
//! suspends its own non-critical attempts on them (stopped like Ctrl-C
//! stops them, recorded as `suspended`, requeued without using a retry,
//! their work saved in their worktree) and starts nothing new on them.
//! When the emergency ends, or no run holds it any more (it crashed), the
//! held tasks go on. Each writer still writes only its own mission.

use super::{Error, Mission};
use std::time::{Duration, Instant};
use techlead_core::dispatch;
use techlead_core::state::Event;
use techlead_store::Store;

/// How often a mission looks for emergencies that hold its agents.
pub const PREEMPTION_POLL: Duration = Duration::from_millis(250);

impl<S: Store + 'static> Mission<S> {
    /// Makes this run an emergency: the agents of its unfinished tasks are
    /// taken from every other mission until it ends.
    pub fn emergency(&mut self) -> Result<(), Error> {
        let mut agents: Vec<String> = Vec::new();
        for task in self.state.tasks.iter().filter(|t| !t.status.is_terminal()) {
            if !agents.contains(&task.agent) {
                agents.push(task.agent.clone());
            }
        }
        let store = self
            .store
            .as_mut()
            .expect("no commit is in flight at start");
        store.preempt(&self.id, &agents, jiff::Timestamp::now())?;
        self.emergency = true;
        Ok(())
    }

    /// The emergency is over: other missions take their agents back.
    pub(super) fn end_emergency(&mut self) {
        if !self.emergency {
            return;
        }
        if let Some(store) = self.store.as_mut() {
            // A failure here leaves a record no live run holds: the other
            // missions see that and go on anyway.
            let _ = store.end_preemption(&self.id, jiff::Timestamp::now());
        }
    }

    /// Records emergencies that began or ended since the last look, and
    /// suspends what they hold.
    pub(super) fn watch_preemptions(&mut self) -> Result<(), Error> {
        if self.emergency
            || self
                .preemptions_read
                .is_some_and(|at| at.elapsed() < PREEMPTION_POLL)
        {
            return Ok(());
        }
        let Some(store) = self.store.as_ref() else {
            return Ok(());
        };
        self.preemptions_read = Some(Instant::now());
        let mine: Vec<&str> = self.state.tasks.iter().map(|t| t.agent.as_str()).collect();
        let mut active: Vec<(String, Vec<String>)> = Vec::new();
        for row in store.preemptions()? {
            let shared: Vec<String> = row
                .agents
                .into_iter()
                .filter(|a| mine.contains(&a.as_str()))
                .collect();
            if row.by != self.id && !shared.is_empty() && is_running(store, &row.by) {
                active.push((row.by, shared));
            }
        }
        let ended: Vec<String> = self
            .state
            .preempted_by
            .iter()
            .filter(|(by, _)| !active.iter().any(|(a, _)| a == by))
            .map(|(by, _)| by.clone())
            .collect();
        for by in ended {
            self.stage(Event::PreemptionEnded { by })?;
        }
        let mut began = false;
        for (by, agents) in active {
            if !self.state.preempted_by.iter().any(|(b, _)| *b == by) {
                self.stage(Event::Preempted { by, agents })?;
                began = true;
            }
        }
        if began {
            self.suspend_held()?;
        }
        Ok(())
    }

    /// When to look for emergencies next.
    pub(super) fn next_preemption_read(&self) -> Option<Instant> {
        if self.emergency {
            return None;
        }
        Some(
            self.preemptions_read
                .map_or_else(Instant::now, |at| at + PREEMPTION_POLL),
        )
    }

    /// Stops the attempts an emergency holds and gives back held claims.
    fn suspend_held(&mut self) -> Result<(), Error> {
        let held: Vec<usize> = self
            .running
            .keys()
            .copied()
            .filter(|&t| dispatch::held(&self.state, t))
            .collect();
        for t in held {
            let by = self.holder_of(t);
            if let Some(running) = self.running.get(&t) {
                running.cancel.cancel();
            }
            self.suspending.insert(t, by);
        }
        let claimed: Vec<usize> = self
            .state
            .queued()
            .filter(|&t| dispatch::held(&self.state, t) && !self.running.contains_key(&t))
            .collect();
        for t in claimed {
            self.withdraw(t)?;
        }
        Ok(())
    }

    fn holder_of(&self, t: usize) -> String {
        let agent = &self.state.tasks[t].agent;
        self.state
            .preempted_by
            .iter()
            .find(|(_, agents)| agents.contains(agent))
            .map(|(by, _)| by.clone())
            .unwrap_or_default()
    }
}

/// Whether a run holds mission `id`: an emergency whose run died holds
/// nothing. Looked at without taking the lock (on PostgreSQL, taking it
/// would open a session per look).
fn is_running(store: &impl Store, id: &str) -> bool {
    store.is_locked(id).unwrap_or(false)
}
