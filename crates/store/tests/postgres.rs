//! What only the PostgreSQL store has: URLs, a server that is not there or
//! refuses the login, a schema that is another program's or a newer
//! techlead's (refused untouched), migrations racing, writers racing, and
//! calls from inside a tokio runtime (the engine's and the server's), and
//! the notifications the server's live feeds listen for.

use crate::support;

use postgres::fallible_iterator::FallibleIterator;
use std::sync::{Arc, Barrier};
use support::Fixture;
use support::mission::{abc, at, batches, run_small_mission};
use techlead_core::state::Event;
use techlead_store::changes::Changes;
use techlead_store::postgres::{CHANNEL, Listener, PgStore, SCHEMA_VERSION};
use techlead_store::{Error, Store};

/// The error `open` gives for `url`, which must hide any password.
fn refused(url: &str) -> Error {
    let Err(error) = techlead_store::open(url) else {
        panic!("{url} was opened");
    };
    let text = error.to_string();
    assert!(!text.contains("hunter2"), "the password is shown: {text}");
    assert!(error.hint().is_some(), "no hint for {error:?}");
    error
}

#[test]
fn a_url_that_cannot_be_read_is_named_with_how_to_write_one() {
    let error = refused("postgres://ann:hunter2@db.example:port/techlead");
    assert!(matches!(error, Error::BadUrl { .. }), "{error:?}");
    assert!(error.to_string().contains("ann:***@db.example"), "{error}");
    assert!(error.hint().unwrap().contains("postgres://USER"));
}

#[test]
fn a_server_that_is_not_there_is_unreachable_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().display().to_string().replace('/', "%2F");
    let url = format!("postgresql://ann:hunter2@{socket}/techlead");
    let error = refused(&url);
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
    assert!(error.to_string().contains("ann:***@"), "{error}");
    assert!(error.hint().unwrap().contains("start the server"));
}

#[test]
fn a_wrong_password_or_a_missing_database_says_which() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let cluster = techlead_testdb::cluster().unwrap();
    let user = techlead_testdb::PASSWORD_USER;
    let wrong = cluster.url(user, Some("hunter2"), &db.name);
    let error = refused(&wrong);
    assert!(matches!(error, Error::LoginRefused { .. }), "{error:?}");

    let missing = cluster.url(techlead_testdb::USER, None, "no_such_db");
    match refused(&missing) {
        Error::NoDatabase { name, .. } => assert_eq!(name, "no_such_db"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_new_database_gets_the_current_schema_in_its_own_namespace() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    drop(db.open());
    let mut raw = db.raw();
    assert_eq!(
        raw.rows("SELECT application_id, version FROM schema_version", &[]),
        [format!("{}|{SCHEMA_VERSION}", 0x544C_4544)]
    );
    // Nothing outside the schema `techlead`.
    assert_eq!(
        raw.rows(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'",
            &[]
        ),
        ["0"]
    );
}

/// Every table of the schema and its row count, to show nothing changed.
fn contents(db: &Fixture) -> Vec<String> {
    let mut raw = db.raw();
    let tables = raw.rows(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'techlead' ORDER BY tablename",
        &[],
    );
    let mut out = Vec::new();
    for table in tables {
        let count = raw.rows(&format!("SELECT COUNT(*) FROM techlead.{table}"), &[]);
        out.push(format!("{table}: {}", count[0]));
        if table == "schema_version" {
            out.extend(raw.rows("SELECT version FROM techlead.schema_version", &[]));
        }
    }
    out
}

#[test]
fn a_schema_from_a_newer_techlead_is_refused_untouched() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    run_small_mission(&mut *db.open());
    db.raw().execute(
        &format!("UPDATE schema_version SET version = {}", SCHEMA_VERSION + 7),
        &[],
    );
    let before = contents(&db);
    match refused(&db.location) {
        Error::TooNew {
            found, supported, ..
        } => assert_eq!((found, supported), (SCHEMA_VERSION + 7, SCHEMA_VERSION)),
        other => panic!("{other:?}"),
    }
    assert_eq!(contents(&db), before);
}

#[test]
fn another_programs_techlead_schema_is_foreign_and_untouched() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let mut raw = db.raw();
    raw.execute("CREATE SCHEMA techlead", &[]);
    raw.execute("CREATE TABLE techlead.recipes (name TEXT)", &[]);
    raw.execute("INSERT INTO techlead.recipes VALUES ('soup')", &[]);
    let before = contents(&db);
    let error = refused(&db.location);
    assert!(matches!(error, Error::Foreign { .. }), "{error:?}");
    assert_eq!(contents(&db), before);
}

#[test]
fn techleads_opening_a_new_database_at_once_create_the_schema_once() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let start = Arc::new(Barrier::new(4));
    let opened: Vec<_> = (0..4)
        .map(|_| {
            let (url, start) = (db.location.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                PgStore::open(&url).map(drop)
            })
        })
        .collect();
    for thread in opened {
        thread.join().unwrap().unwrap();
    }
    assert_eq!(
        db.raw().rows("SELECT COUNT(*) FROM schema_version", &[]),
        ["1"]
    );
}

/// Progress events: no projection of theirs can clash.
fn progress(round: usize) -> Vec<(jiff::Timestamp, Event)> {
    (0..3)
        .map(|i| {
            let event = Event::AttemptProgress {
                task: "a".to_string(),
                attempt: 1,
                percent: None,
                message: format!("round {round} step {i}"),
            };
            (at(round as i64), event)
        })
        .collect()
}

