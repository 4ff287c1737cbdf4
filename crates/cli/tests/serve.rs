//! `techlead serve` as a person runs it: the real binary on a database a
//! real `techlead run` wrote, answering over loopback, stopped by Ctrl-C.
//! (The endpoints themselves are tested in crates/server/tests.)

mod support;

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
    let first = serving.line().unwrap();
    let addr = first
        .strip_prefix("techlead serve: http://")
        .and_then(|rest| rest.split_once("/api"))
        .map(|(addr, _)| addr.to_string())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
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

    let pid = Pid::from_raw(serving.child.id() as i32).unwrap();
    rustix::process::kill_process(pid, Signal::INT).unwrap();
    assert_eq!(serving.wait(), 0);
    let rest: Vec<String> = std::iter::from_fn(|| serving.line()).collect();
    assert_eq!(
        rest.last().map(String::as_str),
        Some("techlead serve: stopped")
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
