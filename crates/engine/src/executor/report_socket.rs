//! The report socket: one Unix socket per mission run (and one per worker)
//! that every attempt's agent may write its reports to, named to it in
//! `TECHLEAD_REPORT_SOCKET`. `techlead mcp`, which the agent CLIs start for
//! their MCP tools, writes its reports there; so may any script. Each line
//! is a line of the stdout protocol (`::progress 40 wiring`), read by the
//! same parser and sent on the same channel as the executor's own reports
//! of the attempt it comes from, so the mission records both the same way,
//! in the order they arrive.
//!
//! One socket rather than one per attempt: binding a socket makes a file,
//! and an attempt's start waited for that file and its removal (5 to 7 %
//! of the wall time of a thousand `true` tasks, bench/README.md). Which
//! attempt a connection speaks for is read from the process that connected
//! (its credentials, taken by the kernel at `connect`): the attempt its
//! environment names (`TECHLEAD_MISSION`, `TECHLEAD_TASK`,
//! `TECHLEAD_ATTEMPT`, which every attempt gets and its descendants
//! inherit), else the attempt whose process group it is in, else the
//! attempt among its ancestors. A connection that names an attempt that
//! has ended is closed unread, and so is one that no attempt claims within
//! 10 s: a late report never lands on another attempt.
//!
//! The socket is one-way: nothing is written back. A line that is not a
//! report is ignored. An attempt's connections close when it ends (when its
//! [`Attached`] is dropped); the file goes with the run.

use super::command::parse_line;
use super::{AttemptSpec, ExecEvent, Executor};
use rustix::process::{Pid, getpgid};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

/// The environment variable that names the socket to the agent.
pub const VARIABLE: &str = "TECHLEAD_REPORT_SOCKET";

/// The socket's file, in the mission's directory of attempt files (or the
/// worker's directory).
pub const FILE_NAME: &str = "report.sock";

/// Lines longer than this are dropped, as on stdout (where they are logged
/// but never read as reports).
const LINE_MAX: u64 = 64 * 1024;

/// Linux's limit on a socket path (`sun_path`), less its final NUL.
const PATH_MAX: usize = 107;

/// How long a connection that no attempt claims yet waits for one: its
/// process may have connected before its attempt learnt its process ID.
const UNCLAIMED_MAX: Duration = Duration::from_secs(10);

/// A run's report socket, opened when the first attempt needs it.
#[derive(Debug)]
pub struct Reports {
    path: PathBuf,
    socket: OnceLock<Result<ReportSocket, String>>,
}

impl Reports {
    pub fn new(path: PathBuf) -> Arc<Reports> {
        Arc::new(Reports {
            path,
            socket: OnceLock::new(),
        })
    }

    /// The listening socket; opening it needs a Tokio runtime.
    fn socket(&self) -> Result<&ReportSocket, &str> {
        self.socket
            .get_or_init(|| ReportSocket::open(&self.path).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(String::as_str)
    }
}

/// The listening socket; dropping it stops listening, closes every
/// connection and removes the file.
#[derive(Debug)]
struct ReportSocket {
    path: PathBuf,
    routes: Arc<Mutex<Routes>>,
    accept: JoinHandle<()>,
}

impl ReportSocket {
    /// Listens at `path`, replacing a stale file left by a crashed run (one
    /// run at a time holds a mission or a worker's directory).
    fn open(path: &Path) -> io::Result<ReportSocket> {
        if path.as_os_str().len() > PATH_MAX {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "the socket path {} is longer than the {PATH_MAX} bytes a Unix socket allows \
                     (use a shorter data directory)",
                    path.display()
                ),
            ));
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let listener = match UnixListener::bind(path) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                std::fs::remove_file(path)?;
                UnixListener::bind(path)?
            }
            bound => bound?,
        };
        let routes = Arc::new(Mutex::new(Routes::default()));
        let accept = tokio::spawn(accept(listener, routes.clone()));
        Ok(ReportSocket {
            path: path.to_path_buf(),
            routes,
            accept,
        })
    }
}

