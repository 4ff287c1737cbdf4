//! The record of webhook delivery tries: written one try at a time, read
//! back in order, kept across reopening, refused for a mission the
//! database does not have; on both backends.

use crate::support;

use jiff::Timestamp;
use support::both;
use techlead_core::state::MissionPlan;
use techlead_store::{DeliveryTry, Error, Store};

fn plan() -> MissionPlan {
    serde_json::from_value(serde_json::json!({
        "name": "hooks",
        "source": "hooks.yaml",
        "source_hash": "0",
        "workdir": ".",
        "max_parallel": 1,
        "failure_threshold": 0.5,
        "backoff_ms": [10],
        "phases": [],
        "tasks": [],
    }))
    .expect("a plan")
}

fn attempt(hook: &str, seq: u64, number: u32, status: Option<u16>) -> DeliveryTry {
    let delivered = status.is_some_and(|s| (200..300).contains(&s));
    DeliveryTry {
        hook: hook.into(),
        seq,
        number,
        at: Timestamp::from_second(1_767_268_800 + i64::from(number)).unwrap(),
        status,
        error: (!delivered).then(|| match status {
            Some(s) => format!("HTTP {s}"),
            None => "connection refused".into(),
        }),
        duration_ms: 12,
        delivered,
    }
}

both! {
fn tries_are_recorded_and_read_back_in_order_across_reopening(db) {
    let mut store = db.open();
    let id = store
        .create_mission(&plan(), Timestamp::UNIX_EPOCH)
        .unwrap();
    assert_eq!(store.deliveries(&id).unwrap(), []);
    let tries = [
        attempt("zeta", 3, 1, Some(200)),
        attempt("alpha", 9, 2, Some(204)),
        attempt("alpha", 9, 1, Some(503)),
        attempt("alpha", 4, 1, None),
    ];
    for t in &tries {
        store.record_delivery(&id, t).unwrap();
    }
    drop(store);
    let store = db.open();
    let read = store.deliveries(&id).unwrap();
    assert_eq!(
        read,
        [
            tries[3].clone(),
            tries[2].clone(),
            tries[1].clone(),
            tries[0].clone()
        ]
    );
    // Another mission's record is its own.
    assert_eq!(store.deliveries("other-1").unwrap(), []);
}
}

both! {
fn a_try_for_an_unknown_mission_or_a_repeated_try_is_refused(db) {
    let mut store = db.open();
    let error = store
        .record_delivery("nope-1", &attempt("h", 1, 1, None))
        .unwrap_err();
    assert!(matches!(error, Error::NoSuchMission(_)), "{error:?}");
    let id = store
        .create_mission(&plan(), Timestamp::UNIX_EPOCH)
        .unwrap();
    store
        .record_delivery(&id, &attempt("h", 2, 1, None))
        .unwrap();
    // The same try twice is a bug in the caller, not a second row.
    assert!(
        store
            .record_delivery(&id, &attempt("h", 2, 1, Some(200)))
            .is_err()
    );
    assert_eq!(store.deliveries(&id).unwrap().len(), 1);
}
}
