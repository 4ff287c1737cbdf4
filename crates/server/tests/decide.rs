//! `POST /api/missions/{id}/escalations/{n}/decisions` over real HTTP: a
//! decision is checked against the record, put in the mission's inbox,
//! and carried out by the mission's writer (a live run at once, or the
//! next run); what cannot be decided is refused with the reason.

use crate::support;

use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::{Fixture, Served, task, within};
use techlead_core::state::{AgentPlan, MissionPlan, MissionStatus};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Mission, Settings, observer};

/// FLAKY fails until the file `fixed` exists; NEXT waits for it.
fn flaky(fixture: &Fixture) -> MissionPlan {
    let mut plan = fixture.plan(vec![
        task("FLAKY", &[], "test -f fixed || exit 1"),
        task("NEXT", &["FLAKY"], "true"),
    ]);
    plan.agents = ["agent-flaky", "agent-next", "senior"]
        .map(|name| AgentPlan {
            name: name.into(),
            prompt: String::new(),
            model: None,
            tools: None,
        })
        .to_vec();
    plan
}

async fn post(served: &Served, path: &str, body: Value) -> (u16, Value) {
    let response = within(
        path,
        served
            .client
            .post(format!("{}{path}", served.base))
            .bearer_auth(&served.token)
            .json(&body)
            .send(),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    (status, within(path, response.json()).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_waits_in_the_inbox_until_a_run_carries_it_out() {
    let fixture = Fixture::new();
    let id = fixture.create(&flaky(&fixture));
    assert_eq!(fixture.run(&id).await, MissionStatus::Failed);
    let served = Served::start(&fixture.db()).await;
    let decisions = format!("/api/missions/{id}/escalations/1/decisions");

    let (status, body) = post(&served, &decisions, json!({"action": "redo"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("unknown action `redo`")
    );
    let (status, body) = post(
        &served,
        &decisions,
        json!({"action": "reassign", "agent": "nobody"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("`nobody` is not one of the mission's agents")
    );
    // FLAKY's agent proposed no parts: a split needs them named.
    let (status, body) = post(&served, &decisions, json!({"action": "split"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the agent of FLAKY proposed no parts"),
        "{body}"
    );
    let parts: Vec<String> = (1..=11).map(|n| format!("part {n}")).collect();
    let (status, body) = post(
        &served,
        &decisions,
        json!({"action": "split", "parts": parts}),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("11 parts are too many"),
        "{body}"
    );
    let (status, body) = post(
        &served,
        &format!("/api/missions/{id}/escalations/9/decisions"),
        json!({"action": "retry"}),
    )
    .await;
    assert_eq!(status, 409, "{body}");

    let (status, body) = post(
        &served,
        &decisions,
        json!({"action": "reassign", "agent": "senior", "note": "beyond a junior", "by": "dashboard"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["decision"], 1);
    assert_eq!(body["running"], false, "no run holds the mission");
    let (status, body) = post(&served, &decisions, json!({"action": "skip"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already has a decision waiting")
    );

    // The next run carries it out first, and the mission gets its round.
    std::fs::write(fixture.path("fixed"), "").unwrap();
    assert_eq!(fixture.run(&id).await, MissionStatus::Succeeded);
    let (_, escalations) = served
        .json(&format!("/api/missions/{id}/escalations"))
        .await;
    let resolution = &escalations[0]["resolution"];
    assert_eq!(
        resolution["decision"],
        json!({"action": "reassign", "agent": "senior"})
    );
    assert_eq!(resolution["by"], "dashboard");
    assert_eq!(resolution["note"], "beyond a junior");
    let (_, flaky) = served
        .json(&format!("/api/missions/{id}/tasks/FLAKY"))
        .await;
    let attempts = flaky["attempts"].as_array().unwrap();
    assert_eq!(attempts.last().unwrap()["agent"], "senior");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_mission_carries_a_decision_out_at_once() {
    let fixture = Fixture::new();
    let id = fixture.create(&flaky(&fixture));
    let served = Served::start(&fixture.db()).await;
    let settings = Settings {
        data_dir: fixture.dir.path().to_path_buf(),
        executors: vec![Arc::new(
            CommandExecutor::new().with_grace(Duration::from_millis(200)),
        )],
        gate_grace: Duration::from_millis(200),
        workers: None,
    };
    let mut mission =
        Mission::open(fixture.store(), &id, settings, observer(|_, _, _| {})).unwrap();
    mission.await_decisions(true);
    let run = tokio::spawn(mission.run());

    // The run waits with the escalation open instead of ending failed.
    let escalations = format!("/api/missions/{id}/escalations");
    within("the escalation", async {
        while served
            .json(&escalations)
            .await
            .1
            .as_array()
            .is_none_or(|a| a.is_empty())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    std::fs::write(fixture.path("fixed"), "").unwrap();
    let (status, body) = post(
        &served,
        &format!("{escalations}/1/decisions"),
        json!({"action": "retry"}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["running"], true);
    let status = within("the run to end", run).await.unwrap().unwrap();
    assert_eq!(status, MissionStatus::Succeeded);
    let (_, events) = served.json(&format!("/api/missions/{id}/events")).await;
    let types: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    let resolved = types
        .iter()
        .position(|t| *t == "escalation_resolved")
        .expect("resolved");
    assert_eq!(
        &types[resolved + 1..resolved + 3],
        ["task_reopened", "task_reopened"]
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deciding_needs_the_token_and_this_servers_origin() {
    let fixture = Fixture::new();
    let id = fixture.create(&flaky(&fixture));
    assert_eq!(fixture.run(&id).await, MissionStatus::Failed);
    let served = Served::start(&fixture.db()).await;
    let url = format!("{}/api/missions/{id}/escalations/1/decisions", served.base);
    let anonymous = within(
        "no token",
        served
            .client
            .post(&url)
            .json(&json!({"action": "skip"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let cross_site = within(
        "another origin",
        served
            .client
            .post(&url)
            .bearer_auth(&served.token)
            .header("Origin", "http://evil.example")
            .json(&json!({"action": "skip"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(cross_site.status().as_u16(), 403);
    // Neither reached the inbox.
    let store = fixture.store();
    assert!(
        techlead_store::Store::decisions(&store, &id, false)
            .unwrap()
            .is_empty()
    );
    served.stop().await;
}
