//! What the `anthropic` and `openai` executors share: the request-rate
//! limiter, the SSE reader, the reading of rate-limit headers, the price
//! table, the attempt's files, and the attempt itself (wait for a slot,
//! send, classify the status, read the stream). Each provider supplies its
//! wire format through [`Protocol`].

use crate::executor::{AttemptSpec, ExecEvent, Outcome};
use futures_util::StreamExt;
use jiff::{SignedDuration, Timestamp};
use reqwest::header::HeaderMap;
use std::collections::VecDeque;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use techlead_core::state::Usage;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// At most `requests` requests in any `window`, shared by every attempt of
/// one executor. A request holds a slot from before it is sent until its
/// response headers arrive, and the slot is then counted as used at that
/// moment (after the server saw the request) for a whole window. So the
/// server never sees more than `requests` in a window, whatever the
/// network delays: no request is sent early.
#[derive(Debug, Clone)]
pub struct Limiter {
    requests: usize,
    window: Duration,
    state: Arc<(Mutex<Slots>, Notify)>,
}

#[derive(Debug, Default)]
struct Slots {
    /// Requests sent (or about to be) whose response has not started.
    in_flight: usize,
    /// When the recent requests' responses started.
    done: VecDeque<Instant>,
}

/// A request's slot; dropping it marks the request as answered.
#[derive(Debug)]
pub struct Slot {
    state: Arc<(Mutex<Slots>, Notify)>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (slots, notify) = &*self.state;
        let mut slots = slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.in_flight -= 1;
        slots.done.push_back(Instant::now());
        notify.notify_waiters();
    }
}

impl Limiter {
    pub fn new(requests: u32, window: Duration) -> Limiter {
        Limiter {
            requests: requests.max(1) as usize,
            window,
            state: Arc::new((Mutex::new(Slots::default()), Notify::new())),
        }
    }

    /// `requests` per `window`, as configured.
    pub fn rate(&self) -> (usize, Duration) {
        (self.requests, self.window)
    }

    /// Takes a slot now, or says when to look again (`None`: when a
    /// request in flight is answered).
    fn try_take(&self) -> Result<Slot, Option<Instant>> {
        let now = Instant::now();
        let mut slots = self.state.0.lock().unwrap_or_else(|e| e.into_inner());
        while slots
            .done
            .front()
            .is_some_and(|&t| now.duration_since(t) >= self.window)
        {
            slots.done.pop_front();
        }
        if slots.in_flight + slots.done.len() < self.requests {
            slots.in_flight += 1;
            return Ok(Slot {
                state: self.state.clone(),
            });
        }
        Err(slots.done.front().map(|&t| t + self.window))
    }

    /// Waits for a slot.
    pub async fn acquire(&self) -> Slot {
        loop {
            let notified = self.state.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.try_take() {
                Ok(slot) => return slot,
                Err(Some(at)) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(at) => {}
                        _ = notified => {}
                    }
                }
                Err(None) => notified.await,
            }
        }
    }

    /// Whether a slot is free now.
    pub fn is_free(&self) -> bool {
        match self.try_take() {
            Ok(slot) => {
                // Give it back without counting it as used.
                let mut slots = slot.state.0.lock().unwrap_or_else(|e| e.into_inner());
                slots.in_flight -= 1;
                drop(slots);
                std::mem::forget(slot);
                true
            }
            Err(_) => false,
        }
    }
}

/// Reads a limit in requests per minute from an environment variable.
pub fn rpm_from_env(variable: &str) -> Option<Limiter> {
    let rpm: u32 = std::env::var(variable).ok()?.trim().parse().ok()?;
    (rpm > 0).then(|| Limiter::new(rpm, Duration::from_secs(60)))
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Splits a byte stream into server-sent events (`event:`/`data:` lines, a
/// blank line ends an event; `\n`, `\r\n` and comments handled).
#[derive(Debug, Default)]
pub struct SseReader {
    buffer: Vec<u8>,
    current: SseEvent,
    has_data: bool,
}

impl SseReader {
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if self.has_data || self.current.event.is_some() {
                    out.push(std::mem::take(&mut self.current));
                }
                self.has_data = false;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            match field {
                "event" => self.current.event = Some(value.to_owned()),
                "data" => {
                    if self.has_data {
                        self.current.data.push('\n');
                    }
                    self.current.data.push_str(value);
                    self.has_data = true;
                }
                _ => {}
            }
        }
        out
    }

    /// An event left without its closing blank line when the stream ended.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = std::mem::take(&mut self.buffer);
        let mut events = self.feed(&rest);
        events.extend(self.feed(b"\n\n"));
        events.pop()
    }
}

