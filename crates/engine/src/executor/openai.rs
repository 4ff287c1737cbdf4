//! The `openai` executor: one streamed Chat Completions request per
//! attempt, against OpenAI or any server that speaks its API (Ollama,
//! vLLM, llama.cpp, ...). For text tasks: planning, review, summaries; no
//! tools. See docs/executors.md.
//!
//! [`api`] holds what it shares with the `anthropic` executor: the
//! request-rate limiter, the SSE reader, the rate-limit headers, the price
//! table and the attempt itself.

pub mod api;

use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use api::{Common, Limiter, Protocol, SseEvent, Step};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Duration;
use techlead_core::state::Usage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs Chat Completions. [`OpenAiExecutor::new`] reads the environment;
/// the `with_*` settings are for tuning and tests.
#[derive(Clone)]
pub struct OpenAiExecutor {
    base_url: String,
    api_key: Option<String>,
    model: String,
    max_tokens: Option<u32>,
    limiter: Option<Limiter>,
    client: reqwest::Client,
    progress_every: Duration,
}

impl std::fmt::Debug for OpenAiExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiExecutor")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("model", &self.model)
            .field("limiter", &self.limiter.as_ref().map(Limiter::rate))
            .finish()
    }
}

impl OpenAiExecutor {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.openai.com/v1";
    pub const DEFAULT_MODEL: &'static str = "gpt-4o-mini";
    pub const BASE_URL_VARIABLE: &'static str = "OPENAI_BASE_URL";
    pub const KEY_VARIABLE: &'static str = "OPENAI_API_KEY";
    pub const MODEL_VARIABLE: &'static str = "TECHLEAD_OPENAI_MODEL";
    pub const RPM_VARIABLE: &'static str = "TECHLEAD_OPENAI_RPM";

    /// Base URL, key, model and requests per minute from the environment.
    pub fn new() -> OpenAiExecutor {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        OpenAiExecutor {
            base_url: var(Self::BASE_URL_VARIABLE).unwrap_or_else(|| Self::DEFAULT_BASE_URL.into()),
            api_key: var(Self::KEY_VARIABLE),
            model: var(Self::MODEL_VARIABLE).unwrap_or_else(|| Self::DEFAULT_MODEL.into()),
            max_tokens: None,
            limiter: api::rpm_from_env(Self::RPM_VARIABLE),
            client: reqwest::Client::new(),
            progress_every: Duration::from_secs(1),
        }
    }

