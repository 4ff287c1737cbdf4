//! The report as one self-contained HTML page: inline CSS, inline SVG
//! charts (`chart`), no script, nothing fetched, and print styles. The
//! markup is also well-formed XML (every element closed, only XML's
//! entities), so that any parser reads it the same way. Every text from
//! the record goes through [`escape`].

use super::chart;
use super::model::{Audience, EscalationLine, Report};
use super::summary::{self, sentence};
use super::text::{self, plural};
use crate::state::DoneState;
use std::fmt::Write;

const STYLE: &str = include_str!("report.css");

/// Text as HTML shows it literally, in element content and in quoted
/// attribute values alike.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub fn html(report: &Report, audience: Audience) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n<title>Mission report: {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(&report.name)
    );
    header(&mut out, report);
    summary_section(&mut out, report);
    decisions(&mut out, report);
    charts(&mut out, report, audience);
    if audience == Audience::Engineering {
        tasks(&mut out, report);
        attempts(&mut out, report);
        gates(&mut out, report);
        escalations(&mut out, report);
        lessons(&mut out, report);
    }
    done(&mut out, report);
    let _ = write!(
        out,
        "<footer>Report of <code>techlead report {}</code> as of {}. Logs are relative to the techlead data directory, beside the database.</footer>\n</main>\n</body>\n</html>\n",
        escape(&report.mission),
        text::stamp(report.as_of)
    );
    out
}

fn header(out: &mut String, r: &Report) {
    let _ = write!(
        out,
        "<header><h1>{}</h1><p class=\"meta\"><code>{}</code> <span class=\"status {status}\">{status}</span></p><p class=\"headline\">{}</p>",
        escape(&r.name),
        escape(&r.mission),
        escape(&r.outcome.headline),
        status = r.status,
    );
    if !r.objective.is_empty() {
        let _ = write!(out, "<p class=\"objective\">{}</p>", escape(&r.objective));
    }
    out.push_str("</header>\n");
    if r.simulated {
        out.push_str("<p class=\"simulation\"><strong>SIMULATION.</strong> Attempts ran on the <code>simulate</code> executor: nothing was built and nothing was spent.</p>\n");
    }
}

fn summary_section(out: &mut String, r: &Report) {
    out.push_str("<section class=\"summary\"><h2>Summary</h2><dl>");
    let mut item = |term: &str, text: String| {
        let _ = write!(out, "<dt>{term}</dt><dd>{}</dd>", escape(&text));
    };
    item("Dates", summary::dates(r));
    // The term already says "Deadline"; the sentence need not again.
    let deadline = summary::deadline(r).map(|s| s.replacen("Deadline ", "", 1));
    item(
        "Deadline",
        deadline.unwrap_or_else(|| "None set.".to_string()),
    );
    if let Some(forecast) = summary::forecast(r) {
        item("Forecast", forecast);
    }
    item("Cost", summary::spend(r));
    if let Some(done) = summary::done(r) {
        item("Definition of done", done);
    }
    out.push_str("</dl></section>\n");
}

fn decisions(out: &mut String, r: &Report) {
    let risks = summary::risks(r);
    let open: Vec<&EscalationLine> = r.escalations.iter().filter(|e| e.open).collect();
    out.push_str("<section class=\"risks\"><h2>Risks and decisions needed</h2><ul>");
    for risk in &risks {
        let _ = write!(out, "<li>{}</li>", escape(risk));
    }
    for e in &open {
        let _ = write!(
            out,
            "<li class=\"open\">Decide escalation #{}: {} <span class=\"muted\">Options: {}. Recommended: {}.</span> <code>techlead decide {} {} ACTION</code></li>",
            e.record.id,
            escape(&sentence(&e.record.message)),
            escape(&e.record.options.join(", ")),
            escape(&e.record.recommendation),
            escape(&r.mission),
            e.record.id
        );
    }
    if risks.is_empty() && open.is_empty() {
        out.push_str("<li>None: nothing waits for a decision.</li>");
    }
    out.push_str("</ul></section>\n");
}