/// Prices in US dollars per million tokens: input, output, cache read,
/// cache write. Matched by the longest model-name prefix; unknown models
/// cost 0.
const PRICES: &[(&str, [f64; 4])] = &[
    ("claude-opus-4-5", [5.0, 25.0, 0.50, 6.25]),
    ("claude-opus-4-6", [5.0, 25.0, 0.50, 6.25]),
    ("claude-opus-4", [15.0, 75.0, 1.50, 18.75]),
    ("claude-sonnet-4", [3.0, 15.0, 0.30, 3.75]),
    ("claude-3-7-sonnet", [3.0, 15.0, 0.30, 3.75]),
    ("claude-haiku-4-5", [1.0, 5.0, 0.10, 1.25]),
    ("claude-3-5-haiku", [0.80, 4.0, 0.08, 1.0]),
    ("gpt-5-nano", [0.05, 0.40, 0.005, 0.0]),
    ("gpt-5-mini", [0.25, 2.0, 0.025, 0.0]),
    ("gpt-5", [1.25, 10.0, 0.125, 0.0]),
    ("gpt-4.1-nano", [0.10, 0.40, 0.025, 0.0]),
    ("gpt-4.1-mini", [0.40, 1.60, 0.10, 0.0]),
    ("gpt-4.1", [2.0, 8.0, 0.50, 0.0]),
    ("gpt-4o-mini", [0.15, 0.60, 0.075, 0.0]),
    ("gpt-4o", [2.50, 10.0, 1.25, 0.0]),
    ("o4-mini", [1.10, 4.40, 0.275, 0.0]),
    ("o3", [2.0, 8.0, 0.50, 0.0]),
];

/// What `usage` costs with `model`, from the price table; 0 when unknown.
pub fn cost_usd(model: &str, usage: &Usage) -> f64 {
    let Some((_, [input, output, read, write])) = PRICES
        .iter()
        .filter(|(prefix, _)| model.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
    else {
        return 0.0;
    };
    (usage.input_tokens as f64 * input
        + usage.output_tokens as f64 * output
        + usage.cache_read_tokens as f64 * read
        + usage.cache_write_tokens as f64 * write)
        / 1_000_000.0
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

/// `retry-after-ms`, else `retry-after` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    if let Some(ms) = header(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return now
            .checked_add(SignedDuration::from_secs_f64(ms.max(0.0) / 1000.0))
            .ok();
    }
    let value = header(headers, "retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return now
            .checked_add(SignedDuration::from_secs_f64(seconds.max(0.0)))
            .ok();
    }
    jiff::fmt::rfc2822::parse(value)
        .ok()
        .map(|zoned| zoned.timestamp())
}

/// An OpenAI reset duration: `12ms`, `1s`, `6m0s`, `1h2m3.5s`.
pub fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 0.001,
            "us" | "µs" => 0.000_001,
            "ns" => 0.000_000_001,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_end..];
    }
    Some(Duration::from_secs_f64(total))
}

/// When a refused request may be tried again: `retry-after` first, then
/// the provider's reset headers (`anthropic-ratelimit-*-reset` timestamps,
/// `x-ratelimit-reset-*` durations), preferring a limit that is used up.
pub fn rate_limit_until(headers: &HeaderMap, now: Timestamp) -> Option<Timestamp> {
    if let Some(until) = retry_after(headers, now) {
        return Some(until);
    }
    let mut exhausted = Vec::new();
    let mut other = Vec::new();
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let anthropic = header(headers, &format!("anthropic-ratelimit-{kind}-reset"))
            .and_then(|v| v.parse::<Timestamp>().ok())
            .map(|t| (t, format!("anthropic-ratelimit-{kind}-remaining")));
        let openai = header(headers, &format!("x-ratelimit-reset-{kind}"))
            .and_then(parse_go_duration)
            .and_then(|d| now.checked_add(d).ok())
            .map(|t| (t, format!("x-ratelimit-remaining-{kind}")));
        for (until, remaining) in anthropic.into_iter().chain(openai) {
            if header(headers, &remaining) == Some("0") {
                exhausted.push(until);
            } else {
                other.push(until);
            }
        }
    }
    let pick = if exhausted.is_empty() {
        other
    } else {
        exhausted
    };
    pick.into_iter().max()
}

