//! Which mission's task takes a free slot of an agent that several
//! missions share (docs/portfolio.md, "Shares and priorities").
//!
//! Each mission's writer publishes what it holds and waits for of each
//! agent with a `max_parallel` (a [`Demand`]); before it starts a task on
//! such an agent it asks [`admit`], with the other live missions' demands
//! as read in the same transaction that records its own, so that two
//! missions never take the same slot.
//!
//! The order among waiting missions: one that has waited [`PATIENCE`]
//! goes before every mission that has waited less (oldest first), so that
//! no mission starves; then the highest `priority`; then the smallest
//! held / `share` (weighted fair share); then the longest waiting; then
//! the mission's ID, so that every writer decides the same.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// After waiting this long for an agent, a mission goes before every
/// mission that has waited less, whatever their priorities.
pub const PATIENCE: SignedDuration = SignedDuration::from_secs(120);

/// What one mission's writer holds and waits for of one agent, as it
/// published it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demand {
    pub mission: String,
    pub agent: String,
    /// The mission's `priority` (default 0; higher goes first).
    pub priority: i32,
    /// The mission's `share` (default 1): its weight among missions of
    /// the same priority.
    pub share: u32,
    /// The agent's `max_parallel` as the mission recorded it.
    pub slots: u32,
    /// Attempts of the mission running on the agent.
    pub held: u32,
    /// Tasks of the mission that could start on the agent now but for the
    /// other missions.
    pub waiting: u32,
    /// Since when the mission has waited for a slot of the agent without
    /// getting one.
    pub waiting_since: Option<Timestamp>,
    pub updated_at: Timestamp,
}

/// May the mission start a task on the agent now?
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    Start,
    Wait(Wait),
}

/// Why a mission's task waits for a slot of a shared agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// Every slot is held; the missions holding them, most slots first.
    Busy { holders: Vec<Holder> },
    /// A slot is free, and another waiting mission goes first.
    Behind {
        mission: String,
        priority: i32,
        /// It has waited [`PATIENCE`]: it goes first whatever the
        /// priorities.
        aged: bool,
    },
}

/// A mission holding slots of an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub mission: String,
    pub priority: i32,
    pub held: u32,
}

impl Wait {
    /// `dev is busy with mission alpha-1 (priority 10)`.
    pub fn describe(&self, agent: &str) -> String {
        match self {
            Wait::Busy { holders } => {
                let named: Vec<String> = holders
                    .iter()
                    .map(|h| format!("{} (priority {})", h.mission, h.priority))
                    .collect();
                match named.as_slice() {
                    [] => format!("{agent} has no free slot"),
                    [one] => format!("{agent} is busy with mission {one}"),
                    many => format!("{agent} is busy with missions {}", many.join(", ")),
                }
            }
            Wait::Behind {
                mission,
                aged: true,
                ..
            } => format!("{agent} goes to mission {mission} first (it has waited longest)"),
            Wait::Behind {
                mission, priority, ..
            } => format!("{agent} goes to mission {mission} first (priority {priority})"),
        }
    }

    /// The wait as a run's terminal shows it, with the `ready` tasks it
    /// holds back: `dev is busy with mission alpha-1 (priority 10): 2
    /// ready tasks wait`.
    pub fn line(&self, agent: &str, ready: u32) -> String {
        let tasks = match ready {
            1 => "1 ready task waits".to_string(),
            n => format!("{n} ready tasks wait"),
        };
        format!("{}: {tasks}", self.describe(agent))
    }
}

/// Whether `me` may start one more task on its agent now, given the other
/// live missions' demands for the same agent. Never more attempts than
/// the smallest `slots` any of them recorded; free slots go one by one to
/// the waiting mission first in order (see the module), `me` waiting for
/// at least the one it asks for.
pub fn admit(me: &Demand, others: &[Demand], now: Timestamp) -> Admission {
    let slots = others
        .iter()
        .map(|d| d.slots)
        .chain([me.slots])
        .min()
        .unwrap_or(1)
        .max(1);
    let held: u32 = me.held + others.iter().map(|d| d.held).sum::<u32>();
    if held >= slots {
        return Admission::Wait(busy(others));
    }
    let mut queue: Vec<Demand> = others.iter().filter(|d| d.waiting > 0).cloned().collect();
    let mut mine = me.clone();
    mine.waiting = mine.waiting.max(1);
    mine.waiting_since.get_or_insert(now);
    queue.push(mine);
    let mut ahead: Option<Wait> = None;
    for _ in held..slots {
        let next = queue
            .iter_mut()
            .filter(|d| d.waiting > 0)
            .min_by(|a, b| order(a, b, now))
            .expect("`me` waits until it is served");
        if next.mission == me.mission {
            return Admission::Start;
        }
        ahead.get_or_insert_with(|| Wait::Behind {
            mission: next.mission.clone(),
            priority: next.priority,
            aged: aged(next, now),
        });
        next.held += 1;
        next.waiting -= 1;
    }
    Admission::Wait(ahead.expect("at least one slot was free"))
}

/// What `me` publishes after asking: with the slot taken when admitted
/// (its waiting starts afresh for the next task, if any), else as it
/// asked, waiting since it first did.
pub fn after(me: &Demand, admission: &Admission, now: Timestamp) -> Demand {
    let mut row = me.clone();
    row.updated_at = now;
    match admission {
        Admission::Start => {
            row.held += 1;
            row.waiting = row.waiting.saturating_sub(1);
            row.waiting_since = (row.waiting > 0).then_some(now);
        }
        Admission::Wait(_) => {
            row.waiting = row.waiting.max(1);
            row.waiting_since.get_or_insert(now);
        }
    }
    row
}

fn busy(others: &[Demand]) -> Wait {
    let mut holders: Vec<Holder> = others
        .iter()
        .filter(|d| d.held > 0)
        .map(|d| Holder {
            mission: d.mission.clone(),
            priority: d.priority,
            held: d.held,
        })
        .collect();
    holders.sort_by(|a, b| b.held.cmp(&a.held).then(b.priority.cmp(&a.priority)));
    Wait::Busy { holders }
}

fn aged(d: &Demand, now: Timestamp) -> bool {
    d.waiting_since
        .is_some_and(|since| now.duration_since(since) >= PATIENCE)
}

/// Which of two waiting missions goes first (`Less`: `a`).
fn order(a: &Demand, b: &Demand, now: Timestamp) -> Ordering {
    let since = |d: &Demand| d.waiting_since.unwrap_or(now);
    match (aged(a, now), aged(b, now)) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (true, true) => return since(a).cmp(&since(b)).then(a.mission.cmp(&b.mission)),
        (false, false) => {}
    }
    let fair = |x: &Demand, y: &Demand| u64::from(x.held) * u64::from(y.share.max(1));
    b.priority
        .cmp(&a.priority)
        .then(fair(a, b).cmp(&fair(b, a)))
        .then(since(a).cmp(&since(b)))
        .then(a.mission.cmp(&b.mission))
}
