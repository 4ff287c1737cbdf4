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
//! borrows from the arguments, which outlive the call. Where it can, it
//! uses `clone3`, whose kernel resets the handlers (a `clone` child, like
//! glibc's, asks for each of the 64 signals in turn: 10 µs of every
//! child's CPU) and hands over the child's pidfd.
//!
//! It also registers a child's pidfd with tokio's reactor ([`watch`]):
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
    /// Where the child changes directory to; `None` keeps this process's.
    pub workdir: Option<&'a CStr>,
    pub stdin: BorrowedFd<'a>,
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

/// A started child: its process ID, and its pidfd when the kernel gave
/// one with the child (`clone3`), which saves a `pidfd_open`.
pub(super) struct Started {
    pub pid: Pid,
    pub pidfd: Option<OwnedFd>,
}

/// Starts the program as the leader of a new process group; the error is
/// the one the child met (a missing program, a missing directory).
pub(super) fn spawn(spawn: &Spawn<'_>) -> io::Result<Started> {
    assert!(spawn.argv.last().is_some_and(|p| p.is_null()));
    assert!(spawn.envp.last().is_some_and(|p| p.is_null()));
    if spawn.search {
        let pid = posix_spawnp(spawn)?;
        Ok(Started { pid, pidfd: None })
    } else {
        clone_and_exec(spawn, clone3::available())
    }
}

/// What the child reads, and where it leaves the error number of the
/// step that failed. Lives on the parent's stack while the parent waits.
#[repr(C)]
struct ChildArgs {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    /// Null to stay in this process's directory.
    workdir: *const c_char,
    /// The files for the child's 0, 1 and 2.
    stdio: [c_int; 3],
    /// Whether the child must put the parent's signal handlers back at
    /// their defaults itself (`clone`); `clone3` did it already.
    reset_handlers: bool,
    error: c_int,
}

/// The child's stack: one per spawning thread, which waits while its child
/// uses it. The child's own frames take a few hundred bytes.
const CHILD_STACK: usize = 64 * 1024;

thread_local! {
    static STACK: RefCell<Box<[u8]>> = RefCell::new(vec![0; CHILD_STACK].into_boxed_slice());
}

/// `clone3` (or `clone`) with `CLONE_VM | CLONE_VFORK`, as `posix_spawn`
/// does: the child shares this process's memory and this thread waits
/// until it has replaced itself with the program (or exited), so nothing it
/// reads can change or go meanwhile.
fn clone_and_exec(spawn: &Spawn<'_>, try_clone3: bool) -> io::Result<Started> {
    let mut args = ChildArgs {
        program: spawn.program.as_ptr(),
        argv: spawn.argv.as_ptr(),
        envp: spawn.envp.as_ptr(),
        workdir: spawn.workdir.map_or(std::ptr::null(), CStr::as_ptr),
        stdio: [
            spawn.stdin.as_raw_fd(),
            spawn.stdout.as_raw_fd(),
            spawn.stderr.as_raw_fd(),
        ],
        reset_handlers: false,
        error: 0,
    };
    let (pid, pidfd) = STACK.with(|stack| {
        let mut stack = stack.borrow_mut();
        // The stack grows down from its end, which must be 16-byte aligned.
        let end = stack.as_mut_ptr_range().end;
        let top = end.wrapping_sub(end as usize % 16);
        let base = stack.as_mut_ptr();
        // SAFETY: errno is this thread's; the child, which runs on this
        // thread's memory, may set it, and it is put back after.
        let errno = unsafe { libc::__errno_location() };
        let saved_errno = unsafe { *errno };
        // SAFETY: the stack is ours and unused until this returns (this
        // thread waits for the child); `args` and what its pointers borrow
        // live on until then; `start_child` only makes system calls. The
        // kernel resets the handlers of a `clone3` child as it makes it, so
        // none of this process's can run in the child.
        let started = match try_clone3
            .then(|| unsafe { clone3::start(base, top, &raw mut args) })
            .flatten()
        {
            Some(started) => started,
            None => {
                args.reset_handlers = true;
                // The child resets the handlers itself: until then, signals
                // wait. SIGCHLD is left out: it goes to this process, never
                // to the child, and blocked here it would wake another
                // thread of this process to be discarded.
                set_signal_mask(!signal_bit(libc::SIGCHLD)).and_then(|saved| {
                    // SAFETY: as above, with every signal the child could
                    // get blocked.
                    let cloned = unsafe { clone(top, &raw mut args) };
                    // Fails only on a bad pointer or `how`; a child that
                    // started must be returned either way.
                    let _ = set_signal_mask(saved);
                    cloned
                })
            }
        };
        // SAFETY: as above.
        unsafe { *errno = saved_errno };
        started
    })?;
    let pid = Pid::from_raw(pid).ok_or_else(|| io::Error::other("clone gave no process ID"))?;
    // SAFETY: the child is done with `args`; it may have written `error`.
    let error = unsafe { std::ptr::read_volatile(&raw const args.error) };
    if error != 0 {
        // The child exited right after saying why.
        let _ = rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty());
        return Err(io::Error::from_raw_os_error(error));
    }
    Ok(Started { pid, pidfd })
}

