//! When a failed delivery is tried again: exponential backoff with jitter,
//! a bounded number of tries, and the receiver's own `Retry-After` when it
//! gives one. Pure, so the schedule is tested without waiting for it.

use std::time::Duration;

/// Tries per delivery, over every run of the mission: with the default
/// first delay of 2 s they span about four minutes (2, 6, 18, 54 and 162 s
/// between them, each ±20 %).
pub const MAX_TRIES: u32 = 6;

/// Each wait is this many times the one before.
const FACTOR: u32 = 3;

/// Waits spread by up to this fraction either way, so that deliveries that
/// failed together (a receiver that was down) do not all come back at once.
const JITTER: f64 = 0.2;

/// The longest `Retry-After` obeyed: a receiver asking for more gets its
/// retry then, not a delivery that waits longer than the run may last.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// What one try's answer means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A 2xx: the receiver has it.
    Delivered,
    /// No answer (connection refused, timeout, reset), a 5xx or a 429: the
    /// receiver may take it later.
    Retry,
    /// Any other status (4xx, a redirect): sending the same bytes again
    /// would get the same answer.
    Refused,
}

/// The verdict on a try that got `status` (`None`: no HTTP answer).
pub fn verdict(status: Option<u16>) -> Verdict {
    match status {
        None => Verdict::Retry,
        Some(200..=299) => Verdict::Delivered,
        Some(429 | 500..=599) => Verdict::Retry,
        Some(_) => Verdict::Refused,
    }
}

/// How long to wait after try `tried` (1-based) failed before the next,
/// or `None` when it was the last. `first` is the wait after the first
/// try; `key` (the delivery ID) spreads the jitter the same way on every
/// run. A receiver's `Retry-After` replaces the schedule, up to five
/// minutes.
pub fn retry_delay(
    tried: u32,
    first: Duration,
    key: &str,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    if tried >= MAX_TRIES {
        return None;
    }
    if let Some(wait) = retry_after {
        return Some(wait.min(MAX_RETRY_AFTER));
    }
    let base = first.saturating_mul(FACTOR.saturating_pow(tried.max(1) - 1));
    let hash = crate::fingerprint::fnv1a(key.bytes().chain(tried.to_le_bytes()));
    let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
    Some(base.mul_f64(1.0 + JITTER * (2.0 * unit - 1.0)))
}

/// A `Retry-After` header's wait: whole seconds, or an HTTP date (then
/// the time left until it, from `now`). Unreadable: `None`.
pub fn parse_retry_after(value: &str, now: jiff::Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let civil = jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S GMT", value)
        .ok()?
        .to_datetime()
        .ok()?;
    let at = jiff::tz::Offset::UTC.to_timestamp(civil).ok()?;
    Some(Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(2);

    #[test]
    fn waits_grow_threefold_within_the_jitter_and_stop_after_the_last_try() {
        let expected = [2.0, 6.0, 18.0, 54.0, 162.0];
        for (i, base) in expected.into_iter().enumerate() {
            let wait = retry_delay(i as u32 + 1, FIRST, "ship-1:9:ci", None)
                .unwrap()
                .as_secs_f64();
            assert!(
                (base * 0.8..=base * 1.2).contains(&wait),
                "try {}: {wait} s is not {base} s ±20 %",
                i + 1
            );
        }
        assert_eq!(retry_delay(MAX_TRIES, FIRST, "ship-1:9:ci", None), None);
        assert_eq!(retry_delay(MAX_TRIES + 1, FIRST, "k", None), None);
        // About four minutes in all, never more than five.
        let total: f64 = (1..MAX_TRIES)
            .map(|t| {
                retry_delay(t, FIRST, "ship-1:9:ci", None)
                    .unwrap()
                    .as_secs_f64()
            })
            .sum();
        assert!((190.0..300.0).contains(&total), "{total} s");
    }

    #[test]
    fn jitter_is_the_same_for_a_delivery_and_differs_between_deliveries() {
        let a = retry_delay(2, FIRST, "ship-1:9:ci", None);
        assert_eq!(a, retry_delay(2, FIRST, "ship-1:9:ci", None));
        let others: Vec<_> = (10..20)
            .map(|seq| retry_delay(2, FIRST, &format!("ship-1:{seq}:ci"), None))
            .collect();
        assert!(others.iter().any(|o| *o != a));
    }

    #[test]
    fn retry_after_replaces_the_schedule_up_to_five_minutes() {
        let asked = Some(Duration::from_secs(7));
        assert_eq!(retry_delay(1, FIRST, "k", asked), asked);
        assert_eq!(
            retry_delay(1, FIRST, "k", Some(Duration::ZERO)),
            Some(Duration::ZERO)
        );
        let long = Some(Duration::from_secs(3600));
        assert_eq!(
            retry_delay(3, FIRST, "k", long),
            Some(Duration::from_secs(300))
        );
        // Not even a receiver's wish buys a seventh try.
        assert_eq!(retry_delay(MAX_TRIES, FIRST, "k", asked), None);
    }

    #[test]
    fn network_errors_5xx_and_429_are_retried_other_answers_are_final() {
        assert_eq!(verdict(None), Verdict::Retry);
        assert_eq!(verdict(Some(503)), Verdict::Retry);
        assert_eq!(verdict(Some(500)), Verdict::Retry);
        assert_eq!(verdict(Some(429)), Verdict::Retry);
        assert_eq!(verdict(Some(200)), Verdict::Delivered);
        assert_eq!(verdict(Some(204)), Verdict::Delivered);
        assert_eq!(verdict(Some(400)), Verdict::Refused);
        assert_eq!(verdict(Some(401)), Verdict::Refused);
        assert_eq!(verdict(Some(404)), Verdict::Refused);
        assert_eq!(verdict(Some(301)), Verdict::Refused);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now: jiff::Timestamp = "2026-05-01T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Fri, 01 May 2026 12:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        // A date already past: at once.
        assert_eq!(
            parse_retry_after("Fri, 01 May 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
