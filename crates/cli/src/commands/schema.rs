use crate::exit::{CliError, Outcome};

pub fn run() -> Result<Outcome, CliError> {
    let schema = techlead_core::spec::json_schema();
    println!(
        "{}",
        serde_json::to_string_pretty(&schema).expect("a JSON value serialises")
    );
    Ok(Outcome::Success)
}
