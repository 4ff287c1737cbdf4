//! How both backends write values as text: times (fixed-width RFC 3339
//! with nanoseconds, so that text order is time order and no precision is
//! lost: PostgreSQL's own timestamps keep microseconds) and mission
//! statuses.

use crate::Error;
use jiff::Timestamp;
use techlead_core::state::{EventRecord, MissionPlan, MissionStatus};

/// `Event::MissionCreated` by reference: the same JSON without a copy of
/// the plan.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Created<'a> {
    MissionCreated { plan: &'a MissionPlan },
}

/// An event as stored (`seq`, `at` as [`timestamp`] wrote it, the JSON
/// body) read back, or the error that names it.
pub(crate) fn record(mission: &str, seq: u64, at: &str, body: &str) -> Result<EventRecord, Error> {
    let bad = |source| Error::BadEvent {
        mission: mission.to_string(),
        seq,
        source,
    };
    let at = at.parse::<Timestamp>().map_err(|e| {
        bad(<serde_json::Error as serde::de::Error>::custom(
            format_args!("bad time `{at}`: {e}"),
        ))
    })?;
    let event = serde_json::from_str(body).map_err(bad)?;
    Ok(EventRecord { seq, at, event })
}

pub(crate) fn parse_status(text: &str) -> Option<MissionStatus> {
    [
        MissionStatus::Created,
        MissionStatus::Running,
        MissionStatus::Paused,
        MissionStatus::Interrupted,
        MissionStatus::Succeeded,
        MissionStatus::Failed,
        MissionStatus::Aborted,
    ]
    .into_iter()
    .find(|s| s.as_str() == text)
}

/// Times are stored as RFC 3339 UTC text with nanoseconds, fixed width so
/// that text order is time order: `2026-05-01T12:00:00.000000000Z`.
pub(crate) fn timestamp(at: Timestamp) -> String {
    let mut text = String::with_capacity(30);
    write_timestamp(&mut text, at);
    text
}

/// Appends `at` as [`timestamp`] writes it. Every event is stamped, so the
/// usual case (1970 to 9999) is written digit by digit, a tenth of the
/// work of jiff's general formatting, which the rest is left to.
fn write_timestamp(text: &mut String, at: Timestamp) {
    let (seconds, nanos) = (at.as_second(), at.subsec_nanosecond());
    if seconds < 0 || nanos < 0 {
        use std::fmt::Write;
        let _ = write!(text, "{at:.9}");
        return;
    }
    let (days, second_of_day) = (seconds / 86_400, seconds % 86_400);
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let (era, day_of_era) = (z / 146_097, z % 146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    let mut digits = *b"0000-00-00T00:00:00.000000000Z";
    let mut put = |at: usize, width: usize, mut value: i64| {
        for i in (at..at + width).rev() {
            digits[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, second_of_day / 3_600);
    put(14, 2, second_of_day / 60 % 60);
    put(17, 2, second_of_day % 60);
    put(20, 9, i64::from(nanos));
    // Only ASCII digits and separators were written.
    text.push_str(std::str::from_utf8(&digits).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit-by-digit writer agrees with jiff's formatting wherever it
    /// is used, and jiff writes the rest.
    #[test]
    fn stored_times_are_jiffs_rfc_3339_with_nanoseconds() {
        let mut seconds: Vec<i64> = vec![
            0,
            59,
            86_399,
            86_400,
            951_782_400, // 2000-02-29
            951_868_799,
            1_709_164_800,   // 2024-02-29
            4_107_542_399,   // 2100-02-28T23:59:59
            4_107_542_400,   // 2100-03-01 (no leap day)
            253_402_300_799, // 9999-12-31T23:59:59
            -1,
            -86_401,
            -62_135_596_800,
        ];
        // Every 7,777,777 s (about three months) and 997 s from 1970 to 9999.
        seconds.extend((0..253_402_300_799_i64).step_by(7_777_777));
        seconds.extend((1_700_000_000..1_700_200_000_i64).step_by(997));
        for second in seconds {
            for nano in [0, 1, 999_999_999, 123_456_789] {
                let Ok(at) = Timestamp::new(second, nano) else {
                    continue;
                };
                assert_eq!(timestamp(at), format!("{at:.9}"), "{second} s {nano} ns");
            }
        }
    }

    #[test]
    fn stored_times_are_fixed_width_and_exact() {
        let times = [
            Timestamp::UNIX_EPOCH,
            Timestamp::new(1_800_000_000, 5).unwrap(),
            Timestamp::new(1_800_000_000, 123_456_789).unwrap(),
            Timestamp::new(1_800_000_001, 0).unwrap(),
        ];
        let text: Vec<String> = times.iter().map(|t| timestamp(*t)).collect();
        assert_eq!(text[0], "1970-01-01T00:00:00.000000000Z");
        assert!(text.iter().all(|t| t.len() == text[0].len()));
        assert!(text.windows(2).all(|w| w[0] < w[1]), "{text:?}");
        for (time, text) in times.iter().zip(&text) {
            assert_eq!(text.parse::<Timestamp>().unwrap(), *time);
        }
    }
}