fn charts(out: &mut String, r: &Report, audience: Audience) {
    if audience == Audience::Engineering && !r.attempts.is_empty() {
        let _ = writeln!(
            out,
            "<section class=\"figure\"><h2>Attempts by agent</h2>{}<p class=\"legend\"><span class=\"key succeeded\"></span>succeeded <span class=\"key failed\"></span>failed or rejected <span class=\"key stopped\"></span>stopped (ran again) <span class=\"key running\"></span>running</p></section>",
            chart::gantt(r)
        );
    }
    if let Some(start) = r.timeline.started_at {
        let _ = writeln!(
            out,
            "<section class=\"figure\"><h2>Burn-up</h2>{}<p class=\"legend\"><span class=\"key actual\"></span>tasks done <span class=\"key planned\"></span>planned <span class=\"key total\"></span>total{}</p>{}</section>",
            chart::burnup(r),
            if chart::deadline_on_burnup(r, start).is_some() {
                " <span class=\"key deadline\"></span>deadline"
            } else {
                ""
            },
            beyond(r, start)
        );
    }
    if !r.cost.by_agent.is_empty() {
        let by_cost = r.cost.by_agent.iter().any(|a| a.cost_usd > 0.0);
        let _ = writeln!(
            out,
            "<section class=\"figure\"><h2>{}</h2>{}</section>",
            if by_cost {
                "Cost by agent"
            } else {
                "Time by agent (no agent reported a cost)"
            },
            chart::cost(r)
        );
    }
}

/// What the burn-up leaves off its axis, said in words.
fn beyond(r: &Report, start: jiff::Timestamp) -> String {
    let span_ms = chart::burnup_span(r, start);
    let planned_ms = r.timeline.planned.hours * 3_600_000.0;
    if planned_ms <= span_ms {
        return String::new();
    }
    format!(
        "<p class=\"muted\">The plan runs {}, past the right edge of the chart.</p>",
        text::hours(r.timeline.planned.hours)
    )
}

