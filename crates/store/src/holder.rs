//! Who holds a mission's lock, in words both backends write and read:
//! `pid N on HOST`. A holder on this host whose process is gone is dead;
//! its lock is about to be released (a child it forked still has the lock
//! file open for a moment; PostgreSQL ends a dead client's session as soon
//! as it sees the socket closed), so a taker waits a little for it.

use std::path::Path;
use std::time::Duration;

/// How long to wait for a lock whose holder is dead: a child forked by the
/// dead holder keeps a copy of its lock file until it starts its program,
/// and PostgreSQL may not have ended the dead holder's session yet.
pub(crate) const DEAD_HOLDER_WAIT: Duration = Duration::from_secs(3);

/// How this process names itself as a holder.
pub(crate) fn me() -> String {
    format!("pid {} on {}", std::process::id(), hostname())
}

/// Whether `holder` names a process of this host that no longer exists.
pub(crate) fn is_dead(holder: &str) -> bool {
    let mut words = holder.split_whitespace();
    let (Some("pid"), Some(pid), Some("on"), Some(host)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return false;
    };
    host == hostname()
        && pid
            .parse::<u32>()
            .is_ok_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

fn hostname() -> String {
    let name = rustix::system::uname();
    let name = name.nodename().to_string_lossy();
    if name.is_empty() {
        "an unnamed host".to_string()
    } else {
        name.into_owned()
    }
}
