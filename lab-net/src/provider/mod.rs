//! The `lab_core::Provider` implementations of lab-net's managed kinds.
