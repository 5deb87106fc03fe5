//! Reading the attributes the builders lowered (see [`crate::kinds`]).

use lab_core::{Address, Lab, ResourceSpec, Value};

use crate::kinds;

pub(super) fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

pub(super) fn int(spec: &ResourceSpec, key: &str) -> Option<i64> {
    spec.attrs.get(key).and_then(Value::as_i64)
}

/// The address a field refers to: the producer of a `Value::Ref`.
pub(super) fn ref_address<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a Address> {
    match spec.attrs.get(key) {
        Some(Value::Ref(r)) => Some(&r.address),
        _ => None,
    }
}

pub(super) fn by_address<'a>(lab: &'a Lab, address: &str) -> Option<&'a ResourceSpec> {
    lab.resource(&Address::parse(address)?)
}

/// The resource a text field names by address.
pub(super) fn named<'a>(lab: &'a Lab, spec: &ResourceSpec, key: &str) -> Option<&'a ResourceSpec> {
    text(spec, key).and_then(|a| by_address(lab, a))
}

pub(super) fn of_kind<'a>(lab: &'a Lab, kind: &'a str) -> impl Iterator<Item = &'a ResourceSpec> {
    lab.resources().filter(move |s| s.kind() == kind)
}

/// The namespace spec a job's `ns`-like field refers to.
pub(super) fn namespace_of<'a>(
    lab: &'a Lab,
    spec: &ResourceSpec,
    key: &str,
) -> Option<&'a ResourceSpec> {
    let a = ref_address(spec, key)?;
    lab.resource(a).filter(|n| n.kind() == kinds::NAMESPACE)
}

/// A server's name from its address text (`pbs.server.primary` -> `primary`).
pub(super) fn server_name(address: &str) -> &str {
    address.rsplit_once('.').map_or(address, |(_, n)| n)
}
