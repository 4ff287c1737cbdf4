//! `techlead serve` as a person runs it: the real binary on a database a
//! real `techlead run` wrote (a SQLite file, or a PostgreSQL database it
//! writes while the server follows it live), answering over loopback,
//! stopped by Ctrl-C. (The endpoints themselves are tested in
//! crates/server/tests.)

use crate::support;

use rustix::process::{Pid, Signal};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Instant;
use support::HANG_GUARD;

/// A running `techlead serve` and its stderr lines.
struct Serving {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Serving {
    fn start(dir: &Path, args: &[&str]) -> Serving {
        let mut child = support::techlead(dir)
            .arg("serve")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("techlead starts");
        let stderr = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Serving { child, lines }
    }

    /// The address from the first line it prints.
    fn address(&mut self) -> String {
        let first = self.line().unwrap();
        first
            .strip_prefix("techlead serve: http://")
            .and_then(|rest| rest.split_once("/api"))
            .map(|(addr, _)| addr.to_string())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
    }

    /// Ctrl-C; its exit code, and the last line it printed.
    fn interrupt(&mut self) -> (i32, Option<String>) {
        let pid = Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, Signal::INT).unwrap();
        let code = self.wait();
        (code, std::iter::from_fn(|| self.line()).last())
    }

    /// The next stderr line, or `None` once stderr closed.
    fn line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(HANG_GUARD) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Disconnected) => None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!("techlead serve printed nothing for {HANG_GUARD:?}")
            }
        }
    }

    fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return support::code_of(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("techlead serve did not exit");
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET: the status and the body.
fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let body = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
    (status, serde_json::from_str(body).unwrap())
}

#[test]
fn serves_what_run_recorded_until_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("serve");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - {{id: HELLO, title: say hello, command: [sh, -c, 'echo hello']}}\n"
        ),
    );
    support::run_to_end(dir.path(), &["run", "mission.yaml"]).expect_code(0);

    let mut serving = Serving::start(dir.path(), &["--bind", "127.0.0.1:0"]);
    let addr = serving.address();
    let token_line = serving.line().unwrap();
    let token_file = dir.path().join(".techlead/server.token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let token = token.trim();
    assert!(
        token_line.ends_with(token) && token_line.contains("server.token"),
        "{token_line}"
    );

    let (status, health) = get(&addr, "/api/health", None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, _) = get(&addr, "/api/missions", None);
    assert_eq!(status, 401);
    let (status, missions) = get(&addr, "/api/missions", Some(token));
    assert_eq!(status, 200);
    assert_eq!(missions[0]["id"], format!("{name}-1"));
    let (status, mission) = get(&addr, &format!("/api/missions/{name}"), Some(token));
    assert_eq!(status, 200);
    assert_eq!(mission["status"], "succeeded");
    assert_eq!(mission["counts"]["succeeded"], 1);

    assert_eq!(
        serving.interrupt(),
        (0, Some("techlead serve: stopped".to_string()))
    );
}

/// A live feed read over a plain socket: the response's chunks (HTTP/1.1
/// chunked encoding) joined, cut into SSE events.
struct Sse {
    reader: BufReader<TcpStream>,
    text: String,
}

/// One SSE event: its `id:` (the seq) and `event:` (the type).
#[derive(Debug)]
struct SseEvent {
    seq: u64,
    kind: String,
}

impl Sse {
    fn open(addr: &str, path: &str, token: &str) -> Sse {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        while head.is_empty() || !head.ends_with("\r\n\r\n") {
            assert_ne!(reader.read_line(&mut head).unwrap(), 0, "{head}");
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("text/event-stream"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        Sse {
            reader,
            text: String::new(),
        }
    }

    /// The next event, waiting for it (a comment is skipped).
    fn next(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let block: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| {
                    block
                        .lines()
                        .find_map(|line| line.strip_prefix(name))
                        .map(str::to_string)
                };
                if let (Some(seq), Some(kind)) = (field("id: "), field("event: ")) {
                    let seq = seq.parse().unwrap();
                    return SseEvent { seq, kind };
                }
                continue;
            }
            self.chunk();
        }
    }

