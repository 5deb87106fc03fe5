//! The typed contract of lab-net's kinds: each kind's spec as a serde type,
//! one file per kind, and the kind-name constants.

mod caddy;
pub use caddy::{CaddyOutputs, CaddyRoute, CaddySpec, CaddyTls, ISSUER_ACME, ISSUER_INTERNAL};

/// Kind of Caddy reverse proxies (one admin API each).
pub const CADDY: &str = "net.caddy";
