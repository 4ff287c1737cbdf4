//! The read endpoints and the guards, over real HTTP on loopback, against
//! a mission the real engine recorded in a real SQLite file.

use crate::support;

use serde_json::{Value, json};
use std::os::unix::fs::PermissionsExt;
use support::{Fixture, Served, task, within};
use techlead_core::state::{Event, MissionState};
use techlead_store::Store;

/// A finished mission with a success that reported usage, two failures
/// (enough to raise the failure-rate escalation) and a blocked task.
async fn recorded(f: &Fixture) -> String {
    let plan = f.plan(vec![
        task(
            "A",
            &[],
            r#"printf '{"status":"success","summary":"A is done","usage":{"input_tokens":100,"output_tokens":20,"cost_usd":0.5,"model":"m1"}}' > "$TECHLEAD_RESULT""#,
        ),
        task("B", &[], "echo nope; exit 1"),
        task("C", &[], "exit 2"),
        task("D", &["B"], "true"),
    ]);
    let id = f.create(&plan);
    f.run(&id).await;
    id
}

#[tokio::test(flavor = "multi_thread")]
async fn every_read_endpoint_answers_what_the_store_holds() {
    let f = Fixture::new();
    let id = recorded(&f).await;
    let store = f.store();
    let events = store.events(&id, 0).unwrap();
    let state = MissionState::replay(&events).unwrap();
    let served = Served::start(&f.db()).await;

    let (status, missions) = served.json("/api/missions").await;
    assert_eq!(status, 200);
    assert_eq!(missions, json!(store.missions().unwrap()));

    let (status, mission) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(status, 200, "{mission}");
    assert_eq!(mission["id"], json!(id));
    assert_eq!(mission["status"], json!(state.status));
    assert_eq!(mission["last_seq"], json!(state.last_seq));
    assert_eq!(mission["tasks"], json!(4));
    assert_eq!(mission["counts"]["succeeded"], json!(1));
    assert_eq!(mission["counts"]["failed"], json!(2));
    assert_eq!(mission["counts"]["blocked"], json!(1));
    assert_eq!(mission["spend"]["cost_usd"], json!(0.5));
    assert_eq!(mission["spend"]["tokens"], json!(state.spent_tokens));
    let planned: Vec<&str> = mission["plan"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["A", "B", "C", "D"]);
    // By name: the newest mission with it.
    let (_, by_name) = served
        .json(&format!("/api/missions/{}", state.plan.name))
        .await;
    assert_eq!(by_name["id"], json!(id));

    let (status, tasks) = served.json(&format!("/api/missions/{id}/tasks")).await;
    assert_eq!(status, 200);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 4);
    for (t, answer) in tasks.iter().enumerate() {
        assert_eq!(answer["id"], json!(state.plan.tasks[t].id));
        assert_eq!(answer["status"], json!(state.tasks[t].status));
        assert_eq!(answer["agent"], json!(state.tasks[t].agent));
        assert_eq!(
            answer["attempt_count"],
            json!(state.tasks[t].attempts.len())
        );
    }
    assert_eq!(tasks[0]["summary"], json!("A is done"));
    assert_eq!(tasks[3]["blocked_by"], json!("B"));

    let (status, a) = served.json(&format!("/api/missions/{id}/tasks/A")).await;
    assert_eq!(status, 200);
    assert_eq!(a["attempts"], json!(state.tasks[0].attempts));
    assert_eq!(a["attempts"][0]["usage"]["cost_usd"], json!(0.5));
    assert_eq!(a["description"], json!("what A does"));
    let (status, b) = served.json(&format!("/api/missions/{id}/tasks/B")).await;
    assert_eq!(status, 200);
    assert_eq!(b["attempts"], json!(state.tasks[1].attempts));

    let (status, page) = served
        .json(&format!("/api/missions/{id}/events?after=2&limit=3"))
        .await;
    assert_eq!(status, 200);
    let expected: Vec<Value> = events[2..5]
        .iter()
        .map(|r| {
            let mut record = json!(r);
            let mut answer = serde_json::Map::new();
            answer.insert("mission".into(), json!(id));
            answer.extend(record.as_object_mut().unwrap().clone());
            Value::Object(answer)
        })
        .collect();
    assert_eq!(page["events"], json!(expected));
    assert_eq!(page["more"], json!(true));
    let (_, all) = served.json(&format!("/api/missions/{id}/events")).await;
    assert_eq!(all["events"].as_array().unwrap().len(), events.len());
    assert_eq!(all["more"], json!(false));

    let (status, escalations) = served
        .json(&format!("/api/missions/{id}/escalations"))
        .await;
    assert_eq!(status, 200);
    let raised: Vec<u32> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::EscalationRaised { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    assert!(!raised.is_empty(), "two failures of three raise one");
    let answered: Vec<u32> = escalations
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap() as u32)
        .collect();
    assert_eq!(answered, raised);
    // Each failed task is escalated as it fails; the second failure also
    // passes the failure rate.
    let kinds: Vec<&str> = escalations
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["retries-exhausted", "retries-exhausted", "failure-rate"]
    );

    let (status, costs) = served.json(&format!("/api/missions/{id}/costs")).await;
    assert_eq!(status, 200);
    assert_eq!(costs["total"]["cost_usd"], json!(0.5));
    assert_eq!(costs["total"]["input_tokens"], json!(100));
    assert_eq!(costs["by_task"][0]["name"], json!("A"));
    assert_eq!(costs["by_model"][0]["name"], json!("m1"));

    let (status, agents) = served.json("/api/agents").await;
    assert_eq!(status, 200);
    assert_eq!(agents, json!(store.agent_records().unwrap()));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_missions_tasks_and_bad_queries_are_json_errors() {
    let f = Fixture::new();
    let id = f.create(&f.plan(vec![task("API-001", &[], "true")]));
    let served = Served::start(&f.db()).await;
    let (status, body) = served.json("/api/missions/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], json!("no mission `nope` in this database"));
    assert!(body["hint"].is_string());
    let (status, body) = served
        .json(&format!("/api/missions/{id}/tasks/API-01"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["hint"], json!("did you mean `API-001`?"));
    let (status, body) = served
        .json(&format!("/api/missions/{id}/events?after=abc"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        json!("`after` must be a whole number, not `abc`")
    );
    let (status, _) = served
        .json(&format!("/api/missions/{id}/events?limit=0"))
        .await;
    assert_eq!(status, 400);
    let (status, body) = served.json("/api/nothing-here").await;
    assert_eq!(status, 404);
    assert!(body["hint"].is_string());
    // It only reads.
    let response = within(
        "a POST",
        served
            .client
            .post(format!("{}/api/missions", served.base))
            .bearer_auth(&served.token)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], json!("this endpoint only reads (GET)"));
    // A mission nobody ran yet: created only.
    let (status, mission) = served.json(&format!("/api/missions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(mission["status"], json!("created"));
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn every_request_but_health_needs_the_token() {
    let f = Fixture::new();
    let served = Served::start(&f.db()).await;
    let url = format!("{}/api/missions", served.base);
    let response = within("no token", served.client.get(&url).send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        json!("this request needs the server's token")
    );
    assert!(
        body["hint"]
            .as_str()
            .unwrap()
            .contains("Authorization: Bearer")
    );

    let wrong = "0".repeat(64);
    for token in [wrong.as_str(), "short", ""] {
        let response = within(
            "a wrong token",
            served.client.get(&url).bearer_auth(token).send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 401, "token `{token}`");
    }
    // Another scheme is no token either.
    let response = within(
        "basic auth",
        served
            .client
            .get(&url)
            .basic_auth("me", Some(&served.token))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Every read endpoint, the feed and the document are guarded.
    for path in [
        "/api/agents",
        "/api/openapi.json",
        "/api/missions/x",
        "/api/missions/x/stream",
    ] {
        let response = within(
            path,
            served.client.get(format!("{}{path}", served.base)).send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{path}");
    }

    let response = within(
        "health",
        served
            .client
            .get(format!("{}/api/health", served.base))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, _) = served.json("/api/missions").await;
    assert_eq!(status, 200);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_hosts_and_origins_are_refused() {
    let f = Fixture::new();
    let served = Served::start(&f.db()).await;
    let port = served.port;
    let send = |host: Option<String>, origin: Option<String>| {
        let mut request = served.get("/api/missions");
        if let Some(host) = host {
            request = request.header("host", host);
        }
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        async move {
            let response = within("a request", request.send()).await.unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    // DNS rebinding: a page of evil.example whose name now resolves to
    // 127.0.0.1 sends its own name as the Host.
    for host in [
        format!("evil.example:{port}"),
        "evil.example:7420".to_string(),
        format!("localhost.evil.example:{port}"),
        format!("127.0.0.1:{}", port.wrapping_add(1)),
        "127.0.0.1".to_string(),
    ] {
        let (status, body) = send(Some(host.clone()), None).await;
        assert_eq!(status, 403, "{host}");
        assert_eq!(
            body["error"],
            json!(format!("the Host `{host}` is not this server"))
        );
        assert!(body["hint"].is_string());
    }
    // Even the health check: a rebinding page learns nothing.
    let response = within(
        "health with a foreign host",
        served
            .client
            .get(format!("{}/api/health", served.base))
            .header("host", "evil.example:7420")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    for host in [format!("localhost:{port}"), format!("[::1]:{port}")] {
        let (status, _) = send(Some(host.clone()), None).await;
        assert_eq!(status, 200, "{host}");
    }

    // CSRF: a page elsewhere calling with the person's browser.
    for origin in [
        "http://evil.example:7420".to_string(),
        "https://evil.example".to_string(),
        "null".to_string(),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        let (status, body) = send(None, Some(origin.clone())).await;
        assert_eq!(status, 403, "{origin}");
        assert_eq!(
            body["error"],
            json!(format!("requests from `{origin}` are not allowed"))
        );
    }
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let (status, _) = send(None, Some(origin.clone())).await;
        assert_eq!(status, 200, "{origin}");
    }
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_token_file_is_private_and_kept_across_restarts() {
    let f = Fixture::new();
    let served = Served::start(&f.db()).await;
    let path = f.path("server.token");
    assert_eq!(served.token_file, path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let first = served.token.clone();
    assert_eq!(first.len(), 64);
    assert!(first.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), first);
    served.stop().await;

    let again = Served::start(&f.db()).await;
    assert_eq!(again.token, first);
    let (status, _) = again.json("/api/missions").await;
    assert_eq!(status, 200);
    again.stop().await;

    // Another database directory: another token.
    let other = Fixture::new();
    let elsewhere = Served::start(&other.db()).await;
    assert_ne!(elsewhere.token, first);
    elsewhere.stop().await;

    // A token others may read is refused, not used.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut config = f.config();
    config.bind = "127.0.0.1:0".parse().unwrap();
    let refused = techlead_server::Server::bind(config).await.err().unwrap();
    assert!(
        matches!(
            refused,
            techlead_server::Error::TokenExposed { mode: 0o644, .. }
        ),
        "{refused:?}"
    );
    assert!(refused.hint().unwrap().contains("chmod 600"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_is_not_a_techlead_database_is_refused_and_no_token_made() {
    let f = Fixture::new();
    std::fs::write(f.db(), "not a database, but someone's notes\n").unwrap();
    let mut config = f.config();
    config.bind = "127.0.0.1:0".parse().unwrap();
    let refused = techlead_server::Server::bind(config).await.err().unwrap();
    assert!(
        matches!(
            refused,
            techlead_server::Error::Store(techlead_store::Error::Foreign { .. })
        ),
        "{refused:?}"
    );
    assert!(!f.path("server.token").exists());
    assert_eq!(
        std::fs::read_to_string(f.db()).unwrap(),
        "not a database, but someone's notes\n"
    );
}
