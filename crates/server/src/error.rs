//! The server's errors: [`Error`] when it cannot start, [`ApiError`] as
//! a request's answer (`{"error", "hint"}` with its status code).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server cannot start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the server stopped on an error")]
    Serve(#[source] std::io::Error),
    #[error("cannot use the token file {path}")]
    TokenIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the token file {path} can be read by other users (mode {mode:o})")]
    TokenExposed { path: PathBuf, mode: u32 },
    #[error("the token file {path} does not hold a token")]
    TokenInvalid { path: PathBuf },
    #[error(transparent)]
    Store(#[from] techlead_store::Error),
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Bind { .. } => Some(
                "another program uses that address: pass --bind 127.0.0.1:PORT with another port"
                    .to_string(),
            ),
            Error::TokenIo { .. } | Error::Serve(_) => None,
            Error::TokenExposed { path, .. } => Some(format!(
                "anyone who read it can use the server: delete {} for a new token, or `chmod 600` it",
                path.display()
            )),
            Error::TokenInvalid { path } => Some(format!(
                "delete {} and a new token is made at the next start",
                path.display()
            )),
            Error::Store(e) => e.hint().map(str::to_string),
        }
    }
}

/// A request's failure, as JSON.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.into(),
            hint: Some(hint.into()),
        }
    }

    pub fn bad_request(error: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error, hint)
    }

    pub fn not_found(error: impl Into<String>, hint: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, error, hint)
    }

    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: error.to_string(),
            hint: None,
        }
    }
}

impl From<techlead_store::Error> for ApiError {
    fn from(e: techlead_store::Error) -> ApiError {
        let status = match e {
            techlead_store::Error::NoSuchMission(_) => StatusCode::NOT_FOUND,
            // The database server is down or out of reach, for now.
            techlead_store::Error::Unreachable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            error: one_line(&e),
            hint: e.hint().map(str::to_string),
        }
    }
}

/// `error` and its causes, as `techlead` prints them on one line.
pub fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.error, "hint": self.hint });
        (self.status, Json(body)).into_response()
    }
}
