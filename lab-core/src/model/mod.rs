//! The model: a [`Lab`] of resources joined by typed handles.
//!
//! Adding a resource returns a [`Handle`]; passing a handle (or an
//! [`Output`] of one) to another builder records a dependency edge with the
//! line that created it. Nothing here does IO: a `Lab` is a plain value that
//! tests can build and check.

mod appliance;
mod resource;

pub use appliance::{Appliance, ApplianceKind};
pub use resource::{
    Dependency, Input, Lifecycle, Problem, ProviderBinding, Resource, ResourceSpec, Waiver,
};

use std::marker::PhantomData;
use std::panic::Location;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;

use crate::checks::{Check, CheckRegistry};
use crate::command::{CommandRegistry, LabCommand};
use crate::derive::Derivation;
use crate::diag::Loc;
use crate::notes::NoteRegistry;
use crate::picture::{PictureRegistry, PictureView};
use crate::provider::{Provider, ProviderHandle, ProviderInstance, ProviderRegistry};
use crate::Address;

/// Identifies one `Lab` value in this process, so a handle from another lab
/// is caught by a check rather than silently wired up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LabId(u64);

impl LabId {
    fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        LabId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A typed reference to a resource added to a [`Lab`].
///
/// Passing `&Handle<Storage>` where a builder wants a storage both names it
/// and records the dependency, so edges are typed.
pub struct Handle<R> {
    address: Address,
    lab: LabId,
    _kind: PhantomData<fn() -> R>,
}

impl<R> Handle<R> {
    /// Builds a handle. Provider crates use this through [`Lab::add`].
    fn new(address: Address, lab: LabId) -> Self {
        Handle {
            address,
            lab,
            _kind: PhantomData,
        }
    }

    /// The resource's stable address.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The lab this handle belongs to.
    pub fn lab_id(&self) -> LabId {
        self.lab
    }

    /// A typed output of this resource, known after it is applied.
    /// Provider crates wrap this in named accessors (`vm.vmid()`).
    #[track_caller]
    pub fn output<T>(&self, name: &str) -> Output<T> {
        Output {
            address: self.address.clone(),
            lab: self.lab,
            name: name.into(),
            loc: Location::caller(),
            _t: PhantomData,
        }
    }
}

impl<R> Clone for Handle<R> {
    fn clone(&self) -> Self {
        Handle::new(self.address.clone(), self.lab)
    }
}

impl<R> std::fmt::Debug for Handle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Handle({})", self.address)
    }
}

/// A value of type `T` produced by applying a resource (a VMID, a tunnel id),
/// usable as another resource's input. Plans show it as `(known after apply)`
/// while its producer is being created.
pub struct Output<T> {
    pub(crate) address: Address,
    pub(crate) lab: LabId,
    pub(crate) name: Arc<str>,
    pub(crate) loc: Loc,
    _t: PhantomData<fn() -> T>,
}

impl<T> Output<T> {
    /// The producing resource.
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The output's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Output {
            address: self.address.clone(),
            lab: self.lab,
            name: self.name.clone(),
            loc: self.loc,
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Output({}#{})", self.address, self.name)
    }
}

/// The whole lab: resources, checks, waivers and the providers that apply them.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_core::testing::Thing;
///
/// let mut lab = Lab::new("home");
/// let nas = lab.add(Appliance::new("nas1").kind(ApplianceKind::Nas));
/// let pool = lab.add(Thing::new("pool").attr("size_gb", 4000).on(&nas));
/// let share = lab.add(Thing::new("share").attr("path", "/media").after(&pool));
/// assert_eq!(share.address().to_string(), "test.thing.share");
/// assert!(lab.check().iter().all(|d| !d.is_blocking()));
/// ```
#[derive(Clone)]
pub struct Lab {
    id: LabId,
    name: String,
    declared_at: Loc,
    resources: IndexMap<Address, ResourceSpec>,
    duplicates: Vec<ResourceSpec>,
    stray_edges: Vec<Dependency>,
    checks: CheckRegistry,
    commands: CommandRegistry,
    pictures: PictureRegistry,
    notes: NoteRegistry,
    providers: ProviderRegistry,
    moves: Vec<Move>,
    /// The registered derivations, in registration order.
    derivations: Vec<Derivation>,
    /// Bumped by every change of the lab's resources, edges or moves.
    generation: u64,
    /// The generation the last [`Lab::derive`] left, if any.
    derived_at: Option<u64>,
    /// The derivation running now: what `add` adds is marked with it.
    deriving: Option<&'static str>,
}

