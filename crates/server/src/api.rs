//! The read endpoints: what the store holds, as JSON. Every answer about
//! one mission is folded from its event log (`MissionState`, kept between
//! requests and brought up to date: `db::Folded`), the way `techlead
//! status` reads it, so the server and the CLI never disagree; lists of
//! missions and agents come from the store's projections.

use crate::Shared;
use crate::db;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use techlead_core::spend::{self, By};
use techlead_core::state::{EventRecord, GatePlan, MissionState, TaskStatus};

type Answer = Result<Json<Value>, ApiError>;

/// Events one `GET /events` returns unless `limit` says fewer.
const DEFAULT_LIMIT: usize = 1000;
/// The most it returns at once.
const MAX_LIMIT: usize = 10_000;

pub async fn health() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

pub async fn not_found() -> ApiError {
    ApiError::not_found(
        "no such endpoint",
        "GET /api/openapi.json describes the endpoints",
    )
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "this endpoint only reads (GET)",
        "GET /api/openapi.json describes the endpoints",
    )
}

pub async fn missions(State(shared): State<Arc<Shared>>) -> Answer {
    let rows = shared.db.read(|store| Ok(store.missions()?)).await?;
    Ok(Json(json!(rows)))
}

pub async fn mission(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    shared
        .db
        .read_folded(id, move |_, row, folded| {
            let db::Folded {
                state, escalations, ..
            } = folded;
            let open = escalations
                .iter()
                .filter(|e| e["resolved_at"].is_null())
                .count();
            Ok(Json(json!({
                "id": row.id,
                "name": state.plan.name,
                "objective": state.plan.objective,
                "source": state.plan.source,
                "status": state.status,
                "runs": state.runs,
                "created_at": state.created_at,
                "updated_at": state.last_event_at,
                "last_seq": state.last_seq,
                "tasks": state.tasks.len(),
                "counts": counts(&state),
                "plan": plan_summary(&state),
                "spend": {
                    "cost_usd": state.spent_usd,
                    "tokens": state.spent_tokens,
                    "budget": state.plan.budget,
                },
                "escalations": { "raised": escalations.len(), "open": open },
                "paused_executors": state.paused_executors.iter().map(|(executor, until)| json!({
                    "executor": executor,
                    "until": until,
                })).collect::<Vec<_>>(),
            })))
        })
        .await
}

pub async fn tasks(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    shared
        .db
        .read_folded(id, move |_, _, folded| {
            let state = folded.state;
            let tasks: Vec<Value> = (0..state.tasks.len())
                .map(|t| task_summary(&state, t))
                .collect();
            Ok(Json(json!(tasks)))
        })
        .await
}

pub async fn task(
    State(shared): State<Arc<Shared>>,
    Path((id, task)): Path<(String, String)>,
) -> Answer {
    shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            let t = find_task(&state, &row.id, &task)?;
            let (state_of, plan) = (&state.tasks[t], &state.plan.tasks[t]);
            let mut answer = task_summary(&state, t);
            let fields = answer.as_object_mut().expect("a task summary is an object");
            for (key, value) in [
                ("description", json!(plan.description)),
                ("acceptance", json!(plan.detail.acceptance)),
                ("backup", json!(plan.detail.backup)),
                ("timeout_ms", json!(plan.timeout_ms)),
                ("retries", json!(plan.retries)),
                (
                    "gates",
                    json!(
                        plan.detail
                            .gates
                            .iter()
                            .map(GatePlan::name)
                            .collect::<Vec<_>>()
                    ),
                ),
                ("attempts", json!(state_of.attempts)),
                ("retry_at", json!(state_of.retry_at)),
                ("artifacts", json!(state_of.reports.artifacts)),
                ("decisions", json!(state_of.reports.decisions)),
                ("blockers", json!(state_of.reports.blockers)),
                ("checks", json!(state_of.work.checks)),
                ("commit", json!(state_of.work.commit)),
                ("changed_files", json!(state_of.work.changed_files)),
                ("merged", json!(state_of.work.merged)),
                ("conflict", json!(state_of.work.conflict)),
                ("missing_inputs", json!(state_of.work.missing_inputs)),
            ] {
                fields.insert(key.to_string(), value);
            }
            Ok(Json(answer))
        })
        .await
}

pub async fn events(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    let after = number(&query, "after")?.unwrap_or(0);
    let limit = match number(&query, "limit")? {
        None => DEFAULT_LIMIT,
        Some(0) => {
            return Err(ApiError::bad_request(
                "limit must be at least 1",
                format!("pass a limit from 1 to {MAX_LIMIT}"),
            ));
        }
        Some(n) => (n as usize).min(MAX_LIMIT),
    };
    shared
        .db
        .read(move |store| {
            let row = db::mission(store, &id)?;
            let mut records = store.events(&row.id, after)?;
            let more = records.len() > limit;
            records.truncate(limit);
            let events: Vec<Value> = records.iter().map(|r| record_json(&row.id, r)).collect();
            Ok(Json(json!({
                "mission": row.id,
                "events": events,
                "more": more,
                "last_seq": row.last_seq,
            })))
        })
        .await
}

