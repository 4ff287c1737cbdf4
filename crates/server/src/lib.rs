//! The local server (`techlead serve`): the missions' record as a JSON API,
//! each mission's events as a live, resumable feed (Server-Sent Events or
//! a WebSocket, both from one shared tail per followed mission: `tail`),
//! and every mission's figures for Prometheus (`metrics`).
//!
//! It reads the store (SQLite in WAL mode, so a `techlead run` writing
//! the same file is never blocked, or PostgreSQL) and never writes mission
//! state. Safe by default (DESIGN decision 13): loopback unless told
//! otherwise, a bearer token on every request but the health check, and
//! `Host`/`Origin` checks against DNS rebinding and cross-site requests
//! (`guard`).
//! docs/server.md describes the endpoints.

mod api;
mod attempts;
mod commits;
mod dashboard;
mod db;
mod decide;
mod diff;
mod error;
mod feed;
mod guard;
mod log;
mod metrics;
pub mod openapi;
mod outlook;
mod patch;
mod portfolio;
mod tail;
pub mod token;
mod ws;

pub use error::Error;

use axum::Router;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The port `techlead serve` binds unless told otherwise.
pub const DEFAULT_PORT: u16 = 7420;

/// What `techlead serve` was asked for.
#[derive(Debug, Clone)]
pub struct Config {
    /// The techlead database: a SQLite file's path, or a PostgreSQL URL
    /// (`postgres://...`), as `--db` takes it.
    pub db: PathBuf,
    /// Where attempts' files are (their logs), and the token by default:
    /// beside a SQLite file; for PostgreSQL, this machine's `.techlead`
    /// directory, as the command that ran the missions chose it.
    pub data_dir: PathBuf,
    /// Where to listen (default `127.0.0.1:7420`).
    pub bind: SocketAddr,
    /// The token file (default `<data dir>/server.token`).
    pub token_file: PathBuf,
    /// How often the live feeds' watcher asks SQLite whether anything
    /// committed (`PRAGMA data_version`), while a feed is open. PostgreSQL
    /// tells of its commits itself (`LISTEN`).
    pub poll: Duration,
    /// Commits whose events each followed mission's shared tail keeps for
    /// clients still sending earlier ones; a client further behind reads
    /// the rest from the database.
    pub feed_buffer: usize,
}

impl Config {
    /// Loopback on the default port, the token in `data_dir`.
    pub fn new(db: PathBuf, data_dir: PathBuf) -> Config {
        let token_file = token::default_path(&data_dir);
        Config {
            db,
            data_dir,
            bind: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            token_file,
            poll: Duration::from_millis(5),
            feed_buffer: 1024,
        }
    }
}

/// What every handler shares.
pub(crate) struct Shared {
    pub db: db::Db,
    pub guard: guard::Guard,
    /// Where attempts' files are (`Config::data_dir`).
    pub data_dir: PathBuf,
    /// Each followed mission's shared tail, for the SSE and WebSocket
    /// feeds.
    pub tails: Arc<tail::Tails>,
    /// Each mission's figures for `/metrics`, kept between scrapes.
    pub metrics: Arc<metrics::Kept>,
}

/// A bound server, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    addr: SocketAddr,
    token: token::Token,
    router: Router,
    stop: watch::Sender<bool>,
}

impl Server {
    /// Opens the database (refusing one that is not techlead's, or a
    /// PostgreSQL server that does not answer), loads or creates the token,
    /// and binds the address.
    pub async fn bind(config: Config) -> Result<Server, Error> {
        // The database first: a file that is not techlead's leaves no
        // token behind.
        let db = db::Db::open(config.db.clone()).await?;
        let token = token::load_or_create(&config.token_file)?;
        let listener = tokio::net::TcpListener::bind(config.bind)
            .await
            .map_err(|source| Error::Bind {
                addr: config.bind,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: config.bind,
            source,
        })?;
        let (stop, stopping) = watch::channel(false);
        let commits = commits::Commits::watch(config.db.clone().into(), config.poll);
        let tails = tail::Tails::new(db.clone(), commits, stopping, config.feed_buffer);
        let shared = Arc::new(Shared {
            db,
            guard: guard::Guard::new(addr, token.clone()),
            data_dir: config.data_dir,
            tails,
            metrics: Arc::default(),
        });
        Ok(Server {
            listener,
            addr,
            token,
            router: router(shared),
            stop,
        })
    }

    /// The address it listens on (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token every request but the health check needs.
    pub fn token(&self) -> &str {
        self.token.as_str()
    }

    /// Serves until `shutdown` completes, then ends the live feeds and
    /// waits for the open requests to finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        let stop = self.stop;
        // Without TCP_NODELAY a feed's write waits for the client's
        // (delayed, up to 40 ms) acknowledgement of the one before it
        // (Nagle's algorithm): a live feed writes small frames often.
        let listener = self.listener.tap_io(|stream| {
            let _ = stream.set_nodelay(true);
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await
            .map_err(Error::Serve)
    }
}

/// Every path the server answers, as the OpenAPI document names them.
pub const ROUTES: &[&str] = &[
    "/api/health",
    "/api/openapi.json",
    "/api/missions",
    "/api/missions/{id}",
    "/api/missions/{id}/tasks",
    "/api/missions/{id}/tasks/{task}",
    "/api/missions/{id}/events",
    "/api/missions/{id}/stream",
    "/api/missions/{id}/ws",
    "/api/missions/{id}/escalations",
    "/api/missions/{id}/escalations/{n}/decisions",
    "/api/missions/{id}/costs",
    "/api/missions/{id}/outlook",
    "/api/missions/{id}/attempts",
    "/api/missions/{id}/tasks/{task}/attempts/{n}/log",
    "/api/missions/{id}/tasks/{task}/diff",
    "/api/session",
    "/api/agents",
    "/api/portfolio",
    "/metrics",
];

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/health", get(api::health))
        .route("/api/openapi.json", get(openapi::serve))
        .route("/api/missions", get(api::missions))
        .route("/api/missions/{id}", get(api::mission))
        .route("/api/missions/{id}/tasks", get(api::tasks))
        .route("/api/missions/{id}/tasks/{task}", get(api::task))
        .route("/api/missions/{id}/events", get(api::events))
        .route("/api/missions/{id}/stream", get(feed::stream))
        .route("/api/missions/{id}/ws", get(ws::stream))
        .route("/api/missions/{id}/escalations", get(api::escalations))
        .route(
            "/api/missions/{id}/escalations/{n}/decisions",
            axum::routing::post(decide::decide),
        )
        .route("/api/missions/{id}/costs", get(api::costs))
        .route("/api/missions/{id}/outlook", get(outlook::outlook))
        .route("/api/missions/{id}/attempts", get(attempts::attempts))
        .route(
            "/api/missions/{id}/tasks/{task}/attempts/{n}/log",
            get(log::log),
        )
        .route("/api/missions/{id}/tasks/{task}/diff", get(diff::diff))
        .route(
            "/api/session",
            post(dashboard::open).delete(dashboard::close),
        )
        .route("/api/agents", get(api::agents))
        .route("/api/portfolio", get(portfolio::portfolio))
        .route("/metrics", get(metrics::serve))
        .route("/", get(dashboard::index))
        .route("/assets/{name}", get(dashboard::asset))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            guard::check,
        ))
        .with_state(shared)
}
