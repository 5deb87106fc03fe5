//! # lab-core: the engine
//!
//! The lab is a Rust value: a [`Lab`] of typed resources joined by handles.
//! This crate checks it ([`checks`]), plans it against what exists
//! ([`plan`]), applies the plan concurrently in dependency order
//! ([`apply`]) and records what was done ([`state`]). It knows no provider:
//! the provider crates declare typed resource kinds ([`kind`]: a serde spec
//! and outputs per kind, typed operations per kind) behind the dynamic
//! [`Provider`] trait, and a lab registers any number of provider instances
//! ([`Lab::register_provider_as`], bound with `.provider(&handle)`).
//!
//! Data flow: model -> graph -> checks -> refresh -> plan -> apply -> state.
//! Every step is a library call returning values and emitting typed
//! [`Event`]s; the [`cli`] is a thin layer over [`Engine`].
//!
//! ## The engine on its own: the quickstart
//!
//! `lab-core/examples/quickstart.rs` applies six generic
//! [`testing::Thing`]s and a NAS appliance through a simulated provider
//! ([`testing::MemoryProvider`], its world in `.lab/sim/memory.json`):
//! the engine without any real system, to see a plan, a concurrent apply,
//! drift and a destroy:
//!
//! ```sh
//! cargo run -p lab-core --example quickstart -- apply --auto-approve
//! cargo run -p lab-core --example quickstart -- plan      # No changes.
//! cargo run -p lab-core --example quickstart -- destroy --auto-approve
//! ```
//!
//! ```no_run
//! use lab_core::prelude::*;
//! use lab_core::testing::{MemoryProvider, Thing};
//!
//! let mut lab = Lab::new("quickstart");
//! lab.register_provider(MemoryProvider::new().shared());
//! let db = lab.add(Thing::new("db").attr("size_gb", 20));
//! lab.add(Thing::new("app").input("db_id", &db.output::<String>("id")));
//! lab_core::cli::run(lab);
//! ```

#![deny(missing_docs)]

pub mod address;
pub mod apply;
pub mod checks;
pub mod cli;
pub mod command;
pub mod derive;
pub mod diag;
mod engine;
pub mod events;
pub mod files;
pub mod fingerprint;
pub mod graph;
pub mod import;
pub mod kind;
pub mod model;
pub mod notes;
pub mod picture;
pub mod plan;
pub mod provider;
pub mod secret;
pub mod state;
pub mod testing;
pub mod value;

pub use address::Address;
pub use apply::{ApplyOptions, ApplyReport, RetryPolicy};
pub use checks::{Check, CheckRegistry, CheckSet};
pub use diag::{Diagnostic, Loc, Severity};
pub use engine::{Engine, EngineError};
pub use events::{Event, EventSink};
pub use model::{
    Appliance, ApplianceKind, Handle, Input, Lab, LabId, Lifecycle, Output, Problem, Resource,
    ResourceSpec,
};
pub use plan::{Action, Plan, PlanMove, PlanStep};
pub use provider::{
    ErrorClass, FieldChange, KindSchema, Limit, OpContext, Ownership, PlanCheck, Provider,
    ProviderError, ProviderHandle, RateLimit, StepReview,
};
pub use secret::Secret;
pub use state::{FileStateStore, MemoryStateStore, State, StateStore};
pub use value::{Attrs, Value};

/// The names a `main.rs` needs.
pub mod prelude {
    pub use crate::{
        Appliance, ApplianceKind, Diagnostic, Engine, Handle, Input, Lab, Output, ProviderHandle,
        Resource, Secret, Severity, Value,
    };
}
