//! A WebSocket client of the live feed (`tokio-tungstenite`, the library
//! the server's own `ws` feature is built on), frame by frame.

use super::{Served, within};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A handshake request for `path` with the token, to add headers to.
pub fn request(
    served: &Served,
    path: &str,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!("ws://127.0.0.1:{}{path}", served.port)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", served.token).parse().unwrap(),
    );
    request
}

pub async fn connect(served: &Served, mission: &str, after: Option<u64>) -> Socket {
    let query = after.map(|seq| format!("?after={seq}")).unwrap_or_default();
    let path = format!("/api/missions/{mission}/ws{query}");
    let (socket, response) = within(
        "the handshake",
        tokio_tungstenite::connect_async(request(served, &path)),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 101);
    socket
}

/// What a socket brought: each event's JSON, then how it closed.
#[derive(Debug)]
pub enum Frame {
    Event(Value),
    Closed(Option<CloseFrame>),
}

pub async fn next(socket: &mut Socket) -> Frame {
    loop {
        let message = within("the next frame", socket.next())
            .await
            .expect("the server closes with a close frame before the end")
            .unwrap();
        match message {
            Message::Text(text) => return Frame::Event(serde_json::from_str(&text).unwrap()),
            Message::Close(frame) => return Frame::Closed(frame),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

pub fn seq(event: &Value) -> u64 {
    event["seq"].as_u64().unwrap()
}

/// Events up to and including the first that `stop` accepts.
pub async fn until(socket: &mut Socket, stop: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut events = Vec::new();
    loop {
        match next(socket).await {
            Frame::Event(event) => {
                let done = stop(&event);
                events.push(event);
                if done {
                    return events;
                }
            }
            Frame::Closed(frame) => panic!("closed early: {frame:?}"),
        }
    }
}

/// Every event to the end, and the close frame's code and reason.
pub async fn to_the_end(socket: &mut Socket) -> (Vec<Value>, (u16, String)) {
    let mut events = Vec::new();
    loop {
        match next(socket).await {
            Frame::Event(event) => events.push(event),
            Frame::Closed(frame) => {
                let frame = frame.expect("the close frame says why");
                return (events, (u16::from(frame.code), frame.reason.to_string()));
            }
        }
    }
}
