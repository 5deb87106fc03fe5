//! Reading Proxmox configs back into the attribute shapes of
//! [`crate::kinds`], so that an unchanged lab diffs as no changes.
//!
//! What Proxmox adds or rewrites is dropped or moved to outputs: the MAC
//! that `net0` carries as `virtio=BC:24:11:..`, volume names and `size=` on
//! disks, `media=cdrom` and `size=` on a CD-ROM (read back as the ISO's
//! volume id), the masked `cipassword`, the ownership tag and notes line,
//! the `digest`. Values Proxmox never returns (passwords, `ssh-public-keys`,
//! the clone source, the OS template, the file a CD-ROM's ISO came from) are
//! carried over from the recorded state.

use indexmap::IndexMap;
use lab_core::{Attrs, Value};
use serde_json::{Map, Value as Json};

use crate::api::propstr::{parse_property_string, parse_size_gib};

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

/// The storage id of a volume id (`local-lvm:vm-101-disk-0` -> `local-lvm`).
pub(crate) fn volume_storage(volid: &str) -> &str {
    volid.split(':').next().unwrap_or(volid)
}

/// Carries `key` over from `prior` when Proxmox does not return it.
fn carry(out: &mut Attrs, prior: &Attrs, key: &str) {
    if let Some(v) = prior.get(key) {
        out.insert(key.to_string(), v.clone());
    }
}

