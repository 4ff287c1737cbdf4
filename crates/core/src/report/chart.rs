//! The report's charts as inline SVG: a Gantt chart of the attempts in a
//! lane per agent, coloured by how each ended; the burn-up of tasks done
//! against the plan; and what each agent cost. Drawn here, so that the
//! page needs no script and no library, and prints as it shows.

use super::html::escape;
use super::model::{AttemptBar, AttemptResult, Report};
use super::text::{self, ms_between};
use jiff::Timestamp;
use std::fmt::Write;

/// Chart width in SVG units; the page scales it to fit.
pub const WIDTH: f64 = 800.0;
/// Where the plot starts, after the labels.
const LEFT: f64 = 150.0;
const PLOT: f64 = WIDTH - LEFT - 20.0;
const ROW: f64 = 20.0;

/// A coordinate as SVG takes it.
fn n(x: f64) -> String {
    format!("{:.1}", if x.is_finite() { x } else { 0.0 })
}

fn class(result: AttemptResult) -> &'static str {
    match result {
        AttemptResult::Succeeded => "succeeded",
        AttemptResult::Failed => "failed",
        AttemptResult::Stopped => "stopped",
        AttemptResult::Running => "running",
    }
}

/// Where on the x axis a time falls, over `span_ms` from `start`.
struct Axis {
    start: Timestamp,
    span_ms: f64,
}

impl Axis {
    fn x(&self, at: Timestamp) -> f64 {
        self.x_ms(ms_between(self.start, at) as f64)
    }

    fn x_ms(&self, ms: f64) -> f64 {
        LEFT + (ms / self.span_ms).clamp(0.0, 1.0) * PLOT
    }

    /// Ticks at every quarter, labelled with the time since the start.
    fn ticks(&self, out: &mut String, top: f64, bottom: f64) {
        for q in 0..=4 {
            let ms = self.span_ms * f64::from(q) / 4.0;
            let x = self.x_ms(ms);
            let _ = write!(
                out,
                r#"<line class="tick" x1="{x}" y1="{t}" x2="{x}" y2="{b}"/><text class="axis" x="{x}" y="{l}" text-anchor="middle">{label}</text>"#,
                x = n(x),
                t = n(top),
                b = n(bottom),
                l = n(bottom + 14.0),
                label = text::duration_ms(ms as u64)
            );
        }
    }
}

/// The attempts, one lane per agent (more rows where its attempts
/// overlapped), each bar from its start to its end.
pub fn gantt(report: &Report) -> String {
    let bars = &report.attempts;
    let Some(start) = bars.iter().map(|b| b.start).min() else {
        return String::new();
    };
    let end = bars.iter().map(|b| b.end).max().unwrap_or(start);
    let axis = Axis {
        start,
        span_ms: (ms_between(start, end) as f64).max(1.0),
    };
    let rows = lanes(bars);
    let height = rows.len() as f64 * ROW + 30.0;
    let mut out = open_svg("gantt", height, "Attempts over time, one lane per agent");
    axis.ticks(&mut out, 0.0, height - 24.0);
    let mut last_agent = "";
    for (row, &(agent, ref members)) in rows.iter().enumerate() {
        let y = row as f64 * ROW;
        if agent != last_agent {
            let _ = write!(
                out,
                r#"<text class="lane" x="{}" y="{}" text-anchor="end">{}</text>"#,
                n(LEFT - 8.0),
                n(y + 14.0),
                escape(agent)
            );
            last_agent = agent;
        }
        for &b in members {
            attempt_bar(&mut out, &axis, &bars[b], y);
        }
    }
    out.push_str("</svg>");
    out
}

