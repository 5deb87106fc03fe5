//! The adapter between the simulator and [`crate::schema`]: every request
//! is checked against `pve-apidoc.json` before a handler runs, exactly
//! where pveproxy's `rest_handler` checks it (after authentication, before
//! the handler), so unknown paths answer 501 and bad parameters 400 with an
//! `errors` map (proxmox-api.md §16 item 1).

//! There is no way to turn validation off: the schema is embedded in the
//! crate ([`PveSchema::embedded`]), so every build has it.

use super::rest::ApiError;
pub use crate::schema::PveSchema;
use crate::schema::Violation;

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
