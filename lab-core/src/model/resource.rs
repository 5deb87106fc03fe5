//! What a resource is to the engine: a [`ResourceSpec`], and the
//! [`Resource`] trait that typed builders implement to produce one.

use std::panic::Location;

use indexmap::IndexMap;

use super::{Handle, LabId, Output};
use crate::checks::CheckSet;
use crate::command::CommandSet;
use crate::derive::Derivation;
use crate::diag::Loc;
use crate::notes::NoteSet;
use crate::picture::PictureSet;
use crate::provider::ProviderHandle;
use crate::value::{Attrs, OutputRef, Value};
use crate::Address;

/// A dependency edge: this resource needs `on` to exist first.
#[derive(Clone, Debug)]
pub struct Dependency {
    /// The resource depended on.
    pub on: Address,
    /// The lab the handle came from (checked against the resource's own lab).
    pub lab: LabId,
    /// The line that created the edge.
    pub loc: Loc,
    /// What made the edge: the field name, or `depends_on`.
    pub via: String,
}

/// How a resource is replaced and destroyed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Create the replacement before destroying the old object.
    pub create_before_destroy: bool,
    /// Refuse any plan that would destroy this resource.
    pub prevent_destroy: bool,
}

/// An explicit waiver of one named check for one resource.
#[derive(Clone, Debug)]
pub struct Waiver {
    /// The check's code, e.g. `pbs::single-failure-domain`.
    pub code: String,
    /// Why it is acceptable here; shown in `check` output.
    pub reason: String,
    /// Where the waiver was written.
    pub loc: Loc,
}

/// The engine's view of one resource: its address, attributes, edges and
/// where the user declared each part.
#[derive(Clone, Debug)]
pub struct ResourceSpec {
    /// `kind.name`.
    pub address: Address,
    /// The desired fields. References to outputs are `Value::Ref`.
    pub attrs: Attrs,
    /// Edges to the resources this one needs.
    pub deps: Vec<Dependency>,
    /// Where the builder was created (`Vm::new(..)`).
    pub declared_at: Loc,
    /// Where it was added to the lab (`lab.add(..)`).
    pub added_at: Loc,
    /// Where each field was last set.
    pub field_locs: IndexMap<String, Loc>,
    /// Replacement and destroy behaviour.
    pub lifecycle: Lifecycle,
    /// Checks waived for this resource.
    pub waivers: Vec<Waiver>,
    /// Bad values a builder met (a malformed size, an out-of-range tag),
    /// each at the user's line; reported by the `core::invalid-value` check,
    /// so they block plan and apply like any other error.
    pub problems: Vec<Problem>,
    /// False for model-only resources (an [`super::Appliance`]): they take
    /// part in checks and the graph but no provider applies them.
    pub managed: bool,
    /// The provider instance it is bound to (`.provider(&handle)`); `None`:
    /// the one instance that applies its kind.
    pub provider: Option<ProviderBinding>,
    /// The checks of the crate whose builder made it: `Lab::add` registers
    /// them, so they run whenever the crate's kinds are in the lab.
    pub check_set: Option<CheckSet>,
    /// The CLI commands of the crate whose builder made it (lab-pbs's
    /// `failures`): `Lab::add` registers them, as it does `check_set`.
    pub command_set: Option<CommandSet>,
    /// The pictures of the crate whose builder made it (lab-net's network
    /// view): `Lab::add` registers them, as it does `check_set`, for
    /// `graph --view NAME`.
    pub picture_set: Option<PictureSet>,
    /// The notes of the crate whose builder made it (lab-proxmox's guests,
    /// lab-net's network section): `Lab::add` registers them, as it does
    /// `check_set`, for `docs` and the short note `apply` writes.
    pub note_set: Option<NoteSet>,
    /// The derivation of the crate whose builder made it (lab-net's):
    /// `Lab::add` registers it, and `Lab::derive` runs it over the whole lab.
    pub derivation: Option<Derivation>,
    /// The derivation that added this resource (`None`: the user did).
    pub derived_by: Option<&'static str>,
    /// What other crates say about this resource, apart from its fields:
    /// lab-net records on a Proxmox guest the VLAN each NIC joins. Keyed by
    /// the crate's prefix (`net.nics`); never sent to the resource's
    /// provider, diffed or stored in the state. Their lines are in
    /// `field_locs` under the same keys.
    pub annotations: Attrs,
}