fn attempt_bar(out: &mut String, axis: &Axis, bar: &AttemptBar, y: f64) {
    let x = axis.x(bar.start).min(LEFT + PLOT - 2.0);
    let width = (axis.x(bar.end) - x).max(2.0);
    let took = text::duration_ms(ms_between(bar.start, bar.end));
    let _ = write!(
        out,
        r#"<rect class="attempt {c}" x="{x}" y="{y}" width="{w}" height="{h}" rx="2"><title>{task} attempt {number} on {agent}: {outcome}, {took}</title></rect>"#,
        c = class(bar.result),
        x = n(x),
        y = n(y + 3.0),
        w = n(width),
        h = n(ROW - 6.0),
        task = escape(&bar.task),
        number = bar.number,
        agent = escape(&bar.agent),
        outcome = escape(&bar.outcome),
    );
    // A label only where it fits (about 7 units a character).
    let label = format!("{} #{}", bar.task, bar.number);
    if width > label.chars().count() as f64 * 7.0 + 6.0 {
        let _ = write!(
            out,
            r#"<text class="label" x="{}" y="{}">{}</text>"#,
            n(x + 4.0),
            n(y + 14.0),
            escape(&label)
        );
    }
}

/// Rows of bars: each agent's attempts, in as few rows as keep them from
/// overlapping, agents in the order they first worked.
fn lanes(bars: &[AttemptBar]) -> Vec<(&str, Vec<usize>)> {
    let mut rows: Vec<(&str, Vec<usize>)> = Vec::new();
    let mut agents: Vec<&str> = Vec::new();
    for bar in bars {
        if !agents.contains(&bar.agent.as_str()) {
            agents.push(&bar.agent);
        }
    }
    for agent in agents {
        let first = rows.len();
        for (b, bar) in bars.iter().enumerate().filter(|(_, b)| b.agent == agent) {
            let free = rows[first..].iter().position(|(_, members)| {
                members
                    .last()
                    .is_none_or(|&last| bars[last].end <= bar.start)
            });
            match free {
                Some(r) => rows[first + r].1.push(b),
                None => rows.push((agent, vec![b])),
            }
        }
    }
    rows
}

fn open_svg(class: &str, height: f64, label: &str) -> String {
    format!(
        r#"<svg class="chart {class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{label}">"#,
        w = n(WIDTH),
        h = n(height),
    )
}

/// Tasks done over time (a step each time one succeeds or is skipped)
/// against the plan's schedule from the same start, and the total.
pub fn burnup(report: &Report) -> String {
    let Some(start) = report.timeline.started_at else {
        return String::new();
    };
    let total = report.burnup.total.max(1) as f64;
    let span_ms = burnup_span(report, start);
    let axis = Axis { start, span_ms };
    let (top, bottom) = (10.0, 190.0);
    let y = |count: usize| bottom - (count as f64 / total) * (bottom - top);
    let mut out = open_svg("burnup", 230.0, "Tasks done over time against the plan");
    axis.ticks(&mut out, top, bottom);
    let _ = write!(
        out,
        r#"<text class="axis" x="{}" y="{}" text-anchor="end">{}</text><text class="axis" x="{}" y="{}" text-anchor="end">0</text><line class="total" x1="{}" y1="{t}" x2="{}" y2="{t}"/>"#,
        n(LEFT - 8.0),
        n(top + 4.0),
        report.burnup.total,
        n(LEFT - 8.0),
        n(bottom),
        n(LEFT),
        n(LEFT + PLOT),
        t = n(top),
    );
    let planned: Vec<(f64, usize)> = report
        .burnup
        .planned
        .iter()
        .map(|&(hours, count)| (hours * 3_600_000.0, count))
        .collect();
    steps(&mut out, "planned", &axis, &planned, span_ms, &y);
    let actual: Vec<(f64, usize)> = report
        .burnup
        .actual
        .iter()
        .map(|&(at, count)| (ms_between(start, at) as f64, count))
        .collect();
    let now_ms = ms_between(start, report.timeline.finished_at.unwrap_or(report.as_of)) as f64;
    steps(&mut out, "actual", &axis, &actual, now_ms, &y);
    if let Some(ms) = deadline_on_burnup(report, start) {
        let x = n(axis.x_ms(ms));
        let _ = write!(
            out,
            r#"<line class="deadline" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            n(top),
            n(bottom)
        );
    }
    out.push_str("</svg>");
    out
}

