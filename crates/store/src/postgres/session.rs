//! A connection on a thread of its own. The `postgres` client drives
//! tokio-postgres on a runtime of its own, which panics when entered from
//! inside another tokio runtime (the engine's actor and the server call
//! the store from theirs); on its own thread it never is. Each call sends
//! a job and waits for its answer, so calls stay in order and synchronous.

use super::conn::Conn;
use std::sync::mpsc;
use std::thread::JoinHandle;

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

pub(super) struct Session {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Session {
    /// Runs `open` on a new thread and keeps what it returns there, or
    /// returns its error.
    pub fn start<E: Send + 'static>(
        name: &str,
        open: impl FnOnce() -> Result<Conn, E> + Send + 'static,
    ) -> Result<Session, E> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, answer) = mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let mut conn = match open() {
                    Ok(conn) => {
                        let _ = opened.send(Ok(()));
                        conn
                    }
                    Err(error) => {
                        let _ = opened.send(Err(error));
                        return;
                    }
                };
                for job in queue {
                    job(&mut conn);
                }
            })
            .expect("a thread for the PostgreSQL connection");
        answer
            .recv()
            .expect("the connection thread answers before it ends")?;
        Ok(Session {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs `job` on the connection and returns its answer.
    pub fn call<T: Send + 'static>(&self, job: impl FnOnce(&mut Conn) -> T + Send + 'static) -> T {
        let (answer, receive) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let _ = answer.send(job(conn));
        });
        self.jobs
            .as_ref()
            .expect("jobs are taken only on drop")
            .send(job)
            .expect("the connection thread lives as long as its session");
        receive
            .recv()
            .expect("the connection thread answers every job")
    }
}

impl Drop for Session {
    /// Closes the connection and waits until it is closed, so that what
    /// the session held on the server (a lock) is released on return.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