/// The first `max` characters of `text`'s first non-empty content,
/// trimmed, on one line.
pub fn excerpt(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        flat
    } else {
        let mut cut: String = flat.chars().take(max).collect();
        cut.push('…');
        cut
    }
}

/// The attempt's `output.log`: what happened, one `[techlead]` line each.
/// A log that cannot be written does not stop the attempt.
pub struct Log {
    path: PathBuf,
}

impl Log {
    pub fn note(&self, line: &str) {
        if let Ok(mut file) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            let _ = writeln!(file, "[techlead] {line}");
        }
    }
}

/// Makes the directory of the attempt's files and writes its prompt file
/// (the system prompt, if any, then the user prompt).
pub fn prepare(spec: &AttemptSpec) -> Result<Log, String> {
    spec.create_files_dir().map_err(|error| {
        format!(
            "cannot create the directory for the attempt's files `{}`: {error}",
            spec.files_dir().display()
        )
    })?;
    let mut prompt = String::new();
    if !spec.agent_prompt.trim().is_empty() {
        prompt.push_str("# System\n\n");
        prompt.push_str(&spec.agent_prompt);
        prompt.push_str("\n\n# User\n\n");
    }
    prompt.push_str(&spec.prompt);
    fs::write(spec.prompt_path(), prompt)
        .map_err(|error| format!("cannot write the prompt file: {error}"))?;
    Ok(Log {
        path: spec.log_path(),
    })
}

/// What a provider reads out of one stream event.
#[derive(Debug, Default, PartialEq)]
pub struct Step {
    /// Answer text that arrived.
    pub text: String,
    /// The usage changed (running totals are in the stream state).
    pub usage: bool,
    /// The stream is complete (`message_stop`, `[DONE]`).
    pub done: bool,
}

/// One provider's wire format.
pub trait Protocol: Send + 'static {
    /// The executor's name, for messages.
    const NAME: &'static str;
    /// The response header carrying the request ID.
    const REQUEST_ID: &'static str;

    /// The request for one attempt.
    fn request(
        &self,
        client: &reqwest::Client,
        spec: &AttemptSpec,
        model: &str,
    ) -> reqwest::RequestBuilder;

    /// The outcome of a response that is not 2xx.
    fn refusal(&self, status: u16, headers: &HeaderMap, body: &str) -> Outcome;

    /// Reads one event; `Err` ends the attempt as failed.
    fn feed(&mut self, event: &SseEvent) -> Result<Step, String>;

    /// The running usage (tokens; cost is added from the price table).
    fn usage(&self) -> Usage;

    /// Why a complete stream is still not a success, if it is not.
    fn verdict(&self) -> Result<(), String>;
}

/// The settings an executor passes to [`run`].
#[derive(Clone)]
pub struct Common {
    pub client: reqwest::Client,
    pub url: String,
    pub model: String,
    pub limiter: Option<Limiter>,
    pub progress_every: Duration,
}

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

/// Runs one attempt: a single streamed request.
pub async fn run<P: Protocol>(
    common: Common,
    mut protocol: P,
    spec: AttemptSpec,
    events: mpsc::UnboundedSender<ExecEvent>,
    cancel: CancellationToken,
) -> Outcome {
    let log = match prepare(&spec) {
        Ok(log) => log,
        Err(message) => return failed(message),
    };
    let _ = events.send(ExecEvent::Started { pid: None });
    let model = spec.model.clone().unwrap_or_else(|| common.model.clone());

    // Wait for a request slot; the attempt's timeout starts once it has one.
    let mut slot = None;
    if let Some(limiter) = &common.limiter {
        if !limiter.is_free() {
            let (requests, window) = limiter.rate();
            let message = format!(
                "waiting for a request slot ({requests} per {:.0} s)",
                window.as_secs_f64()
            );
            log.note(&message);
            let _ = events.send(ExecEvent::Progress {
                percent: None,
                message,
            });
        }
        tokio::select! {
            _ = cancel.cancelled() => {
                log.note("cancelled while waiting for a request slot");
                return Outcome::Cancelled;
            }
            taken = limiter.acquire() => slot = Some(taken),
        }
    }

    let deadline = Instant::now() + spec.timeout;
    let attempt = attempt(&common, &mut protocol, &spec, &model, &events, &log, slot);
    let outcome = tokio::select! {
        _ = cancel.cancelled() => {
            log.note("cancelled");
            Outcome::Cancelled
        }
        _ = tokio::time::sleep_until(deadline) => {
            log.note(&format!("the attempt ran past its timeout of {:.1} s", spec.timeout.as_secs_f64()));
            Outcome::TimedOut
        }
        outcome = attempt => outcome,
    };
    if !matches!(outcome, Outcome::Succeeded { .. }) {
        log.note(&format!("outcome: {outcome:?}"));
    } else {
        log.note("outcome: succeeded");
    }
    outcome
}

