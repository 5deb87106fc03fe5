//! The state written as JSON straight from the [`State`], without building
//! a `serde_json::Value` tree first.
//!
//! [`State::to_json`] builds the tree (a dozen allocations per resource),
//! which the file store then printed: at 10,000 resources that tree cost
//! more than the printing and the write together, on every save of an
//! apply. [`StateDocument`] serialises the same document, field for field
//! and in the same order, into any writer; a test checks that the two
//! agree.

use std::cell::RefCell;
use std::collections::HashMap;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::Value as Json;

use super::{ResourceState, Sealer, State, StateError, STATE_VERSION};
use crate::value::Value;
use crate::{Address, Secret};

/// The callback that seals one secret into its JSON form.
type Seal<'a> = RefCell<&'a mut dyn FnMut(&Secret) -> Json>;

/// A [`State`] as the JSON document [`State::to_json`] makes, serialised
/// directly (see the module docs). `key_recipient`, when given, is written
/// right after `version`, where the file store records its key.
pub struct StateDocument<'a> {
    state: &'a State,
    key_recipient: Option<&'a str>,
    seal: Seal<'a>,
}

impl<'a> StateDocument<'a> {
    /// The document of `state`, handing each secret to `seal`.
    pub fn new(
        state: &'a State,
        key_recipient: Option<&'a str>,
        seal: &'a mut dyn FnMut(&Secret) -> Json,
    ) -> Self {
        StateDocument {
            state,
            key_recipient,
            seal: RefCell::new(seal),
        }
    }
}

impl Serialize for StateDocument<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.state;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("version", &STATE_VERSION)?;
        if let Some(r) = self.key_recipient {
            m.serialize_entry("key_recipient", r)?;
        }
        m.serialize_entry("lab", &st.lab)?;
        m.serialize_entry("lineage", &st.lineage)?;
        m.serialize_entry("serial", &st.serial)?;
        m.serialize_entry("resources", &Resources(&st.resources, &self.seal))?;
        m.serialize_entry("deposed", &Resources(&st.deposed, &self.seal))?;
        m.serialize_entry("timings", &st.timings)?;
        if !st.pending.is_empty() {
            m.serialize_entry("pending", &Pending(st))?;
        }
        m.end()
    }
}

/// The ciphertexts of the secrets one store sealed at its last save, by
/// the identity of the secret's allocation: the executor saves the state
/// many times in a run, and sealing every unchanged secret again each time
/// would make a save cost a seal per secret. Rebuilt on each save, so it
/// holds only secrets still in the state. Both stores write through it.
#[derive(Default)]
pub(crate) struct SealCache {
    sealed: HashMap<usize, (Secret, Json)>,
}

impl SealCache {
    /// Writes `state`'s document into `out` (pretty for a file people
    /// read, compact for a database), each secret sealed by `sealer` or
    /// taken from the last save; `key_recipient` recorded after `version`.
    /// A secret with no sealer is written as `null`: the caller passes one
    /// whenever [`State::has_secrets`].
    pub(crate) fn write(
        &mut self,
        state: &State,
        sealer: Option<&Sealer>,
        key_recipient: Option<&str>,
        pretty: bool,
        out: &mut dyn std::io::Write,
    ) -> Result<(), DocumentError> {
        let previous = std::mem::take(&mut self.sealed);
        let mut sealed: HashMap<usize, (Secret, Json)> = HashMap::new();
        let mut seal_error: Option<StateError> = None;
        let mut seal = |secret: &Secret| -> Json {
            if seal_error.is_some() {
                return Json::Null;
            }
            let id = secret.allocation_id();
            if let Some((kept, ciphertext)) = previous.get(&id).or_else(|| sealed.get(&id)) {
                if kept == secret {
                    let ciphertext = ciphertext.clone();
                    sealed.insert(id, (secret.clone(), ciphertext.clone()));
                    return ciphertext;
                }
            }
            match sealer.map(|s| s.try_seal(secret)) {
                Some(Ok(ciphertext)) => {
                    sealed.insert(id, (secret.clone(), ciphertext.clone()));
                    ciphertext
                }
                Some(Err(e)) => {
                    seal_error = Some(e);
                    Json::Null
                }
                None => Json::Null,
            }
        };
        let document = StateDocument::new(state, key_recipient, &mut seal);
        let written = if pretty {
            serde_json::to_writer_pretty(&mut *out, &document)
        } else {
            serde_json::to_writer(&mut *out, &document)
        };
        if let Some(e) = seal_error {
            return Err(DocumentError::Seal(e));
        }
        written.map_err(DocumentError::Write)?;
        self.sealed = sealed;
        Ok(())
    }
}

/// Why [`SealCache::write`] failed.
#[derive(Debug)]
pub(crate) enum DocumentError {
    /// A secret could not be sealed.
    Seal(StateError),
    /// The writer failed (or serde_json did).
    Write(serde_json::Error),
}

