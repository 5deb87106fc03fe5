//! Properties of the executor over random DAGs (proptest):
//! no operation starts before its dependencies finished; each runs exactly
//! once; destroy runs in reverse; apply then plan is empty.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{lab_from_dag, runtime, Dag};
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::OpKind;
use lab_core::testing::{CallRecord, MemoryProvider};
use lab_core::{ApplyOptions, MemoryStateStore, RetryPolicy};
use proptest::prelude::*;

fn dag_strategy() -> impl Strategy<Value = Dag> {
    (1usize..24).prop_flat_map(|n| {
        (0..n)
            .map(|i| proptest::collection::vec(0..i.max(1), 0..=i.min(3)))
            .collect::<Vec<_>>()
            .prop_map(|raw| {
                raw.into_iter()
                    .enumerate()
                    .map(|(i, mut deps)| {
                        deps.retain(|&d| d < i);
                        deps.sort();
                        deps.dedup();
                        deps
                    })
                    .collect()
            })
    })
}

fn by_name(calls: &[CallRecord], op: OpKind) -> HashMap<String, Vec<CallRecord>> {
    let mut m: HashMap<String, Vec<CallRecord>> = HashMap::new();
    for c in calls.iter().filter(|c| c.op == op) {
        m.entry(c.address.name().to_string())
            .or_default()
            .push(c.clone());
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn executor_respects_the_dag(dag in dag_strategy(), parallelism in 1usize..6, wait_ms in 0u64..3) {
        runtime().block_on(async {
            let provider = MemoryProvider::new().with_latency(Duration::ZERO, Duration::from_millis(wait_ms));
            let store = MemoryStateStore::new();
            let engine = Engine::new(lab_from_dag(&provider, &dag, "img", 1), store.clone());
            let opts = ApplyOptions { parallelism, retry: RetryPolicy::fast() };
            let plan = engine.plan(&PlanOptions::default()).await.unwrap();
            prop_assert_eq!(plan.counts(), (dag.len(), 0, 0));
            let report = engine.apply(&plan, &opts).await.unwrap();
            prop_assert!(report.is_success());

            // Each create ran exactly once, after every dependency's create ended.
            let creates = by_name(&provider.calls(), OpKind::Create);
            prop_assert_eq!(creates.len(), dag.len());
            for (i, deps) in dag.iter().enumerate() {
                let me = &creates[&format!("r{i}")];
                prop_assert_eq!(me.len(), 1);
                for d in deps {
                    let dep = &creates[&format!("r{d}")][0];
                    prop_assert!(dep.end.unwrap() < me[0].start, "r{} started before r{} ended", i, d);
                }
            }
            prop_assert_eq!(provider.objects().len(), dag.len());

            // Apply then plan is empty.
            let again = engine.plan(&PlanOptions::default()).await.unwrap();
            prop_assert!(!again.has_changes());

            // Destroy: every dependent's delete ends before its dependency's starts.
            let destroy = engine.plan_destroy().await.unwrap();
            let report = engine.apply(&destroy, &opts).await.unwrap();
            prop_assert!(report.is_success());
            prop_assert!(provider.objects().is_empty());
            let deletes = by_name(&provider.calls(), OpKind::Delete);
            prop_assert_eq!(deletes.len(), dag.len());
            for (i, deps) in dag.iter().enumerate() {
                let me = &deletes[&format!("r{i}")];
                prop_assert_eq!(me.len(), 1);
                for d in deps {
                    let dep = &deletes[&format!("r{d}")][0];
                    prop_assert!(me[0].end.unwrap() < dep.start, "r{} deleted before its dependent r{}", d, i);
                }
            }
            Ok(())
        })?;
    }
}
