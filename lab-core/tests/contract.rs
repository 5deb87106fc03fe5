//! The lab-core 2 contract: typed kinds over the dynamic provider trait,
//! several instances of one provider, moves, error classes and request rates.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::runtime;
use indexmap::IndexMap;
use lab_core::kind::{
    Create, Delete, Found, Kind, KindProvider, Read, Typed, TypedProvider, Update,
};
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::{KindSchema, ReadRequest};
use lab_core::testing::{Fault, MemoryProvider, Thing};
use lab_core::{
    ApplyOptions, MemoryStateStore, OpContext, Ownership, ProviderError, RateLimit, ResourceSpec,
    RetryPolicy, StateStore,
};

fn fast() -> ApplyOptions {
    ApplyOptions {
        parallelism: 4,
        retry: RetryPolicy::fast(),
    }
}

// ---------------------------------------------------------------------------
// A typed provider: `demo.bucket`, whose spec has a secret, an optional
// field, a nested list and an input from another bucket's output.
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Bucket {
    region: String,
    size_gb: u32,
    versioned: Option<bool>,
    key: Option<Secret>,
    #[serde(default)]
    rules: Vec<Rule>,
    replica_of: Option<String>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    prefix: String,
    days: u32,
}

#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
struct BucketOutputs {
    arn: String,
}

impl Kind for Bucket {
    const KIND: &'static str = "demo.bucket";
    type Outputs = BucketOutputs;
}

/// A builder, as a provider crate writes one.
struct BucketBuilder(ResourceSpec);

impl BucketBuilder {
    #[track_caller]
    fn new(name: &str, region: &str, size_gb: i64) -> Self {
        let mut spec = ResourceSpec::new(Bucket::KIND, name);
        spec.set("region", region);
        spec.set("size_gb", size_gb);
        BucketBuilder(spec)
    }

    #[track_caller]
    fn attr(mut self, field: &str, value: impl Into<Value>) -> Self {
        self.0.set(field, value);
        self
    }

    #[track_caller]
    fn replica_of(mut self, other: &Handle<BucketBuilder>) -> Self {
        self.0
            .set_input::<String>("replica_of", other.output::<String>("arn"));
        self
    }
}

impl Resource for BucketBuilder {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }
    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}

#[derive(Default)]
struct Cloud {
    buckets: Mutex<IndexMap<String, (Bucket, String)>>,
    snapshots: AtomicUsize,
    keys_seen: Mutex<Vec<String>>,
}

#[async_trait]
impl TypedProvider for Cloud {
    type Snapshot = IndexMap<String, (Bucket, String)>;

    fn name(&self) -> &str {
        "cloud"
    }

    async fn snapshot(
        &self,
        _ctx: &OpContext,
        _requests: &[ReadRequest],
    ) -> Result<Self::Snapshot, ProviderError> {
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        Ok(self.buckets.lock().unwrap().clone())
    }
}

