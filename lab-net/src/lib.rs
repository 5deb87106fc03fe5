//! # lab-net: networks, the tunnel and the reverse proxy
//!
//! This crate will hold everything `lab` needs for the lab's network, in the
//! same rooms as every provider crate:
//!
//! - `model`: typed resources and their builders: VLANs by trust level and
//!   their zones, firewall rules, the Cloudflare Tunnel, DNS records and
//!   Access applications in front of public services, and the internal TLS
//!   reverse proxy (Caddy) routes;
//! - `api`: the HTTP clients for the Cloudflare API and Caddy's admin API;
//! - `provider`: the implementations of lab-core's `Provider` trait,
//!   stamping a Cloudflare comment (or equivalent) as ownership marker;
//! - `checks`: the network policy checks (for example, that no admin
//!   interface is public without Access in front of it);
//! - `sim` (feature `sim`): API-faithful simulators on 127.0.0.1.
