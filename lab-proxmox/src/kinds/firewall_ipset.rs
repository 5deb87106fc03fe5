//! `proxmox.firewall_ipset`: a cluster-wide IP set
//! (`/cluster/firewall/ipset/{name}`, `[IPSET name]` in `cluster.fw`),
//! named by rules as `+name`.
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `name` | `Str` | ≤ 64 chars, `[A-Za-z][A-Za-z0-9\-\_]+`; forces replacement |
//! | `comment?` | `Str` | the user's; PVE's comment also carries the lab's ownership marker at its end, which the read strips |
//! | `entries` | `[{cidr, nomatch?, comment?}]` | sorted by `cidr`; `cidr` as PVE stores it (a host without `/32`, `/128`; the network address of a CIDR) |
//!
//! Outputs ([`IpSetOutputs`]): `name`.

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.firewall_ipset`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpSetSpec {
    /// The ipset name.
    pub name: String,
    /// The user's comment.
    pub comment: Option<String>,
    /// The entries, sorted by `cidr`.
    pub entries: Vec<IpSetEntry>,
}

/// One entry of an ipset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpSetEntry {
    /// An IP, a CIDR or an alias.
    pub cidr: String,
    /// `true`: the entry is excluded from the set (`!cidr`).
    pub nomatch: Option<bool>,
    /// Its comment.
    pub comment: Option<String>,
}

/// The outputs of an ipset.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IpSetOutputs {
    /// The ipset name (rules name it `+name`).
    pub name: String,
}

impl Kind for IpSetSpec {
    const KIND: &'static str = super::FIREWALL_IPSET;
    type Outputs = IpSetOutputs;

    /// The name, cluster-wide.
    fn identity(&self) -> Option<String> {
        Some(format!("firewall ipset {}", self.name))
    }
}
