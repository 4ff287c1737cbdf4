//! `GET /api/missions/{id}/tasks/{task}/attempts/{n}/log?offset=B`: an
//! attempt's output from byte `B`, at most [`CHUNK`] bytes at a time, so
//! that a page follows a growing log by asking again from where the last
//! answer ended (`X-Log-Next`) until the attempt has ended and every byte
//! was read (`X-Log-Complete: true`), as `techlead logs -f` does.
//!
//! The log's path comes from the record (the attempt's `dir`, relative to
//! the data directory), never from the request; still, a path that would
//! leave the data directory (`..`, an absolute path, a symbolic link
//! pointing out) is refused, so a tampered record cannot make the server
//! read other files.

use crate::Shared;
use crate::api::find_task;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, PathBuf};
use std::sync::Arc;

/// The most one answer carries.
const CHUNK: u64 = 256 * 1024;

struct Part {
    bytes: Vec<u8>,
    offset: u64,
    size: u64,
    ended: bool,
}

pub async fn log(
    State(shared): State<Arc<Shared>>,
    Path((id, task, attempt)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let wanted: u32 = attempt.parse().map_err(|_| {
        ApiError::bad_request(
            format!("`{attempt}` is not an attempt number"),
            "attempts are numbered from 1",
        )
    })?;
    let offset: u64 = match query.get("offset") {
        None => 0,
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request(
                format!("`offset` must be a whole number, not `{v}`"),
                "pass the X-Log-Next of the last answer, or 0",
            )
        })?,
    };
    let data_dir = shared.data_dir.clone();
    let part = shared
        .db
        .read_folded(id, move |_, row, folded| {
            let state = folded.state;
            let t = find_task(&state, &row.id, &task)?;
            let attempts = &state.tasks[t].attempts;
            let Some(attempt) = attempts.iter().find(|a| a.number == wanted) else {
                return Err(ApiError::not_found(
                    format!("task `{task}` has no attempt {wanted}"),
                    format!("it has {} attempt(s)", attempts.len()),
                ));
            };
            let ended = attempt.outcome.is_some();
            let path = log_path(&data_dir, &attempt.dir)?;
            read_part(path, offset, ended)
        })
        .await?;
    let next = part.offset + part.bytes.len() as u64;
    let complete = part.ended && next >= part.size;
    let mut response = (StatusCode::OK, part.bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for (name, value) in [
        ("x-log-offset", part.offset.to_string()),
        ("x-log-next", next.to_string()),
        ("x-log-size", part.size.to_string()),
        ("x-log-complete", complete.to_string()),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("digits"));
    }
    Ok(response)
}

/// The attempt's log under `data_dir`: `<dir>.output.log`, or
/// `<dir>/output.log` as an older techlead kept it. `Ok(None)` while it
/// does not exist (an attempt gets its log at its first byte of output).
fn log_path(data_dir: &std::path::Path, dir: &str) -> Result<Option<PathBuf>, ApiError> {
    let refused = || {
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the attempt's files `{dir}` are outside the data directory"),
            "the record names a path the server does not read",
        )
    };
    let relative = std::path::Path::new(dir);
    if dir.is_empty()
        || !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(refused());
    }
    let stem = data_dir.join(relative);
    let path = if stem.is_dir() {
        stem.join("output.log")
    } else {
        let mut name = stem.into_os_string();
        name.push(".output.log");
        PathBuf::from(name)
    };
    let real = match path.canonicalize() {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ApiError::internal(format!("{}: {e}", path.display()))),
    };
    let root = data_dir
        .canonicalize()
        .map_err(|e| ApiError::internal(format!("{}: {e}", data_dir.display())))?;
    if !real.starts_with(&root) {
        return Err(refused());
    }
    Ok(Some(real))
}

fn read_part(path: Option<PathBuf>, offset: u64, ended: bool) -> Result<Part, ApiError> {
    let Some(path) = path else {
        return past_end(offset, 0).map(|()| Part {
            bytes: Vec::new(),
            offset,
            size: 0,
            ended,
        });
    };
    let io = |e: std::io::Error| ApiError::internal(format!("{}: {e}", path.display()));
    let mut file = std::fs::File::open(&path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    past_end(offset, size)?;
    file.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(CHUNK).read_to_end(&mut bytes).map_err(io)?;
    // The log may have grown since its size was read; the size said is at
    // least what was sent.
    let size = size.max(offset + bytes.len() as u64);
    Ok(Part {
        bytes,
        offset,
        size,
        ended,
    })
}

/// A log only grows, so an offset past its end was never handed out.
fn past_end(offset: u64, size: u64) -> Result<(), ApiError> {
    if offset > size {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("offset {offset} is past the log's end ({size} bytes)"),
            "start from 0, or from the X-Log-Next of the last answer",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_leave_the_data_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for escaping in ["../x", "/etc/passwd", "a/../../x", "", "./a/../.."] {
            let refused = log_path(dir.path(), escaping).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{escaping}");
        }
        assert_eq!(log_path(dir.path(), "attempts/a-1").unwrap(), None);
    }

    #[test]
    fn symbolic_links_out_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("secret"),
            dir.path().join("a-1.output.log"),
        )
        .unwrap();
        let refused = log_path(dir.path(), "a-1").unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
}
