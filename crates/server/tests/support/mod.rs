//! What the server's tests share: a real SQLite file in a temporary
//! directory (or a real PostgreSQL database), missions recorded by the
//! real engine running real command tasks, the real server on a loopback
//! port, and HTTP and WebSocket clients.
//!
//! Waits are on conditions, each under a deadline that only turns a hang
//! into a failure.

pub mod burst;
pub mod demo;
pub mod ws;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use techlead_core::Priority;
use techlead_core::state::{MissionPlan, MissionStatus, TaskPlan};
use techlead_engine::executor::command::CommandExecutor;
use techlead_engine::mission::{Mission, Settings, observer};
use techlead_server::{Config, Server};
use techlead_store::Store;
use tokio::sync::oneshot;

/// How long any one wait may take before the test fails as hung.
pub const HANG_GUARD: Duration = Duration::from_secs(60);

/// `future`, or a panic naming `what` after [`HANG_GUARD`].
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A database and the missions in it, with a temporary directory for
/// their attempts' files.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    /// `--db`: a SQLite file in `dir`, or a PostgreSQL database's URL.
    db: PathBuf,
}

impl Fixture {
    /// A SQLite file.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("techlead.db");
        Fixture { dir, db }
    }

    /// A fresh database on the throwaway PostgreSQL server, or `None` (the
    /// test skips) when none can be started (crates/testdb).
    pub fn postgres() -> Option<Fixture> {
        let db = techlead_testdb::database()?;
        Some(Fixture {
            dir: tempfile::tempdir().unwrap(),
            db: db.url.into(),
        })
    }

    pub fn db(&self) -> PathBuf {
        self.db.clone()
    }

    /// The server's settings for this database, its attempts' files
    /// beside it.
    pub fn config(&self) -> Config {
        Config::new(self.db(), self.dir.path().to_path_buf())
    }

    /// A new connection, as another process would open it.
    pub fn store(&self) -> Box<dyn Store> {
        techlead_store::open(&self.db).unwrap()
    }

    /// The real server on this database, on a free loopback port.
    pub async fn serve(&self) -> Served {
        let mut config = self.config();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.poll = Duration::from_millis(20);
        Served::with(config).await
    }

    /// A mission of command tasks, with a name no other test uses (a run
    /// kills the processes left by earlier runs of the same mission ID).
    pub fn plan(&self, tasks: Vec<TaskPlan>) -> MissionPlan {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        MissionPlan {
            name: format!("served-{}-{n}", std::process::id()),
            objective: "serve the record".into(),
            source: "mission.yaml".into(),
            source_hash: "0".into(),
            workdir: self.dir.path().display().to_string(),
            max_parallel: 4,
            failure_threshold: 0.5,
            backoff_ms: vec![10],
            tasks,
            ..Default::default()
        }
    }

    pub fn create(&self, plan: &MissionPlan) -> String {
        self.store()
            .create_mission(plan, jiff::Timestamp::now())
            .unwrap()
    }

    /// Runs mission `id` with the real engine until it stops.
    pub async fn run(&self, id: &str) -> MissionStatus {
        let settings = Settings {
            data_dir: self.dir.path().to_path_buf(),
            executors: vec![Arc::new(
                CommandExecutor::new().with_grace(Duration::from_millis(200)),
            )],
            gate_grace: Duration::from_millis(200),
            workers: None,
        };
        let mission = Mission::open(self.store(), id, settings, observer(|_, _, _| {}))
            .unwrap_or_else(|e| panic!("cannot open {id}: {e:?}"));
        within("the mission's run", mission.run()).await.unwrap()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A command task run by `sh -c script` in the fixture's directory.
pub fn task(id: &str, depends_on: &[&str], script: &str) -> TaskPlan {
    TaskPlan {
        id: id.into(),
        title: format!("task {id}"),
        description: format!("what {id} does"),
        priority: Priority::Medium,
        depends_on: depends_on.iter().map(|d| d.to_string()).collect(),
        agent: format!("agent-{}", id.to_lowercase()),
        executor: "command".into(),
        command: Some(vec!["sh".into(), "-c".into(), script.into()]),
        timeout_ms: 60_000,
        ..Default::default()
    }
}

/// The real server, serving until dropped.
pub struct Served {
    pub base: String,
    pub port: u16,
    pub token: String,
    pub token_file: PathBuf,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    ended: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    /// Serves `db` on a free loopback port.
    pub async fn start(db: &Path) -> Served {
        let beside = db.parent().expect("a file in a directory").to_path_buf();
        let mut config = Config::new(db.to_path_buf(), beside);
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.poll = Duration::from_millis(20);
        Served::with(config).await
    }

    pub async fn with(config: Config) -> Served {
        let token_file = config.token_file.clone();
        let server = Server::bind(config).await.expect("the server starts");
        let addr = server.local_addr();
        let token = server.token().to_string();
        let (stop, stopped) = oneshot::channel::<()>();
        let ended = tokio::spawn(async move {
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("the server runs");
        });
        Served {
            base: format!("http://{addr}"),
            port: addr.port(),
            token,
            token_file,
            client: reqwest::Client::new(),
            stop: Some(stop),
            ended: Some(ended),
        }
    }

    /// A GET with the token.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// A GET's status and JSON body.
    pub async fn json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = within(path, self.get(path).send()).await.unwrap();
        let status = response.status().as_u16();
        let body = within(path, response.json()).await.unwrap();
        (status, body)
    }

    /// An SSE client's seqs until the server ends the feed.
    pub async fn sse_seqs(&self, mission: &str) -> Vec<u64> {
        let path = format!("/api/missions/{mission}/stream");
        let mut response = within("the feed", self.get(&path).send()).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let (mut buffer, mut seqs) = (String::new(), Vec::new());
        while let Some(chunk) = within("the feed's bytes", response.chunk()).await.unwrap() {
            buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if let Some(id) = block.lines().find_map(|l| l.strip_prefix("id: ")) {
                    seqs.push(id.parse().unwrap());
                }
            }
        }
        seqs
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(ended) = self.ended.take() {
            within("the server to stop", ended).await.unwrap();
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
