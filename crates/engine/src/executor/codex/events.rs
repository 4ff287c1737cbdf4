//! Reading `codex exec --json` output, without I/O.
//!
//! One JSON event per line: `thread.started` (the thread ID, which `codex
//! exec resume` takes), `turn.started`, `item.started` / `item.updated` /
//! `item.completed` (agent messages, commands, file changes, tool calls, a
//! to-do list), `turn.completed` (token usage, the thread's running
//! total), `turn.failed` and `error`. Both item shapes are read: the
//! current `item.type` with `agent_message`, and the first one's
//! `item.item_type` with `assistant_message`. Unknown event and item types,
//! and lines that are not JSON, are never fatal: they come back as
//! [`Fed::Ignored`] for the log.
//!
//! The outcome: a `turn.failed` decides it (its message read for rate
//! limits and credentials); else exit 0 after a `turn.completed` is
//! success, with the last agent message as the summary; else the failure
//! is read from the last `error` event or the last stderr line.

use crate::executor::refusal::{Quota, Refusals, Signs};
use crate::executor::supervise::{Exit, Fed, Parser, first_line, how_it_ended, progress, short};
use crate::executor::{ExecEvent, Outcome};
use serde_json::Value;
use std::collections::HashSet;
use techlead_core::state::Usage;

/// Longest progress message taken from the agent's text.
const PROGRESS_MAX: usize = 120;
/// Longest summary taken from the last agent message.
const SUMMARY_MAX: usize = 200;

/// Running tallies of one `codex exec --json` stream.
#[derive(Debug, Default)]
pub(crate) struct Events {
    thread: Option<String>,
    /// The model asked for (`-m`); Codex's events do not name it.
    model: Option<String>,
    /// The latest `turn.completed` usage (already a running total).
    input: u64,
    cached: u64,
    output: u64,
    turns: u32,
    tool_uses: u32,
    /// Items already counted as tool uses (each is seen up to three times).
    counted: HashSet<String>,
    /// The latest to-do progress reported, to report only changes.
    todo: Option<(usize, usize)>,
    /// The text of the last agent message.
    last_message: Option<String>,
    /// A turn completed (and none started since).
    completed: bool,
    /// The message of `turn.failed`.
    failed: Option<String>,
    /// The message of the last `error` event.
    last_error: Option<String>,
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

impl Events {
    pub(crate) fn new(model: Option<String>) -> Events {
        Events {
            model,
            ..Events::default()
        }
    }

    /// The totals so far. Codex counts cached tokens inside
    /// `input_tokens`; here input is the part not read from the cache.
    pub(crate) fn usage(&self) -> Usage {
        Usage {
            input_tokens: self.input.saturating_sub(self.cached),
            output_tokens: self.output,
            cache_read_tokens: self.cached,
            cache_write_tokens: 0,
            cost_usd: 0.0,
            turns: self.turns,
            tool_uses: self.tool_uses,
            model: self.model.clone(),
        }
    }

