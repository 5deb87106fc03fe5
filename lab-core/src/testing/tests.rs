//! The memory provider's own behaviour.

use super::memory::*;
use super::thing::LATENCY_ATTR;
use super::world::*;
use super::*;

fn owner(name: &str) -> Ownership {
    Ownership {
        lab: "home".into(),
        lineage: "3f9c2a1b-aaaa".into(),
        address: Address::new(Thing::KIND, name),
    }
}

fn create_req(name: &str, attrs: &[(&str, Value)]) -> CreateRequest {
    CreateRequest {
        address: Address::new(Thing::KIND, name),
        attrs: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        owner: owner(name),
    }
}

fn read_req(id: &str) -> ReadRequest {
    ReadRequest {
        address: Address::new(Thing::KIND, "x"),
        id: id.into(),
        prior: Attrs::new(),
        prior_outputs: Attrs::new(),
        owner: owner("x"),
    }
}

#[tokio::test]
async fn bulk_read_counts_one_call() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            m.create(&ctx, &create_req(&format!("t{i}"), &[]))
                .await
                .unwrap()
                .id,
        );
    }
    let mut reqs: Vec<ReadRequest> = ids.iter().map(|id| read_req(id)).collect();
    reqs.push(read_req("mem-999"));
    let out = m.read(&ctx, &reqs).await.unwrap();
    assert_eq!(m.counts().reads, 1);
    assert_eq!(out.len(), 6);
    assert!(out[..5].iter().all(Option::is_some));
    assert!(out[5].is_none());
    assert_eq!(
        out[2].as_ref().unwrap().outputs["id"],
        Value::Str("mem-3".into())
    );
    assert_eq!(m.counts().creates, 5);
    assert_eq!(m.counts().mutating(), 5);
}

#[tokio::test]
async fn crash_at_performs_the_side_effect_and_notifies() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    m.create(&ctx, &create_req("first", &[])).await.unwrap();
    let crashed = m.crash_at(1);
    let req = create_req("second", &[("size", Value::Int(3))]);
    let call = m.create(&ctx, &req);
    tokio::select! {
        _ = call => panic!("a crashed call never returns"),
        _ = crashed.notified() => {}
    }
    let objs = m.find_by_name("second");
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].attrs["size"], Value::Int(3));
    let rec = m
        .calls()
        .into_iter()
        .find(|c| c.address.name() == "second")
        .unwrap();
    assert_eq!(rec.end, None, "the crashed call never returned");
    assert_eq!(m.max_concurrent_ops(), 1);
    // Fires once: the next call is normal.
    m.create(&ctx, &create_req("third", &[])).await.unwrap();
    assert_eq!(m.objects().len(), 3);
}

#[tokio::test]
async fn crash_during_delete_deletes() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    let id = m.create(&ctx, &create_req("a", &[])).await.unwrap().id;
    let crashed = m.crash_at(1);
    let req = DeleteRequest {
        address: Address::new(Thing::KIND, "a"),
        id,
        prior: Attrs::new(),
        owner: owner("a"),
    };
    tokio::select! {
        _ = m.delete(&ctx, &req) => panic!("a crashed call never returns"),
        _ = crashed.notified() => {}
    }
    assert!(m.objects().is_empty());
}

#[tokio::test]
async fn fail_at_transient_fails_once() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    m.create(&ctx, &create_req("a", &[])).await.unwrap();
    m.fail_at(2, Fault::Transient);
    m.create(&ctx, &create_req("b", &[])).await.unwrap(); // 1st from now
    let err = m.create(&ctx, &create_req("c", &[])).await.unwrap_err(); // 2nd
    assert!(err.is_transient());
    assert!(err.message.contains("test.thing.c"), "{}", err.message);
    assert!(m.find_by_name("c").is_empty(), "nothing was done");
    m.create(&ctx, &create_req("c", &[])).await.unwrap(); // the retry succeeds
    assert_eq!(m.find_by_name("c").len(), 1);
    assert_eq!(m.counts().creates, 4);
    let calls = m.calls();
    assert_eq!(calls.len(), 4);
    assert!(calls.iter().all(|c| c.end.is_some()));
    assert!(calls.windows(2).all(|w| w[1].start > w[0].end.unwrap()));
}

#[tokio::test]
async fn permanent_faults_and_clear() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    m.fail_at(1, Fault::Permanent);
    assert!(!m
        .create(&ctx, &create_req("a", &[]))
        .await
        .unwrap_err()
        .is_transient());
    m.fail_resource("bad", Fault::Permanent);
    for _ in 0..3 {
        assert!(!m
            .create(&ctx, &create_req("bad", &[]))
            .await
            .unwrap_err()
            .is_transient());
    }
    m.create(&ctx, &create_req("good", &[])).await.unwrap();
    m.fail_reads(Fault::Transient);
    assert!(m.read(&ctx, &[]).await.unwrap_err().is_transient());
    m.clear_faults();
    m.create(&ctx, &create_req("bad", &[])).await.unwrap();
    m.read(&ctx, &[]).await.unwrap();
}

