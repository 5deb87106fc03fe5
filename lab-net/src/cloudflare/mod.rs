//! Pure rules of Cloudflare's edge that lab-net, its checks and its
//! simulator share, so that they all refuse the same things in the same
//! words.
//!
//! [`ingress`] is cloudflared's ingress validation and request matching
//! (cloudflare/cloudflared `ingress/ingress.go` and `ingress/rule.go` at
//! `d1df7985`), written once here: the remote configuration API answers a
//! `PUT …/configurations` with cloudflared's message, lab-net's checks
//! refuse a tunnel config before it is sent, and the simulator refuses
//! what the API would.

pub(crate) mod go_regexp;
mod go_url;
pub mod ingress;

pub use ingress::{matching_rule, validate_ingress};