#[async_trait]
impl KindProvider<Bucket> for Cloud {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["region"],
            ..Default::default()
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &Self::Snapshot,
        requests: &[Read<Bucket>],
    ) -> Result<Vec<Option<Found<Bucket>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                snapshot.get(&r.id).map(|(spec, _)| Found {
                    id: r.id.clone(),
                    spec: spec.clone(),
                    outputs: r.prior_outputs.clone(),
                })
            })
            .collect())
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<Bucket>,
    ) -> Result<Found<Bucket>, ProviderError> {
        if let Some(k) = &req.spec.key {
            self.keys_seen.lock().unwrap().push(k.expose().to_string());
        }
        let id = format!("{}-{}", req.spec.region, req.address.name());
        self.buckets
            .lock()
            .unwrap()
            .insert(id.clone(), (req.spec.clone(), req.owner.marker()));
        Ok(Found {
            outputs: BucketOutputs {
                arn: format!("arn:cloud:{id}"),
            },
            id,
            spec: req.spec,
        })
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<Bucket>,
    ) -> Result<Found<Bucket>, ProviderError> {
        assert!(req.changed("size_gb"));
        assert_ne!(req.prior.size_gb, req.spec.size_gb);
        self.buckets
            .lock()
            .unwrap()
            .insert(req.id.clone(), (req.spec.clone(), req.owner.marker()));
        Ok(Found {
            id: req.id,
            spec: req.spec,
            outputs: req.prior_outputs,
        })
    }

    async fn delete(&self, _ctx: &OpContext, req: Delete<Bucket>) -> Result<(), ProviderError> {
        self.buckets.lock().unwrap().shift_remove(&req.id);
        Ok(())
    }

    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        _desired: Option<&Bucket>,
    ) -> Result<Vec<Found<Bucket>>, ProviderError> {
        Ok(self
            .buckets
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, marker))| *marker == owner.marker())
            .map(|(id, (spec, _))| Found {
                id: id.clone(),
                spec: spec.clone(),
                outputs: BucketOutputs {
                    arn: format!("arn:cloud:{id}"),
                },
            })
            .collect())
    }
}

fn cloud_lab(cloud: &Arc<Cloud>) -> Lab {
    let mut lab = Lab::new("t");
    lab.register_provider(Typed::from_arc(cloud.clone()).kind::<Bucket>().shared());
    lab
}

#[test]
fn a_typed_kind_applies_and_plans_clean_with_one_snapshot_per_refresh() {
    runtime().block_on(async {
        let cloud = Arc::new(Cloud::default());
        let mut lab = cloud_lab(&cloud);
        let logs = lab.add(
            BucketBuilder::new("logs", "eu", 10)
                .attr("key", Secret::new("k3y"))
                .attr(
                    "rules",
                    vec![Value::Map(
                        [
                            ("prefix".to_string(), Value::from("tmp/")),
                            ("days".to_string(), Value::from(7)),
                        ]
                        .into_iter()
                        .collect(),
                    )],
                ),
        );
        lab.add(BucketBuilder::new("copy", "us", 10).replica_of(&logs));
        assert!(lab.check().is_empty(), "{:?}", lab.check());
        let store = MemoryStateStore::new();
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (2, 0, 0));
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        // The secret reached the provider as a `Secret`, and the state keeps it sealed.
        assert_eq!(*cloud.keys_seen.lock().unwrap(), vec!["k3y".to_string()]);
        let state = store.load().unwrap().unwrap();
        let logs_state = &state.resources[&lab_core::Address::new("demo.bucket", "logs")];
        assert!(matches!(logs_state.attrs["key"], Value::Secret(_)));
        assert_eq!(logs_state.provider, "cloud");
        // The replica got the output of the first bucket.
        let copy = cloud.buckets.lock().unwrap()["us-copy"].0.clone();
        assert_eq!(copy.replica_of.as_deref(), Some("arn:cloud:eu-logs"));
        // Absent optional fields stay absent (no `versioned: null`).
        assert!(!logs_state.attrs.contains_key("versioned"));

        let before = cloud.snapshots.load(Ordering::SeqCst);
        let again = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        assert_eq!(cloud.snapshots.load(Ordering::SeqCst), before + 1);
    });
}

#[test]
fn an_update_gets_the_prior_and_desired_specs() {
    runtime().block_on(async {
        let cloud = Arc::new(Cloud::default());
        let store = MemoryStateStore::new();
        for size in [10, 20] {
            let mut lab = cloud_lab(&cloud);
            lab.add(BucketBuilder::new("logs", "eu", size));
            let engine = Engine::new(lab, store.clone());
            let plan = engine.plan(&PlanOptions::default()).await.unwrap();
            let report = engine.apply(&plan, &fast()).await.unwrap();
            assert!(report.is_success(), "{report:?}");
        }
        assert_eq!(cloud.buckets.lock().unwrap()["eu-logs"].0.size_gb, 20);
    });
}

