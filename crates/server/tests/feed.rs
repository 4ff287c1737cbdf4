//! The live feed over real HTTP while the real engine appends to the
//! mission: disconnect mid-mission, reconnect with `Last-Event-ID`, and
//! every event arrives exactly once, in order.

use crate::support;

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Fixture, Served, task, within};
use techlead_core::state::{Event, MissionStatus};
use techlead_store::Store;

/// One Server-Sent Event.
#[derive(Debug)]
struct Frame {
    id: u64,
    event: String,
    data: Value,
}

/// A connection to a mission's feed, read frame by frame.
struct Feed {
    response: reqwest::Response,
    buffer: String,
}

impl Feed {
    async fn open(served: &Served, mission: &str, last_event_id: Option<u64>, query: &str) -> Feed {
        let mut request = served.get(&format!("/api/missions/{mission}/stream{query}"));
        if let Some(seq) = last_event_id {
            request = request.header("last-event-id", seq.to_string());
        }
        let response = within("the feed to open", request.send()).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Feed {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped), or `None` when the
    /// server ended the feed.
    async fn next(&mut self) -> Option<Frame> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, None);
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("", _)) | None => {}
                        Some(("id", v)) => id = Some(v.trim().parse().unwrap()),
                        Some(("event", v)) => event = Some(v.trim().to_string()),
                        Some(("data", v)) => data = Some(serde_json::from_str(v.trim()).unwrap()),
                        Some((field, _)) => panic!("unexpected field {field} in {block:?}"),
                    }
                }
                if let (Some(id), Some(event), Some(data)) = (id, event, data) {
                    return Some(Frame { id, event, data });
                }
                continue;
            }
            let chunk = within("the feed's next bytes", self.response.chunk())
                .await
                .unwrap();
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                None => {
                    assert!(
                        self.buffer.trim().is_empty(),
                        "cut short: {:?}",
                        self.buffer
                    );
                    return None;
                }
            }
        }
    }

    /// Frames up to and including the first that `stop` accepts.
    async fn until(&mut self, stop: impl Fn(&Frame) -> bool) -> Vec<Frame> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next().await.expect("the feed goes on");
            let done = stop(&frame);
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }
}

fn started(task: &'static str) -> impl Fn(&Frame) -> bool {
    move |f| f.event == "attempt_started" && f.data["event"]["task"] == json!(task)
}

/// Waits until the mission's log holds an event `matches` accepts.
async fn logged(f: &Fixture, id: &str, matches: impl Fn(&Event) -> bool) {
    within("an event in the log", async {
        loop {
            if f.store()
                .events(id, 0)
                .unwrap()
                .iter()
                .any(|r| matches(&r.event))
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnecting_client_receives_every_event_exactly_once() {
    let f = Arc::new(Fixture::new());
    // Each task waits for a file the test creates, so the mission is
    // appended to while clients come and go.
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

    let mut received: Vec<Frame> = Vec::new();
    let mut feed = Feed::open(&served, &id, None, "").await;
    received.extend(feed.until(started("G1")).await);
    drop(feed); // mid-mission
    // The server keeps the mission's folded state from here on.
    let (_, early) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(early["status"], json!("running"));
    let (_, early_tasks) = served.json(&format!("/api/missions/{id}/tasks")).await;
    assert_eq!(early_tasks[0]["status"], json!("running"));

    std::fs::write(f.path("go1"), "").unwrap();
    // Events appended while no client listens.
    logged(
        &f,
        &id,
        |e| matches!(e, Event::AttemptStarted { task, .. } if task == "G2"),
    )
    .await;
    let last = received.last().unwrap().id;
    // The header wins over the query (a browser reconnects to the URL it
    // first opened, with the header).
    let mut feed = Feed::open(&served, &id, Some(last), "?after=0").await;
    let again = feed.until(started("G2")).await;
    assert_eq!(
        again[0].id,
        last + 1,
        "resumes right after the last seq received"
    );
    received.extend(again);
    drop(feed);

    std::fs::write(f.path("go2"), "").unwrap();
    logged(
        &f,
        &id,
        |e| matches!(e, Event::AttemptStarted { task, .. } if task == "G3"),
    )
    .await;
    let last = received.last().unwrap().id;
    let mut feed = Feed::open(&served, &id, None, &format!("?after={last}")).await;
    std::fs::write(f.path("go3"), "").unwrap();
    while let Some(frame) = feed.next().await {
        received.push(frame);
    }
    assert_eq!(
        within("the run", run).await.unwrap(),
        MissionStatus::Succeeded
    );
    assert_eq!(
        received.last().unwrap().event,
        "mission_finished",
        "the feed ends after it"
    );

    let log = f.store().events(&id, 0).unwrap();
    let seqs: Vec<u64> = received.iter().map(|frame| frame.id).collect();
    let expected: Vec<u64> = (1..=log.last().unwrap().seq).collect();
    assert_eq!(seqs, expected, "every event once, in order");
    for (frame, record) in received.iter().zip(&log) {
        let mut answer = serde_json::Map::new();
        answer.insert("mission".into(), json!(id));
        answer.extend(json!(record).as_object().unwrap().clone());
        assert_eq!(frame.data, Value::Object(answer));
        assert_eq!(json!(frame.event), frame.data["event"]["type"]);
    }

    // The kept state caught up with everything appended since.
    let state = techlead_core::state::MissionState::replay(&log).unwrap();
    let (_, mission) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(mission["status"], json!("succeeded"));
    assert_eq!(mission["last_seq"], json!(state.last_seq));
    assert_eq!(mission["counts"]["succeeded"], json!(3));
    for (t, task) in ["G1", "G2", "G3"].iter().enumerate() {
        let (_, answer) = served
            .json(&format!("/api/missions/{id}/tasks/{task}"))
            .await;
        assert_eq!(answer["status"], json!("succeeded"));
        assert_eq!(answer["attempts"], json!(state.tasks[t].attempts));
    }

    // A finished mission: the whole log, then the end; after the last
    // event, the end at once.
    let mut feed = Feed::open(&served, &id, None, "").await;
    let mut replayed = 0;
    while feed.next().await.is_some() {
        replayed += 1;
    }
    assert_eq!(replayed, log.len());
    let mut feed = Feed::open(&served, &id, Some(log.len() as u64), "").await;
    assert!(feed.next().await.is_none());
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_resumption_points_and_unknown_missions_are_refused() {
    let f = Fixture::new();
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Served::start(&f.db()).await;
    let (status, body) = served.json("/api/missions/nope/stream").await;
    assert_eq!(status, 404);
    assert!(body["hint"].is_string());
    let (status, _) = served
        .json(&format!("/api/missions/{id}/stream?after=x"))
        .await;
    assert_eq!(status, 400);
    let response = within(
        "a bad Last-Event-ID",
        served
            .get(&format!("/api/missions/{id}/stream"))
            .header("last-event-id", "yesterday")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_server_ends_open_feeds() {
    let f = Fixture::new();
    // Created, never run: the feed would wait for ever.
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Served::start(&f.db()).await;
    let mut feed = Feed::open(&served, &id, None, "").await;
    let first = feed.next().await.unwrap();
    assert_eq!((first.id, first.event.as_str()), (1, "mission_created"));
    served.stop().await;
    assert!(feed.next().await.is_none());
}
