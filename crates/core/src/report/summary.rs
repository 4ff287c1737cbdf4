//! The report's sentences that both writers print: dates against the plan,
//! the deadline and the forecast; spend against the budget; the risks.
//! Plain text: each writer escapes it.

use super::model::{Report, TaskLine};
use super::text::{self, ms_between, plural};
use crate::state::{DoneState, MissionStatus, TaskStatus};
use jiff::Timestamp;

/// When it started and finished (or where it stands), against the plan.
pub fn dates(report: &Report) -> String {
    let t = &report.timeline;
    let Some(started) = t.started_at else {
        return format!(
            "Not started (recorded {}); the plan takes {}.",
            text::stamp(t.created_at),
            text::hours(t.planned.hours)
        );
    };
    let elapsed = text::duration_ms(t.elapsed_ms);
    let when = match t.finished_at {
        Some(finished) => format!(
            "Started {}, finished {} after {elapsed}",
            text::stamp(started),
            text::stamp(finished)
        ),
        None => format!(
            "Started {}, {elapsed} ago as of {}",
            text::stamp(started),
            text::stamp(report.as_of)
        ),
    };
    format!(
        "{when}, against {} planned ({}).",
        text::hours(t.planned.hours),
        share(t.elapsed_ms, t.planned.hours)
    )
}

/// `3 % of the plan`, `2.5 × the plan`.
fn share(elapsed_ms: u64, planned_hours: f64) -> String {
    let planned_ms = text::hours_to_ms(planned_hours);
    if planned_ms == 0 {
        return "the plan has no estimated work".to_string();
    }
    let ratio = elapsed_ms as f64 / planned_ms as f64;
    if ratio < 0.001 {
        "under 0.1 % of the plan".to_string()
    } else if ratio < 1.0 {
        format!("{:.1} % of the plan", ratio * 100.0)
    } else {
        format!("{ratio:.1} × the plan")
    }
}

/// Where the mission stands against its deadline, when it has one.
pub fn deadline(report: &Report) -> Option<String> {
    let t = &report.timeline;
    let due = t.deadline?;
    let stamp = text::stamp(due);
    if let Some(finished) = t
        .finished_at
        .filter(|_| report.status != MissionStatus::Succeeded)
    {
        let (gap, side) = if finished <= due {
            (ms_between(finished, due), "before")
        } else {
            (ms_between(due, finished), "after")
        };
        return Some(format!(
            "Deadline {stamp}: the mission finished as {} {} {side} it.",
            report.status,
            text::duration_ms(gap)
        ));
    }
    if let Some(finished) = t.finished_at {
        return Some(if finished <= due {
            format!(
                "Deadline {stamp}: met, {} to spare.",
                text::duration_ms(ms_between(finished, due))
            )
        } else {
            format!(
                "Deadline {stamp}: missed by {}.",
                text::duration_ms(ms_between(due, finished))
            )
        });
    }
    if report.as_of > due {
        return Some(format!(
            "Deadline {stamp}: passed {} ago and the mission has not finished.",
            text::duration_ms(ms_between(due, report.as_of))
        ));
    }
    let left = text::duration_ms(ms_between(report.as_of, due));
    let against = |label: &str, at: Timestamp| {
        if at <= due {
            format!("{label} {} is before it", text::stamp(at))
        } else {
            format!(
                "{label} {} is {} after it",
                text::stamp(at),
                text::duration_ms(ms_between(due, at))
            )
        }
    };
    let mut sentence = format!("Deadline {stamp}: {left} left");
    if let Some(forecast) = &t.forecast {
        sentence += &format!("; {}", against("the P90 forecast", forecast.p90));
    } else if let Some(finish) = t.planned.finish_at {
        sentence += &format!("; {}", against("the planned finish", finish));
    }
    Some(sentence + ".")
}

/// The forecast's finish, when the caller gave one.
pub fn forecast(report: &Report) -> Option<String> {
    let forecast = report.timeline.forecast.as_ref()?;
    Some(format!(
        "Forecast: half the outcomes finish by {}, nine in ten by {}.",
        text::stamp(forecast.p50),
        text::stamp(forecast.p90)
    ))
}

/// What was spent, against the budget.
pub fn spend(report: &Report) -> String {
    let c = &report.cost;
    let spent = format!(
        "{} over {} ({} tokens in, {} out)",
        text::dollars(c.total.cost_usd),
        plural(c.total.attempts as usize, "attempt"),
        c.total.input_tokens,
        c.total.output_tokens
    );
    let tokens = c.total.input_tokens + c.total.output_tokens;
    let budget = match (c.budget.usd, c.budget.tokens) {
        (Some(usd), _) if usd > 0.0 => format!(
            ", of a {} budget ({:.0} %)",
            text::dollars(usd),
            c.total.cost_usd / usd * 100.0
        ),
        (_, Some(limit)) if limit > 0 => format!(
            ", of a {limit}-token budget ({:.0} %)",
            tokens as f64 / limit as f64 * 100.0
        ),
        _ => "; no budget set".to_string(),
    };
    format!("{spent}{budget}.")
}

/// What may still go wrong or already has: failed and blocked work, a
/// deadline at risk, a budget nearly spent.
pub fn risks(report: &Report) -> Vec<String> {
    let mut risks = Vec::new();
    let ids = |status: TaskStatus| -> Vec<&str> {
        report
            .tasks
            .iter()
            .filter(|t| t.status == status)
            .map(|t: &TaskLine| t.id.as_str())
            .collect()
    };
    let failed = ids(TaskStatus::Failed);
    if !failed.is_empty() {
        risks.push(format!(
            "{} failed: {}.",
            plural(failed.len(), "task"),
            failed.join(", ")
        ));
    }
    let blocked = ids(TaskStatus::Blocked);
    if !blocked.is_empty() {
        risks.push(format!(
            "{} blocked behind failed work: {}.",
            plural(blocked.len(), "task"),
            blocked.join(", ")
        ));
    }
    if let Some(sentence) =
        deadline(report).filter(|s| s.contains("after it") || s.contains("passed"))
    {
        risks.push(sentence);
    }
    if let Some(usd) = report.cost.budget.usd.filter(|&usd| usd > 0.0) {
        let used = report.cost.total.cost_usd / usd;
        if used >= 0.8 && !report.status.is_finished() {
            risks.push(format!("{:.0} % of the budget is spent.", used * 100.0));
        }
    }
    risks
}

/// `2 of 3 met, 1 to confirm`.
pub fn done(report: &Report) -> Option<String> {
    if report.done.is_empty() {
        return None;
    }
    let states = [
        DoneState::Met,
        DoneState::Approved,
        DoneState::NotMet,
        DoneState::ToConfirm,
        DoneState::NotChecked,
    ];
    let parts: Vec<String> = states
        .iter()
        .filter_map(|&state| {
            let n = report.done.iter().filter(|d| d.state == state).count();
            (n > 0).then(|| format!("{n} {}", state.as_str()))
        })
        .collect();
    Some(format!(
        "{}: {}.",
        plural(report.done.len(), "item"),
        parts.join(", ")
    ))
}

/// `text` trimmed and ending as a sentence does, so that another may follow.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() || text.ends_with(['.', '!', '?']) {
        text.to_string()
    } else {
        format!("{text}.")
    }
}
