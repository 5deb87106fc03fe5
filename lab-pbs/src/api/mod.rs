//! The PBS API client's pieces that differ from Proxmox VE's.
//!
//! PBS speaks PVE's conventions (JSON `data` envelopes, tasks, form
//! parameters), so the client will reuse lab-proxmox's transport (rustls
//! with fingerprint pinning, envelopes, forms) and keep here only what PBS
//! does its own way (notes §4 and §14):
//!
//! - [`token_header`]: `Authorization: PBSAPIToken=<id>:<secret>`, a `:`
//!   between the token id and the secret where PVE has `=`;
//! - [`Upid`]: PBS task ids carry one more field than PVE's (the task id
//!   inside the worker process) and an escaped worker id, so they get their
//!   own parser (lab-proxmox's refuses them on purpose).

mod upid;

pub use upid::{escape_worker_id, Upid, UpidError};

/// The `Authorization` header value for an API token:
/// `PBSAPIToken=<user>@<realm>!<token>:<secret>` (proxmox-auth-api splits
/// the value at the first `:`; PVE's `PVEAPIToken` uses `=`).
///
/// ```
/// assert_eq!(
///     lab_pbs::api::token_header("lab@pbs!lab", "s3cret"),
///     "PBSAPIToken=lab@pbs!lab:s3cret"
/// );
/// ```
pub fn token_header(token_id: &str, secret: &str) -> String {
    format!("PBSAPIToken={token_id}:{secret}")
}
