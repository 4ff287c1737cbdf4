//! One claimed attempt on a worker: run it with the local executor in the
//! worker's directory, send its reports in order as they come, then its
//! end. A refused send means the lease is lost: the attempt is stopped
//! and nothing more is sent.

use super::{Activity, Config, WorkSpec};
use crate::executor::{ExecEvent, Executor, Outcome, report_socket};
use crate::mission::{attempt_outcome, relative_dir, report_of, work};
use std::sync::Arc;
use std::time::{Duration, Instant};
use techlead_core::work::Message;
use techlead_store::postgres::{Claim, PgQueue};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What every attempt of a worker shares.
pub(super) struct Run {
    pub queue: Arc<PgQueue>,
    pub config: Arc<Config>,
    /// The orphan mark on its processes.
    pub scope: String,
    pub activity: mpsc::UnboundedSender<Activity>,
    /// The worker's report socket, shared by its attempts.
    pub reports: Arc<report_socket::Reports>,
}

impl Run {
    pub async fn attempt(self, claim: Claim, cancel: CancellationToken) {
        let started = Instant::now();
        let mut sender = Sender {
            queue: self.queue.clone(),
            token: claim.token,
            ttl_ms: self.config.lease.ttl_ms,
            lost: false,
        };
        let outcome = match serde_json::from_str::<WorkSpec>(&claim.spec) {
            Ok(spec) => self.execute(spec, &mut sender, &cancel).await,
            Err(error) => failed(format!(
                "the coordinator sent an attempt this worker cannot read: {error}"
            )),
        };
        let outcome = attempt_outcome(outcome);
        let duration_ms = started.elapsed().as_millis() as u64;
        let end = Message::Finished {
            outcome: outcome.clone(),
            duration_ms,
        };
        sender.send(vec![end], true).await;
        let _ = self.activity.send(match sender.lost {
            true => Activity::Lost(claim.key),
            false => Activity::Finished {
                key: claim.key,
                outcome,
                duration_ms,
            },
        });
    }

    async fn execute(
        &self,
        spec: WorkSpec,
        sender: &mut Sender,
        cancel: &CancellationToken,
    ) -> Outcome {
        let Some(executor) = self.executor(&spec.executor) else {
            return failed(format!(
                "worker {} has no executor `{}`",
                self.config.name, spec.executor
            ));
        };
        // With a repository, the task runs in its worktree in this
        // worker's clone; without one, every task of a mission runs in the
        // worker's directory for it.
        let repository = spec.repository.clone();
        let checkout = match &repository {
            Some(repo) => {
                let (dir, repo, mission, task) = (
                    self.config.dir.clone(),
                    repo.clone(),
                    spec.mission.clone(),
                    spec.task.clone(),
                );
                let prepared = tokio::task::spawn_blocking(move || {
                    super::repo::prepare(&dir, &repo, &mission, &task)
                })
                .await;
                match prepared {
                    Ok(Ok(checkout)) => Some(checkout),
                    Ok(Err(message)) => {
                        return failed(format!("its worktree could not be prepared: {message}"));
                    }
                    Err(error) => return failed(format!("the git work stopped: {error}")),
                }
            }
            None => None,
        };
        let workdir = match &checkout {
            Some(checkout) => checkout.path.clone(),
            None => self.config.dir.join("work").join(&spec.mission),
        };
        if let Err(error) = std::fs::create_dir_all(&workdir) {
            return failed(format!("{} cannot be made: {error}", workdir.display()));
        }
        let saving = (spec.task.clone(), spec.attempt, spec.agent.clone());
        let attempt_dir =
            self.config
                .dir
                .join(relative_dir(&spec.mission, &spec.task, spec.attempt));
        let env = vec![(crate::orphans::VARIABLE.to_string(), self.scope.clone())];
        let mut spec = spec.attempt(workdir, attempt_dir, env);
        let (events, mut received) = mpsc::unbounded_channel();
        // Agents' MCP tools report here, as on the coordinator's machine.
        let socket = report_socket::attach(
            &*executor,
            &mut spec,
            Some(&self.config.db),
            &events,
            &self.reports,
        );
        let mut run = tokio::spawn(executor.run(spec, events, cancel.clone()));
        let outcome = loop {
            tokio::select! {
                biased;
                Some(first) = received.recv() => {
                    let mut batch = vec![first];
                    while let Ok(event) = received.try_recv() {
                        batch.push(event);
                    }
                    for event in &batch {
                        report_socket::note_start(socket.as_ref(), event);
                    }
                    sender.send(batch.into_iter().filter_map(message_of).collect(), false).await;
                    if sender.lost {
                        cancel.cancel();
                    }
                }
                ended = &mut run => break ended,
            }
        };
        // The attempt's connections go with it; what they sent before is sent.
        drop(socket);
        let rest: Vec<Message> = std::iter::from_fn(|| received.try_recv().ok())
            .filter_map(message_of)
            .collect();
        sender.send(rest, false).await;
        let outcome = outcome
            .unwrap_or_else(|error| failed(format!("the attempt stopped unexpectedly: {error}")));
        match (checkout, repository) {
            (Some(checkout), Some(repo)) if !sender.lost => {
                save(checkout, repo, saving, outcome, sender).await
            }
            _ => outcome,
        }
    }

