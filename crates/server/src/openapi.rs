//! The OpenAPI 3.1 document of the endpoints, written by hand
//! (`openapi.json` in this crate) and served as it is. `docs/openapi.json`
//! is the same file, for readers and code generators;
//! `tests/openapi.rs` fails when the two differ or when a route is
//! missing from the document.

use axum::http::header;
use axum::response::IntoResponse;

/// The document, as served at `GET /api/openapi.json`.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
