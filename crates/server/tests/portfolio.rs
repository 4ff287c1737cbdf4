//! `GET /api/portfolio` over HTTP against a real SQLite record: two
//! missions recorded and not run yet share an agent, a third ran to its
//! end and holds nobody (docs/portfolio.md).

use crate::support;

use support::{Fixture, Served, task};
use techlead_core::state::MissionStatus;

/// A mission whose one task, `hours` long, runs on `builder`.
fn builder_mission(fixture: &Fixture, id: &str, hours: f64) -> String {
    let mut t = task(id, &[], "true");
    t.agent = "builder".into();
    t.detail.estimate_hours = Some(hours);
    let mut plan = fixture.plan(vec![t]);
    plan.agent_limits = vec![("builder".into(), 2)];
    fixture.create(&plan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolio_allocates_agents_across_the_missions_under_way() {
    let fixture = Fixture::new();
    let first = builder_mission(&fixture, "A", 40.0);
    let second = builder_mission(&fixture, "B", 44.0);
    let finished = builder_mission(&fixture, "C", 500.0);
    assert_eq!(fixture.run(&finished).await, MissionStatus::Succeeded);
    let served = Served::start(&fixture.db()).await;

    let (status, body) = served.json("/api/portfolio").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["missions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "newest first, finished left out"
    );
    assert_eq!(body["threshold"], 90.0);
    let builder = &body["agents"][0];
    assert_eq!(builder["agent"], "builder");
    assert_eq!(builder["slots"], 2);
    assert_eq!(builder["hours"], 84.0);
    // No deadlines: 84 h within the 168 h horizon, on 2 slots.
    assert_eq!(builder["percent"], 25.0);
    assert_eq!(builder["over"], false);
    assert_eq!(body["risks"][0]["kind"], "shared-critical-path");
    assert_eq!(body["risks"][0]["level"], "medium");

    let (_, strict) = served.json("/api/portfolio?threshold=20&horizon=100").await;
    assert_eq!(strict["agents"][0]["percent"], 42.0);
    assert_eq!(strict["agents"][0]["over"], true);
    let kinds: Vec<&str> = strict["risks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["shared-critical-path", "over-allocation"],
        "high first"
    );

    let (status, bad) = served.json("/api/portfolio?threshold=lots").await;
    assert_eq!(status, 400, "{bad}");
    assert!(
        bad["error"].as_str().unwrap().contains("threshold"),
        "{bad}"
    );
    served.stop().await;
}
