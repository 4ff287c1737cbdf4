//! Processes left behind by a run that died (kill -9, power loss). Each
//! attempt's process carries `TECHLEAD_SCOPE=<data dir>:<mission id>` in
//! its environment, and its children inherit it; the data directory makes
//! the mark unique to one database, so missions of the same name in other
//! repositories are never touched. Before a new run takes over a mission,
//! every process still carrying the mark belongs to a dead run: it is
//! killed with its process group, so it cannot finish work the new run is
//! about to redo. Linux only (it reads /proc); elsewhere nothing is found.

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// The environment variable that marks a mission's processes.
pub const VARIABLE: &str = "TECHLEAD_SCOPE";

/// The mark's value for `mission` in the database at `data_dir`.
pub fn scope(data_dir: &std::path::Path, mission: &str) -> String {
    format!("{}:{mission}", data_dir.display())
}

/// Kills the processes of earlier runs with this scope; returns how many.
pub fn reap(scope: &str) -> u32 {
    let mark = format!("{VARIABLE}={scope}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    let own = std::process::id();
    let mut killed = 0;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == own || !carries(pid, &mark) {
            continue;
        }
        // The attempt's leader heads its own group; others are in one.
        kill_group(pid);
        if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            let _ = kill_process(pid, Signal::KILL);
            killed += 1;
        }
    }
    killed
}

fn carries(pid: u32, mark: &str) -> bool {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|environ| environ.split(|&b| b == 0).any(|var| var == mark.as_bytes()))
        .unwrap_or(false)
}

/// SIGKILL to the process group `pid` leads; a group that is already gone
/// is fine.
pub fn kill_group(pid: u32) {
    if let Some(group) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(group, Signal::KILL);
    }
}
