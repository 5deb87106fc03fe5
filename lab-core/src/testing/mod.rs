//! Test helpers: an in-memory provider ([`MemoryProvider`]) and a generic
//! resource it applies ([`Thing`]).
//!
//! They exist for lab-core's own tests and benches, and for yours: a
//! topology can be planned and applied end to end in `cargo test`, with
//! simulated latency, contention limits, injected failures and crashes, and
//! then inspected (which objects exist, how many calls were made, in which
//! order, how many ran at once).
//!
//! # Example
//!
//! Build a lab of [`Thing`]s and drive the provider directly, the way the
//! engine does:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use lab_core::prelude::*;
//! use lab_core::provider::{CreateRequest, OpContext, Ownership, Provider, ReadRequest};
//! use lab_core::testing::{Fault, MemoryProvider, Thing};
//!
//! let memory = MemoryProvider::new();
//! let mut lab = Lab::new("home");
//! lab.register_provider(memory.shared()); // shares the simulated world with `memory`
//! let db = lab.add(Thing::new("db").attr("size_gb", 20).secret("password", "hunter2"));
//! let app = lab.add(Thing::new("app").input("db_id", &db.output::<String>("id")));
//! assert!(lab.check().iter().all(|d| !d.is_blocking()));
//! assert_eq!(lab.resource(app.address()).unwrap().deps[0].on, *db.address());
//!
//! // Create `db` as the engine would.
//! let spec = lab.resource(db.address()).unwrap();
//! let owner = Ownership {
//!     lab: "home".into(),
//!     lineage: "3f9c2a1b-0000".into(),
//!     address: spec.address.clone(),
//! };
//! let ctx = OpContext::detached();
//! let req = CreateRequest { address: spec.address.clone(), attrs: spec.attrs.clone(), owner: owner.clone() };
//! let created = memory.create(&ctx, &req).await?;
//! assert_eq!(created.id, "mem-1");
//! assert_eq!(created.outputs["id"], Value::Str("mem-1".into()));
//!
//! // Refresh reads everything in one call, and adoption finds the object by its marker.
//! let read = memory
//!     .read(&ctx, &[ReadRequest { address: spec.address.clone(), id: created.id.clone(), prior: Default::default(), prior_outputs: Default::default(), owner: owner.clone() }])
//!     .await?;
//! assert_eq!(read[0].as_ref().unwrap().attrs["size_gb"], Value::Int(20));
//! assert_eq!(memory.adopt(&ctx, &owner, &Default::default()).await?[0].id, "mem-1");
//! assert_eq!(memory.counts().creates, 1);
//! assert_eq!(memory.find_by_name("db").len(), 1);
//!
//! // Inject a failure: the next mutating call fails once, transiently.
//! memory.fail_at(1, Fault::Transient);
//! assert!(memory.create(&ctx, &req).await.unwrap_err().is_transient());
//! # Ok::<(), lab_core::ProviderError>(())
//! # }).unwrap();
//! ```
//!
//! With the [`crate::Engine`], a whole plan and apply runs against it:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use lab_core::prelude::*;
//! use lab_core::provider::LimitScope;
//! use lab_core::testing::{MemoryProvider, Thing};
//! use lab_core::MemoryStateStore;
//!
//! let memory = MemoryProvider::new()
//!     .with_latency(Duration::from_millis(1), Duration::from_millis(20))
//!     .limit_calls(2)
//!     .limit_by_attr("template", 1, LimitScope::Operation);
//! let mut lab = Lab::new("home");
//! lab.register_provider(memory.shared());
//! for i in 0..3 {
//!     lab.add(Thing::new(format!("vm{i}")).attr("template", "debian-13"));
//! }
//! let engine = Engine::new(lab, MemoryStateStore::new());
//! let plan = engine.plan(&Default::default()).await.unwrap();
//! let report = engine.apply(&plan, &Default::default()).await.unwrap();
//! assert!(report.is_success());
//! assert_eq!(memory.objects().len(), 3);
//! assert_eq!(memory.max_concurrent("memory:template:debian-13"), 1); // one clone per template
//! assert!(memory.max_concurrent("memory:calls") <= 2);
//! assert!(!engine.plan(&Default::default()).await.unwrap().has_changes());
//! # });
//! ```

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use tokio::sync::Notify;

use crate::model::{Input, Output, Resource, ResourceSpec};
use crate::provider::{
    CreateRequest, DeleteRequest, Estimates, KindSchema, Limit, LimitScope, Observed, OpContext,
    OpInfo, OpKind, Ownership, PlanCheck, Provider, ProviderError, RateLimit, ReadRequest,
    StepReview, UpdateRequest,
};
use crate::value::{attrs_from_json, attrs_to_json, Attrs, Value};
use crate::Diagnostic;
use crate::{Address, Secret};

mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(test)]
mod tests;
mod thing;
mod world;

pub use memory::MemoryProvider;
pub use thing::{Thing, ThingInput};
pub use world::{CallCounts, CallRecord, Fault, MemoryObject};
