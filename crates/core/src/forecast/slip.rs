//! Timeline variance: whether the live forecast has slipped past the
//! baseline (the forecast made when the mission's first run started) far
//! enough to tell someone.
//!
//! The slip is measured in the baseline's own terms: how much longer
//! than forecast the mission now looks like taking, from the baseline's
//! time. An alert is due when the slip crosses a step of the threshold
//! that no earlier alert crossed (20 %, then 40 %, 60 %, ... for the
//! default 20 %), so a mission sliding further keeps being reported, and
//! one hovering around a step is reported once.

use jiff::{SignedDuration, Timestamp};

/// The slip of `forecast` against `baseline` (both P50 finishes), forecast
/// at `since`: 0.25 means 25 % longer than the baseline said. `None` when
/// the baseline forecast no time at all.
pub fn slip(since: Timestamp, baseline: Timestamp, forecast: Timestamp) -> Option<f64> {
    let planned = baseline.duration_since(since).as_secs_f64();
    (planned > 0.0).then(|| forecast.duration_since(since).as_secs_f64() / planned - 1.0)
}

/// Whether `slip` crosses a step of `threshold` beyond the one `alerted`
/// (the slip of the last alert) crossed.
pub fn crosses(slip: f64, threshold: f64, alerted: Option<f64>) -> bool {
    if !(threshold > 0.0 && slip.is_finite()) {
        return false;
    }
    let step = |s: f64| (s / threshold).floor();
    step(slip) >= 1.0 && alerted.is_none_or(|a| step(slip) > step(a))
}

/// `now` plus `hours`, saturating at the end of time rather than failing
/// on a forecast of centuries.
pub fn after(now: Timestamp, hours: f64) -> Timestamp {
    let span =
        SignedDuration::try_from_secs_f64(hours.max(0.0) * 3600.0).unwrap_or(SignedDuration::MAX);
    now.checked_add(span).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + hour * 3600).unwrap()
    }

    #[test]
    fn slip_is_the_share_over_the_baselines_duration() {
        let close = |got: Option<f64>, want: f64| (got.unwrap() - want).abs() < 1e-12;
        assert!(close(slip(at(0), at(10), at(13)), 0.3));
        assert!(close(slip(at(0), at(10), at(8)), -0.2));
        assert_eq!(slip(at(0), at(0), at(8)), None);
    }

    #[test]
    fn each_step_of_the_threshold_is_crossed_once() {
        assert!(!crosses(0.19, 0.2, None));
        assert!(crosses(0.21, 0.2, None));
        assert!(!crosses(0.35, 0.2, Some(0.21)));
        assert!(crosses(0.41, 0.2, Some(0.21)));
        assert!(!crosses(0.1, 0.2, Some(0.21)));
        assert!(!crosses(f64::INFINITY, 0.2, None));
        assert!(!crosses(5.0, 0.0, None));
    }

    #[test]
    fn after_saturates() {
        assert_eq!(after(at(0), 2.0), at(2));
        assert_eq!(after(at(0), 1e300), Timestamp::MAX);
        assert_eq!(after(at(0), -3.0), at(0));
    }
}
