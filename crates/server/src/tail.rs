//! One tail per followed mission, shared by every client following it
//! (SSE and WebSocket alike): a task that, on each commit the watcher
//! notices (`commits`), reads the mission's new events once, renders each
//! as JSON once, and broadcasts them, one message per commit (so a
//! client wakes and flushes once per commit). A client's [`Follow`]
//! catches up from the database, then takes the broadcast.
//!
//! Why no event is lost or repeated between the two:
//! - a tail reads its starting seq before anyone subscribes to it, and
//!   broadcasts every event after that seq, each after its commit;
//! - a follower subscribes first and reads the database second, so an
//!   event broadcast before it subscribed was committed before its read
//!   and is in what it read, and one broadcast after is in its receiver;
//! - it sends only the seq after the last one it sent: an older one is the
//!   overlap of the two and is skipped; a newer one (a gap), a receiver
//!   that fell behind the broadcast's buffer (`Lagged`) or a tail that
//!   ended sends it back to the database for what it missed.

use crate::api::record_json;
use crate::commits::{Commits, Following};
use crate::db::{self, Db};
use crate::error::ApiError;
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use techlead_core::state::{Event, EventRecord};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::sync::watch;

/// The most events a follower takes from the broadcast at once (it takes
/// whole commits, so a batch may pass this by one commit's events).
const BATCH: usize = 512;

/// The events of one commit, in order.
type Commit = Arc<[Arc<Item>]>;

/// One event as every follower sends it.
#[derive(Debug)]
pub struct Item {
    pub seq: u64,
    /// The event's type (`attempt_started`).
    pub kind: String,
    /// The record as `techlead run --json` prints it, shared without a
    /// copy by every WebSocket it is sent to.
    pub json: Utf8Bytes,
    /// `mission_finished`: the feed ends after it.
    pub last: bool,
}

impl Item {
    fn of(mission: &str, record: &EventRecord) -> Item {
        let json = record_json(mission, record);
        let kind = json["event"]["type"]
            .as_str()
            .unwrap_or("event")
            .to_string();
        Item {
            seq: record.seq,
            kind,
            json: json.to_string().into(),
            last: matches!(record.event, Event::MissionFinished { .. }),
        }
    }
}

/// What a follower's next step brought.
pub enum Next {
    /// Events to send, in order, each the seq after the one before.
    Items(Vec<Arc<Item>>),
    /// The mission finished and its last event was sent.
    End,
    /// The server is stopping.
    Stopping,
}

/// The missions being tailed.
pub struct Tails {
    db: Db,
    commits: Commits,
    live: Mutex<HashMap<String, broadcast::Sender<Commit>>>,
    stopping: watch::Receiver<bool>,
    /// Commits a tail keeps for followers still sending earlier ones
    /// (`Config::feed_buffer`).
    buffer: usize,
    followers: AtomicUsize,
    fallbacks: AtomicU64,
}

