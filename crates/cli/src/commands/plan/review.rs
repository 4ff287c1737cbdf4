//! The person's turn: accept, edit or regenerate the plan, on a terminal.

use crate::exit::CliError;
use std::io::{BufRead, Write};
use std::path::Path;
use std::process::Command;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Accept,
    Edit,
    Regenerate,
    Quit,
}

/// Asks until the answer is one of the choices; the end of input is quit.
/// `valid`: whether accepting is possible (an edit may have broken the plan).
pub fn ask(valid: bool) -> std::io::Result<Choice> {
    let stdin = std::io::stdin();
    loop {
        let question = if valid {
            "[a]ccept, [e]dit, [r]egenerate or [q]uit? "
        } else {
            "The plan has errors: [e]dit, [r]egenerate or [q]uit? "
        };
        eprint!("{question}");
        std::io::stderr().flush()?;
        let mut line = String::new();
        if stdin.lock().read_line(&mut line)? == 0 {
            return Ok(Choice::Quit);
        }
        match line.trim().to_lowercase().as_str() {
            "a" | "accept" | "y" | "yes" if valid => return Ok(Choice::Accept),
            "e" | "edit" => return Ok(Choice::Edit),
            "r" | "regenerate" => return Ok(Choice::Regenerate),
            "q" | "quit" | "n" | "no" => return Ok(Choice::Quit),
            _ => {}
        }
    }
}

/// Opens `text` in the person's editor ($VISUAL, else $EDITOR, else vi) on
/// a temporary file and returns what they saved.
pub fn edit(text: &str) -> Result<String, CliError> {
    let path = std::env::temp_dir().join(format!("techlead-plan-{}.yaml", std::process::id()));
    let written = |source| CliError::Write {
        path: path.clone(),
        source,
    };
    std::fs::write(&path, text).map_err(written)?;
    let editor = ["VISUAL", "EDITOR"]
        .iter()
        .filter_map(|name| std::env::var(name).ok())
        .find(|value| !value.trim().is_empty())
        .unwrap_or_else(|| "vi".to_string());
    let status = run_editor(&editor, &path);
    let edited = std::fs::read_to_string(&path);
    let _ = std::fs::remove_file(&path);
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => {
            return Err(CliError::Plan {
                message: format!("the editor `{editor}` exited with {status}"),
                hint: "set $EDITOR (or $VISUAL) to an editor that waits, e.g. `code -w`".into(),
                declined: false,
            });
        }
        Err(source) => return Err(written(source)),
    }
    edited.map_err(|source| CliError::Read { path, source })
}

/// Through the shell, because $EDITOR may hold arguments (`code -w`);
/// the file's name is passed as `$1`, never spliced into the command.
fn run_editor(editor: &str, path: &Path) -> std::io::Result<std::process::ExitStatus> {
    Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(path)
        .status()
}
