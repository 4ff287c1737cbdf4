//! `techlead forecast`: when a mission finishes and what it costs, from a
//! mission file (all its work, from now) or a recorded mission (what is
//! left of it), learning from the missions in the database.

use crate::args::ForecastArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render;
use std::path::Path;
use techlead_core::forecast::{self, History, Model, Work};
use techlead_core::state::{MissionPlan, MissionState, Resolve};

pub fn run(args: &ForecastArgs) -> Result<Outcome, CliError> {
    let now = args.as_of.unwrap_or_else(jiff::Timestamp::now);
    let (name, work, history) = if is_file(&args.mission) {
        // The record as planning reads it: staffing and forecast alike.
        let record = crate::history::for_planning(&args.database);
        let plan = planned(Path::new(&args.mission), args, &record)?;
        let history = History::of_record(&record);
        (plan.name.clone(), Work::planned(&plan, now), history)
    } else {
        let (store, path) = database::open_existing(&args.database)?;
        let row = database::mission(&store, &path, Some(&args.mission))?;
        let state: MissionState = database::state(&store, &row.id)?;
        let history = techlead_engine::forecast::history(&store, None)?;
        (row.id, Work::remaining(&state, now), history)
    };
    let forecast = forecast::forecast(&work, &Model::new(&history), args.runs, args.seed);
    if args.json {
        let json = render::forecast::json(&name, &forecast, now);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("JSON values serialise")
        );
    } else {
        print!("{}", render::forecast::text(&name, &forecast, now));
    }
    Ok(Outcome::Success)
}

/// A mission file, rather than a recorded mission: a path that exists,
/// or one that says it is YAML (its absence is then reported as such).
fn is_file(argument: &str) -> bool {
    Path::new(argument).is_file() || argument.ends_with(".yaml") || argument.ends_with(".yml")
}

/// The plan `techlead run` would record, without the repository (the
/// forecast does not need the checkout).
fn planned(
    path: &Path,
    args: &ForecastArgs,
    record: &techlead_core::history::History,
) -> Result<MissionPlan, CliError> {
    let valid = inputs::check(path, &args.source)?.print_and_accept()?;
    let resolve = Resolve {
        library: &valid.library,
        history: record,
        source: path.display().to_string(),
        source_hash: String::new(),
        workdir: ".".to_string(),
        repository: None,
    };
    Ok(MissionPlan::resolve(valid.mission, resolve)
        .expect("validation rejects cycles before planning"))
}