/// A resource renamed in the code: its state entry moves from `from` to
/// `to` instead of the old object being destroyed and a new one created.
#[derive(Clone, Debug)]
pub struct Move {
    /// The old address, as written (`proxmox.vm.old`).
    pub from: String,
    /// The new address.
    pub to: Address,
    /// The lab the new handle came from.
    pub lab: LabId,
    /// Where the move was written.
    pub loc: Loc,
}

impl Move {
    /// The old address, if it parses.
    pub fn from_address(&self) -> Option<Address> {
        Address::parse(&self.from)
    }
}

/// Why a resource has no provider instance to apply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingError {
    /// No registered instance applies the kind.
    NoProvider,
    /// Several do, and the resource names none.
    Ambiguous(Vec<String>),
    /// The handle names no instance of this lab.
    Unknown(String),
    /// The named instance does not apply the kind.
    WrongKind(String),
}

impl Lab {
    /// A new, empty lab. `name` identifies it in ownership markers and state.
    #[track_caller]
    pub fn new(name: impl Into<String>) -> Self {
        Lab {
            id: LabId::fresh(),
            name: name.into(),
            declared_at: Location::caller(),
            resources: IndexMap::new(),
            duplicates: Vec::new(),
            stray_edges: Vec::new(),
            checks: CheckRegistry::with_builtins(),
            commands: CommandRegistry::default(),
            pictures: PictureRegistry::default(),
            notes: NoteRegistry::default(),
            providers: ProviderRegistry::default(),
            moves: Vec::new(),
            derivations: Vec::new(),
            generation: 0,
            derived_at: None,
            deriving: None,
        }
    }

    /// The lab's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This lab's identity in the process.
    pub fn id(&self) -> LabId {
        self.id
    }

    /// Where `Lab::new` was called.
    pub fn declared_at(&self) -> Loc {
        self.declared_at
    }

    /// Adds a resource and returns its typed handle.
    ///
    /// A second resource with the same address is kept aside and reported by
    /// the `core::duplicate-address` check with both lines.
    #[track_caller]
    pub fn add<R: Resource>(&mut self, resource: R) -> Handle<R> {
        let mut spec = resource.into_spec();
        spec.added_at = Location::caller();
        self.generation += 1;
        if let Some(name) = self.deriving {
            spec.derived_by = Some(name);
        }
        if let Some(d) = spec.derivation {
            if !self.derivations.iter().any(|r| r.name == d.name) {
                self.derivations.push(d);
            }
        }
        if let Some(set) = spec.check_set {
            self.checks.register_set(set);
        }
        if let Some(set) = spec.command_set {
            self.commands.register_set(set);
        }
        if let Some(set) = spec.picture_set {
            self.pictures.register_set(set);
        }
        if let Some(set) = spec.note_set {
            self.notes.register_set(set);
        }
        let address = spec.address.clone();
        if self.resources.contains_key(&address) {
            self.duplicates.push(spec);
        } else {
            self.resources.insert(address.clone(), spec);
        }
        Handle::new(address, self.id)
    }

    /// Orders `dependent` after `on` when both were added already (for
    /// example a DNS record that must wait for a tunnel declared further
    /// down). Edges made this way can form cycles; the
    /// `core::dependency-cycle` check reports them with this line.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::Thing;
    /// let mut lab = Lab::new("home");
    /// let dns = lab.add(Thing::new("dns"));
    /// let tunnel = lab.add(Thing::new("tunnel"));
    /// lab.add_dependency(&dns, &tunnel);
    /// assert!(lab.check().is_empty());
    /// ```
    #[track_caller]
    pub fn add_dependency<A, B>(&mut self, dependent: &Handle<A>, on: &Handle<B>) {
        let here = Location::caller();
        self.generation += 1;
        let spec = if dependent.lab == self.id {
            self.resources.get_mut(&dependent.address)
        } else {
            None
        };
        match spec {
            Some(spec) => spec.deps.push(Dependency {
                on: on.address.clone(),
                lab: on.lab,
                loc: here,
                via: "add_dependency".into(),
            }),
            None => self.stray_edges.push(Dependency {
                on: dependent.address.clone(),
                lab: dependent.lab,
                loc: here,
                via: "add_dependency".into(),
            }),
        }
    }