pub async fn escalations(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    shared
        .db
        .read_folded(id, move |_, _, folded| Ok(Json(json!(folded.escalations))))
        .await
}

pub async fn costs(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            let total = spend::total(&state);
            Ok(Json(json!({
                "mission": row.id,
                "total": total,
                "budget": state.plan.budget,
                "by_task": spend_by(&state, By::Task),
                "by_agent": spend_by(&state, By::Agent),
                "by_model": spend_by(&state, By::Model),
            })))
        })
        .await
}

pub async fn agents(State(shared): State<Arc<Shared>>) -> Answer {
    let rows = shared.db.read(|store| Ok(store.agent_records()?)).await?;
    Ok(Json(json!(rows)))
}

/// The index of task `task` of mission `id`; 404 naming the nearest ID.
pub(crate) fn find_task(state: &MissionState, id: &str, task: &str) -> Result<usize, ApiError> {
    state.task_index(task).ok_or_else(|| {
        let ids = state.plan.tasks.iter().map(|t| t.id.as_str());
        let hint = match techlead_core::diagnostic::nearest(task, ids) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("GET /api/missions/{id}/tasks lists its tasks"),
        };
        ApiError::not_found(format!("mission `{id}` has no task `{task}`"), hint)
    })
}

/// An event as `techlead run --json` prints it: the record with the
/// mission's ID first.
pub fn record_json(mission: &str, record: &EventRecord) -> Value {
    let mut fields = serde_json::Map::new();
    fields.insert("mission".into(), json!(mission));
    if let Value::Object(record) = json!(record) {
        fields.extend(record);
    }
    Value::Object(fields)
}

/// A query parameter that must be a whole number, if given.
fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<u64>, ApiError> {
    query
        .get(name)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    format!("`{name}` must be a whole number, not `{v}`"),
                    format!("e.g. ?{name}=10"),
                )
            })
        })
        .transpose()
}

fn counts(state: &MissionState) -> Value {
    let counts: serde_json::Map<String, Value> = TaskStatus::ALL
        .iter()
        .map(|&s| (s.as_str().to_string(), json!(state.count(s))))
        .collect();
    Value::Object(counts)
}

fn plan_summary(state: &MissionState) -> Value {
    let plan = &state.plan;
    json!({
        "max_parallel": plan.max_parallel,
        "failure_threshold": plan.failure_threshold,
        "phases": plan.phases.iter().map(|p| json!({ "name": p.name, "gates": p.gates })).collect::<Vec<_>>(),
        "agents": plan.agents.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
        "tasks": plan.tasks.iter().map(|t| json!({
            "id": t.id,
            "title": t.title,
            "agent": t.agent,
            "executor": t.executor,
            "priority": t.priority,
            "depends_on": t.depends_on,
            "external": t.detail.external,
            "phase": t.detail.phase.map(|p| plan.phases.get(p).map_or("", |p| p.name.as_str())),
        })).collect::<Vec<_>>(),
        "repository": plan.repository,
        "definition_of_done": plan.done_when.iter().enumerate().map(|(i, item)| json!({
            "item": item.text,
            "run": item.run,
            "state": state.done_state(i),
        })).collect::<Vec<_>>(),
    })
}

/// What the tasks list shows of a task.
fn task_summary(state: &MissionState, t: usize) -> Value {
    let (task, plan) = (&state.tasks[t], &state.plan.tasks[t]);
    let time_ms: u64 = task.attempts.iter().filter_map(|a| a.duration_ms).sum();
    let cost_usd: f64 = task
        .attempts
        .iter()
        .filter_map(|a| a.detail.usage.as_ref())
        .map(|u| u.cost_usd)
        .sum();
    json!({
        "id": plan.id,
        "title": plan.title,
        "status": task.status,
        "agent": task.agent,
        "executor": plan.executor,
        "priority": plan.priority,
        "phase": plan.detail.phase.and_then(|p| state.plan.phases.get(p)).map(|p| p.name.as_str()),
        "depends_on": plan.depends_on,
        "external": state.external_of(t).collect::<Vec<_>>(),
        "attempt_count": task.attempts.len(),
        "time_ms": time_ms,
        "cost_usd": cost_usd,
        "blocked_by": task.blocked_by,
        "progress": task.progress.as_ref().map(|(percent, message)| json!({
            "percent": percent,
            "message": message,
        })),
        "summary": task.reports.summary,
    })
}

/// Spend rows grouped `by`, as JSON.
fn spend_by(state: &MissionState, by: By) -> Vec<Value> {
    spend::grouped(state, by)
        .iter()
        .map(|row| json!(row))
        .collect()
}
