//! The `anthropic` executor: one streamed Messages API request per
//! attempt. For text tasks: planning, review, summaries; no tools. See
//! docs/executors.md. The limiter, SSE reader, rate-limit headers, price
//! table and the attempt itself are shared with `openai` (`openai::api`).

use super::openai::api::{self, Common, Limiter, Protocol, SseEvent, Step};
use super::{AttemptSpec, ExecEvent, Executor, Outcome, OutcomeFuture};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use std::time::Duration;
use techlead_core::state::Usage;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Runs the Messages API. [`AnthropicExecutor::new`] reads the
/// environment; the `with_*` settings are for tuning and tests.
#[derive(Clone)]
pub struct AnthropicExecutor {
    base_url: String,
    api_key: Option<String>,
    model: String,
    max_tokens: u32,
    limiter: Option<Limiter>,
    client: reqwest::Client,
    progress_every: Duration,
}

impl std::fmt::Debug for AnthropicExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnthropicExecutor")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("model", &self.model)
            .field("max_tokens", &self.max_tokens)
            .field("limiter", &self.limiter.as_ref().map(Limiter::rate))
            .finish()
    }
}

impl AnthropicExecutor {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.anthropic.com";
    pub const DEFAULT_MODEL: &'static str = "claude-sonnet-4-5";
    pub const DEFAULT_MAX_TOKENS: u32 = 8192;
    pub const VERSION: &'static str = "2023-06-01";
    pub const BASE_URL_VARIABLE: &'static str = "ANTHROPIC_BASE_URL";
    pub const KEY_VARIABLE: &'static str = "ANTHROPIC_API_KEY";
    pub const MODEL_VARIABLE: &'static str = "TECHLEAD_ANTHROPIC_MODEL";
    pub const RPM_VARIABLE: &'static str = "TECHLEAD_ANTHROPIC_RPM";

    /// Base URL, key, model and requests per minute from the environment.
    pub fn new() -> AnthropicExecutor {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        AnthropicExecutor {
            base_url: var(Self::BASE_URL_VARIABLE).unwrap_or_else(|| Self::DEFAULT_BASE_URL.into()),
            api_key: var(Self::KEY_VARIABLE),
            model: var(Self::MODEL_VARIABLE).unwrap_or_else(|| Self::DEFAULT_MODEL.into()),
            max_tokens: Self::DEFAULT_MAX_TOKENS,
            limiter: api::rpm_from_env(Self::RPM_VARIABLE),
            client: reqwest::Client::new(),
            progress_every: Duration::from_secs(1),
        }
    }

    /// The API's base URL, without `/v1`.
    pub fn with_base_url(mut self, url: impl Into<String>) -> AnthropicExecutor {
        self.base_url = url.into();
        self
    }

    /// The `x-api-key`.
    pub fn with_api_key(mut self, key: Option<String>) -> AnthropicExecutor {
        self.api_key = key;
        self
    }

    /// The model for agents that name none.
    pub fn with_model(mut self, model: impl Into<String>) -> AnthropicExecutor {
        self.model = model.into();
        self
    }

    /// `max_tokens` (required by the API; 8192 by default).
    pub fn with_max_tokens(mut self, tokens: u32) -> AnthropicExecutor {
        self.max_tokens = tokens;
        self
    }

    /// At most `requests` per `window`, across all attempts on this
    /// executor; `None` for no limit.
    pub fn with_rate_limit(mut self, limit: Option<(u32, Duration)>) -> AnthropicExecutor {
        self.limiter = limit.map(|(requests, window)| Limiter::new(requests, window));
        self
    }

    /// The shortest time between two progress reports.
    pub fn with_progress_every(mut self, every: Duration) -> AnthropicExecutor {
        self.progress_every = every;
        self
    }

    /// The request body for one attempt.
    pub fn body(&self, spec: &AttemptSpec, model: &str) -> Value {
        let mut body = json!({
            "model": model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "user", "content": spec.prompt}],
            "stream": true,
        });
        if !spec.agent_prompt.trim().is_empty() {
            body["system"] = json!(spec.agent_prompt);
        }
        body
    }
}

impl Default for AnthropicExecutor {
    fn default() -> AnthropicExecutor {
        AnthropicExecutor::new()
    }
}

