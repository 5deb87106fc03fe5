//! Reading Proxmox configs back into the specs of [`crate::kinds`], so that
//! an unchanged lab diffs as no changes.
//!
//! What Proxmox adds or rewrites is dropped or moved to outputs: the MAC
//! that `net0` carries as `virtio=BC:24:11:..`, volume names and `size=` on
//! disks, `media=cdrom` and `size=` on a CD-ROM (read back as the ISO's
//! volume id), the masked `cipassword`, the ownership tag and notes line,
//! the `digest`. Values Proxmox never returns (passwords, `ssh-public-keys`,
//! the clone source, the OS template, the file a CD-ROM's ISO came from) are
//! carried over from the recorded state.

use indexmap::IndexMap;
use lab_core::Secret;
use serde_json::{Map, Value as Json};

use crate::api::propstr::{parse_property_string, parse_size_gib};
use crate::kinds::{
    CloudInit, CtMountpoint, CtNic, CtSpec, CtVolume, GuestOutputs, VmDisk, VmNic, VmSpec,
};

/// The NIC models QEMU knows; in `netN` the model is the key and the MAC its value.
pub(crate) const NIC_MODELS: &[&str] = &[
    "virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "ne2k_pci", "pcnet", "i82551", "i82557b",
    "i82559er", "ne2k_isa",
];

/// Disk slot prefixes of QEMU guests.
pub(crate) const DISK_BUSES: &[&str] = &["scsi", "virtio", "sata", "ide"];

/// A config value as text (PVE sends numbers as numbers or strings).
pub(crate) fn text(config: &Map<String, Json>, key: &str) -> Option<String> {
    match config.get(key)? {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(if *b { "1".into() } else { "0".into() }),
        _ => None,
    }
}

fn int(config: &Map<String, Json>, key: &str) -> Option<i64> {
    text(config, key)?.trim().parse().ok()
}

fn flag(v: &str) -> bool {
    matches!(v.trim(), "1" | "on" | "yes" | "true")
}

fn boolean(config: &Map<String, Json>, key: &str) -> Option<bool> {
    text(config, key).map(|v| flag(&v))
}

/// `memory` is a property string `[current=]<MiB>`.
fn memory_mb(config: &Map<String, Json>) -> Option<i64> {
    let raw = text(config, "memory")?;
    let parts = parse_property_string(&raw, Some("current"));
    parts.get("current")?.parse().ok()
}

/// Splits PVE's tag list (`;`, `,` or spaces), drops the ownership tag, sorts.
pub(crate) fn user_tags(raw: Option<&str>, ownership_tag: &str) -> Vec<String> {
    let mut tags: Vec<String> = raw
        .unwrap_or_default()
        .split([';', ',', ' '])
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != ownership_tag)
        .map(str::to_string)
        .collect();
    tags.sort();
    tags.dedup();
    tags
}

/// The description without the ownership marker line.
pub(crate) fn user_notes(description: Option<&str>) -> Option<String> {
    let d = description?;
    let kept: Vec<&str> = d
        .lines()
        .filter(|l| !l.trim_start().starts_with("lab:"))
        .collect();
    let notes = kept.join("\n").trim_end().to_string();
    (!notes.is_empty()).then_some(notes)
}

/// The description to write: the user's notes, then the marker line.
pub(crate) fn description(notes: Option<&str>, marker: &str) -> String {
    match notes {
        Some(n) if !n.is_empty() => format!("{n}\n{marker}"),
        _ => marker.to_string(),
    }
}

/// Whether a guest config's description carries `marker` on a line of its
/// own (the line [`description`] writes).
pub(crate) fn has_marker(config: &Map<String, Json>, marker: &str) -> bool {
    text(config, "description").is_some_and(|d| d.lines().any(|l| l.trim() == marker))
}

/// The storage id of a volume id (`local-lvm:vm-101-disk-0` -> `local-lvm`).
pub(crate) fn volume_storage(volid: &str) -> &str {
    volid.split(':').next().unwrap_or(volid)
}

