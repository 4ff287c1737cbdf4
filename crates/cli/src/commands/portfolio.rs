//! `techlead portfolio`: each agent's allocation across the missions under
//! way, over-allocation flagged, and the portfolio's risks
//! (docs/portfolio.md). Reads the record as `history` does: every mission
//! folded, no new `Store` method.

use crate::args::PortfolioArgs;
use crate::database;
use crate::exit::{CliError, Outcome};
use crate::render;
use techlead_core::portfolio::{self, Params};
use techlead_core::state::MissionState;
use techlead_store::Store;

pub fn run(args: &PortfolioArgs) -> Result<Outcome, CliError> {
    let (store, path) = database::open_existing(&args.database)?;
    let rows = store.missions()?;
    if rows.is_empty() {
        return Err(CliError::NoMissions {
            database: database::shown(&path),
        });
    }
    let mut states: Vec<(String, MissionState)> = Vec::new();
    for row in rows {
        let state = database::state(&store, &row.id)?;
        if portfolio::under_way(state.status) {
            states.push((row.id, state));
        }
    }
    if states.is_empty() {
        return Err(CliError::NothingUnderWay {
            database: database::shown(&path),
        });
    }
    let missions: Vec<(&str, &MissionState)> =
        states.iter().map(|(id, s)| (id.as_str(), s)).collect();
    let params = Params {
        threshold: args.threshold,
        horizon_hours: args.horizon,
        window_hours: args.window,
    };
    let now = args.as_of.unwrap_or_else(jiff::Timestamp::now);
    let built = portfolio::build(&missions, now, params);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&built).expect("the portfolio serialises")
        );
    } else {
        print!(
            "{}",
            render::portfolio::text(&built, render::width(), render::color_on_stdout())
        );
    }
    Ok(Outcome::Success)
}
