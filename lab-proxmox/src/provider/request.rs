//! Lowering attributes to the form parameters Proxmox takes: property
//! strings for disks, NICs and mount points, `0`/`1` booleans, the
//! double-encoded `sshkeys`, the ownership tag and notes line.

use lab_core::{Attrs, Secret, Value};

use crate::api::Form;

use super::normalize::description;
pub(crate) use crate::attrs::{b, i, map, maps, s, strings};

fn ms<'a>(m: &'a indexmap::IndexMap<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn mi(m: &indexmap::IndexMap<String, Value>, key: &str) -> Option<i64> {
    m.get(key).and_then(Value::as_i64)
}

fn mb(m: &indexmap::IndexMap<String, Value>, key: &str) -> Option<bool> {
    m.get(key).and_then(Value::as_bool)
}

fn bit(v: bool) -> &'static str {
    if v {
        "1"
    } else {
        "0"
    }
}

/// `tags=` with the ownership tag first.
pub(crate) fn tags(attrs: &Attrs, ownership_tag: &str) -> String {
    let mut t = vec![ownership_tag.to_string()];
    t.extend(strings(attrs, "tags"));
    t.join(";")
}

/// A new QEMU disk: `local-lvm:32,ssd=1,discard=on,iothread=1`.
pub(crate) fn new_disk(d: &indexmap::IndexMap<String, Value>) -> String {
    let mut v = format!(
        "{}:{}",
        ms(d, "storage").unwrap_or_default(),
        mi(d, "size_gb").unwrap_or(0)
    );
    disk_options(d, &mut v);
    v
}

fn disk_options(d: &indexmap::IndexMap<String, Value>, v: &mut String) {
    if let Some(x) = mb(d, "ssd") {
        v.push_str(&format!(",ssd={}", bit(x)));
    }
    if let Some(x) = mb(d, "discard") {
        v.push_str(if x { ",discard=on" } else { ",discard=ignore" });
    }
    if let Some(x) = mb(d, "iothread") {
        v.push_str(&format!(",iothread={}", bit(x)));
    }
}

/// A QEMU NIC: `virtio[=MAC],bridge=vmbr0,tag=20,firewall=1`; the MAC is
/// passed when known so an update keeps it.
pub(crate) fn qemu_nic(n: &indexmap::IndexMap<String, Value>, mac: Option<&str>) -> String {
    let model = ms(n, "model").unwrap_or("virtio");
    let mut v = match mac {
        Some(m) => format!("{model}={m}"),
        None => model.to_string(),
    };
    if let Some(br) = ms(n, "bridge") {
        v.push_str(&format!(",bridge={br}"));
    }
    if let Some(t) = mi(n, "tag") {
        v.push_str(&format!(",tag={t}"));
    }
    if let Some(f) = mb(n, "firewall") {
        v.push_str(&format!(",firewall={}", bit(f)));
    }
    v
}

/// An LXC NIC: `name=eth0,bridge=vmbr0,tag=30,ip=dhcp[,gw=..][,hwaddr=MAC]`.
pub(crate) fn lxc_nic(n: &indexmap::IndexMap<String, Value>, mac: Option<&str>) -> String {
    let mut parts = vec![format!("name={}", ms(n, "name").unwrap_or("eth0"))];
    for k in ["bridge", "ip", "gw"] {
        if let Some(v) = ms(n, k) {
            parts.push(format!("{k}={v}"));
        }
    }
    if let Some(t) = mi(n, "tag") {
        parts.push(format!("tag={t}"));
    }
    if let Some(f) = mb(n, "firewall") {
        parts.push(format!("firewall={}", bit(f)));
    }
    if let Some(m) = mac {
        parts.push(format!("hwaddr={m}"));
    }
    parts.join(",")
}

/// A CD-ROM drive holding `volid` (`local:iso/x.iso,media=cdrom`), or an
/// empty one for `none`.
pub(crate) fn cdrom(volid: &str) -> String {
    format!("{volid},media=cdrom")
}

/// The MAC recorded for a NIC slot in the outputs.
pub(crate) fn mac<'a>(outputs: &'a Attrs, slot: &str) -> Option<&'a str> {
    match outputs.get("macs") {
        Some(Value::Map(m)) => m.get(slot).and_then(Value::as_str),
        _ => None,
    }
}