    fn event(&mut self, value: &Value, events: &mut Vec<ExecEvent>) -> Fed {
        let kind = text(value, "type").unwrap_or("");
        match kind {
            "thread.started" => {
                if let Some(thread) = text(value, "thread_id")
                    && self.thread.as_deref() != Some(thread)
                {
                    self.thread = Some(thread.to_owned());
                    events.push(ExecEvent::Session(thread.to_owned()));
                }
                Fed::Used
            }
            "turn.started" => {
                self.turns += 1;
                self.completed = false;
                Fed::Used
            }
            "item.started" | "item.updated" | "item.completed" => match value.get("item") {
                Some(item) if item.is_object() => self.item(item, kind == "item.completed", events),
                _ => Fed::Ignored(format!("`{kind}` without an item")),
            },
            "turn.completed" => {
                if let Some(usage) = value.get("usage").filter(|usage| usage.is_object()) {
                    self.input = number(usage, "input_tokens");
                    self.cached = number(usage, "cached_input_tokens");
                    self.output = number(usage, "output_tokens");
                }
                self.completed = true;
                events.push(ExecEvent::Usage(self.usage()));
                Fed::Used
            }
            "turn.failed" => {
                let message = value
                    .get("error")
                    .and_then(|error| text(error, "message"))
                    .unwrap_or("the turn failed");
                self.failed = Some(message.to_owned());
                Fed::Used
            }
            "error" => {
                // Fatal or a retry notice; only the end tells which.
                let message = text(value, "message").unwrap_or("unknown error");
                self.last_error = Some(message.to_owned());
                events.push(progress(format!(
                    "error: {}",
                    short(first_line(message), PROGRESS_MAX)
                )));
                Fed::Used
            }
            "item.plan.delta" | "request_user_input" => Fed::Used,
            _ => Fed::Ignored(format!("unknown event type `{kind}`")),
        }
    }

    fn item(&mut self, item: &Value, completed: bool, events: &mut Vec<ExecEvent>) -> Fed {
        // The first shape named the type `item_type`, the message
        // `assistant_message`.
        let kind = text(item, "type")
            .or_else(|| text(item, "item_type"))
            .unwrap_or("");
        let id = text(item, "id").unwrap_or("");
        match kind {
            "agent_message" | "assistant_message" => {
                if completed && let Some(said) = text(item, "text") {
                    let said = said.trim();
                    if !said.is_empty() {
                        self.last_message = Some(said.to_owned());
                        events.push(progress(short(first_line(said), PROGRESS_MAX)));
                    }
                }
                Fed::Used
            }
            "reasoning" => Fed::Used,
            "command_execution" => {
                if self.first_sight(id) {
                    let command = text(item, "command").unwrap_or("a command");
                    events.push(progress(format!(
                        "running `{}`",
                        short(first_line(command), PROGRESS_MAX)
                    )));
                }
                Fed::Used
            }
            "file_change" => {
                if self.first_sight(id) {
                    let paths: Vec<&str> = item
                        .get("changes")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|change| text(change, "path"))
                        .collect();
                    let message = if paths.is_empty() {
                        "changing files".to_owned()
                    } else {
                        format!("changing {}", paths.join(", "))
                    };
                    events.push(progress(short(&message, PROGRESS_MAX)));
                }
                Fed::Used
            }
            "mcp_tool_call" => {
                if self.first_sight(id) {
                    let server = text(item, "server").unwrap_or("?");
                    let tool = text(item, "tool").unwrap_or("?");
                    events.push(progress(format!("using {server}/{tool}")));
                }
                Fed::Used
            }
            "web_search" => {
                if self.first_sight(id) {
                    let query = text(item, "query").unwrap_or("");
                    events.push(progress(short(
                        &format!("searching the web: {query}"),
                        PROGRESS_MAX,
                    )));
                }
                Fed::Used
            }
            "collab_tool_call" => {
                self.first_sight(id);
                Fed::Used
            }
            "todo_list" => {
                let items = item.get("items").and_then(Value::as_array);
                let total = items.map_or(0, Vec::len);
                let done = items
                    .into_iter()
                    .flatten()
                    .filter(|step| step.get("completed").and_then(Value::as_bool) == Some(true));
                let done = done.count();
                if total > 0 && self.todo != Some((done, total)) {
                    self.todo = Some((done, total));
                    let percent = u8::try_from(done * 100 / total).unwrap_or(100);
                    events.push(ExecEvent::Progress {
                        percent: Some(percent),
                        message: format!("{done} of {total} steps done"),
                    });
                }
                Fed::Used
            }
            "error" => {
                // A warning (config, deprecation, model rerouted).
                let message = text(item, "message").unwrap_or("");
                events.push(progress(format!(
                    "warning: {}",
                    short(first_line(message), PROGRESS_MAX)
                )));
                Fed::Used
            }
            _ => Fed::Ignored(format!("unknown item type `{kind}`")),
        }
    }

