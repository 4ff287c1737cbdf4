//! The `techlead` command-line tool. Commands live in `commands/`; how
//! things look on a terminal lives in `render/` and `diagnostics`.

mod args;
mod atomic_file;
mod commands;
mod database;
mod diagnostics;
mod exit;
mod history;
mod inputs;
mod render;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Cli::parse();
    match commands::run(args) {
        Ok(code) => code.into(),
        Err(error) => {
            diagnostics::print_error(&error);
            error.exit_code().into()
        }
    }
}