#[test]
fn attributes_that_do_not_fit_the_spec_are_a_check_error_at_the_users_line() {
    let cloud = Arc::new(Cloud::default());
    let mut lab = cloud_lab(&cloud);
    let line = line!() + 1;
    lab.add(BucketBuilder::new("a", "eu", 1).attr("size_gb", "ten"));
    lab.add(BucketBuilder::new("b", "eu", 1).attr("colour", "red"));
    lab.add(BucketBuilder::new("c", "eu", -1));
    let diags = lab.check();
    let codes: Vec<&str> = diags.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, vec!["core::spec-mismatch"; 3], "{diags:#?}");
    assert!(
        diags[0].message.contains("demo.bucket.a")
            && diags[0].message.contains("field `size_gb`")
            && diags[0].message.contains("\"ten\""),
        "{}",
        diags[0].message
    );
    assert_eq!(diags[0].file_line(), Some((file!(), line)));
    assert!(
        diags[1].message.contains("field `colour`: is not a field"),
        "{}",
        diags[1].message
    );
    assert!(
        diags[2].message.contains("non-negative"),
        "{}",
        diags[2].message
    );
}

#[test]
fn a_missing_required_field_names_it() {
    let cloud = Arc::new(Cloud::default());
    let mut lab = cloud_lab(&cloud);
    let mut spec = ResourceSpec::new(Bucket::KIND, "bare");
    spec.set("region", "eu");
    lab.add(BucketBuilder(spec));
    let diags = lab.check();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    assert!(
        diags[0]
            .message
            .contains("field `size_gb`: is required but missing"),
        "{}",
        diags[0].message
    );
}

// ---------------------------------------------------------------------------
// Several instances of one provider
// ---------------------------------------------------------------------------

#[test]
fn two_instances_of_one_provider_apply_and_plan_clean_each_with_its_own_resources() {
    runtime().block_on(async {
        let a = MemoryProvider::new();
        let b = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let build = |with_extra: bool| {
            let mut lab = Lab::new("t");
            let pa = lab.register_provider(a.shared());
            let pb = lab.register_provider_as("offsite", b.shared());
            let db = lab.add(Thing::new("db").provider(&pa));
            lab.add(
                Thing::new("copy")
                    .provider(&pb)
                    .input("from", db.output::<String>("id")),
            );
            if with_extra {
                lab.add(Thing::new("extra").provider(&pb));
            }
            lab
        };
        let engine = Engine::new(build(true), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let mut providers: Vec<(&str, &str)> = plan
            .steps
            .iter()
            .map(|s| (s.address.name(), s.provider.as_str()))
            .collect();
        providers.sort();
        assert_eq!(
            providers,
            vec![("copy", "offsite"), ("db", "memory"), ("extra", "offsite")]
        );
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        assert_eq!(a.objects().len(), 1);
        assert_eq!(b.objects().len(), 2);
        let state = store.load().unwrap().unwrap();
        let recorded = |name: &str| {
            state.resources[&lab_core::Address::new("test.thing", name)]
                .provider
                .clone()
        };
        assert_eq!(
            [recorded("db"), recorded("copy"), recorded("extra")],
            ["memory", "offsite", "offsite"]
        );

        // Both instances refreshed; nothing to do.
        let (ra, rb) = (a.counts().reads, b.counts().reads);
        let again = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again.steps);
        assert_eq!((a.counts().reads, b.counts().reads), (ra + 1, rb + 1));

        // Removed from the code: deleted through the instance recorded in the state.
        let engine = Engine::new(build(false), store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (0, 0, 1));
        assert_eq!(plan.steps[0].provider, "offsite");
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        assert_eq!((a.objects().len(), b.objects().len()), (1, 1));
    });
}