struct Resources<'a, 'b>(&'a indexmap::IndexMap<Address, ResourceState>, &'a Seal<'b>);

impl Serialize for Resources<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (address, r) in self.0 {
            m.serialize_entry(address, &Resource(r, self.1))?;
        }
        m.end()
    }
}

struct Resource<'a, 'b>(&'a ResourceState, &'a Seal<'b>);

impl Serialize for Resource<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(6))?;
        m.serialize_entry("id", &r.id)?;
        m.serialize_entry("attrs", &Attrs(&r.attrs, self.1))?;
        m.serialize_entry("outputs", &Attrs(&r.outputs, self.1))?;
        m.serialize_entry("deps", &r.deps)?;
        m.serialize_entry("create_before_destroy", &r.create_before_destroy)?;
        m.serialize_entry("provider", &r.provider)?;
        m.end()
    }
}

struct Attrs<'a, 'b>(&'a crate::value::Attrs, &'a Seal<'b>);

impl Serialize for Attrs<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in self.0.iter() {
            m.serialize_entry(k, &Sealed(v, self.1))?;
        }
        m.end()
    }
}

/// A [`Value`] as [`Value::to_json`] writes it.
struct Sealed<'a, 'b>(&'a Value, &'a Seal<'b>);

impl Serialize for Sealed<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            // `json!(f64)`: a non-finite number is `null`, as serde_json
            // writes it.
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(t) => s.serialize_str(t),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for v in l {
                    seq.serialize_element(&Sealed(v, self.1))?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(k, &Sealed(v, self.1))?;
                }
                m.end()
            }
            Value::Secret(secret) => {
                let sealed = (self.1.borrow_mut())(secret);
                sealed.serialize(s)
            }
            Value::Ref(r) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("$ref", &r.to_string())?;
                m.end()
            }
        }
    }
}

struct Pending<'a>(&'a State);

impl Serialize for Pending<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.pending.len()))?;
        for (address, p) in &self.0.pending {
            m.serialize_entry(
                address,
                &serde_json::json!({"provider": p.provider, "claim": p.claim, "reason": p.reason}),
            )?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PendingCreate;
    use crate::value::Attrs as AttrMap;

    fn sample() -> State {
        let mut st = State::new("home");
        st.serial = 7;
        let mut attrs = AttrMap::new();
        attrs.insert("n".into(), Value::Int(3));
        attrs.insert("f".into(), Value::Float(1.5));
        attrs.insert("nan".into(), Value::Float(f64::NAN));
        attrs.insert("s".into(), Value::Str("x\"y".into()));
        attrs.insert("pw".into(), Value::Secret(Secret::new("hunter2")));
        attrs.insert(
            "l".into(),
            Value::List(vec![Value::Null, Value::Bool(true), Value::Str("z".into())]),
        );
        let mut inner = indexmap::IndexMap::new();
        inner.insert("k".into(), Value::Secret(Secret::new("s2")));
        attrs.insert("m".into(), Value::Map(inner));
        let a = Address::new("test.thing", "a");
        st.resources.insert(
            a.clone(),
            ResourceState {
                id: "id-a".into(),
                attrs: attrs.clone(),
                outputs: attrs,
                deps: vec![Address::new("test.thing", "b")],
                create_before_destroy: true,
                provider: "test".into(),
            },
        );
        st.deposed
            .insert(a.clone(), st.resources.get(&a).unwrap().clone());
        st.timings.insert("test.thing/create".into(), 12);
        st.pending.insert(
            Address::new("test.thing", "c"),
            PendingCreate {
                provider: "test".into(),
                claim: Default::default(),
                reason: "timeout".into(),
            },
        );
        st
    }

    #[test]
    fn the_document_is_the_tree_to_json_builds() {
        let st = sample();
        let mut seal = |s: &Secret| serde_json::json!({"$secret": s.expose().len()});
        let tree = serde_json::to_string_pretty(&st.to_json(&mut seal)).unwrap();
        let mut seal = |s: &Secret| serde_json::json!({"$secret": s.expose().len()});
        let direct =
            serde_json::to_string_pretty(&StateDocument::new(&st, None, &mut seal)).unwrap();
        assert_eq!(direct, tree);
        assert!(!direct.contains("hunter2"));
    }

    #[test]
    fn the_key_recipient_follows_the_version() {
        let st = State::new("home");
        let mut seal = |_: &Secret| Json::Null;
        let text =
            serde_json::to_string(&StateDocument::new(&st, Some("age1xyz"), &mut seal)).unwrap();
        assert!(
            text.starts_with(r#"{"version":1,"key_recipient":"age1xyz","lab":"home""#),
            "{text}"
        );
    }
}
