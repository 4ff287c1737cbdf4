//! `/metrics` against a mission the real engine ran with real command
//! tasks whose outcomes are known: one succeeds reporting its usage, one
//! fails once then succeeds, one fails every time (so its dependent is
//! blocked), one is rate limited once (pausing its executor) then succeeds.

use crate::support;

use std::collections::BTreeMap;
use support::{Fixture, Served, task, within};
use techlead_core::state::MissionStatus;
use techlead_store::Store;

/// A scrape's samples: each series (name and labels) and its value.
struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    fn parse(body: &str) -> Samples {
        assert!(body.ends_with("# EOF\n"), "OpenMetrics ends with # EOF");
        let mut samples = Vec::new();
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|l| !l.is_empty())
                .map(|pair| {
                    let (key, value) = pair.split_once('=').unwrap();
                    (key.to_string(), value.trim_matches('"').to_string())
                })
                .collect();
            samples.push((name.to_string(), labels, value.parse().unwrap()));
        }
        Samples(samples)
    }

    /// The value of the one series named `name` with exactly `labels`.
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut found = self
            .0
            .iter()
            .filter(|(n, l, _)| n == name && *l == wanted)
            .map(|(_, _, v)| *v);
        let value = found.next();
        assert!(found.next().is_none(), "{name} {labels:?} twice");
        value
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }
}

async fn scrape(served: &Served) -> String {
    let response = within("a scrape", served.get("/metrics").send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_figures_match_what_the_mission_did() {
    let f = Fixture::new();
    let usage = r#"{"usage":{"input_tokens":1200,"output_tokens":300,"cache_read_tokens":50,"cache_write_tokens":7,"cost_usd":0.25}}"#;
    let mut flaky = task(
        "FLAKY",
        &[],
        "if [ -e flaky.once ]; then exit 0; fi; touch flaky.once; exit 1",
    );
    flaky.retries = 2;
    let mut broken = task("BROKEN", &[], "exit 3");
    broken.retries = 1;
    // The limit resets in a fraction of a second: the executor pauses until
    // then, and the attempt runs again.
    let limited = task(
        "LIMITED",
        &[],
        r#"if [ -e limited.once ]; then exit 0; fi; touch limited.once; echo "{\"status\":\"rate_limited\",\"retry_at\":\"$(date -u -d '+0.3 seconds' +%Y-%m-%dT%H:%M:%S.%NZ)\"}" > "$TECHLEAD_RESULT""#,
    );
    let mut plan = f.plan(vec![
        task("OK", &[], &format!("echo '{usage}' > \"$TECHLEAD_RESULT\"")),
        flaky,
        broken,
        task("AFTER", &["BROKEN"], "true"),
        limited,
    ]);
    plan.failure_threshold = 1.0;
    let id = f.create(&plan);
    let served = Served::start(&f.db()).await;

    // Before the run: every task pending, nothing attempted.
    let before = Samples::parse(&scrape(&served).await);
    let m = ("mission", id.as_str());
    assert_eq!(
        before.value("techlead_tasks", &[m, ("status", "pending")]),
        5.0
    );
    assert_eq!(before.value("techlead_events_total", &[m]), 1.0);
    assert!(
        !before
            .0
            .iter()
            .any(|(n, _, _)| n == "techlead_attempts_total")
    );

    assert_eq!(f.run(&id).await, MissionStatus::Failed);
    let body = scrape(&served).await;
    let after = Samples::parse(&body);
    let log = f.store().events(&id, 0).unwrap();
    assert_eq!(
        after.value("techlead_events_total", &[m]),
        log.len() as f64,
        "the kept figures follow the log"
    );
    assert_eq!(
        after.value(
            "techlead_mission_info",
            &[m, ("name", &plan.name), ("status", "failed")]
        ),
        1.0
    );
    for (status, n) in [
        ("succeeded", 3.0),
        ("failed", 1.0),
        ("blocked", 1.0),
        ("pending", 0.0),
    ] {
        assert_eq!(
            after.value("techlead_tasks", &[m, ("status", status)]),
            n,
            "{status}"
        );
    }

    let attempts = |agent: &str, outcome: &str| {
        after.get(
            "techlead_attempts_total",
            &[
                m,
                ("agent", agent),
                ("executor", "command"),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(attempts("agent-ok", "succeeded"), Some(1.0));
    assert_eq!(attempts("agent-flaky", "failed"), Some(1.0));
    assert_eq!(attempts("agent-flaky", "succeeded"), Some(1.0));
    assert_eq!(attempts("agent-broken", "failed"), Some(2.0));
    assert_eq!(attempts("agent-broken", "succeeded"), None);
    assert_eq!(attempts("agent-limited", "rate_limited"), Some(1.0));
    assert_eq!(attempts("agent-limited", "succeeded"), Some(1.0));
    assert_eq!(
        attempts("agent-after", "succeeded"),
        None,
        "blocked, never run"
    );

    // Retries follow failures; a rate limit requeues without one.
    let retries = |agent: &str| after.get("techlead_retries_total", &[m, ("agent", agent)]);
    assert_eq!(retries("agent-flaky"), Some(1.0));
    assert_eq!(retries("agent-broken"), Some(1.0));
    assert_eq!(retries("agent-limited"), None);
    assert_eq!(
        after.value(
            "techlead_executor_pauses_total",
            &[m, ("executor", "command")]
        ),
        1.0
    );

    let runner = |agent: &'static str| [m, ("agent", agent), ("executor", "command")];
    for (agent, finished) in [
        ("agent-ok", 1.0),
        ("agent-flaky", 2.0),
        ("agent-broken", 2.0),
        ("agent-limited", 2.0),
    ] {
        let durations = after.value("techlead_attempt_duration_seconds_count", &runner(agent));
        assert_eq!(durations, finished, "{agent}");
        let waits = after.value("techlead_queue_wait_seconds_count", &runner(agent));
        assert_eq!(
            waits, finished,
            "every finished attempt had started: {agent}"
        );
        let mut inf = runner(agent).to_vec();
        inf.push(("le", "+Inf"));
        assert_eq!(
            after.value("techlead_attempt_duration_seconds_bucket", &inf),
            finished
        );
    }
    let tokens = |kind: &str| {
        let mut labels = runner("agent-ok").to_vec();
        labels.push(("kind", kind));
        after.value("techlead_tokens_total", &labels)
    };
    assert_eq!(
        [
            tokens("input"),
            tokens("output"),
            tokens("cache_read"),
            tokens("cache_write")
        ],
        [1200.0, 300.0, 50.0, 7.0]
    );
    assert_eq!(
        after.value("techlead_cost_usd_total", &runner("agent-ok")),
        0.25
    );
    assert_eq!(after.value("techlead_feed_clients", &[]), 0.0);

    // A finished mission's figures are kept: the next scrape is the same.
    assert_eq!(scrape(&served).await, body);

    // Like everything but the health check, it needs the token.
    let anonymous = reqwest::get(format!("{}/metrics", served.base))
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    served.stop().await;
}
