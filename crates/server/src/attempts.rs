//! `GET /api/missions/{id}/attempts`: every attempt of every task in the
//! order they were queued, with the task they belong to. One request
//! draws the dashboard's swim lanes (a row per agent, a bar per attempt
//! from queued to started to finished), instead of one per task.

use crate::Shared;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};
use std::sync::Arc;

pub async fn attempts(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            let mut all: Vec<_> = state
                .tasks
                .iter()
                .zip(&state.plan.tasks)
                .flat_map(|(task, plan)| task.attempts.iter().map(move |a| (a, &plan.id)))
                .collect();
            all.sort_by_key(|(attempt, _)| attempt.queued_at);
            let all: Vec<Value> = all
                .into_iter()
                .map(|(attempt, task)| {
                    let mut fields = json!(attempt);
                    fields["task"] = json!(task);
                    fields
                })
                .collect();
            Ok(Json(json!({ "mission": row.id, "attempts": all })))
        })
        .await
}
