//! Webhooks through the real `techlead` binary: a real HTTP receiver on
//! loopback (axum, on a thread of its own) that checks each signature,
//! the tries in the record, `status` and `webhooks`, a missing secret, bad
//! configuration, and a run killed with SIGKILL whose resume sends what
//! was owed and never what was delivered.

use crate::support;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::{Running, run_to_end, techlead, wait_until};

const SECRET: &str = "cli-loopback-secret";

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    signed: bool,
}

/// How the receiver answers: the status for a request of this event kind,
/// given how many requests of its delivery came before (0-based).
type Answer = dyn Fn(&str, usize) -> u16 + Send + Sync;

#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Box<Answer>>>,
    url: String,
}

impl Receiver {
    fn start(answer: impl Fn(&str, usize) -> u16 + Send + Sync + 'static) -> Receiver {
        let (tx, rx) = std::sync::mpsc::channel();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let answer: Arc<Mutex<Box<Answer>>> = Arc::new(Mutex::new(Box::new(answer)));
        let state = (received.clone(), answer.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new()
                    .route("/hook", axum::routing::post(receive))
                    .with_state(state);
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Receiver {
            received,
            answer,
            url: format!("http://{addr}/hook"),
        }
    }

    fn answer(&self, answer: impl Fn(&str, usize) -> u16 + Send + Sync + 'static) {
        *self.answer.lock().unwrap() = Box::new(answer);
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    fn of(&self, event: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.event == event)
            .collect()
    }
}

type Shared = (Arc<Mutex<Vec<Received>>>, Arc<Mutex<Box<Answer>>>);

async fn receive(
    State((received, answer)): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let timestamp: i64 = header("x-techlead-timestamp").parse().unwrap_or(0);
    let signed = techlead_core::webhook::verify(
        SECRET.as_bytes(),
        timestamp,
        body.as_bytes(),
        &header("x-techlead-signature"),
    );
    let (delivery, event) = (header("x-techlead-delivery"), header("x-techlead-event"));
    let before = {
        let mut received = received.lock().unwrap();
        let before = received.iter().filter(|r| r.delivery == delivery).count();
        received.push(Received {
            delivery,
            event: event.clone(),
            signed,
        });
        before
    };
    let status = (answer.lock().unwrap())(&event, before);
    StatusCode::from_u16(status).unwrap()
}

/// A mission whose task `API` is rejected by its gate (gate_failed, then
/// an escalation) and whose task `SLOW` runs until `release` exists, told
/// to `url`.
fn write_mission(dir: &Path, name: &str, url: &str) {
    support::write_mission(
        dir,
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command, backoff: [10ms]}}\n\
             tasks:\n\
             \x20 - id: API\n    title: build the API\n    retries: 0\n    command: [sh, -c, 'true']\n    gates: [{{name: tests, run: 'exit 1'}}]\n\
             \x20 - id: SLOW\n    title: wait for the test\n    command: [sh, -c, 'while [ ! -f release ]; do sleep 0.02; done']\n\
             webhooks:\n  - name: ci-bot\n    url: {url}\n    secret_env: TECHLEAD_TEST_HOOK_SECRET\n"
        ),
    );
}

/// `techlead` with the webhook secret and a short first retry.
fn with_secret(dir: &Path, first_retry_ms: u64, args: &[&str]) -> std::process::Command {
    let mut command = techlead(dir);
    command
        .env("TECHLEAD_TEST_HOOK_SECRET", SECRET)
        .env(
            "TECHLEAD_WEBHOOK_FIRST_RETRY_MS",
            first_retry_ms.to_string(),
        )
        .args(args);
    command
}

/// The deliveries `techlead webhooks --json` lists.
fn deliveries(dir: &Path, db: &str, id: &str) -> Vec<serde_json::Value> {
    let output = run_to_end(dir, &["webhooks", id, "--json", "--db", db]);
    output.expect_code(0);
    output.json().as_array().unwrap().clone()
}

fn delivery<'a>(list: &'a [serde_json::Value], event: &str) -> &'a serde_json::Value {
    list.iter()
        .find(|d| d["event"] == event)
        .unwrap_or_else(|| panic!("no {event} delivery in {list:#?}"))
}

fn try_statuses(delivery: &serde_json::Value) -> Vec<(u64, Option<u64>, bool)> {
    delivery["tries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["number"].as_u64().unwrap(),
                t["status"].as_u64(),
                t["delivered"].as_bool().unwrap(),
            )
        })
        .collect()
}

#[test]
fn failed_gates_escalations_and_the_end_arrive_signed_after_two_503s() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(|_, before| if before < 2 { 503 } else { 200 });
    let name = support::unique_name("hooks");
    write_mission(dir.path(), &name, &receiver.url);
    std::fs::write(dir.path().join("release"), "").unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let id = format!("{name}-1");
    let run = support::output_of(with_secret(
        dir.path(),
        10,
        &["run", "mission.yaml", "--db", db],
    ));
    run.expect_code(1);
    assert!(
        !run.stderr.contains("webhooks:"),
        "everything was delivered:\n{}",
        run.stderr
    );

    let received = receiver.received();
    assert!(received.iter().all(|r| r.signed), "{received:#?}");
    for event in ["gate_failed", "escalation_raised", "mission_finished"] {
        let got = receiver.of(event);
        assert_eq!(got.len(), 3, "{event}: {got:#?}");
        assert!(got.iter().all(|r| r.delivery == got[0].delivery));
    }
    let list = deliveries(dir.path(), db, &id);
    assert_eq!(list.len(), 3);
    for d in &list {
        assert_eq!(d["state"], "delivered");
        assert_eq!(
            try_statuses(d),
            [
                (1, Some(503), false),
                (2, Some(503), false),
                (3, Some(200), true)
            ]
        );
    }
    // Nothing failing: status says nothing of webhooks.
    let status = run_to_end(dir.path(), &["status", &id, "--db", db]);
    assert!(!status.stdout.contains("webhook"), "{}", status.stdout);
    // The table names each delivery.
    let table = run_to_end(dir.path(), &["webhooks", &id, "--db", db]);
    table.expect_code(0);
    assert!(
        table.stdout.contains("escalation_raised") && table.stdout.contains("delivered"),
        "{}",
        table.stdout
    );
}

