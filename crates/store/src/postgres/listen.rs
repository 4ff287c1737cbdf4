//! Commits seen through `LISTEN`: every append that commits then notifies
//! [`CHANNEL`] with its mission's ID (`write::announce` says why after
//! the commit rather than in it), so a listener hears of it as soon as its
//! events can be read. Once a [`CHECK`] the listener also looks at the log
//! itself (the sum of the missions' last seqs): a connection that died
//! says so there rather than leaving the listener deaf, and a commit whose
//! notification never came (its writer died between the two, or is an
//! older techlead) is still noticed, a second late.

use super::conn::Conn;
use super::link::Link;
use super::url::Target;
use crate::Result;
use crate::changes::Changes;
use postgres::fallible_iterator::FallibleIterator;
use std::time::{Duration, Instant};

/// The channel every append notifies once it has committed, with its
/// mission's ID.
pub const CHANNEL: &str = "techlead_events";

/// How often the log is looked at without a notification.
pub const CHECK: Duration = Duration::from_secs(1);

/// How long what the listener sends may go unacknowledged over TCP before
/// the connection counts as lost, unless the URL says
/// (`tcp_user_timeout`): a server whose machine vanished sends no reset,
/// and the check would otherwise wait for TCP to give up (minutes).
const UNACKED: Duration = Duration::from_secs(20);

/// What the log looked like: the sum of the missions' last seqs (it grows
/// with every append) and their number.
type Mark = (i64, i64);

/// A PostgreSQL database's commits, told by the appends themselves.
pub struct Listener {
    link: Link,
    mark: Mark,
    checked: Instant,
}

impl Listener {
    /// Connects to the database `url` names and listens on [`CHANNEL`].
    pub fn open(url: &str) -> Result<Listener> {
        let mut target = Target::parse(url)?;
        if target.config.get_tcp_user_timeout().is_none() {
            target.config.tcp_user_timeout(UNACKED);
        }
        let link = Link::connect(target, "techlead-listen")?;
        let mark = link.call(|conn| {
            conn.client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            Ok(mark(conn)?)
        })?;
        Ok(Listener {
            link,
            mark,
            checked: Instant::now(),
        })
    }
}

impl Changes for Listener {
    fn wait(&mut self) -> Result<bool> {
        let due = self.checked + CHECK;
        let (notified, mark) = self.link.call(move |conn| {
            let notified = notified(conn, due)?;
            // A notification proves the connection alive; the log is
            // looked at anyway once a check is due.
            let mark = if notified && Instant::now() < due {
                None
            } else {
                Some(mark(conn)?)
            };
            Ok((notified, mark))
        })?;
        let Some(mark) = mark else {
            return Ok(notified);
        };
        let moved = mark != self.mark;
        self.mark = mark;
        self.checked = Instant::now();
        Ok(notified || moved)
    }
}

/// Whether a notification came before `until`; those that came with it
/// are taken too, so that a burst of commits is one wake.
fn notified(conn: &mut Conn, until: Instant) -> std::result::Result<bool, postgres::Error> {
    let mut notifications = conn.client.notifications();
    let within = until.saturating_duration_since(Instant::now());
    // `None` is also what a closed connection gives: the check says so.
    if notifications.timeout_iter(within).next()?.is_none() {
        return Ok(false);
    }
    while notifications.iter().next()?.is_some() {}
    Ok(true)
}

fn mark(conn: &mut Conn) -> std::result::Result<Mark, postgres::Error> {
    let row = &conn.query(
        "SELECT COALESCE(SUM(last_seq), 0)::BIGINT, COUNT(*) FROM missions",
        &[],
    )?[0];
    Ok((row.get(0), row.get(1)))
}
