//! How much of an agent's time its work in the portfolio needs.
//!
//! Each mission's share of an agent's work is due when the mission is:
//! at its deadline, else at the horizon. An agent with `slots`
//! (`max_parallel`) can give `slots × h` hours in the next `h` hours. Its
//! allocation is the tightest window: over the due times in order, the
//! hours due by then against the hours it can give by then, the largest
//! share of all (earliest-deadline-first's demand test: when no window is
//! over 100 %, the work fits if done most urgent first, dependencies
//! aside). With no deadline, it is simply hours ÷ (slots × horizon).

use serde::Serialize;

/// One mission's unfinished work on one agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Share {
    pub mission: String,
    /// Task IDs, plan order.
    pub tasks: Vec<String>,
    pub hours: f64,
    /// Hours from now until the mission is due (negative once past).
    pub due_hours: f64,
    /// Its tasks on the mission's remaining critical path.
    pub critical: Vec<String>,
}

impl Share {
    pub(super) fn new(mission: &str, due_hours: f64) -> Share {
        Share {
            mission: mission.to_string(),
            tasks: Vec::new(),
            hours: 0.0,
            due_hours,
            critical: Vec::new(),
        }
    }
}

/// An agent across the portfolio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Allocation {
    pub agent: String,
    /// Its `max_parallel` (the largest the missions recorded; 1 unset).
    pub slots: u32,
    /// Unfinished tasks and their hours, in every mission.
    pub tasks: usize,
    pub hours: f64,
    /// Per mission, the soonest due first.
    pub missions: Vec<Share>,
    /// The tightest window: its length in hours from now, the work due
    /// within it, and the hours the agent can give in it.
    pub window_hours: f64,
    pub window_work_hours: f64,
    pub window_capacity_hours: f64,
    /// The work due in that window over the time the agent can give in
    /// it, in percent; `None` when work is due with no time left (a
    /// deadline has passed).
    pub percent: Option<f64>,
    /// Above the threshold, or overdue.
    pub over: bool,
}

impl Allocation {
    /// The missions whose work it holds, soonest due first.
    pub fn mission_ids(&self) -> Vec<String> {
        self.missions.iter().map(|s| s.mission.clone()).collect()
    }
}

/// Below this, hours are nothing (rounding of estimates and progress).
const EPSILON: f64 = 1e-9;

pub(super) fn allocate(
    agent: String,
    slots: u32,
    mut shares: Vec<Share>,
    threshold: f64,
) -> Allocation {
    shares.sort_by(|a, b| {
        a.due_hours
            .total_cmp(&b.due_hours)
            .then(a.mission.cmp(&b.mission))
    });
    let mut due = 0.0;
    // (ratio, window hours, work due, capacity) of the tightest window.
    let mut tightest: Option<(f64, f64, f64, f64)> = None;
    let mut overdue = None;
    for share in &shares {
        due += share.hours;
        let capacity = f64::from(slots) * share.due_hours.max(0.0);
        if capacity <= EPSILON {
            if due > EPSILON && overdue.is_none() {
                overdue = Some((share.due_hours, due));
            }
            continue;
        }
        let ratio = due / capacity;
        if tightest.is_none_or(|(r, ..)| ratio > r) {
            tightest = Some((ratio, share.due_hours, due, capacity));
        }
    }
    let (percent, window_hours, window_work_hours, window_capacity_hours) =
        match (overdue, tightest) {
            (Some((hours, work)), _) => (None, hours, work, 0.0),
            (None, Some((ratio, hours, work, capacity))) => {
                (Some(ratio * 100.0), hours, work, capacity)
            }
            (None, None) => (Some(0.0), 0.0, 0.0, 0.0),
        };
    Allocation {
        tasks: shares.iter().map(|s| s.tasks.len()).sum(),
        hours: shares.iter().map(|s| s.hours).sum(),
        over: percent.is_none_or(|p| p > threshold + EPSILON),
        agent,
        slots,
        missions: shares,
        window_hours,
        window_work_hours,
        window_capacity_hours,
        percent,
    }
}
