//! Webhooks: a mission tells the outside world when the person may be
//! needed (an escalation, a failed gate) and when it is over. This module
//! owns the pure part: which events a webhook hears, what is sent (the
//! payload, its signature, its stable delivery ID), when a failed try is
//! tried again, and what the recorded tries say is still owed. The engine
//! does the HTTP and the store keeps every try (docs/running.md,
//! "Webhooks").

mod ledger;
mod schedule;
mod sign;

pub use ledger::{Delivery, DeliveryState, DeliveryTry, deliveries};
pub use schedule::{MAX_TRIES, Verdict, parse_retry_after, retry_delay, verdict};
pub use sign::{signature, verify};

use crate::state::{Event, EventRecord};
use serde::{Deserialize, Serialize};

/// A webhook as the mission file configures it and the plan records it.
/// The secret itself is never recorded: only the name of the environment
/// variable that holds it, read by each run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Webhook {
    /// Unique within the mission; part of every delivery ID.
    pub name: String,
    /// An `http` or `https` URL, checked when the mission file is read.
    pub url: String,
    /// The kinds of events it hears.
    pub events: Vec<HookEvent>,
    /// The environment variable holding the HMAC secret.
    pub secret_env: String,
}

impl Webhook {
    pub fn hears(&self, event: HookEvent) -> bool {
        self.events.contains(&event)
    }
}

/// What a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HookEvent {
    /// The person is asked to decide (`escalation_raised`).
    EscalationRaised,
    /// A task's or a phase's gate rejected the work.
    GateFailed,
    /// The mission succeeded or failed (`mission_finished`).
    MissionFinished,
    /// The live forecast's finish slipped past the baseline by more than
    /// the mission's threshold (`forecast_slipped`).
    ForecastSlipped,
}

