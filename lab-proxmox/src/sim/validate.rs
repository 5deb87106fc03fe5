//! The adapter between the simulator and [`crate::schema`]: every request
//! is checked against `pve-apidoc.json` before a handler runs, exactly
//! where pveproxy's `rest_handler` checks it (after authentication, before
//! the handler), so unknown paths answer 501 and bad parameters 400 with an
//! `errors` map (proxmox-api.md §16 item 1).

use std::sync::Arc;

use super::rest::ApiError;
pub use crate::schema::PveSchema;
use crate::schema::Violation;

/// Loads the default schema, or `None` with a warning when the file is
/// missing or broken (the simulator then accepts any parameter).
pub(crate) fn load_default() -> Option<Arc<PveSchema>> {
    match PveSchema::load_default() {
        Ok(schema) => Some(Arc::new(schema)),
        Err(e) => {
            tracing::warn!("pve-sim: request validation disabled: {e}");
            None
        }
    }
}

/// Checks one request; `path` is relative to `/api2/json`.
pub(crate) fn check(
    schema: &PveSchema,
    method: &str,
    path: &str,
    params: &[(String, String)],
) -> Result<(), ApiError> {
    match schema.validate(method, path, params) {
        Ok(()) => Ok(()),
        Err(Violation::NotImplemented { message }) => Err(ApiError::NotImplemented(message)),
        Err(Violation::Params { errors }) => Err(ApiError::Param(errors)),
    }
}
