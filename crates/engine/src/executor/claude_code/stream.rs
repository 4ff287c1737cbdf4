//! Reading Claude Code's `--output-format stream-json` output, without I/O.
//!
//! [`Stream`] takes stdout one line at a time and turns what it reads into
//! [`ExecEvent`]s; at the end, [`Stream::conclude`] decides the [`Outcome`]
//! from the `result` line (its `is_error`, `api_error_status` and `subtype`
//! together, never the subtype alone) or, when there is none, from how the
//! process ended. Unknown line types and subtypes, and lines that are not
//! JSON, are never fatal: they come back as [`Fed::Ignored`] for the log.
//! The JSON-array form (every message in one array, the result last) is
//! accepted too, on one line or spread over several.

use crate::executor::{ExecEvent, Outcome};
use jiff::Timestamp;
use serde_json::Value;
use techlead_core::state::Usage;

/// Longest progress message taken from the agent's text.
const PROGRESS_MAX: usize = 120;
/// Longest summary taken from the result text.
const SUMMARY_MAX: usize = 200;
/// The most a multi-line JSON array may hold before it is given up on.
const ARRAY_MAX: usize = 16 * 1024 * 1024;

pub(crate) use crate::executor::supervise::{Exit, Fed};

/// Running tallies of one stream.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    session: Option<String>,
    model: Option<String>,
    /// Usage of the API messages finished so far (a new `message.id`
    /// finishes the one before).
    done: Tokens,
    /// The current message's ID and its latest usage: several `assistant`
    /// lines may carry one message, each with that message's usage.
    current: Option<(String, Tokens)>,
    turns: u32,
    tool_uses: u32,
    result: Option<Value>,
    /// `rate_limit_event` with status `rejected`: when it resets, and its
    /// error code.
    rejected: Option<(Option<Timestamp>, Option<String>)>,
    /// A multi-line JSON array being gathered.
    array: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tokens {
    input: u64,
    output: u64,
    cache_read: u64,
    cache_write: u64,
}

impl Tokens {
    fn from_api(usage: &Value) -> Tokens {
        Tokens {
            input: number(usage, "input_tokens"),
            output: number(usage, "output_tokens"),
            cache_read: number(usage, "cache_read_input_tokens"),
            cache_write: number(usage, "cache_creation_input_tokens"),
        }
    }

    fn add(self, other: Tokens) -> Tokens {
        Tokens {
            input: self.input + other.input,
            output: self.output + other.output,
            cache_read: self.cache_read + other.cache_read,
            cache_write: self.cache_write + other.cache_write,
        }
    }
}