fn set_tags_notes(out: &mut Attrs, config: &Map<String, Json>, prior: &Attrs, ownership_tag: &str) {
    let tags = user_tags(text(config, "tags").as_deref(), ownership_tag);
    if !tags.is_empty() || prior.contains_key("tags") {
        out.insert("tags".into(), tags.into());
    }
    if let Some(n) = user_notes(text(config, "description").as_deref()) {
        out.insert("notes".into(), n.into());
    }
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

/// A QEMU VM's (or template's) config as `proxmox.vm` attributes and outputs.
pub(crate) fn vm(
    config: &Map<String, Json>,
    node: &str,
    vmid: i64,
    running: bool,
    prior: &Attrs,
    ownership_tag: &str,
) -> (Attrs, Attrs) {
    let mut out = Attrs::new();
    let mut outputs = Attrs::new();
    out.insert("node".into(), node.into());
    if prior.contains_key("vmid") {
        out.insert("vmid".into(), vmid.into());
    }
    if let Some(name) = text(config, "name") {
        out.insert("name".into(), name.into());
    }
    out.insert("cores".into(), int(config, "cores").unwrap_or(1).into());
    if let Some(s) = int(config, "sockets") {
        out.insert("sockets".into(), s.into());
    }
    out.insert("memory_mb".into(), memory_mb(config).unwrap_or(512).into());
    if let Some(cpu) = text(config, "cpu") {
        out.insert("cpu".into(), cpu.into());
    }
    carry(&mut out, prior, "clone_from");
    carry(&mut out, prior, "clone_vmid");

    if let Some(hw) = text(config, "scsihw") {
        out.insert("scsihw".into(), hw.into());
    }
    if let Some(m) = text(config, "machine") {
        out.insert("machine".into(), m.into());
    }
    if let Some(b) = int(config, "balloon") {
        out.insert("balloon".into(), b.into());
    }

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
        let mut d = IndexMap::new();
        d.insert("slot".to_string(), Value::from(key.as_str()));
        d.insert("storage".into(), volume_storage(&file).into());
        let size = p.get("size").and_then(|s| parse_size_gib(s)).unwrap_or(0);
        d.insert("size_gb".into(), Value::Int(size as i64));
        if let Some(v) = p.get("ssd") {
            d.insert("ssd".into(), flag(v).into());
        }
        if let Some(v) = p.get("discard") {
            d.insert("discard".into(), (v == "on").into());
        }
        if let Some(v) = p.get("iothread") {
            d.insert("iothread".into(), flag(v).into());
        }
        disks.push(Value::Map(d));
    }
    out.insert("disks".into(), Value::List(disks));
    if let Some(volid) = cdrom {
        out.insert("cdrom".into(), volid.into());
    }
    // Which file the disc came from is the lab's bookkeeping.
    carry(&mut out, prior, "cdrom_file");

    let mut nics = Vec::new();
    let mut macs = IndexMap::new();
    for key in sorted_keys(config, |k| indexed(k, "net")) {
        let raw = text(config, key).unwrap_or_default();
        let p = parse_property_string(&raw, Some("model"));
        let mut n = IndexMap::new();
        n.insert("slot".to_string(), Value::from(key.as_str()));
        let model = NIC_MODELS.iter().find(|m| p.contains_key(**m)).copied();
        match model {
            Some(m) => {
                n.insert("model".into(), m.into());
                if let Some(mac) = p.get(m).filter(|v| !v.is_empty()) {
                    macs.insert(key.clone(), Value::from(mac.as_str()));
                }
            }
            None => {
                if let Some(m) = p.get("model") {
                    n.insert("model".into(), m.as_str().into());
                }
                if let Some(mac) = p.get("macaddr") {
                    macs.insert(key.clone(), Value::from(mac.as_str()));
                }
            }
        }
        if let Some(b) = p.get("bridge") {
            n.insert("bridge".into(), b.as_str().into());
        }
        if let Some(t) = p.get("tag").and_then(|t| t.parse::<i64>().ok()) {
            n.insert("tag".into(), t.into());
        }
        if let Some(f) = p.get("firewall") {
            n.insert("firewall".into(), flag(f).into());
        }
        nics.push(Value::Map(n));
    }
    out.insert("nics".into(), Value::List(nics));

    if let Some(storage) = cloud_init_storage {
        let mut ci = IndexMap::new();
        ci.insert("storage".to_string(), Value::from(storage));
        if let Some(u) = text(config, "ciuser") {
            ci.insert("user".into(), u.into());
        }
        // cipassword reads back masked: keep what was set.
        if let Some(Value::Map(prior_ci)) = prior.get("cloud_init") {
            if let Some(pw) = prior_ci.get("password") {
                ci.insert("password".into(), pw.clone());
            }
        }
        if let Some(keys) = text(config, "sshkeys") {
            let decoded = percent_encoding::percent_decode_str(&keys)
                .decode_utf8_lossy()
                .to_string();
            let list: Vec<Value> = decoded
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(Value::from)
                .collect();
            ci.insert("ssh_keys".into(), Value::List(list));
        }
        let ipconfig: Vec<Value> = sorted_keys(config, |k| indexed(k, "ipconfig"))
            .into_iter()
            .filter_map(|k| text(config, k))
            .map(Value::from)
            .collect();
        if !ipconfig.is_empty() {
            ci.insert("ipconfig".into(), Value::List(ipconfig));
        }
        if let Some(v) = text(config, "nameserver") {
            ci.insert("nameserver".into(), v.into());
        }
        if let Some(v) = text(config, "searchdomain") {
            ci.insert("searchdomain".into(), v.into());
        }
        out.insert("cloud_init".into(), Value::Map(ci));
    }

    let agent = text(config, "agent")
        .map(|a| {
            let p = parse_property_string(&a, Some("enabled"));
            p.get("enabled").is_some_and(|v| flag(v))
        })
        .unwrap_or(false);
    out.insert("agent".into(), agent.into());
    if let Some(boot) = text(config, "boot") {
        let p = parse_property_string(&boot, Some("legacy"));
        if let Some(order) = p.get("order") {
            let list: Vec<Value> = order
                .split(';')
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect();
            out.insert("boot_order".into(), Value::List(list));
        }
    }
    out.insert(
        "onboot".into(),
        boolean(config, "onboot").unwrap_or(false).into(),
    );
    out.insert("started".into(), running.into());
    set_tags_notes(&mut out, config, prior, ownership_tag);
    carry(&mut out, prior, "pool");
    // Template-only fields the config cannot tell.
    for k in ["image", "image_file", "storage", "disk_gb"] {
        carry(&mut out, prior, k);
    }

    outputs.insert("vmid".into(), vmid.into());
    outputs.insert("node".into(), node.into());
    outputs.insert("macs".into(), Value::Map(macs));
    (out, outputs)
}

