//! The execution blueprint: everything `techlead plan` shows, computed
//! once as plain data so that text, Markdown and JSON say the same thing.

use super::assign::{AssignContext, Candidate};
use super::graph::{Cycle, Graph};
use super::risk::{Risk, RiskInput, assess};
use super::schedule::{Limits, Schedule, Segment, simulate};
use super::staffing::{Choice, Staffing, staff};
use crate::agents::Library;
use crate::priority::Priority;
use crate::spec::Mission;
use jiff::Timestamp;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Blueprint {
    pub mission: Summary,
    /// In the order they are expected to start.
    pub steps: Vec<Step>,
    pub phases: Vec<PhasePlan>,
    pub critical_path: PathPlan,
    /// Task IDs by wave: wave 0 needs nothing, wave n needs wave n-1.
    pub waves: Vec<Vec<String>>,
    pub schedule: SchedulePlan,
    pub risks: Vec<Risk>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub objective: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deadline: Option<Timestamp>,
    /// Hours from the planning time to the deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours_to_deadline: Option<f64>,
    pub planned_at: Timestamp,
    pub tasks: usize,
    pub phases: usize,
    pub agents: usize,
    pub max_parallel: u32,
    pub definition_of_done: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: String,
    pub title: String,
    pub priority: Priority,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    pub wave: usize,
    pub depends_on: Vec<String>,
    pub agent: String,
    pub choice: Choice,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    pub backup_suggested: bool,
    /// The task's own gates (phase gates are listed with the phase).
    pub gates: Vec<String>,
    /// `None` when the file gives no estimate (the plan counts 1 hour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimate_hours: Option<f64>,
    /// Hours from the mission's start, as simulated under the limits.
    pub start_hour: f64,
    pub finish_hour: f64,
    pub on_critical_path: bool,
    pub why: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<Candidate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhasePlan {
    pub name: String,
    pub tasks: Vec<String>,
    pub gates: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathPlan {
    pub tasks: Vec<String>,
    pub hours: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SchedulePlan {
    pub max_parallel: u32,
    /// Earliest finish with as many agents as the work can use.
    pub unlimited_hours: f64,
    /// Earliest finish under `max_parallel` and each agent's own limit.
    pub makespan_hours: f64,
    pub peak: u32,
    pub average_parallelism: f64,
    pub utilisation: f64,
    pub profile: Vec<Segment>,
}

/// Plans `mission` with the agents of `library`, as of `now`.
pub fn blueprint(
    mission: &Mission,
    library: &Library,
    context: &AssignContext,
    now: Timestamp,
) -> Result<Blueprint, Cycle> {
    let graph = Graph::new(mission)?;
    let staffing = staff(mission, &graph, library, context);
    let assignments: Vec<Option<String>> = staffing.iter().map(|s| Some(s.agent.clone())).collect();
    let agent_limit = |name: &str| library.get(name).and_then(|a| a.orchestration.max_parallel);
    let schedule = simulate(
        mission,
        &graph,
        &assignments,
        &Limits::new(mission, &agent_limit),
    );
    let missing: Vec<usize> = staffing
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.choice, Choice::Fallback { .. }))
        .map(|(i, _)| i)
        .collect();
    let risks = assess(&RiskInput {
        schedule: Some(&schedule),
        assignments: &assignments,
        agent_max_parallel: &agent_limit,
        missing_agents: &missing,
        ..RiskInput::new(mission, &graph, now)
    });
    let ids = |tasks: &[usize]| -> Vec<String> {
        tasks.iter().map(|&t| mission.tasks[t].id.clone()).collect()
    };
    Ok(Blueprint {
        mission: summary(mission, library, now),
        steps: steps(mission, &graph, &schedule, staffing),
        phases: mission
            .phases
            .iter()
            .map(|p| PhasePlan {
                name: p.name.clone(),
                tasks: ids(&p.tasks),
                gates: p.gates.iter().map(|g| g.summary()).collect(),
            })
            .collect(),
        critical_path: PathPlan {
            tasks: ids(&graph.critical_path().tasks),
            hours: graph.critical_path().hours,
        },
        waves: graph.waves().iter().map(|w| ids(w)).collect(),
        schedule: SchedulePlan {
            max_parallel: schedule.max_parallel,
            unlimited_hours: graph.earliest_finish(),
            makespan_hours: schedule.makespan,
            peak: schedule.peak,
            average_parallelism: schedule.average_parallelism,
            utilisation: schedule.utilisation,
            profile: schedule.profile,
        },
        risks,
    })
}

fn summary(mission: &Mission, library: &Library, now: Timestamp) -> Summary {
    Summary {
        name: mission.name.clone(),
        objective: mission.objective.clone(),
        project_type: mission.project_type.clone(),
        deadline: mission.deadline,
        hours_to_deadline: mission
            .deadline
            .map(|d| d.duration_since(now).as_secs_f64() / 3600.0),
        planned_at: now,
        tasks: mission.tasks.len(),
        phases: mission.phases.len(),
        agents: library.len(),
        max_parallel: mission.defaults.max_parallel,
        definition_of_done: mission.done_when.clone(),
    }
}

fn steps(
    mission: &Mission,
    graph: &Graph,
    schedule: &Schedule,
    staffing: Vec<Staffing>,
) -> Vec<Step> {
    let mut staffing: Vec<Option<Staffing>> = staffing.into_iter().map(Some).collect();
    let mut order: Vec<usize> = (0..mission.tasks.len()).collect();
    order.sort_by(|&a, &b| {
        graph
            .wave(a)
            .cmp(&graph.wave(b))
            .then(schedule.tasks[a].start.total_cmp(&schedule.tasks[b].start))
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .map(|t| {
            let task = &mission.tasks[t];
            let staffing = staffing[t].take().expect("each task is staffed once");
            Step {
                id: task.id.clone(),
                title: task.title.clone(),
                priority: task.priority,
                phase: task.phase.map(|p| mission.phases[p].name.clone()),
                wave: graph.wave(t),
                depends_on: task.depends_on.clone(),
                agent: staffing.agent,
                choice: staffing.choice,
                backup: staffing.backup,
                backup_suggested: staffing.backup_suggested,
                gates: task.gates.iter().map(|g| g.summary()).collect(),
                estimate_hours: task.estimate_hours,
                start_hour: schedule.tasks[t].start,
                finish_hour: schedule.tasks[t].finish,
                on_critical_path: graph.on_critical_path(t),
                why: staffing.why,
                candidates: staffing.candidates,
            }
        })
        .collect()
}
