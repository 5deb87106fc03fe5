//! Appliances: the failure domains data lives on.

use std::panic::Location;

use super::resource::{Resource, ResourceSpec};

/// What sort of box an appliance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplianceKind {
    /// A NAS (TrueNAS, Synology, a ZFS box).
    Nas,
    /// A hypervisor node's local disks.
    NodeDisk,
    /// A backup server.
    BackupServer,
    /// A box in another building or a cloud bucket.
    Offsite,
    /// Anything else.
    Other,
}

impl ApplianceKind {
    /// Every kind.
    pub const ALL: [ApplianceKind; 5] = [
        ApplianceKind::Nas,
        ApplianceKind::NodeDisk,
        ApplianceKind::BackupServer,
        ApplianceKind::Offsite,
        ApplianceKind::Other,
    ];

    /// The name an appliance's `kind` attribute holds (`nas`, `node-disk`,
    /// `backup-server`, `offsite`, `other`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApplianceKind::Nas => "nas",
            ApplianceKind::NodeDisk => "node-disk",
            ApplianceKind::BackupServer => "backup-server",
            ApplianceKind::Offsite => "offsite",
            ApplianceKind::Other => "other",
        }
    }

    /// The kind named `name` (see [`ApplianceKind::as_str`]).
    ///
    /// ```
    /// use lab_core::ApplianceKind;
    /// assert_eq!(ApplianceKind::parse("nas"), Some(ApplianceKind::Nas));
    /// assert_eq!(ApplianceKind::parse("toaster"), None);
    /// ```
    pub fn parse(name: &str) -> Option<ApplianceKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A failure domain: one box whose loss takes everything on it.
///
/// Appliances are model-only: no provider applies them. Pools, datastores
/// and storages point at one with [`Resource::on`], and the failure-domain
/// checks reason over those edges.
///
/// ```
/// use lab_core::prelude::*;
/// let mut lab = Lab::new("home");
/// let nas = lab.add(Appliance::new("nas1").kind(ApplianceKind::Nas).site("basement"));
/// assert_eq!(nas.address().to_string(), "appliance.nas1");
/// ```
pub struct Appliance {
    spec: ResourceSpec,
}

impl Appliance {
    /// The address kind of appliances.
    pub const KIND: &'static str = "appliance";

    /// A new appliance named `name`.
    #[track_caller]
    pub fn new(name: &str) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.managed = false;
        spec.declared_at = Location::caller();
        spec.set("kind", ApplianceKind::Other.as_str());
        Appliance { spec }
    }

    /// What sort of box it is.
    #[track_caller]
    pub fn kind(mut self, kind: ApplianceKind) -> Self {
        self.spec.set("kind", kind.as_str());
        self
    }

    /// Where it stands (a room, a building): two appliances on one site share
    /// a fire.
    #[track_caller]
    pub fn site(mut self, site: &str) -> Self {
        self.spec.set("site", site);
        self
    }
}

impl Resource for Appliance {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}