#[test]
fn two_instances_under_one_name_are_an_error_at_both_lines() {
    let mut lab = Lab::new("t");
    let first = line!() + 1;
    lab.register_provider(MemoryProvider::new().shared());
    let second = line!() + 1;
    lab.register_provider(MemoryProvider::new().shared());
    lab.add(Thing::new("x"));
    let diags = lab.check();
    assert_eq!(diags.len(), 1, "{diags:#?}");
    let d = &diags[0];
    assert_eq!(d.code, "core::duplicate-provider");
    let lines: Vec<u32> = d.labels.iter().map(|l| l.loc.line()).collect();
    assert_eq!(lines, vec![second, first]);
    assert!(d.help.as_deref().unwrap().contains("register_provider_as"));
}

#[test]
fn an_unbound_resource_with_two_candidate_instances_is_an_error_at_its_line() {
    let mut lab = Lab::new("t");
    lab.register_provider(MemoryProvider::new().shared());
    let other = Lab::new("other").register_provider_as("elsewhere", MemoryProvider::new().shared());
    lab.register_provider_as("second", MemoryProvider::new().shared());
    let line = line!() + 1;
    lab.add(Thing::new("x"));
    lab.add(Thing::new("y").provider(&other));
    let diags = lab.check();
    assert_eq!(diags.len(), 2, "{diags:#?}");
    assert!(diags[0]
        .message
        .contains("2 provider instances (memory, second)"));
    assert_eq!(diags[0].file_line(), Some((file!(), line)));
    assert!(diags[1]
        .message
        .contains("`elsewhere`, which this lab does not have"));
}

#[test]
fn a_resource_cannot_silently_move_to_another_instance() {
    runtime().block_on(async {
        let a = MemoryProvider::new();
        let b = MemoryProvider::new();
        let store = MemoryStateStore::new();
        for bind_b in [false, true] {
            let mut lab = Lab::new("t");
            let pa = lab.register_provider(a.shared());
            let pb = lab.register_provider_as("b", b.shared());
            lab.add(Thing::new("x").provider(if bind_b { &pb } else { &pa }));
            let engine = Engine::new(lab, store.clone());
            match engine.plan(&PlanOptions::default()).await {
                Ok(plan) => assert!(engine.apply(&plan, &fast()).await.unwrap().is_success()),
                Err(e) => {
                    assert!(bind_b);
                    let msg = e.to_string();
                    assert!(
                        msg.contains("created through provider instance `memory`"),
                        "{msg}"
                    );
                }
            }
        }
        assert_eq!(b.objects().len(), 0);
    });
}

// ---------------------------------------------------------------------------
// Moves
// ---------------------------------------------------------------------------

#[test]
fn a_renamed_resource_plans_as_a_move_and_keeps_its_object() {
    runtime().block_on(async {
        let memory = MemoryProvider::new();
        let store = MemoryStateStore::new();
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        let old = lab.add(Thing::new("www").attr("port", 80));
        lab.add(Thing::new("dns").input("target", old.output::<String>("id")));
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(engine.apply(&plan, &fast()).await.unwrap().is_success());
        let id = memory.find_by_name("www")[0].id.clone();

        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        let web = lab.add(Thing::new("web").attr("port", 80));
        lab.add(Thing::new("dns").input("target", web.output::<String>("id")));
        lab.moved("test.thing.www", &web);
        assert!(lab.check().is_empty());
        let engine = Engine::new(lab, store.clone());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        assert_eq!(plan.counts(), (0, 0, 0), "{:#?}", plan.steps);
        assert_eq!(plan.moves.len(), 1);
        let text = lab_core::plan::render::render(&plan, false);
        assert!(
            text.contains("~> test.thing.www has moved to test.thing.web"),
            "{text}"
        );
        assert!(text.contains("Plan: 1 to move, 0 to add"), "{text}");
        // The saved plan keeps the move.
        let back =
            lab_core::Plan::from_json(&plan.to_redacted_json(), &mut |_| Err("no secrets".into()))
                .unwrap();
        assert_eq!(back.moves, plan.moves);

        let creates = memory.counts().creates;
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success());
        assert_eq!(report.moved.len(), 1);
        assert_eq!(memory.counts().creates, creates);
        let state = store.load().unwrap().unwrap();
        let web_state = &state.resources[&lab_core::Address::new("test.thing", "web")];
        assert_eq!(web_state.id, id);
        let dns = &state.resources[&lab_core::Address::new("test.thing", "dns")];
        assert!(dns.deps.iter().all(|d| d.name() != "www"), "{:?}", dns.deps);
        let again = engine.plan(&PlanOptions::default()).await.unwrap();
        assert!(!again.has_changes(), "{:#?}", again);
    });
}

