//! Webhook deliveries in the run's process (docs/running.md, "Webhooks").
//!
//! The mission actor never waits for a webhook: an [`Observer`] placed in
//! front of the run's own sees each event once it is durable, and hands
//! the ones a webhook hears to a background task without blocking. That
//! task POSTs each to each webhook hearing it, signed, trying again with
//! backoff (`core::webhook`'s schedule), and a thread of its own writes
//! every try to the store. At start, what the record says is still owed
//! (a crash or an earlier run's end cut it off) is sent again with its
//! next try number; what was delivered is never sent again. At the end
//! the run gives deliveries a bounded time, then says what is left.

mod send;

use crate::mission::Observer;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use techlead_core::state::{EventRecord, MissionState, Tally};
use techlead_core::webhook::{
    self, DeliveryState, DeliveryTry, HookEvent, Verdict, Webhook, retry_delay, verdict,
};
use techlead_store::Store;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::{JoinHandle, JoinSet};

/// Why webhooks cannot run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("webhook `{hook}` signs its deliveries with the secret in ${var}, which is not set")]
    MissingSecret { hook: String, var: String },
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
    #[error("cannot prepare webhook deliveries: {0}")]
    Setup(String),
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::MissingSecret { var, .. } => Some(format!(
                "set {var} to the secret the receiver checks signatures with (`export {var}=...`), then start again; nothing has run yet"
            )),
            Error::Store(error) => error.hint().map(String::from),
            Error::Setup(_) => None,
        }
    }
}

/// Each webhook's secret, read from the environment by this run.
pub struct Secrets(HashMap<String, Arc<[u8]>>);

impl Secrets {
    /// Secrets by webhook name, given rather than read from the
    /// environment (a program embedding the engine, tests).
    pub fn given<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Secrets {
        Secrets(
            pairs
                .into_iter()
                .map(|(hook, secret)| (hook.to_string(), Arc::from(secret)))
                .collect(),
        )
    }
}

/// Reads the secret of every webhook from the variable its `secret_env`
/// names. A missing or empty one is an error before anything runs: an
/// unsigned delivery would be refused by a receiver that checks, and one
/// that does not check should not be handed a secret-less hook silently.
pub fn secrets(hooks: &[Webhook]) -> Result<Secrets, Error> {
    let mut secrets = HashMap::new();
    for hook in hooks {
        let value = std::env::var_os(&hook.secret_env).filter(|v| !v.is_empty());
        let Some(value) = value else {
            return Err(Error::MissingSecret {
                hook: hook.name.clone(),
                var: hook.secret_env.clone(),
            });
        };
        secrets.insert(hook.name.clone(), Arc::from(value.into_encoded_bytes()));
    }
    Ok(Secrets(secrets))
}

/// How deliveries are paced.
#[derive(Debug, Clone)]
pub struct Options {
    /// The wait after a first failed try; later waits grow from it.
    pub first_retry: Duration,
    /// The longest one try may take, connection included.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            first_retry: Duration::from_secs(2),
            timeout: Duration::from_secs(10),
        }
    }
}

impl Options {
    /// The defaults, with `TECHLEAD_WEBHOOK_FIRST_RETRY_MS` for the first
    /// wait (tests, and receivers on this machine that restart quickly).
    pub fn from_env() -> Options {
        let mut options = Options::default();
        if let Some(ms) = std::env::var("TECHLEAD_WEBHOOK_FIRST_RETRY_MS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
        {
            options.first_retry = Duration::from_millis(ms);
        }
        options
    }
}

/// A delivery that had not succeeded when the run stopped waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub hook: String,
    pub seq: u64,
    /// Tries may be left: a later `resume` makes them.
    pub gave_up: bool,
    pub last_error: Option<String>,
}

/// What the deliveries of this run came to.
#[derive(Debug, Default)]
pub struct Ending {
    pub delivered: usize,
    pub undelivered: Vec<Undelivered>,
    /// Whether the wait ran out with tries still going.
    pub timed_out: bool,
    /// A try the store could not record (it may be made again).
    pub record_error: Option<String>,
}

/// The deliveries of one run of a mission. Made before the mission is
/// opened (its observer must see the events of the take-over too), started
/// once the run holds the mission's lock (only the mission's one writer
/// delivers), finished when the run ends.
pub struct Webhooks {
    hooks: Vec<Webhook>,
    secrets: Option<Secrets>,
    options: Options,
    intake: UnboundedSender<Intake>,
    incoming: Option<UnboundedReceiver<Intake>>,
    running: Option<Running>,
}

