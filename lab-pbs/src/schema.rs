//! # Requests checked against the official PBS API schema
//!
//! Proxmox Backup Server publishes its API in the same API-viewer format as
//! Proxmox VE (a tree of paths, each method with `parameters.properties`),
//! so the PBS client's conformance tests and the PBS simulator use
//! lab-proxmox's validator ([`lab_proxmox::schema`]) rather than a copy of
//! it: routing (a literal segment before a `{param}`), parameter names and
//! types, enums, ranges, lengths, required parameters, the 501/400 answers
//! and their texts.
//!
//! The dump (`lab-pbs/reference/pbs-apidoc.json`, PBS 4.x; origin, licence
//! and sha256 in `lab-pbs/reference/SOURCES.md`) is compiled in with
//! `include_str!` ([`PBS_APIDOC_JSON`]) and parsed once per process.
//!
//! Patterns: PBS writes them `/^...$/`, Rust regexes (proxmox-schema's
//! `ApiStringFormat::Pattern`); the validator runs them with the `regex`
//! crate, so a datastore name, a namespace or an auth id that PBS would
//! refuse is refused here too (`value does not match the regex pattern`).
//! Schedules are plain strings (`typetext: <calendar-event>`), so a
//! calendar event is checked by lab-pbs's own parser, not here.
//!
//! ```
//! let schema = lab_pbs::schema::embedded();
//! let route = schema.route("POST", "/config/sync").unwrap();
//! let params = [("id", "daily"), ("store", "backup"), ("remote-store", "main")]
//!     .map(|(k, v)| (k.to_string(), v.to_string()));
//! assert!(route.validate(&params).is_ok());
//! ```

use std::sync::{Arc, OnceLock};

pub use lab_proxmox::schema::{PveSchema as ApiSchema, Route, Violation};

/// The PBS 4.x API-viewer dump, as shipped in `lab-pbs/reference/`.
pub const PBS_APIDOC_JSON: &str = include_str!("../reference/pbs-apidoc.json");

/// The embedded PBS schema ([`PBS_APIDOC_JSON`]), compiled on first use and
/// then shared by every caller in the process.
pub fn embedded() -> Arc<ApiSchema> {
    static SCHEMA: OnceLock<Arc<ApiSchema>> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let json: serde_json::Value = serde_json::from_str(PBS_APIDOC_JSON)
                .expect("the embedded pbs-apidoc.json is JSON (tests/schema.rs)");
            Arc::new(
                ApiSchema::from_json(&json)
                    .expect("the embedded pbs-apidoc.json is an API viewer dump"),
            )
        })
        .clone()
}
