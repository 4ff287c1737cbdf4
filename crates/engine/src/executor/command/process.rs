//! Starting the child in its own process group, and signalling that group.
//!
//! The child is made the leader of a new process group at spawn, so every
//! process it forks (unless it leaves the group on purpose) can be stopped
//! together: SIGTERM to the group, a grace period, then SIGKILL (DESIGN
//! decision 11).

use super::spawn::{self, Spawn};
use rustix::pipe::{PipeFlags, pipe_with};
use rustix::process::{
    Pid, PidfdFlags, Signal, WaitOptions, kill_process_group, pidfd_open, waitpid,
};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ffi::{CString, OsStr, OsString, c_char};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Mutex, OnceLock, PoisonError};
use tokio::io::unix::AsyncFd;
use tokio::net::unix::pipe;
use tokio::signal::unix::{self as signals, SignalKind};

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
/// The working directory is not checked beforehand: when the spawn fails,
/// it is looked at to say which of it and the program was wrong. The
/// environment is the inherited one, read once (techlead never changes its
/// own), with `env` on top: see `docs/executors.md`, "Cost per attempt".
pub(crate) fn spawn(launch: Launch<'_>) -> Result<(Child, ProcessGroup), String> {
    let program = launch
        .argv
        .first()
        .ok_or_else(|| "the command is empty".to_owned())?;
    start(&launch).map_err(|error| {
        if let Some(problem) = workdir_problem(launch.workdir) {
            return format!("cannot start `{program}`: {problem}");
        }
        let hint = match error.kind() {
            io::ErrorKind::NotFound => " (is it installed and on PATH?)",
            io::ErrorKind::PermissionDenied => " (is it executable?)",
            _ => "",
        };
        format!("cannot start `{program}`: {}{hint}", describe(&error))
    })
}

fn start(launch: &Launch<'_>) -> io::Result<(Child, ProcessGroup)> {
    start_with(launch, own_path())
}

/// Starts the child, bare program names looked up on `own` (techlead's
/// `PATH`) when the task does not set its own.
fn start_with(launch: &Launch<'_>, own: Option<&OwnPath>) -> io::Result<(Child, ProcessGroup)> {
    match start_once(launch, own) {
        // A program remembered on `PATH` may have gone since: looked up
        // again, and tried once more.
        Err(_) if own.is_some_and(|own| own.forget(&launch.argv[0])) => start_once(launch, own),
        started => started,
    }
}

fn start_once(launch: &Launch<'_>, own: Option<&OwnPath>) -> io::Result<(Child, ProcessGroup)> {
    let env = Environment::new(launch.env)?;
    let (program, search) = executable(&launch.argv[0], launch.workdir, env.path(), own)?;
    let mut args =
        CStrings::with_capacity(launch.argv.iter().map(String::len).sum(), launch.argv.len());
    for arg in launch.argv {
        args.push(&[arg.as_bytes()])?;
    }
    let argv = null_terminated(args.pointers(), args.len());
    let envp = env.pointers();
    let workdir = match is_own_directory(launch.workdir) {
        true => None,
        false => Some(c_string(launch.workdir.as_os_str().as_bytes())?),
    };
    let (stdout, stdout_child) = output_pipe()?;
    let (stderr, stderr_child) = output_pipe()?;
    let started = spawn::spawn(&Spawn {
        program: &program,
        search,
        argv: &argv,
        envp: &envp,
        workdir: workdir.as_deref(),
        stdin: launch.stdin.as_fd(),
        stdout: stdout_child.as_fd(),
        stderr: stderr_child.as_fd(),
    })?;
    // The child holds its own copies of the write ends now.
    drop((stdout_child, stderr_child));
    let pid = started.pid;
    let group = ProcessGroup { pgid: Some(pid) };
    let exit = match Exit::watch(pid, started.pidfd) {
        Ok(exit) => exit,
        Err(error) => {
            // Without a way to wait for it, the child cannot be supervised.
            group.kill();
            let _ = waitpid(Some(pid), WaitOptions::empty());
            return Err(error);
        }
    };
    let child = Child {
        pid,
        exit: Some(exit),
        stdout: Some(pipe::Receiver::from_owned_fd_unchecked(stdout)?),
        stderr: Some(pipe::Receiver::from_owned_fd_unchecked(stderr)?),
    };
    Ok((child, group))
}

