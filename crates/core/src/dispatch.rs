//! Which tasks claim a slot and which claims start, the most urgent first
//! (critical priority, then the longest remaining path), within the
//! mission's, each agent's and each executor's limits.
//!
//! Starting is two steps so that a slot never waits for the disk: a ready
//! task first *claims* a slot (an event made durable before its process is
//! spawned), at most [`claims_per_slot`] claims waiting per slot of each
//! limit; when a slot frees, a claim that is already durable takes it at
//! once. See docs/running.md, "Claims".

use crate::state::MissionState;
use jiff::Timestamp;
use std::time::Duration;

/// Claims that may wait per slot at least. One would do if a commit always
/// took less time than the shortest task; two absorb a slow fsync (its 90th
/// percentile is two to three times its median on ordinary disks) when
/// tasks take about as long as a commit.
pub const MIN_CLAIMS_PER_SLOT: u32 = 2;
/// Claims that may wait per slot at most: enough for a slot's tasks of a
/// third of a millisecond to run through a whole commit window on durable
/// claims. Eight, the cap before, held tasks of a millisecond or less
/// short of their window: each slot ran out of durable claims and hurried
/// a commit about every 5 ms (78 fsyncs for 1,000 `true` at P = 2, against
/// 46 to 48 with this cap; bench/README.md, session 14).
pub const MAX_CLAIMS_PER_SLOT: u32 = 32;

/// Claims that may wait per slot when tasks take `typical` (none measured
/// yet: the least; under a millisecond, as attempts are timed: the most):
/// as many as a slot runs in one commit `window`, so that
/// commits of short tasks wait for their window and carry many tasks each
/// instead of being hurried by every slot that frees. Tasks of minutes keep
/// the least, and their queue shows only what will start next.
pub fn claims_per_slot(typical: Option<Duration>, window: Duration) -> u32 {
    let Some(typical) = typical else {
        return MIN_CLAIMS_PER_SLOT;
    };
    if typical.is_zero() {
        return MAX_CLAIMS_PER_SLOT;
    }
    let per_window = window.as_secs_f64() / typical.as_secs_f64();
    (per_window.ceil() as u32).clamp(MIN_CLAIMS_PER_SLOT, MAX_CLAIMS_PER_SLOT)
}

/// What to change in the claims now.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Claims {
    /// Claims to give back: a more urgent task became ready and takes
    /// their place.
    pub withdraw: Vec<usize>,
    /// Ready tasks that claim a slot, in claim order.
    pub claim: Vec<usize>,
}

/// Ready tasks that claim a slot now, most urgent first, at most
/// `per_slot` waiting per slot of each limit. When the claims are full, a
/// ready task more urgent than a waiting claim takes that claim's place
/// (if the limits allow the swap), so that a critical task never waits
/// behind claims made before it was ready.
pub fn claim(state: &MissionState, now: Timestamp, per_slot: u32) -> Claims {
    let mut claims = Claims::default();
    if wip_full(state) {
        return claims;
    }
    // Claims as they will be, most urgent first.
    let mut kept: Vec<usize> = state.queued().collect();
    let mut usage = Usage::of(state, kept.iter().copied(), per_slot);
    let ready = state
        .ready_in_order(now)
        .filter(|&t| !executor_paused(state, t, now) && !held(state, t));
    for t in ready {
        if usage.take(t) {
            claims.claim.push(t);
            insert_by_urgency(state, &mut kept, t);
            continue;
        }
        if kept.last().is_none_or(|&q| !state.more_urgent(t, q)) {
            // Ready tasks come most urgent first: none after `t` outranks
            // a claim either.
            break;
        }
        // The least urgent claim that `t` outranks and whose place fits it.
        let swap = kept.iter().rposition(|&q| {
            state.more_urgent(t, q) && Usage::of(state, others(&kept, q), per_slot).fits(t)
        });
        if let Some(i) = swap {
            let q = kept.remove(i);
            insert_by_urgency(state, &mut kept, t);
            usage = Usage::of(state, kept.iter().copied(), per_slot);
            // Never one claimed in this call: those outrank `t`.
            claims.withdraw.push(q);
            claims.claim.push(t);
        }
    }
    claims
}

/// Whether as many tasks wait for their gates or their merge as the
/// mission allows: new work waits until one is through, so that finished
/// work does not pile up faster than it is checked and merged.
pub fn wip_full(state: &MissionState) -> bool {
    state.plan.repository.as_ref().is_some_and(|r| {
        state.count(crate::state::TaskStatus::Checking) >= r.wip_limit.max(1) as usize
    })
}

fn insert_by_urgency(state: &MissionState, kept: &mut Vec<usize>, t: usize) {
    let at = kept.partition_point(|&q| state.more_urgent(q, t));
    kept.insert(at, t);
}

fn others(kept: &[usize], except: usize) -> impl Iterator<Item = usize> + '_ {
    kept.iter().copied().filter(move |&q| q != except)
}

