//! Agents shared with other missions on the same database
//! (docs/portfolio.md, "Shares and priorities"). For each agent with a
//! `max_parallel`, the writer publishes what it holds and waits for
//! (`agent_shares`), and before it starts a task on one it asks the store
//! for a slot (`Store::take_slot`: the other live missions' rows, the
//! decision of `core::portfolio::slots::admit` and its own row, in one
//! transaction). A task refused waits, its claim kept, and asks again
//! every [`SHARE_POLL`]; the reason is shown, not recorded: a slot decides
//! when an attempt starts, which the log records anyway, not what happens
//! to the task, so replay never needs it.

use super::{Error, Mission};
use jiff::Timestamp;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use techlead_core::portfolio::slots::{Admission, Demand, Wait};
use techlead_core::state::MissionStatus;
use techlead_store::Store;

/// How often a mission asks again for a slot it was refused.
pub const SHARE_POLL: Duration = Duration::from_millis(100);

/// How often the rows are written again when nothing changed, so that
/// `techlead status` elsewhere sees them fresh.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The mission's side of its shared agents.
#[derive(Default)]
pub(super) struct Shared {
    /// Agents its tasks may run on that have a `max_parallel`, and that.
    agents: Vec<(String, u32)>,
    /// Per agent, its tasks that could start now as far as this mission
    /// goes (claims within its own limits, durable or about to be): what
    /// it waits for, published so that a mission about to start one more
    /// task sees it.
    wanting: HashMap<String, u32>,
    /// Since when it has wanted each agent without getting a slot.
    since: HashMap<String, Timestamp>,
    /// Agents that refused it a slot: why, and when to ask again.
    refused: HashMap<String, Refusal>,
    /// The rows need writing again (an attempt ended, a want changed).
    stale: bool,
    published: Option<Instant>,
    /// The reasons last shown to the observer.
    shown: Vec<String>,
}

struct Refusal {
    why: Wait,
    ask_after: Instant,
}

impl Shared {
    pub(super) fn new(state: &techlead_core::state::MissionState) -> Shared {
        // The agents its tasks may run on (their own, backups, the person's
        // reassignments: `plan.agents`), when they have a limit.
        let agents = state
            .plan
            .agent_limits
            .iter()
            .filter(|(agent, _)| state.plan.agents.iter().any(|a| a.name == *agent))
            .cloned()
            .collect();
        Shared {
            agents,
            ..Shared::default()
        }
    }

    fn slots(&self, agent: &str) -> Option<u32> {
        self.agents
            .iter()
            .find(|(a, _)| a == agent)
            .map(|&(_, n)| n)
    }
}

