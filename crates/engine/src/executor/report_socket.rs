//! The attempt's report socket: a Unix socket the engine listens on while
//! an attempt runs (`<stem>.sock`, named to the agent in
//! `TECHLEAD_REPORT_SOCKET`). `techlead mcp`, which the agent CLIs start for
//! their MCP tools, writes its reports there; so may any script. Each line
//! is a line of the stdout protocol (`::progress 40 wiring`), read by the
//! same parser and sent on the same channel as the executor's own reports,
//! so the mission records both the same way, in the order they arrive.
//!
//! The socket is one-way: nothing is written back. A line that is not a
//! report is ignored. The file is removed when the attempt ends (when the
//! [`ReportSocket`] is dropped), and with it every connection.

use super::command::parse_line;
use super::{AttemptSpec, ExecEvent, Executor};
use std::io;
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// The environment variable that names the socket to the agent.
pub const VARIABLE: &str = "TECHLEAD_REPORT_SOCKET";

/// Lines longer than this are dropped, as on stdout (where they are logged
/// but never read as reports).
const LINE_MAX: u64 = 64 * 1024;

/// Linux's limit on a socket path (`sun_path`), less its final NUL.
const PATH_MAX: usize = 107;

/// A listening report socket; dropping it stops listening, closes every
/// connection and removes the file.
#[derive(Debug)]
pub struct ReportSocket {
    path: PathBuf,
    accept: JoinHandle<()>,
}

impl ReportSocket {
    /// Listens at `path` (a stale file left by a crashed run is replaced)
    /// and sends each report read there to `events`. Needs a Tokio runtime.
    pub fn open(path: PathBuf, events: mpsc::UnboundedSender<ExecEvent>) -> io::Result<Self> {
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
        // The file is new to each attempt: bind first, and only when a
        // crashed run left it, remove it and bind again.
        let listener = match UnixListener::bind(&path) {
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                std::fs::remove_file(&path)?;
                UnixListener::bind(&path)?
            }
            bound => bound?,
        };
        let accept = tokio::spawn(accept(listener, events));
        Ok(ReportSocket { path, accept })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Opens the attempt's socket (`<stem>.sock`) when `executor` runs an
/// agent process that can use it, and names it, and the database when
/// known, in the attempt's environment. When it cannot be opened the
/// attempt runs without it (its agent can still report on stdout) and says
/// why in a progress report.
pub fn attach(
    executor: &dyn Executor,
    spec: &mut AttemptSpec,
    db: Option<&Path>,
    events: &mpsc::UnboundedSender<ExecEvent>,
) -> Option<ReportSocket> {
    if !executor.reports_over_socket() {
        return None;
    }
    let path = spec.attempt_file("sock");
    let opened = match ReportSocket::open(path.clone(), events.clone()) {
        // The mission's directory is made on first need, as for the
        // prompt file.
        Err(e) if e.kind() == io::ErrorKind::NotFound => spec
            .create_files_dir()
            .and_then(|()| ReportSocket::open(path, events.clone())),
        opened => opened,
    };
    match opened {
        Ok(socket) => {
            let socket_path = socket.path().to_string_lossy().into_owned();
            spec.env.push((VARIABLE.to_string(), socket_path));
            if let Some(db) = db {
                spec.env
                    .push(("TECHLEAD_DB".to_string(), db.to_string_lossy().into_owned()));
            }
            Some(socket)
        }
        Err(e) => {
            let _ = events.send(ExecEvent::Progress {
                percent: None,
                message: format!("no report socket ({e}): reports on stdout only"),
            });
            None
        }
    }
}

impl Drop for ReportSocket {
    fn drop(&mut self) {
        // Aborting the accept loop drops its JoinSet, which aborts the
        // connections: nothing reads the socket after the attempt.
        self.accept.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn accept(listener: UnixListener, events: mpsc::UnboundedSender<ExecEvent>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(read_reports(stream, events.clone()));
                }
                // EMFILE and the like: the agent can still report on stdout.
                Err(_) => tokio::task::yield_now().await,
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
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
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    use tokio::net::UnixStream;

    async fn next(received: &mut mpsc::UnboundedReceiver<ExecEvent>) -> ExecEvent {
        tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("a report within 10 s")
            .expect("the channel is open")
    }

    #[tokio::test]
    async fn lines_become_reports_in_order_and_the_file_goes_with_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.1.sock");
        let (events, mut received) = mpsc::unbounded_channel();
        let socket = ReportSocket::open(path.clone(), events).unwrap();
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
        drop(socket);
        assert!(!path.exists());
        assert!(UnixStream::connect(&path).await.is_err());
    }

    #[tokio::test]
    async fn a_stale_file_is_replaced_and_a_long_path_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.1.sock");
        std::fs::write(&path, "left by a crash").unwrap();
        let (events, _received) = mpsc::unbounded_channel();
        let socket = ReportSocket::open(path.clone(), events.clone()).unwrap();
        assert!(UnixStream::connect(&path).await.is_ok());
        drop(socket);
        let long = dir.path().join("x".repeat(120));
        let error = ReportSocket::open(long, events).unwrap_err();
        assert!(
            error.to_string().contains("shorter data directory"),
            "{error}"
        );
    }
}
