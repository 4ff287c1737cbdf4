//! What is owed to each webhook, read from the record: the events it hears
//! and the tries made so far. At resume this says what to send again; for
//! `techlead status` and `techlead webhooks`, what did not arrive.

use super::{HookEvent, MAX_TRIES, Verdict, Webhook, verdict};
use crate::state::EventRecord;
use jiff::Timestamp;
use serde::Serialize;
use std::collections::HashMap;

/// One try to deliver one event to one webhook, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryTry {
    pub hook: String,
    /// The event delivered.
    pub seq: u64,
    /// 1-based, counted over every run of the mission.
    pub number: u32,
    pub at: Timestamp,
    /// The HTTP status, when an answer came.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the try failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub duration_ms: u64,
    /// Whether the receiver took it (a 2xx).
    pub delivered: bool,
}

/// One event owed to one webhook, and its tries in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delivery {
    pub hook: String,
    pub seq: u64,
    pub event: HookEvent,
    pub tries: Vec<DeliveryTry>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DeliveryState {
    /// The receiver took it; it is never sent again.
    Delivered,
    /// Not taken yet, and tries are left: `next` is the next try's number.
    Pending { next: u32 },
    /// The receiver answered with a status that retrying cannot change.
    Refused,
    /// Every try failed.
    Exhausted,
}

impl Delivery {
    pub fn state(&self) -> DeliveryState {
        if self.tries.iter().any(|t| t.delivered) {
            return DeliveryState::Delivered;
        }
        let Some(last) = self.tries.last() else {
            return DeliveryState::Pending { next: 1 };
        };
        if verdict(last.status) == Verdict::Refused {
            DeliveryState::Refused
        } else if last.number >= MAX_TRIES {
            DeliveryState::Exhausted
        } else {
            DeliveryState::Pending {
                next: last.number + 1,
            }
        }
    }

    /// What went wrong on the last try that failed.
    pub fn last_error(&self) -> Option<&str> {
        self.tries
            .iter()
            .rev()
            .find(|t| !t.delivered)
            .and_then(|t| t.error.as_deref())
    }
}

/// Every delivery the mission owes: each event of `events` a webhook of
/// `hooks` hears, in the hooks' order then the log's, with the `tries`
/// recorded for it (tries of other hooks or events are ignored).
pub fn deliveries(
    hooks: &[Webhook],
    events: &[EventRecord],
    tries: Vec<DeliveryTry>,
) -> Vec<Delivery> {
    let mut tried: HashMap<(String, u64), Vec<DeliveryTry>> = HashMap::new();
    for attempt in tries {
        tried
            .entry((attempt.hook.clone(), attempt.seq))
            .or_default()
            .push(attempt);
    }
    let heard: Vec<(u64, HookEvent)> = events
        .iter()
        .filter_map(|r| HookEvent::of(&r.event).map(|e| (r.seq, e)))
        .collect();
    let mut owed = Vec::new();
    for hook in hooks {
        for &(seq, event) in heard.iter().filter(|(_, e)| hook.hears(*e)) {
            let mut tries = tried.remove(&(hook.name.clone(), seq)).unwrap_or_default();
            tries.sort_by_key(|t| t.number);
            owed.push(Delivery {
                hook: hook.name.clone(),
                seq,
                event,
                tries,
            });
        }
    }
    owed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Event, MissionStatus};

    fn hook(name: &str, events: &[HookEvent]) -> Webhook {
        Webhook {
            name: name.into(),
            url: "http://127.0.0.1:1/".into(),
            events: events.to_vec(),
            secret_env: "SECRET".into(),
        }
    }

    fn attempt(hook: &str, seq: u64, number: u32, status: Option<u16>) -> DeliveryTry {
        DeliveryTry {
            hook: hook.into(),
            seq,
            number,
            at: Timestamp::UNIX_EPOCH,
            status,
            error: (status != Some(200)).then(|| format!("try {number} failed")),
            duration_ms: 1,
            delivered: status == Some(200),
        }
    }

    fn events() -> Vec<EventRecord> {
        let at = Timestamp::UNIX_EPOCH;
        let gate = Event::PhaseGateFinished {
            phase: 0,
            gate: "make".into(),
            passed: false,
            exit_code: Some(1),
            log: String::new(),
        };
        let end = Event::MissionFinished {
            status: MissionStatus::Failed,
        };
        vec![
            EventRecord {
                seq: 4,
                at,
                event: Event::DispatchResumed,
            },
            EventRecord {
                seq: 5,
                at,
                event: gate,
            },
            EventRecord {
                seq: 6,
                at,
                event: end,
            },
        ]
    }

    #[test]
    fn each_hook_is_owed_the_events_it_hears_with_their_tries() {
        let hooks = [
            hook("all", &HookEvent::ALL),
            hook("ends", &[HookEvent::MissionFinished]),
        ];
        let tries = vec![
            attempt("all", 5, 2, Some(200)),
            attempt("all", 5, 1, Some(503)),
            attempt("all", 6, 1, None),
            attempt("ends", 6, 1, Some(404)),
            attempt("gone", 6, 1, Some(200)),
        ];
        let owed = deliveries(&hooks, &events(), tries);
        let states: Vec<_> = owed
            .iter()
            .map(|d| (d.hook.as_str(), d.seq, d.event, d.state()))
            .collect();
        assert_eq!(
            states,
            [
                ("all", 5, HookEvent::GateFailed, DeliveryState::Delivered),
                (
                    "all",
                    6,
                    HookEvent::MissionFinished,
                    DeliveryState::Pending { next: 2 }
                ),
                (
                    "ends",
                    6,
                    HookEvent::MissionFinished,
                    DeliveryState::Refused
                ),
            ]
        );
        assert_eq!(
            owed[0].tries.iter().map(|t| t.number).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(owed[1].last_error(), Some("try 1 failed"));
    }

    #[test]
    fn untried_events_are_pending_and_the_last_try_exhausts_a_delivery() {
        let hooks = [hook("all", &HookEvent::ALL)];
        let tries = (1..=MAX_TRIES)
            .map(|n| attempt("all", 6, n, Some(500)))
            .collect();
        let owed = deliveries(&hooks, &events(), tries);
        assert_eq!(owed[0].state(), DeliveryState::Pending { next: 1 });
        assert_eq!(owed[1].state(), DeliveryState::Exhausted);
    }
}