    /// Registers a provider instance under the provider's own name
    /// (`proxmox`) and returns its handle. Register a second instance of the
    /// same provider with [`Lab::register_provider_as`].
    #[track_caller]
    pub fn register_provider(&mut self, provider: Arc<dyn Provider>) -> ProviderHandle {
        let name = provider.name().to_string();
        self.register_instance(name, provider, Location::caller())
    }

    /// Registers a provider instance under `name` (unique in the lab), e.g.
    /// a second Proxmox cluster or an off-site PBS, and returns the handle
    /// that binds resources to it (`.provider(&handle)`).
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::{MemoryProvider, Thing};
    /// let mut lab = Lab::new("home");
    /// let _main = lab.register_provider(MemoryProvider::new().shared());
    /// let offsite = lab.register_provider_as("offsite", MemoryProvider::new().shared());
    /// lab.add(Thing::new("copy").provider(&offsite));
    /// // Two instances apply `test.thing`: an unbound one is ambiguous.
    /// lab.add(Thing::new("stray"));
    /// let diags = lab.check();
    /// assert_eq!(diags.len(), 1);
    /// assert_eq!(diags[0].code, "core::provider-binding");
    /// ```
    #[track_caller]
    pub fn register_provider_as(
        &mut self,
        name: impl Into<String>,
        provider: Arc<dyn Provider>,
    ) -> ProviderHandle {
        self.register_instance(name.into(), provider, Location::caller())
    }

    fn register_instance(
        &mut self,
        name: String,
        provider: Arc<dyn Provider>,
        loc: Loc,
    ) -> ProviderHandle {
        let first_of_its_kind = !self.providers.all().any(|p| p.name() == provider.name());
        let registered = self.providers.register(ProviderInstance {
            name: name.clone(),
            provider: provider.clone(),
            declared_at: loc,
        });
        // A provider's checks are the same for every instance: register them
        // once, never over a check the user registered under the same code.
        if registered && first_of_its_kind {
            for check in provider.checks() {
                self.checks.register_default(check);
            }
        }
        ProviderHandle { name, lab: self.id }
    }

    /// The provider instance that applies `spec`: its binding, or the one
    /// instance that applies its kind.
    pub fn provider_of(&self, spec: &ResourceSpec) -> Result<&ProviderInstance, BindingError> {
        match &spec.provider {
            Some(b) => {
                let inst = self
                    .providers
                    .get(&b.name)
                    .filter(|_| b.lab == self.id)
                    .ok_or_else(|| BindingError::Unknown(b.name.clone()))?;
                if inst.serves(spec.kind()) {
                    Ok(inst)
                } else {
                    Err(BindingError::WrongKind(b.name.clone()))
                }
            }
            None => match self.providers.serving(spec.kind()).as_slice() {
                [] => Err(BindingError::NoProvider),
                [one] => Ok(*one),
                many => Err(BindingError::Ambiguous(
                    many.iter().map(|i| i.name.clone()).collect(),
                )),
            },
        }
    }

    /// The provider instance for a recorded resource: the one recorded in
    /// the state (`recorded`, empty for states written before bindings were
    /// recorded), else the one instance that applies its kind.
    pub fn provider_for_recorded(
        &self,
        address: &Address,
        recorded: &str,
    ) -> Option<&ProviderInstance> {
        if recorded.is_empty() {
            self.providers.only_for(address.kind())
        } else {
            self.providers.get(recorded)
        }
    }

