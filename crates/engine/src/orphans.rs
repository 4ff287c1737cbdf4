//! Processes left behind by a run that died (kill -9, power loss). Each
//! attempt's process carries `TECHLEAD_MISSION=<id>` in its environment,
//! and its children inherit it. Before a new run takes over a mission,
//! every process still carrying that mark belongs to a dead run: it is
//! killed with its process group, so it cannot finish work the new run is
//! about to redo. Linux only (it reads /proc); elsewhere nothing is found.

use rustix::process::{Pid, Signal, kill_process, kill_process_group};

/// Kills the processes of earlier runs of `mission`; returns how many.
pub fn reap(mission: &str) -> u32 {
    let mark = format!("TECHLEAD_MISSION={mission}");
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
        if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
            // The attempt's leader heads its own group; others are in one.
            let _ = kill_process_group(pid, Signal::KILL);
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
