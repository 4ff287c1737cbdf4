//! Reading Gemini CLI's `-o stream-json` output, without I/O.
//!
//! One JSON event per line, each with `type` and `timestamp`: `init` (the
//! session and model), `message` (user or assistant; assistant text may
//! come in `delta` pieces), `tool_use`, `tool_result`, `error` (non-fatal)
//! and `result` (the status, an error, and the stats). Unknown types, and
//! lines that are not JSON, are never fatal: they come back as
//! [`Fed::Ignored`] for the log.
//!
//! The outcome: exit 0 with a `result` of status `success` is success, with
//! the last assistant text as the summary. Otherwise the exit code says
//! what went wrong (41 auth and 52 config need a person; the rest fail),
//! and error texts that name a rate limit or quota make it `RateLimited`,
//! ones that name credentials or billing `NeedsPerson`.

use crate::executor::refusal::{Quota, Refusals, Signs};
use crate::executor::supervise::{Exit, Fed, Parser, first_line, how_it_ended, progress, short};
use crate::executor::{ExecEvent, Outcome};
use serde_json::Value;
use techlead_core::state::Usage;

/// Longest progress message taken from the agent's text.
const PROGRESS_MAX: usize = 120;
/// Longest summary taken from the last assistant text.
const SUMMARY_MAX: usize = 200;

