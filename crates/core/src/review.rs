//! Review gates: what a reviewing agent is asked, and how its answer is
//! read. The reviewer must end with a verdict in a structured form, so
//! that approving is never a guess from prose:
//!
//! ```text
//! {"verdict": "approve", "reasons": ["..."]}
//! {"verdict": "request_changes", "reasons": ["the error model returns 500 on a bad date"]}
//! ```
//!
//! A line `::verdict approve` or `::verdict request-changes <reason>`
//! counts too (the reporting protocol's form). The last verdict in the
//! answer wins; an answer without one fails the gate, saying so.

use crate::state::MissionState;
use serde::Deserialize;
use std::fmt::Write;

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub approve: bool,
    pub reasons: Vec<String>,
}

#[derive(Deserialize)]
struct Structured {
    verdict: String,
    #[serde(default)]
    reasons: Vec<String>,
}

/// The last verdict in a reviewer's answer, if it gave one.
pub fn verdict(answer: &str) -> Option<Verdict> {
    let json = last_json_verdict(answer);
    let line = last_line_verdict(answer);
    match (json, line) {
        (Some((at_json, json)), Some((at_line, line))) => {
            Some(if at_line > at_json { line } else { json })
        }
        (Some((_, v)), None) | (None, Some((_, v))) => Some(v),
        (None, None) => None,
    }
}

/// The last JSON object with a known `verdict`, and where it starts.
fn last_json_verdict(answer: &str) -> Option<(usize, Verdict)> {
    let mut search = answer.len();
    while let Some(start) = answer[..search].rfind('{') {
        let mut stream =
            serde_json::Deserializer::from_str(&answer[start..]).into_iter::<Structured>();
        if let Some(Ok(structured)) = stream.next()
            && let Some(approve) = decision(&structured.verdict)
        {
            let reasons = structured.reasons;
            return Some((start, Verdict { approve, reasons }));
        }
        search = start;
    }
    None
}

/// The last `::verdict` line, and where it starts.
fn last_line_verdict(answer: &str) -> Option<(usize, Verdict)> {
    let mut found = None;
    let mut offset = 0;
    for line in answer.split_inclusive('\n') {
        if let Some(verdict) = line_verdict(line) {
            found = Some((offset, verdict));
        }
        offset += line.len();
    }
    found
}

fn line_verdict(line: &str) -> Option<Verdict> {
    let rest = line.trim().strip_prefix("::verdict")?.trim();
    let (word, reason) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let approve = decision(word)?;
    let reasons = match reason.trim() {
        "" => Vec::new(),
        reason => vec![reason.to_string()],
    };
    Some(Verdict { approve, reasons })
}

fn decision(word: &str) -> Option<bool> {
    match word
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' '], "_")
        .as_str()
    {
        "approve" | "approved" => Some(true),
        "request_changes" | "changes_requested" | "reject" => Some(false),
        _ => None,
    }
}

/// What the reviewer of task `t` is asked, but for the change itself,
/// which is read later (off the engine's thread).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    head: String,
}

impl Question {
    /// The whole prompt, with the change as a diff (cut to size by the
    /// caller) and the verdict format.
    pub fn render(&self, diff: &str) -> String {
        let mut out = self.head.clone();
        let _ = writeln!(out, "## The change\n\n```diff\n{}\n```\n", diff.trim_end());
        let _ = writeln!(
            out,
            "## Your verdict\n\nEnd your answer with one JSON object on its own line:\n\n\
             {{\"verdict\": \"approve\", \"reasons\": [\"why it is right\"]}}\n\nor\n\n\
             {{\"verdict\": \"request_changes\", \"reasons\": [\"what must change, one item each\"]}}\n"
        );
        out
    }
}

/// What the reviewer of task `t` receives: the task and what done means,
/// what the agent says it did, and the gate's instructions.
pub fn question(state: &MissionState, t: usize, instructions: &str) -> Question {
    let task = &state.plan.tasks[t];
    let done = &state.tasks[t];
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Review of task {}: {}\n\nAgent `{}` did this task. Review its change and decide \
         whether it can be merged. Do not change any file.\n",
        task.id, task.title, done.agent
    );
    if !task.description.is_empty() {
        let _ = writeln!(out, "## The task\n\n{}\n", task.description.trim());
    }
    if !task.detail.acceptance.is_empty() {
        let _ = writeln!(out, "## Done means\n");
        for line in &task.detail.acceptance {
            let _ = writeln!(out, "- {}", line.trim());
        }
        out.push('\n');
    }
    if let Some(summary) = &done.reports.summary {
        let _ = writeln!(out, "## What the agent says it did\n\n{}\n", summary.trim());
    }
    if !instructions.trim().is_empty() {
        let _ = writeln!(out, "## What to check\n\n{}\n", instructions.trim());
    }
    Question { head: out }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn approve(reasons: &[&str]) -> Option<Verdict> {
        Some(Verdict {
            approve: true,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
        })
    }

    #[test]
    fn a_json_verdict_at_the_end_is_read() {
        let answer = "Looks good.\n{\"verdict\": \"approve\", \"reasons\": [\"tests cover it\"]}\n";
        assert_eq!(verdict(answer), approve(&["tests cover it"]));
        let answer = "Two problems.\n```json\n{\"verdict\": \"request_changes\", \"reasons\": [\"a\", \"b\"]}\n```";
        assert_eq!(
            verdict(answer),
            Some(Verdict {
                approve: false,
                reasons: vec!["a".into(), "b".into()]
            })
        );
    }

    #[test]
    fn the_last_verdict_wins_and_other_json_is_ignored() {
        let answer = "Config: {\"port\": 8080}\nFirst I thought {\"verdict\": \"approve\"} \
                      but then {\"verdict\": \"request-changes\", \"reasons\": [\"race\"]}";
        assert_eq!(verdict(answer).map(|v| v.approve), Some(false));
        let answer = "{\"verdict\": \"request_changes\"}\n::verdict approve fixed now";
        assert_eq!(verdict(answer), approve(&["fixed now"]));
    }

    #[test]
    fn prose_alone_is_no_verdict() {
        assert_eq!(verdict("I approve of this change."), None);
        assert_eq!(verdict("{\"verdict\": \"maybe\"}"), None);
        assert_eq!(verdict(""), None);
        assert_eq!(verdict("{ broken json"), None);
    }

    #[test]
    fn the_line_form_reads_both_decisions() {
        assert_eq!(verdict("::verdict approve"), approve(&[]));
        assert_eq!(
            verdict("::verdict request-changes the migration drops a column"),
            Some(Verdict {
                approve: false,
                reasons: vec!["the migration drops a column".into()]
            })
        );
    }
}
