//! Fake HTTP model APIs for tests: [`FakeAnthropic`] (the Messages API) and
//! [`FakeOpenAi`] (Chat Completions). Each binds `127.0.0.1:0`, records
//! every request, and answers each one with the next queued [`Scenario`]
//! (a default success when the queue is empty), with the wire formats of
//! docs/reference `agent-protocols.md` §4 and §5: SSE events, error
//! bodies, `request-id` / `x-request-id` and rate-limit headers.
//!
//! A request-rate limit (`with_rate_limit(n, window)`) answers 429 with
//! `retry-after` to any request beyond `n` in the last `window`, like the
//! providers' RPM limits, with a window a test can afford.

pub mod cli;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Response, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the fake says in a successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_tokens: u64,
    /// The model named in the stream; the request's when `None`.
    pub model: Option<String>,
}

impl Reply {
    pub fn text(text: impl Into<String>) -> Reply {
        Reply {
            text: text.into(),
            ..Reply::default()
        }
    }
}

impl Default for Reply {
    fn default() -> Reply {
        Reply {
            text: "Hello! The plan:\n1. Read the code.\n2. Write the summary.".into(),
            input_tokens: 25,
            output_tokens: 15,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            model: None,
        }
    }
}

/// How the fake answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Scenario {
    /// 200 and a complete stream.
    Success(Reply),
    /// 429 `rate_limit_error` / `rate_limit_exceeded` with `retry-after`.
    RateLimited { retry_after_secs: u64 },
    /// Anthropic: 529 `overloaded_error`. OpenAI: 503.
    Overloaded,
    /// 401 `authentication_error` / `invalid_api_key`.
    Unauthorized,
    /// OpenAI: 429 `insufficient_quota`. Anthropic: 400 "Your credit
    /// balance is too low".
    InsufficientQuota,
    /// 400 `invalid_request_error`.
    BadRequest,
    /// 500 `api_error`.
    ServerError,
    /// 200, some text, then an error event (`overloaded_error`).
    MidStreamError,
    /// 200, and the stream's parts come `delay` apart.
    Slow { delay: Duration },
    /// 200, and one chunk is not valid JSON.
    InvalidJson,
    /// 200, some text, and the connection ends before the stream does.
    Truncated,
    /// OpenAI: 200, and the model calls a tool (no tools were offered) with
    /// arguments that are not valid JSON, `finish_reason: tool_calls`.
    ToolCallBadArguments,
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Wire {
    Anthropic,
    OpenAi,
}

struct Inner {
    queue: VecDeque<Scenario>,
    requests: Vec<Recorded>,
    limit: Option<(usize, Duration)>,
    arrivals: VecDeque<Instant>,
    rejected: usize,
    next_id: u64,
}

type Shared = Arc<(Wire, Mutex<Inner>)>;

/// A running fake API; it stops when dropped.
pub struct FakeApi {
    addr: SocketAddr,
    shared: Shared,
    server: tokio::task::JoinHandle<()>,
}

