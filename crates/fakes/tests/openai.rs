//! The `openai` executor against the fake Chat Completions server: each
//! scenario's outcome and reports, the request it sends, and a mission of
//! 20 tasks under a request-rate limit on the real mission actor.

use crate::support;

use std::sync::Arc;
use std::time::Duration;
use support::{API_GUARD, api_spec, last_usage, run_api_scenario, run_attempt};
use techlead_core::Priority;
use techlead_core::state::{
    AttemptOutcome, Event, MissionPlan, MissionState, MissionStatus, TaskPlan, TaskStatus,
};
use techlead_engine::executor::openai::OpenAiExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use techlead_engine::mission::{Mission, Settings, observer};
use techlead_fakes::{FakeOpenAi, Reply, Scenario};
use techlead_store::Store;
use techlead_store::sqlite::SqliteStore;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn executor(fake: &FakeOpenAi) -> OpenAiExecutor {
    OpenAiExecutor::new()
        .with_base_url(fake.base_url())
        .with_api_key(Some("sk-test".into()))
        .with_model("gpt-4o-mini")
        .with_rate_limit(None)
}

async fn run_with(
    executor: &OpenAiExecutor,
    spec: AttemptSpec,
    cancel: CancellationToken,
) -> (Outcome, Vec<ExecEvent>) {
    run_attempt(executor, spec, cancel, API_GUARD).await
}

async fn run_one(
    fake: &FakeOpenAi,
    scenario: Scenario,
) -> (Outcome, Vec<ExecEvent>, tempfile::TempDir) {
    run_api_scenario(fake, &executor(fake), scenario).await
}

#[tokio::test]
async fn a_success_reports_the_answer_usage_and_cost_and_sends_the_right_request() {
    let fake = FakeOpenAi::openai().await;
    let reply = Reply {
        text: "# Plan\n\nFirst, read the code. Then write the tests.".into(),
        input_tokens: 1000,
        output_tokens: 2000,
        cache_read_tokens: 500,
        ..Reply::default()
    };
    let (outcome, events, dir) = run_one(&fake, Scenario::Success(reply.clone())).await;
    let Outcome::Succeeded {
        summary: Some(summary),
    } = &outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        summary,
        "# Plan First, read the code. Then write the tests."
    );
    assert_eq!(events[0], ExecEvent::Started { pid: None });
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ExecEvent::Progress { .. }))
    );
    assert!(events.contains(&ExecEvent::Summary(summary.clone())));
    let answer = dir.path().join("attempt-1.answer.md");
    assert!(events.contains(&ExecEvent::Artifact(answer.display().to_string())));
    assert_eq!(std::fs::read_to_string(&answer).unwrap(), reply.text);

    let usage = last_usage(&events);
    assert_eq!(usage.input_tokens, 1000);
    assert_eq!(usage.cache_read_tokens, 500);
    assert_eq!(usage.output_tokens, 2000);
    assert_eq!(usage.model.as_deref(), Some("gpt-4o-mini"));
    // gpt-4o-mini: $0.15 in, $0.60 out, $0.075 cached per million tokens.
    let expected = (1000.0 * 0.15 + 2000.0 * 0.60 + 500.0 * 0.075) / 1e6;
    assert!(
        (usage.cost_usd - expected).abs() < 1e-12,
        "{}",
        usage.cost_usd
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.headers["authorization"], "Bearer sk-test");
    assert_eq!(request.body["model"], "gpt-4o-mini");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert_eq!(request.body["messages"][0]["role"], "system");
    assert_eq!(
        request.body["messages"][0]["content"],
        "You are a careful planner."
    );
    assert_eq!(request.body["messages"][1]["role"], "user");
    assert_eq!(
        request.body["messages"][1]["content"],
        "Write a plan for the refactor."
    );

    let prompt = std::fs::read_to_string(dir.path().join("attempt-1.prompt.md")).unwrap();
    assert!(prompt.contains("Write a plan for the refactor."));
    let log = std::fs::read_to_string(dir.path().join("attempt-1.output.log")).unwrap();
    assert!(log.contains("HTTP 200, request id req_"), "{log}");
    assert!(
        log.contains("usage: 1000 input, 2000 output, 500 cache read"),
        "{log}"
    );
}