fn number(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

impl crate::executor::supervise::Parser for Stream {
    fn feed(&mut self, line: &str, events: &mut Vec<ExecEvent>) -> Fed {
        Stream::feed(self, line, events)
    }

    fn conclude(&mut self, program: &str, exit: &Exit, _: &mut Vec<ExecEvent>) -> Outcome {
        Stream::conclude(self, program, exit, Timestamp::now())
    }
}

impl Stream {
    pub(crate) fn new() -> Stream {
        Stream::default()
    }

    /// Takes one line of stdout (without its newline).
    pub(crate) fn feed(&mut self, line: &str, events: &mut Vec<ExecEvent>) -> Fed {
        let trimmed = line.trim();
        if let Some(mut gathered) = self.array.take() {
            gathered.push_str(line);
            gathered.push('\n');
            // Parsed only where it may end, so a long array is read once.
            let parsed = trimmed
                .starts_with(']')
                .then(|| serde_json::from_str::<Value>(&gathered).ok())
                .flatten();
            return match parsed {
                Some(Value::Array(items)) => self.feed_array(items, events),
                _ if gathered.len() > ARRAY_MAX => {
                    Fed::Ignored("a JSON array too large to read".to_owned())
                }
                _ => {
                    self.array = Some(gathered);
                    Fed::Used
                }
            };
        }
        if trimmed.is_empty() {
            return Fed::Ignored("empty line".to_owned());
        }
        match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => self.feed_array(items, events),
            Ok(value @ Value::Object(_)) => self.feed_value(&value, events),
            Ok(_) => Fed::Ignored("JSON that is not an object".to_owned()),
            Err(_) if trimmed == "[" => {
                // The array form, printed over several lines.
                self.array = Some(format!("{line}\n"));
                Fed::Used
            }
            Err(_) => Fed::Ignored("not JSON".to_owned()),
        }
    }

    /// The array form: every message, the result last.
    fn feed_array(&mut self, items: Vec<Value>, events: &mut Vec<ExecEvent>) -> Fed {
        for item in &items {
            if item.is_object() {
                self.feed_value(item, events);
            }
        }
        Fed::Used
    }

    fn feed_value(&mut self, value: &Value, events: &mut Vec<ExecEvent>) -> Fed {
        let kind = text(value, "type").unwrap_or("");
        let subtype = text(value, "subtype").unwrap_or("");
        match (kind, subtype) {
            ("system", "init") => {
                if let Some(model) = text(value, "model") {
                    self.model = Some(model.to_owned());
                }
                if let Some(session) = text(value, "session_id") {
                    self.set_session(session, events);
                }
                Fed::Used
            }
            ("system", "api_retry") => {
                let attempt = number(value, "attempt");
                let max = number(value, "max_retries");
                let error = text(value, "error").unwrap_or("unknown");
                let status = value
                    .get("error_status")
                    .and_then(Value::as_u64)
                    .map(|status| format!(" (HTTP {status})"))
                    .unwrap_or_default();
                let delay = number(value, "retry_delay_ms");
                events.push(progress(format!(
                    "API error {error}{status}; retry {attempt} of {max} in {:.1} s",
                    delay as f64 / 1000.0
                )));
                Fed::Used
            }
            ("assistant", _) => {
                self.assistant(value, events);
                Fed::Used
            }
            ("rate_limit_event", _) => {
                let info = value.get("rate_limit_info").unwrap_or(&Value::Null);
                if text(info, "status") == Some("rejected") {
                    let until = info
                        .get("resetsAt")
                        .and_then(Value::as_i64)
                        .and_then(|seconds| Timestamp::from_second(seconds).ok());
                    let code = text(info, "errorCode").map(str::to_owned);
                    self.rejected = Some((until, code));
                }
                Fed::Used
            }
            ("result", _) => {
                if self.session.is_none()
                    && let Some(session) = text(value, "session_id")
                {
                    self.set_session(session, events);
                }
                self.result = Some(value.clone());
                events.push(ExecEvent::Usage(self.usage()));
                Fed::Used
            }
            ("user", _) | ("stream_event", _) | ("tool_progress", _) => Fed::Used,
            ("system", _) => Fed::Ignored(format!("system line of subtype `{subtype}`")),
            _ => Fed::Ignored(format!("unknown line type `{kind}`")),
        }
    }

    fn set_session(&mut self, session: &str, events: &mut Vec<ExecEvent>) {
        if self.session.as_deref() != Some(session) {
            self.session = Some(session.to_owned());
            events.push(ExecEvent::Session(session.to_owned()));
        }
    }

    fn assistant(&mut self, value: &Value, events: &mut Vec<ExecEvent>) {
        let Some(message) = value.get("message") else {
            return;
        };
        if text(message, "model").is_some_and(|model| model != "<synthetic>") {
            self.model = text(message, "model").map(str::to_owned);
        }
        let id = text(message, "id").unwrap_or("").to_owned();
        let usage = message.get("usage").map(Tokens::from_api);
        let new_message = self
            .current
            .as_ref()
            .is_none_or(|(current, _)| *current != id);
        if new_message {
            if let Some((_, tokens)) = self.current.take() {
                self.done = self.done.add(tokens);
            }
            self.current = Some((id, Tokens::default()));
            // Subagents' messages are work too, but not the main loop's turns.
            if value.get("parent_tool_use_id").is_none_or(Value::is_null) {
                self.turns += 1;
            }
        }
        if let (Some(usage), Some((_, tokens))) = (usage, self.current.as_mut()) {
            *tokens = usage;
        }
        let blocks = message.get("content").and_then(Value::as_array);
        for block in blocks.into_iter().flatten() {
            match text(block, "type") {
                Some("tool_use") | Some("server_tool_use") => {
                    self.tool_uses += 1;
                    if let Some(name) = text(block, "name") {
                        events.push(progress(format!("using {name}")));
                    }
                }
                Some("text") => {
                    if let Some(said) = text(block, "text").map(str::trim)
                        && !said.is_empty()
                    {
                        events.push(progress(short(first_line(said), PROGRESS_MAX)));
                    }
                }
                _ => {}
            }
        }
        if usage.is_some() {
            events.push(ExecEvent::Usage(self.usage()));
        }
    }

    /// The totals so far; once the result is in, its figures (`modelUsage`
    /// summed, which counts subagents; else `usage` and `total_cost_usd`).
    pub(crate) fn usage(&self) -> Usage {
        let seen = match &self.current {
            Some((_, tokens)) => self.done.add(*tokens),
            None => self.done,
        };
        let mut usage = Usage {
            input_tokens: seen.input,
            output_tokens: seen.output,
            cache_read_tokens: seen.cache_read,
            cache_write_tokens: seen.cache_write,
            cost_usd: 0.0,
            turns: self.turns,
            tool_uses: self.tool_uses,
            model: self.model.clone(),
        };
        let Some(result) = &self.result else {
            return usage;
        };
        if let Some(turns) = result.get("num_turns").and_then(Value::as_u64) {
            usage.turns = u32::try_from(turns).unwrap_or(u32::MAX);
        }
        let by_model = result
            .get("modelUsage")
            .and_then(Value::as_object)
            .filter(|models| !models.is_empty());
        if let Some(models) = by_model {
            usage.input_tokens = 0;
            usage.output_tokens = 0;
            usage.cache_read_tokens = 0;
            usage.cache_write_tokens = 0;
            for figures in models.values() {
                usage.input_tokens += number(figures, "inputTokens");
                usage.output_tokens += number(figures, "outputTokens");
                usage.cache_read_tokens += number(figures, "cacheReadInputTokens");
                usage.cache_write_tokens += number(figures, "cacheCreationInputTokens");
                usage.cost_usd += figures
                    .get("costUSD")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
            }
            if models.len() == 1 {
                usage.model = models.keys().next().cloned();
            }
        } else {
            if let Some(api) = result.get("usage").filter(|api| api.is_object()) {
                let tokens = Tokens::from_api(api);
                // The main loop only; keep the larger, subagents included.
                usage.input_tokens = usage.input_tokens.max(tokens.input);
                usage.output_tokens = usage.output_tokens.max(tokens.output);
                usage.cache_read_tokens = usage.cache_read_tokens.max(tokens.cache_read);
                usage.cache_write_tokens = usage.cache_write_tokens.max(tokens.cache_write);
            }
            usage.cost_usd = result
                .get("total_cost_usd")
                .and_then(Value::as_f64)
                .unwrap_or(0.0);
        }
        usage
    }

    /// True once a result line was read.
    #[cfg(test)]
    pub(crate) fn has_result(&self) -> bool {
        self.result.is_some()
    }

    /// How the attempt ended, given how the process ended. `now` is for
    /// reading a reset time such as "resets 4:50pm (Europe/London)".
    pub(crate) fn conclude(&mut self, program: &str, exit: &Exit, now: Timestamp) -> Outcome {
        if let Some(gathered) = self.array.take() {
            let mut events = Vec::new();
            match serde_json::from_str::<Value>(&gathered) {
                Ok(Value::Array(items)) => {
                    self.feed_array(items, &mut events);
                }
                // An array that never closed: read what lines of it can be.
                _ => {
                    for line in gathered.lines().skip(1) {
                        self.feed(line, &mut events);
                    }
                }
            }
        }
        let Some(result) = self.result.take() else {
            return self.no_result(program, exit);
        };
        let subtype = text(&result, "subtype").unwrap_or("");
        let is_error = result
            .get("is_error")
            .and_then(Value::as_bool)
            .unwrap_or(subtype != "success");
        let said = text(&result, "result").unwrap_or("").trim().to_owned();
        let errors = result
            .get("errors")
            .and_then(Value::as_array)
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        if !is_error && subtype == "success" {
            let summary = (!said.is_empty()).then(|| short(&said, SUMMARY_MAX));
            return Outcome::Succeeded { summary };
        }
        let status = result.get("api_error_status").and_then(Value::as_u64);
        let message = if !said.is_empty() {
            said.clone()
        } else if !errors.is_empty() {
            errors.clone()
        } else {
            format!("Claude Code ended with `{subtype}`")
        };
        if is_error {
            let credits = self
                .rejected
                .as_ref()
                .is_some_and(|(_, code)| code.as_deref() == Some("credits_required"));
            let person = matches!(status, Some(401 | 403))
                || (!matches!(status, Some(429 | 529)) && (needs_person(&said) || credits));
            if person {
                return Outcome::NeedsPerson { message };
            }
            if matches!(status, Some(429 | 529)) || limited(&said) || self.rejected.is_some() {
                let until = self
                    .rejected
                    .as_ref()
                    .and_then(|(until, _)| *until)
                    .or_else(|| reset_time(&said, now));
                return Outcome::RateLimited { until, message };
            }
        }
        let what = match subtype {
            "error_max_turns" => "reached its maximum number of turns",
            "error_max_budget_usd" => "reached its budget",
            "error_during_execution" => "failed during execution",
            "error_max_structured_output_retries" => "could not produce valid structured output",
            _ => "reported an error",
        };
        Outcome::Failed {
            exit_code: exit.code,
            signal: exit.signal,
            message: format!("Claude Code {what}: {message}"),
        }
    }

    fn no_result(&self, program: &str, exit: &Exit) -> Outcome {
        if let Some((until, code)) = &self.rejected {
            let message = "Claude Code stopped after a rejected rate-limit event".to_owned();
            if code.as_deref() == Some("credits_required") {
                return Outcome::NeedsPerson {
                    message: format!("{message} (credits required)"),
                };
            }
            return Outcome::RateLimited {
                until: *until,
                message,
            };
        }
        let how = match (exit.code, exit.signal) {
            (_, Some(signal)) => format!("was killed by signal {signal}"),
            (Some(code), None) => format!("exited with code {code}"),
            (None, None) => "ended".to_owned(),
        };
        let detail = exit
            .last_stderr
            .as_deref()
            .map(|line| format!(": {line}"))
            .unwrap_or_default();
        Outcome::Failed {
            exit_code: exit.code,
            signal: exit.signal,
            message: format!("`{program}` {how} without a result{detail}"),
        }
    }
}

