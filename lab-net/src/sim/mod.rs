//! Simulators of the services lab-net drives, on 127.0.0.1 only.

pub mod caddy;
pub use caddy::CaddySim;
pub mod cloudflare;
