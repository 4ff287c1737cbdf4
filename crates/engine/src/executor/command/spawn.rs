//! `posix_spawn` with an environment prepared by the caller: with
//! `malloc`'s `mallopt` calls, the only `unsafe` code in techlead
//! (docs/executors.md, "Cost per attempt", says why).
//!
//! std's `Command` copies the whole inherited environment into a map on
//! every spawn that changes any variable (`capture_env`), which was most of
//! the user-space work of starting an attempt; neither rustix nor nix offers
//! a `posix_spawn` that can set the child's working directory. So this
//! module calls libc's `posix_spawn`/`posix_spawnp` itself, with what std
//! would set: a new process group, an empty signal mask, SIGPIPE back to
//! its default (Rust ignores it), stdin, stdout and stderr, and the working
//! directory (`posix_spawn_file_actions_addchdir_np`, glibc 2.29, musl
//! 1.1.24). Every pointer handed to libc borrows from the arguments, which
//! outlive the call.
//!
//! It also registers the child's pidfd with tokio's reactor ([`watch`]):
//! tokio's safe constructor for that is deprecated as unsound in general,
//! and its replacement is `unsafe`, though an `OwnedFd` meets its terms.

#![allow(unsafe_code)]

use rustix::process::Pid;
use std::ffi::{CStr, c_char};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

/// One program to start.
pub(super) struct Spawn<'a> {
    /// A path (with a slash), or a name to look up on the parent's `PATH`
    /// when `search` is set.
    pub program: &'a CStr,
    pub search: bool,
    /// `argv`, null-terminated.
    pub argv: &'a [*const c_char],
    /// `envp` ("KEY=value" strings), null-terminated.
    pub envp: &'a [*const c_char],
    pub workdir: &'a CStr,
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// Starts the program as the leader of a new process group; the error is
/// the one the child met (a missing program, a missing directory).
pub(super) fn spawn(spawn: &Spawn<'_>) -> io::Result<Pid> {
    assert!(spawn.argv.last().is_some_and(|p| p.is_null()));
    assert!(spawn.envp.last().is_some_and(|p| p.is_null()));
    let attr = Attr::new()?;
    let actions = Actions::new()?;
    check(unsafe {
        libc::posix_spawn_file_actions_adddup2(actions.0, spawn.stdin.as_raw_fd(), 0)
    })?;
    check(unsafe {
        libc::posix_spawn_file_actions_adddup2(actions.0, spawn.stdout.as_raw_fd(), 1)
    })?;
    check(unsafe {
        libc::posix_spawn_file_actions_adddup2(actions.0, spawn.stderr.as_raw_fd(), 2)
    })?;
    check(unsafe {
        libc::posix_spawn_file_actions_addchdir_np(actions.0, spawn.workdir.as_ptr())
    })?;
    let mut pid: libc::pid_t = 0;
    let start = if spawn.search {
        libc::posix_spawnp
    } else {
        libc::posix_spawn
    };
    // `argv` and `envp` are `*const *mut c_char` for libc; it never writes
    // through them.
    check(unsafe {
        start(
            &mut pid,
            spawn.program.as_ptr(),
            actions.0,
            attr.0,
            spawn.argv.as_ptr().cast::<*mut c_char>(),
            spawn.envp.as_ptr().cast::<*mut c_char>(),
        )
    })?;
    Pid::from_raw(pid).ok_or_else(|| io::Error::other("posix_spawn gave no process ID"))
}

/// Watches `fd` for readability on the current tokio runtime.
pub(super) fn watch(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an `OwnedFd` is open, owned by the `AsyncFd` from now on, and
    // always gives the same file descriptor.
    unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.map_err(io::Error::from)
}

/// `posix_spawn`'s functions return the error number rather than set errno.
fn check(code: libc::c_int) -> io::Result<()> {
    match code {
        0 => Ok(()),
        code => Err(io::Error::from_raw_os_error(code)),
    }
}

/// The attributes: a new process group, no blocked signals, SIGPIPE at its
/// default. Boxed, so that libc's object never moves.
struct Attr(*mut libc::posix_spawnattr_t);

impl Attr {
    fn new() -> io::Result<Attr> {
        let raw = Box::into_raw(Box::new(MaybeUninit::<libc::posix_spawnattr_t>::uninit()));
        if let Err(error) = check(unsafe { libc::posix_spawnattr_init(raw.cast()) }) {
            drop(unsafe { Box::from_raw(raw) });
            return Err(error);
        }
        // Initialised: from here on `Drop` destroys it.
        let attr = Attr(raw.cast());
        let flags = libc::POSIX_SPAWN_SETPGROUP
            | libc::POSIX_SPAWN_SETSIGMASK
            | libc::POSIX_SPAWN_SETSIGDEF;
        check(unsafe { libc::posix_spawnattr_setflags(attr.0, flags as libc::c_short) })?;
        check(unsafe { libc::posix_spawnattr_setpgroup(attr.0, 0) })?;
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            check(libc::posix_spawnattr_setsigmask(attr.0, set.as_ptr()))?;
            libc::sigaddset(set.as_mut_ptr(), libc::SIGPIPE);
            check(libc::posix_spawnattr_setsigdefault(attr.0, set.as_ptr()))?;
        }
        Ok(attr)
    }
}

impl Drop for Attr {
    fn drop(&mut self) {
        unsafe {
            libc::posix_spawnattr_destroy(self.0);
            drop(Box::from_raw(
                self.0.cast::<MaybeUninit<libc::posix_spawnattr_t>>(),
            ));
        }
    }
}

/// The file actions, run in the child before the program: dup2s, chdir.
struct Actions(*mut libc::posix_spawn_file_actions_t);

impl Actions {
    fn new() -> io::Result<Actions> {
        let raw = Box::into_raw(Box::new(
            MaybeUninit::<libc::posix_spawn_file_actions_t>::uninit(),
        ));
        if let Err(error) = check(unsafe { libc::posix_spawn_file_actions_init(raw.cast()) }) {
            drop(unsafe { Box::from_raw(raw) });
            return Err(error);
        }
        Ok(Actions(raw.cast()))
    }
}

impl Drop for Actions {
    fn drop(&mut self) {
        unsafe {
            libc::posix_spawn_file_actions_destroy(self.0);
            drop(Box::from_raw(
                self.0
                    .cast::<MaybeUninit<libc::posix_spawn_file_actions_t>>(),
            ));
        }
    }
}