#[tokio::test]
async fn the_agent_model_wins_and_no_key_means_no_authorization_header() {
    let fake = FakeOpenAi::openai().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = api_spec(dir.path());
    spec.model = Some("llama3.2".into());
    spec.agent_prompt = String::new();
    let executor = executor(&fake).with_api_key(None);
    let (outcome, events) = run_with(&executor, spec, CancellationToken::new()).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let request = &fake.requests()[0];
    assert_eq!(request.body["model"], "llama3.2");
    assert!(!request.headers.contains_key("authorization"));
    assert_eq!(request.body["messages"].as_array().unwrap().len(), 1);
    // Unknown model: no price, cost 0.
    assert_eq!(last_usage(&events).cost_usd, 0.0);
}

#[tokio::test]
async fn a_429_is_rate_limited_until_retry_after() {
    let fake = FakeOpenAi::openai().await;
    let before = jiff::Timestamp::now();
    let (outcome, _, _) = run_one(
        &fake,
        Scenario::RateLimited {
            retry_after_secs: 17,
        },
    )
    .await;
    let Outcome::RateLimited {
        until: Some(until),
        message,
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    let wait = until.duration_since(before).as_secs_f64();
    assert!((16.5..18.5).contains(&wait), "{wait}");
    assert!(message.contains("HTTP 429"), "{message}");
}

#[tokio::test]
async fn a_503_overloaded_is_rate_limited() {
    let fake = FakeOpenAi::openai().await;
    let (outcome, _, _) = run_one(&fake, Scenario::Overloaded).await;
    assert!(
        matches!(outcome, Outcome::RateLimited { until: None, .. }),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn bad_credentials_and_no_quota_need_the_person() {
    let fake = FakeOpenAi::openai().await;
    let (outcome, _, _) = run_one(&fake, Scenario::Unauthorized).await;
    let Outcome::NeedsPerson { message } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        message.contains("401") && message.contains("Incorrect API key"),
        "{message}"
    );
    // A 429, but retrying an insufficient_quota never helps.
    let (outcome, _, _) = run_one(&fake, Scenario::InsufficientQuota).await;
    let Outcome::NeedsPerson { message } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("insufficient_quota"), "{message}");
}

#[tokio::test]
async fn other_refusals_and_broken_streams_fail() {
    let fake = FakeOpenAi::openai().await;
    for (scenario, expect) in [
        (Scenario::BadRequest, "not retryable"),
        (Scenario::ServerError, "HTTP 500"),
        (
            Scenario::MidStreamError,
            "the stream reported an error: server_error",
        ),
        (Scenario::InvalidJson, "not valid JSON"),
        (Scenario::Truncated, "truncated"),
        (
            Scenario::ToolCallBadArguments,
            "called the tool `write_file`, but this executor offers no tools; its arguments are not valid JSON",
        ),
    ] {
        let (outcome, _, _) = run_one(&fake, scenario.clone()).await;
        let Outcome::Failed { message, .. } = &outcome else {
            panic!("{scenario:?}: {outcome:?}");
        };
        assert!(message.contains(expect), "{scenario:?}: {message}");
    }
}

#[tokio::test]
async fn an_unreachable_server_fails() {
    let fake = FakeOpenAi::openai().await;
    let url = fake.base_url();
    drop(fake);
    let dir = tempfile::tempdir().unwrap();
    let executor = OpenAiExecutor::new()
        .with_base_url(url)
        .with_rate_limit(None);
    let (outcome, _) = run_with(&executor, api_spec(dir.path()), CancellationToken::new()).await;
    let Outcome::Failed { message, .. } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("cannot reach"), "{message}");
}

#[tokio::test]
async fn a_slow_stream_times_out_or_is_cancelled_at_once() {
    let fake = FakeOpenAi::openai().await;
    let dir = tempfile::tempdir().unwrap();
    fake.push(Scenario::Slow {
        delay: Duration::from_secs(60),
    });
    let mut timed = api_spec(dir.path());
    timed.timeout = Duration::from_millis(300);
    let (outcome, _) = run_with(&executor(&fake), timed, CancellationToken::new()).await;
    assert_eq!(outcome, Outcome::TimedOut);

    fake.push(Scenario::Slow {
        delay: Duration::from_secs(60),
    });
    let cancel = CancellationToken::new();
    let (tx, _rx) = mpsc::unbounded_channel();
    let executor = executor(&fake);
    let attempt = tokio::spawn(executor.run(api_spec(dir.path()), tx, cancel.clone()));
    // Cancel once the request has reached the server.
    while fake.requests().len() < 2 {
        tokio::task::yield_now().await;
    }
    cancel.cancel();
    let outcome = tokio::time::timeout(Duration::from_secs(5), attempt)
        .await
        .expect("cancelled at once")
        .unwrap();
    assert_eq!(outcome, Outcome::Cancelled);
}