    /// Records that the resource once at `from` (e.g. `proxmox.vm.old`) is
    /// now `to`: the plan moves its state entry instead of destroying the
    /// object and creating it again. Keep the line until every state that
    /// knew the old address has been applied.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::Thing;
    /// let mut lab = Lab::new("home");
    /// let web = lab.add(Thing::new("web"));
    /// lab.moved("test.thing.www", &web);
    /// assert!(lab.check().is_empty());
    /// ```
    #[track_caller]
    pub fn moved<R>(&mut self, from: &str, to: &Handle<R>) {
        self.generation += 1;
        self.moves.push(Move {
            from: from.to_string(),
            to: to.address.clone(),
            lab: to.lab,
            loc: Location::caller(),
        });
    }

    /// The moves declared with [`Lab::moved`].
    pub fn moves(&self) -> &[Move] {
        &self.moves
    }

    /// Adds a named check (a provider crate's or the user's own). A check
    /// with the same code replaces the earlier one.
    pub fn register_check(&mut self, check: Check) {
        self.checks.register(check);
    }

    /// Adds a check from a closure.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// let mut lab = Lab::new("home");
    /// lab.check_with("my::at-most-50", Severity::Error, |lab, out| {
    ///     if lab.resources().count() > 50 {
    ///         out.push(Diagnostic::error("my::at-most-50", "too many resources"));
    ///     }
    /// });
    /// assert!(lab.check().is_empty());
    /// ```
    pub fn check_with(
        &mut self,
        code: &'static str,
        severity: crate::Severity,
        run: impl Fn(&Lab, &mut Vec<crate::Diagnostic>) + Send + Sync + 'static,
    ) {
        self.checks.register(Check::new(code, severity, run));
    }

    /// Runs every check without touching the network and returns the
    /// diagnostics as values, waived ones marked (for `cargo test`).
    ///
    /// The checks see the derived lab (see [`crate::derive`]): when a
    /// derivation has not run since the last change, they run on a derived
    /// copy, and this lab is left as it is.
    pub fn check(&self) -> Vec<crate::Diagnostic> {
        if self.derivation_pending() {
            let mut derived = self.clone();
            derived.derive();
            return derived.checks.run(&derived);
        }
        self.checks.run(self)
    }

    /// True when a registered derivation (or the note pass, see
    /// [`crate::notes`]) has not run since the last change.
    pub fn derivation_pending(&self) -> bool {
        (!self.derivations.is_empty() || !self.notes.is_empty())
            && self.derived_at != Some(self.generation)
    }

    /// Runs every registered [`Derivation`] (see [`crate::derive`]):
    /// removes what an earlier run added, then runs each pass in
    /// registration order, then the note pass last (it reads what the
    /// passes derived, e.g. lab-net's addresses: [`crate::notes`]). Does nothing when nothing changed since the last
    /// run. [`crate::Engine::new`] calls it; tests call it to look at the
    /// derived resources.
    pub fn derive(&mut self) {
        if !self.derivation_pending() {
            return;
        }
        self.resources.retain(|_, spec| spec.derived_by.is_none());
        self.duplicates.retain(|spec| spec.derived_by.is_none());
        let passes = self.derivations.clone();
        for pass in passes {
            self.deriving = Some(pass.name);
            (pass.run)(self);
            self.deriving = None;
        }
        crate::notes::write_short_notes(self);
        self.derived_at = Some(self.generation);
    }

    /// Adds a resource a derivation made, declared at the user's line `at`
    /// (the zone, flow or service it follows from): its declaration, its
    /// addition and every field it sets point there, since the lines inside
    /// the deriving crate mean nothing to the user.
    pub fn add_derived<R: Resource>(&mut self, resource: R, at: Loc) -> Handle<R> {
        let mut spec = resource.into_spec();
        spec.declared_at = at;
        for loc in spec.field_locs.values_mut() {
            *loc = at;
        }
        for dep in &mut spec.deps {
            dep.loc = at;
        }
        for problem in &mut spec.problems {
            problem.loc = at;
        }
        let handle = self.add(Derived(spec));
        if let Some(spec) = self.resources.get_mut(handle.address()) {
            spec.added_at = at;
        }
        Handle::new(handle.address, handle.lab)
    }

