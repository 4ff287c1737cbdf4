//! The result file an agent may write at `$TECHLEAD_RESULT` (DESIGN
//! decision 8). Every field is optional and unknown fields are ignored:
//!
//! ```json
//! {"status": "success", "summary": "...", "artifacts": ["path"],
//!  "decisions": ["text"], "message": "...",
//!  "usage": {"input_tokens": 1200, "output_tokens": 300, "cost_usd": 0.004},
//!  "retry_at": "2026-11-23T16:50:00Z"}
//! ```
//!
//! `status` may also be `rate_limited` (the provider refused for now:
//! `retry_at` says until when, if known) or `needs_person` (credentials,
//! quota: retrying cannot help), for programs that wrap an LLM API.

use serde::Deserialize;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// Larger result files are refused rather than read into memory.
const MAX_RESULT_BYTES: u64 = 4 * 1024 * 1024;

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub(crate) struct ResultFile {
    pub status: Option<Status>,
    pub summary: Option<String>,
    pub artifacts: Vec<String>,
    pub decisions: Vec<String>,
    /// Why it failed, or anything else the person should read.
    pub message: Option<String>,
    /// What the attempt used (tokens, cost, turns).
    pub usage: Option<techlead_core::state::Usage>,
    /// With `rate_limited`: when the limit resets.
    pub retry_at: Option<jiff::Timestamp>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Status {
    #[serde(alias = "succeeded", alias = "ok")]
    Success,
    #[serde(alias = "failed", alias = "error")]
    Failure,
    #[serde(rename = "rate_limited")]
    RateLimited,
    #[serde(rename = "needs_person")]
    NeedsPerson,
}

/// Reads the result file at `path`: `Ok(None)` when there is none, `Err`
/// with a sentence for the log when it cannot be used.
pub(crate) fn read(path: &Path) -> Result<Option<ResultFile>, String> {
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot read the result file: {error}")),
    };
    let mut text = String::new();
    file.take(MAX_RESULT_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|error| format!("cannot read the result file: {error}"))?;
    if text.len() as u64 > MAX_RESULT_BYTES {
        return Err(format!(
            "the result file is larger than {} MiB; ignored",
            MAX_RESULT_BYTES / (1024 * 1024)
        ));
    }
    parse(&text).map(Some)
}

fn parse(text: &str) -> Result<ResultFile, String> {
    let invalid = |error: serde_json::Error| format!("the result file is not valid: {error}");
    let value: serde_json::Value = serde_json::from_str(text).map_err(invalid)?;
    if !value.is_object() {
        return Err("the result file is not valid: it must hold a JSON object".to_owned());
    }
    serde_json::from_value(value).map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_fields_are_optional() {
        assert_eq!(parse("{}").unwrap(), ResultFile::default());
        let full = parse(
            r#"{"status": "failure", "summary": "s", "artifacts": ["a"],
                "decisions": ["d"], "message": "m", "extra": 1}"#,
        )
        .unwrap();
        assert_eq!(
            full,
            ResultFile {
                status: Some(Status::Failure),
                summary: Some("s".into()),
                artifacts: vec!["a".into()],
                decisions: vec!["d".into()],
                message: Some("m".into()),
                ..ResultFile::default()
            }
        );
        let limited = parse(
            r#"{"status": "rate_limited", "retry_at": "2026-11-23T16:50:00Z",
                "usage": {"input_tokens": 5, "cost_usd": 0.5}}"#,
        )
        .unwrap();
        assert_eq!(limited.status, Some(Status::RateLimited));
        assert_eq!(
            limited.retry_at,
            Some("2026-11-23T16:50:00Z".parse().unwrap())
        );
        assert_eq!(limited.usage.unwrap().input_tokens, 5);
        assert_eq!(
            parse(r#"{"status": "succeeded"}"#).unwrap().status,
            Some(Status::Success)
        );
    }

    #[test]
    fn malformed_files_are_errors_with_a_reason() {
        for text in [
            "",
            "{",
            "[]",
            r#"{"status": "maybe"}"#,
            r#"{"artifacts": "x"}"#,
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.starts_with("the result file is not valid"), "{error}");
        }
    }
}
