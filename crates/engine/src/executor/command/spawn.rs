//! Starting the child: a `vfork`-style `clone` with a child that does only
//! what the attempt needs, or libc's `posix_spawnp` for a program to look
//! up on `PATH`; with `malloc`'s `mallopt` calls, the only `unsafe` code in
//! techlead (docs/executors.md, "Cost per attempt", says why).
//!
//! std's `Command` copies the whole inherited environment into a map on
//! every spawn that changes any variable (`capture_env`), which was most of
//! the user-space work of starting an attempt, and neither rustix nor nix
//! offers a spawn that can set the child's working directory. glibc's
//! `posix_spawn` did that, but also checked each `dup2` against
//! `RLIMIT_NOFILE` (six `prlimit64` calls) and mapped and unmapped a stack
//! for every child (the unmap flushing the other core's TLB): 3 % of the
//! wall time of a thousand `true` tasks. So the child is started here the
//! way glibc does it, on a stack kept per thread, and gets what std would
//! set: a new process group, its signal handlers reset and an empty signal
//! mask, SIGPIPE back to its default (Rust ignores it), stdin, stdout and
//! stderr, and the working directory. Every pointer the child reads
//! borrows from the arguments, which outlive the call.
//!
//! It also registers the child's pidfd with tokio's reactor ([`watch`]):
//! tokio's safe constructor for that is deprecated as unsound in general,
//! and its replacement is `unsafe`, though an `OwnedFd` meets its terms.

#![allow(unsafe_code)]

use rustix::process::Pid;
use std::cell::RefCell;
use std::ffi::{CStr, c_char, c_int, c_void};
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
    if spawn.search {
        posix_spawnp(spawn)
    } else {
        clone_and_exec(spawn)
    }
}

/// What the child reads, and where it leaves the error number of the
/// step that failed. Lives on the parent's stack while the parent waits.
#[repr(C)]
struct ChildArgs {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    workdir: *const c_char,
    /// The files for the child's 0, 1 and 2.
    stdio: [c_int; 3],
    error: c_int,
}

/// The child's stack: one per spawning thread, which waits while its child
/// uses it. The child's own frames take a few hundred bytes.
const CHILD_STACK: usize = 64 * 1024;

thread_local! {
    static STACK: RefCell<Box<[u8]>> = RefCell::new(vec![0; CHILD_STACK].into_boxed_slice());
}

/// `clone` with `CLONE_VM | CLONE_VFORK`, as `posix_spawn` does: the child
/// shares this process's memory and this thread waits until it has
/// replaced itself with the program (or exited), so nothing it reads can
/// change or go meanwhile.
fn clone_and_exec(spawn: &Spawn<'_>) -> io::Result<Pid> {
    let mut args = ChildArgs {
        program: spawn.program.as_ptr(),
        argv: spawn.argv.as_ptr(),
        envp: spawn.envp.as_ptr(),
        workdir: spawn.workdir.as_ptr(),
        stdio: [
            spawn.stdin.as_raw_fd(),
            spawn.stdout.as_raw_fd(),
            spawn.stderr.as_raw_fd(),
        ],
        error: 0,
    };
    let pid = STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // The stack grows down from its end, which must be 16-byte aligned.
        let end = stack.as_mut_ptr_range().end;
        let top = end.wrapping_sub(end as usize % 16);
        // Every signal blocked, so that no handler of this process runs in
        // the child before it has reset them.
        let saved = set_signal_mask(!0)?;
        // SAFETY: errno is this thread's; the child, which runs on this
        // thread's memory, may set it, and it is put back after.
        let errno = unsafe { libc::__errno_location() };
        let saved_errno = unsafe { *errno };
        // SAFETY: the stack is ours and unused until this returns (this
        // thread waits for the child); `args` and what its pointers borrow
        // live on until then; `start_child` only makes system calls.
        let pid = unsafe {
            libc::clone(
                start_child,
                top.cast(),
                libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
                (&raw mut args).cast(),
            )
        };
        let error = io::Error::last_os_error();
        // SAFETY: as above.
        unsafe { *errno = saved_errno };
        // Fails only on a bad pointer or `how`; a child that started must
        // be returned either way.
        let _ = set_signal_mask(saved);
        if pid < 0 { Err(error) } else { Ok(pid) }
    })?;
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone gave no process ID"))?;
    // SAFETY: the child is done with `args`; it may have written `error`.
    let error = unsafe { std::ptr::read_volatile(&raw const args.error) };
    if error != 0 {
        // The child exited right after saying why.
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        return Err(io::Error::from_raw_os_error(error));
    }
    Ok(pid)
}

