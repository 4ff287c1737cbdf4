//! Slots of an agent that several missions share (`portfolio::slots`):
//! never more attempts than its `max_parallel` across missions, the
//! highest priority first, weighted fair share among equals, and no
//! mission waiting forever.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use techlead_core::portfolio::slots::{Admission, Demand, PATIENCE, Wait, admit};

fn ts(secs: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + secs).unwrap()
}

fn demand(mission: &str, priority: i32, share: u32, held: u32, waiting: u32) -> Demand {
    Demand {
        mission: mission.into(),
        agent: "dev".into(),
        priority,
        share,
        slots: 2,
        held,
        waiting,
        waiting_since: (waiting > 0).then(|| ts(0)),
        updated_at: ts(0),
    }
}

fn starts(me: &Demand, others: &[Demand]) -> bool {
    admit(me, others, ts(1)) == Admission::Start
}

#[test]
fn a_full_agent_admits_nobody_and_says_who_holds_it() {
    let me = demand("low-1", 0, 1, 0, 1);
    let others = [demand("alpha-1", 10, 1, 1, 0), demand("beta-1", 0, 1, 1, 3)];
    let Admission::Wait(wait) = admit(&me, &others, ts(1)) else {
        panic!("two of two slots are held");
    };
    assert_eq!(
        wait.describe("dev"),
        "dev is busy with missions alpha-1 (priority 10), beta-1 (priority 0)"
    );
    // The smallest max_parallel any mission recorded is the limit.
    let mut small = others.clone();
    small[1].slots = 1;
    small[1].held = 0;
    assert!(!starts(&me, &small), "alpha-1 holds the one slot");
}

#[test]
fn the_highest_priority_waiting_mission_goes_first() {
    let low = demand("low-1", 0, 1, 0, 1);
    let high = demand("high-1", 10, 1, 1, 2);
    // One slot free: high waits for it too, and outranks low.
    let Admission::Wait(wait) = admit(&low, std::slice::from_ref(&high), ts(1)) else {
        panic!("high goes first");
    };
    assert_eq!(
        wait.describe("dev"),
        "dev goes to mission high-1 first (priority 10)"
    );
    assert!(starts(&high, std::slice::from_ref(&low)));
    // Two slots free: high takes one, low the other.
    let mut idle = high.clone();
    idle.held = 0;
    idle.waiting = 1;
    assert!(starts(&low, &[idle]));
    // A mission that waits for nothing leaves the slot to whoever asks.
    let mut done = high;
    done.waiting = 0;
    assert!(starts(&low, &[done]));
}

#[test]
fn equal_priorities_share_slots_by_weight() {
    // a holds 1 with share 2 (0.5 per share), b holds 1 with share 1.
    let mut a = demand("a-1", 5, 2, 1, 1);
    let mut b = demand("b-1", 5, 1, 1, 1);
    a.slots = 3;
    b.slots = 3;
    assert!(starts(&a, std::slice::from_ref(&b)));
    assert!(!starts(&b, std::slice::from_ref(&a)));
    // With a holding 2 (1.0 per share), b's turn (1.0, waited as long: by ID a first)...
    a.held = 2;
    b.held = 0;
    assert!(
        starts(&b, std::slice::from_ref(&a)),
        "b holds least per share"
    );
}