/// The background part, once started.
struct Running {
    coordinator: JoinHandle<()>,
    recorder: std::thread::JoinHandle<Option<String>>,
    ledger: Arc<Mutex<Ledger>>,
}

enum Intake {
    Event(Box<EventRecord>),
    Close,
}

/// What is owed, for the ending.
#[derive(Default)]
struct Ledger {
    delivered: usize,
    /// By (hook, seq): whether tries are over, and the last error.
    open: BTreeMap<(String, u64), (bool, Option<String>)>,
}

/// What every delivery task shares.
struct Shared {
    mission: String,
    name: String,
    hooks: Vec<Webhook>,
    secrets: Secrets,
    client: reqwest::Client,
    options: Options,
    record: Mutex<mpsc::Sender<DeliveryTry>>,
    ledger: Arc<Mutex<Ledger>>,
}

impl Webhooks {
    /// Deliveries to `hooks`, signed with `secrets`; nothing is sent
    /// before [`Webhooks::start`].
    pub fn new(hooks: Vec<Webhook>, secrets: Secrets, options: Options) -> Webhooks {
        let (intake, incoming) = unbounded_channel();
        Webhooks {
            hooks,
            secrets: Some(secrets),
            options,
            intake,
            incoming: Some(incoming),
            running: None,
        }
    }

    /// An observer that shows events as `inner` does and passes the ones a
    /// webhook hears to the deliveries, without waiting for them. The
    /// engine calls observers only with durable events, so nothing is
    /// announced that a crash could take back.
    pub fn observe(&self, inner: Box<dyn Observer>) -> Box<dyn Observer> {
        Box::new(Tee {
            inner,
            intake: self.intake.clone(),
        })
    }

    /// Starts delivering for mission `mission` (named `name`): first what
    /// the record says is still owed, then what the observer passes on.
    /// `store` is a handle of its own (the run's is the actor's); it
    /// records every try. Call within a tokio runtime, once the run holds
    /// the mission's lock.
    pub fn start<S: Store + 'static>(
        &mut self,
        store: S,
        mission: &str,
        name: &str,
    ) -> Result<(), Error> {
        let (Some(secrets), Some(mut incoming)) = (self.secrets.take(), self.incoming.take())
        else {
            return Ok(());
        };
        let events = store.events(mission, 0)?;
        // Events up to here are owed from the record; the observer's copies
        // of them are dropped.
        let scanned = events.last().map_or(0, |r| r.seq);
        let owed = webhook::deliveries(&self.hooks, &events, store.deliveries(mission)?);
        let mut due = Vec::new();
        for delivery in owed {
            if let DeliveryState::Pending { next } = delivery.state() {
                let record = events
                    .iter()
                    .find(|r| r.seq == delivery.seq)
                    .cloned()
                    .expect("owed deliveries are of recorded events");
                due.push((delivery.hook, Arc::new(record), next));
            }
        }
        drop(events);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(self.options.timeout)
            .user_agent(concat!("techlead/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        let (record, recorded) = mpsc::channel();
        let recorder = spawn_recorder(store, mission.to_string(), recorded)?;
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let shared = Arc::new(Shared {
            mission: mission.to_string(),
            name: name.to_string(),
            hooks: self.hooks.clone(),
            secrets,
            client,
            options: self.options.clone(),
            record: Mutex::new(record),
            ledger: ledger.clone(),
        });
        let coordinator = tokio::spawn(async move {
            let mut deliveries = JoinSet::new();
            for (hook, record, next) in due {
                deliveries.spawn(deliver(shared.clone(), hook, record, next));
            }
            loop {
                tokio::select! {
                    intake = incoming.recv() => match intake {
                        Some(Intake::Event(record)) if record.seq > scanned => {
                            let record = Arc::new(*record);
                            let Some(kind) = HookEvent::of(&record.event) else { continue };
                            for hook in shared.hooks.iter().filter(|h| h.hears(kind)) {
                                deliveries.spawn(deliver(shared.clone(), hook.name.clone(), record.clone(), 1));
                            }
                        }
                        Some(Intake::Event(_)) => {}
                        Some(Intake::Close) | None => break,
                    },
                    Some(_) = deliveries.join_next(), if !deliveries.is_empty() => {}
                }
            }
            while deliveries.join_next().await.is_some() {}
        });
        self.running = Some(Running {
            coordinator,
            recorder,
            ledger,
        });
        Ok(())
    }

    /// Takes no more events and gives the deliveries under way up to
    /// `wait` to end; what is left then stops (a later resume tries it
    /// again while it has tries left). Every try made is recorded when
    /// this returns.
    pub async fn finish(self, wait: Duration) -> Ending {
        let _ = self.intake.send(Intake::Close);
        let Some(mut running) = self.running else {
            return Ending::default();
        };
        let timed_out = tokio::time::timeout(wait, &mut running.coordinator)
            .await
            .is_err();
        if timed_out {
            running.coordinator.abort();
            let _ = (&mut running.coordinator).await;
        }
        // The recorder ends once the last delivery task (and with it the
        // last sender) is gone; it only has local writes left.
        let recorder = running.recorder;
        let record_error = tokio::task::spawn_blocking(move || recorder.join())
            .await
            .ok()
            .and_then(|joined| joined.unwrap_or(Some("the recorder stopped".into())));
        let ledger = std::mem::take(&mut *running.ledger.lock().unwrap_or_else(|e| e.into_inner()));
        Ending {
            delivered: ledger.delivered,
            undelivered: ledger
                .open
                .into_iter()
                .map(|((hook, seq), (gave_up, last_error))| Undelivered {
                    hook,
                    seq,
                    gave_up,
                    last_error,
                })
                .collect(),
            timed_out,
            record_error,
        }
    }
}

/// Writes every try to the store, in the order they ended, off the
/// runtime's thread (a commit waits for the disk). Returns the first
/// error, if any.
fn spawn_recorder<S: Store + 'static>(
    mut store: S,
    mission: String,
    tries: mpsc::Receiver<DeliveryTry>,
) -> Result<std::thread::JoinHandle<Option<String>>, Error> {
    std::thread::Builder::new()
        .name("webhook-record".into())
        .spawn(move || {
            let mut first_error = None;
            for attempt in tries {
                if let Err(error) = store.record_delivery(&mission, &attempt) {
                    first_error.get_or_insert_with(|| error.to_string());
                }
            }
            first_error
        })
        .map_err(|e| Error::Setup(e.to_string()))
}

