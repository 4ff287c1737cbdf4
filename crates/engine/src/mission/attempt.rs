//! Running one attempt: the spec the executor gets, and a task that
//! forwards its reports and its end to the mission actor in order.

use super::split::parts_merge;
use super::{Input, Mission, report_of};
use crate::executor::{AttemptSpec, ExecEvent, Outcome, report_socket};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};
use techlead_core::prompt;
use techlead_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The directory of a mission's attempt files (and its report socket),
/// relative to the data directory.
pub fn files_dir(mission: &str) -> String {
    format!("runs/{mission}")
}

/// The stem of an attempt's files, relative to the data directory.
pub fn relative_dir(mission: &str, task: &str, attempt: u32) -> String {
    format!("{}/{task}.{attempt}", files_dir(mission))
}

/// What the executor gets for the task's current attempt.
pub(super) fn spec<S: Store>(mission: &Mission<S>, task: usize) -> AttemptSpec {
    let state = &mission.state;
    let plan = &state.plan.tasks[task];
    let attempt = state.tasks[task].attempts.len() as u32;
    let agent = state.plan.agent(&state.tasks[task].agent);
    AttemptSpec {
        mission_id: mission.id.clone(),
        task_id: plan.id.clone(),
        task_title: plan.title.clone(),
        attempt,
        agent: state.tasks[task].agent.clone(),
        command: plan.command.clone(),
        prompt: prompt::render(state, task),
        workdir: PathBuf::from(&state.plan.workdir),
        attempt_dir: mission
            .settings
            .data_dir
            .join(relative_dir(&mission.id, &plan.id, attempt)),
        timeout: Duration::from_millis(plan.timeout_ms),
        env: vec![(
            crate::orphans::VARIABLE.to_string(),
            crate::orphans::scope(&mission.settings.data_dir, &mission.id),
        )],
        agent_prompt: agent.map(|a| a.prompt.clone()).unwrap_or_default(),
        model: agent.and_then(|a| a.model.clone()),
        tools: agent.and_then(|a| a.tools.clone()),
        resume_session: resumable_session(&state.tasks[task]),
        budget_usd: techlead_core::budget::attempt_cap(state, task, mission.running.len()),
        estimate_hours: plan.detail.estimate_hours,
    }
}

pub fn spawn<S: Store>(
    mission: &Mission<S>,
    task: usize,
    cancel: CancellationToken,
    pid: Arc<AtomicU32>,
) {
    let spec = spec(mission, task);
    let attempt = spec.attempt;
    let executor = mission
        .executor(&mission.state.plan.tasks[task].executor)
        .expect("executors were checked when the mission was opened");
    let resolve_conflict = mission.state.tasks[task].work.conflict.is_some();
    let inputs = mission.inputs.sender();
    let workspaces = mission.workspaces.clone();
    let parts_merge = parts_merge(&mission.state, task);
    let agent = spec.agent.clone();
    let db = mission.db_path.clone();
    let reports = mission.reports.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut spec = spec;
        if let Some(workspaces) = &workspaces {
            let prepared = super::work::prepare(
                workspaces.clone(),
                spec.task_id.clone(),
                resolve_conflict,
                parts_merge,
            )
            .await;
            match prepared {
                Ok(path) => spec.workdir = path,
                Err(message) => {
                    let _ = inputs.send(Input::Finished {
                        task,
                        attempt,
                        outcome: crate::executor::Outcome::Failed {
                            exit_code: None,
                            signal: None,
                            message: format!("its worktree could not be prepared: {message}"),
                        },
                        duration_ms: started.elapsed().as_millis() as u64,
                    });
                    return;
                }
            }
        }
        let task_id = spec.task_id.clone();
        let (events, mut received) = mpsc::unbounded_channel();
        // Its reports join the executor's on the same channel.
        let socket = report_socket::attach(&*executor, &mut spec, db.as_deref(), &events, &reports);
        let mut run = executor.run(spec, events, cancel);
        // Reports are forwarded in order, right after the poll of the
        // attempt that sent them, before its end. The receiver is polled
        // last, so a report sent while the attempt runs its first poll (the
        // `Started` of every attempt) does not wake this task only to poll
        // the attempt again for nothing; one sent from elsewhere still wakes
        // it.
        let outcome = std::future::poll_fn(|cx| {
            let outcome = run.as_mut().poll(cx);
            while let Ok(event) = received.try_recv() {
                report_socket::note_start(socket.as_ref(), &event);
                forward(&inputs, task, attempt, &pid, event);
            }
            if outcome.is_pending() {
                while let Poll::Ready(Some(event)) = received.poll_recv(cx) {
                    report_socket::note_start(socket.as_ref(), &event);
                    forward(&inputs, task, attempt, &pid, event);
                }
            }
            outcome
        })
        .await;
        // The attempt's connections go with it; what they sent before is kept.
        drop(socket);
        while let Ok(event) = received.try_recv() {
            forward(&inputs, task, attempt, &pid, event);
        }
        let outcome = match workspaces {
            Some(workspaces) => {
                save(
                    &inputs,
                    workspaces,
                    (task, &task_id, attempt, &agent),
                    outcome,
                )
                .await
            }
            None => outcome,
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let _ = inputs.send(Input::Finished {
            task,
            attempt,
            outcome,
            duration_ms,
        });
    });
}

/// Saves what the attempt left in its worktree and reports it, before its
/// end. Work that cannot be saved, or a conflict left unresolved, fails an
/// attempt that would otherwise have succeeded.
async fn save(
    inputs: &mpsc::UnboundedSender<Input>,
    workspaces: std::sync::Arc<crate::workspace::Workspaces>,
    (t, task, attempt, agent): (usize, &str, u32, &str),
    outcome: Outcome,
) -> Outcome {
    let word = super::work::outcome_word(&outcome);
    let saved = super::work::save(
        workspaces,
        task.to_string(),
        attempt,
        agent.to_string(),
        word,
    )
    .await;
    let failure = match saved {
        Ok(saved) => {
            let failure = super::work::unresolved_conflict(&saved.unresolved);
            let _ = inputs.send(Input::Saved {
                task: t,
                attempt,
                commit: saved.commit,
                files: saved.files,
            });
            failure
        }
        Err(message) => Some(super::work::unsaved(&message)),
    };
    super::work::after_save(outcome, failure)
}

/// The session of the attempt before this one, when it ran on the same
/// agent and did not succeed: a retry continues where it stopped.
fn resumable_session(task: &techlead_core::state::TaskState) -> Option<String> {
    let [.., previous, current] = task.attempts.as_slice() else {
        return None;
    };
    (previous.agent == current.agent)
        .then(|| previous.detail.session.clone())
        .flatten()
}

/// Hands an attempt's report to the actor; its process ID goes to
/// `started` instead, for the actor to read when it needs it.
pub(super) fn forward(
    inputs: &mpsc::UnboundedSender<Input>,
    task: usize,
    attempt: u32,
    started: &AtomicU32,
    event: ExecEvent,
) {
    let input = match event {
        ExecEvent::Started { pid } => {
            started.store(pid.unwrap_or(0), Ordering::Relaxed);
            return;
        }
        ExecEvent::Progress { percent, message } => Input::Progress {
            task,
            attempt,
            percent,
            message,
        },
        ExecEvent::Usage(usage) => Input::Usage {
            task,
            attempt,
            usage,
        },
        ExecEvent::Ask(question) => Input::Ask {
            task,
            attempt,
            question,
        },
        other => match report_of(&other) {
            Some(report) => Input::Report {
                task,
                attempt,
                report,
            },
            None => return,
        },
    };
    let _ = inputs.send(input);
}
