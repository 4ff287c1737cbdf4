//! Many WebSocket clients following one mission while a writer appends to
//! it through the real store, as the engine does: the delivery latency
//! from an append's commit (its `append` returned: durable) to a client's
//! receipt of the event, whether every client got every event exactly once
//! and in order, and the server's peak RSS.
//!
//! The server runs in a child process (this binary again, told so by
//! `TECHLEAD_BENCH_ROLE=server`), so its RSS and CPU are its own; the
//! writer and the clients share this process, so the commit and the
//! receipt are timed on the same clock.
//!
//! `cargo bench -p techlead-server --bench ws_load` (bench/ws.sh wraps
//! it). Environment: `CLIENTS` (1000), `EVENTS` (10000), `PER_COMMIT`
//! (events per append, 5), `INTERVAL_MS` (between appends, 10: 500 events
//! a second), `DIR` (where the database goes; a temporary directory on
//! disk by default, since the fsync of each commit is part of the cost).

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use techlead_core::state::{AttemptOutcome, Event, MissionPlan, MissionStatus, NextStep};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} must be a number"))
    })
}

fn main() {
    if std::env::var("TECHLEAD_BENCH_ROLE").as_deref() == Ok("server") {
        return serve(std::env::args().nth(1).expect("the database"));
    }
    let clients = setting("CLIENTS", 1000) as usize;
    let events = setting("EVENTS", 10_000);
    let per_commit = setting("PER_COMMIT", 5).max(1);
    let interval = Duration::from_millis(setting("INTERVAL_MS", 10));
    let temp = tempfile::tempdir_in(std::env::var("DIR").unwrap_or_else(|_| ".".into()))
        .expect("a directory for the database");
    let db = temp.path().join("techlead.db");
    let mission = create(&db);
    let check = data_version_cost(&db);

    let mut server = Command::new(std::env::current_exe().unwrap())
        .arg(&db)
        .env("TECHLEAD_BENCH_ROLE", "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server starts");
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let (addr, token) = line.trim().split_once(' ').expect("address and token");
    let (addr, token) = (addr.to_string(), token.to_string());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    // When each seq's append returned, in nanoseconds since `started`.
    let committed: Arc<Vec<AtomicU64>> =
        Arc::new((0..events + 16).map(|_| AtomicU64::new(0)).collect());
    let report = runtime.block_on(async {
        let connected = Arc::new(AtomicUsize::new(0));
        let ready = Arc::new(tokio::sync::Notify::new());
        let mut followers = tokio::task::JoinSet::new();
        // Clients start after the setup events, so only the burst is timed.
        let after = 4;
        for _ in 0..clients {
            let url = format!("ws://{addr}/api/missions/{mission}/ws?after={after}");
            let (token, committed) = (token.clone(), committed.clone());
            let (connected, ready) = (connected.clone(), ready.clone());
            followers.spawn(async move {
                let mut request = url.into_client_request().unwrap();
                let bearer = format!("Bearer {token}").parse().unwrap();
                request.headers_mut().insert("authorization", bearer);
                let (socket, _) = tokio_tungstenite::connect_async(request)
                    .await
                    .expect("the handshake");
                if connected.fetch_add(1, Ordering::SeqCst) + 1 == clients {
                    ready.notify_one();
                }
                follow(socket, after, &committed, started).await
            });
        }
        ready.notified().await;
        let connect_time = started.elapsed();
        let writer = {
            let (db, mission, committed) = (db.clone(), mission.clone(), committed.clone());
            std::thread::spawn(move || {
                write(
                    &db, &mission, events, per_commit, interval, &committed, started,
                )
            })
        };
        let mut latency = Histogram::<u64>::new(3).unwrap();
        let (mut complete, mut broken) = (0, Vec::new());
        let last = writer.join().unwrap();
        while let Some(result) = followers.join_next().await {
            let client = result.unwrap();
            latency.add(&client.latency).unwrap();
            if client.seqs_ok && client.last == last && client.closed_normally {
                complete += 1;
            } else {
                broken.push(format!(
                    "last {} of {last}, in order {}, closed {}",
                    client.last, client.seqs_ok, client.closed_normally
                ));
            }
        }
        (latency, complete, broken, connect_time, last)
    });
    let (latency, complete, broken, connect_time, last) = report;
    let elapsed = started.elapsed();
    let (peak_rss, cpu) = usage(server.id());
    drop(server.stdin.take()); // the server's cue to stop
    server.wait().unwrap();

    let ms = |v: u64| v as f64 / 1e6;
    println!(
        "{clients} WebSocket clients, {events} events appended {per_commit} per commit every {} ms (seq {} to {last}), synchronous=FULL",
        interval.as_millis(),
        5
    );
    println!(
        "delivery latency, commit to receipt: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} receipts)",
        ms(latency.value_at_quantile(0.50)),
        ms(latency.value_at_quantile(0.99)),
        ms(latency.value_at_quantile(0.999)),
        ms(latency.max()),
        latency.len()
    );
    println!(
        "clients with every event exactly once, in order, then close 1000: {complete} of {clients}"
    );
    for problem in broken.iter().take(5) {
        println!("  {problem}");
    }
    println!(
        "server: peak RSS {:.1} MB, CPU {:.1} s; all connected after {:.2} s; run {:.1} s",
        peak_rss as f64 / 1024.0,
        cpu,
        connect_time.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    println!(
        "one commit check (PRAGMA data_version on an idle connection): {:.2} µs",
        check.as_secs_f64() * 1e6
    );
    if complete != clients {
        std::process::exit(1);
    }
}

/// The server's child process: serves `db` on a free loopback port,
/// prints its address and token, and stops when its stdin closes.
fn serve(db: String) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let db = std::path::PathBuf::from(db);
        let beside = db.parent().expect("a file in a directory").to_path_buf();
        let mut config = techlead_server::Config::new(db, beside);
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.token_file =
            std::env::temp_dir().join(format!("ws-load-{}.token", std::process::id()));
        let server = techlead_server::Server::bind(config.clone()).await.unwrap();
        println!("{} {}", server.local_addr(), server.token());
        std::io::stdout().flush().unwrap();
        let stdin_closed = async {
            tokio::task::spawn_blocking(|| std::io::stdin().lines().count())
                .await
                .unwrap();
        };
        server.run(stdin_closed).await.unwrap();
        let _ = std::fs::remove_file(&config.token_file);
    });
}

