//! The plan's own schedule for a recorded mission: the same list
//! scheduling `techlead plan` shows (`plan::schedule`), over the recorded
//! plan rather than the mission file, which may have changed or gone
//! since.

use super::model::Planned;
use crate::plan::graph::Graph;
use crate::plan::schedule::{self, Limits};
use crate::spec::{Defaults, Mission, Phase, Task};
use crate::state::MissionPlan;
use jiff::Timestamp;

/// Every task taking its estimate under the plan's limits, from `start`
/// when the mission has started.
pub fn planned(plan: &MissionPlan, start: Option<Timestamp>) -> Planned {
    let mission = as_mission(plan);
    // A recorded plan was validated, so it has no cycle; should one be
    // there anyway, the report says the plan takes no time rather than
    // failing.
    let Ok(graph) = Graph::new(&mission) else {
        return Planned {
            hours: 0.0,
            critical_path_hours: 0.0,
            unestimated: 0,
            finish_at: start,
            task_finish_hours: vec![0.0; plan.tasks.len()],
        };
    };
    let agents: Vec<Option<String>> = plan.tasks.iter().map(|t| Some(t.agent.clone())).collect();
    let agent_limit = |name: &str| {
        plan.agent_limits
            .iter()
            .find(|(agent, _)| agent == name)
            .map(|&(_, limit)| limit)
    };
    let limits = Limits {
        max_parallel: plan.max_parallel,
        agent_max_parallel: &agent_limit,
    };
    let schedule = schedule::simulate(&mission, &graph, &agents, &limits);
    Planned {
        hours: schedule.makespan,
        critical_path_hours: graph.critical_path().hours,
        unestimated: graph.unestimated().len(),
        finish_at: start.and_then(|s| {
            s.checked_add(jiff::SignedDuration::from_secs_f64(
                schedule.makespan * 3600.0,
            ))
            .ok()
        }),
        task_finish_hours: schedule.tasks.iter().map(|slot| slot.finish).collect(),
    }
}

/// The parts of a mission the graph and the schedule read, from the plan.
fn as_mission(plan: &MissionPlan) -> Mission {
    let mut phases: Vec<Phase> = plan
        .phases
        .iter()
        .map(|p| Phase {
            name: p.name.clone(),
            description: String::new(),
            gates: Vec::new(),
            tasks: Vec::new(),
            span: Default::default(),
        })
        .collect();
    for (t, task) in plan.tasks.iter().enumerate() {
        if let Some(phase) = task.detail.phase.and_then(|p| phases.get_mut(p)) {
            phase.tasks.push(t);
        }
    }
    Mission {
        name: plan.name.clone(),
        objective: String::new(),
        project_type: None,
        priority: None,
        standing: Default::default(),
        deadline: plan.deadline,
        budget: None,
        repository: None,
        merge: None,
        on_conflict: None,
        wip_limit: None,
        agents: Vec::new(),
        defaults: Defaults {
            max_parallel: plan.max_parallel,
            ..Defaults::default()
        },
        phases,
        tasks: plan.tasks.iter().map(as_task).collect(),
        done_when: Vec::new(),
        webhooks: Vec::new(),
    }
}

fn as_task(task: &crate::state::TaskPlan) -> Task {
    Task {
        id: task.id.clone(),
        id_assigned: false,
        kind: task.kind,
        labels: Vec::new(),
        title: String::new(),
        description: String::new(),
        agent: Some(task.agent.clone()),
        backup: None,
        priority: task.priority,
        depends_on: task.depends_on.clone(),
        external: task.detail.external.clone(),
        estimate_hours: task.detail.estimate_hours,
        timeout: None,
        retries: None,
        executor: None,
        command: None,
        gates: Vec::new(),
        acceptance: Vec::new(),
        artifacts: Vec::new(),
        needs: Vec::new(),
        paths: Vec::new(),
        budget: None,
        phase: task.detail.phase,
        spans: Default::default(),
    }
}