/// The child: sets itself up and runs the program; on a failure it leaves
/// the error number in `error` and exits with 127. It runs in the
/// parent's memory while the parent's thread waits (errno included), so it
/// makes system calls only: nothing that allocates, locks or unwinds.
extern "C" fn start_child(arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the parent's `ChildArgs`, alive while it waits.
    let args = unsafe { &mut *arg.cast::<ChildArgs>() };
    // SAFETY: see `set_up_and_exec`.
    let error = unsafe { set_up_and_exec(args) };
    // SAFETY: plain stores and the exit system call.
    unsafe {
        std::ptr::write_volatile(&raw mut args.error, error);
        libc::_exit(127)
    }
}

/// Returns the error number of the step that failed; `execve` does not
/// return when it works.
///
/// # Safety
/// In the child of [`clone_and_exec`] only, with its `ChildArgs`.
unsafe fn set_up_and_exec(args: &ChildArgs) -> c_int {
    let errno = || {
        io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EINVAL)
    };
    unsafe {
        if libc::setpgid(0, 0) != 0 {
            return errno();
        }
        for (target, &fd) in (0..).zip(&args.stdio) {
            // `dup2` onto itself would keep close-on-exec; clear it instead.
            let done = if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0)
            } else {
                libc::dup2(fd, target)
            };
            if done < 0 {
                return errno();
            }
        }
        if libc::chdir(args.workdir) != 0 {
            return errno();
        }
        reset_signal_handlers();
        if set_signal_mask(0).is_err() {
            return errno();
        }
        libc::execve(args.program, args.argv, args.envp);
        errno()
    }
}

/// Every signal with a handler (the parent's, which could otherwise run in
/// the child between the unblocking and the `execve`), and SIGPIPE, back
/// at their defaults; ignored ones stay ignored, as in `posix_spawn`.
///
/// # Safety
/// In a child that has every signal blocked.
unsafe fn reset_signal_handlers() {
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            // glibc refuses its own signals here: those are left alone.
            if libc::sigaction(signal, std::ptr::null(), &raw mut old) != 0 {
                continue;
            }
            let handled = old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN;
            if handled || signal == libc::SIGPIPE {
                libc::sigaction(signal, &raw const default, std::ptr::null_mut());
            }
        }
    }
}

/// Sets this thread's signal mask with the raw system call (the kernel's
/// 8-byte set; `pthread_sigmask` would leave glibc's two internal signals
/// alone); returns the mask it replaced.
fn set_signal_mask(mask: u64) -> io::Result<u64> {
    let mut old: u64 = 0;
    // SAFETY: both sets are 8 bytes, read and written in place.
    let done = unsafe {
        libc::syscall(
            libc::SYS_rt_sigprocmask,
            libc::SIG_SETMASK,
            &raw const mask,
            &raw mut old,
            size_of::<u64>(),
        )
    };
    if done == 0 {
        Ok(old)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// libc's `posix_spawnp`, for a bare program name to look up on `PATH` in
/// the child (a `PATH` with a relative directory): it does the search and
/// its errors as the shell does.
fn posix_spawnp(spawn: &Spawn<'_>) -> io::Result<Pid> {
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
    // `argv` and `envp` are `*const *mut c_char` for libc; it never writes
    // through them.
    check(unsafe {
        libc::posix_spawnp(
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