/// How long the burn-up's axis runs: the actual time, stretched to the
/// plan's finish and the deadline where they come within four times it,
/// so that the work done never shrinks to a sliver of the chart.
pub fn burnup_span(report: &Report, start: Timestamp) -> f64 {
    let end = report.timeline.finished_at.unwrap_or(report.as_of);
    let actual = (ms_between(start, end) as f64).max(1.0);
    let planned = report.timeline.planned.hours * 3_600_000.0;
    let deadline = report
        .timeline
        .deadline
        .map_or(0.0, |d| ms_between(start, d) as f64);
    [planned, deadline]
        .into_iter()
        .filter(|&ms| ms <= actual * 4.0)
        .fold(actual, f64::max)
}

/// Where the deadline falls on the burn-up's axis, in milliseconds from
/// the start, when it falls on it at all.
pub fn deadline_on_burnup(report: &Report, start: Timestamp) -> Option<f64> {
    let deadline = report.timeline.deadline.filter(|&d| d > start)?;
    let ms = ms_between(start, deadline) as f64;
    (ms <= burnup_span(report, start)).then_some(ms)
}

/// A step line from 0 through each `(ms, count)` to `until_ms`, cut at
/// the axis's end: a step past it is off the chart, not on its edge.
fn steps(
    out: &mut String,
    class: &str,
    axis: &Axis,
    points: &[(f64, usize)],
    until_ms: f64,
    y: &dyn Fn(usize) -> f64,
) {
    let mut path = format!("{},{}", n(axis.x_ms(0.0)), n(y(0)));
    let mut count = 0;
    for &(ms, next) in points.iter().take_while(|(ms, _)| *ms <= axis.span_ms) {
        let x = n(axis.x_ms(ms));
        let _ = write!(path, " {x},{} {x},{}", n(y(count)), n(y(next)));
        count = next;
    }
    let end = until_ms.min(axis.span_ms);
    let _ = write!(path, " {},{}", n(axis.x_ms(end)), n(y(count)));
    let _ = write!(out, r#"<polyline class="{class}" points="{path}"/>"#);
}

/// One bar per agent: what it cost, or, when no agent reported a cost,
/// the time its attempts took.
pub fn cost(report: &Report) -> String {
    let rows = &report.cost.by_agent;
    if rows.is_empty() {
        return String::new();
    }
    let by_cost = rows.iter().any(|r| r.cost_usd > 0.0);
    let values: Vec<f64> = if by_cost {
        rows.iter().map(|r| r.cost_usd).collect()
    } else {
        report.cost.agent_hours.clone()
    };
    let most = values.iter().copied().fold(0.0, f64::max);
    let height = rows.len() as f64 * ROW + 6.0;
    let mut out = open_svg("cost", height, "Cost by agent");
    for (i, (row, value)) in rows.iter().zip(&values).enumerate() {
        let y = i as f64 * ROW;
        let width = if most > 0.0 {
            (value / most * (PLOT - 90.0)).max(1.0)
        } else {
            1.0
        };
        let label = if by_cost {
            text::dollars(*value)
        } else {
            text::hours(*value)
        };
        let _ = write!(
            out,
            r#"<text class="lane" x="{}" y="{ty}" text-anchor="end">{name}</text><rect class="spend" x="{x}" y="{y}" width="{w}" height="{h}" rx="2"><title>{name}: {label}</title></rect><text class="axis" x="{lx}" y="{ty}">{label}</text>"#,
            n(LEFT - 8.0),
            ty = n(y + 14.0),
            name = escape(&row.name),
            x = n(LEFT),
            y = n(y + 3.0),
            w = n(width),
            h = n(ROW - 6.0),
            lx = n(LEFT + width + 6.0),
        );
    }
    out.push_str("</svg>");
    out
}
