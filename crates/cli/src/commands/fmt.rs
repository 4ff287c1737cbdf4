//! `techlead fmt`: write auto-assigned task IDs into the file, so that IDs
//! stay stable when tasks are added or moved later.

use crate::args::FmtArgs;
use crate::atomic_file;
use crate::diagnostics;
use crate::exit::{CliError, Outcome};
use crate::inputs;

pub fn run(args: &FmtArgs) -> Result<Outcome, CliError> {
    let file = inputs::read_source(&args.mission)?;
    let parsed = techlead_core::spec::parse(&file.text);
    let mission = match parsed.mission {
        Some(mission) if !parsed.diagnostics.iter().any(|d| d.is_error()) => mission,
        _ => {
            diagnostics::print_all(&file, &parsed.diagnostics);
            return Err(CliError::Invalid {
                path: args.mission.clone(),
                count: parsed
                    .diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .count()
                    .max(1),
            });
        }
    };
    let Some(text) = techlead_core::spec::assign_ids_in_text(&file.text, &mission) else {
        eprintln!("{}: every task already has an ID", file.name);
        return Ok(Outcome::Success);
    };
    let added: Vec<&str> = mission
        .tasks
        .iter()
        .filter(|t| t.id_assigned)
        .map(|t| t.id.as_str())
        .collect();
    if args.check {
        eprintln!(
            "{}: {} task{} without an ID (would add {}); run `techlead fmt {}`",
            file.name,
            added.len(),
            if added.len() == 1 { "" } else { "s" },
            added.join(", "),
            args.mission.display()
        );
        return Ok(Outcome::Attention);
    }
    atomic_file::write(&args.mission, &text).map_err(|source| CliError::Write {
        path: args.mission.clone(),
        source,
    })?;
    eprintln!("{}: added IDs {}", file.name, added.join(", "));
    Ok(Outcome::Success)
}
