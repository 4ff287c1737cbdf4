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
use techlead_store::{DecisionRequest, Store};

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
    /// The text of an `answer` (to an agent's question).
    #[serde(default)]
    text: Option<String>,
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
    let argument = match body.action.as_str() {
        "answer" | "edit" => body.text.as_deref(),
        _ => body.agent.as_deref(),
    };
    let decision = Decision::parse(&body.action, argument).map_err(|e| {
        ApiError::bad_request(
            e,
            "actions: retry, skip, reassign (with agent), edit (with text), approve, answer (with text), abort",
        )
    })?;
    let cached = shared.db.clone();
    shared
        .db
        .write(move |store| {
            let row = db::mission(store, &id)?;
            let state = cached.folded(store, &row.id)?.state;
            if let Some(reason) = state.refusal(escalation, &decision) {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    reason,
                    format!("GET /api/missions/{}/escalations lists them", row.id),
                ));
            }
            if let Some(waiting) = store
                .decisions(&row.id, true)?
                .into_iter()
                .find(|d| d.escalation == escalation)
            {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    format!(
                        "escalation {escalation} already has a decision waiting to be carried out (decision {})",
                        waiting.id
                    ),
                    "a run of the mission carries it out; `techlead resume` if none holds it",
                ));
            }
            let request = DecisionRequest {
                escalation,
                decision: decision.clone(),
                note: body.note.map(|n| clip(&n)),
                by: body.by.map_or_else(|| "api".to_string(), |b| clip(&b)),
            };
            let number = store.request_decision(&row.id, &request, jiff::Timestamp::now())?;
            let running = matches!(store.lock(&row.id), Err(techlead_store::Error::Locked { .. }));
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({
                    "mission": row.id,
                    "escalation": escalation,
                    "decision": number,
                    "action": decision.action(),
                    "agent": body.agent,
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