#[test]
fn bad_moves_are_check_errors() {
    let mut lab = Lab::new("t");
    lab.register_provider(MemoryProvider::new().shared());
    let a = lab.add(Thing::new("a"));
    let b = lab.add(Thing::of_kind("test.other", "b"));
    lab.moved("test.thing.a", &a); // to itself
    lab.moved("test.thing.b", &b); // changes kind
    lab.moved("nonsense", &a);
    let messages: Vec<String> = lab
        .check()
        .into_iter()
        .filter(|d| d.code == "core::moved")
        .map(|d| d.message)
        .collect();
    assert_eq!(messages.len(), 3, "{messages:#?}");
    assert!(messages[0].contains("moved to itself"));
    assert!(messages[1].contains("keeps its kind"));
    assert!(messages[2].contains("not a resource address"));
}

// ---------------------------------------------------------------------------
// Error classes and rates
// ---------------------------------------------------------------------------

#[test]
fn rejected_credentials_stop_the_run_and_say_what_to_fix() {
    runtime().block_on(async {
        let memory = MemoryProvider::new();
        memory.fail_resource("a", Fault::Auth);
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        let a = lab.add(Thing::new("a"));
        lab.add(Thing::new("b").after(&a));
        let engine = Engine::new(lab, MemoryStateStore::new());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let opts = ApplyOptions {
            parallelism: 1,
            retry: RetryPolicy::fast(),
        };
        let report = engine.apply(&plan, &opts).await.unwrap();
        assert!(!report.is_success());
        assert_eq!(report.failed.len(), 1);
        assert_eq!(report.failed[0].attempts, 1, "auth errors are not retried");
        let why = report.stopped.expect("stopped");
        assert!(why.contains("rejected its credentials") && why.contains("set a valid one"));
        assert_eq!(memory.counts().creates, 1);
    });
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("tokio runtime")
}

#[test]
fn a_retry_waits_at_least_what_retry_after_asked() {
    paused_runtime().block_on(async {
        let memory = MemoryProvider::new();
        memory.fail_at(1, Fault::RateLimited(Duration::from_secs(30)));
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        lab.add(Thing::new("a"));
        let engine = Engine::new(lab, MemoryStateStore::new());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(report.done[0].attempts, 2);
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
    });
}

#[test]
fn a_declared_request_rate_spaces_the_calls() {
    paused_runtime().block_on(async {
        let memory =
            MemoryProvider::new().with_rate_limit(RateLimit::new(2, Duration::from_secs(10)));
        let mut lab = Lab::new("t");
        lab.register_provider(memory.shared());
        for n in 0..4 {
            lab.add(Thing::new(format!("t{n}")));
        }
        let engine = Engine::new(lab, MemoryStateStore::new());
        let plan = engine.plan(&PlanOptions::default()).await.unwrap();
        let t0 = tokio::time::Instant::now();
        let report = engine.apply(&plan, &fast()).await.unwrap();
        assert!(report.is_success());
        // A burst of 2, then one token every 5 s.
        let took = t0.elapsed();
        assert!(
            took >= Duration::from_secs(10) && took < Duration::from_secs(11),
            "{took:?}"
        );
    });
}
