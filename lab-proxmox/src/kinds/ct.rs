//! `proxmox.ct`: an LXC container.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `node`, `vmid?` | | as for a VM; force replacement |
//! | `hostname` | `Str` | |
//! | `cores`, `memory_mb`, `swap_mb` | `Int` | |
//! | `ostemplate` | `Str \| Ref(file#volid)` | a `vztmpl` volume id; forces replacement; Proxmox does not report it back (absent on a container adopted without the code's value) |
//! | `ostemplate_file?` | `Str` | the file's address, for the diff; forces replacement |
//! | `rootfs` | `{storage, size_gb}` | shrinking or another storage replaces |
//! | `mountpoints?` | `[{slot: "mp0", storage, size_gb, path}]` | |
//! | `nics` | `[{slot: "net0", name: "eth0", bridge, tag?, ip? ("dhcp" or CIDR), gw?, firewall?}]` | |
//! | `unprivileged` | `Bool` | forces replacement |
//! | `features?` | `{nesting?: Bool, keyctl?: Bool}` | |
//! | `password?: Secret`, `ssh_keys?: [Str]` | | create-time only; force replacement |
//! | `entrypoint?` | `Str` | the command run as init (application containers); left out: not managed (an OCI image's own stays) |
//! | `env?` | `{NAME: Str}` | runtime environment variables the lab sets (PVE's NUL-separated `env`); other variables (an OCI image's `PATH`) stay and are not compared |
//! | `env_secrets?` | `{NAME: Secret}` | the same, with sensitive values: sealed in the state, redacted in plans; a changed value is an update |
//! | `onboot`, `started`, `tags?`, `notes?`, `pool?` | | as for a VM |
//!
//! Outputs ([`super::GuestOutputs`]): `vmid`, `node`, `macs`.

use indexmap::IndexMap;
use lab_core::kind::Kind;
use lab_core::Secret;
use serde::{Deserialize, Serialize};

use super::GuestOutputs;

/// The spec of a `proxmox.ct`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtSpec {
    /// The node it runs on.
    pub node: String,
    /// The VMID given in code.
    pub vmid: Option<i64>,
    /// Its hostname (absent only when Proxmox reports none).
    pub hostname: Option<String>,
    /// CPU cores.
    pub cores: i64,
    /// Memory in MiB.
    pub memory_mb: i64,
    /// Swap in MiB.
    pub swap_mb: i64,
    /// The `vztmpl` volume it was created from.
    pub ostemplate: Option<String>,
    /// The address of that file.
    pub ostemplate_file: Option<String>,
    /// Root password (create only).
    pub password: Option<Secret>,
    /// Root's SSH keys (create only).
    pub ssh_keys: Option<Vec<String>>,
    /// The command run as init (`entrypoint`; PVE's default `/sbin/init`).
    pub entrypoint: Option<String>,
    /// Environment variables with plain values, by name.
    pub env: Option<IndexMap<String, String>>,
    /// Environment variables with secret values, by name.
    pub env_secrets: Option<IndexMap<String, Secret>>,
    /// The root filesystem.
    pub rootfs: Option<CtVolume>,
    /// Mount points, by slot.
    pub mountpoints: Option<Vec<CtMountpoint>>,
    /// NICs, by slot.
    #[serde(default)]
    pub nics: Vec<CtNic>,
    /// Unprivileged container.
    pub unprivileged: bool,
    /// Features (`nesting`, `keyctl`).
    pub features: Option<IndexMap<String, bool>>,
    /// Start at boot.
    pub onboot: bool,
    /// Running after apply.
    pub started: bool,
    /// Tags (sorted, without the ownership tag).
    pub tags: Option<Vec<String>>,
    /// Notes (without the marker line).
    pub notes: Option<String>,
    /// The pool id.
    pub pool: Option<String>,
}

/// The root filesystem.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtVolume {
    /// Storage id.
    pub storage: String,
    /// Size in GiB.
    pub size_gb: Option<i64>,
}

/// One extra volume of a container (an `mpN` config entry such as
/// `local-lvm:8,mp=/srv/data`): a new volume of `size_gb` on `storage`,
/// mounted at `path`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtMountpoint {
    /// `mp0`, ...
    pub slot: String,
    /// Storage id.
    pub storage: String,
    /// Size in GiB.
    pub size_gb: Option<i64>,
    /// Path in the container.
    pub path: String,
}

/// One network interface of a container: a `netN` config entry such as
/// `name=eth0,bridge=vmbr0,tag=20,ip=10.0.20.5/24,gw=10.0.20.1`. Unlike a
/// VM's, its address is part of the NIC (Proxmox configures it inside the
/// container); the generated MAC goes to the outputs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CtNic {
    /// `net0`, ...
    pub slot: String,
    /// Interface name in the container (`eth0`).
    pub name: Option<String>,
    /// Bridge.
    pub bridge: Option<String>,
    /// VLAN tag.
    pub tag: Option<i64>,
    /// `dhcp` or a CIDR.
    pub ip: Option<String>,
    /// Gateway.
    pub gw: Option<String>,
    /// Proxmox firewall on the NIC.
    pub firewall: Option<bool>,
}

impl CtSpec {
    /// The names of the environment variables the spec sets (plain and
    /// secret), in the spec's order.
    pub fn env_names(&self) -> Vec<&str> {
        let plain = self.env.iter().flat_map(|m| m.keys());
        let secret = self.env_secrets.iter().flat_map(|m| m.keys());
        plain.chain(secret).map(String::as_str).collect()
    }

    /// The variables the spec sets as `NAME=value`, plain ones first; the
    /// secret values exposed (only for the request that sends them).
    pub fn env_entries(&self) -> Vec<String> {
        let plain = self.env.iter().flatten().map(|(k, v)| format!("{k}={v}"));
        let secret = self
            .env_secrets
            .iter()
            .flatten()
            .map(|(k, v)| format!("{k}={}", v.expose()));
        plain.chain(secret).collect()
    }

    /// Whether the spec manages anything Proxmox's guest listing does not
    /// show (so a refresh reads the config, not only the listing).
    pub fn manages_runtime(&self) -> bool {
        self.entrypoint.is_some() || self.env.is_some() || self.env_secrets.is_some()
    }
}

impl Kind for CtSpec {
    const KIND: &'static str = super::CT;
    type Outputs = GuestOutputs;

    /// A VMID given in code names one guest in the cluster: a replacement
    /// with the same one cannot be made beside the old guest.
    fn identity(&self) -> Option<String> {
        self.vmid.map(|v| format!("VMID {v}"))
    }
}
