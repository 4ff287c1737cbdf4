//! Starting the child in its own process group, and signalling that group.
//!
//! The child is made the leader of a new process group at spawn, so every
//! process it forks (unless it leaves the group on purpose) can be stopped
//! together: SIGTERM to the group, a grace period, then SIGKILL (DESIGN
//! decision 11).

use rustix::process::{Pid, Signal, kill_process_group};
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// What to run: the program, its arguments, where, with which extra
/// environment, reading what on stdin.
pub(crate) struct Launch<'a> {
    pub argv: &'a [String],
    pub workdir: &'a Path,
    /// Set on top of the inherited environment, later entries winning.
    pub env: &'a [(&'a str, &'a OsStr)],
    /// The child's stdin (the prompt file, opened read-only).
    pub stdin: File,
}

/// Spawns the child, stdout and stderr piped, as the leader of a new process
/// group. The error is a sentence for the person.
///
/// The environment is given as changes to the inherited one, and the
/// working directory is not checked beforehand: both are the cheapest way
/// through std's `Command` (see `docs/executors.md`, "Cost per attempt").
/// When the spawn fails, the working directory is looked at to say which
/// of the two was wrong.
pub(crate) fn spawn(launch: Launch<'_>) -> Result<(Child, ProcessGroup), String> {
    let (program, args) = launch
        .argv
        .split_first()
        .ok_or_else(|| "the command is empty".to_owned())?;
    let mut command = Command::new(resolve(program, launch.workdir));
    command
        .args(args)
        .current_dir(launch.workdir)
        .envs(launch.env.iter().copied())
        .stdin(Stdio::from(launch.stdin))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = command.spawn().map_err(|error| {
        if let Some(problem) = workdir_problem(launch.workdir) {
            return format!("cannot start `{program}`: {problem}");
        }
        let hint = match error.kind() {
            io::ErrorKind::NotFound => " (is it installed and on PATH?)",
            io::ErrorKind::PermissionDenied => " (is it executable?)",
            _ => "",
        };
        format!("cannot start `{program}`: {}{hint}", describe(&error))
    })?;
    let pgid = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(Pid::from_raw);
    Ok((child, ProcessGroup { pgid }))
}

/// What is wrong with the working directory, if anything.
fn workdir_problem(workdir: &Path) -> Option<String> {
    match std::fs::metadata(workdir) {
        Ok(meta) if meta.is_dir() => None,
        Ok(_) => Some(format!(
            "the working directory `{}` is not a directory",
            workdir.display()
        )),
        Err(error) => Some(format!(
            "the working directory `{}` cannot be used: {}",
            workdir.display(),
            describe(&error)
        )),
    }
}

/// A relative program path with a slash (`./run.sh`, `bin/agent`) means a
/// file in the working directory; a bare name is looked up on PATH.
fn resolve(program: &str, workdir: &Path) -> PathBuf {
    let path = Path::new(program);
    if path.is_relative() && program.contains('/') {
        workdir.join(path)
    } else {
        path.to_owned()
    }
}

/// An OS error as a person reads it: "No such file or directory", without
/// the "(os error 2)" tail.
fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The child's process group. Dropping it SIGKILLs the group, so an attempt
/// abandoned half way (its future dropped) leaves no process behind.
pub(crate) struct ProcessGroup {
    pgid: Option<Pid>,
}

impl ProcessGroup {
    pub(crate) fn id(&self) -> Option<i32> {
        self.pgid.map(Pid::as_raw_nonzero).map(i32::from)
    }

    /// Asks every process of the group to stop.
    pub(crate) fn terminate(&self) {
        self.signal(Signal::TERM);
    }

    /// Stops every process of the group at once. Harmless when the group is
    /// already empty.
    pub(crate) fn kill(&self) {
        self.signal(Signal::KILL);
    }

    fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            // ESRCH (no such group: everyone has exited) is the normal end.
            let _ = kill_process_group(pgid, signal);
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A name for the signals people meet, for messages.
pub(crate) fn signal_name(signal: i32) -> Option<&'static str> {
    Some(match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_with_a_slash_are_in_the_workdir() {
        let workdir = Path::new("/work/dir");
        assert_eq!(
            resolve("./run.sh", workdir),
            Path::new("/work/dir/./run.sh")
        );
        assert_eq!(
            resolve("bin/agent", workdir),
            Path::new("/work/dir/bin/agent")
        );
        assert_eq!(resolve("claude", workdir), Path::new("claude"));
        assert_eq!(resolve("/usr/bin/env", workdir), Path::new("/usr/bin/env"));
    }

    #[test]
    fn os_errors_read_as_sentences() {
        let error = io::Error::from_raw_os_error(2);
        assert_eq!(describe(&error), "No such file or directory");
    }
}
