//! `GET /api/portfolio`: each agent's allocation across the missions
//! under way, over-allocation flagged, and the portfolio's risks: the
//! JSON of `techlead portfolio --json` (`core::portfolio`,
//! docs/portfolio.md). Missions the store's projection lists as finished
//! are skipped before folding; the rest come from the kept folds.

use crate::Shared;
use crate::error::ApiError;
use axum::Json;
use axum::extract::{Query, State};
use jiff::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use techlead_core::portfolio::{self, Params};

pub async fn portfolio(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let defaults = Params::default();
    let params = Params {
        threshold: positive(&query, "threshold", defaults.threshold)?,
        horizon_hours: positive(&query, "horizon", defaults.horizon_hours)?,
        window_hours: positive(&query, "window", defaults.window_hours)?,
    };
    let db = shared.db.clone();
    shared
        .db
        .read(move |store| {
            let mut states = Vec::new();
            for row in store.missions()? {
                if portfolio::under_way(row.status) {
                    states.push((row.id.clone(), db.folded(store, &row.id)?.state));
                }
            }
            let missions: Vec<_> = states.iter().map(|(id, s)| (id.as_str(), s)).collect();
            let built = portfolio::build(&missions, Timestamp::now(), params);
            Ok(Json(json!(built)))
        })
        .await
}

/// A query parameter above 0, or `default` when absent.
fn positive(query: &HashMap<String, String>, key: &str, default: f64) -> Result<f64, ApiError> {
    let Some(text) = query.get(key) else {
        return Ok(default);
    };
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 => Ok(n),
        _ => Err(ApiError::bad_request(
            format!("{key} must be a number above 0, not `{text}`"),
            format!("e.g. ?{key}={default}"),
        )),
    }
}
