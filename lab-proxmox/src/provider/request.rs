//! Lowering specs to the form parameters Proxmox takes: property strings
//! for disks, NICs and mount points, `0`/`1` booleans, the double-encoded
//! `sshkeys`, the ownership tag and notes line.

use indexmap::IndexMap;

use crate::api::Form;
use crate::kinds::{CloudInit, CtNic, CtSpec, VmDisk, VmNic, VmSpec};

use super::normalize::description;

fn bit(v: bool) -> &'static str {
    if v {
        "1"
    } else {
        "0"
    }
}

/// `tags=` with the ownership tag first.
pub(crate) fn tags(tags: Option<&[String]>, ownership_tag: &str) -> String {
    let mut t = vec![ownership_tag.to_string()];
    t.extend(tags.unwrap_or_default().iter().cloned());
    t.join(";")
}

/// A new volume: `local-lvm:32` (no size: `0`).
fn volume(storage: &str, size_gb: Option<i64>) -> String {
    format!("{storage}:{}", size_gb.unwrap_or(0))
}

/// A new QEMU disk: `local-lvm:32,ssd=1,discard=on,iothread=1`.
pub(crate) fn new_disk(d: &VmDisk) -> String {
    let mut v = volume(&d.storage, d.size_gb);
    if let Some(x) = d.ssd {
        v.push_str(&format!(",ssd={}", bit(x)));
    }
    if let Some(x) = d.discard {
        v.push_str(if x { ",discard=on" } else { ",discard=ignore" });
    }
    if let Some(x) = d.iothread {
        v.push_str(&format!(",iothread={}", bit(x)));
    }
    v
}

/// A QEMU NIC: `virtio[=MAC],bridge=vmbr0,tag=20,firewall=1`; the MAC is
/// passed when known so an update keeps it.
pub(crate) fn qemu_nic(n: &VmNic, mac: Option<&str>) -> String {
    let model = n.model.as_deref().unwrap_or("virtio");
    let mut v = match mac {
        Some(m) => format!("{model}={m}"),
        None => model.to_string(),
    };
    if let Some(br) = &n.bridge {
        v.push_str(&format!(",bridge={br}"));
    }
    if let Some(t) = n.tag {
        v.push_str(&format!(",tag={t}"));
    }
    if let Some(f) = n.firewall {
        v.push_str(&format!(",firewall={}", bit(f)));
    }
    v
}

/// An LXC NIC: `name=eth0,bridge=vmbr0,tag=30,ip=dhcp[,gw=..][,hwaddr=MAC]`,
/// with `host-managed=1` when the NIC has it (see [`host_managed_slots`]).
pub(crate) fn lxc_nic(n: &CtNic, mac: Option<&str>, host_managed: bool) -> String {
    let mut parts = vec![format!("name={}", n.name.as_deref().unwrap_or("eth0"))];
    for (k, v) in [("bridge", &n.bridge), ("ip", &n.ip), ("gw", &n.gw)] {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(t) = n.tag {
        parts.push(format!("tag={t}"));
    }
    if let Some(f) = n.firewall {
        parts.push(format!("firewall={}", bit(f)));
    }
    if let Some(m) = mac {
        parts.push(format!("hwaddr={m}"));
    }
    if host_managed {
        parts.push("host-managed=1".into());
    }
    parts.join(",")
}

/// The NIC slots of a container config that carry `host-managed=1`: PVE
/// sets it on every NIC of a container made from an OCI image whose
/// entrypoint is not `/sbin/init` (pve-container `restore_oci_archive`:
/// such a container has no network management inside, so the host runs
/// DHCP for it). A config write keeps it, or the container would lose its
/// network at the next start.
pub(crate) fn host_managed_slots(
    config: &serde_json::Map<String, serde_json::Value>,
) -> Vec<String> {
    config
        .iter()
        .filter(|(k, _)| k.starts_with("net") && k[3..].chars().all(|c| c.is_ascii_digit()))
        .filter(|(_, v)| {
            v.as_str().is_some_and(|s| {
                s.split(',')
                    .any(|p| matches!(p.trim(), "host-managed=1" | "host-managed=true"))
            })
        })
        .map(|(k, _)| k.clone())
        .collect()
}

/// A CD-ROM drive holding `volid` (`local:iso/x.iso,media=cdrom`), or an
/// empty one for `none`.
pub(crate) fn cdrom(volid: &str) -> String {
    format!("{volid},media=cdrom")
}

/// The cloud-init parameters of a VM.
pub(crate) fn cloud_init(form: &mut Form, ci: &CloudInit) {
    if let Some(u) = &ci.user {
        form.push_str("ciuser", u);
    }
    if let Some(pw) = &ci.password {
        form.push_secret("cipassword", pw);
    }
    if let Some(keys) = ci.ssh_keys.as_ref().filter(|k| !k.is_empty()) {
        form.push_sshkeys("sshkeys", keys);
    }
    for (n, ip) in ci.ipconfig.iter().flatten().enumerate() {
        form.push_str(&format!("ipconfig{n}"), ip);
    }
    if let Some(v) = &ci.nameserver {
        form.push_str("nameserver", v);
    }
    if let Some(v) = &ci.searchdomain {
        form.push_str("searchdomain", v);
    }
}

/// The MACs recorded per NIC slot.
pub(crate) type Macs = IndexMap<String, String>;

fn mac<'a>(macs: &'a Macs, slot: &str) -> Option<&'a str> {
    macs.get(slot).map(String::as_str)
}

