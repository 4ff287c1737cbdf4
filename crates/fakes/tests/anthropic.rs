//! The `anthropic` executor against the fake Messages API: each
//! scenario's outcome and reports, the request it sends, and its
//! request-rate limit. (The 20-task mission under a rate limit is in
//! openai.rs; the limiter is the same code.)

use crate::support;

use std::time::Duration;
use support::{API_GUARD, api_spec, last_usage, run_api_scenario, run_attempt};
use techlead_engine::executor::anthropic::AnthropicExecutor;
use techlead_engine::executor::{AttemptSpec, ExecEvent, Executor, Outcome};
use techlead_fakes::{FakeAnthropic, Reply, Scenario};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn executor(fake: &FakeAnthropic) -> AnthropicExecutor {
    AnthropicExecutor::new()
        .with_base_url(fake.base_url())
        .with_api_key(Some("sk-test".into()))
        .with_model("claude-sonnet-4-5")
        .with_rate_limit(None)
}

async fn run_with(
    executor: &AnthropicExecutor,
    spec: AttemptSpec,
    cancel: CancellationToken,
) -> (Outcome, Vec<ExecEvent>) {
    run_attempt(executor, spec, cancel, API_GUARD).await
}

async fn run_one(
    fake: &FakeAnthropic,
    scenario: Scenario,
) -> (Outcome, Vec<ExecEvent>, tempfile::TempDir) {
    run_api_scenario(fake, &executor(fake), scenario).await
}

#[tokio::test]
async fn a_success_reports_the_answer_usage_and_cost_and_sends_the_right_request() {
    let fake = FakeAnthropic::anthropic().await;
    let reply = Reply {
        text: "# Plan\n\nFirst, read the code. Then write the tests.".into(),
        input_tokens: 1000,
        output_tokens: 2000,
        cache_read_tokens: 500,
        cache_write_tokens: 100,
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
    assert_eq!(usage.cache_write_tokens, 100);
    assert_eq!(usage.output_tokens, 2000);
    assert_eq!(usage.model.as_deref(), Some("claude-sonnet-4-5"));
    // claude-sonnet-4: $3 in, $15 out, $0.30 cache read, $3.75 cache write per million.
    let expected = (1000.0 * 3.0 + 2000.0 * 15.0 + 500.0 * 0.30 + 100.0 * 3.75) / 1e6;
    assert!(
        (usage.cost_usd - expected).abs() < 1e-12,
        "{}",
        usage.cost_usd
    );

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.path, "/v1/messages");
    assert_eq!(request.headers["x-api-key"], "sk-test");
    assert_eq!(request.headers["anthropic-version"], "2023-06-01");
    assert_eq!(request.body["model"], "claude-sonnet-4-5");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["max_tokens"], 8192);
    assert_eq!(request.body["system"], "You are a careful planner.");
    assert_eq!(request.body["messages"][0]["role"], "user");
    assert_eq!(
        request.body["messages"][0]["content"],
        "Write a plan for the refactor."
    );

    let prompt = std::fs::read_to_string(dir.path().join("attempt-1.prompt.md")).unwrap();
    assert!(prompt.contains("Write a plan for the refactor."));
    let log = std::fs::read_to_string(dir.path().join("attempt-1.output.log")).unwrap();
    assert!(log.contains("HTTP 200, request id req_"), "{log}");
    assert!(
        log.contains("usage: 1000 input, 2000 output, 500 cache read, 100 cache write"),
        "{log}"
    );
}

#[tokio::test]
async fn the_agent_model_wins_and_an_empty_agent_prompt_sends_no_system() {
    let fake = FakeAnthropic::anthropic().await;
    let dir = tempfile::tempdir().unwrap();
    let mut spec = api_spec(dir.path());
    spec.model = Some("claude-future-9".into());
    spec.agent_prompt = String::new();
    let (outcome, events) = run_with(&executor(&fake), spec, CancellationToken::new()).await;
    assert!(matches!(outcome, Outcome::Succeeded { .. }), "{outcome:?}");
    let request = &fake.requests()[0];
    assert_eq!(request.body["model"], "claude-future-9");
    assert!(request.body.get("system").is_none());
    // Unknown model: no price, cost 0.
    assert_eq!(last_usage(&events).cost_usd, 0.0);
}

#[tokio::test]
async fn a_missing_key_is_refused_by_the_api_and_needs_the_person() {
    let fake = FakeAnthropic::anthropic().await;
    let dir = tempfile::tempdir().unwrap();
    let executor = executor(&fake).with_api_key(None);
    let (outcome, _) = run_with(&executor, api_spec(dir.path()), CancellationToken::new()).await;
    let Outcome::NeedsPerson { message } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        message.contains("x-api-key header is required"),
        "{message}"
    );
}

#[tokio::test]
async fn a_429_is_rate_limited_until_retry_after() {
    let fake = FakeAnthropic::anthropic().await;
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
async fn a_529_overloaded_is_rate_limited() {
    let fake = FakeAnthropic::anthropic().await;
    let (outcome, _, _) = run_one(&fake, Scenario::Overloaded).await;
    let Outcome::RateLimited {
        until: None,
        message,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("529 overloaded_error"), "{message}");
}

#[tokio::test]
async fn bad_credentials_and_no_quota_need_the_person() {
    let fake = FakeAnthropic::anthropic().await;
    let (outcome, _, _) = run_one(&fake, Scenario::Unauthorized).await;
    let Outcome::NeedsPerson { message } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("401 authentication_error"), "{message}");
    // A 400, but no credit left is for the person to fix.
    let (outcome, _, _) = run_one(&fake, Scenario::InsufficientQuota).await;
    let Outcome::NeedsPerson { message } = outcome else {
        panic!("{outcome:?}")
    };
    assert!(message.contains("credit balance is too low"), "{message}");
}

#[tokio::test]
async fn other_refusals_and_broken_streams_fail() {
    let fake = FakeAnthropic::anthropic().await;
    for (scenario, expect) in [
        (Scenario::BadRequest, "not retryable"),
        (Scenario::ServerError, "HTTP 500"),
        (
            Scenario::MidStreamError,
            "the stream reported an error: overloaded_error: Overloaded",
        ),
        (Scenario::InvalidJson, "not valid JSON"),
        (Scenario::Truncated, "truncated"),
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
    let fake = FakeAnthropic::anthropic().await;
    let url = fake.base_url();
    drop(fake);
    let dir = tempfile::tempdir().unwrap();
    let executor = AnthropicExecutor::new()
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
    let fake = FakeAnthropic::anthropic().await;
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
    let fake = FakeAnthropic::anthropic().await.with_rate_limit(2, window);
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
