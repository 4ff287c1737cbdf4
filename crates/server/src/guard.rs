//! What every request must show before it is answered: a `Host` naming
//! this server (a loopback name or address, or the address it was bound
//! to, with its port: DNS rebinding), no `Origin` but the server's own
//! (cross-site requests from a page the person has open), and the bearer
//! token (everything but `GET /api/health` and the dashboard's page and
//! files, which hold no data; the record holds prompts and code), compared
//! in constant time. A browser shows the token in the dashboard's cookie
//! (`dashboard::open`); a request that changes something on the strength
//! of that cookie must also carry the page's own `Origin`.

use crate::Shared;
use crate::error::ApiError;
use crate::token::Token;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub struct Guard {
    addr: SocketAddr,
    token: Token,
}

impl Guard {
    pub fn new(addr: SocketAddr, token: Token) -> Guard {
        Guard { addr, token }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn token(&self) -> &str {
        self.token.as_str()
    }

    /// Whether `host` (a `Host` header or an origin's authority) names
    /// this server.
    fn is_own_host(&self, host: &str) -> bool {
        let Some((name, port)) = split_port(host) else {
            return false;
        };
        if port != self.addr.port() {
            return false;
        }
        let name = name.trim_start_matches('[').trim_end_matches(']');
        if name.eq_ignore_ascii_case("localhost") {
            return true;
        }
        match name.parse::<IpAddr>() {
            Ok(ip) => {
                ip.is_loopback() || (!self.addr.ip().is_unspecified() && ip == self.addr.ip())
            }
            Err(_) => false,
        }
    }

    fn check(&self, request: &Request) -> Result<(), ApiError> {
        let headers = request.headers();
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !self.is_own_host(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("the Host `{host}` is not this server"),
                format!(
                    "use http://127.0.0.1:{} or http://localhost:{}",
                    self.addr.port(),
                    self.addr.port()
                ),
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            let own = origin
                .strip_prefix("http://")
                .is_some_and(|authority| self.is_own_host(authority));
            if !own {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("requests from `{origin}` are not allowed"),
                    "only pages served by this server may call it; scripts send no Origin",
                ));
            }
        }
        let path = request.uri().path();
        let reads = matches!(*request.method(), Method::GET | Method::HEAD);
        if path == "/api/health" || (reads && (path == "/" || path.starts_with("/assets/"))) {
            return Ok(());
        }
        let bearer_token = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(bearer);
        let cookie_name = crate::dashboard::cookie_name(self.addr.port());
        let cookie_token = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .find_map(|h| cookie(h, &cookie_name));
        // A cookie rides along with any request the browser makes; that it
        // came from this server's page is what `Origin` says (browsers send
        // one with every request that is not a GET or HEAD).
        if bearer_token.is_none()
            && cookie_token.is_some()
            && !reads
            && !headers.contains_key(header::ORIGIN)
        {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "a change asked with the dashboard's cookie must come from its page",
                "send `Authorization: Bearer <token>` from scripts",
            ));
        }
        let given = bearer_token.or(cookie_token);
        let hint = "send `Authorization: Bearer <token>`; `techlead serve` prints the token and keeps it in server.token beside the database, and the dashboard's address with it";
        match given {
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "this request needs the server's token",
                hint,
            )),
            Some(given) if bool::from(given.as_bytes().ct_eq(self.token.as_str().as_bytes())) => {
                Ok(())
            }
            Some(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the token is not this server's",
                hint,
            )),
        }
    }
}

/// The credentials of an `Authorization: Bearer <token>` header (the
/// scheme's case does not matter, RFC 9110).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// `name:port` (with `[v6]:port`) into its two parts.
fn split_port(host: &str) -> Option<(&str, u16)> {
    let (name, port) = host.rsplit_once(':')?;
    if name.contains(':') && !name.ends_with(']') {
        return None;
    }
    Some((name, port.parse().ok()?))
}

pub async fn check(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    match shared.guard.check(&request) {
        Ok(()) => next.run(request).await,
        Err(e) => {
            let mut response = e.into_response();
            if response.status() == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(addr: &str) -> Guard {
        Guard::new(addr.parse().unwrap(), Token("0".repeat(64)))
    }

    #[test]
    fn bearer_credentials() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn cookies() {
        assert_eq!(
            cookie("a=1; techlead_7420=abc", "techlead_7420"),
            Some("abc")
        );
        assert_eq!(cookie("techlead_74200=abc", "techlead_7420"), None);
        assert_eq!(cookie("", "techlead_7420"), None);
    }

    #[test]
    fn hosts() {
        let g = guard("127.0.0.1:7420");
        for own in [
            "127.0.0.1:7420",
            "localhost:7420",
            "LOCALHOST:7420",
            "[::1]:7420",
            "127.0.0.2:7420",
        ] {
            assert!(g.is_own_host(own), "{own}");
        }
        for foreign in [
            "evil.example:7420",
            "127.0.0.1:80",
            "127.0.0.1",
            "localhost",
            "",
            "10.0.0.1:7420",
            "localhost.evil.example:7420",
            "::1:7420",
        ] {
            assert!(!g.is_own_host(foreign), "{foreign}");
        }
        let g = guard("192.168.1.5:7420");
        assert!(g.is_own_host("192.168.1.5:7420"));
        assert!(!guard("0.0.0.0:7420").is_own_host("192.168.1.5:7420"));
    }
}
