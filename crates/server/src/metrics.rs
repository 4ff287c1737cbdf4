//! `GET /metrics`: every mission's figures for Prometheus, in the
//! OpenMetrics text format (`prometheus-client`'s encoder). Each mission's
//! figures are derived from its folded state (`db::Folded`, as the API's
//! answers are) and kept with the seq they were derived at: a scrape reads
//! the missions' list once and derives again only the missions whose log
//! moved, so finished missions cost nothing after the first scrape.

mod figures;

use crate::Shared;
use crate::error::ApiError;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use figures::Figures;
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use techlead_core::state::{Event, EventRecord, NextStep};

/// OpenMetrics 1.0, which Prometheus asks for first and reads natively.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the log says that the folded state does not keep: how often each
/// executor was paused, and retries by the agent that took them. Kept
/// beside the folded state (`db::Folded`), fed every event once.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub pauses: BTreeMap<String, u64>,
    pub retries: BTreeMap<String, u64>,
}

impl Tally {
    pub fn note(&mut self, record: &EventRecord) {
        let retry = match &record.event {
            Event::ExecutorPaused { executor, .. } => {
                *self.pauses.entry(executor.clone()).or_default() += 1;
                None
            }
            Event::AttemptFinished { next, .. } | Event::MergeConflicted { next, .. } => Some(next),
            Event::TaskGateFinished { next, .. } => next.as_ref(),
            _ => None,
        };
        if let Some(NextStep::Retry { agent, .. }) = retry {
            *self.retries.entry(agent.clone()).or_default() += 1;
        }
    }
}

/// Each mission's figures as of the seq they were derived at.
#[derive(Default)]
pub struct Kept {
    missions: Mutex<HashMap<String, Arc<Figures>>>,
}

pub async fn serve(State(shared): State<Arc<Shared>>) -> Result<Response, ApiError> {
    let db = shared.db.clone();
    let tails = shared.tails.clone();
    let kept = shared.metrics.clone();
    let missions = shared
        .db
        .read(move |store| {
            let rows = store.missions()?;
            let mut missions = Vec::with_capacity(rows.len());
            let before = kept.missions.lock().expect("never poisoned").clone();
            let mut now = HashMap::with_capacity(rows.len());
            for row in rows {
                let figures = match before.get(&row.id) {
                    Some(figures) if figures.last_seq == row.last_seq => figures.clone(),
                    _ => Arc::new(Figures::of(&row.id, &db.folded(store, &row.id)?)),
                };
                now.insert(row.id, figures.clone());
                missions.push(figures);
            }
            // Missions gone from the database are forgotten.
            *kept.missions.lock().expect("never poisoned") = now;
            Ok(missions)
        })
        .await?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(figures::Scrape {
        missions,
        followers: tails.followers(),
        fallbacks: tails.fallbacks(),
        tailed: tails.tailed(),
    }));
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, &registry).map_err(ApiError::internal)?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response())
}