/// A QEMU disk slot key (`scsi0`, `virtio3`, ...)?
pub(crate) fn is_disk_slot(key: &str) -> bool {
    DISK_BUSES.iter().any(|bus| {
        key.strip_prefix(bus)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Slots sorted by bus then index, as the builders emit them.
fn slot_order(slot: &str) -> (usize, u32) {
    let bus = DISK_BUSES
        .iter()
        .chain(["net", "mp"].iter())
        .position(|b| slot.starts_with(b))
        .unwrap_or(usize::MAX);
    let n = slot
        .trim_start_matches(|c: char| c.is_ascii_alphabetic())
        .parse()
        .unwrap_or(u32::MAX);
    (bus, n)
}

/// The keys of `config` that `pred` accepts, sorted as the builders emit slots.
pub(crate) fn sorted_keys(config: &Map<String, Json>, pred: impl Fn(&str) -> bool) -> Vec<&String> {
    let mut keys: Vec<&String> = config.keys().filter(|k| pred(k)).collect();
    keys.sort_by_key(|k| slot_order(k));
    keys
}

fn indexed(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// A guest's config as read, and where it is.
pub(crate) struct Readback<'a> {
    pub config: &'a Map<String, Json>,
    pub node: &'a str,
    pub vmid: i64,
    pub running: bool,
    pub ownership_tag: &'a str,
    /// The pool the cluster lists the guest in.
    pub pool: Option<&'a str>,
}

/// What a VM's readback takes from the recorded spec: values Proxmox never
/// returns, and whether optional lists were declared.
#[derive(Clone, Debug, Default)]
pub(crate) struct VmKept {
    /// The VMID was given in code (else it is only the state id and output).
    pub vmid: bool,
    /// Tags were declared (an empty list reads back as `[]`, not absent).
    pub tags: bool,
    pub clone_from: Option<String>,
    pub clone_vmid: Option<i64>,
    pub clone_node: Option<String>,
    pub linked_clone: Option<bool>,
    pub cdrom_file: Option<String>,
    /// `cipassword` reads back masked: keep what was set.
    pub ci_password: Option<Secret>,
}

impl VmKept {
    pub(crate) fn of(prior: &VmSpec) -> Self {
        VmKept {
            vmid: prior.vmid.is_some(),
            tags: prior.tags.is_some(),
            clone_from: prior.clone_from.clone(),
            clone_vmid: prior.clone_vmid,
            clone_node: prior.clone_node.clone(),
            linked_clone: prior.linked_clone,
            cdrom_file: prior.cdrom_file.clone(),
            ci_password: prior.cloud_init.as_ref().and_then(|c| c.password.clone()),
        }
    }
}

fn tags_notes(
    config: &Map<String, Json>,
    declared: bool,
    ownership_tag: &str,
) -> (Option<Vec<String>>, Option<String>) {
    let tags = user_tags(text(config, "tags").as_deref(), ownership_tag);
    let tags = (!tags.is_empty() || declared).then_some(tags);
    (tags, user_notes(text(config, "description").as_deref()))
}

fn size_of(p: &IndexMap<String, String>) -> i64 {
    p.get("size").and_then(|s| parse_size_gib(s)).unwrap_or(0) as i64
}

/// A QEMU VM's (or template's) config as a `proxmox.vm` spec and outputs.
pub(crate) fn vm(rb: &Readback<'_>, kept: VmKept) -> (VmSpec, GuestOutputs) {
    let Readback {
        config,
        node,
        vmid,
        running,
        ownership_tag,
        pool,
    } = *rb;
    let mut disks = Vec::new();
    let mut cloud_init_storage = None;
    let mut cdrom = None;
    for key in sorted_keys(config, is_disk_slot) {
        let raw = text(config, key).unwrap_or_default();
        let p = parse_property_string(&raw, Some("file"));
        let file = p.get("file").cloned().unwrap_or_default();
        if file.contains("cloudinit") {
            cloud_init_storage = Some(volume_storage(&file).to_string());
            continue;
        }
        if p.get("media").is_some_and(|m| m == "cdrom") || file == "none" {
            // The disc in the first CD-ROM drive, as its volume id (without
            // the `media` and `size` Proxmox adds).
            if cdrom.is_none() && file.contains(':') {
                cdrom = Some(file);
            }
            continue;
        }
        disks.push(VmDisk {
            slot: key.clone(),
            storage: volume_storage(&file).to_string(),
            size_gb: Some(size_of(&p)),
            ssd: p.get("ssd").map(|v| flag(v)),
            discard: p.get("discard").map(|v| v == "on"),
            iothread: p.get("iothread").map(|v| flag(v)),
        });
    }

    let mut nics = Vec::new();
    let mut macs = IndexMap::new();
    for key in sorted_keys(config, |k| indexed(k, "net")) {
        let raw = text(config, key).unwrap_or_default();
        let p = parse_property_string(&raw, Some("model"));
        let model = match NIC_MODELS.iter().find(|m| p.contains_key(**m)).copied() {
            Some(m) => {
                if let Some(mac) = p.get(m).filter(|v| !v.is_empty()) {
                    macs.insert(key.clone(), mac.clone());
                }
                Some(m.to_string())
            }
            None => {
                if let Some(mac) = p.get("macaddr") {
                    macs.insert(key.clone(), mac.clone());
                }
                p.get("model").cloned()
            }
        };
        nics.push(VmNic {
            slot: key.clone(),
            model,
            bridge: p.get("bridge").cloned(),
            tag: p.get("tag").and_then(|t| t.parse().ok()),
            firewall: p.get("firewall").map(|f| flag(f)),
        });
    }

    let cloud_init = cloud_init_storage.map(|storage| {
        let ssh_keys = text(config, "sshkeys").map(|keys| {
            percent_encoding::percent_decode_str(&keys)
                .decode_utf8_lossy()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        });
        let ipconfig: Vec<String> = sorted_keys(config, |k| indexed(k, "ipconfig"))
            .into_iter()
            .filter_map(|k| text(config, k))
            .collect();
        CloudInit {
            storage,
            user: text(config, "ciuser"),
            password: kept.ci_password.clone(),
            ssh_keys,
            ipconfig: (!ipconfig.is_empty()).then_some(ipconfig),
            nameserver: text(config, "nameserver"),
            searchdomain: text(config, "searchdomain"),
        }
    });

    let agent = text(config, "agent")
        .map(|a| {
            let p = parse_property_string(&a, Some("enabled"));
            p.get("enabled").is_some_and(|v| flag(v))
        })
        .unwrap_or(false);
    let boot_order = text(config, "boot").and_then(|boot| {
        let p = parse_property_string(&boot, Some("legacy"));
        p.get("order").map(|order| {
            order
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
    });
    let (tags, notes) = tags_notes(config, kept.tags, ownership_tag);
    let spec = VmSpec {
        node: node.to_string(),
        vmid: kept.vmid.then_some(vmid),
        name: text(config, "name"),
        cores: int(config, "cores").unwrap_or(1),
        sockets: int(config, "sockets"),
        memory_mb: memory_mb(config).unwrap_or(512),
        cpu: text(config, "cpu"),
        clone_from: kept.clone_from,
        clone_vmid: kept.clone_vmid,
        clone_node: kept.clone_node,
        linked_clone: kept.linked_clone,
        scsihw: text(config, "scsihw"),
        machine: text(config, "machine"),
        balloon: int(config, "balloon"),
        disks,
        cdrom,
        // Which file the disc came from is the lab's bookkeeping.
        cdrom_file: kept.cdrom_file,
        nics,
        cloud_init,
        agent,
        boot_order,
        onboot: boolean(config, "onboot").unwrap_or(false),
        started: running,
        tags,
        notes,
        pool: pool.map(str::to_string),
    };
    let outputs = GuestOutputs {
        vmid,
        node: node.to_string(),
        macs,
        imported: false,
    };
    (spec, outputs)
}

/// An LXC container's config as a `proxmox.ct` spec and outputs; `prior`
/// gives what Proxmox does not keep (the OS template, create-time secrets).
pub(crate) fn ct(rb: &Readback<'_>, prior: Option<&CtSpec>) -> (CtSpec, GuestOutputs) {
    let Readback {
        config,
        node,
        vmid,
        running,
        ownership_tag,
        pool,
    } = *rb;
    let rootfs = text(config, "rootfs").map(|raw| {
        let p = parse_property_string(&raw, Some("volume"));
        CtVolume {
            storage: volume_storage(p.get("volume").map_or("", String::as_str)).to_string(),
            size_gb: Some(size_of(&p)),
        }
    });
    let mps: Vec<CtMountpoint> = sorted_keys(config, |k| indexed(k, "mp"))
        .into_iter()
        .map(|k| {
            let p = parse_property_string(&text(config, k).unwrap_or_default(), Some("volume"));
            CtMountpoint {
                slot: k.clone(),
                storage: volume_storage(p.get("volume").map_or("", String::as_str)).to_string(),
                size_gb: Some(size_of(&p)),
                path: p.get("mp").cloned().unwrap_or_default(),
            }
        })
        .collect();
    let declared_mps = prior.is_some_and(|p| p.mountpoints.is_some());
    let mut nics = Vec::new();
    let mut macs = IndexMap::new();
    for key in sorted_keys(config, |k| indexed(k, "net")) {
        let p = parse_property_string(&text(config, key).unwrap_or_default(), Some("name"));
        if let Some(mac) = p.get("hwaddr") {
            macs.insert(key.clone(), mac.clone());
        }
        nics.push(CtNic {
            slot: key.clone(),
            name: p.get("name").cloned(),
            bridge: p.get("bridge").cloned(),
            tag: p.get("tag").and_then(|t| t.parse().ok()),
            ip: p.get("ip").cloned(),
            gw: p.get("gw").cloned(),
            firewall: p.get("firewall").map(|f| flag(f)),
        });
    }
    let features = text(config, "features").map(|raw| {
        parse_property_string(&raw, None)
            .into_iter()
            .map(|(k, v)| (k, flag(&v)))
            .collect()
    });
    let (tags, notes) = tags_notes(
        config,
        prior.is_some_and(|p| p.tags.is_some()),
        ownership_tag,
    );
    let runtime = super::ct_runtime::observe(config, prior);
    let spec = CtSpec {
        node: node.to_string(),
        vmid: prior.and_then(|p| p.vmid).map(|_| vmid),
        hostname: text(config, "hostname"),
        cores: int(config, "cores").unwrap_or(1),
        memory_mb: int(config, "memory").unwrap_or(512),
        swap_mb: int(config, "swap").unwrap_or(512),
        // Proxmox does not keep the OS template or create-time secrets.
        ostemplate: prior.and_then(|p| p.ostemplate.clone()),
        ostemplate_file: prior.and_then(|p| p.ostemplate_file.clone()),
        password: prior.and_then(|p| p.password.clone()),
        ssh_keys: prior.and_then(|p| p.ssh_keys.clone()),
        entrypoint: runtime.entrypoint,
        env: runtime.env,
        env_secrets: runtime.env_secrets,
        rootfs,
        mountpoints: (!mps.is_empty() || declared_mps).then_some(mps),
        nics,
        unprivileged: boolean(config, "unprivileged").unwrap_or(false),
        features,
        onboot: boolean(config, "onboot").unwrap_or(false),
        started: running,
        tags,
        notes,
        pool: pool.map(str::to_string),
    };
    let outputs = GuestOutputs {
        vmid,
        node: node.to_string(),
        macs,
        imported: false,
    };
    (spec, outputs)
}
