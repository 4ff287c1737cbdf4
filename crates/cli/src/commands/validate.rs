//! `techlead validate`: every problem of a mission file, with its place.

use crate::args::MissionArgs;
use crate::exit::{CliError, Outcome};
use crate::inputs;

pub fn run(args: &MissionArgs) -> Result<Outcome, CliError> {
    let checked = inputs::check(&args.mission, &args.source)?;
    if args.json {
        return print_json(checked);
    }
    let valid = checked.print_and_accept()?;
    eprintln!(
        "{}: ok: {} tasks, {} phases, {} agents, {} warning{}",
        valid.file.name,
        valid.mission.tasks.len(),
        valid.mission.phases.len(),
        valid.library.len(),
        valid.warnings,
        if valid.warnings == 1 { "" } else { "s" }
    );
    for task in valid
        .mission
        .tasks
        .iter()
        .filter(|t| !t.external.is_empty())
    {
        let on: Vec<String> = task.external.iter().map(ToString::to_string).collect();
        eprintln!(
            "  {} waits for {} (another mission's task: it must succeed there first)",
            task.id,
            on.join(", ")
        );
    }
    Ok(Outcome::Success)
}

/// The diagnostics as a JSON array on stdout, each with its file.
fn print_json(checked: inputs::Checked) -> Result<Outcome, CliError> {
    let entries: Vec<serde_json::Value> = checked
        .diagnostics
        .iter()
        .map(|d| {
            let mut value = serde_json::to_value(d).expect("diagnostics serialise");
            value["file"] = serde_json::Value::String(checked.file.name.clone());
            value
        })
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&entries).expect("JSON values serialise")
    );
    match checked.errors() {
        0 => Ok(Outcome::Success),
        count => Err(CliError::Invalid {
            path: checked.path,
            count,
        }),
    }
}
