//! The portfolio for a terminal (`color`) or a pipe: a row per agent, the
//! missions counted, and the risks with what to do about them.

use super::plan::{Painter, hours};
use super::{plural, table};
use std::fmt::Write;
use techlead_core::plan::risk::Level;
use techlead_core::portfolio::{Allocation, MissionLoad, Portfolio};
use techlead_core::state::ExternalState;

pub fn text(p: &Portfolio, width: usize, color: bool) -> String {
    let paint = Painter { color };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}\n",
        paint.bold(&format!(
            "Portfolio · {} under way · as of {} · alert over {:.0}%",
            plural(p.missions.len(), "mission"),
            stamp(p.as_of),
            p.threshold
        ))
    );
    out.push_str(&agents(p, width, &paint));
    let _ = writeln!(out, "\n{}", paint.bold("Missions"));
    for m in &p.missions {
        let _ = writeln!(out, "  {}", mission(p, m));
    }
    let waits: Vec<String> = p.missions.iter().flat_map(cross_waits).collect();
    if !waits.is_empty() {
        let _ = writeln!(out, "\n{}", paint.bold("Waits between missions"));
        for wait in waits {
            let _ = writeln!(out, "  {wait}");
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        paint.bold(&format!("Risks ({})", p.risks.len()))
    );
    if p.risks.is_empty() {
        let _ = writeln!(
            out,
            "  none: no agent over {:.0}%, none on two critical paths",
            p.threshold
        );
    }
    for risk in &p.risks {
        let level = format!("{:<8}", risk.level.as_str().to_uppercase());
        let kind = serde_json::to_value(risk.kind).expect("a kind serialises");
        let _ = writeln!(
            out,
            "  {} {} {}",
            paint.level(&level, risk.level),
            kind.as_str().unwrap_or_default(),
            risk.message
        );
        let _ = writeln!(out, "  {:<8} {} {}", "", paint.dim("→"), risk.mitigation);
    }
    out
}

fn agents(p: &Portfolio, width: usize, paint: &Painter) -> String {
    let columns = [
        table::column("AGENT", false),
        table::column("MISSIONS", true),
        table::column("TASKS", false),
        table::column("REMAINING", false),
        table::column("CAPACITY", false),
        table::column("ALLOCATION", false),
        table::column("FLAG", false),
    ];
    let rows: Vec<Vec<String>> = p.agents.iter().map(row).collect();
    let mut text = table::render(&columns, &rows, width);
    // Colour after layout, so that escape codes do not count as width.
    if paint.color {
        for flag in ["OVER", "OVERDUE"] {
            text = text.replace(
                &format!("  {flag}\n"),
                &format!("  {}\n", paint.level(flag, Level::High)),
            );
        }
    }
    text
}

fn row(a: &Allocation) -> Vec<String> {
    let missions = a
        .missions
        .iter()
        .map(|s| format!("{} ({})", s.mission, hours(s.hours)))
        .collect::<Vec<_>>()
        .join(", ");
    let (allocation, flag) = match a.percent {
        None => ("—".to_string(), "OVERDUE"),
        Some(p) => (format!("{p:.0}%"), if a.over { "OVER" } else { "" }),
    };
    vec![
        a.agent.clone(),
        missions,
        a.tasks.to_string(),
        hours(a.hours),
        format!("{} × {}", a.slots, hours(a.window_hours.max(0.0))),
        allocation,
        flag.to_string(),
    ]
}

/// `reports-1 REPORT waits for billing/API: succeeded in billing-1`.
fn cross_waits(m: &MissionLoad) -> Vec<String> {
    m.waits_for
        .iter()
        .map(|w| {
            let state = match &w.wait.state {
                ExternalState::Waiting => "waiting".to_string(),
                ExternalState::Succeeded { mission } => format!("succeeded in {mission}"),
                ExternalState::Failed { reason, .. } => format!("cannot succeed: {reason}"),
            };
            format!("{} {} waits for {}: {state}", m.id, w.task, w.wait.on)
        })
        .collect()
}

/// `priority 10, share 2`, when either is not the default.
fn standing(m: &MissionLoad) -> String {
    match (m.priority, m.share) {
        (0, 1) => String::new(),
        (priority, 1) => format!(" · priority {priority}"),
        (priority, share) => format!(" · priority {priority}, share {share}"),
    }
}

fn mission(p: &Portfolio, m: &MissionLoad) -> String {
    let due = match m.deadline {
        Some(d) => format!("due {}", stamp(d)),
        None => format!(
            "no deadline: due within the {} horizon",
            hours(p.horizon_hours)
        ),
    };
    let path = if m.critical_path.is_empty() {
        String::new()
    } else {
        format!(
            " · critical path {} ({})",
            m.critical_path.join(" → "),
            hours(m.critical_hours)
        )
    };
    format!(
        "{} · {}{} · {} · {} left · {due}{path}",
        m.id,
        m.status,
        standing(m),
        plural(m.tasks, "task"),
        hours(m.hours)
    )
}

/// A timestamp to the minute: `2026-03-01 17:00 UTC`.
fn stamp(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}