impl Tails {
    pub fn new(
        db: Db,
        commits: Commits,
        stopping: watch::Receiver<bool>,
        buffer: usize,
    ) -> Arc<Tails> {
        Arc::new(Tails {
            db,
            commits,
            live: Mutex::default(),
            stopping,
            buffer: buffer.max(1),
            followers: AtomicUsize::new(0),
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Mission `mission` (an ID) from the event after `after`.
    pub fn follow(self: &Arc<Tails>, mission: String, after: u64) -> Follow {
        self.followers.fetch_add(1, Ordering::Relaxed);
        Follow {
            tails: self.clone(),
            mission,
            after,
            live: None,
            behind: true,
            ended: false,
        }
    }

    /// Clients following a mission now.
    pub fn followers(&self) -> usize {
        self.followers.load(Ordering::Relaxed)
    }

    /// Times a follower fell behind its tail (or found a gap) and read
    /// what it missed from the database.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Missions tailed now.
    pub fn tailed(&self) -> usize {
        self.live.lock().expect("never poisoned").len()
    }

    /// A receiver of the mission's tail, started if there is none.
    async fn subscribe(
        self: &Arc<Tails>,
        mission: &str,
    ) -> Result<broadcast::Receiver<Commit>, ApiError> {
        if let Some(sender) = self.live.lock().expect("never poisoned").get(mission) {
            return Ok(sender.subscribe());
        }
        // Commits are watched from before the starting seq is read, so one
        // landing between the read and the tail's first wait still wakes it.
        let (commits, following) = self.commits.follow();
        let id = mission.to_string();
        let start = self
            .db
            .read(move |store| Ok(db::mission(store, &id)?.last_seq))
            .await?;
        let mut live = self.live.lock().expect("never poisoned");
        if let Some(sender) = live.get(mission) {
            return Ok(sender.subscribe()); // started meanwhile by another
        }
        let (sender, receiver) = broadcast::channel(self.buffer);
        live.insert(mission.to_string(), sender.clone());
        let tail = Tail {
            tails: self.clone(),
            mission: mission.to_string(),
            seq: start,
            sender,
            commits,
            _following: following,
        };
        tokio::spawn(tail.run());
        Ok(receiver)
    }

    /// Takes the tail out of the map when it has no receiver left (under
    /// the lock that subscribing takes, so none can join it after), or
    /// always when `ended`. Whether it was taken out.
    fn retire(&self, mission: &str, sender: &broadcast::Sender<Commit>, ended: bool) -> bool {
        let mut live = self.live.lock().expect("never poisoned");
        if !ended && sender.receiver_count() > 0 {
            return false;
        }
        if live.get(mission).is_some_and(|s| s.same_channel(sender)) {
            live.remove(mission);
        }
        true
    }
}

/// The task that reads one mission's new events for all its followers.
struct Tail {
    tails: Arc<Tails>,
    mission: String,
    /// The last seq broadcast.
    seq: u64,
    sender: broadcast::Sender<Commit>,
    commits: watch::Receiver<u64>,
    _following: Following,
}

impl Tail {
    async fn run(mut self) {
        let mut stopping = self.tails.stopping.clone();
        loop {
            tokio::select! {
                changed = self.commits.changed() => if changed.is_err() { break },
                _ = self.sender.closed() => {
                    if self.tails.retire(&self.mission, &self.sender, false) {
                        return;
                    }
                    continue;
                }
                _ = stopping.wait_for(|stop| *stop) => break,
            }
            let (id, after) = (self.mission.clone(), self.seq);
            // On an error the tail ends: its followers go back to the
            // database, which tells each client what went wrong.
            let Ok(records) = self
                .tails
                .db
                .read(move |store| Ok(store.events(&id, after)?))
                .await
            else {
                break;
            };
            let mut commit = Vec::with_capacity(records.len());
            for record in &records {
                commit.push(Arc::new(Item::of(&self.mission, record)));
                if matches!(record.event, Event::MissionFinished { .. }) {
                    break;
                }
            }
            let Some(last) = commit.last().cloned() else {
                continue; // another mission's commit
            };
            self.seq = last.seq;
            // No receiver now is not an error: one may subscribe next.
            let _ = self.sender.send(commit.into());
            if last.last {
                break;
            }
        }
        // Followers still receive what was sent, then `Closed`.
        self.tails.retire(&self.mission, &self.sender, true);
    }
}

/// One client's place in a mission's events.
pub struct Follow {
    tails: Arc<Tails>,
    mission: String,
    /// The last seq handed out.
    after: u64,
    live: Option<broadcast::Receiver<Commit>>,
    /// Whether the database must be read before taking the broadcast.
    behind: bool,
    ended: bool,
}

impl Drop for Follow {
    fn drop(&mut self) {
        self.tails.followers.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Follow {
    /// The next events. Cancel-safe: nothing is handed out or skipped
    /// unless this returns.
    pub async fn next(&mut self) -> Result<Next, ApiError> {
        let mut stopping = self.tails.stopping.clone();
        tokio::select! {
            biased;
            _ = stopping.wait_for(|stop| *stop) => Ok(Next::Stopping),
            next = self.step() => next,
        }
    }

    async fn step(&mut self) -> Result<Next, ApiError> {
        loop {
            if self.ended {
                return Ok(Next::End);
            }
            if self.live.is_none() {
                self.live = Some(self.tails.subscribe(&self.mission).await?);
                self.behind = true;
            }
            if self.behind {
                let (items, finished) = self.catch_up().await?;
                self.behind = false;
                if let Some(last) = items.last() {
                    self.after = last.seq;
                    self.ended = last.last;
                    return Ok(Next::Items(items));
                }
                if finished {
                    self.ended = true;
                    return Ok(Next::End);
                }
            }
            let live = self.live.as_mut().expect("subscribed above");
            let mut received = live.recv().await;
            let mut batch = Vec::new();
            loop {
                match received {
                    Ok(commit) => {
                        for item in commit.iter() {
                            if item.seq <= self.after {
                                continue; // sent from the database
                            }
                            if item.seq > self.after + 1 {
                                self.behind = true; // a gap: the database has it
                                break;
                            }
                            self.after = item.seq;
                            self.ended = item.last;
                            batch.push(item.clone());
                        }
                        if self.behind {
                            self.tails.fallbacks.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        if self.ended || batch.len() >= BATCH {
                            break;
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        self.behind = true;
                        self.tails.fallbacks.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                    Err(RecvError::Closed) => {
                        self.live = None;
                        break;
                    }
                }
                received = match live.try_recv() {
                    Ok(commit) => Ok(commit),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                    Err(TryRecvError::Closed) => Err(RecvError::Closed),
                };
            }
            if !batch.is_empty() {
                return Ok(Next::Items(batch));
            }
        }
    }

    /// The events after `after` in the database, up to and including a
    /// `mission_finished`, and whether the mission finished with nothing
    /// left to send.
    async fn catch_up(&self) -> Result<(Vec<Arc<Item>>, bool), ApiError> {
        let (id, after) = (self.mission.clone(), self.after);
        self.tails
            .db
            .read(move |store| {
                // The row first: the events read after it hold at least
                // those up to its `last_seq`, so a finished row with
                // nothing after `after` means the last event was sent,
                // even when the run finished between the two reads.
                let row = db::mission(store, &id)?;
                if row.last_seq <= after {
                    return Ok((Vec::new(), row.status.is_finished()));
                }
                let mut items = Vec::new();
                for record in store.events(&id, after)? {
                    let item = Arc::new(Item::of(&id, &record));
                    let last = item.last;
                    items.push(item);
                    if last {
                        break;
                    }
                }
                Ok((items, false))
            })
            .await
    }
}