#[test]
fn a_receiver_that_is_down_is_reported_by_the_run_status_and_webhooks() {
    let dir = tempfile::tempdir().unwrap();
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let name = support::unique_name("hooks-down");
    write_mission(dir.path(), &name, &url);
    std::fs::write(dir.path().join("release"), "").unwrap();
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let id = format!("{name}-1");
    let run = support::output_of(with_secret(
        dir.path(),
        5,
        &["run", "mission.yaml", "--db", db],
    ));
    run.expect_code(1).expect_stderr(&[
        "webhooks: 3 deliveries not made (last error: cannot connect",
        &format!("`techlead webhooks {id}` lists them"),
    ]);
    let status = run_to_end(dir.path(), &["status", &id, "--db", db]);
    assert!(
        status.stdout.contains(
            "webhook ci-bot: 3 events undelivered (3 given up), last error: cannot connect"
        ),
        "{}",
        status.stdout
    );
    for d in deliveries(dir.path(), db, &id) {
        assert_eq!(d["state"], "gave up");
        assert_eq!(d["tries"].as_array().unwrap().len(), 6);
    }
}

#[test]
fn a_missing_secret_stops_the_run_before_anything_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("hooks-nosecret");
    write_mission(dir.path(), &name, "http://127.0.0.1:9/hook");
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap();
    let run = run_to_end(dir.path(), &["run", "mission.yaml", "--db", db]);
    run.expect_code(2).expect_stderr(&[
        "webhook `ci-bot` signs its deliveries with the secret in $TECHLEAD_TEST_HOOK_SECRET, which is not set",
        "export TECHLEAD_TEST_HOOK_SECRET=",
    ]);
    let missions = run_to_end(dir.path(), &["missions", "--json", "--db", db]);
    assert!(
        !missions.stdout.contains(&name),
        "recorded anyway: {}",
        missions.stdout
    );
}

#[test]
fn bad_webhook_configuration_is_reported_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    support::write_mission(
        dir.path(),
        "mission: {name: bad-hooks}\ntasks: [{title: t}]\nwebhooks:\n  - name: ci\n    url: ftp://ci.example.com/\n    secret_env: S\n    events: [gate_failed, escalation_rased]\n  - {name: ci, url: 'https://ci.example.com/', secret_env: S}\n",
    );
    let out = run_to_end(dir.path(), &["validate", "mission.yaml"]);
    out.expect_code(2).expect_stderr(&[
        "mission.yaml:5:10: webhooks are sent over http or https, not `ftp`",
        "mission.yaml:7:27: unknown webhook event `escalation_rased`",
        "did you mean `escalation_raised`?",
        "mission.yaml:8:12: webhook name `ci` is used twice",
    ]);
}

#[test]
fn resume_after_a_kill_sends_what_was_owed_and_never_what_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    // The first run: gate failures are taken, escalations refused for now.
    let receiver = Receiver::start(|event, _| {
        if event == "escalation_raised" {
            503
        } else {
            200
        }
    });
    let name = support::unique_name("hooks-crash");
    write_mission(dir.path(), &name, &receiver.url);
    let db = dir.path().join("techlead.db");
    let db = db.to_str().unwrap().to_string();
    let id = format!("{name}-1");
    // A first wait of ten minutes: the escalation is not tried again in
    // this run.
    let mut run = Running::start_command(with_secret(
        dir.path(),
        600_000,
        &["run", "mission.yaml", "--json", "--db", &db],
    ));
    run.wait_for(|e| support::event_type(e) == "escalation_raised");
    wait_until("both deliveries to be tried and recorded", || {
        let list = deliveries(dir.path(), &db, &id);
        list.len() == 2
            && list
                .iter()
                .all(|d| !d["tries"].as_array().unwrap().is_empty())
    });
    let (code, _) = run.kill();
    assert_eq!(code, 137, "killed while SLOW still ran");
    assert_eq!(receiver.of("gate_failed").len(), 1);
    assert_eq!(receiver.of("escalation_raised").len(), 1);

    // The receiver is fixed; SLOW may end; the mission is resumed.
    receiver.answer(|_, _| 200);
    std::fs::write(dir.path().join("release"), "").unwrap();
    let resumed = support::output_of(with_secret(dir.path(), 10, &["resume", &id, "--db", &db]));
    resumed.expect_code(1);
    assert_eq!(
        receiver.of("gate_failed").len(),
        1,
        "a delivered event was sent again"
    );
    let escalations = receiver.of("escalation_raised");
    assert_eq!(escalations.len(), 2);
    assert_eq!(
        escalations[0].delivery, escalations[1].delivery,
        "the same delivery ID"
    );
    assert_eq!(receiver.of("mission_finished").len(), 1);
    assert!(receiver.received().iter().all(|r| r.signed));
    let list = deliveries(dir.path(), &db, &id);
    assert_eq!(
        try_statuses(delivery(&list, "gate_failed")),
        [(1, Some(200), true)]
    );
    assert_eq!(
        try_statuses(delivery(&list, "escalation_raised")),
        [(1, Some(503), false), (2, Some(200), true)]
    );
    assert_eq!(
        try_statuses(delivery(&list, "mission_finished")),
        [(1, Some(200), true)]
    );
}
