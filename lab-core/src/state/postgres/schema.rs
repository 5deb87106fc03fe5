//! The tables, created or migrated on first use.
//!
//! `lab_schema` records which migrations ran; each migration runs once, in
//! one transaction, under a transaction-level advisory lock so two first
//! runs at once do not race. A database whose schema is newer than this
//! build knows is left alone (the caller refuses to use it).
//!
//! - `lab_state_versions`: one row per saved version (`lab`, `serial`,
//!   `lineage`, the document as `json`, which keeps the text as written
//!   (key order, the sealed secrets byte for byte), its resource count and
//!   `saved_at`); the last N per lab are kept.
//! - `lab_journal`: the write-ahead journal, one row per record, in `seq`
//!   order.
//! - `lab_lock_holder`: who holds the advisory lock of a lab (written when
//!   the lock is taken), read to name the holder to a run that is refused.

use tokio_postgres::Client;

/// The schema version this build creates and reads.
pub(super) const VERSION: i32 = 1;

/// The key of the transaction lock around migrations.
const MIGRATION_LOCK: i64 = 0x6c61_625f_7363_6865; // "lab_sche"

/// Migration `i + 1`.
const MIGRATIONS: &[&str] = &["
CREATE TABLE lab_state_versions (
    lab text NOT NULL,
    serial bigint NOT NULL,
    lineage text NOT NULL,
    document json NOT NULL,
    resources integer NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lab, serial)
);
CREATE TABLE lab_journal (
    lab text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    record json NOT NULL,
    PRIMARY KEY (lab, seq)
);
CREATE TABLE lab_lock_holder (
    lab text PRIMARY KEY,
    who text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    operation text NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    backend_pid integer NOT NULL
);
"];

/// Creates or migrates the tables. `Ok(Some(v))`: the database has schema
/// version `v`, newer than this build's; nothing was changed.
pub(super) async fn migrate(c: &Client) -> Result<Option<i32>, tokio_postgres::Error> {
    let quick = c
        .query_one(
            "SELECT to_regclass('lab_schema') IS NOT NULL AND \
             (SELECT max(version) FROM lab_schema) = $1",
            &[&VERSION],
        )
        .await;
    // The common case (tables there, current version) without a lock.
    if let Ok(row) = quick {
        if row.get::<_, Option<bool>>(0) == Some(true) {
            return Ok(None);
        }
    }
    c.batch_execute(&format!(
        "BEGIN; SELECT pg_advisory_xact_lock({MIGRATION_LOCK}); \
         CREATE TABLE IF NOT EXISTS lab_schema (version integer NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now());"
    ))
    .await?;
    let result = async {
        let found: Option<i32> = c
            .query_one("SELECT max(version) FROM lab_schema", &[])
            .await?
            .get(0);
        let found = found.unwrap_or(0);
        if found > VERSION {
            return Ok(Some(found));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            c.batch_execute(sql).await?;
            c.execute(
                "INSERT INTO lab_schema (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .await?;
        }
        Ok(None)
    }
    .await;
    match result {
        Ok(None) => {
            c.batch_execute("COMMIT").await?;
            Ok(None)
        }
        other => {
            let _ = c.batch_execute("ROLLBACK").await;
            other
        }
    }
}