/// Running tallies of one stream.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    session: Option<String>,
    model: Option<String>,
    turns: u32,
    tool_uses: u32,
    /// The assistant text being written (deltas joined), not yet reported.
    text: String,
    /// The last assistant text, for the summary.
    last_text: Option<String>,
    /// The previous event was assistant text.
    in_text: bool,
    /// The current text's first line was reported already.
    text_reported: bool,
    result: Option<Value>,
    usage: Option<Value>,
    /// The message of the last `error` event.
    last_error: Option<String>,
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn number(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

impl Stream {
    pub(crate) fn new(model: Option<String>) -> Stream {
        Stream {
            model,
            ..Stream::default()
        }
    }

    /// The totals so far: the result's stats once it is in. Gemini's
    /// `input_tokens` counts cached tokens; `input` is the part that was
    /// not cached.
    pub(crate) fn usage(&self) -> Usage {
        let mut usage = Usage {
            turns: self.turns,
            tool_uses: self.tool_uses,
            model: self.model.clone(),
            ..Usage::default()
        };
        if let Some(stats) = &self.usage {
            let cached = number(stats, "cached").unwrap_or(0);
            usage.cache_read_tokens = cached;
            usage.input_tokens = number(stats, "input").unwrap_or_else(|| {
                number(stats, "input_tokens")
                    .unwrap_or(0)
                    .saturating_sub(cached)
            });
            usage.output_tokens = number(stats, "output_tokens").unwrap_or(0);
            if let Some(calls) = number(stats, "tool_calls") {
                usage.tool_uses = usage
                    .tool_uses
                    .max(u32::try_from(calls).unwrap_or(u32::MAX));
            }
        }
        usage
    }

    /// Reports the assistant text written so far, if any.
    fn end_text(&mut self, events: &mut Vec<ExecEvent>) {
        self.in_text = false;
        let reported = std::mem::take(&mut self.text_reported);
        let said = std::mem::take(&mut self.text);
        let said = said.trim();
        if !said.is_empty() {
            if !reported {
                events.push(progress(short(first_line(said), PROGRESS_MAX)));
            }
            self.last_text = Some(said.to_owned());
        }
    }

    fn event(&mut self, value: &Value, events: &mut Vec<ExecEvent>) -> Fed {
        let kind = text(value, "type").unwrap_or("");
        match kind {
            "init" => {
                if let Some(model) = text(value, "model") {
                    self.model = Some(model.to_owned());
                }
                if let Some(session) = text(value, "session_id")
                    && self.session.as_deref() != Some(session)
                {
                    self.session = Some(session.to_owned());
                    events.push(ExecEvent::Session(session.to_owned()));
                }
                Fed::Used
            }
            "message" => {
                if text(value, "role") != Some("assistant") {
                    return Fed::Used;
                }
                let content = text(value, "content").unwrap_or("");
                let delta = value.get("delta").and_then(Value::as_bool) == Some(true);
                if !self.in_text {
                    self.turns += 1;
                    self.in_text = true;
                }
                self.text.push_str(content);
                if !delta {
                    self.end_text(events);
                } else if !self.text_reported
                    && let Some((line, _)) = self.text.trim_start().split_once('\n')
                    && !line.trim().is_empty()
                {
                    // The first line is whole: report it without waiting
                    // for the message to end.
                    events.push(progress(short(line.trim(), PROGRESS_MAX)));
                    self.text_reported = true;
                }
                Fed::Used
            }
            "tool_use" => {
                self.end_text(events);
                self.tool_uses += 1;
                let name = text(value, "tool_name").unwrap_or("a tool");
                events.push(progress(format!("using {name}")));
                Fed::Used
            }
            "tool_result" => {
                self.end_text(events);
                Fed::Used
            }
            "error" => {
                let message = text(value, "message").unwrap_or("unknown error");
                let severity = text(value, "severity").unwrap_or("error");
                self.last_error = Some(message.to_owned());
                events.push(progress(format!(
                    "{severity}: {}",
                    short(first_line(message), PROGRESS_MAX)
                )));
                Fed::Used
            }
            "result" => {
                self.end_text(events);
                if let Some(stats) = value.get("stats").filter(|stats| stats.is_object()) {
                    self.usage = Some(stats.clone());
                }
                self.result = Some(value.clone());
                events.push(ExecEvent::Usage(self.usage()));
                Fed::Used
            }
            _ => Fed::Ignored(format!("unknown event type `{kind}`")),
        }
    }
}

impl Parser for Stream {
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

    fn conclude(&mut self, program: &str, exit: &Exit, events: &mut Vec<ExecEvent>) -> Outcome {
        self.end_text(events);
        let result = self.result.take();
        let status = result.as_ref().and_then(|result| text(result, "status"));
        if exit.code == Some(0) && status == Some("success") {
            let summary = self
                .last_text
                .as_deref()
                .map(|said| short(said, SUMMARY_MAX));
            return Outcome::Succeeded { summary };
        }
        // What was said about the failure, best first.
        let said = result
            .as_ref()
            .and_then(|result| result.get("error"))
            .and_then(|error| text(error, "message"))
            .map(str::to_owned)
            .or_else(|| self.last_error.clone())
            .or_else(|| exit.last_stderr.clone());
        let detail = said
            .as_deref()
            .map(|said| format!(": {said}"))
            .unwrap_or_default();
        let failed = |what: &str| Outcome::Failed {
            exit_code: exit.code,
            signal: exit.signal,
            message: format!("Gemini CLI {what}{detail}"),
        };
        match exit.code {
            Some(41) => {
                return Outcome::NeedsPerson {
                    message: format!("Gemini CLI could not authenticate (exit 41){detail}"),
                };
            }
            Some(52) => {
                return Outcome::NeedsPerson {
                    message: format!("Gemini CLI's configuration is wrong (exit 52){detail}"),
                };
            }
            _ => {}
        }
        if let Some(outcome) = said.clone().and_then(|said| REFUSALS.classify(said)) {
            return outcome;
        }
        match exit.code {
            Some(42) => failed("refused its input (exit 42)"),
            Some(53) => failed("reached its turn limit (exit 53)"),
            Some(54) => failed("stopped on a fatal tool error (exit 54)"),
            Some(130) => failed("was interrupted (exit 130)"),
            Some(0) if result.is_some() => failed("reported an error"),
            _ => {
                let how = how_it_ended(exit);
                let what = if result.is_some() {
                    "with an error"
                } else {
                    "without a result"
                };
                Outcome::Failed {
                    exit_code: exit.code,
                    signal: exit.signal,
                    message: format!("`{program}` {how} {what}{detail}"),
                }
            }
        }
    }
}

/// Error texts that are not the task's fault. Gemini's quota errors
/// (HTTP 429, `RESOURCE_EXHAUSTED`, "Quota exceeded for quota metric ...
/// per minute") pass, so they are rate limits; credentials, billing and
/// credits need the person.
const REFUSALS: Refusals = Refusals {
    needs_person: Signs {
        codes: &["401", "403"],
        words: &[
            "api key not valid",
            "api_key_invalid",
            "invalid api key",
            "unauthenticated",
            "permission_denied",
            "permission denied",
            "authentication",
            "login",
            "billing",
            "credit",
        ],
    },
    limited: Signs {
        codes: &["429"],
        words: &[
            "resource_exhausted",
            "resource exhausted",
            "rate limit",
            "ratelimit",
            "rate_limit",
            "too many requests",
            "usage limit",
        ],
    },
    quota: Quota::RateLimited,
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

    fn feed(lines: &[&str]) -> (Stream, Vec<ExecEvent>) {
        let mut stream = Stream::new(None);
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

    const SUCCESS: &[&str] = &[
        r#"{"type":"init","timestamp":"2026-08-22T10:00:00.000Z","session_id":"e06b-1","model":"gemini-2.5-pro"}"#,
        r#"{"type":"message","timestamp":"2026-08-22T10:00:00.100Z","role":"user","content":"Build it."}"#,
        r#"{"type":"message","timestamp":"2026-08-22T10:00:01.000Z","role":"assistant","content":"Let me ","delta":true}"#,
        r#"{"type":"message","timestamp":"2026-08-22T10:00:01.100Z","role":"assistant","content":"look.","delta":true}"#,
        r#"{"type":"tool_use","timestamp":"2026-08-22T10:00:02.000Z","tool_name":"write_file","tool_id":"t1","parameters":{"file_path":"a.md"}}"#,
        r#"{"type":"tool_result","timestamp":"2026-08-22T10:00:02.500Z","tool_id":"t1","status":"success","output":"ok"}"#,
        r#"{"type":"message","timestamp":"2026-08-22T10:00:03.000Z","role":"assistant","content":"Wrote a.md.","delta":true}"#,
        r#"{"type":"result","timestamp":"2026-08-22T10:00:03.100Z","status":"success","stats":{"total_tokens":8100,"input_tokens":8000,"output_tokens":100,"cached":7000,"input":1000,"duration_ms":3100,"tool_calls":1}}"#,
    ];

    #[test]
    fn a_successful_stream_reports_session_progress_and_usage() {
        let (mut stream, events) = feed(SUCCESS);
        assert_eq!(events[0], ExecEvent::Session("e06b-1".into()));
        assert_eq!(
            messages(&events),
            ["Let me look.", "using write_file", "Wrote a.md."]
        );
        let usage = stream.usage();
        assert_eq!(
            (
                usage.input_tokens,
                usage.cache_read_tokens,
                usage.output_tokens
            ),
            (1000, 7000, 100)
        );
        assert_eq!((usage.turns, usage.tool_uses), (2, 1));
        assert_eq!(usage.model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(events.last(), Some(&ExecEvent::Usage(usage)));
        assert_eq!(
            stream.conclude("gemini", &exit(0), &mut Vec::new()),
            Outcome::Succeeded {
                summary: Some("Wrote a.md.".into())
            }
        );
    }

    #[test]
    fn a_first_line_is_reported_as_soon_as_it_is_whole() {
        let (mut stream, events) = feed(&[
            r#"{"type":"message","role":"assistant","content":"Plan:","delta":true}"#,
            r#"{"type":"message","role":"assistant","content":" edit.\nThen","delta":true}"#,
        ]);
        assert_eq!(messages(&events), ["Plan: edit."]);
        let mut more = Vec::new();
        stream.feed(r#"{"type":"result","status":"success"}"#, &mut more);
        assert_eq!(messages(&more), Vec::<&str>::new());
        assert_eq!(
            stream.conclude("gemini", &exit(0), &mut Vec::new()),
            Outcome::Succeeded {
                summary: Some("Plan: edit.\nThen".into())
            }
        );
    }

    #[test]
    fn input_is_derived_when_the_stats_lack_it() {
        let (stream, _) = feed(&[
            r#"{"type":"result","status":"success","stats":{"input_tokens":500,"cached":200,"output_tokens":9}}"#,
        ]);
        let usage = stream.usage();
        assert_eq!((usage.input_tokens, usage.cache_read_tokens), (300, 200));
    }

    #[test]
    fn unknown_lines_are_ignored() {
        let mut stream = Stream::new(None);
        let mut events = Vec::new();
        assert_eq!(
            stream.feed(r#"{"type":"thought","content":"x"}"#, &mut events),
            Fed::Ignored("unknown event type `thought`".into())
        );
        assert_eq!(
            stream.feed("Loaded cached credentials.", &mut events),
            Fed::Ignored("not JSON".into())
        );
        assert!(events.is_empty());
    }

    #[test]
    fn exit_codes_map_to_outcomes() {
        let end = |code: i32| {
            let (mut stream, _) = feed(&[]);
            stream.conclude("gemini", &exit(code), &mut Vec::new())
        };
        assert!(matches!(end(41), Outcome::NeedsPerson { .. }));
        assert!(matches!(end(52), Outcome::NeedsPerson { .. }));
        for (code, words) in [
            (42, "refused its input"),
            (53, "turn limit"),
            (54, "fatal tool error"),
            (130, "interrupted"),
            (1, "exited with code 1 without a result"),
        ] {
            match end(code) {
                Outcome::Failed {
                    exit_code, message, ..
                } => {
                    assert_eq!(exit_code, Some(code));
                    assert!(message.contains(words), "{message}");
                }
                other => panic!("{code}: {other:?}"),
            }
        }
        // Exit 0 without a result line is not success.
        assert!(matches!(end(0), Outcome::Failed { .. }));
    }

    #[test]
    fn error_texts_say_rate_limited_or_needs_a_person() {
        let end = |line: &str, code: i32| {
            let (mut stream, _) = feed(&[line]);
            stream.conclude("gemini", &exit(code), &mut Vec::new())
        };
        assert!(matches!(
            end(
                r#"{"type":"result","status":"error","error":{"type":"ApiError","message":"[API Error: 429 RESOURCE_EXHAUSTED: Quota exceeded for quota metric 'Generate Content API requests per minute']"}}"#,
                1
            ),
            Outcome::RateLimited { until: None, .. }
        ));
        assert!(matches!(
            end(
                r#"{"type":"result","status":"error","error":{"type":"ApiError","message":"API key not valid. Please pass a valid API key."}}"#,
                1
            ),
            Outcome::NeedsPerson { .. }
        ));
        assert!(matches!(
            end(
                r#"{"type":"error","severity":"error","message":"Too Many Requests"}"#,
                1
            ),
            Outcome::RateLimited { .. }
        ));
        assert!(matches!(
            end(
                r#"{"type":"result","status":"error","error":{"type":"FatalToolError","message":"disk full"}}"#,
                54
            ),
            Outcome::Failed { exit_code: Some(54), message, .. } if message.contains("disk full")
        ));
    }
}