    /// Counts a tool-using item the first time its ID is seen.
    fn first_sight(&mut self, id: &str) -> bool {
        if !id.is_empty() && !self.counted.insert(id.to_owned()) {
            return false;
        }
        self.tool_uses += 1;
        true
    }
}

impl Parser for Events {
    fn feed(&mut self, line: &str, events: &mut Vec<ExecEvent>) -> Fed {
        let line = line.trim();
        if line.is_empty() {
            return Fed::Ignored("empty line".to_owned());
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value @ Value::Object(_)) => self.event(&value, events),
            Ok(_) => Fed::Ignored("JSON that is not an object".to_owned()),
            Err(_) => Fed::Ignored("not JSON".to_owned()),
        }
    }

    fn conclude(&mut self, program: &str, exit: &Exit, _: &mut Vec<ExecEvent>) -> Outcome {
        if let Some(message) = self.failed.clone() {
            return REFUSALS
                .classify(message.clone())
                .unwrap_or_else(|| Outcome::Failed {
                    exit_code: exit.code,
                    signal: exit.signal,
                    message: format!("Codex turn failed: {message}"),
                });
        }
        if exit.code == Some(0) && self.completed {
            let summary = self
                .last_message
                .as_deref()
                .map(|said| short(said, SUMMARY_MAX));
            return Outcome::Succeeded { summary };
        }
        let how = how_it_ended(exit);
        if exit.code != Some(0)
            && let Some(message) = self.last_error.clone()
        {
            return REFUSALS
                .classify(message.clone())
                .unwrap_or_else(|| Outcome::Failed {
                    exit_code: exit.code,
                    signal: exit.signal,
                    message: format!("`{program}` {how} after the error: {message}"),
                });
        }
        let what = if exit.code == Some(0) {
            "without completing a turn"
        } else {
            "without a result"
        };
        let detail = exit
            .last_stderr
            .as_deref()
            .map(|line| format!(": {line}"))
            .unwrap_or_default();
        Outcome::Failed {
            exit_code: exit.code,
            signal: exit.signal,
            message: format!("`{program}` {how} {what}{detail}"),
        }
    }
}