/// Claimed tasks that may start now, in start order: those that fit the
/// limits beside the running ones, on executors that are not paused.
pub fn startable(state: &MissionState, now: Timestamp) -> Vec<usize> {
    let mut usage = Usage::of(state, state.running(), 1);
    state
        .queued()
        .filter(|&t| !executor_paused(state, t, now) && !held(state, t))
        .filter(|&t| usage.take(t))
        .collect()
}

/// Whether task `t` waits for an emergency mission that holds its agent.
/// Critical tasks are never held: they are emergencies too.
pub fn held(state: &MissionState, t: usize) -> bool {
    !state.preempted_by.is_empty()
        && state.plan.tasks[t].priority != crate::Priority::Critical
        && state
            .preempted_by
            .iter()
            .any(|(_, agents)| agents.contains(&state.tasks[t].agent))
}

fn executor_paused(state: &MissionState, t: usize, now: Timestamp) -> bool {
    state
        .executor_paused_until(&state.plan.tasks[t].executor, now)
        .is_some()
}

/// When the next paused executor resumes, if any is paused at `now`.
pub fn next_executor_resume(state: &MissionState, now: Timestamp) -> Option<Timestamp> {
    state
        .paused_executors
        .iter()
        .map(|&(_, until)| until)
        .filter(|&until| until > now)
        .min()
}

/// Slots in use, overall and by agent and executor, against the limits
/// times `per_slot`. Only agents and executors that have a limit are
/// counted, each in the slot of its limit: most missions have none or a
/// few, so a turn's bookkeeping is a scan of a short list per task instead
/// of hashing names into maps (two `HashMap`s were built on every turn).
struct Usage<'a> {
    state: &'a MissionState,
    per_slot: u32,
    total: usize,
    /// Per entry of `plan.agent_limits`, the slots its agent uses.
    by_agent: Vec<u32>,
    /// Per entry of `plan.executor_limits`, the slots its executor uses.
    by_executor: Vec<u32>,
}

impl<'a> Usage<'a> {
    fn of(state: &'a MissionState, tasks: impl Iterator<Item = usize>, per_slot: u32) -> Usage<'a> {
        let plan = &state.plan;
        let mut usage = Usage {
            state,
            per_slot,
            total: 0,
            by_agent: vec![0; plan.agent_limits.len()],
            by_executor: vec![0; plan.executor_limits.len()],
        };
        for t in tasks {
            usage.add(t);
        }
        usage
    }

    fn full_overall(&self) -> bool {
        self.total
            >= self
                .state
                .plan
                .max_parallel
                .max(1)
                .saturating_mul(self.per_slot) as usize
    }

    /// Takes a slot for task `t` if every limit has one free.
    fn take(&mut self, t: usize) -> bool {
        let fits = self.fits(t);
        if fits {
            self.add(t);
        }
        fits
    }

    fn fits(&self, t: usize) -> bool {
        let plan = &self.state.plan;
        let agent = self.state.tasks[t].agent.as_str();
        let executor = plan.tasks[t].executor.as_str();
        let free = |limits: &[(String, u32)], used: &[u32], name: &str| {
            limit_of(limits, name)
                .is_none_or(|i| used[i] < limits[i].1.max(1).saturating_mul(self.per_slot))
        };
        !self.full_overall()
            && free(&plan.agent_limits, &self.by_agent, agent)
            && free(&plan.executor_limits, &self.by_executor, executor)
    }

    fn add(&mut self, t: usize) {
        let plan = &self.state.plan;
        if let Some(i) = limit_of(&plan.agent_limits, &self.state.tasks[t].agent) {
            self.by_agent[i] += 1;
        }
        if let Some(i) = limit_of(&plan.executor_limits, &plan.tasks[t].executor) {
            self.by_executor[i] += 1;
        }
        self.total += 1;
    }
}

/// The entry of `limits` for `name`, if it has a limit.
fn limit_of(limits: &[(String, u32)], name: &str) -> Option<usize> {
    limits.iter().position(|(n, _)| n == name)
}

/// When the next retry becomes due, if any task waits for one.
pub fn next_retry(state: &MissionState) -> Option<Timestamp> {
    state
        .retrying()
        .filter_map(|t| state.tasks[t].retry_at)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_millis(10);

    #[test]
    fn short_tasks_claim_a_commit_window_ahead_and_long_ones_the_least() {
        assert_eq!(claims_per_slot(None, WINDOW), MIN_CLAIMS_PER_SLOT);
        assert_eq!(
            claims_per_slot(Some(Duration::ZERO), WINDOW),
            MAX_CLAIMS_PER_SLOT
        );
        assert_eq!(claims_per_slot(Some(Duration::from_secs(90)), WINDOW), 2);
        assert_eq!(claims_per_slot(Some(Duration::from_millis(4)), WINDOW), 3);
        assert_eq!(claims_per_slot(Some(Duration::from_millis(2)), WINDOW), 5);
        assert_eq!(
            claims_per_slot(Some(Duration::from_micros(900)), WINDOW),
            12
        );
        assert_eq!(
            claims_per_slot(Some(Duration::from_micros(400)), WINDOW),
            25
        );
        assert_eq!(claims_per_slot(Some(Duration::from_micros(10)), WINDOW), 32);
    }
}