fn progress(message: String) -> ExecEvent {
    ExecEvent::Progress {
        percent: None,
        message,
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// At most `max` bytes of `text`, cut at a character boundary, with an
/// ellipsis when cut.
pub(crate) fn short(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// Result texts that no retry can fix: credentials and money.
fn needs_person(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "invalid api key",
        "not logged in",
        "/login",
        "authentication",
        "oauth",
        "credit balance",
        "billing",
        "credits",
        "permission_error",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// Result texts that say "later".
fn limited(text: &str) -> bool {
    let text = text.to_lowercase();
    [
        "session limit",
        "usage limit",
        "rate limit",
        "rate_limit",
        "overloaded",
        "hit your limit",
        "resets",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

/// The time in "… resets 4:50pm (Europe/London)" (also "resets 5pm", "resets
/// 16:50 (UTC)"): the next such wall-clock time after `now` in that zone.
/// `None` when the text does not have exactly that shape or the zone is
/// unknown.
pub(crate) fn reset_time(text: &str, now: Timestamp) -> Option<Timestamp> {
    let at = text.find("resets ")?;
    let rest = text[at + "resets ".len()..].trim_start();
    let (clock, rest) = rest.split_once(' ')?;
    let zone = rest.trim().strip_prefix('(')?.split_once(')')?.0.trim();
    let clock = clock.to_lowercase();
    let (clock, offset) = if let Some(clock) = clock.strip_suffix("am") {
        (clock, Some(0))
    } else if let Some(clock) = clock.strip_suffix("pm") {
        (clock, Some(12))
    } else {
        (clock.as_str(), None)
    };
    let (hour, minute) = match clock.split_once(':') {
        Some((hour, minute)) => (hour.parse::<i8>().ok()?, minute.parse::<i8>().ok()?),
        None => (clock.parse::<i8>().ok()?, 0),
    };
    let hour = match offset {
        Some(offset) if (1..=12).contains(&hour) => hour % 12 + offset,
        Some(_) => return None,
        None => hour,
    };
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) {
        return None;
    }
    let today = now.in_tz(zone).ok()?.date();
    let mut day = today;
    for _ in 0..2 {
        let at = day.at(hour, minute, 0, 0).in_tz(zone).ok()?.timestamp();
        if at > now {
            return Some(at);
        }
        day = day.tomorrow().ok()?;
    }
    None
}

#[cfg(test)]
mod tests;
