//! A create that fails after claiming an identity: the state keeps it
//! pending, the next plan asks the provider to recover exactly that object
//! (here: remove the half-made one), and the retry reuses the identity.
//! A retry within the same run reuses it too.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use lab_core::plan::PlanOptions;
use lab_core::prelude::*;
use lab_core::provider::{
    Claim, CreateRequest, DeleteRequest, Observed, OpContext, Ownership, ReadRequest, RecoverCause,
    RecoverRequest, Recovered, UpdateRequest,
};
use lab_core::testing::Thing;
use lab_core::{
    Address, ApplyOptions, Attrs, MemoryStateStore, Provider, ProviderError, StateStore,
};

/// Objects by id: (attrs, marker or "" when half made).
#[derive(Default)]
struct Claimer {
    objects: Mutex<BTreeMap<String, (Attrs, String)>>,
    next: Mutex<u32>,
    fail_next_create: Mutex<bool>,
    /// The next create claims, half makes its object, then fails with a
    /// transient error (a connection cut after the service started).
    cut_next_create: Mutex<bool>,
    reserved_seen: Mutex<Vec<String>>,
}

fn observed(id: &str, attrs: &Attrs) -> Observed {
    Observed {
        id: id.to_string(),
        attrs: attrs.clone(),
        outputs: Attrs::new(),
    }
}

#[async_trait]
impl Provider for Claimer {
    fn name(&self) -> &str {
        "claimer"
    }
    fn kinds(&self) -> Vec<&'static str> {
        vec!["test.thing"]
    }
    async fn read(
        &self,
        _ctx: &OpContext,
        reqs: &[ReadRequest],
    ) -> Result<Vec<Option<Observed>>, ProviderError> {
        let objects = self.objects.lock().unwrap();
        Ok(reqs
            .iter()
            .map(|r| objects.get(&r.id).map(|(a, _)| observed(&r.id, a)))
            .collect())
    }
    async fn create(
        &self,
        ctx: &OpContext,
        req: &CreateRequest,
    ) -> Result<Observed, ProviderError> {
        let id = match ctx.reserved().and_then(|c| c.text("id")) {
            Some(id) => {
                self.reserved_seen.lock().unwrap().push(id.to_string());
                id.to_string()
            }
            None => {
                let mut next = self.next.lock().unwrap();
                *next += 1;
                next.to_string()
            }
        };
        ctx.claim(Claim::new().with("id", id.as_str()))?;
        let mut objects = self.objects.lock().unwrap();
        if std::mem::take(&mut *self.cut_next_create.lock().unwrap()) {
            objects.insert(id, (req.attrs.clone(), String::new()));
            return Err(ProviderError::transient("the connection was cut"));
        }
        if std::mem::take(&mut *self.fail_next_create.lock().unwrap()) {
            // Half made: the object exists, without its marker.
            objects.insert(id, (req.attrs.clone(), String::new()));
            return Err(ProviderError::permanent("the service failed half way"));
        }
        objects.insert(id.clone(), (req.attrs.clone(), req.owner.marker()));
        Ok(observed(&id, &req.attrs))
    }
    async fn update(
        &self,
        _ctx: &OpContext,
        req: &UpdateRequest,
    ) -> Result<Observed, ProviderError> {
        Ok(observed(&req.id, &req.attrs))
    }
    async fn delete(&self, _ctx: &OpContext, req: &DeleteRequest) -> Result<(), ProviderError> {
        self.objects.lock().unwrap().remove(&req.id);
        Ok(())
    }
    async fn adopt(
        &self,
        _ctx: &OpContext,
        owner: &Ownership,
        _desired: &Attrs,
    ) -> Result<Vec<Observed>, ProviderError> {
        Ok(self
            .objects
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, (_, m))| *m == owner.marker())
            .map(|(id, (a, _))| observed(id, a))
            .collect())
    }
    async fn recover(
        &self,
        ctx: &OpContext,
        req: &RecoverRequest,
    ) -> Result<Recovered, ProviderError> {
        let Some(id) = req.claim.text("id") else {
            return Ok(Recovered::found(
                self.adopt(ctx, &req.owner, &req.desired).await?,
            ));
        };
        assert_eq!(req.cause, RecoverCause::Failed);
        let mut objects = self.objects.lock().unwrap();
        match objects.get(id) {
            Some((a, m)) if *m == req.owner.marker() => Ok(Recovered::found(vec![observed(id, a)])),
            Some(_) => {
                objects.remove(id);
                Ok(Recovered {
                    keep: Some(req.claim.clone()),
                    ..Recovered::default()
                }
                .note(format!("removed the half-made object {id}")))
            }
            None => Ok(Recovered {
                keep: Some(req.claim.clone()),
                ..Recovered::default()
            }),
        }
    }
}

#[test]
fn a_failed_create_stays_pending_is_cleaned_and_retried_with_the_same_identity() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = std::sync::Arc::new(Claimer::default());
    *provider.fail_next_create.lock().unwrap() = true;
    let store = MemoryStateStore::new();
    let lab = || {
        let mut lab = Lab::new("home");
        lab.register_provider(provider.clone() as std::sync::Arc<dyn Provider>);
        lab.add(Thing::new("box").attr("size", 3));
        lab
    };
    rt.block_on(async {
        let e = Engine::new(lab(), store.clone());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert_eq!(report.failed.len(), 1);
        let state = store.load().unwrap().unwrap();
        let pending = &state.pending[&Address::new("test.thing", "box")];
        assert_eq!(pending.claim.text("id"), Some("1"));

        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let r = &plan.recovered[0];
        assert!(
            r.outcome.contains("removed the half-made object 1") && r.outcome.contains("id 1"),
            "{}",
            r.outcome
        );
        assert!(provider.objects.lock().unwrap().is_empty());
        let report = e.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
        assert_eq!(
            *provider.reserved_seen.lock().unwrap(),
            vec!["1".to_string()]
        );
        let objects: Vec<String> = provider.objects.lock().unwrap().keys().cloned().collect();
        assert_eq!(
            objects,
            vec!["1".to_string()],
            "one object, with the claimed id"
        );
        assert!(store.load().unwrap().unwrap().pending.is_empty());
        assert!(!e.plan(&PlanOptions::default()).await.unwrap().has_changes());
    });
}

#[test]
fn a_retry_in_the_same_run_reuses_the_identity_its_first_try_claimed() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = std::sync::Arc::new(Claimer::default());
    *provider.cut_next_create.lock().unwrap() = true;
    let store = MemoryStateStore::new();
    let mut lab = Lab::new("home");
    lab.register_provider(provider.clone() as std::sync::Arc<dyn Provider>);
    lab.add(Thing::new("box").attr("size", 3));
    rt.block_on(async {
        let e = Engine::new(lab, store.clone());
        let plan = e.plan(&PlanOptions::default()).await.unwrap();
        let report = e.apply(&plan, &ApplyOptions::default()).await.unwrap();
        assert!(report.is_success(), "{report:?}");
    });
    // The second try was given the first try's claim: no second object
    // beside the half-made one.
    assert_eq!(
        *provider.reserved_seen.lock().unwrap(),
        vec!["1".to_string()]
    );
    let objects: Vec<String> = provider.objects.lock().unwrap().keys().cloned().collect();
    assert_eq!(objects, vec!["1".to_string()]);
}