impl HookEvent {
    pub const ALL: [HookEvent; 4] = [
        HookEvent::EscalationRaised,
        HookEvent::GateFailed,
        HookEvent::MissionFinished,
        HookEvent::ForecastSlipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::EscalationRaised => "escalation_raised",
            HookEvent::GateFailed => "gate_failed",
            HookEvent::MissionFinished => "mission_finished",
            HookEvent::ForecastSlipped => "forecast_slipped",
        }
    }

    pub fn parse(text: &str) -> Option<HookEvent> {
        HookEvent::ALL.into_iter().find(|e| e.as_str() == text)
    }

    /// What a recorded event is to webhooks, if anything. A gate that
    /// passed is routine and tells nobody anything.
    pub fn of(event: &Event) -> Option<HookEvent> {
        match event {
            Event::EscalationRaised { .. } => Some(HookEvent::EscalationRaised),
            Event::TaskGateFinished { passed: false, .. }
            | Event::PhaseGateFinished { passed: false, .. } => Some(HookEvent::GateFailed),
            Event::MissionFinished { .. } => Some(HookEvent::MissionFinished),
            Event::ForecastSlipped { .. } => Some(HookEvent::ForecastSlipped),
            _ => None,
        }
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ID of one event's delivery to one webhook, the same on every try
/// and every run, so that a receiver can drop what it already has.
pub fn delivery_id(mission: &str, seq: u64, hook: &str) -> String {
    format!("{mission}:{seq}:{hook}")
}

/// The JSON body sent for `record`: the delivery's ID and kind, the
/// mission, a one-line summary (no links: receivers reach techlead by
/// their own means), and the event record as `techlead run --json` prints
/// it. The same bytes on every try; only the timestamp header changes.
pub fn payload(mission: &str, name: &str, hook: &str, record: &EventRecord) -> Option<String> {
    let kind = HookEvent::of(&record.event)?;
    let body = serde_json::json!({
        "delivery": delivery_id(mission, record.seq, hook),
        "event": kind.as_str(),
        "mission": { "id": mission, "name": name },
        "summary": summary(mission, &record.event),
        "record": {
            "mission": mission,
            "seq": record.seq,
            "at": record.at,
            "event": &record.event,
        },
    });
    Some(body.to_string())
}

/// One line saying what happened, from the event alone (a delivery
/// retried at resume says the same as the first try).
pub fn summary(mission: &str, event: &Event) -> String {
    match event {
        Event::EscalationRaised {
            id, kind, message, ..
        } => {
            let kind = serde_json::to_value(kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{mission}: escalation {id} ({kind}) needs your decision: {message}")
        }
        Event::TaskGateFinished {
            task,
            attempt,
            gate,
            exit_code,
            ..
        } => format!(
            "{mission}: gate `{gate}` rejected attempt {attempt} of task {task}{}",
            exit(*exit_code)
        ),
        Event::PhaseGateFinished {
            phase,
            gate,
            exit_code,
            ..
        } => format!(
            "{mission}: gate `{gate}` of phase {} failed{}",
            phase + 1,
            exit(*exit_code)
        ),
        Event::MissionFinished { status } => format!("{mission} finished: {status}"),
        Event::ForecastSlipped {
            baseline,
            forecast,
            slip,
            drivers,
            ..
        } => format!(
            "{mission}: the forecast finish slipped {:.0}% past the baseline: {forecast} instead of {baseline}{}",
            slip * 100.0,
            if drivers.is_empty() {
                String::new()
            } else {
                format!("; driven by {}", drivers.join(", "))
            }
        ),
        // Not an event webhooks hear; named by its type all the same.
        other => {
            let kind = serde_json::to_value(other).map(|v| v["type"].to_string());
            format!("{mission}: {}", kind.unwrap_or_default())
        }
    }
}

fn exit(code: Option<i32>) -> String {
    code.map_or(String::new(), |c| format!(" (exit code {c})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{EscalationKind, MissionStatus};

    fn record(seq: u64, event: Event) -> EventRecord {
        EventRecord {
            seq,
            at: "2026-05-01T12:00:00Z".parse().unwrap(),
            event,
        }
    }

    #[test]
    fn only_failed_gates_escalations_and_the_end_are_told() {
        let gate = |passed| Event::PhaseGateFinished {
            phase: 0,
            gate: "make".into(),
            passed,
            exit_code: Some(2),
            log: "gates/phase-1-gate-1.output.log".into(),
        };
        assert_eq!(HookEvent::of(&gate(false)), Some(HookEvent::GateFailed));
        assert_eq!(HookEvent::of(&gate(true)), None);
        assert_eq!(HookEvent::of(&Event::DispatchResumed), None);
        let finished = Event::MissionFinished {
            status: MissionStatus::Failed,
        };
        assert_eq!(HookEvent::of(&finished), Some(HookEvent::MissionFinished));
        for kind in HookEvent::ALL {
            assert_eq!(HookEvent::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn the_payload_carries_the_record_as_run_json_prints_it() {
        let event = Event::EscalationRaised {
            id: 2,
            kind: EscalationKind::Gate,
            message: "API failed its gate `tests`".into(),
            tasks: vec!["API".into()],
            options: vec!["retry".into()],
        };
        let body = payload("ship-1", "ship", "ci-bot", &record(9, event)).unwrap();
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["delivery"], "ship-1:9:ci-bot");
        assert_eq!(json["event"], "escalation_raised");
        assert_eq!(json["mission"]["name"], "ship");
        assert_eq!(
            json["summary"],
            "ship-1: escalation 2 (gate) needs your decision: API failed its gate `tests`"
        );
        assert_eq!(json["record"]["seq"], 9);
        assert_eq!(json["record"]["mission"], "ship-1");
        assert_eq!(json["record"]["at"], "2026-05-01T12:00:00Z");
        assert_eq!(json["record"]["event"]["type"], "escalation_raised");
        assert_eq!(json["record"]["event"]["tasks"][0], "API");
        // Not an event webhooks hear: nothing to send.
        assert_eq!(
            payload(
                "ship-1",
                "ship",
                "ci-bot",
                &record(3, Event::DispatchResumed)
            ),
            None
        );
    }
}