/// A pipe for the child's output: the read end, non-blocking, for us; the
/// write end, blocking, for the child. Both close on exec (`dup2` gives the
/// child a copy that does not).
fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = pipe_with(PipeFlags::CLOEXEC)?;
    rustix::io::ioctl_fionbio(&read, true)?;
    Ok((read, write))
}

/// A started child: its output pipes and its exit.
pub(crate) struct Child {
    pid: Pid,
    /// How its exit is noticed; `None` once reaped.
    exit: Option<Exit>,
    pub stdout: Option<pipe::Receiver>,
    pub stderr: Option<pipe::Receiver>,
}

/// What says that a child may have exited.
enum Exit {
    /// Its pidfd (Linux 5.3), not yet registered with the reactor: the
    /// exit is looked for first, since a child is mostly waited for once
    /// its output closed, when it has exited; registering the pidfd then
    /// and taking it out again would be two `epoll_ctl` calls for
    /// nothing. `None` only while it is being registered.
    Unwatched(Option<OwnedFd>),
    /// Its pidfd, registered: readable once it has exited.
    Pidfd(AsyncFd<OwnedFd>),
    /// Every SIGCHLD, where there is no `pidfd_open` (older kernels,
    /// sandboxes, valgrind): as tokio's own process handling does then.
    Signal(signals::Signal),
}

impl Exit {
    /// How the child's exit is to be noticed: through `pidfd` or one
    /// opened now (registered only if the child still runs when first
    /// waited for), else through SIGCHLD.
    fn watch(pid: Pid, pidfd: Option<OwnedFd>) -> io::Result<Exit> {
        match pidfd.map_or_else(|| pidfd_open(pid, PidfdFlags::empty()), Ok) {
            Ok(pidfd) => Ok(Exit::Unwatched(Some(pidfd))),
            Err(_) => signals::signal(SignalKind::child()).map(Exit::Signal),
        }
    }

    /// `pidfd` registered with the reactor, or SIGCHLD where it cannot be.
    fn registered(pidfd: OwnedFd) -> io::Result<Exit> {
        match spawn::watch(pidfd) {
            Ok(pidfd) => Ok(Exit::Pidfd(pidfd)),
            Err(_) => signals::signal(SignalKind::child()).map(Exit::Signal),
        }
    }

    /// Reaps `pid` once it has exited.
    async fn reap(&mut self, pid: Pid) -> io::Result<ExitStatus> {
        loop {
            match self {
                Exit::Unwatched(pidfd) => {
                    if let Some(status) = reaped(pid)? {
                        return Ok(status);
                    }
                    let pidfd = pidfd
                        .take()
                        .ok_or_else(|| io::Error::other("the child's pidfd is gone"))?;
                    *self = Exit::registered(pidfd)?;
                }
                Exit::Pidfd(pidfd) => {
                    let mut ready = pidfd.readable().await?;
                    if let Some(status) = reaped(pid)? {
                        return Ok(status);
                    }
                    ready.clear_ready();
                }
                Exit::Signal(sigchld) => {
                    // A SIGCHLD before the listener existed is not seen:
                    // look first.
                    if let Some(status) = reaped(pid)? {
                        return Ok(status);
                    }
                    sigchld.recv().await;
                }
            }
        }
    }
}

/// `pid`'s exit status if it has exited (and is reaped now), without
/// waiting.
fn reaped(pid: Pid) -> io::Result<Option<ExitStatus>> {
    let exited = waitpid(Some(pid), WaitOptions::NOHANG)?;
    Ok(exited.map(|(_, status)| ExitStatus::from_raw(status.as_raw())))
}

impl Child {
    pub(crate) fn id(&self) -> Option<u32> {
        u32::try_from(self.pid.as_raw_nonzero().get()).ok()
    }