/// A table of cells already escaped.
fn table(out: &mut String, class: &str, headers: &[&str], rows: Vec<Vec<String>>) {
    let _ = write!(out, "<table class=\"{class}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = write!(out, "<td>{cell}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

fn tasks(out: &mut String, r: &Report) {
    out.push_str("<section><h2>Tasks</h2>");
    let rows = r
        .tasks
        .iter()
        .map(|t| {
            vec![
                code(&t.id),
                escape(&t.title),
                escape(&t.agent),
                format!(
                    "<span class=\"status {s}\">{s}</span>{}",
                    t.blocked_by
                        .as_ref()
                        .map_or(String::new(), |b| format!(" by {}", escape(b))),
                    s = t.status
                ),
                t.attempts.to_string(),
                text::duration_ms(t.worked_ms),
                t.estimate_hours.map_or("-".to_string(), text::hours),
                text::dollars(t.cost_usd),
            ]
        })
        .collect();
    let headers = [
        "Task", "Title", "Agent", "Status", "Attempts", "Time", "Estimate", "Cost",
    ];
    table(out, "tasks", &headers, rows);
    out.push_str("</section>\n");
}

fn attempts(out: &mut String, r: &Report) {
    if r.attempts.is_empty() {
        return;
    }
    out.push_str("<section><h2>Attempts</h2>");
    let rows = r
        .attempts
        .iter()
        .map(|a| {
            vec![
                code(&a.task),
                a.number.to_string(),
                escape(&a.agent),
                text::stamp(a.start),
                text::duration_ms(text::ms_between(a.start, a.end)),
                escape(&a.outcome),
                code(&a.log),
            ]
        })
        .collect();
    let headers = [
        "Task", "#", "Agent", "Started", "Duration", "Outcome", "Log",
    ];
    table(out, "attempts", &headers, rows);
    out.push_str("</section>\n");
}

fn gates(out: &mut String, r: &Report) {
    out.push_str("<section><h2>Quality gates</h2>");
    if r.gates.is_empty() {
        out.push_str("<p class=\"muted\">No gate has run.</p></section>\n");
        return;
    }
    let rows = r
        .gates
        .iter()
        .map(|g| {
            vec![
                escape(&g.subject),
                g.attempt.map_or("-".to_string(), |a| a.to_string()),
                escape(&g.gate),
                if g.passed { "passed" } else { "failed" }.to_string(),
                escape(&g.reasons.join("; ")),
                code(&g.log),
            ]
        })
        .collect();
    let headers = ["Subject", "Attempt", "Gate", "Verdict", "Why", "Log"];
    table(out, "gates", &headers, rows);
    out.push_str("</section>\n");
}

fn escalations(out: &mut String, r: &Report) {
    out.push_str("<section><h2>Escalations and decisions</h2>");
    if r.escalations.is_empty() {
        out.push_str(
            "<p class=\"muted\">None: the mission never needed the person.</p></section>\n",
        );
        return;
    }
    out.push_str("<ul>");
    for e in &r.escalations {
        let record = &e.record;
        let decided = match &record.resolution {
            Some(res) => format!(
                "Decided: {} by {} at {}{}.",
                escape(&res.decision.to_string()),
                escape(&res.by),
                text::stamp(res.at),
                res.note
                    .as_ref()
                    .map_or(String::new(), |n| format!(" (&quot;{}&quot;)", escape(n)))
            ),
            None if e.open => format!(
                "<strong>Waits for a decision.</strong> Recommended: {}.",
                escape(&record.recommendation)
            ),
            None => "Closed without a decision.".to_string(),
        };
        let _ = write!(
            out,
            "<li><strong>#{} {}</strong> <span class=\"muted\">{}</span>: {} {decided}</li>",
            record.id,
            escape(&kind(e)),
            text::stamp(record.raised_at),
            escape(&sentence(&record.message)),
        );
    }
    out.push_str("</ul></section>\n");
}

fn kind(e: &EscalationLine) -> String {
    serde_json::to_value(e.record.kind)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

fn lessons(out: &mut String, r: &Report) {
    out.push_str("<section><h2>Lessons</h2>");
    if r.lessons.is_empty() {
        out.push_str(
            "<p class=\"muted\">Every task succeeded on its first attempt.</p></section>\n",
        );
        return;
    }
    out.push_str("<ul class=\"lessons\">");
    for l in &r.lessons {
        let _ = write!(
            out,
            "<li><strong>{}</strong> {}<ul>",
            code(&l.task),
            escape(&l.title)
        );
        for failure in &l.failures {
            let _ = write!(out, "<li>{}</li>", escape(failure));
        }
        let _ = write!(
            out,
            "<li class=\"{}\">{}: {}.</li>",
            if l.resolved { "resolved" } else { "unresolved" },
            if l.resolved { "Resolved" } else { "Open" },
            escape(&l.resolution)
        );
        if !l.logs.is_empty() {
            let logs: Vec<String> = l.logs.iter().map(|p| code(p)).collect();
            let _ = write!(out, "<li>Logs: {}</li>", logs.join(", "));
        }
        out.push_str("</ul></li>");
    }
    out.push_str("</ul></section>\n");
}

fn done(out: &mut String, r: &Report) {
    if r.done.is_empty() {
        return;
    }
    let _ = write!(
        out,
        "<section><h2>Definition of done</h2><p class=\"muted\">{}</p><ul class=\"done\">",
        plural(r.done.len(), "item")
    );
    for d in &r.done {
        let class = match d.state {
            DoneState::Met | DoneState::Approved => "met",
            DoneState::NotMet => "not-met",
            DoneState::ToConfirm | DoneState::NotChecked => "open",
        };
        let log = d.log.as_ref().map_or(String::new(), |l| {
            format!(" <span class=\"muted\">log {}</span>", code(l))
        });
        let _ = write!(
            out,
            "<li class=\"{class}\">{}: <strong>{}</strong>{log}</li>",
            escape(&d.text),
            d.state.as_str()
        );
    }
    out.push_str("</ul></section>\n");
}
