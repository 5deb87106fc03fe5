//! The network policy checks.
