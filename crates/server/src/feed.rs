//! `GET /api/missions/{id}/stream`: a mission's events as Server-Sent
//! Events, each with `id: <seq>`, `event: <type>` and the record as
//! `techlead run --json` prints it. A client resumes after the last seq it
//! received (`Last-Event-ID`, which browsers send on their own when they
//! reconnect, or `?after=SEQ`); since the log is append-only and gapless,
//! sending every event with a seq above that, in order, loses and repeats
//! none. The feed looks for new events every `Config::poll` (WAL readers
//! see each commit whole) and ends after the mission's `mission_finished`.

use crate::Shared;
use crate::api::record_json;
use crate::db;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use techlead_core::state::Event;
use techlead_store::Store;
use tokio::sync::mpsc;

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
        None => match query.get("after") {
            Some(v) => v.parse::<u64>().map_err(|_| {
                ApiError::bad_request(
                    format!("`after` must be a whole number, not `{v}`"),
                    "e.g. ?after=10",
                )
            })?,
            None => 0,
        },
    };
    let row = shared.db.read(move |store| db::mission(store, &id)).await?;
    let (send, receive) = mpsc::channel(256);
    tokio::spawn(follow(shared, row.id, after, send));
    let events = futures_util::stream::unfold(receive, |mut receive| async move {
        receive
            .recv()
            .await
            .map(|event| (Ok::<_, Infallible>(event), receive))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}

/// Sends the mission's events after `after` until its `mission_finished`,
/// the client leaves (the channel closes) or the server stops.
async fn follow(
    shared: Arc<Shared>,
    mission: String,
    mut after: u64,
    send: mpsc::Sender<SseEvent>,
) {
    let mut stopping = shared.stopping.clone();
    loop {
        let id = mission.clone();
        let read = shared
            .db
            .read(move |store| {
                // The mission's row first: the events read after it hold
                // at least those up to its `last_seq`, so a finished row
                // with nothing more to read means the last event was sent.
                let row = db::mission(store, &id)?;
                if row.last_seq <= after {
                    return Ok((Vec::new(), row.status.is_finished()));
                }
                Ok((store.events(&id, after)?, false))
            })
            .await;
        let (records, finished) = match read {
            Ok(read) => read,
            Err(e) => {
                let data = serde_json::json!({ "error": e.error, "hint": e.hint }).to_string();
                let _ = send
                    .send(SseEvent::default().event("error").data(data))
                    .await;
                return;
            }
        };
        if finished {
            return;
        }
        for record in &records {
            let data = record_json(&mission, record);
            let kind = data["event"]["type"]
                .as_str()
                .unwrap_or("event")
                .to_string();
            let event = SseEvent::default()
                .id(record.seq.to_string())
                .event(kind)
                .data(data.to_string());
            if send.send(event).await.is_err() {
                return;
            }
            after = record.seq;
            if matches!(record.event, Event::MissionFinished { .. }) {
                return;
            }
        }
        if records.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep(shared.poll) => {}
                _ = send.closed() => return,
                _ = stopping.wait_for(|stop| *stop) => return,
            }
        } else if *stopping.borrow() {
            return;
        }
    }
}