    /// Waives the check `code` for a resource already added, as
    /// [`Resource::waive`] does on a builder: for resources another
    /// builder made (the VMs a Talos cluster lowers to). A handle of
    /// another lab is ignored.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_core::testing::Thing;
    /// let mut lab = Lab::new("home");
    /// let scratch = lab.add(Thing::new("scratch"));
    /// lab.waive(&scratch, "demo::no-backup", "rebuilt from code");
    /// assert_eq!(lab.resource(scratch.address()).unwrap().waivers.len(), 1);
    /// ```
    #[track_caller]
    pub fn waive<R>(&mut self, handle: &Handle<R>, code: &str, reason: &str) {
        let here = Location::caller();
        if handle.lab != self.id {
            return;
        }
        if let Some(spec) = self.resources.get_mut(&handle.address) {
            spec.waivers.push(Waiver {
                code: code.to_string(),
                reason: reason.to_string(),
                loc: here,
            });
        }
    }

    /// The spec of a resource already added, for a derivation that writes
    /// fields of the user's resources (a NIC's VLAN tag). Writing through it
    /// does not mark the lab changed: it is meant for derivations, which
    /// run after the lab is complete.
    pub fn spec_mut(&mut self, address: &Address) -> Option<&mut ResourceSpec> {
        self.resources.get_mut(address)
    }

    /// The resources, in the order they were added.
    pub fn resources(&self) -> impl Iterator<Item = &ResourceSpec> {
        self.resources.values()
    }

    /// One resource by address.
    pub fn resource(&self, address: &Address) -> Option<&ResourceSpec> {
        self.resources.get(address)
    }

    /// The number of resources.
    pub fn len(&self) -> usize {
        self.resources.len()
    }

    /// True if the lab has no resources.
    pub fn is_empty(&self) -> bool {
        self.resources.is_empty()
    }

    /// Resources added under an address that was already taken.
    pub fn duplicates(&self) -> &[ResourceSpec] {
        &self.duplicates
    }

    /// Edges from [`Lab::add_dependency`] whose dependent is not in this lab
    /// (a handle from another `Lab`); reported by `core::foreign-handle`.
    pub fn stray_edges(&self) -> &[Dependency] {
        &self.stray_edges
    }

    /// The registered providers.
    pub fn providers(&self) -> &ProviderRegistry {
        &self.providers
    }

    /// The registered checks.
    pub fn checks(&self) -> &CheckRegistry {
        &self.checks
    }

    /// The CLI commands this lab adds beside the engine's own: those its
    /// crates' kinds carry ([`crate::command::CommandSet`]) and those
    /// registered with [`Lab::register_command`].
    pub fn commands(&self) -> &CommandRegistry {
        &self.commands
    }

    /// Adds a CLI command (see [`crate::command`]); one with the same name
    /// is replaced.
    pub fn register_command(&mut self, command: Arc<dyn LabCommand>) {
        self.commands.register(command);
    }

    /// The pictures this lab can draw (`graph --view NAME`): the dependency
    /// view, those its crates' kinds carry ([`crate::picture::PictureSet`])
    /// and those registered with [`Lab::register_picture`].
    pub fn pictures(&self) -> &PictureRegistry {
        &self.pictures
    }

    /// Adds a view (see [`crate::picture`]); one with the same name is
    /// replaced.
    pub fn register_picture(&mut self, view: Arc<dyn PictureView>) {
        self.pictures.register(view);
    }

    /// The note sets this lab's crates registered (see [`crate::notes`]).
    pub fn notes(&self) -> &NoteRegistry {
        &self.notes
    }

    /// Adds a note set (a user's own sections); a set of the same name
    /// is kept, not replaced. Marks the lab changed, so the next
    /// [`Lab::derive`] writes the short notes.
    pub fn register_notes(&mut self, set: crate::notes::NoteSet) {
        self.generation += 1;
        self.notes.register_set(set);
    }
}

/// A finished spec as a [`Resource`], for [`Lab::add_derived`].
struct Derived(ResourceSpec);

impl Resource for Derived {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.0
    }

    fn into_spec(self) -> ResourceSpec {
        self.0
    }
}
