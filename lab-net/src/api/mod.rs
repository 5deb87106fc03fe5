//! Clients of the network services lab-net drives.

pub mod caddy;
pub mod caddy_config;
pub mod cloudflare;
