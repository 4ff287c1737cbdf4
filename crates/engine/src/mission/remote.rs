//! Attempts run by workers (docs/workers.md): instead of spawning an
//! attempt, the actor puts it on the PostgreSQL work queue, and one pump
//! task per mission reads back what the workers send. Each message becomes
//! the [`Input`] a local attempt would have sent, so the actor records
//! remote work exactly as it records local work; an expired lease becomes
//! [`Input::LeaseExpired`] (recorded as a crash is: interrupted, run
//! again).
//!
//! For a mission with a repository, the pump also moves a task's branch
//! to the work its worker pushed, when it reads the worker's `Saved`,
//! before the actor hears of it (docs/workers.md, "Missions with a
//! repository").
//!
//! The pump also carries the actor's cancellations to the workers: every
//! attempt in flight keeps its cancel token, and a cancelled token (Ctrl-C,
//! abort, an emergency) is sent to the queue at the next round.

use super::{Input, Mission};
use crate::executor::Outcome;
use crate::worker::{RepoSpec, WorkSpec};
use crate::workspace::Workspaces;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use techlead_core::state::{
    AttemptOutcome, EscalationKind, Event, EventRecord, NextStep, TaskStatus,
};
use techlead_core::work::Message;
use techlead_store::Store;
use techlead_store::postgres::{NewWork, PgQueue, Polled, WorkKey};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often the coordinator looks at the queue while work is out.
pub const POLL: Duration = Duration::from_millis(20);

/// The actor's end of the pump.
pub(super) struct Remote {
    queue: Arc<PgQueue>,
    commands: mpsc::UnboundedSender<Flight>,
    /// Where workers fetch from and push to, for a mission with a
    /// repository.
    repository_url: Option<String>,
}

/// An attempt handed to the workers.
struct Flight {
    task: usize,
    key: (String, u32),
    /// `None` for an attempt a worker already had when this coordinator
    /// took over.
    work: Option<NewWork>,
    cancel: CancellationToken,
    /// Whether its cancellation was sent to the queue.
    asked: bool,
}

impl Remote {
    /// `workspaces` for a mission with a repository: workers reach it at
    /// `workers.repository_url`, else by its path on this machine.
    pub fn start(
        workers: super::Workers,
        mission: String,
        workspaces: Option<Arc<Workspaces>>,
        inputs: mpsc::UnboundedSender<Input>,
    ) -> Self {
        let (commands, received) = mpsc::unbounded_channel();
        let repository_url = workspaces.as_ref().map(|workspaces| {
            workers
                .repository_url
                .unwrap_or_else(|| workspaces.git().repo().display().to_string())
        });
        let queue = workers.queue;
        let repository = workspaces.zip(repository_url.clone());
        tokio::spawn(pump(queue.clone(), mission, repository, received, inputs));
        Remote {
            queue,
            commands,
            repository_url,
        }
    }

    pub fn queue(&self) -> &Arc<PgQueue> {
        &self.queue
    }

    /// Follows an attempt a worker already holds.
    pub fn follow(&self, task: usize, task_id: String, attempt: u32, cancel: CancellationToken) {
        let _ = self.commands.send(Flight {
            task,
            key: (task_id, attempt),
            work: None,
            cancel,
            asked: false,
        });
    }
}

