//! [`Thing`]: a generic resource with free-form attributes, for tests.

use super::*;

/// A generic resource with free-form attributes, applied by
/// [`MemoryProvider`]. Its kind is [`Thing::KIND`] (`test.thing`) unless
/// built with [`Thing::of_kind`].
///
/// Every builder method is `#[track_caller]`, so diagnostics point at the
/// test's line, as they do for real resources.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_core::testing::Thing;
///
/// let mut lab = Lab::new("home");
/// let net = lab.add(Thing::of_kind("test.net", "lan").attr("cidr", "10.0.0.0/24"));
/// let vm = lab.add(
///     Thing::new("vm")
///         .attr("cores", 4)
///         .secret("root_password", "hunter2")
///         .after(&net)
///         .input("net_id", &net.output::<String>("id"))
///         .latency_ms(50),
/// );
/// let spec = lab.resource(vm.address()).unwrap();
/// assert_eq!(spec.address.to_string(), "test.thing.vm");
/// assert_eq!(spec.attrs["cores"], Value::Int(4));
/// assert_eq!(spec.attrs["latency_ms"], Value::Int(50));
/// assert_eq!(spec.deps.len(), 2); // `after` and the `net_id` input
/// assert_eq!(spec.attrs["root_password"].to_string(), "(sensitive value)");
/// ```
#[derive(Clone, Debug)]
pub struct Thing {
    spec: ResourceSpec,
}

impl Thing {
    /// The default kind, `test.thing`, which [`MemoryProvider::new`] manages.
    pub const KIND: &'static str = "test.thing";

    /// A thing called `name` of kind [`Thing::KIND`].
    #[track_caller]
    pub fn new(name: impl AsRef<str>) -> Self {
        Thing {
            spec: ResourceSpec::new(Self::KIND, name.as_ref()),
        }
    }

    /// A thing of another kind (register a provider managing it with
    /// [`MemoryProvider::with_kinds`]).
    #[track_caller]
    pub fn of_kind(kind: &'static str, name: impl AsRef<str>) -> Self {
        Thing {
            spec: ResourceSpec::new(kind, name.as_ref()),
        }
    }

    /// Sets attribute `key`.
    #[track_caller]
    pub fn attr(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.spec.set(key, value);
        self
    }

    /// Sets attribute `key` to a secret.
    #[track_caller]
    pub fn secret(mut self, key: &str, value: impl Into<Secret>) -> Self {
        self.spec.set(key, Value::Secret(value.into()));
        self
    }

    /// Sets attribute `key` from a value or another resource's output (which
    /// also records the dependency): anything [`ThingInput`], e.g.
    /// `&db.output::<String>("id")`, `"text"`, `42`.
    #[track_caller]
    pub fn input<I: ThingInput>(mut self, key: &str, input: I) -> Self {
        self.spec.set_input::<I::Type>(key, input.into_input());
        self
    }

    /// How long this thing's create, update and delete wait on their
    /// simulated remote task (the attribute `latency_ms`), instead of the
    /// provider's configured wait.
    #[track_caller]
    pub fn latency_ms(self, ms: u64) -> Self {
        self.attr(LATENCY_ATTR, ms)
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Thing {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// What [`Thing::input`] takes: a plain value, an [`Output`] (owned or
/// borrowed) of another resource, or an [`Input`].
///
/// It exists so that the output's type is inferred: with a bare
/// `impl Into<Input<T>>` parameter, `&db.output::<String>("id")` would be
/// ambiguous.
pub trait ThingInput {
    /// The type of the value the input carries.
    type Type: Into<Value>;
    /// Converts to an [`Input`].
    fn into_input(self) -> Input<Self::Type>;
}

impl<V: Into<Value>> ThingInput for V {
    type Type = V;
    fn into_input(self) -> Input<V> {
        Input::Value(self)
    }
}

impl<T: Into<Value>> ThingInput for Output<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        Input::Output(self)
    }
}

impl<T: Into<Value>> ThingInput for &Output<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        Input::Output(self.clone())
    }
}

impl<T: Into<Value>> ThingInput for Input<T> {
    type Type = T;
    fn into_input(self) -> Input<T> {
        self
    }
}

/// The attribute [`Thing::latency_ms`] sets.
pub(super) const LATENCY_ATTR: &str = "latency_ms";