impl<S: Store + 'static> Mission<S> {
    /// Counts, per shared agent, the claims of `startable` (those that fit
    /// this mission's own limits now), before they ask for slots.
    pub(super) fn want_slots(&mut self, startable: &[usize]) {
        let mut wanting: HashMap<String, u32> = HashMap::new();
        for &t in startable {
            let agent = &self.state.tasks[t].agent;
            if self.shared.slots(agent).is_some() {
                *wanting.entry(agent.clone()).or_default() += 1;
            }
        }
        let at = Timestamp::now();
        for agent in wanting.keys() {
            self.shared.since.entry(agent.clone()).or_insert(at);
        }
        if wanting != self.shared.wanting {
            self.shared.stale = true;
        }
        self.shared.wanting = wanting;
        let wanted = &self.shared.wanting;
        self.shared
            .since
            .retain(|agent, _| wanted.contains_key(agent));
        self.shared
            .refused
            .retain(|agent, _| wanted.contains_key(agent));
    }

    /// Whether task `t` may start now as far as the other missions sharing
    /// its agent go. Asks the store unless a refusal is fresh; without the
    /// store (a commit in flight) the task waits for the next turn.
    pub(super) fn slot_for(&mut self, t: usize) -> Result<bool, Error> {
        let agent = self.state.tasks[t].agent.clone();
        let Some(slots) = self.shared.slots(&agent) else {
            return Ok(true);
        };
        let now = Instant::now();
        if self
            .shared
            .refused
            .get(&agent)
            .is_some_and(|r| r.ask_after > now)
        {
            return Ok(false);
        }
        let Some(store) = self.store.as_mut() else {
            return Ok(false);
        };
        let at = Timestamp::now();
        let waiting = self.shared.wanting.get(&agent).copied().unwrap_or(1).max(1);
        let mine = Demand {
            mission: self.id.clone(),
            agent: agent.clone(),
            priority: self.state.plan.standing.priority,
            share: self.state.plan.standing.share,
            slots,
            held: held(&self.state, &agent),
            waiting,
            waiting_since: Some(*self.shared.since.entry(agent.clone()).or_insert(at)),
            updated_at: at,
        };
        match store.take_slot(&mine, at)? {
            Admission::Start => {
                self.shared.refused.remove(&agent);
                match waiting - 1 {
                    0 => {
                        self.shared.wanting.remove(&agent);
                        self.shared.since.remove(&agent);
                    }
                    left => {
                        self.shared.wanting.insert(agent.clone(), left);
                        self.shared.since.insert(agent, at);
                    }
                }
                Ok(true)
            }
            Admission::Wait(why) => {
                let ask_after = now + SHARE_POLL;
                self.shared
                    .refused
                    .insert(agent, Refusal { why, ask_after });
                Ok(false)
            }
        }
    }

    /// An attempt on `agent` ended: the other missions may have its slot.
    pub(super) fn slot_freed(&mut self, t: usize) {
        if self.shared.slots(&self.state.tasks[t].agent).is_some() {
            self.shared.stale = true;
        }
    }

    /// Writes the rows when they changed or the heartbeat is due, drops
    /// every wait when nothing may start (paused, interrupted), and tells
    /// the observer why tasks wait.
    pub(super) fn publish_slots(&mut self) -> Result<(), Error> {
        if self.shared.agents.is_empty() {
            return Ok(());
        }
        if (self.interrupting || self.state.status != MissionStatus::Running)
            && !self.shared.wanting.is_empty()
        {
            self.shared.wanting.clear();
            self.shared.since.clear();
            self.shared.refused.clear();
            self.shared.stale = true;
        }
        self.show_waits();
        let due = self
            .shared
            .published
            .is_none_or(|at| at.elapsed() >= HEARTBEAT);
        let Some(store) = self.store.as_mut().filter(|_| self.shared.stale || due) else {
            return Ok(());
        };
        let at = Timestamp::now();
        let rows: Vec<Demand> = self
            .shared
            .agents
            .iter()
            .map(|(agent, slots)| Demand {
                mission: self.id.clone(),
                agent: agent.clone(),
                priority: self.state.plan.standing.priority,
                share: self.state.plan.standing.share,
                slots: *slots,
                held: held(&self.state, agent),
                waiting: self.shared.wanting.get(agent).copied().unwrap_or(0),
                waiting_since: self.shared.since.get(agent).copied(),
                updated_at: at,
            })
            .collect();
        store.publish_shares(&rows)?;
        self.shared.stale = false;
        self.shared.published = Some(Instant::now());
        Ok(())
    }

    fn show_waits(&mut self) {
        let mut reasons: Vec<String> = self
            .shared
            .refused
            .iter()
            .map(|(agent, r)| {
                let ready = self.shared.wanting.get(agent).copied().unwrap_or(0);
                r.why.line(agent, ready)
            })
            .collect();
        reasons.sort();
        if reasons != self.shared.shown {
            self.observer.shared(&reasons);
            self.shared.shown = reasons;
        }
    }

    /// When to ask again for a slot, or write the rows, next. Times
    /// already past are left out: what kept them from happening (a commit
    /// in flight, the delay between launches) wakes the actor itself, and
    /// a past time would wake it at once, again and again.
    pub(super) fn next_slot_ask(&self) -> Option<Instant> {
        if self.shared.agents.is_empty() {
            return None;
        }
        let now = Instant::now();
        let heartbeat = self.shared.published.map(|at| at + HEARTBEAT);
        self.shared
            .refused
            .values()
            .map(|r| r.ask_after)
            .chain(heartbeat)
            .filter(|&at| at > now)
            .min()
    }

    /// The run ends: the other missions stop counting this one.
    pub(super) fn end_slots(&mut self) {
        if self.shared.agents.is_empty() {
            return;
        }
        if let Some(store) = self.store.as_mut() {
            // Left behind, the rows are ignored once no run holds the
            // mission's lock.
            let _ = store.end_shares(&self.id);
        }
    }
}

/// Attempts of the mission running on `agent`.
fn held(state: &techlead_core::state::MissionState, agent: &str) -> u32 {
    state
        .running()
        .filter(|&t| state.tasks[t].agent == agent)
        .count() as u32
}