/// Delivers one event to one webhook, from try `number` on, until it is
/// delivered, refused, or out of tries.
async fn deliver(shared: Arc<Shared>, hook: String, record: Arc<EventRecord>, mut number: u32) {
    let Some(webhook) = shared.hooks.iter().find(|h| h.name == hook) else {
        return;
    };
    let (Some(event), Some(body)) = (
        HookEvent::of(&record.event),
        webhook::payload(&shared.mission, &shared.name, &hook, &record),
    ) else {
        return;
    };
    let id = webhook::delivery_id(&shared.mission, record.seq, &hook);
    let key = (hook.clone(), record.seq);
    shared.update(|l| {
        l.open.insert(key.clone(), (false, None));
    });
    let secret = shared.secrets.0.get(&hook).cloned().unwrap_or_default();
    loop {
        let at = jiff::Timestamp::now();
        let answer = send::once(
            &shared.client,
            send::Request {
                url: &webhook.url,
                event,
                delivery: &id,
                body: &body,
                secret: &secret,
            },
        )
        .await;
        let judged = verdict(answer.status);
        let _ = shared
            .record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(DeliveryTry {
                hook: hook.clone(),
                seq: record.seq,
                number,
                at,
                status: answer.status,
                error: answer.error.clone(),
                duration_ms: answer.duration.as_millis() as u64,
                delivered: judged == Verdict::Delivered,
            });
        let wait = match judged {
            Verdict::Delivered => None,
            Verdict::Refused => None,
            Verdict::Retry => {
                retry_delay(number, shared.options.first_retry, &id, answer.retry_after)
            }
        };
        shared.update(|l| match (judged, wait) {
            (Verdict::Delivered, _) => {
                l.open.remove(&key);
                l.delivered += 1;
            }
            (_, gave_up) => {
                l.open
                    .insert(key.clone(), (gave_up.is_none(), answer.error.clone()));
            }
        });
        let Some(wait) = wait else { return };
        tokio::time::sleep(wait).await;
        number += 1;
    }
}

impl Shared {
    fn update(&self, change: impl FnOnce(&mut Ledger)) {
        change(&mut self.ledger.lock().unwrap_or_else(|e| e.into_inner()));
    }
}

/// The run's observer, with the webhooks listening in.
struct Tee {
    inner: Box<dyn Observer>,
    intake: UnboundedSender<Intake>,
}

impl Observer for Tee {
    fn event(&mut self, record: &EventRecord, tally: &Tally, state: &MissionState) {
        self.inner.event(record, tally, state);
        if HookEvent::of(&record.event).is_some() {
            let _ = self.intake.send(Intake::Event(Box::new(record.clone())));
        }
    }

    fn batch_end(&mut self) {
        self.inner.batch_end();
    }
}