    /// The API's base URL, up to and including `/v1`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> OpenAiExecutor {
        self.base_url = url.into();
        self
    }

    /// The bearer token; `None` sends no `Authorization` header.
    pub fn with_api_key(mut self, key: Option<String>) -> OpenAiExecutor {
        self.api_key = key;
        self
    }

    /// The model for agents that name none.
    pub fn with_model(mut self, model: impl Into<String>) -> OpenAiExecutor {
        self.model = model.into();
        self
    }

    /// Sends `max_completion_tokens` (none by default).
    pub fn with_max_tokens(mut self, tokens: Option<u32>) -> OpenAiExecutor {
        self.max_tokens = tokens;
        self
    }

    /// At most `requests` per `window`, across all attempts on this
    /// executor; `None` for no limit.
    pub fn with_rate_limit(mut self, limit: Option<(u32, Duration)>) -> OpenAiExecutor {
        self.limiter = limit.map(|(requests, window)| Limiter::new(requests, window));
        self
    }

    /// The shortest time between two progress reports.
    pub fn with_progress_every(mut self, every: Duration) -> OpenAiExecutor {
        self.progress_every = every;
        self
    }

    /// The request body for one attempt.
    pub fn body(&self, spec: &AttemptSpec, model: &str) -> Value {
        let mut messages = Vec::new();
        if !spec.agent_prompt.trim().is_empty() {
            messages.push(json!({"role": "system", "content": spec.agent_prompt}));
        }
        messages.push(json!({"role": "user", "content": spec.prompt}));
        let mut body = json!({
            "model": model,
            "messages": messages,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        if let Some(tokens) = self.max_tokens {
            body["max_completion_tokens"] = json!(tokens);
        }
        body
    }
}

impl Default for OpenAiExecutor {
    fn default() -> OpenAiExecutor {
        OpenAiExecutor::new()
    }
}

impl Executor for OpenAiExecutor {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture {
        let common = Common {
            client: self.client.clone(),
            url: format!("{}/chat/completions", self.base_url.trim_end_matches('/')),
            model: self.model.clone(),
            limiter: self.limiter.clone(),
            progress_every: self.progress_every,
        };
        let protocol = Chat {
            config: self.clone(),
            url: common.url.clone(),
            usage: Usage::default(),
            finish_reason: None,
            refusal: String::new(),
            tool_calls: Vec::new(),
        };
        Box::pin(api::run(common, protocol, spec, events, cancel))
    }
}

/// One attempt's view of the Chat Completions stream.
struct Chat {
    config: OpenAiExecutor,
    url: String,
    usage: Usage,
    finish_reason: Option<String>,
    refusal: String,
    /// Tool calls the model made anyway (none are offered): name and the
    /// arguments as streamed.
    tool_calls: Vec<(String, String)>,
}

impl Protocol for Chat {
    const NAME: &'static str = "openai";
    const REQUEST_ID: &'static str = "x-request-id";

    fn request(
        &self,
        client: &reqwest::Client,
        spec: &AttemptSpec,
        model: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .json(&self.config.body(spec, model));
        if let Some(key) = &self.config.api_key {
            request = request.bearer_auth(key);
        }
        request
    }

    fn refusal(&self, status: u16, headers: &HeaderMap, body: &str) -> Outcome {
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let error = &value["error"];
        let field = |name: &str| error[name].as_str().unwrap_or("").to_owned();
        let mut message = field("message");
        if message.is_empty() {
            message = error
                .as_str()
                .unwrap_or(body.trim())
                .chars()
                .take(300)
                .collect();
        }
        api::classify(status, headers, &field("type"), &field("code"), &message)
    }

    fn feed(&mut self, event: &SseEvent) -> Result<Step, String> {
        let data = event.data.trim();
        if data.starts_with("[DONE]") {
            return Ok(Step {
                done: true,
                ..Step::default()
            });
        }
        if data.is_empty() {
            return Ok(Step::default());
        }
        let chunk: Value = serde_json::from_str(data).map_err(|error| {
            format!(
                "{}: a stream chunk is not valid JSON ({error}): {}",
                Self::NAME,
                api::excerpt(data, 200)
            )
        })?;
        if let Some(error) = chunk.get("error").filter(|e| !e.is_null()) {
            let message = error["message"].as_str().unwrap_or("").to_owned();
            let kind = error["type"]
                .as_str()
                .or(error["code"].as_str())
                .unwrap_or("error");
            return Err(format!("the stream reported an error: {kind}: {message}"));
        }
        let mut step = Step::default();
        if let Some(model) = chunk["model"].as_str().filter(|m| !m.is_empty()) {
            self.usage.model = Some(model.to_owned());
        }
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            if choice["index"].as_u64().unwrap_or(0) != 0 {
                continue;
            }
            if let Some(text) = choice["delta"]["content"].as_str() {
                step.text.push_str(text);
            }
            if let Some(text) = choice["delta"]["refusal"].as_str() {
                self.refusal.push_str(text);
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                self.finish_reason = Some(reason.to_owned());
            }
            for call in choice["delta"]["tool_calls"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let index = call["index"].as_u64().unwrap_or(0) as usize;
                if self.tool_calls.len() <= index {
                    self.tool_calls
                        .resize(index + 1, (String::new(), String::new()));
                }
                let function = &call["function"];
                if let Some(name) = function["name"].as_str() {
                    self.tool_calls[index].0.push_str(name);
                }
                if let Some(arguments) = function["arguments"].as_str() {
                    self.tool_calls[index].1.push_str(arguments);
                }
            }
        }
        let usage = &chunk["usage"];
        if usage.is_object() {
            let cached = usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0);
            let prompt = usage["prompt_tokens"].as_u64().unwrap_or(0);
            self.usage.input_tokens = prompt.saturating_sub(cached);
            self.usage.cache_read_tokens = cached;
            self.usage.cache_write_tokens = usage["prompt_tokens_details"]["cache_write_tokens"]
                .as_u64()
                .unwrap_or(0);
            self.usage.output_tokens = usage["completion_tokens"].as_u64().unwrap_or(0);
            self.usage.turns = 1;
            step.usage = true;
        }
        Ok(step)
    }

    fn usage(&self) -> Usage {
        self.usage.clone()
    }

    fn verdict(&self) -> Result<(), String> {
        if let Some((name, arguments)) = self.tool_calls.first() {
            let invalid = if serde_json::from_str::<Value>(arguments).is_err() {
                format!(
                    "; its arguments are not valid JSON: {}",
                    api::excerpt(arguments, 120)
                )
            } else {
                String::new()
            };
            return Err(format!(
                "the model called the tool `{name}`, but this executor offers no tools{invalid}"
            ));
        }
        match self.finish_reason.as_deref() {
            Some("content_filter") => Err("the answer was stopped by the content filter".into()),
            Some("tool_calls") => {
                Err("the model stopped to call a tool; this executor offers none".into())
            }
            _ if !self.refusal.is_empty() => Err(format!("the model refused: {}", self.refusal)),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat").field("url", &self.url).finish()
    }
}