/// A resource's binding to a provider instance, from a [`ProviderHandle`].
#[derive(Clone, Debug)]
pub struct ProviderBinding {
    /// The instance's name.
    pub name: String,
    /// The lab the handle came from.
    pub lab: LabId,
    /// Where the binding was written.
    pub loc: Loc,
}

impl ResourceSpec {
    /// A new spec for resource `name` of `kind`, declared at the caller's line.
    #[track_caller]
    pub fn new(kind: &str, name: &str) -> Self {
        let here = Location::caller();
        ResourceSpec {
            address: Address::new(kind, name),
            attrs: Attrs::new(),
            deps: Vec::new(),
            declared_at: here,
            added_at: here,
            field_locs: IndexMap::new(),
            lifecycle: Lifecycle::default(),
            waivers: Vec::new(),
            problems: Vec::new(),
            managed: true,
            provider: None,
            check_set: None,
            command_set: None,
            picture_set: None,
            note_set: None,
            derivation: None,
            derived_by: None,
            annotations: Attrs::new(),
        }
    }

    /// Sets a field, remembering the caller's line for diagnostics.
    #[track_caller]
    pub fn set(&mut self, field: &str, value: impl Into<Value>) {
        self.attrs.insert(field.to_string(), value.into());
        self.field_locs
            .insert(field.to_string(), Location::caller());
    }

    /// Sets a field from an [`Input`]: a plain value, or another resource's
    /// output (which also records the dependency).
    #[track_caller]
    pub fn set_input<T: Into<Value>>(&mut self, field: &str, input: impl Into<Input<T>>) {
        match input.into() {
            Input::Value(v) => self.set(field, v),
            Input::Output(o) => {
                self.deps.push(Dependency {
                    on: o.address.clone(),
                    lab: o.lab,
                    loc: Location::caller(),
                    via: field.to_string(),
                });
                self.set(
                    field,
                    Value::Ref(OutputRef {
                        address: o.address.clone(),
                        output: o.name.to_string(),
                    }),
                );
            }
        }
    }

    /// Records that this resource needs `other` first; `via` names the
    /// field (or `depends_on`).
    #[track_caller]
    pub fn depend_on<R>(&mut self, other: &Handle<R>, via: &str) {
        self.deps.push(Dependency {
            on: other.address.clone(),
            lab: other.lab,
            loc: Location::caller(),
            via: via.to_string(),
        });
    }

    /// Sets a field to another resource's address and records the
    /// dependency: the usual way to point at a storage, a bridge, a pool.
    #[track_caller]
    pub fn set_ref<R>(&mut self, field: &str, other: &Handle<R>) {
        self.depend_on(other, field);
        self.set(field, other.address.to_string());
    }

    /// Records a bad value at the caller's line, e.g. a disk size that does
    /// not parse. The builder keeps going; `check` reports it.
    ///
    /// ```
    /// use lab_core::ResourceSpec;
    /// let mut spec = ResourceSpec::new("demo.disk", "data");
    /// spec.invalid("size", "`12Q` is not a size; write it like `32G` or `512M`", "use a number followed by M, G or T");
    /// assert_eq!(spec.problems.len(), 1);
    /// ```
    #[track_caller]
    pub fn invalid(&mut self, field: &str, message: impl Into<String>, help: impl Into<String>) {
        self.problems.push(Problem {
            field: field.to_string(),
            message: message.into(),
            help: help.into(),
            loc: Location::caller(),
        });
    }