#[tokio::test]
async fn adopt_finds_by_marker_and_tag() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    let created = m.create(&ctx, &create_req("db", &[])).await.unwrap();
    m.create(&ctx, &create_req("other", &[])).await.unwrap();
    let found = m.adopt(&ctx, &owner("db"), &Attrs::new()).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, created.id);
    assert!(m
        .adopt(&ctx, &owner("nope"), &Attrs::new())
        .await
        .unwrap()
        .is_empty());
    let mut other_lab = owner("db");
    other_lab.lineage = "ffffffff".into();
    assert!(
        m.adopt(&ctx, &other_lab, &Attrs::new())
            .await
            .unwrap()
            .is_empty(),
        "tag must match"
    );
    assert_eq!(m.counts().adopts, 3);
}

#[test]
fn limits_for_attrs_and_calls() {
    let m = MemoryProvider::new()
        .limit_calls(3)
        .limit_by_attr("template", 1, LimitScope::Operation)
        .limit_by_attr("node", 2, LimitScope::Call);
    let address = Address::new(Thing::KIND, "vm");
    let mut attrs = Attrs::new();
    attrs.insert("template".into(), Value::Str("debian-13".into()));
    attrs.insert("token".into(), Value::Secret(Secret::new("x")));
    let limits = m.limits(&OpInfo {
        address: &address,
        op: OpKind::Create,
        attrs: &attrs,
    });
    assert_eq!(
        limits,
        vec![
            Limit::calls("memory:calls", 3),
            Limit::operation("memory:template:debian-13", 1),
        ]
    );
    attrs.insert("node".into(), Value::Int(7));
    let limits = m.limits(&OpInfo {
        address: &address,
        op: OpKind::Delete,
        attrs: &attrs,
    });
    assert!(limits.contains(&Limit::calls("memory:node:7", 2)));
    let m2 = MemoryProvider::new().limit_by_attr("token", 1, LimitScope::Call);
    assert!(m2
        .limits(&OpInfo {
            address: &address,
            op: OpKind::Create,
            attrs: &attrs
        })
        .is_empty());
}

#[tokio::test]
async fn update_replaces_attrs_delete_is_idempotent_and_drift() {
    let m = MemoryProvider::new();
    let ctx = OpContext::detached();
    let c = m
        .create(
            &ctx,
            &create_req("a", &[("x", Value::Int(1)), ("y", Value::Int(2))]),
        )
        .await
        .unwrap();
    let mut attrs = Attrs::new();
    attrs.insert("x".into(), Value::Int(5));
    let upd = UpdateRequest {
        address: Address::new(Thing::KIND, "a"),
        id: c.id.clone(),
        prior: c.attrs.clone(),
        prior_outputs: c.outputs.clone(),
        attrs: attrs.clone(),
        changes: Vec::new(),
        owner: owner("a"),
    };
    assert_eq!(m.update(&ctx, &upd).await.unwrap().attrs, attrs);
    assert!(m.mutate_outside(&c.id, "x", 9));
    assert_eq!(m.object(&c.id).unwrap().attrs["x"], Value::Int(9));
    let del = DeleteRequest {
        address: upd.address.clone(),
        id: c.id.clone(),
        prior: attrs,
        owner: owner("x"),
    };
    m.delete(&ctx, &del).await.unwrap();
    m.delete(&ctx, &del).await.unwrap();
    assert!(m.update(&ctx, &upd).await.is_err());
    assert!(!m.delete_outside(&c.id));
    // Ids are never reused.
    assert_eq!(
        m.create(&ctx, &create_req("b", &[])).await.unwrap().id,
        "mem-2"
    );
}

#[tokio::test]
async fn unresolved_references_are_refused() {
    let m = MemoryProvider::new();
    let r = Value::Ref(crate::value::OutputRef {
        address: Address::new(Thing::KIND, "db"),
        output: "id".into(),
    });
    let err = m
        .create(&OpContext::detached(), &create_req("a", &[("db", r)]))
        .await
        .unwrap_err();
    assert!(err.message.contains("unresolved"));
    assert!(m.objects().is_empty());
}

#[tokio::test]
async fn latency_and_concurrency_tracking() {
    let m = MemoryProvider::new()
        .with_latency(Duration::from_millis(5), Duration::from_millis(30))
        .limit_by_attr("template", 1, LimitScope::Operation)
        .limit_calls(8);
    assert_eq!(
        m.schema(Thing::KIND).estimate.create,
        Duration::from_millis(35)
    );
    let ctx = OpContext::detached();
    let started = std::time::Instant::now();
    let a = create_req("a", &[("template", "t".into())]);
    let b = create_req("b", &[("template", "t".into())]);
    let c = create_req("c", &[(LATENCY_ATTR, Value::Int(80))]);
    let (ra, rb, rc) = tokio::join!(m.create(&ctx, &a), m.create(&ctx, &b), m.create(&ctx, &c));
    ra.unwrap();
    rb.unwrap();
    rc.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(85),
        "latency_ms overrides the wait: {took:?}"
    );
    assert!(took < Duration::from_secs(5));
    // The provider does not enforce limits (the engine does); it reports them.
    assert_eq!(m.max_concurrent("memory:template:t"), 2);
    assert_eq!(m.max_concurrent("memory:calls"), 3);
    assert_eq!(m.max_concurrent_ops(), 3);
    m.reset_counts();
    assert_eq!(m.counts(), CallCounts::default());
    assert_eq!(m.max_concurrent("memory:calls"), 0);
    let started = std::time::Instant::now();
    m.read(&ctx, &[read_req("mem-1"), read_req("mem-2")])
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(5),
        "one call per bulk read"
    );
    assert_eq!(m.counts().reads, 1);
}

