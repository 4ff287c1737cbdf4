//! Running one attempt: the spec the executor gets, and a task that
//! forwards its reports and its end to the mission actor in order.

use super::{Input, Mission, report_of};
use crate::executor::{AttemptSpec, ExecEvent};
use std::path::PathBuf;
use std::task::Poll;
use std::time::{Duration, Instant};
use techlead_core::prompt;
use techlead_store::Store;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// An attempt's directory, relative to the data directory.
pub fn relative_dir(mission: &str, task: &str, attempt: u32) -> String {
    format!("runs/{mission}/{task}/{attempt}")
}

pub fn spawn<S: Store>(mission: &Mission<S>, task: usize, cancel: CancellationToken) {
    let state = &mission.state;
    let plan = &state.plan.tasks[task];
    let attempt = state.tasks[task].attempts.len() as u32;
    let executor = mission
        .settings
        .executors
        .iter()
        .find(|e| e.name() == plan.executor)
        .cloned()
        .expect("executors were checked when the mission was opened");
    let agent = state.plan.agent(&state.tasks[task].agent);
    let spec = AttemptSpec {
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
        estimate_hours: plan.estimate_hours,
    };
    let inputs = mission.inputs.sender();
    tokio::spawn(async move {
        let started = Instant::now();
        let (events, mut received) = mpsc::unbounded_channel();
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
                forward(&inputs, task, attempt, event);
            }
            if outcome.is_pending() {
                while let Poll::Ready(Some(event)) = received.poll_recv(cx) {
                    forward(&inputs, task, attempt, event);
                }
            }
            outcome
        })
        .await;
        let duration_ms = started.elapsed().as_millis() as u64;
        let _ = inputs.send(Input::Finished {
            task,
            attempt,
            outcome,
            duration_ms,
        });
    });
}

/// The session of the attempt before this one, when it ran on the same
/// agent and did not succeed: a retry continues where it stopped.
fn resumable_session(task: &techlead_core::state::TaskState) -> Option<String> {
    let [.., previous, current] = task.attempts.as_slice() else {
        return None;
    };
    (previous.agent == current.agent)
        .then(|| previous.session.clone())
        .flatten()
}

fn forward(inputs: &mpsc::UnboundedSender<Input>, task: usize, attempt: u32, event: ExecEvent) {
    let input = match event {
        ExecEvent::Started { pid } => Input::Started { task, pid },
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
