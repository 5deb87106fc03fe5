//! The network policy checks.

pub mod caddy;