impl<S: Store + 'static> Mission<S> {
    /// At take-over: the cut-off attempts a worker still has (queued,
    /// held under a live lease, or ended with its end not read yet) stay
    /// with it and are followed; the queue fences out every other. Returns
    /// those kept.
    pub(super) fn keep_with_workers(
        &mut self,
        cut_off: &[(usize, u32)],
        recorded: &HashMap<(String, u32), u64>,
    ) -> Result<Vec<(usize, u32)>, super::Error> {
        let queue = self.remote.as_ref().expect("with workers").queue().clone();
        let live = queue.live(&self.id)?;
        let kept: Vec<(usize, u32)> = cut_off
            .iter()
            .copied()
            .filter(|&(t, attempt)| {
                let task = &self.state.plan.tasks[t].id;
                live.iter().any(|(l, a, _)| l == task && *a == attempt)
            })
            .collect();
        let keep = kept
            .iter()
            .map(|&(t, attempt)| {
                let task = self.state.plan.tasks[t].id.clone();
                let read = recorded.get(&(task.clone(), attempt)).copied();
                (task, attempt, read.unwrap_or(0))
            })
            .collect();
        queue.take_over(&self.id, keep)?;
        for &(t, attempt) in &kept {
            let task = self.state.plan.tasks[t].id.clone();
            if self.state.tasks[t].status == TaskStatus::Queued {
                self.stage(Event::AttemptStarted {
                    task: task.clone(),
                    attempt,
                })?;
            }
            let cancel = CancellationToken::new();
            let remote = self.remote.as_ref().expect("with workers");
            remote.follow(t, task, attempt, cancel.clone());
            self.running.insert(
                t,
                super::Running {
                    cancel,
                    pid: Default::default(),
                },
            );
        }
        Ok(kept)
    }

    /// A worker's lease ran out: the attempt is recorded as one a crash
    /// cut off, and the task runs again. Whatever that worker sends later
    /// is refused by the queue.
    pub(super) fn lease_expired(&mut self, t: usize, attempt: u32) -> Result<(), super::Error> {
        self.running.remove(&t);
        self.stage(Event::AttemptFinished {
            task: self.state.plan.tasks[t].id.clone(),
            attempt,
            outcome: AttemptOutcome::Interrupted,
            duration_ms: 0,
            next: NextStep::Requeue,
        })?;
        self.start_claims()?;
        self.launch();
        Ok(())
    }
}

/// Puts the task's current attempt on the queue.
pub(super) fn dispatch<S: Store>(mission: &Mission<S>, task: usize, cancel: CancellationToken) {
    let remote = mission
        .remote
        .as_ref()
        .expect("dispatched only with workers");
    let spec = super::attempt::spec(mission, task);
    let plan = &mission.state.plan.tasks[task];
    let mut work_spec = WorkSpec::of(&spec, &plan.executor);
    work_spec.repository = remote.repository_url.as_ref().map(|url| RepoSpec {
        url: url.clone(),
        remote_ref: crate::worker::remote_ref(&mission.id, &plan.id),
        resolve_conflict: mission.state.tasks[task].work.conflict.is_some(),
    });
    let work = NewWork {
        key: WorkKey {
            mission: mission.id.clone(),
            task: plan.id.clone(),
            attempt: spec.attempt,
        },
        executor: plan.executor.clone(),
        labels: plan.detail.labels.clone(),
        spec: serde_json::to_string(&work_spec).expect("a spec serialises"),
    };
    let _ = remote.commands.send(Flight {
        task,
        key: (plan.id.clone(), spec.attempt),
        work: Some(work),
        cancel,
        asked: false,
    });
}