impl Drop for ReportSocket {
    fn drop(&mut self) {
        self.accept.abort();
        lock(&self.routes).close_all();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Names the run's socket (and the database when known) in the attempt's
/// environment when `executor` runs an agent process that can use it, and
/// routes the connections of that attempt's processes to `events` until
/// the returned [`Attached`] is dropped. When the socket cannot be opened
/// the attempt runs without it (its agent can still report on stdout) and
/// says why in a progress report.
pub fn attach(
    executor: &dyn Executor,
    spec: &mut AttemptSpec,
    db: Option<&Path>,
    events: &mpsc::UnboundedSender<ExecEvent>,
    reports: &Reports,
) -> Option<Attached> {
    if !executor.reports_over_socket() {
        return None;
    }
    let socket = match reports.socket() {
        Ok(socket) => socket,
        Err(e) => {
            let _ = events.send(ExecEvent::Progress {
                percent: None,
                message: format!("no report socket ({e}): reports on stdout only"),
            });
            return None;
        }
    };
    let named = Named {
        mission: spec.mission_id.clone(),
        task: spec.task_id.clone(),
        attempt: spec.attempt.to_string(),
    };
    let id = lock(&socket.routes).add(named, events.clone());
    let path = socket.path.to_string_lossy().into_owned();
    spec.env.push((VARIABLE.to_string(), path));
    if let Some(db) = db {
        spec.env
            .push(("TECHLEAD_DB".to_string(), db.to_string_lossy().into_owned()));
    }
    Some(Attached {
        routes: socket.routes.clone(),
        id,
    })
}

/// An attempt's place on the socket: its connections are read while this
/// lives, and closed when it is dropped.
#[derive(Debug)]
pub struct Attached {
    routes: Arc<Mutex<Routes>>,
    id: u64,
}

impl Attached {
    /// The attempt's process started: connections from its process group
    /// and its descendants are its own from now on, those made before
    /// included.
    pub fn started(&self, pid: u32) {
        lock(&self.routes).started(self.id, pid);
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        lock(&self.routes).remove(self.id);
    }
}

/// Tells the attempt's place on the socket, if it has one, when `event`
/// says its process started.
pub fn note_start(socket: Option<&Attached>, event: &ExecEvent) {
    if let (Some(socket), ExecEvent::Started { pid: Some(pid) }) = (socket, event) {
        socket.started(*pid);
    }
}

fn lock(routes: &Mutex<Routes>) -> MutexGuard<'_, Routes> {
    routes.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An attempt as its environment names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Named {
    mission: String,
    task: String,
    attempt: String,
}

/// The attempts that are running and the connections that wait for one.
#[derive(Debug, Default)]
struct Routes {
    attempts: Vec<Route>,
    unclaimed: Vec<Unclaimed>,
    next_id: u64,
}

#[derive(Debug)]
struct Route {
    id: u64,
    named: Named,
    /// The attempt's process, the leader of its process group.
    pid: Option<u32>,
    events: mpsc::UnboundedSender<ExecEvent>,
    readers: Vec<AbortHandle>,
}

#[derive(Debug)]
struct Unclaimed {
    stream: UnixStream,
    peer: Peer,
    since: Instant,
}

impl Routes {
    fn add(&mut self, named: Named, events: mpsc::UnboundedSender<ExecEvent>) -> u64 {
        self.next_id += 1;
        self.attempts.push(Route {
            id: self.next_id,
            named,
            pid: None,
            events,
            readers: Vec::new(),
        });
        self.next_id
    }

    fn started(&mut self, id: u64, pid: u32) {
        let Some(route) = self.attempts.iter_mut().find(|r| r.id == id) else {
            return;
        };
        route.pid = Some(pid);
        let (claimed, rest) = std::mem::take(&mut self.unclaimed)
            .into_iter()
            .partition(|u| route.claims(&u.peer));
        self.unclaimed = rest;
        for unclaimed in claimed {
            route.read(unclaimed.stream);
        }
    }

    fn remove(&mut self, id: u64) {
        if let Some(at) = self.attempts.iter().position(|r| r.id == id) {
            self.attempts.swap_remove(at).close();
        }
    }

    /// Hands a new connection to its attempt. One whose process names an
    /// attempt that is not running is closed; one that names none waits a
    /// while for its attempt to start.
    fn take(&mut self, stream: UnixStream, peer: Peer) {
        let now = Instant::now();
        self.unclaimed
            .retain(|u| now.duration_since(u.since) < UNCLAIMED_MAX);
        match self.attempts.iter_mut().find(|r| r.claims(&peer)) {
            Some(route) => route.read(stream),
            None if peer.named.is_none() => self.unclaimed.push(Unclaimed {
                stream,
                peer,
                since: now,
            }),
            None => {}
        }
    }

    fn close_all(&mut self) {
        self.unclaimed.clear();
        for route in self.attempts.drain(..) {
            route.close();
        }
    }
}

impl Route {
    /// Whether a connection from `peer` is this attempt's.
    fn claims(&self, peer: &Peer) -> bool {
        match &peer.named {
            Some(named) => *named == self.named,
            None => self.pid.is_some_and(|pid| {
                peer.pid == Some(pid) || peer.group == Some(pid) || peer.ancestors.contains(&pid)
            }),
        }
    }

    fn read(&mut self, stream: UnixStream) {
        self.readers.retain(|reader| !reader.is_finished());
        let reader = tokio::spawn(read_reports(stream, self.events.clone()));
        self.readers.push(reader.abort_handle());
    }

    fn close(self) {
        for reader in self.readers {
            reader.abort();
        }
    }
}

/// What is known of the process at the other end of a connection.
#[derive(Debug, Default)]
struct Peer {
    named: Option<Named>,
    pid: Option<u32>,
    group: Option<u32>,
    ancestors: Vec<u32>,
}

impl Peer {
    fn of(stream: &UnixStream) -> Peer {
        let pid = stream
            .peer_cred()
            .ok()
            .and_then(|cred| cred.pid())
            .and_then(|pid| u32::try_from(pid).ok())
            .filter(|&pid| pid > 0);
        match pid {
            Some(pid) => Peer::of_process(pid),
            None => Peer::default(),
        }
    }

    fn of_process(pid: u32) -> Peer {
        Peer {
            named: named_by_environment(pid),
            pid: Some(pid),
            group: process_group(pid),
            ancestors: ancestors(pid),
        }
    }
}

/// The attempt a process's environment names. Empty for a process that
/// has exited (a zombie keeps its process group and parent, not this).
fn named_by_environment(pid: u32) -> Option<Named> {
    let environment = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let (mut mission, mut task, mut attempt) = (None, None, None);
    for variable in environment.split(|&b| b == 0) {
        let text = || String::from_utf8_lossy(variable).into_owned();
        if variable.starts_with(b"TECHLEAD_MISSION=") {
            mission = Some(text()["TECHLEAD_MISSION=".len()..].to_string());
        } else if variable.starts_with(b"TECHLEAD_TASK=") {
            task = Some(text()["TECHLEAD_TASK=".len()..].to_string());
        } else if variable.starts_with(b"TECHLEAD_ATTEMPT=") {
            attempt = Some(text()["TECHLEAD_ATTEMPT=".len()..].to_string());
        }
    }
    Some(Named {
        mission: mission?,
        task: task?,
        attempt: attempt?,
    })
}

fn process_group(pid: u32) -> Option<u32> {
    let pid = Pid::from_raw(i32::try_from(pid).ok()?)?;
    let group = getpgid(Some(pid)).ok()?;
    u32::try_from(group.as_raw_nonzero().get()).ok()
}

/// Its parent, grandparent and so on, short of init.
fn ancestors(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let mut at = pid;
    while found.len() < 64 {
        match parent_of(at) {
            Some(parent) if parent > 1 => {
                found.push(parent);
                at = parent;
            }
            _ => break,
        }
    }
    found
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (name) state ppid ...": the name may hold spaces and parentheses.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(1)?.parse().ok()
}

async fn accept(listener: UnixListener, routes: Arc<Mutex<Routes>>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let peer = Peer::of(&stream);
                lock(&routes).take(stream, peer);
            }
            // EMFILE and the like: the agent can still report on stdout.
            Err(_) => tokio::task::yield_now().await,
        }
    }
}

