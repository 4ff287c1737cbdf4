//! `techlead plan`: the execution blueprint of a mission.

use crate::args::{PlanArgs, PlanFormat};
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render;
use techlead_core::plan::assign::AssignContext;
use techlead_core::plan::blueprint::blueprint;

pub fn run(args: &PlanArgs) -> Result<Outcome, CliError> {
    let valid = inputs::check(&args.mission, &args.source)?.print_and_accept()?;
    let now = args.as_of.unwrap_or_else(jiff::Timestamp::now);
    let plan = blueprint(
        &valid.mission,
        &valid.library,
        &AssignContext::default(),
        now,
    )
    .expect("validation rejects cycles before planning");
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    let output = match format {
        PlanFormat::Text => render::plan::text(&plan, render::width(), render::color_on_stdout()),
        PlanFormat::Markdown => render::plan::markdown(&plan),
        PlanFormat::Json => {
            serde_json::to_string_pretty(&plan).expect("the blueprint serialises") + "\n"
        }
    };
    print!("{output}");
    Ok(Outcome::Success)
}