#[test]
fn no_mission_waits_forever_behind_a_higher_priority() {
    // One slot, tasks of 10 s; `high` always has work waiting. Each time
    // the slot frees, the mission `admit` lets start takes it.
    let task = SignedDuration::from_secs(10);
    let mut high = demand("high-1", 10, 1, 0, 5);
    let mut low = demand("low-1", 0, 1, 0, 1);
    for d in [&mut high, &mut low] {
        d.slots = 1;
    }
    let mut now = ts(0);
    let mut low_starts = Vec::new();
    for _ in 0..60 {
        let (h, l) = (high.clone(), low.clone());
        let (winner, loser) = match (
            admit(&h, std::slice::from_ref(&l), now),
            admit(&l, &[h], now),
        ) {
            (Admission::Start, Admission::Start) => panic!("two missions took one slot"),
            (Admission::Start, _) => (&mut high, &mut low),
            (_, Admission::Start) => {
                low_starts.push(now);
                (&mut low, &mut high)
            }
            _ => panic!("a free slot went to nobody"),
        };
        winner.waiting_since = Some(now);
        loser.waiting_since.get_or_insert(now);
        now += task;
    }
    assert!(!low_starts.is_empty(), "low never ran");
    let mut last = ts(0);
    for at in &low_starts {
        assert!(
            at.duration_since(last) <= PATIENCE + task,
            "low waited {} between starts",
            at.duration_since(last)
        );
        last = *at;
    }
    assert!(
        low_starts.len() < 10,
        "high still goes first most of the time: {}",
        low_starts.len()
    );
}

#[test]
fn a_mission_that_waited_longest_is_named() {
    let mut old = demand("old-1", 0, 1, 0, 1);
    old.waiting_since = Some(ts(0));
    let mut me = demand("high-1", 10, 1, 1, 1);
    me.waiting_since = Some(ts(100));
    let Admission::Wait(wait) = admit(&me, &[old], ts(0) + PATIENCE) else {
        panic!("old has waited its patience out");
    };
    assert!(matches!(wait, Wait::Behind { aged: true, .. }));
    assert_eq!(
        wait.describe("dev"),
        "dev goes to mission old-1 first (it has waited longest)"
    );
}

proptest! {
    /// Every mission asks with the others' demands as published: no more
    /// start than there are free slots, and a free slot is never left
    /// while someone waits.
    #[test]
    fn missions_never_take_more_slots_than_are_free(
        rows in prop::collection::vec((0i32..3, 1u32..4, 0u32..3, 0u32..3, 0i64..300), 2..5),
        slots in 1u32..5,
    ) {
        let demands: Vec<Demand> = rows
            .iter()
            .enumerate()
            .map(|(i, &(priority, share, held, waiting, since))| Demand {
                mission: format!("m{i}-1"),
                agent: "dev".into(),
                priority,
                share,
                slots,
                held,
                waiting,
                waiting_since: (waiting > 0).then(|| ts(since)),
                updated_at: ts(0),
            })
            .collect();
        let now = ts(400);
        let held: u32 = demands.iter().map(|d| d.held).sum();
        let free = slots.saturating_sub(held);
        let waiting: Vec<&Demand> = demands.iter().filter(|d| d.waiting > 0).collect();
        let started = waiting
            .iter()
            .filter(|me| {
                let others: Vec<Demand> =
                    demands.iter().filter(|d| d.mission != me.mission).cloned().collect();
                admit(me, &others, now) == Admission::Start
            })
            .count() as u32;
        prop_assert!(started <= free, "{started} started with {free} free");
        if free > 0 && !waiting.is_empty() {
            prop_assert!(started >= 1, "a free slot was left while missions waited");
        }
    }
}

#[test]
fn a_mission_file_gives_its_priority_as_a_number_and_its_share() {
    use techlead_core::spec;
    let parsed = spec::parse("mission: {name: m, priority: 10, share: 2}\ntasks: [{title: t}]\n");
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let mission = parsed.mission.unwrap();
    assert_eq!((mission.standing.priority, mission.standing.share), (10, 2));
    assert_eq!(mission.priority, None, "a number is not an emergency");

    let critical = spec::parse("mission: {name: m, priority: critical}\ntasks: [{title: t}]\n");
    let mission = critical.mission.unwrap();
    assert_eq!(mission.priority, Some(techlead_core::Priority::Critical));
    assert_eq!(mission.standing.priority, 0);

    let bad = spec::parse("mission: {name: m, priority: urgent, share: 0}\ntasks: [{title: t}]\n");
    let codes: Vec<&str> = bad.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["spec::bad-priority", "spec::out-of-range"]);
    assert!(
        bad.diagnostics[0]
            .hint
            .as_deref()
            .unwrap()
            .contains("a whole number")
    );
}
