//! `techlead plan`: the execution blueprint of a mission; with
//! `--objective` or `--brief`, a mission planned from an objective first
//! (`objective`).

mod ask;
mod objective;
mod review;
mod show;

use crate::args::{PlanArgs, PlanFormat};
use crate::exit::{CliError, Outcome};
use crate::inputs;
use crate::render;
use std::io::Write;
use techlead_core::plan::blueprint::{blueprint, lazy_blueprint};

pub fn run(args: &PlanArgs) -> Result<Outcome, CliError> {
    let Some(path) = &args.mission else {
        return objective::run(args);
    };
    let valid = inputs::check(path, &args.source)?.print_and_accept()?;
    // The text has done its part (diagnostics are printed): let it go.
    drop(valid.file);
    let now = args.as_of.unwrap_or_else(jiff::Timestamp::now);
    let history = crate::history::for_planning(&args.database);
    let cycles = "validation rejects cycles before planning";
    let format = if args.json {
        PlanFormat::Json
    } else {
        args.format
    };
    if let PlanFormat::Json = format {
        // Each step is made as it is written, and the text streamed: at
        // 10,000 tasks the steps would take 15 MB, the text 17 MB.
        let plan = lazy_blueprint(valid.mission, &valid.library, &history, now).expect(cycles);
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        // As other commands: a closed stdout (`| head`) is not an error.
        let _ = serde_json::to_writer_pretty(&mut out, &plan)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
            .and_then(|()| out.flush());
        return Ok(Outcome::Success);
    }
    let plan = blueprint(valid.mission, &valid.library, &history, now).expect(cycles);
    let output = match format {
        PlanFormat::Markdown => render::plan::markdown(&plan),
        PlanFormat::Text | PlanFormat::Json => {
            render::plan::text(&plan, render::width(), render::color_on_stdout())
        }
    };
    print!("{output}");
    Ok(Outcome::Success)
}