/// A mission with one task, its attempt started (seqs 1 to 4).
fn create(db: &std::path::Path) -> String {
    let plan: MissionPlan = serde_json::from_value(json!({
        "name": "ws-load",
        "source": "bench.yaml",
        "source_hash": "0",
        "workdir": "/",
        "max_parallel": 1,
        "failure_threshold": 0.5,
        "backoff_ms": [],
        "phases": [],
        "tasks": [{
            "id": "T", "title": "t", "priority": "medium", "depends_on": [],
            "agent": "a", "executor": "command", "timeout_ms": 60000, "retries": 0,
        }],
    }))
    .expect("a plan");
    let mut store = SqliteStore::open(db).unwrap();
    let id = store.create_mission(&plan, jiff::Timestamp::now()).unwrap();
    let now = jiff::Timestamp::now();
    let setup = vec![
        Event::RunStarted {
            run: 1,
            pid: std::process::id(),
            host: "bench".into(),
        },
        Event::AttemptQueued {
            task: "T".into(),
            attempt: 1,
            agent: "a".into(),
            executor: "command".into(),
            dir: "runs/T.1".into(),
        },
        Event::AttemptStarted {
            task: "T".into(),
            attempt: 1,
        },
    ];
    store
        .append(&id, 1, setup.into_iter().map(|e| (now, e)).collect())
        .unwrap();
    id
}

