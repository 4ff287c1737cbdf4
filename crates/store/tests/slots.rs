//! Shared agents' slots across missions (`agent_shares`), on both
//! backends: a slot is taken in one transaction with the decision, so two
//! missions asking at once never both get the last one; rows of runs that
//! are not alive are ignored; priority decides who goes first.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use support::both;
use support::mission::*;
use techlead_store::{Admission, Demand, Store};

fn demand(mission: &str, priority: i32, held: u32, waiting: u32) -> Demand {
    Demand {
        mission: mission.into(),
        agent: "dev".into(),
        priority,
        share: 1,
        slots: 1,
        held,
        waiting,
        waiting_since: None,
        updated_at: at(0),
    }
}

fn started(admission: &Admission) -> bool {
    *admission == Admission::Start
}

both! {
fn a_slot_goes_to_one_mission_and_priority_decides_who_is_next(db) {
    let mut store = db.open();
    let (a, b, c) = (
        store.create_mission(&abc(), at(0)).unwrap(),
        store.create_mission(&abc(), at(0)).unwrap(),
        store.create_mission(&abc(), at(0)).unwrap(),
    );
    let (_a, lock_b, _c) = (store.lock(&a).unwrap(), store.lock(&b).unwrap(), store.lock(&c).unwrap());

    assert!(started(&store.take_slot(&demand(&a, 0, 0, 1), at(1)).unwrap()));
    let Admission::Wait(wait) = store.take_slot(&demand(&b, 0, 0, 1), at(2)).unwrap() else {
        panic!("a holds dev's one slot");
    };
    assert_eq!(wait.describe("dev"), format!("dev is busy with mission {a} (priority 0)"));
    // c, priority 5, waits too; a lets its slot go: c goes before b.
    assert!(!started(&store.take_slot(&demand(&c, 5, 0, 1), at(3)).unwrap()));
    store.publish_shares(&[demand(&a, 0, 0, 0)]).unwrap();
    // b says since when it waits (its writer keeps that).
    let again = Demand {
        waiting_since: Some(at(2)),
        ..demand(&b, 0, 0, 1)
    };
    let Admission::Wait(wait) = store.take_slot(&again, at(4)).unwrap() else {
        panic!("c outranks b");
    };
    assert_eq!(wait.describe("dev"), format!("dev goes to mission {c} first (priority 5)"));
    assert!(started(&store.take_slot(&demand(&c, 5, 0, 1), at(5)).unwrap()));

    let rows = store.shares().unwrap();
    let row = |m: &str| rows.iter().find(|d| d.mission == m).unwrap().clone();
    assert_eq!((row(&c).held, row(&c).waiting), (1, 0));
    assert_eq!((row(&b).held, row(&b).waiting), (0, 1));
    assert_eq!(row(&b).waiting_since, Some(at(2)));
    assert_eq!(row(&c).waiting_since, None, "c waits for nothing more");

    // b's run ends without a word (its lock goes): its rows are ignored.
    drop(lock_b);
    assert!(store.shares().unwrap().iter().all(|d| d.mission != b));
    // c's run ends: its row goes, and a takes the slot again.
    store.end_shares(&c).unwrap();
    assert!(started(&store.take_slot(&demand(&a, 0, 0, 1), at(6)).unwrap()));
}
}

both! {
fn two_missions_asking_at_once_never_hold_more_than_the_slots(db) {
    let mut store = db.open();
    let missions: Vec<String> = (0..2).map(|_| store.create_mission(&abc(), at(0)).unwrap()).collect();
    let _locks: Vec<_> = missions.iter().map(|m| store.lock(m).unwrap()).collect();
    let running = Arc::new(AtomicU32::new(0));
    let most = Arc::new(AtomicU32::new(0));
    let threads: Vec<_> = missions
        .iter()
        .map(|mission| {
            let (mission, running, most) = (mission.clone(), running.clone(), most.clone());
            let mut store = db.open();
            std::thread::spawn(move || {
                let mut starts = 0;
                while starts < 20 {
                    let admission = store.take_slot(&demand(&mission, 0, 0, 1), at(1)).unwrap();
                    if !started(&admission) {
                        continue;
                    }
                    starts += 1;
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    running.fetch_sub(1, Ordering::SeqCst);
                    store.publish_shares(&[demand(&mission, 0, 0, 0)]).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "dev has one slot");
}
}

/// Advisory locks are per database: a run of mission 1 in another
/// database on the same server does not make this database's mission 1
/// look alive.
#[test]
fn a_run_in_another_database_on_the_server_is_not_this_ones() {
    let Some(Twins {
        mut here,
        mine,
        running_there: _held,
        ..
    }) = twins()
    else {
        return;
    };
    here.publish_shares(&[demand(&mine, 0, 1, 0)]).unwrap();
    assert!(
        here.shares().unwrap().is_empty(),
        "no run holds {mine} here"
    );
}

#[test]
fn a_mission_locked_in_another_database_on_the_server_is_not_locked_here() {
    let Some(Twins {
        here,
        there,
        mine,
        running_there: _held,
    }) = twins()
    else {
        return;
    };
    assert!(there.is_locked(&mine).unwrap());
    assert!(!here.is_locked(&mine).unwrap(), "no run holds {mine} here");
    let _running_here = here.lock(&mine).expect("the lock is this database's own");
    assert!(here.is_locked(&mine).unwrap());
}

/// The same mission (same ID, same lock_id) in two databases of one
/// PostgreSQL server, run (locked) in the other one only.
struct Twins {
    here: Box<dyn Store>,
    there: Box<dyn Store>,
    mine: String,
    /// Bind it (`running_there: _held`): a field left to `..` is dropped,
    /// and the lock with it.
    running_there: techlead_store::MissionLock,
}

fn twins() -> Option<Twins> {
    let (here, there) = (support::Fixture::postgres()?, support::Fixture::postgres()?);
    let (mut here, mut there) = (here.open(), there.open());
    let mine = here.create_mission(&abc(), at(0)).unwrap();
    let other = there.create_mission(&abc(), at(0)).unwrap();
    assert_eq!(mine, other, "the same ID, and the same lock_id");
    let running = there.lock(&other).unwrap();
    Some(Twins {
        here,
        there,
        mine,
        running_there: running,
    })
}