async fn attempt<P: Protocol>(
    common: &Common,
    protocol: &mut P,
    spec: &AttemptSpec,
    model: &str,
    events: &mpsc::UnboundedSender<ExecEvent>,
    log: &Log,
    slot: Option<Slot>,
) -> Outcome {
    log.note(&format!("POST {} model {model} (stream)", common.url));
    let sent = protocol.request(&common.client, spec, model).send().await;
    // The server has seen the request (or never will): the slot is used.
    drop(slot);
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            let message = format!("cannot reach {}: {}", common.url, error_chain(&error));
            log.note(&message);
            return failed(message);
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let request_id = header(&headers, P::REQUEST_ID).unwrap_or("none").to_owned();
    log.note(&format!("HTTP {status}, request id {request_id}"));
    if !response.status().is_success() {
        let body = response.text().await.unwrap_or_default();
        log.note(&format!("response body: {}", excerpt(&body, 2000)));
        return protocol.refusal(status, &headers, &body);
    }

    let mut reader = SseReader::default();
    let mut answer = String::new();
    let mut done = false;
    let mut last_progress: Option<Instant> = None;
    let mut pending_progress = false;
    let mut body = response.bytes_stream();
    let report_usage = |protocol: &P| {
        let mut usage = protocol.usage();
        usage.cost_usd = cost_usd(usage.model.as_deref().unwrap_or(model), &usage);
        usage
    };
    let progress = |answer: &str, force: bool, last: &mut Option<Instant>| {
        let now = Instant::now();
        if force || last.is_none_or(|at| now.duration_since(at) >= common.progress_every) {
            *last = Some(now);
            let tail = answer
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            let _ = events.send(ExecEvent::Progress {
                percent: None,
                message: excerpt(tail, 120),
            });
            false
        } else {
            true
        }
    };
    'read: loop {
        let chunk = match body.next().await {
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                let message = format!(
                    "the stream broke after {} bytes of answer: {}",
                    answer.len(),
                    error_chain(&error)
                );
                log.note(&message);
                return failed(message);
            }
            None => break,
        };
        let mut batch = reader.feed(&chunk);
        for event in batch.drain(..) {
            match protocol.feed(&event) {
                Ok(step) => {
                    if !step.text.is_empty() {
                        answer.push_str(&step.text);
                        pending_progress = progress(&answer, false, &mut last_progress);
                    }
                    if step.usage {
                        let _ = events.send(ExecEvent::Usage(report_usage(protocol)));
                    }
                    if step.done {
                        done = true;
                        break 'read;
                    }
                }
                Err(message) => {
                    log.note(&message);
                    return failed(message);
                }
            }
        }
    }
    if !done && let Some(event) = reader.finish() {
        match protocol.feed(&event) {
            Ok(step) => {
                answer.push_str(&step.text);
                done = step.done;
            }
            Err(message) => {
                log.note(&message);
                return failed(message);
            }
        }
    }
    if pending_progress {
        progress(&answer, true, &mut last_progress);
    }
    let usage = report_usage(protocol);
    log.note(&format!(
        "usage: {} input, {} output, {} cache read, {} cache write tokens; ${:.6} ({})",
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
        usage.cost_usd,
        usage.model.as_deref().unwrap_or(model)
    ));
    if !done {
        return failed(format!(
            "the stream ended before it was complete (truncated after {} bytes of answer)",
            answer.len()
        ));
    }
    let answer_path = spec.attempt_file("answer.md");
    if let Err(error) = fs::write(&answer_path, &answer) {
        return failed(format!("cannot write `{}`: {error}", answer_path.display()));
    }
    let _ = events.send(ExecEvent::Artifact(answer_path.display().to_string()));
    if let Err(message) = protocol.verdict() {
        return failed(message);
    }
    let summary = excerpt(&answer, 200);
    let _ = events.send(ExecEvent::Summary(summary.clone()));
    Outcome::Succeeded {
        summary: Some(summary),
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Outcomes shared by both providers' refusals.
pub fn classify(
    status: u16,
    headers: &HeaderMap,
    kind: &str,
    code: &str,
    message: &str,
) -> Outcome {
    let name = if kind.is_empty() { code } else { kind };
    let text = format!("HTTP {status} {name}: {message}");
    let lower = format!("{kind} {code} {message}").to_lowercase();
    let money = [
        "insufficient_quota",
        "billing",
        "credit balance",
        "spend_limit",
        "spend limit",
    ]
    .iter()
    .any(|word| lower.contains(word));
    if status == 401 || status == 403 || status == 402 || money {
        return Outcome::NeedsPerson { message: text };
    }
    if status == 429 || status == 529 || status == 503 || kind == "overloaded_error" {
        return Outcome::RateLimited {
            until: rate_limit_until(headers, Timestamp::now()),
            message: text,
        };
    }
    if (400..500).contains(&status) {
        return failed(format!(
            "{text} (not retryable: the request itself was refused)"
        ));
    }
    failed(format!("{text} (server error)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_events_split_across_chunks_and_crlf() {
        let mut reader = SseReader::default();
        assert!(reader.feed(b"event: ping\r\nda").is_empty());
        let events = reader.feed(b"ta: {\"a\":1}\r\n\r\n: comment\n\ndata: x\ndata: y\n\n");
        assert_eq!(
            events,
            vec![
                SseEvent {
                    event: Some("ping".into()),
                    data: "{\"a\":1}".into()
                },
                SseEvent {
                    event: None,
                    data: "x\ny".into()
                }
            ]
        );
        reader.feed(b"data: [DONE]");
        assert_eq!(reader.finish().unwrap().data, "[DONE]");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("12ms"), Some(Duration::from_millis(12)));
        assert_eq!(parse_go_duration("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(
            parse_go_duration("1h2m3.5s"),
            Some(Duration::from_secs_f64(3723.5))
        );
        assert_eq!(parse_go_duration("soon"), None);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now: Timestamp = "2026-08-22T10:15:00Z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "17".parse().unwrap());
        assert_eq!(
            retry_after(&headers, now),
            Some("2026-08-22T10:15:17Z".parse().unwrap())
        );
        headers.insert(
            "retry-after",
            "Sat, 22 Aug 2026 10:16:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers, now),
            Some("2026-08-22T10:16:00Z".parse().unwrap())
        );
    }

    #[test]
    fn reset_headers_prefer_the_exhausted_limit() {
        let now: Timestamp = "2026-08-22T10:15:00Z".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-ratelimit-requests-reset",
            "2026-08-22T10:15:30Z".parse().unwrap(),
        );
        headers.insert(
            "anthropic-ratelimit-requests-remaining",
            "0".parse().unwrap(),
        );
        headers.insert(
            "anthropic-ratelimit-tokens-reset",
            "2026-08-22T10:20:00Z".parse().unwrap(),
        );
        headers.insert(
            "anthropic-ratelimit-tokens-remaining",
            "5000".parse().unwrap(),
        );
        assert_eq!(
            rate_limit_until(&headers, now),
            Some("2026-08-22T10:15:30Z".parse().unwrap())
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-reset-requests", "1.5s".parse().unwrap());
        assert_eq!(
            rate_limit_until(&headers, now),
            Some("2026-08-22T10:15:01.5Z".parse().unwrap())
        );
    }

    #[test]
    fn prices() {
        let usage = Usage {
            input_tokens: 1_000_000,
            output_tokens: 1_000_000,
            ..Usage::default()
        };
        assert_eq!(cost_usd("gpt-4o-mini-2024", &usage), 0.75);
        assert_eq!(cost_usd("claude-sonnet-4-5", &usage), 18.0);
        assert_eq!(cost_usd("llama3", &usage), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_counts_a_window_from_each_answer() {
        let limiter = Limiter::new(2, Duration::from_secs(10));
        let start = Instant::now();
        let first = limiter.acquire().await;
        let second = limiter.acquire().await;
        assert!(!limiter.is_free());
        // Both in flight: the third waits for an answer, then a window.
        let third = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                let slot = limiter.acquire().await;
                (Instant::now() - start, slot)
            }
        });
        tokio::time::sleep(Duration::from_secs(3)).await;
        drop(first);
        tokio::time::sleep(Duration::from_secs(1)).await;
        drop(second);
        let (waited, _slot) = third.await.unwrap();
        assert_eq!(waited, Duration::from_secs(13));
    }
}
