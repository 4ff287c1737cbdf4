//! Remote work (docs/workers.md): what a worker offers (its labels), what
//! a task requires, when a worker must consider its lease lost, and the
//! messages a worker sends back about an attempt. The queue itself is the
//! store's; the loop that runs attempts is the engine's.

use crate::state::{AttemptOutcome, Report, Usage};
use serde::{Deserialize, Serialize};

/// Why a label list cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{label}` is not a label: use lower-case letters, digits, `-`, `_`, `.` and `:`, starting with a letter or digit"
)]
pub struct LabelError {
    pub label: String,
}

/// Labels from a comma-separated list (`gpu, claude-login`), checked,
/// sorted and without repeats: the form the queue stores and compares.
pub fn parse_labels(text: &str) -> Result<Vec<String>, LabelError> {
    let mut labels = Vec::new();
    for label in text.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        check_label(label)?;
        labels.push(label.to_string());
    }
    labels.sort();
    labels.dedup();
    Ok(labels)
}

/// A label is a short lower-case word, so that `GPU` and `gpu` are never
/// two labels a task and a worker disagree on.
pub fn check_label(label: &str) -> Result<(), LabelError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.:".contains(c);
    let first_ok = label
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if first_ok && label.len() <= 64 && label.chars().all(allowed) {
        Ok(())
    } else {
        Err(LabelError {
            label: label.to_string(),
        })
    }
}

/// The labels a task requires that a worker offering `offered` lacks: a
/// worker may claim the task only when this is empty. (The queue's claim
/// applies the same rule in SQL, `labels <@ offered`.)
pub fn missing_labels<'a>(required: &'a [String], offered: &[String]) -> Vec<&'a str> {
    required
        .iter()
        .filter(|label| !offered.contains(label))
        .map(String::as_str)
        .collect()
}

/// How long a claim holds without a heartbeat, and how often a worker
/// renews it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTerms {
    pub ttl_ms: u64,
}

impl LeaseTerms {
    /// The default lease: 30 s, renewed every 10 s, so that a worker that
    /// misses two heartbeats in a row still holds its work.
    pub const DEFAULT: LeaseTerms = LeaseTerms { ttl_ms: 30_000 };

    /// Renewed three times per lease.
    pub fn heartbeat_ms(self) -> u64 {
        (self.ttl_ms / 3).max(1)
    }

    /// Whether a worker whose last renewal succeeded at `renewed_ms` must
    /// consider its lease lost at `now_ms` (both on the worker's own
    /// monotonic clock). The database may judge it expired a little
    /// earlier (the renewal's round trip); the worker stops its attempt
    /// then, rather than work on something the coordinator gave away.
    pub fn lapsed(self, renewed_ms: u64, now_ms: u64) -> bool {
        now_ms.saturating_sub(renewed_ms) >= self.ttl_ms
    }
}

/// What a worker sends back about an attempt, in order. Each message but
/// `Finished` becomes exactly one event of the mission (progress, report,
/// usage, question, saved work); the coordinator counts those events to
/// know which messages a dead coordinator already recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Message {
    Progress {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        percent: Option<u8>,
        message: String,
    },
    Report {
        report: Report,
    },
    Usage {
        usage: Usage,
    },
    Ask {
        question: String,
    },
    /// The attempt's work was committed to the task branch and pushed.
    Saved {
        commit: String,
        files: Vec<String>,
    },
    Finished {
        outcome: AttemptOutcome,
        duration_ms: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_without_repeats_and_checked() {
        assert_eq!(
            parse_labels(" gpu,claude ,gpu,").unwrap(),
            ["claude", "gpu"]
        );
        assert_eq!(parse_labels("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_labels("GPU").unwrap_err().label, "GPU");
        assert!(parse_labels("-x").is_err());
        assert!(parse_labels("os:linux,cuda-12.4").is_ok());
    }

    #[test]
    fn a_worker_must_offer_every_required_label() {
        let required = ["gpu".to_string(), "linux".to_string()];
        assert_eq!(missing_labels(&required, &["linux".into()]), ["gpu"]);
        assert!(missing_labels(&required, &["gpu".into(), "linux".into(), "x".into()]).is_empty());
        assert!(missing_labels(&[], &[]).is_empty());
    }

    #[test]
    fn a_lease_lapses_a_full_ttl_after_its_last_renewal() {
        let terms = LeaseTerms { ttl_ms: 900 };
        assert_eq!(terms.heartbeat_ms(), 300);
        assert!(!terms.lapsed(1_000, 1_899));
        assert!(terms.lapsed(1_000, 1_900));
        // A clock read before the renewal is never a lapse.
        assert!(!terms.lapsed(1_000, 500));
    }

    #[test]
    fn messages_keep_their_shape_on_the_wire() {
        let message = Message::Finished {
            outcome: AttemptOutcome::Succeeded { summary: None },
            duration_ms: 12,
        };
        let json = serde_json::to_string(&message).unwrap();
        assert_eq!(
            json,
            r#"{"type":"finished","outcome":{"kind":"succeeded"},"duration_ms":12}"#
        );
        assert_eq!(serde_json::from_str::<Message>(&json).unwrap(), message);
    }
}
