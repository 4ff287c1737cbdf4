//! Events appended straight through the store, as fast as it commits:
//! what the feeds' tests race their clients against.

use super::Fixture;
use techlead_core::state::{AttemptOutcome, Event, MissionStatus, NextStep};

/// Appends `n` progress events to a running attempt through the store, in
/// batches of growing size (1, 2, 3, ... events per commit), each message
/// padded to at least `pad` bytes, then finishes the mission; returns the
/// last seq.
pub fn burst(f: &Fixture, id: &str, n: usize, pad: usize) -> u64 {
    let mut store = f.store();
    let now = jiff::Timestamp::now;
    let mut after = store.events(id, 0).unwrap().last().unwrap().seq;
    let mut append = |events: Vec<Event>| {
        let records = store
            .append(id, after, events.into_iter().map(|e| (now(), e)).collect())
            .unwrap();
        after = records.last().unwrap().seq;
    };
    let run = Event::RunStarted {
        run: 1,
        pid: std::process::id(),
        host: "test".into(),
    };
    let queued = Event::AttemptQueued {
        task: "T".into(),
        attempt: 1,
        agent: "agent-t".into(),
        executor: "command".into(),
        dir: "attempts/T/1".into(),
    };
    let started = Event::AttemptStarted {
        task: "T".into(),
        attempt: 1,
    };
    append(vec![run, queued, started]);
    let (mut sent, mut size) = (0, 1);
    while sent < n {
        let batch = size.min(n - sent);
        append(
            (sent..sent + batch)
                .map(|i| Event::AttemptProgress {
                    task: "T".into(),
                    attempt: 1,
                    percent: Some((i * 100 / n) as u8),
                    message: format!("step {i:0>pad$}"),
                })
                .collect(),
        );
        sent += batch;
        size += 1;
    }
    append(vec![
        Event::AttemptFinished {
            task: "T".into(),
            attempt: 1,
            outcome: AttemptOutcome::Succeeded { summary: None },
            duration_ms: 5,
            next: NextStep::Done,
        },
        Event::MissionFinished {
            status: MissionStatus::Succeeded,
        },
    ]);
    after
}
