//! What a drill reads off the lab and the state: the guests, their VMIDs,
//! their Proxmox client, the copy to restore from (the failure analysis'
//! restore path, `--from`, or the backup jobs that select the guest), and
//! the backup job to name when there is no backup yet.

use lab_core::state::State;
use lab_core::{Address, Lab, ResourceSpec, Value};
use lab_proxmox::api::Client;
use lab_proxmox::kinds as pve;
use lab_proxmox::ProxmoxProvider;

use super::{DrillError, GuestType, SourceChoice};
use crate::failures::{AnalysisOptions, PlaceKind, Topology};

use crate::kinds;

/// A VM or container of the lab.
#[derive(Clone, Debug)]
pub(crate) struct LabGuest {
    pub address: Address,
    pub guest_type: GuestType,
}

fn text<'a>(spec: &'a ResourceSpec, key: &str) -> Option<&'a str> {
    spec.attrs.get(key).and_then(Value::as_str)
}

/// The guests to drill: the one named (by address or name), or all.
pub(crate) fn guests(lab: &Lab, wanted: Option<&str>) -> Result<Vec<LabGuest>, DrillError> {
    let all: Vec<LabGuest> = lab
        .resources()
        .filter_map(|s| {
            let guest_type = match s.kind() {
                pve::VM => GuestType::Vm,
                pve::CT => GuestType::Ct,
                _ => return None,
            };
            Some(LabGuest {
                address: s.address.clone(),
                guest_type,
            })
        })
        .collect();
    let Some(wanted) = wanted else {
        if all.is_empty() {
            return Err(DrillError::NoGuests);
        }
        return Ok(all);
    };
    let by_address: Vec<&LabGuest> = all
        .iter()
        .filter(|g| g.address.as_str() == wanted)
        .collect();
    let by_name: Vec<&LabGuest> = all.iter().filter(|g| g.address.name() == wanted).collect();
    match (by_address.as_slice(), by_name.as_slice()) {
        ([one], _) | ([], [one]) => Ok(vec![(*one).clone()]),
        ([], []) => Err(DrillError::UnknownGuest {
            name: wanted.to_string(),
            known: all.iter().map(|g| g.address.to_string()).collect(),
        }),
        // A VM and a CT of one name: the address says which.
        _ => Err(DrillError::AmbiguousGuest {
            name: wanted.to_string(),
            candidates: by_name.iter().map(|g| g.address.to_string()).collect(),
        }),
    }
}

/// The Proxmox client of the instance serving `guest`.
pub(crate) fn client_of<'l>(lab: &'l Lab, guest: &LabGuest) -> Result<&'l Client, DrillError> {
    let none = || DrillError::NoProxmox {
        guest: guest.address.clone(),
    };
    let spec = lab.resource(&guest.address).ok_or_else(none)?;
    let instance = lab.provider_of(spec).map_err(|_| none())?;
    let provider = instance
        .provider
        .as_any()
        .and_then(|a| a.downcast_ref::<ProxmoxProvider>())
        .ok_or_else(none)?;
    Ok(provider.client())
}

/// The guest's VMID as the state records it.
pub(crate) fn vmid_of(state: &State, guest: &LabGuest) -> Result<u32, DrillError> {
    let rs = state
        .resources
        .get(&guest.address)
        .ok_or_else(|| DrillError::NotApplied {
            guest: guest.address.clone(),
        })?;
    rs.outputs
        .get("vmid")
        .or_else(|| rs.attrs.get("vmid"))
        .and_then(Value::as_i64)
        .and_then(|v| u32::try_from(v).ok())
        .or_else(|| rs.id.parse().ok())
        .ok_or_else(|| DrillError::NotApplied {
            guest: guest.address.clone(),
        })
}

/// The copy a drill reads, before the cluster's storages are known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Wanted {
    /// A datastore by name, on a server when the lab says which.
    Datastore {
        name: String,
        host: Option<String>,
        port: Option<i64>,
        address: Option<Address>,
        appliance: Option<String>,
        chosen: SourceChoice,
        /// The lab's PVE storages that read it (`PveStorage` records the
        /// datastore it reads): they are the ones, whatever address the
        /// server answers on (a simulator's loopback port).
        lab_storages: Vec<String>,
    },
    /// `--from` naming something the cluster's storages must resolve: a
    /// storage id or a datastore name.
    Named(String),
    /// These PVE storages (the backup jobs selecting the guest), or every
    /// `pbs` storage when empty: the newest snapshot wins.
    Newest(Vec<String>),
}

