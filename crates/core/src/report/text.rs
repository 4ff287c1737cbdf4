//! Numbers and times in words, the same in every format.

use jiff::Timestamp;

/// `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 10 min`, `3 d 4 h`.
pub fn duration_ms(ms: u64) -> String {
    let seconds = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => two(seconds / 60, "min", seconds % 60, "s"),
        3_600_000..86_400_000 => two(seconds / 3600, "h", seconds % 3600 / 60, "min"),
        _ => two(seconds / 86_400, "d", seconds % 86_400 / 3600, "h"),
    }
}

/// `4 min 05 s`, or `4 min` when the smaller unit is zero.
fn two(big: u64, big_unit: &str, small: u64, small_unit: &str) -> String {
    match (small, small_unit) {
        (0, _) => format!("{big} {big_unit}"),
        // Minutes and seconds line up in columns; hours of a day need not.
        (_, "h") => format!("{big} {big_unit} {small} {small_unit}"),
        _ => format!("{big} {big_unit} {small:02} {small_unit}"),
    }
}

/// Hours as a duration in words.
pub fn hours(hours: f64) -> String {
    duration_ms(hours_to_ms(hours))
}

pub fn hours_to_ms(hours: f64) -> u64 {
    (hours.max(0.0) * 3_600_000.0).round() as u64
}

/// `$0.06`, and four places under a cent so that small spend shows.
pub fn dollars(usd: f64) -> String {
    if usd > 0.0 && usd < 0.01 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

/// `2026-05-01 14:03:07 UTC`.
pub fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `3 tasks`, `1 task`.
pub fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// Milliseconds from `from` to `to`, zero when `to` is earlier.
pub fn ms_between(from: Timestamp, to: Timestamp) -> u64 {
    to.duration_since(from).as_millis().max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_every_scale() {
        assert_eq!(duration_ms(850), "850 ms");
        assert_eq!(duration_ms(12_340), "12.3 s");
        assert_eq!(duration_ms(245_000), "4 min 05 s");
        assert_eq!(duration_ms(7_800_000), "2 h 10 min");
        assert_eq!(duration_ms(273_600_000), "3 d 4 h");
        assert_eq!(hours(4.5), "4 h 30 min");
        assert_eq!(hours(0.5), "30 min");
        assert_eq!(hours(4.0), "4 h");
    }

    #[test]
    fn small_spend_shows() {
        assert_eq!(dollars(0.0), "$0.00");
        assert_eq!(dollars(0.0042), "$0.0042");
        assert_eq!(dollars(12.5), "$12.50");
    }
}
