//! One try: the signed POST and what came back.

use std::time::{Duration, Instant};
use techlead_core::webhook::{self, HookEvent};

/// What one try is: where, which delivery, and the bytes.
pub(super) struct Request<'a> {
    pub url: &'a str,
    pub event: HookEvent,
    pub delivery: &'a str,
    pub body: &'a str,
    pub secret: &'a [u8],
}

/// What one try got.
pub(super) struct Answer {
    /// The HTTP status, when one came.
    pub status: Option<u16>,
    /// Why it failed (none when delivered).
    pub error: Option<String>,
    /// The receiver's `Retry-After`, when it gave one.
    pub retry_after: Option<Duration>,
    pub duration: Duration,
}

/// Most of a refusal's body kept in the record: enough to say why.
const BODY_EXCERPT: usize = 200;

pub(super) async fn once(client: &reqwest::Client, request: Request<'_>) -> Answer {
    let started = Instant::now();
    let now = jiff::Timestamp::now();
    // Signed at each try, so that a receiver may refuse old timestamps.
    let timestamp = now.as_second();
    let signature = webhook::signature(request.secret, timestamp, request.body.as_bytes());
    let sent = client
        .post(request.url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Techlead-Event", request.event.as_str())
        .header("X-Techlead-Delivery", request.delivery)
        .header("X-Techlead-Timestamp", timestamp.to_string())
        .header("X-Techlead-Signature", signature)
        .body(request.body.to_string())
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            return Answer {
                status: None,
                error: Some(network_error(&error)),
                retry_after: None,
                duration: started.elapsed(),
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Answer {
            status: Some(status.as_u16()),
            error: None,
            retry_after: None,
            duration: started.elapsed(),
        };
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| webhook::parse_retry_after(v, now));
    let body = response.text().await.unwrap_or_default();
    let mut error = format!("HTTP {status}");
    let excerpt: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if !excerpt.is_empty() {
        error.push_str(": ");
        error.extend(excerpt.chars().take(BODY_EXCERPT));
    }
    Answer {
        status: Some(status.as_u16()),
        error: Some(error),
        retry_after,
        duration: started.elapsed(),
    }
}

/// A failed request as one line: reqwest's words and their causes
/// (`error sending request: client error (Connect): tcp connect error:
/// Connection refused`), without the URL, which the table already shows
/// and which may carry a token.
fn network_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = kind.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