/// The fake Messages API (`POST /v1/messages`).
pub type FakeAnthropic = FakeApi;
/// The fake Chat Completions API (`POST /v1/chat/completions`).
pub type FakeOpenAi = FakeApi;

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeApi {
    /// The fake Messages API.
    pub async fn anthropic() -> FakeApi {
        FakeApi::start(Wire::Anthropic).await
    }

    /// The fake Chat Completions API.
    pub async fn openai() -> FakeApi {
        FakeApi::start(Wire::OpenAi).await
    }

    async fn start(wire: Wire) -> FakeApi {
        let shared: Shared = Arc::new((
            wire,
            Mutex::new(Inner {
                queue: VecDeque::new(),
                requests: Vec::new(),
                limit: None,
                arrivals: VecDeque::new(),
                rejected: 0,
                next_id: 1,
            }),
        ));
        let path = match wire {
            Wire::Anthropic => "/v1/messages",
            Wire::OpenAi => "/v1/chat/completions",
        };
        let app = Router::new()
            .route(path, post(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        FakeApi {
            addr,
            shared,
            server,
        }
    }

    /// The base URL as each SDK takes it: `http://127.0.0.1:PORT` for
    /// Anthropic, `http://127.0.0.1:PORT/v1` for OpenAI.
    pub fn base_url(&self) -> String {
        match self.shared.0 {
            Wire::Anthropic => format!("http://{}", self.addr),
            Wire::OpenAi => format!("http://{}/v1", self.addr),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.shared.1.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the answer to a coming request.
    pub fn push(&self, scenario: Scenario) -> &FakeApi {
        self.inner().queue.push_back(scenario);
        self
    }

    /// Answers 429 to requests beyond `requests` in any `window`.
    pub fn with_rate_limit(self, requests: usize, window: Duration) -> FakeApi {
        self.inner().limit = Some((requests, window));
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }

    /// How many requests the rate limit refused.
    pub fn rejected(&self) -> usize {
        self.inner().rejected
    }
}

fn sse(wire: Wire, event: &str, data: &Value) -> String {
    match wire {
        Wire::Anthropic => format!("event: {event}\ndata: {data}\n\n"),
        Wire::OpenAi => format!("data: {data}\n\n"),
    }
}

async fn handle(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response<Body> {
    let wire = shared.0;
    let now = Instant::now();
    let (scenario, id, limited) = {
        let mut inner = shared.1.lock().unwrap_or_else(|e| e.into_inner());
        let id = inner.next_id;
        inner.next_id += 1;
        inner.requests.push(Recorded {
            path: match wire {
                Wire::Anthropic => "/v1/messages".into(),
                Wire::OpenAi => "/v1/chat/completions".into(),
            },
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        });
        let mut limited = None;
        if let Some((requests, window)) = inner.limit {
            while inner
                .arrivals
                .front()
                .is_some_and(|&t| now.duration_since(t) >= window)
            {
                inner.arrivals.pop_front();
            }
            if inner.arrivals.len() >= requests {
                inner.rejected += 1;
                let free = *inner.arrivals.front().expect("full") + window;
                limited = Some(free.duration_since(now));
            } else {
                inner.arrivals.push_back(now);
            }
        }
        let scenario = if limited.is_some() {
            None
        } else {
            Some(
                inner
                    .queue
                    .pop_front()
                    .unwrap_or_else(|| Scenario::Success(Reply::default())),
            )
        };
        (scenario, id, limited)
    };
    let request_id = match wire {
        Wire::Anthropic => format!("req_{id:024}"),
        Wire::OpenAi => format!("req_{id:032x}"),
    };
    if let Some(wait) = limited {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        return refuse(wire, &request_id, 429, "rate_limit", Some((secs, wait)));
    }
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    // The real APIs' own checks.
    if wire == Wire::Anthropic {
        if !headers.contains_key("anthropic-version") {
            return refuse(wire, &request_id, 400, "no_version", None);
        }
        if !headers.contains_key("x-api-key") && !headers.contains_key("authorization") {
            return refuse(wire, &request_id, 401, "no_key", None);
        }
    }
    if request["model"].as_str().is_none() || !request["messages"].is_array() {
        return refuse(wire, &request_id, 400, "bad_request", None);
    }
    let model = request["model"].as_str().unwrap_or("").to_owned();
    let scenario = scenario.expect("not limited");
    let parts = match scenario {
        Scenario::RateLimited { retry_after_secs } => {
            let wait = Duration::from_secs(retry_after_secs);
            return refuse(
                wire,
                &request_id,
                429,
                "rate_limit",
                Some((retry_after_secs, wait)),
            );
        }
        Scenario::Overloaded => {
            let status = if wire == Wire::Anthropic { 529 } else { 503 };
            return refuse(wire, &request_id, status, "overloaded", None);
        }
        Scenario::Unauthorized => return refuse(wire, &request_id, 401, "unauthorized", None),
        Scenario::InsufficientQuota => {
            let status = if wire == Wire::Anthropic { 400 } else { 429 };
            return refuse(wire, &request_id, status, "quota", None);
        }
        Scenario::BadRequest => return refuse(wire, &request_id, 400, "bad_request", None),
        Scenario::ServerError => return refuse(wire, &request_id, 500, "server", None),
        Scenario::Success(reply) => stream(wire, &model, &reply, None),
        Scenario::MidStreamError => stream(wire, &model, &Reply::default(), Some(Break::Error)),
        Scenario::InvalidJson => stream(wire, &model, &Reply::default(), Some(Break::InvalidJson)),
        Scenario::Truncated => stream(wire, &model, &Reply::default(), Some(Break::Truncated)),
        Scenario::ToolCallBadArguments => tool_call_stream(&model),
        Scenario::Slow { delay } => stream(wire, &model, &Reply::default(), None)
            .into_iter()
            .enumerate()
            .map(|(i, (_, text))| (if i == 0 { Duration::ZERO } else { delay }, text))
            .collect(),
    };
    respond_stream(wire, &request_id, parts)
}

#[derive(Clone, Copy, PartialEq)]
enum Break {
    Error,
    InvalidJson,
    Truncated,
}

/// The stream's parts, each with the pause before it.
fn stream(
    wire: Wire,
    model: &str,
    reply: &Reply,
    broken: Option<Break>,
) -> Vec<(Duration, String)> {
    let model = reply.model.clone().unwrap_or_else(|| model.to_owned());
    let mut pieces: Vec<String> = Vec::new();
    let mut rest = reply.text.as_str();
    while !rest.is_empty() {
        let cut = rest
            .char_indices()
            .map(|(i, _)| i)
            .find(|&i| i >= 12)
            .unwrap_or(rest.len());
        pieces.push(rest[..cut].to_owned());
        rest = &rest[cut..];
    }
    let mut out = Vec::new();
    let mut push = |event: &str, data: Value| out.push((Duration::ZERO, sse(wire, event, &data)));
    match wire {
        Wire::Anthropic => {
            push(
                "message_start",
                json!({"type":"message_start","message":{"id":"msg_01Fake","type":"message","role":"assistant","content":[],"model":model,"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":reply.input_tokens,"cache_creation_input_tokens":reply.cache_write_tokens,"cache_read_input_tokens":reply.cache_read_tokens,"output_tokens":1}}}),
            );
            push(
                "content_block_start",
                json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            );
            push("ping", json!({"type":"ping"}));
            for (i, piece) in pieces.iter().enumerate() {
                if i == 1 {
                    match broken {
                        Some(Break::Error) => {
                            push(
                                "error",
                                json!({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}),
                            );
                            return out;
                        }
                        Some(Break::InvalidJson) => {
                            out.push((Duration::ZERO, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"oops\n\n".into()));
                            return out;
                        }
                        Some(Break::Truncated) => return out,
                        None => {}
                    }
                }
                push(
                    "content_block_delta",
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":piece}}),
                );
            }
            push(
                "content_block_stop",
                json!({"type":"content_block_stop","index":0}),
            );
            push(
                "message_delta",
                json!({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":reply.output_tokens}}),
            );
            push("message_stop", json!({"type":"message_stop"}));
        }
        Wire::OpenAi => {
            let chunk = |delta: Value, finish: Value| json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1766000000,"model":model,"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}],"usage":null});
            push(
                "",
                chunk(json!({"role":"assistant","content":""}), Value::Null),
            );
            for (i, piece) in pieces.iter().enumerate() {
                if i == 1 {
                    match broken {
                        Some(Break::Error) => {
                            push(
                                "",
                                json!({"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}),
                            );
                            return out;
                        }
                        Some(Break::InvalidJson) => {
                            out.push((Duration::ZERO, "data: {\"id\":\"chatcmpl-fake\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"oops\n\n".into()));
                            return out;
                        }
                        Some(Break::Truncated) => return out,
                        None => {}
                    }
                }
                push("", chunk(json!({"content":piece}), Value::Null));
            }
            push("", chunk(json!({}), json!("stop")));
            let prompt = reply.input_tokens + reply.cache_read_tokens;
            push(
                "",
                json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1766000000,"model":model,"choices":[],"usage":{"prompt_tokens":prompt,"completion_tokens":reply.output_tokens,"total_tokens":prompt + reply.output_tokens,"prompt_tokens_details":{"cached_tokens":reply.cache_read_tokens,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}),
            );
            out.push((Duration::ZERO, "data: [DONE]\n\n".into()));
        }
    }
    out
}

/// A Chat Completions stream in which the model calls `write_file` with
/// arguments cut off mid-object, split over chunks as servers send them.
fn tool_call_stream(model: &str) -> Vec<(Duration, String)> {
    let chunk = |delta: Value, finish: Value| json!({"id":"chatcmpl-fake","object":"chat.completion.chunk","created":1766000000,"model":model,"choices":[{"index":0,"delta":delta,"logprobs":null,"finish_reason":finish}],"usage":null});
    let parts = [
        chunk(json!({"role":"assistant","content":null}), Value::Null),
        chunk(
            json!({"tool_calls":[{"index":0,"id":"call_fake","type":"function","function":{"name":"write_file","arguments":""}}]}),
            Value::Null,
        ),
        chunk(
            json!({"tool_calls":[{"index":0,"function":{"arguments":"{\"path\": \"a.txt\", \"content\": "}}]}),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
    ];
    let mut out: Vec<(Duration, String)> = parts
        .iter()
        .map(|part| (Duration::ZERO, sse(Wire::OpenAi, "", part)))
        .collect();
    out.push((Duration::ZERO, "data: [DONE]\n\n".into()));
    out
}

fn respond_stream(wire: Wire, request_id: &str, parts: Vec<(Duration, String)>) -> Response<Body> {
    let body = futures_util::stream::unfold(parts.into_iter(), |mut parts| async move {
        let (delay, text) = parts.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<_, Infallible>(Bytes::from(text)), parts))
    });
    let mut response = Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache");
    response = match wire {
        Wire::Anthropic => response
            .header("request-id", request_id)
            .header("anthropic-organization-id", "org-fake"),
        Wire::OpenAi => response
            .header("x-request-id", request_id)
            .header("openai-version", "2020-10-01"),
    };
    response
        .body(Body::from_stream(body))
        .expect("a valid response")
}

/// An error response in the provider's shape, with its headers.
fn refuse(
    wire: Wire,
    request_id: &str,
    status: u16,
    what: &str,
    retry: Option<(u64, Duration)>,
) -> Response<Body> {
    let (kind, code, message): (&str, Value, &str) = match (wire, what) {
        (Wire::Anthropic, "rate_limit") => (
            "rate_limit_error",
            Value::Null,
            "Number of requests has exceeded your per-minute rate limit",
        ),
        (Wire::Anthropic, "overloaded") => ("overloaded_error", Value::Null, "Overloaded"),
        (Wire::Anthropic, "unauthorized") => {
            ("authentication_error", Value::Null, "invalid x-api-key")
        }
        (Wire::Anthropic, "no_key") => (
            "authentication_error",
            Value::Null,
            "x-api-key header is required",
        ),
        (Wire::Anthropic, "no_version") => (
            "invalid_request_error",
            Value::Null,
            "anthropic-version: header is required",
        ),
        (Wire::Anthropic, "quota") => (
            "invalid_request_error",
            Value::Null,
            "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.",
        ),
        (Wire::Anthropic, "server") => ("api_error", Value::Null, "Internal server error"),
        (Wire::Anthropic, _) => (
            "invalid_request_error",
            Value::Null,
            "messages: field required",
        ),
        (Wire::OpenAi, "rate_limit") => (
            "requests",
            json!("rate_limit_exceeded"),
            "Rate limit reached for requests per min (RPM). Please try again later.",
        ),
        (Wire::OpenAi, "overloaded") => (
            "server_error",
            Value::Null,
            "The engine is currently overloaded, please try again later",
        ),
        (Wire::OpenAi, "unauthorized") => (
            "invalid_request_error",
            json!("invalid_api_key"),
            "Incorrect API key provided: sk-fake. You can find your API key at https://platform.openai.com/account/api-keys.",
        ),
        (Wire::OpenAi, "quota") => (
            "insufficient_quota",
            json!("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        (Wire::OpenAi, "server") => (
            "server_error",
            Value::Null,
            "The server had an error while processing your request.",
        ),
        (Wire::OpenAi, _) => (
            "invalid_request_error",
            Value::Null,
            "Missing required parameter: 'messages'.",
        ),
    };
    let body = match wire {
        Wire::Anthropic => {
            json!({"type":"error","error":{"type":kind,"message":message},"request_id":request_id})
        }
        Wire::OpenAi => json!({"error":{"message":message,"type":kind,"param":null,"code":code}}),
    };
    let mut response = Response::builder()
        .status(StatusCode::from_u16(status).expect("a status"))
        .header("content-type", "application/json");
    response = match wire {
        Wire::Anthropic => response.header("request-id", request_id),
        Wire::OpenAi => response.header("x-request-id", request_id),
    };
    if let Some((secs, wait)) = retry {
        response = response.header("retry-after", secs.to_string());
        response = match wire {
            Wire::Anthropic => {
                let reset = jiff::Timestamp::now()
                    + jiff::SignedDuration::try_from(wait).unwrap_or_default();
                response
                    .header("anthropic-ratelimit-requests-limit", "50")
                    .header("anthropic-ratelimit-requests-remaining", "0")
                    .header("anthropic-ratelimit-requests-reset", reset.to_string())
            }
            Wire::OpenAi => response
                .header("x-ratelimit-limit-requests", "10")
                .header("x-ratelimit-remaining-requests", "0")
                .header(
                    "x-ratelimit-reset-requests",
                    format!("{}ms", wait.as_millis()),
                ),
        };
    }
    response
        .body(Body::from(body.to_string()))
        .expect("a valid response")
}