impl Executor for AnthropicExecutor {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn run(
        &self,
        spec: AttemptSpec,
        events: mpsc::UnboundedSender<ExecEvent>,
        cancel: CancellationToken,
    ) -> OutcomeFuture {
        let common = Common {
            client: self.client.clone(),
            url: format!("{}/v1/messages", self.base_url.trim_end_matches('/')),
            model: self.model.clone(),
            limiter: self.limiter.clone(),
            progress_every: self.progress_every,
        };
        let protocol = Messages {
            config: self.clone(),
            url: common.url.clone(),
            usage: Usage::default(),
            stop_reason: None,
        };
        Box::pin(api::run(common, protocol, spec, events, cancel))
    }
}

/// One attempt's view of the Messages stream.
struct Messages {
    config: AnthropicExecutor,
    url: String,
    usage: Usage,
    stop_reason: Option<String>,
}

fn tokens(usage: &Value, name: &str) -> Option<u64> {
    usage.get(name)?.as_u64()
}

impl Messages {
    fn read_usage(&mut self, usage: &Value) -> bool {
        if !usage.is_object() {
            return false;
        }
        if let Some(n) = tokens(usage, "input_tokens") {
            self.usage.input_tokens = n;
        }
        if let Some(n) = tokens(usage, "output_tokens") {
            self.usage.output_tokens = n;
        }
        if let Some(n) = tokens(usage, "cache_read_input_tokens") {
            self.usage.cache_read_tokens = n;
        }
        if let Some(n) = tokens(usage, "cache_creation_input_tokens") {
            self.usage.cache_write_tokens = n;
        }
        self.usage.turns = 1;
        true
    }
}

impl Protocol for Messages {
    const NAME: &'static str = "anthropic";
    const REQUEST_ID: &'static str = "request-id";

    fn request(
        &self,
        client: &reqwest::Client,
        spec: &AttemptSpec,
        model: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = client
            .post(&self.url)
            .header("anthropic-version", AnthropicExecutor::VERSION)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .json(&self.config.body(spec, model));
        if let Some(key) = &self.config.api_key {
            request = request.header("x-api-key", key);
        }
        request
    }

    fn refusal(&self, status: u16, headers: &HeaderMap, body: &str) -> Outcome {
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let error = &value["error"];
        let kind = error["type"].as_str().unwrap_or("");
        let code = error["details"]["error_code"].as_str().unwrap_or("");
        let message = match error["message"].as_str() {
            Some(message) => message.to_owned(),
            None => body.trim().chars().take(300).collect(),
        };
        api::classify(status, headers, kind, code, &message)
    }

    fn feed(&mut self, event: &SseEvent) -> Result<Step, String> {
        let name = event.event.as_deref().unwrap_or("");
        if event.data.trim().is_empty() {
            return Ok(Step::default());
        }
        let data: Value = serde_json::from_str(&event.data).map_err(|error| {
            format!(
                "{}: a `{name}` event is not valid JSON ({error}): {}",
                Self::NAME,
                api::excerpt(&event.data, 200)
            )
        })?;
        let kind = data["type"].as_str().unwrap_or(name);
        let mut step = Step::default();
        match kind {
            "message_start" => {
                let message = &data["message"];
                if let Some(model) = message["model"].as_str() {
                    self.usage.model = Some(model.to_owned());
                }
                step.usage = self.read_usage(&message["usage"]);
            }
            "content_block_delta" if data["delta"]["type"] == "text_delta" => {
                step.text = data["delta"]["text"].as_str().unwrap_or("").to_owned();
            }
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                step.usage = self.read_usage(&data["usage"]);
            }
            "message_stop" => step.done = true,
            "error" => {
                let error = &data["error"];
                return Err(format!(
                    "the stream reported an error: {}: {}",
                    error["type"].as_str().unwrap_or("error"),
                    error["message"].as_str().unwrap_or("")
                ));
            }
            // ping, content_block_start/stop, and types added later.
            _ => {}
        }
        Ok(step)
    }

    fn usage(&self) -> Usage {
        self.usage.clone()
    }

    fn verdict(&self) -> Result<(), String> {
        match self.stop_reason.as_deref() {
            Some("refusal") => Err("the model refused to answer (stop_reason: refusal)".into()),
            _ => Ok(()),
        }
    }
}
