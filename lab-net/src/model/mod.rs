//! The builders the user writes.

mod caddy;
pub use caddy::{Caddy, CaddyOutput};