    /// Waits for the child to exit and reaps it.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        let Some(exit) = &mut self.exit else {
            return Err(io::Error::other("the process was waited for already"));
        };
        let status = exit.reap(self.pid).await?;
        self.exit = None;
        Ok(status)
    }
}

impl Drop for Child {
    /// A child dropped before its exit (the attempt abandoned half way; its
    /// group is killed with it) is reaped when it ends, so that it does not
    /// stay a zombie.
    fn drop(&mut self) {
        let Some(mut exit) = self.exit.take() else {
            return;
        };
        if let Ok(Some(_)) | Err(_) = waitpid(Some(self.pid), WaitOptions::NOHANG) {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let pid = self.pid;
            runtime.spawn(async move {
                let _ = exit.reap(pid).await;
            });
        }
    }
}

/// The environment of a child: the inherited variables, less those set
/// again, then those set (later ones winning).
struct Environment {
    /// "KEY=value" for each variable set.
    set: CStrings,
    /// The length of each one's key, in the order of `set`.
    key_lengths: Vec<usize>,
}

impl Environment {
    fn new(env: &[(&str, &OsStr)]) -> io::Result<Environment> {
        let bytes = env
            .iter()
            .map(|(key, value)| key.len() + value.len() + 1)
            .sum();
        let mut made = Environment {
            set: CStrings::with_capacity(bytes, env.len()),
            key_lengths: Vec::with_capacity(env.len()),
        };
        for &(key, value) in env {
            let again = made.position(key.as_bytes());
            made.set.push(&[key.as_bytes(), b"=", value.as_bytes()])?;
            match again {
                // The new entry takes the old one's place; its bytes stay
                // in the buffer unused.
                Some(i) => made.set.replace_with_last(i),
                None => made.key_lengths.push(key.len()),
            }
        }
        Ok(made)
    }

    /// Where the variable `key` is in `set`, if it is set.
    fn position(&self, key: &[u8]) -> Option<usize> {
        (0..self.key_lengths.len()).find(|&i| self.set.key(i, self.key_lengths[i]) == key)
    }

    /// `PATH` as the child will see it, when set here.
    fn path(&self) -> Option<&OsStr> {
        self.position(b"PATH")
            .map(|i| OsStr::from_bytes(&self.set.get(i)["PATH=".len()..]))
    }

    /// `envp`: pointers into the inherited environment and into `self`.
    ///
    /// The inherited variables set again are found through the index of
    /// their keys: comparing each inherited key with each set one took
    /// 9,500 instructions a spawn (40 inherited, 8 set).
    fn pointers(&self) -> Vec<*const c_char> {
        let inherited = inherited();
        let mut replaced = vec![false; inherited.entries.len()];
        for (i, &len) in self.key_lengths.iter().enumerate() {
            if let Some(&at) = inherited.index.get(self.set.key(i, len)) {
                replaced[at] = true;
            }
        }
        let kept = inherited
            .entries
            .iter()
            .zip(replaced)
            .filter(|(_, replaced)| !replaced)
            .map(|(entry, _)| entry.as_ptr());
        null_terminated(
            kept.chain(self.set.pointers()),
            inherited.entries.len() + self.key_lengths.len(),
        )
    }
}

/// NUL-terminated strings in one buffer, for `argv` and `envp`: one
/// allocation for all of an attempt's arguments or variables, where a
/// `CString` each took one or two (29 allocations a spawn, with the
/// pointer arrays; bench/README.md, session 14).
struct CStrings {
    text: Vec<u8>,
    /// Where each string starts in `text`.
    starts: Vec<usize>,
}

impl CStrings {
    fn with_capacity(bytes: usize, count: usize) -> CStrings {
        CStrings {
            text: Vec::with_capacity(bytes + count),
            starts: Vec::with_capacity(count),
        }
    }

    /// Appends the string made of `parts`, refused if one holds a NUL.
    fn push(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        if parts.iter().any(|part| part.contains(&0)) {
            return Err(nul_error());
        }
        self.starts.push(self.text.len());
        for part in parts {
            self.text.extend_from_slice(part);
        }
        self.text.push(0);
        Ok(())
    }

