//! A connection to techlead's schema on a thread of its own (`Session`),
//! with the URL it came from: what the store and the work queue each hold.

use super::conn::Conn;
use super::session::Session;
use super::url::Target;
use super::{Failure, schema};
use crate::{Error, Result};

pub(super) struct Link {
    pub(super) session: Session,
    pub(super) target: Target,
}

impl Link {
    /// Connects to the database `url` names on a thread called `thread`,
    /// creating techlead's schema in it or bringing it up to date. A
    /// schema that is not techlead's, or is from a newer techlead, is
    /// refused and left untouched.
    pub(super) fn open(url: &str, thread: &str) -> Result<Link> {
        Link::connect(Target::parse(url)?, thread)
    }

    /// As [`Link::open`], with the URL already parsed (and its settings
    /// adjusted).
    pub(super) fn connect(target: Target, thread: &str) -> Result<Link> {
        let connect = target.clone();
        let session = Session::start(thread, move || {
            let mut conn = Conn::new(connect.connect(&connect.config)?);
            schema::prepare(&mut conn, &connect)?;
            Ok::<_, Error>(conn)
        })?;
        Ok(Link { session, target })
    }

    /// Runs `job` on the connection's thread.
    pub(super) fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> std::result::Result<T, Failure> + Send + 'static,
    ) -> Result<T> {
        self.session.call(job).map_err(|failure| match failure {
            Failure::Pg(error) => self.target.error(error),
            Failure::Store(error) => error,
        })
    }
}