/// `clone` for the child, where `clone3` is not to be had.
///
/// # Safety
/// As in [`clone_and_exec`]: the stack below `top` and `args` are the
/// child's until this returns, and every signal but SIGCHLD is blocked.
unsafe fn clone(top: *mut u8, args: *mut ChildArgs) -> io::Result<(i32, Option<OwnedFd>)> {
    // SAFETY: the caller's terms; `start_child` only makes system calls.
    let pid = unsafe {
        libc::clone(
            start_child,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
            args.cast(),
        )
    };
    if pid < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok((pid, None))
    }
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
        if !args.workdir.is_null() && libc::chdir(args.workdir) != 0 {
            return errno();
        }
        if args.reset_handlers {
            reset_signal_handlers();
        } else {
            // `clone3` left the ignored signals ignored, SIGPIPE with them.
            set_default(libc::SIGPIPE);
        }
        if set_signal_mask(0).is_err() {
            return errno();
        }
        libc::execve(args.program, args.argv, args.envp);
        errno()
    }
}

/// `clone3`, where the kernel and the architecture have it: it resets the
/// parent's signal handlers in the child (`CLONE_CLEAR_SIGHAND`, Linux
/// 5.5), which spares the child a system call per signal to look for them,
/// and gives the child's pidfd (`CLONE_PIDFD`). Unlike `clone`, it takes no
/// function for the child to run, so the child's first steps on its new
/// stack are written here in assembly.
mod clone3 {
    use super::{ChildArgs, start_child};
    use std::ffi::c_int;
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Set once `clone3` failed for want of support (an old kernel, a
    /// seccomp filter that refuses it): `clone` is used from then on.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

    const CLONE_CLEAR_SIGHAND: u64 = 0x1_0000_0000;

    /// The kernel's `struct clone_args`, its first version (64 bytes).
    #[repr(C)]
    struct CloneArgs {
        flags: u64,
        pidfd: u64,
        child_tid: u64,
        parent_tid: u64,
        exit_signal: u64,
        stack: u64,
        stack_size: u64,
        tls: u64,
    }

    /// Whether `clone3` is worth trying.
    pub(super) fn available() -> bool {
        !UNAVAILABLE.load(Ordering::Relaxed)
    }

    /// Starts the child on the stack from `base` to `top`; `None` when
    /// `clone3` cannot be used here, for the caller to use `clone`.
    ///
    /// # Safety
    /// As for `clone` with `CLONE_VM | CLONE_VFORK`: the stack and `args`
    /// stay the child's until this returns, and the caller puts errno
    /// back. Signals need not be blocked: the child starts with every
    /// handler reset.
    pub(super) unsafe fn start(
        base: *mut u8,
        top: *mut u8,
        args: *mut ChildArgs,
    ) -> Option<io::Result<(i32, Option<OwnedFd>)>> {
        let mut pidfd: c_int = -1;
        let mut clone_args = CloneArgs {
            flags: (libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD) as u64
                | CLONE_CLEAR_SIGHAND,
            pidfd: (&raw mut pidfd) as u64,
            child_tid: 0,
            parent_tid: 0,
            exit_signal: libc::SIGCHLD as u64,
            stack: base as u64,
            stack_size: top as u64 - base as u64,
            tls: 0,
        };
        // SAFETY: the caller's terms; `clone_args` and `pidfd` outlive the call.
        let result = unsafe { raw(&raw mut clone_args, args) };
        match result {
            pid if pid > 0 => {
                // SAFETY: the kernel opened it for us with the child.
                let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
                Some(Ok((pid as i32, pidfd)))
            }
            error => {
                let error = -error as i32;
                if matches!(
                    error,
                    libc::ENOSYS | libc::EINVAL | libc::EPERM | libc::E2BIG
                ) {
                    UNAVAILABLE.store(true, Ordering::Relaxed);
                    None
                } else {
                    Some(Err(io::Error::from_raw_os_error(error)))
                }
            }
        }
    }

    /// The system call; in the child, a call to `start_child` on the new
    /// stack and `exit` with what it returns (it never returns: it runs the
    /// program or `_exit`s).
    #[cfg(target_arch = "x86_64")]
    unsafe fn raw(clone_args: *mut CloneArgs, args: *mut ChildArgs) -> i64 {
        let result: i64;
        // SAFETY: the caller's terms. In the parent only rax, rcx and r11
        // change (the system call's result and what `syscall` overwrites).
        // The child starts with rsp at the 16-byte aligned top of its
        // stack, so the callee sees the alignment the ABI promises.
        unsafe {
            std::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "xor ebp, ebp",
                "mov rdi, r13",
                "call r12",
                "mov edi, eax",
                "mov eax, {exit}",
                "syscall",
                "ud2",
                "2:",
                exit = const libc::SYS_exit,
                inlateout("rax") libc::SYS_clone3 => result,
                in("rdi") clone_args,
                in("rsi") size_of::<CloneArgs>(),
                in("r12") start_child as extern "C" fn(*mut std::ffi::c_void) -> c_int,
                in("r13") args,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        result
    }

    /// Elsewhere `clone3` is not wired up: `clone` it is.
    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn raw(_: *mut CloneArgs, _: *mut ChildArgs) -> i64 {
        -(libc::ENOSYS as i64)
    }
}

/// Every signal with a handler (the parent's, which could otherwise run in
/// the child between the unblocking and the `execve`), and SIGPIPE, back
/// at their defaults; ignored ones stay ignored, as in `posix_spawn`.
///
/// # Safety
/// In a child that has every signal but SIGCHLD blocked (SIGCHLD never
/// comes to it).
unsafe fn reset_signal_handlers() {
    unsafe {
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
                set_default(signal);
            }
        }
    }
}