    /// Puts the last string in place of string `i`.
    fn replace_with_last(&mut self, i: usize) {
        if let Some(last) = self.starts.pop() {
            self.starts[i] = last;
        }
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// String `i`, without its NUL.
    fn get(&self, i: usize) -> &[u8] {
        let rest = &self.text[self.starts[i]..];
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    }

    /// The first `len` bytes of string `i`.
    fn key(&self, i: usize, len: usize) -> &[u8] {
        &self.text[self.starts[i]..self.starts[i] + len]
    }

    /// Pointers to the strings, valid while `self` is neither changed nor
    /// dropped.
    fn pointers(&self) -> impl Iterator<Item = *const c_char> + '_ {
        self.starts
            .iter()
            .map(|&start| self.text[start..].as_ptr().cast::<c_char>())
    }
}

/// techlead's own environment as "KEY=value" strings, read at the first
/// spawn: techlead never changes it (`set_var` is `unsafe`, which the rest
/// of the workspace forbids), so this is what std would read each time.
struct Inherited {
    /// "KEY=value" for each variable.
    entries: Vec<CString>,
    /// Where each key is in `entries`.
    index: HashMap<Vec<u8>, usize>,
}

fn inherited() -> &'static Inherited {
    static INHERITED: OnceLock<Inherited> = OnceLock::new();
    INHERITED.get_or_init(|| {
        let mut made = Inherited {
            entries: Vec::new(),
            index: HashMap::new(),
        };
        for (key, value) in std::env::vars_os() {
            let mut entry = key.clone().into_vec();
            entry.push(b'=');
            entry.extend_from_slice(value.as_bytes());
            // A key given twice keeps its first value, as `getenv` reads it.
            let (Ok(entry), Entry::Vacant(place)) =
                (CString::new(entry), made.index.entry(key.into_vec()))
            else {
                continue;
            };
            place.insert(made.entries.len());
            made.entries.push(entry);
        }
        made
    })
}

/// `pointers` and a null after them, in an array sized once for about
/// `count`.
fn null_terminated(
    pointers: impl Iterator<Item = *const c_char>,
    count: usize,
) -> Vec<*const c_char> {
    let mut all = Vec::with_capacity(count + 1);
    all.extend(pointers);
    all.push(std::ptr::null());
    all
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| nul_error())
}

fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "an argument or variable contains a NUL byte",
    )
}

/// The program to start, and whether to leave its lookup on techlead's
/// `PATH` to the child (`posix_spawnp`). A relative path with a slash is a
/// file in the working directory, made absolute here because the child
/// changes directory before it runs it; a bare name is looked up on the
/// `PATH` the child will have, when the task sets one.
fn executable(
    program: &str,
    workdir: &Path,
    path: Option<&OsStr>,
    own: Option<&OwnPath>,
) -> io::Result<(CString, bool)> {
    let resolved = resolve(program, workdir);
    if program.contains('/') {
        let absolute = if resolved.is_relative() {
            std::env::current_dir()?.join(resolved)
        } else {
            resolved
        };
        return Ok((c_string(absolute.as_os_str().as_bytes())?, false));
    }
    match path {
        None => match own.and_then(|own| own.find(program)) {
            Some(found) => Ok((c_string(found.as_os_str().as_bytes())?, false)),
            None => Ok((c_string(program.as_bytes())?, true)),
        },
        Some(path) => {
            let found = search(program, path, workdir)
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
            Ok((c_string(found.as_os_str().as_bytes())?, false))
        }
    }
}

/// techlead's own `PATH` (every directory on it absolute), and the
/// programs found on it.
struct OwnPath {
    path: OsString,
    found: Mutex<HashMap<String, PathBuf>>,
}

impl OwnPath {
    fn new(path: OsString) -> OwnPath {
        OwnPath {
            path,
            found: Mutex::new(HashMap::new()),
        }
    }

