//! Webhooks end to end: real missions run by the engine, a real HTTP
//! receiver on loopback (axum) that checks every signature, and the tries
//! read back from the store.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use techlead_core::Priority;
use techlead_core::state::{GatePlan, MissionPlan, MissionStatus, TaskPlan};
use techlead_core::webhook::{self, DeliveryTry, HookEvent, MAX_TRIES, Webhook};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Mission, Settings, observer};
use techlead_engine::webhook::{Ending, Options, Secrets, Webhooks, secrets};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;

const SECRET: &str = "loopback-secret";
/// Named in the plans; the secrets themselves are handed to the engine
/// (reading the environment is tested by the CLI's tests and below).
const SECRET_ENV: &str = "TECHLEAD_TEST_WEBHOOK_SECRET";

fn given(hooks: &[Webhook]) -> Secrets {
    Secrets::given(hooks.iter().map(|h| (h.name.as_str(), SECRET.as_bytes())))
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    delivery: String,
    event: String,
    body: String,
    /// Whether `X-Techlead-Signature` is right for the body and timestamp.
    signed: bool,
}

/// What the receiver answers the `n`-th request (1-based) of a delivery.
type Script = dyn Fn(u32) -> (u16, Option<&'static str>) + Send + Sync;

#[derive(Clone)]
struct Receiver {
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Script>,
}

impl Receiver {
    /// Listens on 127.0.0.1 (a free port); returns its URL.
    async fn start(
        script: impl Fn(u32) -> (u16, Option<&'static str>) + Send + Sync + 'static,
    ) -> (Receiver, String) {
        let receiver = Receiver {
            received: Arc::default(),
            script: Arc::new(script),
        };
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let timestamp: i64 = header("x-techlead-timestamp").parse().unwrap_or(0);
    let signed = webhook::verify(
        SECRET.as_bytes(),
        timestamp,
        body.as_bytes(),
        &header("x-techlead-signature"),
    );
    let delivery = header("x-techlead-delivery");
    let n = {
        let mut received = receiver.received.lock().unwrap();
        received.push(Received {
            delivery: delivery.clone(),
            event: header("x-techlead-event"),
            body,
            signed,
        });
        received.iter().filter(|r| r.delivery == delivery).count() as u32
    };
    let (status, retry_after) = (receiver.script)(n);
    let status = StatusCode::from_u16(status).unwrap();
    match retry_after {
        Some(after) => (status, [("retry-after", after)], "busy").into_response(),
        None => (status, "answer").into_response(),
    }
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn store(&self) -> SqliteStore {
        SqliteStore::open(&self.dir.path().join("techlead.db")).unwrap()
    }

    fn plan(&self, tasks: Vec<TaskPlan>, url: &str, events: &[HookEvent]) -> MissionPlan {
        let mut plan: MissionPlan = serde_json::from_value(serde_json::json!({
            "name": "hooked",
            "source": "mission.yaml",
            "source_hash": "0",
            "workdir": self.dir.path().display().to_string(),
            "max_parallel": 2,
            "failure_threshold": 0.5,
            "backoff_ms": [10],
            "phases": [],
            "tasks": [],
        }))
        .unwrap();
        plan.tasks = tasks;
        plan.webhooks = vec![Webhook {
            name: "ci-bot".into(),
            url: url.into(),
            events: events.to_vec(),
            secret_env: SECRET_ENV.into(),
        }];
        plan
    }

    fn options(first_retry_ms: u64) -> Options {
        Options {
            first_retry: Duration::from_millis(first_retry_ms),
            timeout: Duration::from_secs(5),
        }
    }

    /// Runs (or resumes) mission `id` with its webhooks, then gives them
    /// up to `wait` to finish.
    async fn run(&self, id: &str, options: Options, wait: Duration) -> (MissionStatus, Ending) {
        let plan = self.plan_of(id);
        let mut hooks = Webhooks::new(plan.webhooks.clone(), given(&plan.webhooks), options);
        let shown = hooks.observe(observer(|_, _, _| {}));
        let settings = Settings {
            data_dir: self.dir.path().to_path_buf(),
            executors: vec![Arc::new(
                CommandExecutor::new().with_grace(Duration::from_millis(200)),
            )],
            gate_grace: Duration::from_millis(200),
            workers: None,
        };
        let mission = Mission::open(self.store(), id, settings, shown).unwrap();
        hooks.start(self.store(), id, &plan.name).unwrap();
        let status = tokio::time::timeout(Duration::from_secs(60), mission.run())
            .await
            .expect("the run ends")
            .unwrap();
        (status, hooks.finish(wait).await)
    }

    fn plan_of(&self, id: &str) -> MissionPlan {
        match &self.store().events(id, 0).unwrap()[0].event {
            techlead_core::state::Event::MissionCreated { plan } => (**plan).clone(),
            other => panic!("first event {other:?}"),
        }
    }

    /// The recorded tries, by delivery ID.
    fn tries(&self, id: &str) -> HashMap<String, Vec<DeliveryTry>> {
        let mut by_id: HashMap<String, Vec<DeliveryTry>> = HashMap::new();
        for t in self.store().deliveries(id).unwrap() {
            by_id
                .entry(webhook::delivery_id(id, t.seq, &t.hook))
                .or_default()
                .push(t);
        }
        by_id
    }
}

fn task(id: &str, script: &str) -> TaskPlan {
    serde_json::from_value(serde_json::json!({
        "id": id,
        "title": format!("task {id}"),
        "priority": Priority::Medium,
        "depends_on": [],
        "agent": "worker",
        "executor": "command",
        "command": ["sh", "-c", script],
        "timeout_ms": 30_000,
        "retries": 0,
    }))
    .unwrap()
}

/// A task whose work is rejected by its gate (no retries: it fails, and
/// the person is asked).
fn rejected_task(id: &str) -> TaskPlan {
    let mut task = task(id, "true");
    task.detail.gates = vec![GatePlan::Command {
        name: "tests".into(),
        run: "echo 'test_booking failed'; exit 1".into(),
        timeout_ms: 30_000,
    }];
    task
}

fn statuses(tries: &[DeliveryTry]) -> Vec<(u32, Option<u16>, bool)> {
    tries
        .iter()
        .map(|t| (t.number, t.status, t.delivered))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn gate_failed_escalation_and_end_are_delivered_signed_after_two_503s() {
    let f = Fixture::new();
    let (receiver, url) = Receiver::start(|n| if n <= 2 { (503, None) } else { (200, None) }).await;
    let plan = f.plan(
        vec![rejected_task("API"), task("DOCS", "true")],
        &url,
        &HookEvent::ALL,
    );
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (status, ending) = f
        .run(&id, Fixture::options(10), Duration::from_secs(30))
        .await;
    assert_eq!(status, MissionStatus::Failed);
    assert_eq!(ending.delivered, 3, "{ending:?}");
    assert!(ending.undelivered.is_empty(), "{ending:?}");
    assert!(!ending.timed_out);
    assert_eq!(ending.record_error, None);

    let received = receiver.received();
    assert_eq!(
        received.len(),
        9,
        "three tries of three events: {received:#?}"
    );
    assert!(
        received.iter().all(|r| r.signed),
        "a signature did not verify"
    );
    // Deliveries go at once, each on its own schedule: their tries mingle.
    let mut events: Vec<&str> = received.iter().map(|r| r.event.as_str()).collect();
    events.sort();
    events.dedup();
    assert_eq!(
        events,
        ["escalation_raised", "gate_failed", "mission_finished"]
    );
    // Every try of a delivery sends the same bytes under the same ID.
    for r in &received {
        let first = received.iter().find(|o| o.delivery == r.delivery).unwrap();
        assert_eq!(r.body, first.body);
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["delivery"], r.delivery.as_str());
        assert_eq!(body["event"], r.event.as_str());
        assert_eq!(body["mission"]["id"], id.as_str());
        assert_eq!(body["mission"]["name"], "hooked");
        assert!(body["record"]["event"]["type"].is_string());
        let seq = body["record"]["seq"].as_u64().unwrap();
        assert_eq!(r.delivery, format!("{id}:{seq}:ci-bot"));
    }
    let gate = received.iter().find(|r| r.event == "gate_failed").unwrap();
    let gate: serde_json::Value = serde_json::from_str(&gate.body).unwrap();
    assert_eq!(gate["record"]["event"]["type"], "task_gate_finished");
    assert_eq!(gate["record"]["event"]["passed"], false);
    assert!(
        gate["summary"]
            .as_str()
            .unwrap()
            .contains("gate `tests` rejected attempt 1 of task API")
    );

    let tries = f.tries(&id);
    assert_eq!(tries.len(), 3);
    for tries in tries.values() {
        assert_eq!(
            statuses(tries),
            [
                (1, Some(503), false),
                (2, Some(503), false),
                (3, Some(200), true)
            ]
        );
        assert_eq!(
            tries[0].error.as_deref(),
            Some("HTTP 503 Service Unavailable: answer")
        );
        assert_eq!(tries[2].error, None);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_receiver_that_is_down_gets_every_try_then_the_delivery_is_given_up() {
    let f = Fixture::new();
    // A port nobody listens on: bound, then freed.
    let url = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let plan = f.plan(vec![task("A", "true")], &url, &[HookEvent::MissionFinished]);
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (status, ending) = f
        .run(&id, Fixture::options(5), Duration::from_secs(30))
        .await;
    assert_eq!(status, MissionStatus::Succeeded);
    assert_eq!(ending.delivered, 0);
    assert_eq!(ending.undelivered.len(), 1, "{ending:?}");
    let left = &ending.undelivered[0];
    assert!(left.gave_up);
    assert!(
        left.last_error
            .as_deref()
            .unwrap()
            .starts_with("cannot connect"),
        "{left:?}"
    );
    let tries = f.tries(&id);
    let tries = tries.values().next().unwrap();
    assert_eq!(tries.len(), MAX_TRIES as usize);
    assert!(tries.iter().all(|t| t.status.is_none() && !t.delivered));
    assert_eq!(
        tries.iter().map(|t| t.number).collect::<Vec<_>>(),
        (1..=MAX_TRIES).collect::<Vec<_>>()
    );
    // The waits grew: each gap at least the schedule's lower bound.
    for pair in tries.windows(2) {
        assert!(pair[1].at > pair[0].at);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_4xx_is_final_and_retry_after_replaces_the_schedule() {
    let f = Fixture::new();
    let (refusing, refusing_url) = Receiver::start(|_| (401, None)).await;
    let plan = f.plan(vec![task("A", "true")], &refusing_url, &HookEvent::ALL);
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (_, ending) = f
        .run(&id, Fixture::options(10), Duration::from_secs(30))
        .await;
    assert_eq!(refusing.received().len(), 1, "a 401 is not retried");
    assert!(ending.undelivered[0].gave_up);
    let tries = f.tries(&id);
    assert_eq!(
        statuses(tries.values().next().unwrap()),
        [(1, Some(401), false)]
    );

    // A first wait of an hour, but the receiver says "now": the delivery
    // completes well within the run's wait.
    let (busy, busy_url) = Receiver::start(|n| {
        if n == 1 {
            (429, Some("0"))
        } else {
            (204, None)
        }
    })
    .await;
    let plan = f.plan(vec![task("A", "true")], &busy_url, &HookEvent::ALL);
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (_, ending) = f
        .run(&id, Fixture::options(3_600_000), Duration::from_secs(20))
        .await;
    assert_eq!(ending.delivered, 1, "{ending:?}");
    assert_eq!(busy.received().len(), 2);
    let tries = f.tries(&id);
    assert_eq!(
        statuses(tries.values().next().unwrap()),
        [(1, Some(429), false), (2, Some(204), true)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_next_run_sends_what_is_owed_and_never_what_was_delivered() {
    let f = Fixture::new();
    // The first run: the receiver refuses with 503 until the run stops
    // waiting (at once), so the escalation's delivery is left with tries.
    let (receiver, url) = Receiver::start(|_| (503, None)).await;
    let mut plan = f.plan(
        vec![rejected_task("API"), task("B", "true")],
        &url,
        &HookEvent::ALL,
    );
    // Only the escalation and the end go to this one.
    plan.webhooks[0].events = vec![HookEvent::EscalationRaised];
    plan.webhooks.push(Webhook {
        name: "always-up".into(),
        url: Receiver::start(|_| (200, None)).await.1,
        events: vec![HookEvent::GateFailed],
        secret_env: SECRET_ENV.into(),
    });
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (status, ending) = f
        .run(&id, Fixture::options(3_600_000), Duration::from_secs(2))
        .await;
    assert_eq!(status, MissionStatus::Failed);
    assert_eq!(
        ending.delivered, 1,
        "the gate failure went to always-up: {ending:?}"
    );
    assert!(ending.timed_out);
    let left: Vec<_> = ending
        .undelivered
        .iter()
        .map(|u| (u.hook.as_str(), u.gave_up))
        .collect();
    assert_eq!(left, [("ci-bot", false)]);
    assert_eq!(receiver.received().len(), 1);

    // The next process: its webhooks start from the record alone.
    let (fixed, fixed_url) = Receiver::start(|_| (200, None)).await;
    let mut hooks = plan.webhooks.clone();
    hooks[0].url = fixed_url;
    let always_up = Receiver::start(|_| (200, None)).await;
    hooks[1].url = always_up.1;
    let mut again = Webhooks::new(hooks.clone(), given(&hooks), Fixture::options(10));
    again.start(f.store(), &id, &plan.name).unwrap();
    let ending = again.finish(Duration::from_secs(20)).await;
    assert_eq!(ending.delivered, 1, "{ending:?}");
    let sent = fixed.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].event, "escalation_raised");
    assert!(sent[0].signed);
    assert!(
        always_up.0.received().is_empty(),
        "a delivered event was sent again"
    );
    let tries = f.tries(&id);
    let escalation = tries.values().find(|t| t[0].hook == "ci-bot").unwrap();
    assert_eq!(
        statuses(escalation),
        [(1, Some(503), false), (2, Some(200), true)]
    );

    // And a third start owes nothing.
    let mut third = Webhooks::new(hooks.clone(), given(&hooks), Fixture::options(10));
    third.start(f.store(), &id, &plan.name).unwrap();
    let ending = third.finish(Duration::from_secs(5)).await;
    assert_eq!((ending.delivered, ending.undelivered.len()), (0, 0));
    assert_eq!(fixed.received().len(), 1);
}

#[test]
fn a_missing_secret_is_an_error_naming_the_hook_and_variable() {
    let hooks = [Webhook {
        name: "ci-bot".into(),
        url: "http://127.0.0.1:9/".into(),
        events: HookEvent::ALL.to_vec(),
        secret_env: "TECHLEAD_TEST_WEBHOOK_SECRET_NEVER_SET".into(),
    }];
    let error = secrets(&hooks).err().expect("an error");
    assert_eq!(
        error.to_string(),
        "webhook `ci-bot` signs its deliveries with the secret in $TECHLEAD_TEST_WEBHOOK_SECRET_NEVER_SET, which is not set"
    );
    assert!(
        error
            .hint()
            .unwrap()
            .contains("export TECHLEAD_TEST_WEBHOOK_SECRET_NEVER_SET=")
    );
}

/// A mission estimated at about a second that takes two: its live
/// forecast slips past the baseline, and the webhook hears of it.
#[tokio::test(flavor = "multi_thread")]
async fn a_slipping_forecast_is_delivered_as_forecast_slipped() {
    let f = Fixture::new();
    let (receiver, url) = Receiver::start(|_| (200, None)).await;
    // 0.0001 h is 0.36 s: SLOW takes about five times its estimate.
    let mut slow = task("SLOW", "sleep 2");
    slow.detail.estimate_hours = Some(0.0001);
    let mut tail = task("TAIL", "true");
    tail.depends_on = vec!["SLOW".into()];
    tail.detail.estimate_hours = Some(0.0001);
    let plan = f.plan(vec![slow, tail], &url, &[HookEvent::ForecastSlipped]);
    let id = f
        .store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let (status, ending) = f
        .run(&id, Fixture::options(10), Duration::from_secs(30))
        .await;
    assert_eq!(status, MissionStatus::Succeeded);
    assert!(ending.undelivered.is_empty(), "{ending:?}");
    let received = receiver.received();
    assert!(!received.is_empty(), "no forecast_slipped delivered");
    for r in &received {
        assert!(r.signed);
        assert_eq!(r.event, "forecast_slipped");
        let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["record"]["event"]["type"], "forecast_slipped");
        assert!(body["record"]["event"]["slip"].as_f64().unwrap() >= 0.2);
        let summary = body["summary"].as_str().unwrap();
        assert!(summary.contains("past the baseline"), "{summary}");
    }
}