/// Puts `signal` back at its default action.
///
/// # Safety
/// In the child, as [`reset_signal_handlers`].
unsafe fn set_default(signal: c_int) {
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &raw const default, std::ptr::null_mut());
    }
}

/// `signal` in the kernel's 8-byte signal set.
fn signal_bit(signal: c_int) -> u64 {
    1 << (signal - 1)
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
    if let Some(workdir) = spawn.workdir {
        check(unsafe { libc::posix_spawn_file_actions_addchdir_np(actions.0, workdir.as_ptr()) })?;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::fs::File;
    use std::os::fd::AsFd;
    use std::os::unix::ffi::OsStrExt;

    /// Runs `program` with `args` in `workdir` both ways, its output in a
    /// file; gives what each wrote, and whether each came with a pidfd.
    fn both_ways(
        program: &str,
        args: &[&str],
        workdir: Option<&CStr>,
    ) -> Vec<io::Result<(String, bool)>> {
        [true, false]
            .into_iter()
            .map(|try_clone3| {
                let dir = tempfile::tempdir().unwrap();
                let out_path = dir.path().join("out");
                let out = File::create(&out_path).unwrap();
                let stdin = File::open("/dev/null").unwrap();
                let program = CString::new(program).unwrap();
                let args: Vec<CString> = args.iter().map(|a| CString::new(*a).unwrap()).collect();
                let mut argv: Vec<*const c_char> = vec![program.as_ptr()];
                argv.extend(args.iter().map(|a| a.as_ptr()));
                argv.push(std::ptr::null());
                let envp = [std::ptr::null()];
                let started = clone_and_exec(
                    &Spawn {
                        program: &program,
                        search: false,
                        argv: &argv,
                        envp: &envp,
                        workdir,
                        stdin: stdin.as_fd(),
                        stdout: out.as_fd(),
                        stderr: out.as_fd(),
                    },
                    try_clone3,
                )?;
                let status = rustix::process::waitpid(
                    Some(started.pid),
                    rustix::process::WaitOptions::empty(),
                )
                .unwrap()
                .unwrap()
                .1;
                assert_eq!(status.exit_status(), Some(0));
                Ok((
                    std::fs::read_to_string(&out_path).unwrap(),
                    started.pidfd.is_some(),
                ))
            })
            .collect()
    }

    fn mask(status: &str, name: &str) -> u64 {
        let line = status.lines().find(|l| l.starts_with(name)).expect(name);
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    }

    #[test]
    fn clone3_and_clone_start_the_same_child() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
        let script = "pwd; exec cat /proc/self/status";
        let runs = both_ways("/bin/sh", &["-c", script], Some(&workdir));
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        const SIGPIPE: u64 = 1 << (13 - 1);
        for (run, try_clone3) in runs.into_iter().zip([true, false]) {
            let (output, pidfd) = run.unwrap();
            assert!(
                output.starts_with(&format!("{}\n", dir.path().display())),
                "{output}"
            );
            assert_eq!(mask(&output, "SigBlk:"), 0, "{output}");
            assert_eq!(
                mask(&output, "SigCgt:"),
                0,
                "no handler of this process: {output}"
            );
            assert_eq!(
                mask(&output, "SigIgn:"),
                mask(&own, "SigIgn:") & !SIGPIPE,
                "{output}"
            );
            // Only `clone3` hands a pidfd over, and only where it runs.
            assert!(!pidfd || try_clone3);
            if try_clone3 && clone3::available() && cfg!(target_arch = "x86_64") {
                assert!(pidfd, "clone3 works here but gave no pidfd");
            }
        }
    }

    #[test]
    fn clone3_and_clone_report_the_same_errors() {
        let dir = tempfile::tempdir().unwrap();
        let workdir = CString::new(dir.path().as_os_str().as_bytes()).unwrap();
        for run in both_ways("/nonexistent/program", &[], Some(&workdir)) {
            assert_eq!(run.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
        let gone = CString::new(dir.path().join("gone").as_os_str().as_bytes()).unwrap();
        for run in both_ways("/bin/true", &[], Some(&gone)) {
            assert_eq!(run.unwrap_err().kind(), io::ErrorKind::NotFound);
        }
    }

    #[test]
    fn without_a_workdir_the_child_starts_where_this_process_is() {
        let here = std::env::current_dir().unwrap();
        for run in both_ways("/bin/sh", &["-c", "pwd"], None) {
            assert_eq!(run.unwrap().0, format!("{}\n", here.display()));
        }
    }
}
