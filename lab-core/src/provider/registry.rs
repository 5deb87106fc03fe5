//! Provider instances: any number per kind, each under its own name.
//!
//! A lab may hold two Proxmox clusters, a primary and an off-site PBS, two
//! Cloudflare accounts. Each registration is an instance with a name
//! (the provider's own name unless given one) and the line that registered
//! it; a resource is bound to an instance by the [`ProviderHandle`] the
//! registration returned (`.provider(&offsite)`), or, when one instance
//! alone serves its kind, to that one. The binding is recorded in the state,
//! so a resource removed from the code is deleted through the instance that
//! created it.

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use super::Provider;
use crate::diag::Loc;
use crate::model::LabId;

/// One registered provider.
#[derive(Clone)]
pub struct ProviderInstance {
    /// The instance's name, unique in the lab (`proxmox`, `offsite`).
    pub name: String,
    /// The provider.
    pub provider: Arc<dyn Provider>,
    /// Where it was registered.
    pub declared_at: Loc,
}

impl ProviderInstance {
    /// True if this instance applies `kind`.
    pub fn serves(&self, kind: &str) -> bool {
        self.provider.kinds().contains(&kind)
    }
}

impl fmt::Debug for ProviderInstance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderInstance")
            .field("name", &self.name)
            .field("kinds", &self.provider.kinds())
            .finish()
    }
}

/// A typed reference to a registered provider instance, returned by
/// `Lab::register_provider`; pass it to a resource's `.provider(..)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderHandle {
    pub(crate) name: String,
    pub(crate) lab: LabId,
}

impl ProviderHandle {
    /// The instance's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The provider instances of a lab, in registration order.
#[derive(Clone, Default)]
pub struct ProviderRegistry {
    instances: IndexMap<String, ProviderInstance>,
    /// Registrations under a name already taken (reported by
    /// `core::duplicate-provider`, never used).
    rejected: Vec<ProviderInstance>,
}

impl ProviderRegistry {
    /// Registers an instance. A second one under a taken name is kept aside
    /// (and reported by a check); returns false then.
    pub fn register(&mut self, instance: ProviderInstance) -> bool {
        if self.instances.contains_key(&instance.name) {
            self.rejected.push(instance);
            return false;
        }
        self.instances.insert(instance.name.clone(), instance);
        true
    }

    /// The instance named `name`.
    pub fn get(&self, name: &str) -> Option<&ProviderInstance> {
        self.instances.get(name)
    }

    /// Every instance that applies `kind`.
    pub fn serving(&self, kind: &str) -> Vec<&ProviderInstance> {
        self.instances.values().filter(|i| i.serves(kind)).collect()
    }

    /// The instance for `kind` when exactly one applies it.
    pub fn only_for(&self, kind: &str) -> Option<&ProviderInstance> {
        match self.serving(kind).as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    /// The provider for `kind` when exactly one instance applies it.
    pub fn for_kind(&self, kind: &str) -> Option<&Arc<dyn Provider>> {
        self.only_for(kind).map(|i| &i.provider)
    }

    /// Every instance, in registration order.
    pub fn instances(&self) -> impl Iterator<Item = &ProviderInstance> {
        self.instances.values()
    }

    /// Every provider, once each, in registration order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Provider>> {
        self.instances.values().map(|i| &i.provider)
    }

    /// Registrations refused because their name was taken.
    pub fn rejected(&self) -> &[ProviderInstance] {
        &self.rejected
    }
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.instances.keys()).finish()
    }
}