/// Two writers on one mission, each appending after the seq it last saw:
/// every round, one commits and the other gets a conflict; the log has
/// every committed event once, without gaps.
#[test]
fn racing_writers_get_a_conflict_and_leave_no_gap() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let id = db.open().create_mission(&abc(), at(0)).unwrap();
    let rounds = 20;
    let start = Arc::new(Barrier::new(2));
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (url, id, start) = (db.location.clone(), id.clone(), start.clone());
            std::thread::spawn(move || {
                let mut store = techlead_store::open(&url).unwrap();
                let mut won = 0;
                for round in 0..rounds {
                    start.wait();
                    let last = store.find_mission(&id).unwrap().unwrap().last_seq;
                    start.wait();
                    let batch = progress(round);
                    match store.append(&id, last, batch) {
                        Ok(_) => won += 1,
                        Err(Error::Conflict { .. }) => {}
                        Err(other) => panic!("{other:?}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: u32 = writers.into_iter().map(|w| w.join().unwrap()).sum();
    assert_eq!(won, rounds as u32, "one writer commits each round");
    let store = db.open();
    let seqs: Vec<u64> = store
        .events(&id, 0)
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        store.find_mission(&id).unwrap().unwrap().last_seq,
        seqs.len() as u64
    );
}

#[test]
fn a_connection_cut_by_the_server_is_unreachable_not_a_panic() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let store = db.open();
    assert_eq!(store.missions().unwrap(), []);
    let cut = db.raw().rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'techlead'",
        &[],
    );
    assert_eq!(cut, ["1"]);
    match store.missions() {
        Err(error @ Error::Unreachable { .. }) => assert!(error.hint().is_some()),
        other => panic!("{other:?}"),
    }
}

/// The engine's actor (a current-thread runtime) and the server (a
/// multi-thread one) call the store from async code; the client's own
/// runtime must not be started inside theirs.
#[test]
fn the_store_works_from_inside_tokio_runtimes() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let work = |url: String| async move {
        let mut store = techlead_store::open(&url).unwrap();
        let id = store.create_mission(&abc(), at(0)).unwrap();
        store.append(&id, 1, batches()[0].clone()).unwrap();
        let lock = store.lock(&id).unwrap();
        assert!(matches!(store.lock(&id), Err(Error::Locked { .. })));
        drop(lock);
        drop(store.lock(&id).unwrap());
        store.events(&id, 0).unwrap().len()
    };
    let current = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(current.block_on(work(db.location.clone())), 6);
    let multi = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(multi.block_on(work(db.location.clone())), 6);
}

/// How long a wait for something that should come at once may take
/// before the test fails as hung.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// `wait` called until it answers as `want` does, or a panic after
/// [`HANG_GUARD`].
fn wait_until(
    changes: &mut dyn Changes,
    what: &str,
    want: impl Fn(&techlead_store::Result<bool>) -> bool,
) -> techlead_store::Result<bool> {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    loop {
        let seen = changes.wait();
        if want(&seen) {
            return seen;
        }
        assert!(std::time::Instant::now() < deadline, "no {what}: {seen:?}");
    }
}

/// The server's live feeds wake on these notifications: one per append
/// that commits, naming its mission, and none for one that fails.
#[test]
fn an_append_notifies_its_mission_when_it_commits() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let mut listening = postgres::Client::connect(&db.location, postgres::NoTls).unwrap();
    listening
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .unwrap();

    let stale = store.append(&id, 0, batches()[0].clone());
    assert!(matches!(stale, Err(Error::Conflict { .. })), "{stale:?}");
    store.append(&id, 1, batches()[0].clone()).unwrap();

    let mut notifications = listening.notifications();
    let heard = notifications
        .timeout_iter(HANG_GUARD)
        .next()
        .unwrap()
        .expect("the append's notification");
    assert_eq!((heard.channel(), heard.payload()), (CHANNEL, id.as_str()));
    // The rolled back append's would have come first.
    assert!(notifications.iter().next().unwrap().is_none());
}

/// A listener wakes on a notification alone, on a commit that sends none
/// (an older techlead's) through its check of the log, and says when its
/// connection is cut rather than going deaf.
#[test]
fn a_listener_hears_notifications_checks_the_log_and_notices_a_cut() {
    let Some(db) = Fixture::postgres() else {
        return;
    };
    let mut store = db.open();
    let id = store.create_mission(&abc(), at(0)).unwrap();
    let mut listener = Listener::open(&db.location).unwrap();
    let mut raw = db.raw();

    raw.execute("SELECT pg_notify(?1, 'elsewhere')", &[CHANNEL]);
    let seen = wait_until(&mut listener, "wake on the notification", |seen| {
        matches!(seen, Ok(true))
    });
    assert!(seen.unwrap());

    raw.execute(
        "UPDATE missions SET last_seq = last_seq + 1 WHERE id = ?1",
        &[&id],
    );
    let seen = wait_until(&mut listener, "wake on the unannounced commit", |seen| {
        matches!(seen, Ok(true))
    });
    assert!(seen.unwrap());

    let cut = raw.rows(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    );
    assert!(!cut.is_empty());
    let lost = wait_until(&mut listener, "error once cut", |seen| seen.is_err());
    let error = lost.unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
}