    /// Appends the next chunk of the body to `text`.
    fn chunk(&mut self) {
        let mut size = String::new();
        self.reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim(), 16)
            .unwrap_or_else(|_| panic!("not a chunk size: {size:?}"));
        assert_ne!(size, 0, "the feed ended early");
        let mut chunk = vec![0; size + 2]; // and its CRLF
        self.reader.read_exact(&mut chunk).unwrap();
        self.text
            .push_str(std::str::from_utf8(&chunk[..size]).unwrap());
    }
}

/// A mission run into a PostgreSQL database by the real `techlead run`,
/// served by the real `techlead serve --db <url>` while it runs: the API
/// lists it, and an SSE client that connected mid-run receives the events
/// committed after it connected, through `mission_finished`.
#[test]
fn serves_a_postgresql_database_and_follows_its_run_live() {
    let Some(db) = techlead_testdb::database() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = support::unique_name("pg-serve");
    support::write_mission(
        dir.path(),
        &format!(
            "mission:\n  name: {name}\n  defaults: {{executor: command}}\n\
             tasks:\n\
             \x20 - {{id: GATE, title: wait for go, command: [sh, -c, 'while [ ! -e go ]; do sleep 0.01; done']}}\n\
             \x20 - {{id: AFTER, title: then this, command: [sh, -c, 'echo after'], depends_on: [GATE]}}\n"
        ),
    );
    let url = db.url.as_str();
    let mut run =
        support::Running::start(dir.path(), &["run", "mission.yaml", "--json", "--db", url]);
    run.wait_for(|e| support::event_type(e) == "attempt_started");
    let id = format!("{name}-1");

    let mut serving = Serving::start(dir.path(), &["--db", url, "--bind", "127.0.0.1:0"]);
    let addr = serving.address();
    // A PostgreSQL database keeps the token where the SQLite file would be.
    let token_line = serving.line().unwrap();
    let token = std::fs::read_to_string(dir.path().join(".techlead/server.token")).unwrap();
    let token = token.trim();
    assert!(token_line.ends_with(token), "{token_line}");

    let (status, missions) = get(&addr, "/api/missions", Some(token));
    assert_eq!(status, 200, "{missions}");
    assert_eq!(missions[0]["id"], id.as_str());
    assert_eq!(missions[0]["status"], "running");

    let mut feed = Sse::open(&addr, &format!("/api/missions/{id}/stream"), token);
    let mut seqs = Vec::new();
    loop {
        let event = feed.next();
        seqs.push(event.seq);
        if event.kind == "attempt_started" {
            break;
        }
    }
    let connected_at = *seqs.last().unwrap();
    std::fs::write(dir.path().join("go"), "").unwrap();
    let mut kinds = Vec::new();
    loop {
        let event = feed.next();
        seqs.push(event.seq);
        kinds.push(event.kind);
        if kinds.last().unwrap() == "mission_finished" {
            break;
        }
    }
    assert_eq!(seqs, (1..=*seqs.last().unwrap()).collect::<Vec<u64>>());
    assert!(seqs.last().unwrap() > &connected_at);
    assert!(kinds.contains(&"attempt_finished".to_string()), "{kinds:?}");
    let (code, _, stderr) = run.finish();
    assert_eq!(code, 0, "{stderr}");

    let (status, mission) = get(&addr, &format!("/api/missions/{id}"), Some(token));
    assert_eq!(status, 200, "{mission}");
    assert_eq!(mission["status"], "succeeded");
    assert_eq!(mission["last_seq"], *seqs.last().unwrap());
    assert_eq!(
        serving.interrupt(),
        (0, Some("techlead serve: stopped".to_string()))
    );
}

#[test]
fn a_busy_port_is_an_error_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let mut serving = Serving::start(dir.path(), &["--bind", &addr]);
    assert_eq!(serving.wait(), 2);
    let lines: Vec<String> = std::iter::from_fn(|| serving.line()).collect();
    assert_eq!(
        lines[0],
        format!("error: cannot listen on {addr}"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l
            .trim_start()
            .starts_with("hint: another program uses that address")),
        "{lines:#?}"
    );
}
