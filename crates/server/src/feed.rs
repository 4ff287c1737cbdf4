//! `GET /api/missions/{id}/stream`: a mission's events as Server-Sent
//! Events, each with `id: <seq>`, `event: <type>` and the record as
//! `techlead run --json` prints it. A client resumes after the last seq it
//! received (`Last-Event-ID`, which browsers send on their own when they
//! reconnect, or `?after=SEQ`); since the log is append-only and gapless,
//! sending every event with a seq above that, in order, loses and repeats
//! none. The events come from the mission's shared tail (`tail`), and the
//! feed ends after the mission's `mission_finished`.

use crate::Shared;
use crate::db;
use crate::error::ApiError;
use crate::tail::{Follow, Next};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// How often an idle feed sends a comment, so that proxies and clients
/// keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn stream(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let after = match headers.get("last-event-id") {
        Some(value) => {
            let value = value.to_str().unwrap_or("").trim();
            value.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    format!("Last-Event-ID must be an event's seq, not `{value}`"),
                    "send the `id:` of the last event received",
                )
            })?
        }
        None => after(&query)?,
    };
    let row = shared.db.read(move |store| db::mission(store, &id)).await?;
    let follow = shared.tails.follow(row.id, after);
    // A batch of SSE events per step; `None` once the feed is over.
    let batches = futures_util::stream::unfold(Some(follow), |follow| async move {
        let mut follow: Follow = follow?;
        match follow.next().await {
            Ok(Next::Items(items)) => {
                let events: Vec<_> = items
                    .iter()
                    .map(|item| {
                        Ok::<_, Infallible>(
                            SseEvent::default()
                                .id(item.seq.to_string())
                                .event(&item.kind)
                                .data(item.json.as_str()),
                        )
                    })
                    .collect();
                Some((events, Some(follow)))
            }
            Ok(Next::End | Next::Stopping) => None,
            Err(e) => {
                let data = serde_json::json!({ "error": e.error, "hint": e.hint }).to_string();
                let error = SseEvent::default().event("error").data(data);
                Some((vec![Ok(error)], None))
            }
        }
    });
    let events = batches.flat_map(futures_util::stream::iter);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// `?after=SEQ`, 0 when not given.
pub fn after(query: &HashMap<String, String>) -> Result<u64, ApiError> {
    match query.get("after") {
        Some(v) => v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                format!("`after` must be a whole number, not `{v}`"),
                "e.g. ?after=10",
            )
        }),
        None => Ok(0),
    }
}