/// The cloud-init parameters of a VM.
pub(crate) fn cloud_init(form: &mut Form, ci: &indexmap::IndexMap<String, Value>) {
    if let Some(u) = ms(ci, "user") {
        form.push_str("ciuser", u);
    }
    if let Some(Value::Secret(pw)) = ci.get("password") {
        form.push_secret("cipassword", pw);
    }
    if let Some(Value::List(keys)) = ci.get("ssh_keys") {
        let keys: Vec<String> = keys
            .iter()
            .filter_map(|k| k.as_str().map(str::to_string))
            .collect();
        if !keys.is_empty() {
            form.push_sshkeys("sshkeys", &keys);
        }
    }
    if let Some(Value::List(ips)) = ci.get("ipconfig") {
        for (n, ip) in ips.iter().enumerate() {
            if let Some(ip) = ip.as_str() {
                form.push_str(&format!("ipconfig{n}"), ip);
            }
        }
    }
    for (k, key) in [
        ("nameserver", "nameserver"),
        ("searchdomain", "searchdomain"),
    ] {
        if let Some(v) = ms(ci, k) {
            form.push_str(key, v);
        }
    }
}

/// The settings shared by VM create and update (not disks, not the CD-ROM,
/// whose slot depends on the guest's config).
pub(crate) fn vm_settings(
    form: &mut Form,
    attrs: &Attrs,
    outputs: &Attrs,
    ownership_tag: &str,
    marker: &str,
) {
    if let Some(n) = s(attrs, "name") {
        form.push_str("name", n);
    }
    if let Some(c) = i(attrs, "cores") {
        form.push_int("cores", c);
    }
    if let Some(c) = i(attrs, "sockets") {
        form.push_int("sockets", c);
    }
    if let Some(m) = i(attrs, "memory_mb") {
        form.push_int("memory", m);
    }
    if let Some(c) = s(attrs, "cpu") {
        form.push_str("cpu", c);
    }
    if let Some(hw) = s(attrs, "scsihw") {
        form.push_str("scsihw", hw);
    }
    if let Some(m) = s(attrs, "machine") {
        form.push_str("machine", m);
    }
    if let Some(mb) = i(attrs, "balloon") {
        form.push_int("balloon", mb);
    }
    for n in maps(attrs, "nics") {
        if let Some(slot) = ms(n, "slot") {
            form.push_str(slot, &qemu_nic(n, mac(outputs, slot)));
        }
    }
    if let Some(ci) = map(attrs, "cloud_init") {
        cloud_init(form, ci);
    }
    if let Some(a) = b(attrs, "agent") {
        form.push_str("agent", if a { "enabled=1" } else { "enabled=0" });
    }
    let order = strings(attrs, "boot_order");
    if !order.is_empty() {
        form.push_str("boot", &format!("order={}", order.join(";")));
    }
    if let Some(o) = b(attrs, "onboot") {
        form.push_bool("onboot", o);
    }
    form.push_str("tags", &tags(attrs, ownership_tag));
    form.push_str("description", &description(s(attrs, "notes"), marker));
}

/// The settings of an LXC container shared by create and update (not disks).
pub(crate) fn ct_settings(
    form: &mut Form,
    attrs: &Attrs,
    outputs: &Attrs,
    ownership_tag: &str,
    marker: &str,
) {
    if let Some(h) = s(attrs, "hostname") {
        form.push_str("hostname", h);
    }
    if let Some(c) = i(attrs, "cores") {
        form.push_int("cores", c);
    }
    if let Some(m) = i(attrs, "memory_mb") {
        form.push_int("memory", m);
    }
    if let Some(m) = i(attrs, "swap_mb") {
        form.push_int("swap", m);
    }
    for n in maps(attrs, "nics") {
        if let Some(slot) = ms(n, "slot") {
            form.push_str(slot, &lxc_nic(n, mac(outputs, slot)));
        }
    }
    if let Some(f) = map(attrs, "features") {
        let parts: Vec<String> = f
            .iter()
            .filter_map(|(k, v)| v.as_bool().map(|on| format!("{k}={}", bit(on))))
            .collect();
        if !parts.is_empty() {
            form.push_str("features", &parts.join(","));
        }
    }
    if let Some(o) = b(attrs, "onboot") {
        form.push_bool("onboot", o);
    }
    form.push_str("tags", &tags(attrs, ownership_tag));
    form.push_str("description", &description(s(attrs, "notes"), marker));
}

/// `rootfs=local-lvm:8` or `mp0=tank:100,mp=/data` for a new volume.
pub(crate) fn ct_volume(m: &indexmap::IndexMap<String, Value>) -> String {
    let mut v = format!(
        "{}:{}",
        ms(m, "storage").unwrap_or_default(),
        mi(m, "size_gb").unwrap_or(0)
    );
    if let Some(p) = ms(m, "path") {
        v.push_str(&format!(",mp={p}"));
    }
    v
}

/// A secret attribute, if set.
pub(crate) fn secret(attrs: &Attrs, key: &str) -> Option<Secret> {
    match attrs.get(key) {
        Some(Value::Secret(s)) => Some(s.clone()),
        _ => None,
    }
}
