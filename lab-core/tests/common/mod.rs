//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use lab_core::prelude::*;
use lab_core::testing::{MemoryProvider, Thing};

/// A DAG as `deps[i]` = the indices (all < i) node i depends on.
pub type Dag = Vec<Vec<usize>>;

/// Builds a lab of `Thing`s `r0..rN` following `dag`. Every third resource
/// carries a secret; every resource an `image` (forces replacement) and a
/// `size` (updates in place).
pub fn lab_from_dag(provider: &MemoryProvider, dag: &Dag, image: &str, size: i64) -> Lab {
    lab_from_dag_with(provider, dag, |_| image, size)
}

/// [`lab_from_dag`] with the image of resource `i` given by `image(i)`.
pub fn lab_from_dag_with<'a>(
    provider: &MemoryProvider,
    dag: &Dag,
    image: impl Fn(usize) -> &'a str,
    size: i64,
) -> Lab {
    let mut lab = Lab::new("dag");
    lab.register_provider(provider.shared());
    let mut handles: Vec<Handle<Thing>> = Vec::new();
    for (i, deps) in dag.iter().enumerate() {
        let mut t = Thing::new(format!("r{i}"))
            .attr("image", image(i))
            .attr("size", size);
        if i % 3 == 0 {
            t = t.secret("password", format!("pw-{i}"));
        }
        for &d in deps {
            t = t.after(&handles[d]);
        }
        handles.push(lab.add(t));
    }
    lab
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