    /// Where a field was set, or where the resource was declared.
    pub fn loc_of(&self, field: &str) -> Loc {
        self.field_locs
            .get(field)
            .copied()
            .unwrap_or(self.declared_at)
    }

    /// The kind part of the address.
    pub fn kind(&self) -> &str {
        self.address.kind()
    }

    /// The name part of the address.
    pub fn name(&self) -> &str {
        self.address.name()
    }
}

/// A bad value a builder met, at the user's line.
#[derive(Clone, Debug)]
pub struct Problem {
    /// The field.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub help: String,
    /// Where the value was given.
    pub loc: Loc,
}

/// An input that is either a value now or another resource's output later.
pub enum Input<T> {
    /// Known now.
    Value(T),
    /// Known after the producer is applied.
    Output(Output<T>),
}

impl<T> From<T> for Input<T> {
    fn from(v: T) -> Self {
        Input::Value(v)
    }
}

impl<T> From<Output<T>> for Input<T> {
    fn from(o: Output<T>) -> Self {
        Input::Output(o)
    }
}

impl<T> From<&Output<T>> for Input<T> {
    fn from(o: &Output<T>) -> Self {
        Input::Output(o.clone())
    }
}

/// A typed builder that lowers to a [`ResourceSpec`].
///
/// Provider crates implement `spec_mut` and `into_spec`; the provided
/// methods give every resource the same lifecycle and waiver options.
/// Every method is `#[track_caller]` so diagnostics point at the user's line.
pub trait Resource: Sized {
    /// The builder's spec, for the provided methods.
    fn spec_mut(&mut self) -> &mut ResourceSpec;

    /// The finished spec.
    fn into_spec(self) -> ResourceSpec;

    /// Orders this resource after `other` without passing any value.
    #[track_caller]
    fn depends_on<R>(mut self, other: &Handle<R>) -> Self {
        self.spec_mut().depend_on(other, "depends_on");
        self
    }

    /// Create the replacement before destroying the old object.
    #[track_caller]
    fn create_before_destroy(mut self) -> Self {
        let here = Location::caller();
        let spec = self.spec_mut();
        spec.lifecycle.create_before_destroy = true;
        spec.field_locs.insert("create_before_destroy".into(), here);
        self
    }

    /// Refuse any plan that destroys this resource.
    #[track_caller]
    fn prevent_destroy(mut self) -> Self {
        let here = Location::caller();
        let spec = self.spec_mut();
        spec.lifecycle.prevent_destroy = true;
        spec.field_locs.insert("prevent_destroy".into(), here);
        self
    }

    /// Waives the check `code` for this resource; `check` output shows it.
    #[track_caller]
    fn waive(mut self, code: &str, reason: &str) -> Self {
        self.spec_mut().waivers.push(Waiver {
            code: code.to_string(),
            reason: reason.to_string(),
            loc: Location::caller(),
        });
        self
    }

    /// Binds this resource to a provider instance (the handle
    /// `Lab::register_provider` returned), e.g. the second of two Proxmox
    /// clusters. Needed only when several instances apply its kind.
    #[track_caller]
    fn provider(mut self, instance: &ProviderHandle) -> Self {
        self.spec_mut().provider = Some(ProviderBinding {
            name: instance.name.clone(),
            lab: instance.lab,
            loc: Location::caller(),
        });
        self
    }

    /// Orders this resource after `other`, when nothing it reads from
    /// `other` says so already: a PVE `pbs` storage after the ACL that lets
    /// its token see the datastore (PVE contacts the PBS when it creates
    /// the storage). The edge is labelled `after` and recorded at this line.
    #[track_caller]
    fn after<R>(mut self, other: &Handle<R>) -> Self {
        self.spec_mut().depend_on(other, "after");
        self
    }

    /// Says which appliance (failure domain) holds this resource's data.
    #[track_caller]
    fn on(mut self, appliance: &Handle<super::Appliance>) -> Self {
        self.spec_mut().set_ref("appliance", appliance);
        self
    }
}