#[tokio::test]
async fn persists_without_secrets_and_reloads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim").join("world.json");
    let m = MemoryProvider::new().persist_to(&path).unwrap();
    let ctx = OpContext::detached();
    let req = create_req(
        "db",
        &[
            ("size", Value::Int(20)),
            ("password", Value::Secret(Secret::new("hunter2"))),
        ],
    );
    let c = m.create(&ctx, &req).await.unwrap();
    assert_eq!(
        c.attrs["password"],
        Value::Secret(Secret::new("hunter2")),
        "kept in memory"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(!text.contains("2retnuh"));
    assert!(text.contains(SECRET_PLACEHOLDER));

    let again = MemoryProvider::new().persist_to(&path).unwrap();
    let objs = again.objects();
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0].attrs["size"], Value::Int(20));
    assert_eq!(
        objs[0].attrs["password"],
        Value::Secret(Secret::new(UNKNOWN_SECRET))
    );
    assert_eq!(objs[0].marker, "lab:home/test.thing.db");
    // Read back, the unknown secret is what the state recorded.
    let mut prior = Attrs::new();
    prior.insert("password".into(), Value::Secret(Secret::new("hunter2")));
    let read = again
        .read(
            &ctx,
            &[ReadRequest {
                address: objs[0].address.clone(),
                id: objs[0].id.clone(),
                prior,
                prior_outputs: Attrs::new(),
                owner: owner("db"),
            }],
        )
        .await
        .unwrap();
    assert_eq!(
        read[0].as_ref().unwrap().attrs["password"],
        Value::Secret(Secret::new("hunter2"))
    );
    assert!(!again
        .adopt(&ctx, &owner("db"), &Attrs::new())
        .await
        .unwrap()
        .is_empty());
    let next = again.create(&ctx, &create_req("b", &[])).await.unwrap();
    assert_eq!(next.id, "mem-2", "ids continue after a reload");

    std::fs::write(&path, "{\"not\": \"a world\"}").unwrap();
    assert!(MemoryProvider::new().persist_to(&path).is_err());
    assert!(MemoryProvider::new()
        .persist_to(dir.path().join("missing.json"))
        .is_ok());
}

#[test]
fn thing_builder_records_caller_lines() {
    let mut lab = crate::Lab::new("home");
    let a = lab.add(Thing::new("a"));
    let line = line!() + 1;
    let b = Thing::new("b").attr("k", 1).after(&a).latency_ms(5);
    let spec = b.into_spec();
    assert_eq!(spec.declared_at.line(), line);
    assert_eq!(spec.loc_of("k").line(), line);
    assert_eq!(spec.loc_of(LATENCY_ATTR).line(), line);
    assert_eq!(spec.deps[0].via, "after");
    assert_eq!(spec.deps[0].loc.line(), line);
    assert_eq!(Thing::of_kind("test.net", "lan").spec().kind(), "test.net");
}

#[test]
fn input_accepts_values_and_outputs() {
    let mut lab = crate::Lab::new("home");
    let db = lab.add(Thing::new("db"));
    let out = db.output::<String>("id");
    let spec = Thing::new("app")
        .input("a", &out)
        .input("b", out.clone())
        .input("c", "text")
        .input("d", 42)
        .input("e", Input::Value(true))
        .into_spec();
    assert_eq!(spec.deps.len(), 2);
    assert!(matches!(spec.attrs["a"], Value::Ref(_)));
    assert!(matches!(spec.attrs["b"], Value::Ref(_)));
    assert_eq!(spec.attrs["c"], Value::Str("text".into()));
    assert_eq!(spec.attrs["d"], Value::Int(42));
    assert_eq!(spec.attrs["e"], Value::Bool(true));
}

#[test]
fn provider_is_send_sync_and_clone_shares_the_world() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MemoryProvider>();
    let m = MemoryProvider::new();
    let shared = m.shared();
    assert_eq!(shared.name(), "memory");
    assert_eq!(shared.kinds(), vec![Thing::KIND]);
    assert_eq!(shared.schema(Thing::KIND).force_new, vec!["image"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        shared
            .create(&OpContext::detached(), &create_req("x", &[]))
            .await
            .unwrap();
    });
    assert_eq!(m.objects().len(), 1);
}