    /// `program` on this `PATH`, remembered by name as a shell hashes
    /// commands: otherwise every child would try each directory in turn
    /// with `execve` while the engine waits for it to start (eight failed
    /// calls for `true` on a usual `PATH`). A remembered file is not looked
    /// at again (a `stat` per start, while the engine waits): when starting
    /// it fails, it is forgotten ([`OwnPath::forget`]) and looked up anew.
    /// `None` leaves the search to the child (`posix_spawnp`), which then
    /// gives the error of a program not found.
    fn find(&self, program: &str) -> Option<PathBuf> {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = found.get(program) {
            return Some(known.clone());
        }
        let located = search(program, &self.path, Path::new("/"))?;
        found.insert(program.to_owned(), located.clone());
        Some(located)
    }

    /// Forgets where `program` was found; whether it had been.
    fn forget(&self, program: &str) -> bool {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        found.remove(program).is_some()
    }
}

/// techlead's `PATH`, read once, unless a directory on it is relative: the
/// search then depends on each task's working directory and is left to
/// the child.
fn own_path() -> Option<&'static OwnPath> {
    static OWN: OnceLock<Option<OwnPath>> = OnceLock::new();
    OWN.get_or_init(|| {
        let path = std::env::var_os("PATH")?;
        let absolute = path
            .as_bytes()
            .split(|&b| b == b':')
            .all(|dir| dir.starts_with(b"/"));
        absolute.then(|| OwnPath::new(path))
    })
    .as_ref()
}