/// The settings shared by VM create and update (not disks, not the CD-ROM,
/// whose slot depends on the guest's config).
pub(crate) fn vm_settings(
    form: &mut Form,
    spec: &VmSpec,
    macs: &Macs,
    ownership_tag: &str,
    marker: &str,
) {
    if let Some(n) = &spec.name {
        form.push_str("name", n);
    }
    form.push_int("cores", spec.cores);
    if let Some(c) = spec.sockets {
        form.push_int("sockets", c);
    }
    form.push_int("memory", spec.memory_mb);
    if let Some(c) = &spec.cpu {
        form.push_str("cpu", c);
    }
    if let Some(hw) = &spec.scsihw {
        form.push_str("scsihw", hw);
    }
    if let Some(m) = &spec.machine {
        form.push_str("machine", m);
    }
    if let Some(mb) = spec.balloon {
        form.push_int("balloon", mb);
    }
    for n in &spec.nics {
        form.push_str(&n.slot, &qemu_nic(n, mac(macs, &n.slot)));
    }
    if let Some(ci) = &spec.cloud_init {
        cloud_init(form, ci);
    }
    form.push_str("agent", if spec.agent { "enabled=1" } else { "enabled=0" });
    if let Some(order) = spec.boot_order.as_ref().filter(|o| !o.is_empty()) {
        form.push_str("boot", &format!("order={}", order.join(";")));
    }
    form.push_bool("onboot", spec.onboot);
    form.push_str("tags", &tags(spec.tags.as_deref(), ownership_tag));
    form.push_str("description", &description(spec.notes.as_deref(), marker));
}

/// The settings of an LXC container shared by create and update (not disks,
/// not the runtime settings); `host_managed` are the NIC slots that keep
/// `host-managed=1`.
pub(crate) fn ct_settings(
    form: &mut Form,
    spec: &CtSpec,
    macs: &Macs,
    host_managed: &[String],
    ownership_tag: &str,
    marker: &str,
) {
    if let Some(h) = &spec.hostname {
        form.push_str("hostname", h);
    }
    form.push_int("cores", spec.cores);
    form.push_int("memory", spec.memory_mb);
    form.push_int("swap", spec.swap_mb);
    for n in &spec.nics {
        let kept = host_managed.contains(&n.slot);
        form.push_str(&n.slot, &lxc_nic(n, mac(macs, &n.slot), kept));
    }
    if let Some(f) = &spec.features {
        let parts: Vec<String> = f
            .iter()
            .map(|(k, on)| format!("{k}={}", bit(*on)))
            .collect();
        if !parts.is_empty() {
            form.push_str("features", &parts.join(","));
        }
    }
    form.push_bool("onboot", spec.onboot);
    form.push_str("tags", &tags(spec.tags.as_deref(), ownership_tag));
    form.push_str("description", &description(spec.notes.as_deref(), marker));
}

/// `rootfs=local-lvm:8` or `mp0=tank:100,mp=/data` for a new volume.
pub(crate) fn ct_volume(storage: &str, size_gb: Option<i64>, path: Option<&str>) -> String {
    let mut v = volume(storage, size_gb);
    if let Some(p) = path {
        v.push_str(&format!(",mp={p}"));
    }
    v
}
