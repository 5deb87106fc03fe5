//! The state lock: a session-level advisory lock.
//!
//! `pg_try_advisory_lock(key)` on the store's own session, `key` derived
//! from the lab's name, taken without waiting and held for the run. The
//! server releases a session's advisory locks when the session ends, so a
//! run that is killed (its socket closed by the kernel) or cut off never
//! leaves a stale lock: the next run takes it. Who holds it (OS user, host,
//! pid, operation, since, the session's backend pid) is written into
//! `lab_lock_holder` when it is taken; a refused run reads that row to
//! name the holder. The row of a holder that died stays until the next
//! holder overwrites it; it is only ever read while the lock is held by
//! someone, so it names the live holder.
//!
//! Advisory locks are re-entrant within a session, so a second `lock` in
//! the same process (the same store) is refused here, before asking the
//! server, as the file store's second `flock` is.

use sha2::{Digest, Sha256};

use super::worker::{Link, Worker};
use crate::state::{StateError, StateLock};
use std::sync::Arc;

/// The advisory lock key of lab `lab`: the first 8 bytes of a SHA-256.
pub(super) fn lock_key(lab: &str) -> i64 {
    let digest = Sha256::digest(format!("lab state lock\0{lab}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Held by a [`StateLock`]: gives the advisory lock back when dropped.
struct AdvisoryLock {
    worker: Arc<Worker>,
    lab: String,
}

impl Drop for AdvisoryLock {
    fn drop(&mut self) {
        let lab = self.lab.clone();
        let _ = self.worker.call(move |link| {
            release(link, &lab);
            Ok(())
        });
    }
}

/// Takes lab `lab`'s lock for `operation`, or names who holds it.
pub(super) fn take(
    worker: &Arc<Worker>,
    lab: &str,
    operation: &str,
) -> Result<StateLock, StateError> {
    let key = lock_key(lab);
    let lab_name = lab.to_string();
    let (lab, operation) = (lab.to_string(), operation.to_string());
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = crate::state::file::hostname();
    let pid = std::process::id() as i32;
    worker.call(move |link| {
        if let Some((_, holder)) = &link.locked {
            return Err(StateError::Locked {
                holder: holder.clone(),
            });
        }
        let got = link.run("taking the state lock", async |c| {
            let row = c
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            if !row.get::<_, bool>(0) {
                let holder = c
                    .query_opt(
                        "SELECT who, host, pid, operation, \
                         to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), backend_pid \
                         FROM lab_lock_holder WHERE lab = $1",
                        &[&lab],
                    )
                    .await?;
                return Ok(Err(holder.map(|r| {
                    format!(
                        "pid {} on host {} as user {} ({}, since {} UTC; PostgreSQL session {})",
                        r.get::<_, i32>(2),
                        r.get::<_, String>(1),
                        r.get::<_, String>(0),
                        r.get::<_, String>(3),
                        r.get::<_, String>(4),
                        r.get::<_, i32>(5),
                    )
                })));
            }
            let row = c
                .query_one(
                    "INSERT INTO lab_lock_holder (lab, who, host, pid, operation, since, backend_pid) \
                     VALUES ($1, $2, $3, $4, $5, now(), pg_backend_pid()) \
                     ON CONFLICT (lab) DO UPDATE SET who = $2, host = $3, pid = $4, operation = $5, \
                     since = now(), backend_pid = pg_backend_pid() \
                     RETURNING to_char(since AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), backend_pid",
                    &[&lab, &who, &host, &pid, &operation],
                )
                .await?;
            Ok(Ok(format!(
                "pid {pid} on host {host} as user {who} ({operation}, since {} UTC; PostgreSQL \
                 session {})",
                row.get::<_, String>(0),
                row.get::<_, i32>(1)
            )))
        })?;
        match got {
            Ok(holder) => {
                link.locked = Some((key, holder));
                Ok(())
            }
            Err(holder) => Err(StateError::Locked {
                holder: format!(
                    "{}; the lock is released when that session ends",
                    holder.unwrap_or_else(|| "another session (it has not written its details)".into())
                ),
            }),
        }
    })?;
    Ok(StateLock::new(AdvisoryLock {
        worker: worker.clone(),
        lab: lab_name,
    }))
}

/// Gives the lock back (on a lost connection it went with the session).
fn release(link: &mut Link, lab: &str) {
    let Some((key, _)) = link.locked.take() else {
        return;
    };
    if !link.is_open() {
        link.disconnect();
        return;
    }
    // The lock is given back before the connection is used again: run
    // refuses to reconnect while `locked` is set, and it is not anymore.
    let released = link.run("releasing the state lock", async |c| {
        c.execute(
            "DELETE FROM lab_lock_holder WHERE lab = $1 AND backend_pid = pg_backend_pid()",
            &[&lab],
        )
        .await?;
        c.query_one("SELECT pg_advisory_unlock($1)", &[&key]).await
    });
    if released.is_err() {
        // Whatever happened, a closed session holds nothing.
        link.disconnect();
    }
}
