//! `techlead report`: a mission's report (core::report) as Markdown, one
//! self-contained HTML page, or JSON, for an executive or an engineering
//! audience, on stdout or written whole to a file. Reads the record only,
//! so it is safe while a run is writing.

use crate::args::{ReportArgs, ReportAudience, ReportFormat};
use crate::atomic_file;
use crate::database;
use crate::exit::{CliError, Outcome};
use std::path::Path;
use techlead_core::report::{self, Audience, Inputs};
use techlead_core::state::MissionState;
use techlead_store::{MissionRow, Store};

pub fn run(args: &ReportArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let row = mission(&store, &path, args.mission.as_deref())?;
    let records = store.events(&row.id, 0)?;
    let state = MissionState::replay(&records).map_err(techlead_engine::mission::Error::from)?;
    let report = report::build(Inputs {
        mission: &row.id,
        state: &state,
        records: &records,
        now: jiff::Timestamp::now(),
        // techlead has no forecast of the remaining work to give: the
        // report shows the plan and the deadline, and no forecast rather
        // than a guess.
        forecast: None,
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
