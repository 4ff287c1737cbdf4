//! The endpoints the dashboard draws from, over HTTP against a real
//! mission run by the real engine in a real git repository: the outlook
//! (critical path through unfinished work), every attempt, an attempt's
//! log from an offset, a task's diff against its fork point, and the
//! browser's session (the page without a token, the cookie, the Origin a
//! cookie-borne change needs).

use crate::support;
use crate::support::demo;

use support::{Fixture, Served, task, within};
use techlead_core::state::{Event, MissionStatus};
use techlead_store::Store;

/// The demo mission, its `release` file made first so that it runs
/// through: UI-2 succeeds, OPS-1 and API-2 fail, E2E-1 and REL-1 are
/// blocked.
async fn finished_demo(fixture: &Fixture) -> (String, demo::Demo) {
    let mut demo = demo::demo(fixture);
    // No escalation: it would pause dispatch wherever the run had got to.
    demo.plan.failure_threshold = 1.0;
    std::fs::write(&demo.release, "").unwrap();
    let id = fixture.create(&demo.plan);
    let status = fixture.run(&id).await;
    assert_ne!(status, MissionStatus::Succeeded);
    (id, demo)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outlook_follows_the_unfinished_work() {
    let fixture = Fixture::new();
    let mut demo = demo::demo(&fixture);
    demo.plan.failure_threshold = 1.0;
    std::fs::write(&demo.release, "").unwrap();
    let id = fixture.create(&demo.plan);
    let served = Served::start(&fixture.db()).await;
    let (status, before) = served.json(&format!("/api/missions/{id}/outlook")).await;
    assert_eq!(status, 200, "{before}");
    // The longest chain by estimate: 2 + 3 + 5 + 2 + 0.5 hours.
    assert_eq!(
        before["critical_path"]["tasks"],
        serde_json::json!(["SPEC-1", "DB-1", "API-2", "E2E-1", "REL-1"])
    );
    assert_eq!(before["critical_path"]["hours"], 12.5);
    assert_eq!(before["progress"]["finished"], 0);
    assert!(before["eta_seconds"].is_null());
    // The forecast of all ten tasks, from the prior (no history yet): at
    // least the critical path's estimates' worth, give or take.
    let forecast = &before["forecast"];
    let (p50, p90) = (
        forecast["p50_hours"].as_f64().unwrap(),
        forecast["p90_hours"].as_f64().unwrap(),
    );
    assert!(p50 > 8.0 && p90 > p50, "{forecast}");
    assert_eq!(forecast["samples"], 0);
    assert!(forecast["baseline"].is_null());

    fixture.run(&id).await;
    let (_, after) = served.json(&format!("/api/missions/{id}/outlook")).await;
    // Succeeded, failed and blocked tasks are nothing left to wait for.
    assert_eq!(after["critical_path"]["tasks"], serde_json::json!([]));
    assert_eq!(after["progress"]["total"], 10);
    assert_eq!(after["progress"]["succeeded"], 6);
    assert_eq!(after["progress"]["finished"], 10);
    // A finished mission has no forecast. Its run made a baseline only if
    // it lasted a second (docs/forecast.md, "During a run"): the demo
    // usually ends sooner.
    assert!(after["forecast"].is_null());
    let events = fixture.store().events(&id, 0).unwrap();
    let started = events[1].at;
    assert!(matches!(events[1].event, Event::RunStarted { .. }));
    for record in &events {
        if matches!(record.event, Event::ForecastBaseline { .. }) {
            let waited = record.at.duration_since(started);
            assert!(waited >= jiff::SignedDuration::from_secs(1), "{waited:?}");
        }
    }
    let state = techlead_core::state::MissionState::replay(&events).unwrap();
    assert!(state.forecast.is_none_or(|t| t.p90 >= t.p50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_logs_and_diffs_of_a_real_mission() {
    let fixture = Fixture::new();
    let (id, demo) = finished_demo(&fixture).await;
    let served = Served::start(&fixture.db()).await;

    let (status, attempts) = served.json(&format!("/api/missions/{id}/attempts")).await;
    assert_eq!(status, 200, "{attempts}");
    let attempts = attempts["attempts"].as_array().unwrap();
    let mut tasks: Vec<&str> = attempts
        .iter()
        .map(|a| a["task"].as_str().unwrap())
        .collect();
    let queued: Vec<&str> = attempts
        .iter()
        .map(|a| a["queued_at"].as_str().unwrap())
        .collect();
    assert!(queued.windows(2).all(|w| jiff_le(w[0], w[1])), "{queued:?}");
    tasks.sort();
    assert_eq!(
        tasks,
        [
            "API-1", "API-2", "DB-1", "DOC-1", "OPS-1", "SPEC-1", "UI-1", "UI-2"
        ]
    );
    let failed = attempts.iter().find(|a| a["task"] == "API-2").unwrap();
    assert_eq!(failed["outcome"]["kind"], "failed");
    assert_eq!(failed["agent"], "backend");

    // The log whole, then from an offset: the same bytes, and where to go on.
    let log = |offset: &str| {
        served
            .get(&format!(
                "/api/missions/{id}/tasks/UI-2/attempts/1/log{offset}"
            ))
            .send()
    };
    let whole = within("the log", log("")).await.unwrap();
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "text/plain; charset=utf-8");
    assert_eq!(whole.headers()["x-log-complete"], "true");
    let size: usize = whole.headers()["x-log-size"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let text = whole.text().await.unwrap();
    assert_eq!(text.len(), size);
    assert!(
        text.contains("first pass of the layout") && text.contains("page done"),
        "{text}"
    );
    let rest = within("the log's rest", log("?offset=6")).await.unwrap();
    assert_eq!(rest.headers()["x-log-offset"], "6");
    assert_eq!(rest.headers()["x-log-next"], size.to_string().as_str());
    assert_eq!(rest.text().await.unwrap(), text[6..]);
    let end = within("the log's end", log(&format!("?offset={size}")))
        .await
        .unwrap();
    assert_eq!(end.headers()["x-log-complete"], "true");
    assert_eq!(end.text().await.unwrap(), "");
    let past = within("past the end", log(&format!("?offset={}", size + 1)))
        .await
        .unwrap();
    assert_eq!(past.status(), 416);
    let (status, _) = served
        .json(&format!("/api/missions/{id}/tasks/UI-2/attempts/2/log"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = served
        .json(&format!("/api/missions/{id}/tasks/UI-2/attempts/x/log"))
        .await;
    assert_eq!(status, 400);

    // DB-1 merged into the integration branch long ago; its diff is still
    // what it changed since it forked, not the empty diff of a merge base
    // that is its own tip.
    let (status, diff) = served
        .json(&format!("/api/missions/{id}/tasks/DB-1/diff"))
        .await;
    assert_eq!(status, 200, "{diff}");
    assert_eq!(diff["branch"], format!("techlead/{id}/DB-1"));
    let files = diff["files"].as_array().unwrap();
    let paths: Vec<(&str, &str)> = files
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        paths,
        [("migrations/001.sql", "added"), ("src/lib.rs", "modified")]
    );
    let lib = &files[1];
    assert_eq!(
        (lib["additions"].as_u64(), lib["deletions"].as_u64()),
        (Some(1), Some(1))
    );
    let changed: Vec<_> = lib["hunks"][0]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["kind"] != "context")
        .map(|l| {
            (
                l["kind"].clone(),
                l["old"].clone(),
                l["new"].clone(),
                l["text"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            (
                "del".into(),
                6.into(),
                serde_json::Value::Null,
                "    1".into()
            ),
            (
                "add".into(),
                serde_json::Value::Null,
                6.into(),
                "    2".into()
            ),
        ]
    );
    // SPEC-1 forked from the base; it is the fork point whatever merged since.
    let base = demo.plan.repository.as_ref().unwrap().base.clone();
    let (_, spec) = served
        .json(&format!("/api/missions/{id}/tasks/SPEC-1/diff"))
        .await;
    assert_eq!(spec["base"], base);
    assert_eq!(spec["files"][0]["path"], "docs/api.md");
    let (status, missing) = served
        .json(&format!("/api/missions/{id}/tasks/NOPE/diff"))
        .await;
    assert_eq!(status, 404, "{missing}");
    served.stop().await;
}

fn jiff_le(a: &str, b: &str) -> bool {
    a.parse::<jiff::Timestamp>().unwrap() <= b.parse::<jiff::Timestamp>().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_without_a_repository_has_no_diff() {
    let fixture = Fixture::new();
    let id = fixture.create(&fixture.plan(vec![task("A", &[], "echo hi")]));
    fixture.run(&id).await;
    let served = Served::start(&fixture.db()).await;
    let (status, body) = served
        .json(&format!("/api/missions/{id}/tasks/A/diff"))
        .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("names no repository"),
        "{body}"
    );
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_path_that_leaves_the_data_directory_is_refused() {
    let fixture = Fixture::new();
    // A record naming a file outside the data directory, as a tampered
    // database would.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.output.log"), "secret").unwrap();
    let escape = format!("../{}/secret", pathdiff(fixture.dir.path(), outside.path()));
    let id = fixture.create(&fixture.plan(vec![task("A", &[], "true")]));
    let mut store = fixture.store();
    let now = jiff::Timestamp::now();
    store
        .append(
            &id,
            1,
            vec![
                (
                    now,
                    Event::RunStarted {
                        run: 1,
                        pid: 1,
                        host: "h".into(),
                    },
                ),
                (
                    now,
                    Event::AttemptQueued {
                        task: "A".into(),
                        attempt: 1,
                        agent: "agent-a".into(),
                        executor: "command".into(),
                        dir: escape.clone(),
                    },
                ),
            ],
        )
        .unwrap();
    let served = Served::start(&fixture.db()).await;
    let response = within(
        "the log",
        served
            .get(&format!("/api/missions/{id}/tasks/A/attempts/1/log"))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 403);
    let body = response.text().await.unwrap();
    assert!(!body.contains("secret\""), "{body}");
    assert!(body.contains("outside the data directory"), "{body}");
    served.stop().await;
}

/// `to` relative to `from`'s parent, both under the same temporary root.
fn pathdiff(from: &std::path::Path, to: &std::path::Path) -> String {
    let from = from.canonicalize().unwrap();
    let to = to.canonicalize().unwrap();
    assert_eq!(
        from.parent(),
        to.parent(),
        "both in the temporary directory"
    );
    to.file_name().unwrap().to_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_its_files_and_the_browser_session() {
    let fixture = Fixture::new();
    let served = Served::start(&fixture.db()).await;
    let plain = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", served.base);

    // The page and its files hold no data: no token needed.
    let page = plain.get(url("/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
        "{policy}"
    );
    assert!(page.text().await.unwrap().contains("/assets/app.js"));
    let script = plain.get(url("/assets/app.js")).send().await.unwrap();
    assert_eq!(script.headers()["content-type"], "text/javascript");
    assert_eq!(
        plain
            .get(url("/assets/nope.js"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    // A foreign Host is refused even for the page (DNS rebinding).
    let foreign = plain
        .get(url("/"))
        .header("host", format!("evil.example:{}", served.port))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 403);

    // The token buys the cookie; without it, nothing.
    let session = url("/api/session");
    assert_eq!(plain.post(&session).send().await.unwrap().status(), 401);
    let opened = plain
        .post(&session)
        .bearer_auth(&served.token)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 204);
    let cookie = opened.headers()["set-cookie"].to_str().unwrap().to_string();
    let name = format!("techlead_{}", served.port);
    assert!(
        cookie.starts_with(&format!("{name}={};", served.token)),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );

    let with_cookie = |value: &str| {
        plain
            .get(url("/api/missions"))
            .header("cookie", format!("other=1; {name}={value}"))
    };
    assert_eq!(
        with_cookie(&served.token).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        with_cookie(&"0".repeat(64)).send().await.unwrap().status(),
        401
    );
    // Another server's cookie on the same host is not this one's.
    let other_port = plain
        .get(url("/api/missions"))
        .header("cookie", format!("techlead_1={}", served.token))
        .send()
        .await
        .unwrap();
    assert_eq!(other_port.status(), 401);

    // A change borne by the cookie alone must come from the page.
    let own = format!("http://127.0.0.1:{}", served.port);
    let by_cookie = || {
        plain
            .post(&session)
            .header("cookie", format!("{name}={}", served.token))
    };
    assert_eq!(by_cookie().send().await.unwrap().status(), 403);
    assert_eq!(
        by_cookie()
            .header("origin", "http://evil.example")
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        by_cookie()
            .header("origin", own)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );

    let closed = plain
        .delete(&session)
        .bearer_auth(&served.token)
        .send()
        .await
        .unwrap();
    assert!(
        closed.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    served.stop().await;
}