    fn executor(&self, name: &str) -> Option<Arc<dyn Executor>> {
        self.config
            .executors
            .iter()
            .find(|e| e.name() == name)
            .cloned()
    }
}

/// Commits what the attempt left, pushes it to the coordinator's
/// repository and sends `Saved`, before the end, as a local attempt's
/// save does. Work that cannot be saved or pushed, or a conflict left
/// unresolved, fails an attempt that would otherwise have succeeded.
async fn save(
    checkout: super::repo::Checkout,
    repo: super::RepoSpec,
    (task, attempt, agent): (String, u32, String),
    outcome: Outcome,
    sender: &mut Sender,
) -> Outcome {
    let word = work::outcome_word(&outcome);
    let saved = tokio::task::spawn_blocking(move || {
        super::repo::finish(&checkout, &repo, (&task, attempt, &agent, word))
    })
    .await
    .unwrap_or_else(|error| Err(format!("the git work stopped: {error}")));
    let failure = match saved {
        Ok(saved) => {
            let failure = work::unresolved_conflict(&saved.unresolved);
            sender
                .send(
                    vec![Message::Saved {
                        commit: saved.commit,
                        files: saved.files,
                    }],
                    false,
                )
                .await;
            failure
        }
        Err(message) => Some(work::unsaved(&message)),
    };
    work::after_save(outcome, failure)
}

fn failed(message: String) -> Outcome {
    Outcome::Failed {
        exit_code: None,
        signal: None,
        message,
    }
}

/// What the coordinator records of an executor's event; the process's
/// start is this machine's business only.
fn message_of(event: ExecEvent) -> Option<Message> {
    Some(match event {
        ExecEvent::Started { .. } => return None,
        ExecEvent::Progress { percent, message } => Message::Progress { percent, message },
        ExecEvent::Usage(usage) => Message::Usage { usage },
        ExecEvent::Ask(question) => Message::Ask { question },
        other => Message::Report {
            report: report_of(&other)?,
        },
    })
}

/// Sends an attempt's messages under its lease token.
struct Sender {
    queue: Arc<PgQueue>,
    token: i64,
    ttl_ms: u64,
    lost: bool,
}

impl Sender {
    /// Sends `messages` (ending the attempt when `last`). While the
    /// database is out of reach it tries again, for as long as the lease
    /// would last; then the lease counts as lost.
    async fn send(&mut self, messages: Vec<Message>, last: bool) {
        if self.lost || messages.is_empty() && !last {
            return;
        }
        let bodies: Vec<String> = messages
            .iter()
            .map(|m| serde_json::to_string(m).expect("a message serialises"))
            .collect();
        let give_up = Instant::now() + Duration::from_millis(self.ttl_ms);
        loop {
            let (queue, bodies, token, ttl) =
                (self.queue.clone(), bodies.clone(), self.token, self.ttl_ms);
            let sent =
                tokio::task::spawn_blocking(move || queue.send(token, bodies, last, ttl)).await;
            match sent {
                Ok(Ok(held)) => {
                    self.lost = !held;
                    return;
                }
                _ if Instant::now() >= give_up => {
                    self.lost = true;
                    return;
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}
