//! A forecast as text for people, or as JSON (`techlead forecast`). Plain
//! text either way: it reads the same on a terminal and in a pipe.

use super::plural;
use jiff::Timestamp;
use serde_json::{Value, json};
use techlead_core::forecast::slip::after;
use techlead_core::forecast::{Forecast, Spread};

pub fn text(name: &str, f: &Forecast, now: Timestamp) -> String {
    let mut out = format!(
        "{name} · {} left{} · {} runs, seed {}\n\n",
        plural(f.tasks, "task"),
        if f.unestimated > 0 {
            format!(" ({} without an estimate count 1 h each)", f.unestimated)
        } else {
            String::new()
        },
        f.runs,
        f.seed
    );
    if f.tasks == 0 {
        out.push_str("Nothing left to run.\n");
        return out;
    }
    out.push_str(&spread_table(f, now));
    if let Some(deadline) = f.deadline {
        let at = after(now, deadline.hours_left.max(0.0));
        out.push_str(&format!(
            "\nDeadline {}: {:.0}% chance of meeting it.\n",
            when(at),
            deadline.chance * 100.0
        ));
    }
    if f.failure_chance > 0.0 {
        out.push_str(&format!(
            "A task fails in {:.0}% of runs (as some did in history): the mission would wait for your decision.\n",
            f.failure_chance * 100.0
        ));
    }
    out.push_str(&drivers(f));
    out.push_str(&history(f));
    out
}

fn spread_table(f: &Forecast, now: Timestamp) -> String {
    let Spread { p10, p50, p90, .. } = f.finish_hours;
    let mut out = format!("{:<8}{:>22}{:>22}{:>22}\n", "", "P10", "P50", "P90");
    out.push_str(&format!(
        "{:<8}{:>22}{:>22}{:>22}\n",
        "takes",
        hours(p10),
        hours(p50),
        hours(p90)
    ));
    out.push_str(&format!(
        "{:<8}{:>22}{:>22}{:>22}\n",
        "ends",
        when(after(now, p10)),
        when(after(now, p50)),
        when(after(now, p90))
    ));
    let c = f.cost_usd;
    out.push_str(&format!(
        "{:<8}{:>22}{:>22}{:>22}\n",
        "costs",
        dollars(c.p10),
        dollars(c.p50),
        dollars(c.p90)
    ));
    if f.spent_usd > 0.0 {
        out.push_str(&format!(
            "        (besides {} spent so far)\n",
            dollars(f.spent_usd)
        ));
    }
    out
}

fn drivers(f: &Forecast) -> String {
    if f.drivers.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\nWhat drives the risk (correlation with the finish; share of runs on the critical chain):\n",
    );
    let width = f.drivers.iter().map(|d| d.task.len()).max().unwrap_or(0);
    let agents = f.drivers.iter().map(|d| d.agent.len()).max().unwrap_or(0);
    for d in &f.drivers {
        out.push_str(&format!(
            "  {:<width$}  {:<agents$}  {:.2} · {:>3.0}% critical · {} ± {}\n",
            d.task,
            d.agent,
            d.correlation,
            d.criticality * 100.0,
            hours(d.mean_hours),
            hours(d.spread_hours),
        ));
    }
    out
}

fn history(f: &Forecast) -> String {
    let h = &f.history;
    let prior = format!(
        "a lognormal prior (median {:.1}× the estimate, sigma {:.1})",
        h.prior.median, h.prior.sigma
    );
    if h.samples == 0 {
        return format!("\nHistory: none yet; every task draws from {prior}.\n");
    }
    let mut out = format!(
        "\nHistory: {} from {} (median {} the estimate), then {prior}:\n",
        plural(h.samples, "finished task"),
        plural(h.missions, "mission"),
        ratio(h.median_ratio.unwrap_or(h.prior.median)),
    );
    let width = h
        .agents
        .iter()
        .chain(&h.kinds)
        .map(|a| a.name.len())
        .max()
        .unwrap_or(0);
    for a in &h.agents {
        out.push_str(&format!(
            "  {:<width$}  {} · median {} · its own in {:.0}% of draws\n",
            a.name,
            plural(a.samples, "sample"),
            ratio(a.median_ratio),
            a.weight * 100.0
        ));
    }
    let kinds: Vec<String> = h
        .kinds
        .iter()
        .map(|k| format!("{} {} ({})", k.name, k.samples, ratio(k.median_ratio)))
        .collect();
    out.push_str(&format!("  by kind of work: {}\n", kinds.join(", ")));
    out
}

pub fn json(name: &str, f: &Forecast, now: Timestamp) -> Value {
    json!({
        "mission": name,
        "as_of": now,
        "finish": {
            "p10": after(now, f.finish_hours.p10),
            "p50": after(now, f.finish_hours.p50),
            "p80": after(now, f.finish_hours.p80),
            "p90": after(now, f.finish_hours.p90),
        },
        "forecast": f,
    })
}

/// `40 s`, `12 min`, `3.5 h`, `2 d 4 h`: agents may take seconds where
/// estimates said hours.
fn hours(h: f64) -> String {
    match h * 3600.0 {
        s if s < 60.0 => format!("{s:.0} s"),
        s if s < 3600.0 => format!("{:.0} min", s / 60.0),
        _ => super::plan::hours(h),
    }
}

/// `1.40×`, or more digits for the tiny ratios of agents that take
/// seconds for what was estimated in hours.
fn ratio(r: f64) -> String {
    if r >= 0.1 || r == 0.0 {
        format!("{r:.2}×")
    } else {
        format!("{r:.4}×")
    }
}

fn when(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

fn dollars(usd: f64) -> String {
    format!("${usd:.2}")
}
