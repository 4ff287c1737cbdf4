//! `techlead report`: a mission's report (core::report) as Markdown, one
//! self-contained HTML page, or JSON, for an executive or an engineering
//! audience, on stdout or written whole to a file. Reads the record only,
//! so it is safe while a run is writing.

use crate::args::{ReportArgs, ReportAudience, ReportFormat};
use crate::atomic_file;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::path::Path;
use techlead_core::forecast::{self, Model, Work};
use techlead_core::report::{self, Audience, Inputs};
use techlead_core::state::MissionState;
use techlead_store::{MissionRow, Store};

pub fn run(args: &ReportArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = mission(&store, &path, args.mission.as_deref())?;
    let records = store.events(&row.id, 0)?;
    let state = MissionState::replay(&records).map_err(techlead_engine::mission::Error::from)?;
    let now = jiff::Timestamp::now();
    let forecast = forecast(&store, &state, now)?;
    let report = report::build(Inputs {
        mission: &row.id,
        state: &state,
        records: &records,
        now,
        forecast,
    });
    let audience = match args.audience {
        ReportAudience::Executive => Audience::Executive,
        ReportAudience::Engineering => Audience::Engineering,
    };
    let text = match args.format {
        ReportFormat::Markdown => report::markdown(&report, audience),
        ReportFormat::Html => report::html(&report, audience),
        ReportFormat::Json => {
            serde_json::to_string_pretty(&report).expect("a report serialises") + "\n"
        }
    };
    match &args.output {
        Some(file) => {
            atomic_file::write(file, &text).map_err(|source| CliError::Write {
                path: file.clone(),
                source,
            })?;
            eprintln!("wrote the report of {} to {}", row.id, file.display());
        }
        None => print!("{text}"),
    }
    Ok(Outcome::Success)
}

/// Runs of the forecast behind a report: enough for steady percentiles,
/// few enough to cost well under a second at 10,000 tasks.
const FORECAST_RUNS: u32 = 200;

/// When the remaining work of an unfinished mission should be done (P50,
/// P90), from the estimates corrected by the record's history; none for a
/// finished mission.
fn forecast(
    store: &dyn Store,
    state: &MissionState,
    now: jiff::Timestamp,
) -> Result<Option<report::Forecast>, CliError> {
    if state.status.is_finished() {
        return Ok(None);
    }
    let history = techlead_engine::forecast::history(store, None)?;
    let work = Work::remaining(state, now);
    let outlook = forecast::forecast(&work, &Model::new(&history), FORECAST_RUNS, 1);
    let at = |hours: f64| now + jiff::SignedDuration::from_secs_f64(hours.max(0.0) * 3600.0);
    Ok(Some(report::Forecast {
        p50: at(outlook.finish_hours.p50),
        p90: at(outlook.finish_hours.p90),
    }))
}

/// The mission asked for (the newest without a name), or an error whose
/// hint lists the missions the database holds.
fn mission(store: &dyn Store, path: &Path, name: Option<&str>) -> Result<MissionRow, CliError> {
    let Some(name) = name else {
        return database::mission(store, path, None);
    };
    if let Some(row) = store.find_mission(name)? {
        return Ok(row);
    }
    let missions = store.missions()?;
    let hint = if missions.is_empty() {
        "the database holds no mission yet: `techlead run mission.yaml` starts one".to_string()
    } else {
        let ids: Vec<&str> = missions.iter().map(|m| m.id.as_str()).collect();
        let near = techlead_core::diagnostic::nearest(name, ids.iter().copied())
            .map_or(String::new(), |near| format!("did you mean `{near}`? "));
        let shown = ids.len().min(10);
        let more = if ids.len() > shown {
            format!(" and {} more (`techlead missions`)", ids.len() - shown)
        } else {
            String::new()
        };
        format!(
            "{near}missions in this database, newest first: {}{more}",
            ids[..shown].join(", ")
        )
    };
    Err(CliError::UnknownMission {
        name: name.to_string(),
        database: database::shown(path),
        hint,
    })
}
