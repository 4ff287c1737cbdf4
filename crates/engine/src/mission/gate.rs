//! Phase gates: shell commands the person wrote in the mission file, run
//! between phases (in a mission with a repository, on a checkout of the
//! integration branch, where the phase's work was merged). They run through the command executor (`sh -c`), so
//! they get the same process-group handling, timeout and capped log as
//! attempts.

use super::{Input, Mission};
use crate::executor::command::CommandExecutor;
use crate::executor::{AttemptSpec, Executor, Outcome};
use std::path::PathBuf;
use std::time::Duration;
use techlead_store::Store;
use tokio::sync::mpsc;

/// Gates that hang are stopped after this long.
const GATE_TIMEOUT: Duration = Duration::from_secs(60 * 60);

/// What a check runs as before its command is set: the mission's workdir,
/// its files named `<relative>.*` under the data directory, and the mark
/// that lets a later run find it if techlead dies (`orphans`).
pub(super) fn check_spec<S: Store>(
    mission: &Mission<S>,
    (task_id, task_title, attempt): (String, String, u32),
    relative: &str,
) -> AttemptSpec {
    AttemptSpec {
        mission_id: mission.id.clone(),
        task_id,
        task_title,
        attempt,
        agent: "gate".to_string(),
        command: None,
        prompt: String::new(),
        workdir: PathBuf::from(&mission.state.plan.workdir),
        attempt_dir: mission.settings.data_dir.join(relative),
        timeout: GATE_TIMEOUT,
        env: vec![(
            crate::orphans::VARIABLE.to_string(),
            crate::orphans::scope(&mission.settings.data_dir, &mission.id),
        )],
        agent_prompt: String::new(),
        model: None,
        tools: None,
        resume_session: None,
        budget_usd: None,
        estimate_hours: None,
    }
}

/// Points a check at a checkout of the integration branch, in a mission
/// with a repository: the merged work is what it checks.
pub(super) async fn on_merged_work(
    spec: &mut AttemptSpec,
    workspaces: Option<std::sync::Arc<crate::workspace::Workspaces>>,
) -> Result<(), String> {
    if let Some(workspaces) = workspaces {
        spec.workdir = super::work::blocking(move || workspaces.integration_checkout()).await?;
    }
    Ok(())
}

/// A command the person wrote, run by the shell.
pub(super) fn shell(command: &str) -> Vec<String> {
    vec!["sh".to_string(), "-c".to_string(), command.to_string()]
}

pub fn spawn<S: Store>(mission: &Mission<S>, phase: usize, gate: String) {
    let index = mission.state.plan.phases[phase]
        .gates
        .iter()
        .position(|g| *g == gate)
        .unwrap_or(0);
    let relative = format!(
        "runs/{}/gates/phase-{}-gate-{}",
        mission.id,
        phase + 1,
        index + 1
    );
    let title = format!("gate of phase {}", mission.state.plan.phases[phase].name);
    let mut spec = check_spec(
        mission,
        (format!("phase-{}", phase + 1), title, 1),
        &relative,
    );
    spec.command = Some(shell(&gate));
    spec.timeout = GATE_TIMEOUT;
    let log = format!("{relative}.output.log");
    let inputs = mission.inputs.sender();
    let cancel = mission.inputs.gate_token();
    let grace = mission.settings.gate_grace;
    let workspaces = mission.workspaces.clone();
    tokio::spawn(async move {
        let mut spec = spec;
        // Phase gates check the phase's merged work.
        if let Err(message) = on_merged_work(&mut spec, workspaces).await {
            let _ = inputs.send(Input::GateFinished {
                phase,
                gate,
                passed: false,
                exit_code: None,
                log: format!("(the integration checkout failed: {message})"),
            });
            return;
        }
        let (events, _received) = mpsc::unbounded_channel();
        let outcome = CommandExecutor::new()
            .with_grace(grace)
            .run(spec, events, cancel)
            .await;
        let (passed, exit_code) = match outcome {
            Outcome::Succeeded { .. } => (true, Some(0)),
            Outcome::Failed { exit_code, .. } => (false, exit_code),
            Outcome::TimedOut
            | Outcome::Cancelled
            | Outcome::RateLimited { .. }
            | Outcome::NeedsPerson { .. } => (false, None),
        };
        let _ = inputs.send(Input::GateFinished {
            phase,
            gate,
            passed,
            exit_code,
            log,
        });
    });
}
