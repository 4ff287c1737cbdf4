//! `--db postgres://...`: parsing the URL, naming it without its password,
//! connecting, and turning what goes wrong into errors that say what to do.

use crate::Error;
use postgres::Config;
use postgres::error::SqlState;
use std::time::Duration;

/// Whether `db` names a PostgreSQL database rather than a file.
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// How long a connection attempt waits when the URL does not say: long
/// enough for a server across a network, short enough that a firewalled
/// host is an error rather than a hang.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The parsed URL and how to show it.
#[derive(Clone)]
pub(super) struct Target {
    pub config: Config,
    /// The URL as given, password included: agents' `techlead mcp` reads
    /// the mission through it.
    pub url: String,
    /// The URL with its password replaced by `***`, for messages.
    pub shown: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, Error> {
        let shown = redact(url);
        if !is_postgres_url(url) {
            return Err(Error::BadUrl {
                url: shown,
                reason: "it must start with postgres:// or postgresql://".to_string(),
            });
        }
        let mut config: Config = url.parse().map_err(|e: postgres::Error| Error::BadUrl {
            url: shown.clone(),
            reason: e.source().map_or_else(|| e.to_string(), |s| s.to_string()),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("techlead");
        }
        Ok(Target {
            config,
            url: url.to_string(),
            shown,
        })
    }

    /// A new connection, or the error that says why there is none.
    pub fn connect(&self, config: &Config) -> Result<postgres::Client, Error> {
        config
            .connect(postgres::NoTls)
            .map_err(|error| self.connect_error(error))
    }

    fn connect_error(&self, error: postgres::Error) -> Error {
        let url = self.shown.clone();
        match error.code() {
            Some(code)
                if *code == SqlState::INVALID_PASSWORD
                    || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION =>
            {
                Error::LoginRefused {
                    url,
                    source: Box::new(error),
                }
            }
            Some(code) if *code == SqlState::INVALID_CATALOG_NAME => Error::NoDatabase {
                name: self
                    .config
                    .get_dbname()
                    .or(self.config.get_user())
                    .unwrap_or_default()
                    .to_string(),
                url,
            },
            Some(_) => Error::Database(Box::new(error)),
            // The server asked for a password the URL does not have.
            None if error.to_string().contains("configuration") => Error::LoginRefused {
                url,
                source: Box::new(error),
            },
            None => Error::Unreachable {
                url,
                source: Box::new(error),
            },
        }
    }

    /// The error for a failed statement: a lost connection is the
    /// server's absence, the rest is the database's.
    pub fn error(&self, error: postgres::Error) -> Error {
        if error.is_closed() || (error.code().is_none() && error.as_db_error().is_none()) {
            Error::Unreachable {
                url: self.shown.clone(),
                source: Box::new(error),
            }
        } else {
            Error::Database(Box::new(error))
        }
    }
}

use std::error::Error as _;

/// `url` with the password, if any, replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://ann:s3cr%40t@db.example:5432/techlead?sslmode=disable"),
            "postgres://ann:***@db.example:5432/techlead?sslmode=disable"
        );
        assert_eq!(
            redact("postgresql://ann@%2Frun%2Fpostgresql/tl"),
            "postgresql://ann@%2Frun%2Fpostgresql/tl"
        );
        assert_eq!(redact("postgres://host/db"), "postgres://host/db");
        assert_eq!(
            redact("postgres://a:b@c:d@host/db"),
            "postgres://a:***@host/db"
        );
    }

    #[test]
    fn a_url_that_cannot_be_parsed_says_why() {
        let Err(Error::BadUrl { url, reason }) = Target::parse("postgres://ann:pw@host:port/db")
        else {
            panic!("a bad port was taken");
        };
        assert_eq!(url, "postgres://ann:***@host:port/db");
        assert!(!reason.is_empty());
    }
}