/// Error texts that are not the task's fault: credentials or quota (a
/// person must act) or a rate or usage limit (later).
const REFUSALS: Refusals = Refusals {
    needs_person: Signs {
        codes: &["401", "403"],
        words: &[
            "unauthorized",
            "forbidden",
            "api key",
            "not logged in",
            "login",
            "authentication",
            "billing",
            "credit",
        ],
    },
    limited: Signs {
        codes: &["429", "529"],
        words: &[
            "rate limit",
            "rate_limit",
            "ratelimit",
            "too many requests",
            "usage limit",
            "usage_limit",
            "overloaded",
        ],
    },
    // OpenAI's `insufficient_quota` is a 429 but means money.
    quota: Quota::NeedsPerson,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn exit(code: i32) -> Exit {
        Exit {
            code: Some(code),
            signal: None,
            last_stderr: None,
        }
    }

    fn feed(lines: &[&str]) -> (Events, Vec<ExecEvent>) {
        let mut stream = Events::new(Some("gpt-5-codex".into()));
        let mut events = Vec::new();
        for line in lines {
            stream.feed(line, &mut events);
        }
        (stream, events)
    }

    fn messages(events: &[ExecEvent]) -> Vec<&str> {
        events
            .iter()
            .filter_map(|event| match event {
                ExecEvent::Progress { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect()
    }

    const CURRENT: &[&str] = &[
        r#"{"type":"thread.started","thread_id":"0199a213-81c0-7800-8aa1-bbab2a035a53"}"#,
        r#"{"type":"turn.started"}"#,
        r#"{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"bash -lc ls","aggregated_output":"README.md\n","exit_code":0,"status":"completed"}}"#,
        r#"{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"There is a README.md."}}"#,
        r#"{"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}"#,
    ];

    #[test]
    fn the_reference_example_succeeds_with_session_usage_and_summary() {
        let (mut stream, events) = feed(CURRENT);
        assert_eq!(
            events[0],
            ExecEvent::Session("0199a213-81c0-7800-8aa1-bbab2a035a53".into())
        );
        assert_eq!(
            messages(&events),
            ["running `bash -lc ls`", "There is a README.md."]
        );
        let usage = stream.usage();
        assert_eq!(usage.input_tokens, 315);
        assert_eq!(usage.cache_read_tokens, 24448);
        assert_eq!(usage.output_tokens, 122);
        assert_eq!(usage.turns, 1);
        assert_eq!(usage.tool_uses, 1);
        assert_eq!(usage.model.as_deref(), Some("gpt-5-codex"));
        assert_eq!(events.last(), Some(&ExecEvent::Usage(usage)));
        assert_eq!(
            stream.conclude("codex", &exit(0), &mut Vec::new()),
            Outcome::Succeeded {
                summary: Some("There is a README.md.".into())
            }
        );
    }

    #[test]
    fn the_first_item_shape_is_read_too() {
        let (mut stream, events) = feed(&[
            r#"{"type":"thread.started","thread_id":"t-1"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.completed","item":{"id":"item_0","item_type":"reasoning","text":"thinking"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","item_type":"file_change","changes":[{"path":"src/a.rs","kind":"update"}],"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_2","item_type":"assistant_message","text":"Edited a.rs.\nDetails."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}"#,
        ]);
        assert_eq!(messages(&events), ["changing src/a.rs", "Edited a.rs."]);
        assert_eq!(stream.usage().tool_uses, 1);
        assert_eq!(
            stream.conclude("codex", &exit(0), &mut Vec::new()),
            Outcome::Succeeded {
                summary: Some("Edited a.rs.\nDetails.".into())
            }
        );
    }

    #[test]
    fn usage_is_the_latest_running_total_not_a_sum() {
        let (stream, _) = feed(&[
            r#"{"type":"turn.started"}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":40,"output_tokens":10}}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":250,"cached_input_tokens":90,"output_tokens":30}}"#,
        ]);
        let usage = stream.usage();
        assert_eq!(
            (
                usage.input_tokens,
                usage.cache_read_tokens,
                usage.output_tokens
            ),
            (160, 90, 30)
        );
        assert_eq!(usage.turns, 2);
    }

    #[test]
    fn tools_and_todo_lists_become_progress() {
        let (stream, events) = feed(&[
            r#"{"type":"item.started","item":{"id":"item_1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{},"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"item_1","type":"mcp_tool_call","server":"docs","tool":"search","arguments":{},"status":"completed"}}"#,
            r#"{"type":"item.started","item":{"id":"item_2","type":"web_search","query":"tokio select"}}"#,
            r#"{"type":"item.started","item":{"id":"item_3","type":"todo_list","items":[{"text":"a","completed":false},{"text":"b","completed":false}]}}"#,
            r#"{"type":"item.updated","item":{"id":"item_3","type":"todo_list","items":[{"text":"a","completed":true},{"text":"b","completed":false}]}}"#,
            r#"{"type":"item.updated","item":{"id":"item_3","type":"todo_list","items":[{"text":"a","completed":true},{"text":"b","completed":false}]}}"#,
            r#"{"type":"item.completed","item":{"id":"item_4","type":"error","message":"model rerouted"}}"#,
        ]);
        assert_eq!(
            messages(&events),
            [
                "using docs/search",
                "searching the web: tokio select",
                "0 of 2 steps done",
                "1 of 2 steps done",
                "warning: model rerouted"
            ]
        );
        assert!(events.contains(&ExecEvent::Progress {
            percent: Some(50),
            message: "1 of 2 steps done".into()
        }));
        assert_eq!(stream.usage().tool_uses, 2);
    }

    #[test]
    fn unknown_lines_are_ignored_not_fatal() {
        let mut stream = Events::new(None);
        let mut events = Vec::new();
        assert_eq!(
            stream.feed(r#"{"type":"brand.new","x":1}"#, &mut events),
            Fed::Ignored("unknown event type `brand.new`".into())
        );
        assert_eq!(
            stream.feed(
                r#"{"type":"item.completed","item":{"id":"i","type":"hologram"}}"#,
                &mut events
            ),
            Fed::Ignored("unknown item type `hologram`".into())
        );
        assert_eq!(
            stream.feed("not json", &mut events),
            Fed::Ignored("not JSON".into())
        );
        assert_eq!(
            stream.feed(
                r#"{"type":"item.plan.delta","item_id":"i","delta":"x"}"#,
                &mut events
            ),
            Fed::Used
        );
        assert!(events.is_empty());
    }

    #[test]
    fn turn_failed_decides_the_outcome() {
        let failed = |message: &str| {
            let line = serde_json::json!({"type": "turn.failed", "error": {"message": message}});
            let (mut stream, _) = feed(&[r#"{"type":"turn.started"}"#, &line.to_string()]);
            stream.conclude("codex", &exit(1), &mut Vec::new())
        };
        assert!(matches!(
            failed("unexpected status 401 Unauthorized: bad key"),
            Outcome::NeedsPerson { .. }
        ));
        assert!(matches!(
            failed("You exceeded your current quota, please check your plan and billing details."),
            Outcome::NeedsPerson { .. }
        ));
        assert_eq!(
            failed("unexpected status 429 Too Many Requests: slow down"),
            Outcome::RateLimited {
                until: None,
                message: "unexpected status 429 Too Many Requests: slow down".into()
            }
        );
        assert!(matches!(
            failed("You've hit your usage limit. Try again later."),
            Outcome::RateLimited { .. }
        ));
        assert_eq!(
            failed("stream disconnected before completion"),
            Outcome::Failed {
                exit_code: Some(1),
                signal: None,
                message: "Codex turn failed: stream disconnected before completion".into()
            }
        );
    }

    #[test]
    fn error_events_are_progress_and_explain_a_failed_exit() {
        let (mut stream, events) = feed(&[
            r#"{"type":"error","message":"Reconnecting... 2/5 (unexpected status 503)"}"#,
            r#"{"type":"error","message":"exceeded retry limit, last status: 429 Too Many Requests"}"#,
        ]);
        assert_eq!(
            messages(&events)[0],
            "error: Reconnecting... 2/5 (unexpected status 503)"
        );
        assert!(matches!(
            stream.conclude("codex", &exit(101), &mut Vec::new()),
            Outcome::RateLimited { until: None, .. }
        ));
    }

    #[test]
    fn an_exit_without_a_turn_fails_with_stderr() {
        let (mut stream, _) = feed(&[r#"{"type":"thread.started","thread_id":"t"}"#]);
        let exit = Exit {
            code: Some(1),
            signal: None,
            last_stderr: Some("Not inside a trusted directory".into()),
        };
        assert_eq!(
            stream.conclude("codex", &exit, &mut Vec::new()),
            Outcome::Failed {
                exit_code: Some(1),
                signal: None,
                message:
                    "`codex` exited with code 1 without a result: Not inside a trusted directory"
                        .into()
            }
        );
        let (mut stream, _) = feed(&[r#"{"type":"turn.started"}"#]);
        assert!(matches!(
            stream.conclude("codex", &exit_code_zero(), &mut Vec::new()),
            Outcome::Failed { message, .. } if message.contains("without completing a turn")
        ));
    }

    fn exit_code_zero() -> Exit {
        exit(0)
    }
}
