//! The WebSocket feed over a real socket while the real engine (or the
//! real store, for a burst) appends to the mission: reconnects resume
//! without loss or repeat, the feed closes with why, and the guard's
//! checks hold for the handshake. A burst reaches many WebSocket and SSE
//! clients at once, each complete and in order.

use crate::support;

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::ws::{Frame, connect, next, request, seq, to_the_end, until};
use support::{Fixture, Served, task, within};
use techlead_core::state::{Event, MissionStatus};
use tokio_tungstenite::tungstenite::Error as WsError;

fn started(task: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["event"]["type"] == "attempt_started" && e["event"]["task"] == json!(task)
}

/// The record as `techlead run --json` prints it.
fn printed(mission: &str, record: &techlead_core::state::EventRecord) -> Value {
    let mut answer = serde_json::Map::new();
    answer.insert("mission".into(), json!(mission));
    answer.extend(json!(record).as_object().unwrap().clone());
    Value::Object(answer)
}

/// Waits until the mission's log holds an event `matches` accepts.
async fn logged(f: &Fixture, id: &str, matches: impl Fn(&Event) -> bool) {
    within("an event in the log", async {
        loop {
            let log = f.store().events(id, 0).unwrap();
            if log.iter().any(|r| matches(&r.event)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnecting_websocket_client_receives_every_event_exactly_once() {
    let f = Arc::new(Fixture::new());
    // Each task waits for a file the test creates, so the mission is
    // appended to while the client comes and goes.
    let gated = |n: u32| {
        format!("while [ ! -e go{n} ]; do sleep 0.01; done; echo '::progress 50 past gate {n}'")
    };
    let id = f.create(&f.plan(vec![
        task("G1", &[], &gated(1)),
        task("G2", &["G1"], &gated(2)),
        task("G3", &["G2"], &gated(3)),
    ]));
    let served = Served::start(&f.db()).await;
    let run = tokio::spawn({
        let (f, id) = (f.clone(), id.clone());
        async move { f.run(&id).await }
    });

    let mut received = Vec::new();
    let mut socket = connect(&served, &id, None).await;
    received.extend(until(&mut socket, started("G1")).await);
    drop(socket); // mid-mission, without a close handshake

    std::fs::write(f.path("go1"), "").unwrap();
    // Events appended while no client listens.
    let g2 = |e: &Event| matches!(e, Event::AttemptStarted { task, .. } if task == "G2");
    logged(&f, &id, g2).await;
    let last = seq(received.last().unwrap());
    let mut socket = connect(&served, &id, Some(last)).await;
    let again = until(&mut socket, started("G2")).await;
    assert_eq!(seq(&again[0]), last + 1, "resumes right after the last seq");
    received.extend(again);
    socket.close(None).await.unwrap(); // this time with a close handshake

    std::fs::write(f.path("go2"), "").unwrap();
    let last = seq(received.last().unwrap());
    let mut socket = connect(&served, &id, Some(last)).await;
    std::fs::write(f.path("go3"), "").unwrap();
    let (rest, close) = to_the_end(&mut socket).await;
    received.extend(rest);
    assert_eq!(
        within("the run", run).await.unwrap(),
        MissionStatus::Succeeded
    );
    assert_eq!(close, (1000, "mission finished".to_string()));
    assert_eq!(
        received.last().unwrap()["event"]["type"],
        "mission_finished",
        "the feed ends after it"
    );

    let log = f.store().events(&id, 0).unwrap();
    let seqs: Vec<u64> = received.iter().map(seq).collect();
    let expected: Vec<u64> = (1..=log.last().unwrap().seq).collect();
    assert_eq!(seqs, expected, "every event once, in order");
    for (event, record) in received.iter().zip(&log) {
        assert_eq!(*event, printed(&id, record), "as the SSE data carries it");
    }

    // A finished mission: the whole log, then the close; after the last
    // event, the close at once.
    let mut socket = connect(&served, &id, None).await;
    let (replayed, close) = to_the_end(&mut socket).await;
    assert_eq!(replayed.len(), log.len());
    assert_eq!(close.0, 1000);
    let mut socket = connect(&served, &id, Some(log.len() as u64)).await;
    let (none, close) = to_the_end(&mut socket).await;
    assert!(none.is_empty());
    assert_eq!(close.0, 1000);
    served.stop().await;
}

/// A refused handshake's status and JSON error.
async fn refused(
    request: tokio_tungstenite::tungstenite::handshake::client::Request,
) -> (u16, Value) {
    match within("the handshake", tokio_tungstenite::connect_async(request)).await {
        Err(WsError::Http(response)) => {
            let body = response.body().clone().unwrap_or_default();
            (
                response.status().as_u16(),
                serde_json::from_slice(&body).unwrap(),
            )
        }
        Ok((_, response)) => panic!("accepted: {response:?}"),
        Err(e) => panic!("failed otherwise: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_handshake_needs_the_token_or_the_dashboards_cookie_the_servers_host_and_its_own_origin()
 {
    let f = Fixture::new();
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Served::start(&f.db()).await;
    let path = format!("/api/missions/{id}/ws");

    let mut anonymous = request(&served, &path);
    anonymous.headers_mut().remove("authorization");
    let (status, body) = refused(anonymous).await;
    assert_eq!(status, 401);
    assert!(body["hint"].as_str().unwrap().contains("Bearer"));

    let mut wrong = request(&served, &path);
    wrong.headers_mut().insert(
        "authorization",
        format!("Bearer {}", "0".repeat(64)).parse().unwrap(),
    );
    assert_eq!(refused(wrong).await.0, 401);

    // DNS rebinding: a foreign name resolving to loopback.
    let mut rebound = request(&served, &path);
    rebound.headers_mut().insert(
        "host",
        format!("evil.example:{}", served.port).parse().unwrap(),
    );
    assert_eq!(refused(rebound).await.0, 403);

    // A page on another site opening a socket (browsers send Origin).
    let mut foreign = request(&served, &path);
    foreign
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    assert_eq!(refused(foreign).await.0, 403);

    // The server's own origin is let in.
    let mut own = request(&served, &path);
    own.headers_mut().insert(
        "origin",
        format!("http://localhost:{}", served.port).parse().unwrap(),
    );
    let (mut socket, _) = within("the handshake", tokio_tungstenite::connect_async(own))
        .await
        .unwrap();
    match next(&mut socket).await {
        Frame::Event(event) => assert_eq!(event["event"]["type"], "mission_created"),
        other => panic!("{other:?}"),
    }

    // A browser cannot set headers on a WebSocket: the dashboard's
    // session cookie (what the SSE feed takes from a page) lets it in.
    let session = within(
        "a session",
        served
            .client
            .post(format!("{}/api/session", served.base))
            .bearer_auth(&served.token)
            .send(),
    )
    .await
    .unwrap();
    let cookie = session.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let mut page = request(&served, &path);
    page.headers_mut().remove("authorization");
    page.headers_mut().insert("cookie", cookie.parse().unwrap());
    page.headers_mut().insert(
        "origin",
        format!("http://127.0.0.1:{}", served.port).parse().unwrap(),
    );
    let (mut socket, _) = within("the handshake", tokio_tungstenite::connect_async(page))
        .await
        .unwrap();
    assert!(matches!(next(&mut socket).await, Frame::Event(e) if seq(&e) == 1));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_are_json_errors_and_stopping_closes_the_socket() {
    let f = Fixture::new();
    // Created, never run: the feed would wait for ever.
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Served::start(&f.db()).await;
    let (status, body) = refused(request(&served, "/api/missions/nope/ws")).await;
    assert_eq!(status, 404);
    assert!(body["hint"].is_string());
    let (status, _) = refused(request(&served, &format!("/api/missions/{id}/ws?after=x"))).await;
    assert_eq!(status, 400);
    // A plain GET is told to use a WebSocket.
    let (status, body) = served.json(&format!("/api/missions/{id}/ws")).await;
    assert_eq!(status, 426);
    assert!(body["hint"].as_str().unwrap().contains("/stream"));

    let mut socket = connect(&served, &id, None).await;
    match next(&mut socket).await {
        Frame::Event(event) => assert_eq!(seq(&event), 1),
        other => panic!("{other:?}"),
    }
    served.stop().await;
    let (rest, close) = to_the_end(&mut socket).await;
    assert!(rest.is_empty());
    assert_eq!(close, (1001, "server stopping".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_a_thousand_events_reaches_every_client_complete_and_in_order() {
    let f = Arc::new(Fixture::new());
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Arc::new(Served::start(&f.db()).await);
    // Clients that joined before the burst: each has had event 1, so each
    // follows the shared tail when the burst starts.
    let mut sockets = Vec::new();
    for _ in 0..6 {
        let mut socket = connect(&served, &id, None).await;
        assert!(matches!(next(&mut socket).await, Frame::Event(e) if seq(&e) == 1));
        sockets.push(socket);
    }
    let mut clients = tokio::task::JoinSet::new();
    for mut socket in sockets {
        clients.spawn(async move {
            let (events, close) = to_the_end(&mut socket).await;
            assert_eq!(close.0, 1000);
            let mut seqs = vec![1];
            seqs.extend(events.iter().map(seq));
            seqs
        });
    }
    for _ in 0..3 {
        let (served, id) = (served.clone(), id.clone());
        clients.spawn(async move { served.sse_seqs(&id).await });
    }
    let writer = tokio::task::spawn_blocking({
        let (f, id) = (f.clone(), id.clone());
        move || support::burst::burst(&f, &id, 1000, 0)
    });
    // Clients that join during the burst catch up from the database, then
    // follow: the race between the two is what they test.
    for after in [0, 2, 500] {
        let (served, id) = (served.clone(), id.clone());
        clients.spawn(async move {
            let mut socket = connect(&served, &id, Some(after)).await;
            let (events, close) = to_the_end(&mut socket).await;
            assert_eq!(close.0, 1000);
            let mut seqs: Vec<u64> = (1..=after).collect();
            seqs.extend(events.iter().map(seq));
            seqs
        });
    }
    let last = within("the writer", writer).await.unwrap();
    assert_eq!(last, 1 + 3 + 1000 + 2);
    let expected: Vec<u64> = (1..=last).collect();
    let mut ended = 0;
    while let Some(seqs) = within("the clients", clients.join_next()).await {
        assert_eq!(seqs.unwrap(), expected, "every event once, in order");
        ended += 1;
    }
    assert_eq!(ended, 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_falls_behind_the_shared_tail_reads_the_rest_from_the_database() {
    let f = Arc::new(Fixture::new());
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    // A tail that keeps 2 commits.
    let mut config = f.config();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.poll = Duration::from_millis(1);
    config.feed_buffer = 2;
    let served = Arc::new(Served::with(config).await);
    // One client stops reading: once the socket's buffers are full, the
    // server cannot send it more, and it falls behind the tail. 32 MB of
    // events is more than they hold: the kernel grows a socket's buffers
    // only while its reader keeps up (to 4 MB for sending and `tcp_rmem`'s
    // maximum for receiving, here 32 MB, reached only by a fast reader).
    let mut stalled = connect(&served, &id, None).await;
    assert!(matches!(next(&mut stalled).await, Frame::Event(e) if seq(&e) == 1));
    // Another keeps reading, unhindered by the first.
    let reading = {
        let mut socket = connect(&served, &id, None).await;
        assert!(matches!(next(&mut socket).await, Frame::Event(e) if seq(&e) == 1));
        tokio::spawn(async move {
            let (events, close) = to_the_end(&mut socket).await;
            assert_eq!(close.0, 1000);
            events.iter().map(seq).collect::<Vec<_>>()
        })
    };
    let writer = tokio::task::spawn_blocking({
        let (f, id) = (f.clone(), id.clone());
        move || support::burst::burst(&f, &id, 1000, 32 * 1024)
    });
    let last = within("the writer", writer).await.unwrap();
    let expected: Vec<u64> = (2..=last).collect();
    assert_eq!(within("the reader", reading).await.unwrap(), expected);
    // The stalled client reads again: everything, once, in order.
    let (events, close) = to_the_end(&mut stalled).await;
    assert_eq!(close.0, 1000);
    assert_eq!(events.iter().map(seq).collect::<Vec<_>>(), expected);
    let metrics = within("a scrape", served.get("/metrics").send())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let fallbacks: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("techlead_feed_fallbacks_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(fallbacks > 0, "the stalled client fell behind: {metrics}");
}