fn is_executable(file: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(file)
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// `program` in the first directory of `path` that has it as an executable
/// file; relative directories are the working directory's.
fn search(program: &str, path: &OsStr, workdir: &Path) -> Option<PathBuf> {
    path.as_bytes()
        .split(|&b| b == b':')
        .map(|dir| {
            let dir = Path::new(OsStr::from_bytes(if dir.is_empty() { b"." } else { dir }));
            workdir.join(dir).join(program)
        })
        .find(|candidate| is_executable(candidate))
}

/// Whether `workdir` is the directory techlead runs in (read once:
/// techlead never changes its own), where the child need not change
/// directory: a `chdir` walks the path again, and the engine waits for the
/// child until it has started the program.
fn is_own_directory(workdir: &Path) -> bool {
    static OWN: OnceLock<Option<PathBuf>> = OnceLock::new();
    OWN.get_or_init(|| std::env::current_dir().ok()).as_deref() == Some(workdir)
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

    /// A shell script `name` in `dir` that runs `body`.
    fn install(dir: &Path, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let file = dir.join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        file
    }

    /// A scratch directory with two directories in it, `a` and `b`, and
    /// the `PATH` `a:b`.
    fn two_dirs() -> (tempfile::TempDir, PathBuf, PathBuf, OsString) {
        let root = tempfile::tempdir().unwrap();
        let (first, second) = (root.path().join("a"), root.path().join("b"));
        std::fs::create_dir_all(&first).unwrap();
        std::fs::create_dir_all(&second).unwrap();
        let mut path = first.clone().into_os_string();
        path.push(":");
        path.push(&second);
        (root, first, second, path)
    }

    #[test]
    fn a_program_on_path_is_remembered_until_forgotten() {
        let (_root, first, second, path) = two_dirs();
        let own = OwnPath::new(path);
        assert_eq!(own.find("tool"), None);
        let later = install(&second, "tool", "");
        assert_eq!(own.find("tool"), Some(later.clone()));
        // One that appears earlier on PATH is not seen while the first is
        // remembered, as with a shell's hashed commands...
        let earlier = install(&first, "tool", "");
        assert_eq!(own.find("tool"), Some(later.clone()));
        // ...nor once the remembered one is gone (no `stat` per start)...
        std::fs::remove_file(&later).unwrap();
        assert_eq!(own.find("tool"), Some(later.clone()));
        // ...until it is forgotten.
        assert!(own.forget("tool"));
        assert!(!own.forget("tool"), "forgotten already");
        assert_eq!(own.find("tool"), Some(earlier));
    }

    #[tokio::test]
    async fn a_remembered_program_that_went_is_looked_up_again_when_it_fails_to_start() {
        let (root, first, second, path) = two_dirs();
        let own = OwnPath::new(path);
        let argv = ["tool".to_string()];
        let run = || async {
            let launch = Launch {
                argv: &argv,
                workdir: root.path(),
                env: &[],
                stdin: File::open("/dev/null").unwrap(),
            };
            let (mut child, _group) = start_with(&launch, Some(&own)).expect("started");
            assert!(child.wait().await.unwrap().success());
            std::fs::read_to_string(root.path().join("said")).unwrap()
        };
        let later = install(&second, "tool", "echo later > said");
        assert_eq!(run().await, "later\n");
        std::fs::remove_file(&later).unwrap();
        install(&first, "tool", "echo earlier > said");
        assert_eq!(run().await, "earlier\n");
    }

    #[test]
    fn only_techleads_own_directory_spares_the_child_a_chdir() {
        let here = std::env::current_dir().unwrap();
        assert!(is_own_directory(&here));
        assert!(!is_own_directory(&here.join("sub")));
        assert!(!is_own_directory(Path::new("/")) || here == Path::new("/"));
    }

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

    /// Where there is no pidfd, the exit is noticed by SIGCHLD: a child
    /// that has exited already, and one that exits later.
    #[tokio::test]
    async fn without_a_pidfd_sigchld_tells_of_the_exit() {
        let workdir = std::env::temp_dir();
        for script in ["exit 3", "sleep 0.2; exit 3"] {
            let argv = ["sh".to_string(), "-c".to_string(), script.to_string()];
            let launch = Launch {
                argv: &argv,
                workdir: &workdir,
                env: &[],
                stdin: File::open("/dev/null").unwrap(),
            };
            let (mut child, _group) = spawn(launch).unwrap();
            if script == "exit 3" {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            child.exit = Some(Exit::Signal(signals::signal(SignalKind::child()).unwrap()));
            let status = child.wait().await.unwrap();
            assert_eq!(status.code(), Some(3), "{script}");
        }
    }

    #[test]
    fn a_variable_set_twice_keeps_its_place_and_its_last_value() {
        let env = Environment::new(&[
            ("PATH", OsStr::new("/opt/bin")),
            ("TWICE", OsStr::new("first")),
            ("OTHER", OsStr::new("x")),
            ("TWICE", OsStr::new("second")),
        ])
        .unwrap();
        let set: Vec<&[u8]> = (0..env.set.len()).map(|i| env.set.get(i)).collect();
        assert_eq!(set, [&b"PATH=/opt/bin"[..], b"TWICE=second", b"OTHER=x"]);
        assert_eq!(env.path(), Some(OsStr::new("/opt/bin")));
        assert!(env.position(b"OTHER").is_some() && env.position(b"OTHE").is_none());
        // The variables set come last, before the null, each once.
        let envp = env.pointers();
        assert!(envp.last().is_some_and(|p| p.is_null()));
        let ours: Vec<*const c_char> = env.set.pointers().collect();
        assert_eq!(envp[envp.len() - 4..envp.len() - 1], ours);
        // The inherited variables set again give way; the others stay.
        let inherited = inherited();
        for (key, &at) in &inherited.index {
            let set_again = [&b"PATH"[..], b"TWICE", b"OTHER"].contains(&key.as_slice());
            let kept = envp.contains(&inherited.entries[at].as_ptr());
            assert_eq!(kept, !set_again, "{}", String::from_utf8_lossy(key));
        }
        assert!(
            inherited.index.contains_key(&b"PATH"[..]),
            "the tests run with a PATH"
        );
    }

    #[test]
    fn a_nul_byte_in_an_argument_or_a_variable_is_refused() {
        let mut args = CStrings::with_capacity(0, 0);
        assert!(args.push(&[b"fine"]).is_ok());
        let error = args.push(&[b"bad\0arg"]).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(args.len(), 1);
        assert!(Environment::new(&[("KEY", OsStr::new("a\0b"))]).is_err());
    }

    #[test]
    fn os_errors_read_as_sentences() {
        let error = io::Error::from_raw_os_error(2);
        assert_eq!(describe(&error), "No such file or directory");
    }
}
