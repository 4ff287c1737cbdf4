//! The execution blueprint: everything `techlead plan` shows, computed
//! once as plain data so that text, Markdown and JSON say the same thing.

use super::assign::{Candidate, Ranker};
use super::graph::{Cycle, Graph};
use super::overlap;
use super::risk::{Risk, RiskInput, assess};
use super::schedule::{Limits, Schedule, Segment, simulate};
use super::staffing::{Choice, Replay, Staffing, staff, staff_keeping};
use crate::agents::Library;
use crate::history::History;
use crate::history::similar::{Query, SimilarMission, similar};
use crate::priority::Priority;
use crate::spec::{Mission, Phase, Task};
use jiff::Timestamp;
use serde::Serialize;
use serde::ser::{SerializeSeq, SerializeStruct, Serializer};

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
    /// Past missions like this one, most similar first, with what went
    /// well and what failed in them.
    pub similar_missions: Vec<SimilarMission>,
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
    /// Tasks of other missions it waits for (`mission/TASK`): they are not
    /// in this plan's schedule, which starts the task as if they were done.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub external: Vec<String>,
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

/// Plans `mission` with the agents of `library`, as of `now`, with what
/// `history` teaches (`History::default()`: nothing). The mission is
/// consumed: its tasks' texts move into the steps rather than being
/// copied, so a big mission is not held twice.
pub fn blueprint(
    mut mission: Mission,
    library: &Library,
    history: &History,
    now: Timestamp,
) -> Result<Blueprint, Cycle> {
    let graph = graph(&mut mission)?;
    let staffing = staff(&mission, &graph, library, &history.assign_context());
    let choices = staffing
        .iter()
        .map(|s| (s.agent.clone(), matches!(s.choice, Choice::Fallback { .. })));
    let known = Known { library, history };
    let (parts, schedule) = parts(&mission, &graph, known, choices.collect(), now);
    Ok(Blueprint {
        mission: parts.summary,
        steps: steps(mission, &graph, &schedule, staffing),
        phases: parts.phases,
        critical_path: parts.critical_path,
        waves: parts.waves,
        schedule: parts.schedule,
        risks: parts.risks,
        similar_missions: parts.similar,
    })
}

/// The blueprint of `mission` as a value to serialise: the same JSON as
/// [`blueprint`]'s, but each step is made only as it is written, its
/// staffing (candidates, reasons) worked out again then from the load the
/// agents had when it was first chosen. So a plan of 10,000 tasks never
/// holds 10,000 steps, at the cost of ranking each task twice.
pub struct LazyBlueprint<'a> {
    parts: Parts,
    mission: Mission,
    graph: Graph,
    schedule: Schedule,
    order: Vec<usize>,
    library: &'a Library,
    ranker: Ranker,
    replay: Replay,
}

/// As [`blueprint`], to serialise.
pub fn lazy_blueprint<'a>(
    mut mission: Mission,
    library: &'a Library,
    history: &History,
    now: Timestamp,
) -> Result<LazyBlueprint<'a>, Cycle> {
    let graph = graph(&mut mission)?;
    let ranker = Ranker::new(library.agents());
    let context = history.assign_context();
    let choices = staff_keeping(&mission, &graph, library, &ranker, &context, 0, |s| {
        (s.agent, matches!(s.choice, Choice::Fallback { .. }))
    });
    let agents = choices.iter().map(|(agent, _)| agent.clone()).collect();
    let known = Known { library, history };
    let (parts, schedule) = parts(&mission, &graph, known, choices, now);
    Ok(LazyBlueprint {
        parts,
        order: step_order(&graph, &schedule),
        replay: Replay::new(&graph, agents, &context),
        mission,
        graph,
        schedule,
        library,
        ranker,
    })
}

impl Serialize for LazyBlueprint<'_> {
    /// As [`Blueprint`]'s derived form, field for field.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut blueprint = serializer.serialize_struct("Blueprint", 8)?;
        blueprint.serialize_field("mission", &self.parts.summary)?;
        blueprint.serialize_field("steps", &LazySteps(self))?;
        blueprint.serialize_field("phases", &self.parts.phases)?;
        blueprint.serialize_field("critical_path", &self.parts.critical_path)?;
        blueprint.serialize_field("waves", &self.parts.waves)?;
        blueprint.serialize_field("schedule", &self.parts.schedule)?;
        blueprint.serialize_field("risks", &self.parts.risks)?;
        blueprint.serialize_field("similar_missions", &self.parts.similar)?;
        blueprint.end()
    }
}

struct LazySteps<'b, 'a>(&'b LazyBlueprint<'a>);

impl Serialize for LazySteps<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let plan = self.0;
        let mut steps = serializer.serialize_seq(Some(plan.order.len()))?;
        for &t in &plan.order {
            let staffing = plan
                .replay
                .staff(&plan.mission, t, plan.library, &plan.ranker);
            let task = &plan.mission.tasks[t];
            let texts = (task.id.clone(), task.title.clone(), task.depends_on.clone());
            let phases = &plan.mission.phases;
            let step = step(
                texts,
                task,
                t,
                phases,
                &plan.graph,
                &plan.schedule,
                staffing,
            );
            steps.serialize_element(&step)?;
        }
        steps.end()
    }
}

