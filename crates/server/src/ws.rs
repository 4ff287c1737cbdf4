//! `GET /api/missions/{id}/ws`: the live feed over a WebSocket, for
//! clients that would rather hold one socket than read Server-Sent Events.
//! The same events as the SSE feed, from the same shared tail: one text
//! frame per event holding the record exactly as the SSE `data:` carries
//! it, resumable after `?after=SEQ`, and a close frame when it ends
//! (1000 `mission finished`, 1001 `server stopping`, 1011 and the error).

use crate::Shared;
use crate::db;
use crate::error::ApiError;
use crate::feed;
use crate::tail::{Follow, Next};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How often an idle socket is pinged, so that proxies keep it.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long the server waits for the client to answer its close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(5);
/// What the server reads from a client is a close frame or a pong: a
/// small read buffer (tungstenite's default is 128 KiB per socket, 128 MB
/// for a thousand clients) and a cap on what a client may send.
const READ_BUFFER: usize = 4 * 1024;
const MAX_MESSAGE: usize = 64 * 1024;
/// Frames are written when this much is buffered, or at the flush after
/// each batch.
const WRITE_BUFFER: usize = 16 * 1024;
/// The longest reason a close frame may carry (RFC 6455: 125 bytes of
/// payload, two of them the code).
const MAX_REASON: usize = 123;

pub async fn stream(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let after = feed::after(&query)?;
    let row = shared.db.read(move |store| db::mission(store, &id)).await?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            format!("this is a WebSocket endpoint: {e}"),
            format!(
                "connect with a WebSocket client, or read the same events as Server-Sent Events at /api/missions/{}/stream",
                row.id
            ),
        )
    })?;
    let follow = shared.tails.follow(row.id, after);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| send(socket, follow)))
}

/// Sends the events until the feed ends, the client leaves or the server
/// stops, then closes the socket with why.
async fn send(socket: WebSocket, mut follow: Follow) {
    let (mut sink, mut incoming) = socket.split();
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
    let (code, reason) = loop {
        // Both arms are cancel-safe: an event is handed out only when
        // `follow.next()` returns.
        tokio::select! {
            frame = incoming.next() => match frame {
                // The library answers pings; what a client sends is not read.
                Some(Ok(Message::Close(_)) | Err(_)) | None => return,
                Some(Ok(_)) => {}
            },
            _ = ping.tick() => {
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    return;
                }
            }
            next = follow.next() => match next {
                Ok(Next::Items(items)) => {
                    // One flush per batch, not per frame.
                    for item in items {
                        if sink.feed(Message::Text(item.json.clone())).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Ok(Next::End) => break (close_code::NORMAL, "mission finished".to_string()),
                Ok(Next::Stopping) => break (close_code::AWAY, "server stopping".to_string()),
                Err(e) => break (close_code::ERROR, e.error),
            },
        }
    };
    let close = CloseFrame {
        code,
        reason: Utf8Bytes::from(cut(&reason, MAX_REASON)),
    };
    if sink.send(Message::Close(Some(close))).await.is_ok() {
        // The client answers with its own close frame; then the socket is
        // done. One that never answers is dropped after a while.
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(_)) = incoming.next().await {}
        })
        .await;
    }
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn close_reasons_are_cut_on_a_character_boundary() {
        assert_eq!(super::cut("mission finished", 123), "mission finished");
        assert_eq!(super::cut("ééé", 3), "é");
        assert_eq!(super::cut("abc", 0), "");
    }
}
