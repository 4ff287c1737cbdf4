//! The server on a real PostgreSQL database (crates/testdb): the API
//! answers from it, and the live feeds (WebSocket and SSE) deliver events
//! committed after their clients connected, told by the appends'
//! notifications; when the database server ends every connection (as a
//! restart does), the feeds go on and the next request answers. Skipped
//! when no PostgreSQL server can be started, unless
//! `TECHLEAD_REQUIRE_POSTGRES=1`.

use crate::support;

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::burst::burst;
use support::ws::{Frame, connect, next, seq, to_the_end};
use support::{Fixture, HANG_GUARD, task, within};

/// Runs `sql` on a connection of its own, on a plain thread (the client
/// must not run inside the test's runtime), and returns the first column
/// of each row as text.
fn sql(url: &str, sql: &str) -> Vec<String> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .simple_query(&sql)
            .unwrap()
            .into_iter()
            .filter_map(|message| match message {
                postgres::SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").into()),
                _ => None,
            })
            .collect()
    })
    .join()
    .unwrap()
}

/// Ends every other session of the database, as a restart of the server
/// would; returns how many it ended.
fn cut_every_connection(f: &Fixture) -> usize {
    sql(
        f.db().to_str().unwrap(),
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .len()
}

/// Waits until the server's watcher listens (its session has run `LISTEN`
/// or its look at the log), so that a cut reaches it too.
async fn listening(f: &Fixture) {
    let url = f.db().to_str().unwrap().to_string();
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        let found = sql(
            &url,
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()
             AND (query LIKE 'LISTEN %' OR query LIKE '%SUM(last_seq)%')",
        );
        if !found.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the watcher never listened");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_and_both_feeds_follow_a_postgresql_database() {
    let Some(f) = Fixture::postgres() else {
        return;
    };
    let f = Arc::new(f);
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = Arc::new(f.serve().await);
    let (status, missions) = served.json("/api/missions").await;
    assert_eq!(status, 200, "{missions}");
    assert_eq!(missions[0]["id"], id.as_str());

    // Clients that connected before anything more was committed: each has
    // had event 1, and what follows reaches them only through the feed.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let mut socket = connect(&served, &id, None).await;
        assert!(matches!(next(&mut socket).await, Frame::Event(e) if seq(&e) == 1));
        clients.spawn(async move {
            let (events, close) = to_the_end(&mut socket).await;
            assert_eq!(close, (1000, "mission finished".to_string()));
            let mut seqs = vec![1];
            seqs.extend(events.iter().map(seq));
            seqs
        });
    }
    {
        let (served, id) = (served.clone(), id.clone());
        clients.spawn(async move { served.sse_seqs(&id).await });
    }
    let writer = tokio::task::spawn_blocking({
        let (f, id) = (f.clone(), id.clone());
        move || burst(&f, &id, 200, 0)
    });
    let last = within("the writer", writer).await.unwrap();
    let expected: Vec<u64> = (1..=last).collect();
    let mut ended = 0;
    while let Some(seqs) = within("the clients", clients.join_next()).await {
        assert_eq!(seqs.unwrap(), expected, "every event once, in order");
        ended += 1;
    }
    assert_eq!(ended, 3);

    let (status, mission) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(status, 200, "{mission}");
    assert_eq!(mission["status"], "succeeded");
    assert_eq!(mission["last_seq"], last);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feeds_and_the_api_go_on_when_the_database_ends_every_connection() {
    let Some(f) = Fixture::postgres() else {
        return;
    };
    let f = Arc::new(f);
    let id = f.create(&f.plan(vec![task("T", &[], "true")]));
    let served = f.serve().await;
    let mut socket = connect(&served, &id, None).await;
    assert!(matches!(next(&mut socket).await, Frame::Event(e) if seq(&e) == 1));
    listening(&f).await;

    // The watcher's session and the kept ones all end; what is committed
    // next still reaches the client, without an error.
    assert!(cut_every_connection(&f) >= 2, "the watcher and a kept one");
    let writer = tokio::task::spawn_blocking({
        let (f, id) = (f.clone(), id.clone());
        move || burst(&f, &id, 20, 0)
    });
    let last = within("the writer", writer).await.unwrap();
    let (events, close) = to_the_end(&mut socket).await;
    assert_eq!(close, (1000, "mission finished".to_string()));
    let seqs: Vec<u64> = events.iter().map(seq).collect();
    assert_eq!(seqs, (2..=last).collect::<Vec<u64>>());

    // The connection this request leaves kept is dead by the next one,
    // which is answered on a new connection.
    assert_eq!(served.json("/api/missions").await.0, 200);
    assert!(cut_every_connection(&f) >= 1);
    let (status, mission) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(status, 200, "{mission}");
    assert_eq!(mission["last_seq"], last);
}