/// The mission's graph, with the dependencies that serialise overlapping
/// tasks when the mission asks for it (`defaults.serialize_overlaps`): they
/// join the tasks' `depends_on`, so the steps show them as the run records
/// them.
fn graph(mission: &mut Mission) -> Result<Graph, Cycle> {
    let graph = Graph::new(mission)?;
    if overlap::serialise(mission, &graph) {
        return Graph::new(mission);
    }
    Ok(graph)
}

/// Everything of a blueprint but its steps.
struct Parts {
    summary: Summary,
    phases: Vec<PhasePlan>,
    critical_path: PathPlan,
    waves: Vec<Vec<String>>,
    schedule: SchedulePlan,
    risks: Vec<Risk>,
    similar: Vec<SimilarMission>,
}

/// What the planner knows besides the mission: the agents and the past.
#[derive(Clone, Copy)]
struct Known<'a> {
    library: &'a Library,
    history: &'a History,
}

/// The parts of the blueprint, from each task's agent and whether it
/// stands in for a missing one; and the schedule, for the steps.
fn parts(
    mission: &Mission,
    graph: &Graph,
    Known { library, history }: Known<'_>,
    choices: Vec<(String, bool)>,
    now: Timestamp,
) -> (Parts, Schedule) {
    let missing: Vec<usize> = choices
        .iter()
        .enumerate()
        .filter(|(_, (_, fallback))| *fallback)
        .map(|(i, _)| i)
        .collect();
    let assignments: Vec<Option<String>> = choices.into_iter().map(|(a, _)| Some(a)).collect();
    let agent_limit = |name: &str| library.get(name).and_then(|a| a.orchestration.max_parallel);
    let mut schedule = simulate(
        mission,
        graph,
        &assignments,
        &Limits::new(mission, &agent_limit),
    );
    let risks = assess(&RiskInput {
        schedule: Some(&schedule),
        assignments: &assignments,
        agent_max_parallel: &agent_limit,
        missing_agents: &missing,
        history: Some(history),
        ..RiskInput::new(mission, graph, now)
    });
    let ids = |tasks: &[usize]| -> Vec<String> {
        tasks.iter().map(|&t| mission.tasks[t].id.clone()).collect()
    };
    let parts = Parts {
        summary: summary(mission, library, now),
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
            profile: std::mem::take(&mut schedule.profile),
        },
        risks,
        similar: similar_to(mission, history),
    };
    (parts, schedule)
}

fn similar_to(mission: &Mission, history: &History) -> Vec<SimilarMission> {
    let query = Query {
        objective: &mission.objective,
        project_type: mission.project_type.as_deref(),
        titles: mission.tasks.iter().map(|t| t.title.as_str()).collect(),
    };
    similar(&query, &history.missions)
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
        definition_of_done: mission.done_when.iter().map(|d| d.text.clone()).collect(),
    }
}

/// The order steps are listed in: by wave, then by simulated start.
fn step_order(graph: &Graph, schedule: &Schedule) -> Vec<usize> {
    let mut order: Vec<usize> = (0..schedule.tasks.len()).collect();
    order.sort_by(|&a, &b| {
        graph
            .wave(a)
            .cmp(&graph.wave(b))
            .then(schedule.tasks[a].start.total_cmp(&schedule.tasks[b].start))
            .then(a.cmp(&b))
    });
    order
}

fn steps(
    mission: Mission,
    graph: &Graph,
    schedule: &Schedule,
    staffing: Vec<Staffing>,
) -> Vec<Step> {
    let mut staffing: Vec<Option<Staffing>> = staffing.into_iter().map(Some).collect();
    let order = step_order(graph, schedule);
    let mut tasks: Vec<Option<Task>> = mission.tasks.into_iter().map(Some).collect();
    order
        .into_iter()
        .map(|t| {
            let mut task = tasks[t].take().expect("each task is planned once");
            let staffing = staffing[t].take().expect("each task is staffed once");
            // The texts move into the step.
            let id = std::mem::take(&mut task.id);
            let title = std::mem::take(&mut task.title);
            let depends_on = std::mem::take(&mut task.depends_on);
            let texts = (id, title, depends_on);
            step(texts, &task, t, &mission.phases, graph, schedule, staffing)
        })
        .collect()
}

/// One step: `task` (index `t`) with its texts (ID, title, dependencies)
/// and its staffing.
fn step(
    (id, title, depends_on): (String, String, Vec<String>),
    task: &Task,
    t: usize,
    phases: &[Phase],
    graph: &Graph,
    schedule: &Schedule,
    staffing: Staffing,
) -> Step {
    Step {
        id,
        title,
        priority: task.priority,
        phase: task.phase.map(|p| phases[p].name.clone()),
        wave: graph.wave(t),
        depends_on,
        external: task.external.iter().map(ToString::to_string).collect(),
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
}