/// Reads one connection's lines until it closes.
async fn read_reports(stream: impl AsyncRead + Unpin, events: mpsc::UnboundedSender<ExecEvent>) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(LINE_MAX + 1)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Ok(0) | Err(_) => return,
            Ok(_) if line.last() != Some(&b'\n') && line.len() as u64 > LINE_MAX => {
                // Too long: skip the rest of it.
                if skip_line(&mut reader).await.is_err() {
                    return;
                }
            }
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                let text = text.trim_end_matches(['\n', '\r']);
                if let Some(event) = parse_line(text)
                    && events.send(event).is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn skip_line(reader: &mut (impl tokio::io::AsyncBufRead + Unpin)) -> io::Result<()> {
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn next(received: &mut mpsc::UnboundedReceiver<ExecEvent>) -> ExecEvent {
        tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a report within 10 s")
            .expect("the channel is open")
    }

    fn named(task: &str) -> Named {
        Named {
            mission: "m".into(),
            task: task.into(),
            attempt: "1".into(),
        }
    }

    /// An attempt on `socket`, as `attach` makes it.
    fn attempt(
        socket: &ReportSocket,
        task: &str,
    ) -> (Attached, mpsc::UnboundedReceiver<ExecEvent>) {
        let (events, received) = mpsc::unbounded_channel();
        let id = lock(&socket.routes).add(named(task), events);
        let attached = Attached {
            routes: socket.routes.clone(),
            id,
        };
        (attached, received)
    }

    #[tokio::test]
    async fn lines_become_reports_in_order_and_the_file_goes_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs").join("m").join(FILE_NAME);
        let reports = Reports::new(path.clone());
        let socket = reports.socket().unwrap();
        let (attached, mut received) = attempt(socket, "t");
        // This test's process stands for the attempt's.
        attached.started(std::process::id());
        let mut client = UnixStream::connect(&path).await.unwrap();
        let long = format!("::summary {}\n", "x".repeat(LINE_MAX as usize));
        client
            .write_all(
                format!(
                    "::progress 40 wiring\nplain text\n{long}::ask staging or prod?\r\n::summary done"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(
            next(&mut received).await,
            ExecEvent::Progress {
                percent: Some(40),
                message: "wiring".into()
            }
        );
        assert_eq!(
            next(&mut received).await,
            ExecEvent::Ask("staging or prod?".into())
        );
        // The last line has no newline: it counts once the connection ends.
        drop(client);
        assert_eq!(next(&mut received).await, ExecEvent::Summary("done".into()));
        // A second connection works too.
        let mut other = UnixStream::connect(&path).await.unwrap();
        other.write_all(b"::blocked no key\n").await.unwrap();
        assert_eq!(
            next(&mut received).await,
            ExecEvent::Blocked("no key".into())
        );
        // The attempt ends: its connection is closed.
        drop(attached);
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), other.read_to_end(&mut rest))
            .await
            .expect("the connection closed within 10 s")
            .unwrap();
        drop(reports);
        assert!(!path.exists());
        assert!(UnixStream::connect(&path).await.is_err());
    }

    #[tokio::test]
    async fn a_connection_made_before_its_attempt_knew_its_process_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let reports = Reports::new(dir.path().join(FILE_NAME));
        let socket = reports.socket().unwrap();
        let (attached, mut received) = attempt(socket, "t");
        let mut client = UnixStream::connect(dir.path().join(FILE_NAME))
            .await
            .unwrap();
        client.write_all(b"::progress 5 early\n").await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while lock(&socket.routes).unclaimed.is_empty() {
            assert!(
                Instant::now() < deadline,
                "the connection was never accepted"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(received.try_recv().is_err());
        attached.started(std::process::id());
        assert_eq!(
            next(&mut received).await,
            ExecEvent::Progress {
                percent: Some(5),
                message: "early".into()
            }
        );
        assert!(lock(&socket.routes).unclaimed.is_empty());
    }

    #[tokio::test]
    async fn a_connection_is_its_named_attempts_and_one_for_an_ended_attempt_is_closed_unread() {
        let mut routes = Routes::default();
        let (events, mut received) = mpsc::unbounded_channel();
        routes.add(named("running"), events);
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let named_peer = |task| Peer {
            named: Some(named(task)),
            ..Peer::default()
        };
        routes.take(ours, named_peer("running"));
        theirs.write_all(b"::decision use sqlite\n").await.unwrap();
        assert_eq!(
            next(&mut received).await,
            ExecEvent::Decision("use sqlite".into())
        );
        let (ours, mut late) = UnixStream::pair().unwrap();
        routes.take(ours, named_peer("ended"));
        assert!(routes.unclaimed.is_empty());
        let mut rest = Vec::new();
        assert_eq!(late.read_to_end(&mut rest).await.unwrap(), 0);
    }

    #[test]
    fn a_process_is_known_by_its_environment_its_group_and_its_parents() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("TECHLEAD_MISSION", "m")
            .env("TECHLEAD_TASK", "t")
            .env("TECHLEAD_ATTEMPT", "1")
            .spawn()
            .unwrap();
        // Its environment shows once its exec is through, a little after
        // `spawn` returns (a process that connects is long past that).
        let environ = format!("/proc/{}/environ", child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read(&environ).unwrap().is_empty() {
            assert!(Instant::now() < deadline, "sleep never finished its exec");
            std::thread::sleep(Duration::from_millis(1));
        }
        let peer = Peer::of_process(child.id());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(peer.named, Some(named("t")));
        assert_eq!(peer.group, process_group(std::process::id()));
        assert_eq!(peer.ancestors.first(), Some(&std::process::id()));
        let route = Route {
            id: 1,
            named: named("other"),
            pid: Some(std::process::id()),
            events: mpsc::unbounded_channel().0,
            readers: Vec::new(),
        };
        // It names another attempt: that wins over its ancestry.
        assert!(!route.claims(&peer));
        let unnamed = Peer {
            named: None,
            ..peer
        };
        assert!(route.claims(&unnamed));
    }

    #[tokio::test]
    async fn a_stale_file_is_replaced_and_a_long_path_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "left by a crash").unwrap();
        let reports = Reports::new(path.clone());
        assert!(reports.socket().is_ok());
        assert!(UnixStream::connect(&path).await.is_ok());
        let long = Reports::new(dir.path().join("x".repeat(120)));
        let error = long.socket().unwrap_err();
        assert!(error.contains("shorter data directory"), "{error}");
    }
}
