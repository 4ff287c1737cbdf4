//! The OpenAPI document: the one served is the one checked in at
//! docs/openapi.json, and it describes every route the server has. Change
//! crates/server/src/openapi.json deliberately, then copy it to docs/.

use crate::support;

use serde_json::Value;
use support::{Fixture, Served, within};

#[tokio::test(flavor = "multi_thread")]
async fn the_served_document_is_the_checked_in_one_and_covers_every_route() {
    let f = Fixture::new();
    let served = Served::start(&f.db()).await;
    let response = within("the document", served.get("/api/openapi.json").send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served_text = response.text().await.unwrap();
    let checked_in = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json"),
    )
    .unwrap();
    assert!(
        served_text == checked_in,
        "docs/openapi.json differs from the served document: copy crates/server/src/openapi.json to docs/openapi.json"
    );

    let document: Value = serde_json::from_str(&served_text).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut documented: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut routes = techlead_server::ROUTES.to_vec();
    documented.sort_unstable();
    routes.sort_unstable();
    assert_eq!(documented, routes, "every route documented, nothing else");
    // Every reference resolves.
    let text = served_text.as_str();
    for reference in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{name} is referenced but not defined"
        );
    }
    served.stop().await;
}

/// Each documented route answers (not the fallback's 404), so the list
/// in `ROUTES` is the router's.
#[tokio::test(flavor = "multi_thread")]
async fn every_documented_route_is_served() {
    let f = Fixture::new();
    let id = f.create(&f.plan(vec![support::task("T", &[], "true")]));
    let served = Served::start(&f.db()).await;
    for route in techlead_server::ROUTES {
        if route.ends_with("/stream") || route.ends_with("/ws") || *route == "/metrics" {
            continue; // not JSON: tests/feed.rs, tests/ws.rs, tests/metrics.rs
        }
        if route.ends_with("/log") || route.ends_with("/diff") || *route == "/api/session" {
            continue; // text, a repository's, or POST: tests/views.rs
        }
        if route.ends_with("/decisions") {
            continue; // POST only: tests/decide.rs
        }
        let path = route.replace("{id}", &id).replace("{task}", "T");
        let (status, _) = served.json(&path).await;
        assert_eq!(status, 200, "{path}");
    }
    served.stop().await;
}
