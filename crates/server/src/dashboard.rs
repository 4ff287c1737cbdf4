//! The web dashboard: a page and its scripts and styles, built into the
//! binary (no build step, nothing fetched from elsewhere, so it works
//! without a network), and the session that lets a browser use the API.
//!
//! A browser cannot send `Authorization` with `EventSource`, so the page
//! trades the token for a cookie: `techlead serve` prints
//! `http://127.0.0.1:7420/#token=...`; the fragment never leaves the
//! browser (no request line, no `Referer`); the page sends it once to
//! `POST /api/session` as a bearer token, the answer sets an `HttpOnly`,
//! `SameSite=Strict` cookie, and the page takes the fragment out of the
//! address bar and history. docs/server.md says why this and not
//! `/login?token=`.

use crate::Shared;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// The page's files: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css", include_str!("../assets/style.css")),
    ("app.js", JS, include_str!("../assets/app.js")),
    ("api.js", JS, include_str!("../assets/api.js")),
    ("dom.js", JS, include_str!("../assets/dom.js")),
    ("format.js", JS, include_str!("../assets/format.js")),
    ("missions.js", JS, include_str!("../assets/missions.js")),
    ("portfolio.js", JS, include_str!("../assets/portfolio.js")),
    ("mission.js", JS, include_str!("../assets/mission.js")),
    ("dag.js", JS, include_str!("../assets/dag.js")),
    ("lanes.js", JS, include_str!("../assets/lanes.js")),
    ("task.js", JS, include_str!("../assets/task.js")),
    ("review.js", JS, include_str!("../assets/review.js")),
    (
        "escalations.js",
        JS,
        include_str!("../assets/escalations.js"),
    ),
];

const JS: &str = "text/javascript";

const INDEX: &str = include_str!("../assets/index.html");

/// Scripts and styles only from this server, nothing inline: agents'
/// output and code are shown on the page, and must never run in it.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

pub async fn index() -> Response {
    page("text/html; charset=utf-8", INDEX)
}

pub async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, media, body)) => page(media, body),
        None => (StatusCode::NOT_FOUND, "no such file").into_response(),
    }
}

fn page(media: &str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(media).expect("a media type"),
    );
    for (name, value) in [
        ("content-security-policy", POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // The files change only with the binary; asking again is cheap.
        ("cache-control", "no-cache"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The cookie that carries the token, named for the port: browsers share
/// cookies between ports of one host, and two servers on one machine must
/// not overwrite each other's.
pub fn cookie_name(port: u16) -> String {
    format!("techlead_{port}")
}

/// `POST /api/session`: the guard has checked the bearer token; the
/// answer keeps it in a cookie scripts cannot read (`HttpOnly`) and that
/// no other site's page can make the browser send (`SameSite=Strict`).
/// It lasts as long as the browser session.
pub async fn open(State(shared): State<Arc<Shared>>) -> Response {
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict",
        cookie_name(shared.guard.port()),
        shared.guard.token()
    );
    session(cookie)
}

/// `DELETE /api/session`: signs the browser out.
pub async fn close(State(shared): State<Arc<Shared>>) -> Response {
    let cookie = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        cookie_name(shared.guard.port())
    );
    session(cookie)
}

fn session(cookie: String) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a token is hex"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