/// Appends `events` progress events, `per_commit` per append, one append
/// every `interval`, noting when each append returned; then finishes the
/// mission. Returns the last seq.
fn write(
    db: &std::path::Path,
    mission: &str,
    events: u64,
    per_commit: u64,
    interval: Duration,
    committed: &[AtomicU64],
    started: Instant,
) -> u64 {
    let mut store = SqliteStore::open(db).unwrap();
    let mut after = 4;
    let mut next_at = Instant::now();
    let mut sent = 0;
    while sent < events {
        let n = per_commit.min(events - sent);
        let batch = (sent..sent + n)
            .map(|i| {
                let event = Event::AttemptProgress {
                    task: "T".into(),
                    attempt: 1,
                    percent: Some((i * 100 / events) as u8),
                    message: format!("step {i}"),
                };
                (jiff::Timestamp::now(), event)
            })
            .collect();
        let records = store.append(mission, after, batch).unwrap();
        let at = started.elapsed().as_nanos() as u64;
        for record in &records {
            committed[record.seq as usize].store(at, Ordering::Release);
        }
        after = records.last().unwrap().seq;
        sent += n;
        next_at += interval;
        if let Some(wait) = next_at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let now = jiff::Timestamp::now();
    let end = vec![
        Event::AttemptFinished {
            task: "T".into(),
            attempt: 1,
            outcome: AttemptOutcome::Succeeded { summary: None },
            duration_ms: 1,
            next: NextStep::Done,
        },
        Event::MissionFinished {
            status: MissionStatus::Succeeded,
        },
    ];
    let records = store
        .append(mission, after, end.into_iter().map(|e| (now, e)).collect())
        .unwrap();
    let at = started.elapsed().as_nanos() as u64;
    for record in &records {
        committed[record.seq as usize].store(at, Ordering::Release);
    }
    records.last().unwrap().seq
}

struct Followed {
    latency: Histogram<u64>,
    /// The last seq received.
    last: u64,
    /// Every seq was the one after the one before.
    seqs_ok: bool,
    closed_normally: bool,
}

async fn follow(
    mut socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    after: u64,
    committed: &[AtomicU64],
    started: Instant,
) -> Followed {
    let mut followed = Followed {
        latency: Histogram::new(3).unwrap(),
        last: after,
        seqs_ok: true,
        closed_normally: false,
    };
    while let Some(message) = socket.next().await {
        match message {
            Ok(Message::Text(text)) => {
                let received = started.elapsed().as_nanos() as u64;
                let seq = seq_of(&text);
                followed.seqs_ok &= seq == followed.last + 1;
                followed.last = seq;
                // Received before `append` returned to the writer (the
                // commit is visible to readers a moment before): 0.
                let commit = committed[seq as usize].load(Ordering::Acquire);
                let latency = if commit == 0 {
                    0
                } else {
                    received.saturating_sub(commit)
                };
                followed.latency.record(latency.max(1)).unwrap();
            }
            Ok(Message::Close(frame)) => {
                followed.closed_normally = frame.is_some_and(|f| u16::from(f.code) == 1000);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    followed
}

/// The `seq` of a record as the feed sends it (`{"mission":..,"seq":N,..}`),
/// without parsing the rest.
fn seq_of(text: &str) -> u64 {
    let start = text.find("\"seq\":").expect("a record has a seq") + 6;
    let digits = text[start..]
        .find(|c: char| !c.is_ascii_digit())
        .expect("more follows the seq");
    text[start..start + digits].parse().unwrap()
}

/// A process's peak resident set (kB) and CPU time (s), from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|v| v.parse::<f64>().ok()))
        .sum();
    (peak, ticks / 100.0)
}

/// What the server's watcher pays per look for a commit: the median of
/// 10 runs of 10,000 `PRAGMA data_version` on a connection of its own.
fn data_version_cost(db: &std::path::Path) -> Duration {
    let connection = rusqlite::Connection::open(db).unwrap();
    let mut runs: Vec<Duration> = (0..10)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..10_000 {
                let _: i64 = connection
                    .query_row("PRAGMA data_version", [], |row| row.get(0))
                    .unwrap();
            }
            start.elapsed() / 10_000
        })
        .collect();
    runs.sort();
    runs[runs.len() / 2]
}
