//! `POST /api/missions/{id}/escalations/{n}/decisions`: the person's
//! decision on an escalation, from the dashboard or a tool. The one write
//! the server makes: a row in the mission's decision inbox, which the
//! mission's one writer (the run that holds it, or the next `resume`)
//! carries out as events or refuses; the feed shows which. Checked first
//! against the mission as recorded, so that a decision that cannot be
//! taken is refused here, with the reason.

use crate::Shared;
use crate::db;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use techlead_core::state::Decision;
use techlead_engine::mission::{NotRecorded, Recorded, request_decision};
use techlead_store::DecisionRequest;

/// The longest `by` or `note` kept.
const MAX_TEXT: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// retry, skip, reassign or abort.
    action: String,
    /// The agent of a `reassign`.
    #[serde(default)]
    agent: Option<String>,
    /// The text of an `answer` (to an agent's question) or an `edit`.
    #[serde(default)]
    text: Option<String>,
    /// The parts of a `split`, in order (none: those the agent proposed).
    #[serde(default)]
    parts: Option<Vec<String>>,
    #[serde(default)]
    note: Option<String>,
    /// Who decides, for the record (default `api`).
    #[serde(default)]
    by: Option<String>,
}

pub async fn decide(
    State(shared): State<Arc<Shared>>,
    Path((id, escalation)): Path<(String, u32)>,
    body: Result<Json<Body>, axum::extract::rejection::JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::bad_request(
            format!("the body is not a decision: {}", e.body_text()),
            r#"send JSON such as {"action": "retry"} or {"action": "reassign", "agent": "backend-dev"}"#,
        )
    })?;
    // `answer` and `edit` carry their text in `text`, `reassign` its agent
    // in `agent`.
    let parts = body.parts.as_ref().map(|parts| parts.join("\n"));
    let argument = match body.action.as_str() {
        "answer" | "edit" => body.text.as_deref(),
        "split" => parts.as_deref(),
        _ => body.agent.as_deref(),
    };
    let decision = Decision::parse(&body.action, argument).map_err(|e| {
        ApiError::bad_request(
            e,
            "actions: retry, skip, reassign (with agent), edit (with text), split (with parts, or none for the agent's), approve, answer (with text), abort",
        )
    })?;
    let cached = shared.db.clone();
    shared
        .db
        .write(move |store| {
            let row = db::mission(store, &id)?;
            let state = cached.folded(store, &row.id)?.state;
            let request = DecisionRequest {
                escalation,
                decision: decision.clone(),
                note: body.note.map(|n| clip(&n)),
                by: body.by.map_or_else(|| "api".to_string(), |b| clip(&b)),
            };
            let Recorded {
                decision: number,
                running,
            } = request_decision(store, &row.id, &state, &request).map_err(|e| match e {
                NotRecorded::Store(e) => e.into(),
                refused => ApiError::new(
                    StatusCode::CONFLICT,
                    refused.to_string(),
                    format!(
                        "GET /api/missions/{}/escalations lists them; a decision waiting is carried out by the mission's run, or `techlead resume`",
                        row.id
                    ),
                ),
            })?;
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "mission": row.id,
                    "escalation": escalation,
                    "decision": number,
                    "action": decision.action(),
                    "agent": body.agent,
                    "parts": body.parts,
                    "state": "pending",
                    // No run holds the mission: `techlead resume` carries it out.
                    "running": running,
                })),
            ))
        })
        .await
}

fn clip(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}