/// How many messages of each attempt the record already holds: every
/// message but the end becomes one event.
pub(super) fn recorded(records: &[EventRecord]) -> HashMap<(String, u32), u64> {
    let mut counts = HashMap::new();
    for record in records {
        let key = match &record.event {
            Event::AttemptProgress { task, attempt, .. }
            | Event::AttemptReported { task, attempt, .. }
            | Event::AttemptUsage { task, attempt, .. }
            | Event::WorkSaved { task, attempt, .. } => (task.clone(), *attempt),
            Event::EscalationRaised {
                kind: EscalationKind::Question,
                tasks,
                message,
                ..
            } => match question_attempt(tasks, message) {
                Some(key) => key,
                None => continue,
            },
            _ => continue,
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// The attempt a question escalation came from, read back from its
/// message (`T1 (attempt 2) asks: ...`).
fn question_attempt(tasks: &[String], message: &str) -> Option<(String, u32)> {
    let task = tasks.first()?;
    let rest = message
        .strip_prefix(task.as_str())?
        .strip_prefix(" (attempt ")?;
    let (number, _) = rest.split_once(')')?;
    Some((task.clone(), number.parse().ok()?))
}

async fn pump(
    queue: Arc<PgQueue>,
    mission: String,
    repository: Option<(Arc<Workspaces>, String)>,
    mut commands: mpsc::UnboundedReceiver<Flight>,
    inputs: mpsc::UnboundedSender<Input>,
) {
    let mut flights: HashMap<(String, u32), Flight> = HashMap::new();
    let mut to_enqueue: Vec<NewWork> = Vec::new();
    loop {
        let first = if flights.is_empty() {
            commands.recv().await
        } else {
            tokio::select! {
                flight = commands.recv() => flight,
                () = tokio::time::sleep(POLL) => None,
            }
        };
        let mut arrived: Vec<Flight> = first.into_iter().collect();
        while let Ok(flight) = commands.try_recv() {
            arrived.push(flight);
        }
        if arrived.is_empty() && flights.is_empty() && commands.is_closed() {
            return;
        }
        for mut flight in arrived {
            to_enqueue.extend(flight.work.take());
            flights.insert(flight.key.clone(), flight);
        }
        let cancels: Vec<(String, u32)> = flights
            .values_mut()
            .filter(|f| f.cancel.is_cancelled() && !f.asked)
            .map(|f| {
                f.asked = true;
                f.key.clone()
            })
            .collect();
        let (q, m, r) = (queue.clone(), mission.clone(), repository.clone());
        let batch = std::mem::take(&mut to_enqueue);
        let round = tokio::task::spawn_blocking(move || {
            let (never_claimed, polled) = round(&q, &m, batch, cancels)?;
            let unadopted = match &r {
                Some((workspaces, url)) => adopt(workspaces, url, &m, &polled),
                None => HashMap::new(),
            };
            Ok((never_claimed, polled, unadopted))
        })
        .await;
        match round {
            Ok(Ok((never_claimed, polled, unadopted))) => {
                forward(&mut flights, never_claimed, polled, unadopted, &inputs);
            }
            // The database is away: the same round again next time. What
            // was enqueued is enqueued again (the queue ignores repeats);
            // cancellations are asked for again.
            Ok(Err((batch, _))) => {
                to_enqueue = batch;
                for flight in flights.values_mut() {
                    flight.asked = false;
                }
            }
            Err(_) => return,
        }
    }
}

type RoundError = (Vec<NewWork>, techlead_store::Error);

/// One round trip: new work, cancellations, then what the workers sent.
fn round(
    queue: &PgQueue,
    mission: &str,
    batch: Vec<NewWork>,
    cancels: Vec<(String, u32)>,
) -> Result<(Vec<(String, u32)>, Polled), RoundError> {
    if !batch.is_empty()
        && let Err(error) = queue.enqueue(batch.clone())
    {
        return Err((batch, error));
    }
    let never_claimed = match cancels.is_empty() {
        true => Vec::new(),
        false => queue
            .cancel(mission, cancels)
            .map_err(|e| (Vec::new(), e))?,
    };
    let polled = queue.poll(mission).map_err(|e| (Vec::new(), e))?;
    Ok((never_claimed, polled))
}

/// Moves the task branches to the work the round's `Saved` messages
/// announce (pushed by their workers), before the actor hears of it and
/// gates or merges it. Returns the attempts whose work could not be
/// taken, with why.
fn adopt(
    workspaces: &Workspaces,
    url: &str,
    mission: &str,
    polled: &Polled,
) -> HashMap<(String, u32), String> {
    let mut failed = HashMap::new();
    for message in &polled.messages {
        let Ok(Message::Saved { commit, .. }) = serde_json::from_str::<Message>(&message.body)
        else {
            continue;
        };
        let remote_ref = crate::worker::remote_ref(mission, &message.task);
        if let Err(error) = workspaces.adopt(&message.task, &commit, url, &remote_ref) {
            failed.insert((message.task.clone(), message.attempt), error.to_string());
        }
    }
    failed
}

/// Turns what the round found into inputs, in order: each attempt's
/// messages, then the attempts that ended without a worker's word.
fn forward(
    flights: &mut HashMap<(String, u32), Flight>,
    never_claimed: Vec<(String, u32)>,
    polled: Polled,
    unadopted: HashMap<(String, u32), String>,
    inputs: &mpsc::UnboundedSender<Input>,
) {
    for message in polled.messages {
        let key = (message.task, message.attempt);
        // Only attempts this coordinator follows: anything else is late.
        let Some(flight) = flights.get(&key) else {
            continue;
        };
        let (task, attempt) = (flight.task, key.1);
        // Work this repository could not take fails the attempt; what its
        // worker sends after is not read.
        if let Some(error) = unadopted.get(&key) {
            flights.remove(&key);
            let message = format!("its work could not be taken from the worker: {error}");
            let _ = inputs.send(finished(task, attempt, failed(message), 0));
            continue;
        }
        let input = match serde_json::from_str::<Message>(&message.body) {
            Ok(message) => input(task, attempt, message),
            Err(error) => finished(
                task,
                attempt,
                failed(format!(
                    "its worker sent a message this techlead cannot read: {error}"
                )),
                0,
            ),
        };
        if matches!(input, Input::Finished { .. }) {
            flights.remove(&key);
        }
        let _ = inputs.send(input);
    }
    for key in polled.expired {
        if let Some(flight) = flights.remove(&key) {
            let _ = inputs.send(Input::LeaseExpired {
                task: flight.task,
                attempt: key.1,
            });
        }
    }
    for key in never_claimed {
        if let Some(flight) = flights.remove(&key) {
            let _ = inputs.send(finished(flight.task, key.1, Outcome::Cancelled, 0));
        }
    }
}

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

fn finished(task: usize, attempt: u32, outcome: Outcome, duration_ms: u64) -> Input {
    Input::Finished {
        task,
        attempt,
        outcome,
        duration_ms,
    }
}

fn input(task: usize, attempt: u32, message: Message) -> Input {
    match message {
        Message::Progress { percent, message } => Input::Progress {
            task,
            attempt,
            percent,
            message,
        },
        Message::Report { report } => Input::Report {
            task,
            attempt,
            report,
        },
        Message::Usage { usage } => Input::Usage {
            task,
            attempt,
            usage,
        },
        Message::Ask { question } => Input::Ask {
            task,
            attempt,
            question,
        },
        Message::Saved { commit, files } => Input::Saved {
            task,
            attempt,
            commit,
            files,
        },
        Message::Finished {
            outcome,
            duration_ms,
        } => finished(task, attempt, outcome_of(outcome), duration_ms),
    }
}

/// A worker's outcome as the executor's: the reverse of
/// `attempt_outcome`. Workers never send the outcomes only a coordinator
/// decides (interrupted, suspended); those count as cancelled.
fn outcome_of(outcome: AttemptOutcome) -> Outcome {
    match outcome {
        AttemptOutcome::Succeeded { summary } => Outcome::Succeeded { summary },
        AttemptOutcome::Failed {
            exit_code,
            signal,
            message,
        } => Outcome::Failed {
            exit_code,
            signal,
            message,
        },
        AttemptOutcome::TimedOut => Outcome::TimedOut,
        AttemptOutcome::RateLimited { until, message } => Outcome::RateLimited { until, message },
        AttemptOutcome::NeedsPerson { message } => Outcome::NeedsPerson { message },
        AttemptOutcome::Cancelled
        | AttemptOutcome::Interrupted
        | AttemptOutcome::Suspended { .. } => Outcome::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_question_names_its_attempt() {
        let tasks = ["API".to_string()];
        let message = super::super::question_message("API", 3, "which port (1)?");
        assert_eq!(
            question_attempt(&tasks, &message),
            Some(("API".to_string(), 3))
        );
        assert_eq!(question_attempt(&tasks, "something else"), None);
    }
}