/// An LXC container's config as `proxmox.ct` attributes and outputs.
pub(crate) fn ct(
    config: &Map<String, Json>,
    node: &str,
    vmid: i64,
    running: bool,
    prior: &Attrs,
    ownership_tag: &str,
) -> (Attrs, Attrs) {
    let mut out = Attrs::new();
    let mut outputs = Attrs::new();
    out.insert("node".into(), node.into());
    if prior.contains_key("vmid") {
        out.insert("vmid".into(), vmid.into());
    }
    if let Some(h) = text(config, "hostname") {
        out.insert("hostname".into(), h.into());
    }
    out.insert("cores".into(), int(config, "cores").unwrap_or(1).into());
    out.insert(
        "memory_mb".into(),
        int(config, "memory").unwrap_or(512).into(),
    );
    out.insert("swap_mb".into(), int(config, "swap").unwrap_or(512).into());
    // Proxmox does not keep the OS template or create-time secrets.
    for k in ["ostemplate", "ostemplate_file", "password", "ssh_keys"] {
        carry(&mut out, prior, k);
    }
    if let Some(raw) = text(config, "rootfs") {
        let p = parse_property_string(&raw, Some("volume"));
        let mut r = IndexMap::new();
        r.insert(
            "storage".to_string(),
            Value::from(volume_storage(p.get("volume").map_or("", String::as_str))),
        );
        r.insert(
            "size_gb".into(),
            Value::Int(p.get("size").and_then(|s| parse_size_gib(s)).unwrap_or(0) as i64),
        );
        out.insert("rootfs".into(), Value::Map(r));
    }
    let mps: Vec<Value> = sorted_keys(config, |k| indexed(k, "mp"))
        .into_iter()
        .map(|k| {
            let p = parse_property_string(&text(config, k).unwrap_or_default(), Some("volume"));
            let mut m = IndexMap::new();
            m.insert("slot".to_string(), Value::from(k.as_str()));
            m.insert(
                "storage".into(),
                volume_storage(p.get("volume").map_or("", String::as_str)).into(),
            );
            m.insert(
                "size_gb".into(),
                Value::Int(p.get("size").and_then(|s| parse_size_gib(s)).unwrap_or(0) as i64),
            );
            m.insert(
                "path".into(),
                p.get("mp").cloned().unwrap_or_default().into(),
            );
            Value::Map(m)
        })
        .collect();
    if !mps.is_empty() || prior.contains_key("mountpoints") {
        out.insert("mountpoints".into(), Value::List(mps));
    }
    let mut nics = Vec::new();
    let mut macs = IndexMap::new();
    for key in sorted_keys(config, |k| indexed(k, "net")) {
        let p = parse_property_string(&text(config, key).unwrap_or_default(), Some("name"));
        let mut n = IndexMap::new();
        n.insert("slot".to_string(), Value::from(key.as_str()));
        for field in ["name", "bridge", "ip", "gw"] {
            if let Some(v) = p.get(field) {
                n.insert(field.into(), v.as_str().into());
            }
        }
        if let Some(t) = p.get("tag").and_then(|t| t.parse::<i64>().ok()) {
            n.insert("tag".into(), t.into());
        }
        if let Some(f) = p.get("firewall") {
            n.insert("firewall".into(), flag(f).into());
        }
        if let Some(mac) = p.get("hwaddr") {
            macs.insert(key.clone(), Value::from(mac.as_str()));
        }
        nics.push(Value::Map(n));
    }
    out.insert("nics".into(), Value::List(nics));
    out.insert(
        "unprivileged".into(),
        boolean(config, "unprivileged").unwrap_or(false).into(),
    );
    if let Some(raw) = text(config, "features") {
        let p = parse_property_string(&raw, None);
        let mut f = IndexMap::new();
        for (k, v) in p {
            f.insert(k, Value::Bool(flag(&v)));
        }
        out.insert("features".into(), Value::Map(f));
    }
    out.insert(
        "onboot".into(),
        boolean(config, "onboot").unwrap_or(false).into(),
    );
    out.insert("started".into(), running.into());
    set_tags_notes(&mut out, config, prior, ownership_tag);
    carry(&mut out, prior, "pool");
    outputs.insert("vmid".into(), vmid.into());
    outputs.insert("node".into(), node.into());
    outputs.insert("macs".into(), Value::Map(macs));
    (out, outputs)
}