#[tokio::test]
async fn the_executor_keeps_to_its_request_rate() {
    let window = Duration::from_millis(500);
    let fake = FakeOpenAi::openai().await.with_rate_limit(2, window);
    let executor = executor(&fake).with_rate_limit(Some((2, window)));
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<_> = (0..5)
        .map(|_| {
            let (tx, _rx) = mpsc::unbounded_channel();
            executor.run(api_spec(dir.path()), tx, CancellationToken::new())
        })
        .collect();
    let outcomes = futures_util::future::join_all(runs).await;
    for outcome in outcomes {
        assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    }
    assert_eq!(fake.requests().len(), 5);
    assert_eq!(fake.rejected(), 0);
}

/// The acceptance: 20 tasks on `openai` against a server that
/// takes 10 requests per window finish with no attempt failed by the rate
/// limit. The window is 2 s instead of a minute.
#[tokio::test(flavor = "multi_thread")]
async fn twenty_tasks_under_a_rate_limit_finish_without_a_failed_attempt() {
    let window = Duration::from_secs(2);
    let fake = FakeOpenAi::openai().await.with_rate_limit(10, window);
    let dir = tempfile::tempdir().unwrap();
    let store = || SqliteStore::open(&dir.path().join("techlead.db")).unwrap();
    let tasks: Vec<TaskPlan> = (1..=20)
        .map(|i| TaskPlan {
            id: format!("T{i:02}"),
            title: format!("summarise part {i}"),
            description: format!("Summarise part {i} of the design."),
            priority: Priority::Medium,
            agent: "writer".into(),
            executor: "openai".into(),
            timeout_ms: 30_000,
            ..Default::default()
        })
        .collect();
    let plan = MissionPlan {
        name: "summaries".into(),
        source: "mission.yaml".into(),
        source_hash: "0".into(),
        workdir: dir.path().display().to_string(),
        max_parallel: 8,
        failure_threshold: 0.5,
        backoff_ms: vec![10],
        tasks,
        ..Default::default()
    };
    let id = store()
        .create_mission(&plan, jiff::Timestamp::now())
        .unwrap();
    let settings = Settings {
        data_dir: dir.path().to_path_buf(),
        executors: vec![Arc::new(
            executor(&fake).with_rate_limit(Some((10, window))),
        )],
        gate_grace: Duration::from_millis(200),
        workers: None,
    };
    let mission = Mission::open(store(), &id, settings, observer(|_, _, _| {})).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(60), mission.run())
        .await
        .expect("the run ends")
        .unwrap();
    assert_eq!(status, MissionStatus::Succeeded);

    let events = store().events(&id, 0).unwrap();
    let state = MissionState::replay(&events).unwrap();
    assert_eq!(state.count(TaskStatus::Succeeded), 20);
    let outcomes: Vec<&AttemptOutcome> = events
        .iter()
        .filter_map(|record| match &record.event {
            Event::AttemptFinished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    let failed = outcomes
        .iter()
        .filter(|o| {
            !matches!(
                o,
                AttemptOutcome::Succeeded { .. } | AttemptOutcome::RateLimited { .. }
            )
        })
        .count();
    assert_eq!(failed, 0, "{outcomes:?}");
    // Any rate-limited attempt was requeued: every task ended succeeded,
    // and there is one success per task.
    let succeeded = outcomes
        .iter()
        .filter(|o| matches!(o, AttemptOutcome::Succeeded { .. }))
        .count();
    assert_eq!(succeeded, 20);
    let limited = outcomes.len() - succeeded;
    assert_eq!(
        limited,
        fake.rejected(),
        "each refusal is one rate-limited attempt"
    );
    assert_eq!(fake.requests().len(), 20 + fake.rejected());
}