/// A datastore of the lab: its name and server's host and port.
fn datastore_of(lab: &Lab, address: &Address, chosen: SourceChoice) -> Option<Wanted> {
    let spec = lab.resource(address)?;
    if spec.kind() != kinds::DATASTORE {
        return None;
    }
    let name = text(spec, "name")?.to_string();
    let server = text(spec, "server")
        .and_then(Address::parse)
        .and_then(|a| lab.resource(&a));
    let host = server.and_then(|s| text(s, "host")).map(str::to_string);
    let port = server
        .and_then(|s| s.attrs.get("port"))
        .and_then(Value::as_i64);
    Some(Wanted::Datastore {
        name,
        host,
        port,
        address: Some(address.clone()),
        appliance: text(spec, "appliance").map(str::to_string),
        chosen,
        lab_storages: storages_reading(lab, address),
    })
}

/// The ids of the lab's PVE storages that read the datastore `address`.
fn storages_reading(lab: &Lab, address: &Address) -> Vec<String> {
    let wanted = address.to_string();
    lab.resources()
        .filter(|s| s.kind() == pve::STORAGE && text(s, "pbs_datastore") == Some(wanted.as_str()))
        .map(|s| s.address.name().to_string())
        .collect()
}

/// A datastore the lab does not declare, by its address alone: PBS
/// builders name datastores `<server>--<name>`.
fn named_by_address(address: &Address) -> Wanted {
    let name = address.name();
    let name = name.rsplit_once("--").map_or(name, |(_, n)| n);
    Wanted::Datastore {
        name: name.to_string(),
        host: None,
        port: None,
        address: Some(address.clone()),
        appliance: None,
        chosen: SourceChoice::Analysis,
        lab_storages: Vec::new(),
    }
}

/// What to read for `guest`: `--from`, else the analysis' restore path,
/// else the storages of the backup jobs that select it.
pub(crate) fn wanted_source(
    lab: &Lab,
    topology: &Topology,
    guest: &LabGuest,
    vmid: u32,
    from: Option<&str>,
) -> Result<Wanted, DrillError> {
    if let Some(from) = from {
        if let Some(w) =
            Address::parse(from).and_then(|a| datastore_of(lab, &a, SourceChoice::Given))
        {
            return Ok(w);
        }
        let by_name: Vec<&ResourceSpec> = lab
            .resources()
            .filter(|s| s.kind() == kinds::DATASTORE && text(s, "name") == Some(from))
            .collect();
        if let [one] = by_name.as_slice() {
            if let Some(w) = datastore_of(lab, &one.address, SourceChoice::Given) {
                return Ok(w);
            }
        }
        return Ok(Wanted::Named(from.to_string()));
    }
    if let Ok(report) = topology.analyze(&AnalysisOptions::default()) {
        if let Some((_, data)) = report.data_item(&guest.address) {
            let copy = data
                .copies
                .iter()
                .find(|c| c.place_kind == PlaceKind::Datastore && data.restore_from() == Some(c))
                .or_else(|| {
                    data.copies
                        .iter()
                        .find(|c| c.place_kind == PlaceKind::Datastore)
                });
            if let Some(copy) = copy {
                let wanted = datastore_of(lab, &copy.place, SourceChoice::Analysis)
                    .unwrap_or_else(|| named_by_address(&copy.place));
                if let Wanted::Datastore {
                    name,
                    host,
                    port,
                    address,
                    appliance,
                    chosen,
                    lab_storages,
                } = wanted
                {
                    return Ok(Wanted::Datastore {
                        name,
                        host,
                        port,
                        address,
                        appliance: appliance.or_else(|| Some(copy.appliance.to_string())),
                        chosen,
                        lab_storages,
                    });
                }
            }
        }
    }
    Ok(Wanted::Newest(job_storages(lab, guest, vmid)))
}

/// The lab's PVE backup jobs that select `guest`: (job id, storage id).
pub(crate) fn jobs_selecting(lab: &Lab, guest: &LabGuest, vmid: u32) -> Vec<(String, String)> {
    lab.resources()
        .filter(|s| s.kind() == pve::BACKUP_JOB)
        .filter(|s| {
            let all = s.attrs.get("all").and_then(Value::as_bool) == Some(true);
            let excluded = s
                .deps
                .iter()
                .any(|d| d.on == guest.address && d.via == "exclude");
            let listed = s
                .deps
                .iter()
                .any(|d| d.on == guest.address && d.via == "vmids")
                || match s.attrs.get("vmids") {
                    Some(Value::List(list)) => {
                        list.iter().any(|v| v.as_i64() == Some(i64::from(vmid)))
                    }
                    _ => false,
                };
            (all && !excluded) || listed
        })
        .filter_map(|s| {
            Some((
                text(s, "id").unwrap_or(s.address.name()).to_string(),
                text(s, "storage")?.to_string(),
            ))
        })
        .collect()
}

fn job_storages(lab: &Lab, guest: &LabGuest, vmid: u32) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, storage) in jobs_selecting(lab, guest, vmid) {
        if !out.contains(&storage) {
            out.push(storage);
        }
    }
    out
}
