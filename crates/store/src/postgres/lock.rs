//! The one-writer-per-mission lock: `pg_try_advisory_lock(LOCK_CLASS,
//! lock_id)` on a session of its own, so that the server releases it when
//! the holder's connection ends, however it ends (kill -9 included: the
//! socket closes and the server ends the session). A standby coordinator
//! waiting with `pg_advisory_lock` on the same key takes over then. The
//! session's `application_name` says who holds it, for the error the next
//! taker gets.

use super::conn::Conn;
use super::schema::LOCK_CLASS;
use super::session::Session;
use super::url::Target;
use crate::{Error, MissionLock, Result, holder};
use std::time::{Duration, Instant};

/// The session holding one mission's lock; dropping it unlocks and closes.
struct Held {
    session: Session,
    key: i32,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Unlocked before the connection closes, so that the lock is free
        // when the guard's drop returns (the server ends a closed session
        // a moment later).
        let key = self.key;
        self.session.call(move |conn| {
            let _ = conn
                .client
                .execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &key]);
        });
    }
}

/// Takes the lock of the mission whose `lock_id` is `key`, or says who
/// holds it.
pub(super) fn acquire(target: &Target, mission: &str, key: i32) -> Result<MissionLock> {
    let me = holder::me();
    let mut config = target.config.clone();
    config.application_name(&me);
    let connect = target.clone();
    let session = Session::start("techlead-lock", move || {
        connect.connect(&config).map(Conn::new)
    })?;
    let deadline = Instant::now() + holder::DEAD_HOLDER_WAIT;
    loop {
        let taken = session.call(move |conn| try_lock(conn, key));
        let holder = match taken.map_err(|e| target.error(e))? {
            None => {
                return Ok(MissionLock {
                    _release: Box::new(Held { session, key }),
                });
            }
            Some(holder) => holder,
        };
        if holder::is_dead(&holder) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(25));
            continue;
        }
        return Err(Error::Locked {
            mission: mission.to_string(),
            holder,
        });
    }
}

/// `None` when the lock is ours now, else who holds it.
fn try_lock(conn: &mut Conn, key: i32) -> std::result::Result<Option<String>, postgres::Error> {
    loop {
        let taken: bool = conn
            .client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &key])?
            .get(0);
        if taken {
            return Ok(None);
        }
        // Another role's session may hide its name; its server PID is
        // still something to look for.
        let holder = conn.client.query_opt(
            "SELECT concat_ws(' since ',
                    COALESCE(NULLIF(a.application_name, ''), 'server process ' || l.pid),
                    to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
               AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid::bigint = $1 AND l.objid::bigint = $2",
            &[&i64::from(LOCK_CLASS), &i64::from(key)],
        )?;
        // None: released between the two statements; try again.
        if let Some(row) = holder {
            return Ok(Some(row.get(0)));
        }
    }
}
