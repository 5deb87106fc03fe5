//! The session's own thread: [`crate::state::StateStore`] is synchronous
//! and the executor calls it from inside its tokio runtime (as the file
//! store fsyncs there), so the PostgreSQL client cannot be driven by the
//! caller's runtime (`block_on` inside a runtime panics, and a
//! current-thread runtime would deadlock waiting on itself). It lives on a
//! dedicated thread with its own current-thread runtime; callers send it
//! jobs over a std channel and wait on a std channel for the answer.
//!
//! The thread holds one connection, the session that holds the advisory
//! lock ([`super::lock`]). A lost connection is reconnected on the next
//! call, unless the lock was held on it: then the lock went with it, and
//! every later call fails until the lock is given back, so a run that lost
//! its lock never writes again.

use std::sync::mpsc;
use std::sync::Mutex;

use tokio_postgres::{Client, NoTls};

use super::connect::{chain, PgSettings};
use super::schema;
use crate::state::StateError;

/// A job for the session's thread.
type Job = Box<dyn FnOnce(&mut Link) + Send>;

/// The handle on the session's thread; dropping it ends the thread and
/// closes the connection (releasing the lock if it is held).
pub(super) struct Worker {
    jobs: Mutex<mpsc::Sender<Job>>,
    location: String,
}

impl Worker {
    /// Starts the thread (it connects on the first job).
    pub(super) fn start(settings: PgSettings) -> Result<Worker, StateError> {
        let location = settings.describe().to_string();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                backend(
                    &location,
                    format!("cannot start its runtime: {e}"),
                    HELP_BUG,
                )
            })?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("lab-postgres".into())
            .spawn(move || {
                let mut link = Link {
                    rt,
                    settings,
                    client: None,
                    locked: None,
                    schema_ready: false,
                };
                while let Ok(job) = rx.recv() {
                    job(&mut link);
                }
            })
            .map_err(|e| backend(&location, format!("cannot start its thread: {e}"), HELP_BUG))?;
        Ok(Worker {
            jobs: Mutex::new(tx),
            location,
        })
    }

    /// Runs `f` on the session's thread and waits for its answer.
    pub(super) fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Link) -> Result<R, StateError> + Send + 'static,
    ) -> Result<R, StateError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |link| {
            let _ = tx.send(f(link));
        });
        let sent = self
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        let gone = || {
            backend(
                &self.location,
                "the thread that talks to PostgreSQL stopped".into(),
                HELP_BUG,
            )
        };
        sent.map_err(|_| gone())?;
        rx.recv().map_err(|_| gone())?
    }
}

const HELP_BUG: &str = "report this as a bug in lab";

/// A [`StateError::Backend`] at `location`.
pub(super) fn backend(location: &str, message: String, help: &str) -> StateError {
    StateError::Backend {
        location: location.to_string(),
        message,
        help: help.to_string(),
    }
}

/// The session, owned by its thread.
pub(super) struct Link {
    rt: tokio::runtime::Runtime,
    settings: PgSettings,
    client: Option<Client>,
    /// The advisory lock key this session holds, and who holds it (for a
    /// second `lock` in this process).
    pub(super) locked: Option<(i64, String)>,
    schema_ready: bool,
}

impl Link {
    /// Where, for messages.
    pub(super) fn location(&self) -> &str {
        self.settings.describe()
    }

    /// Runs `f` with the connected client (connecting first, and creating
    /// or migrating the tables on the first connection); `action` names
    /// what was being done in an error.
    pub(super) fn run<R>(
        &mut self,
        action: &str,
        f: impl AsyncFnOnce(&Client) -> Result<R, tokio_postgres::Error>,
    ) -> Result<R, StateError> {
        self.connected()?;
        let client = self.client.as_ref().expect("connected");
        let result = self.rt.block_on(f(client));
        result.map_err(|e| self.failed(action, &e))
    }

    /// [`Link::run`] inside a transaction: committed if `f` succeeds,
    /// rolled back otherwise (and by the server if the connection drops).
    pub(super) fn transaction<R>(
        &mut self,
        action: &str,
        f: impl AsyncFnOnce(&Client) -> Result<R, tokio_postgres::Error>,
    ) -> Result<R, StateError> {
        self.run(action, async |c| {
            c.batch_execute("BEGIN").await?;
            match f(c).await {
                Ok(r) => {
                    c.batch_execute("COMMIT").await?;
                    Ok(r)
                }
                Err(e) => {
                    if !c.is_closed() {
                        let _ = c.batch_execute("ROLLBACK").await;
                    }
                    Err(e)
                }
            }
        })
    }

    /// Forgets the connection (the next call makes a new one).
    pub(super) fn disconnect(&mut self) {
        self.client = None;
    }

    /// True if the connection is open.
    pub(super) fn is_open(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }

    fn connected(&mut self) -> Result<(), StateError> {
        if self.is_open() {
            return Ok(());
        }
        if self.locked.is_some() {
            return Err(backend(
                self.location(),
                "the connection to PostgreSQL was lost while this run held the state lock; the \
                 lock was released with that session, so this run writes nothing more"
                    .into(),
                "run the command again: the state holds everything saved before the connection \
                 was lost, and the next plan finds what was interrupted",
            ));
        }
        self.client = None;
        let settings = self.settings.clone();
        let tls = settings
            .tls()
            .map_err(|m| backend(self.location(), m, HELP_SETTINGS))?;
        let connected = self.rt.block_on(async {
            match tls {
                Some(tls) => {
                    let (client, conn) = settings.config().connect(tls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    Ok(client)
                }
                None => {
                    let (client, conn) = settings.config().connect(NoTls).await?;
                    tokio::spawn(async move {
                        let _ = conn.await;
                    });
                    Ok::<_, tokio_postgres::Error>(client)
                }
            }
        });
        let client = connected.map_err(|e| {
            backend(
                self.location(),
                format!("cannot connect: {}", chain(&e)),
                HELP_SETTINGS,
            )
        })?;
        if !self.schema_ready {
            match self.rt.block_on(schema::migrate(&client)) {
                Ok(None) => {}
                Ok(Some(found)) => {
                    return Err(backend(
                        self.location(),
                        format!(
                            "the database's lab tables have schema version {found}; this build \
                             knows up to {}",
                            schema::VERSION
                        ),
                        "use the lab build that created them (a newer one); nothing was changed",
                    ))
                }
                Err(e) => {
                    return Err(backend(
                        self.location(),
                        format!("cannot create the lab tables: {}", chain(&e)),
                        "the user needs the right to create tables in this database (or an \
                         administrator creates them once by running lab as the owner)",
                    ))
                }
            }
            self.schema_ready = true;
        }
        self.client = Some(client);
        Ok(())
    }

    fn failed(&mut self, action: &str, e: &tokio_postgres::Error) -> StateError {
        let lost = e.is_closed() || self.client.as_ref().is_some_and(Client::is_closed);
        if lost {
            self.client = None;
        }
        let help = if lost && self.locked.is_some() {
            "the connection was lost and the state lock with it: run the command again; what \
             was saved before stays, and a write that was cut was rolled back whole"
        } else if lost {
            "the connection was lost; a write that was cut was rolled back whole. Run the \
             command again"
        } else {
            "check the database server's log; nothing of this write was kept"
        };
        let message = if lost {
            format!("{action} failed: the connection was lost ({})", chain(e))
        } else {
            format!("{action} failed: {}", chain(e))
        };
        backend(self.location(), message, help)
    }
}

const HELP_SETTINGS: &str =
    "check LAB_STATE_POSTGRES (postgres://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=...): \
     the server must be reachable from here and accept this user and password";
