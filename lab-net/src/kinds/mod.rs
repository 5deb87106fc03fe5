//! The typed contract of lab-net's kinds: each kind's spec as a serde type,
//! one file per kind, and the kind-name constants.
