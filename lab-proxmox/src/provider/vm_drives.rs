//! A VM's drives in its config: disk sizes, and the IDE bus where the lab
//! puts the CD-ROM and the cloud-init drive.

use lab_core::ProviderError;
use serde_json::{Map, Value as Json};

use super::{normalize, request};
use crate::api::Form;
use crate::kinds::VmSpec;

/// The size (GiB) of a disk slot in a config (`None`: no such slot).
pub(crate) fn disk_size(config: &Map<String, Json>, slot: &str) -> Option<u64> {
    let raw = normalize::text(config, slot)?;
    let p = crate::api::propstr::parse_property_string(&raw, Some("file"));
    Some(
        p.get("size")
            .and_then(|s| crate::api::propstr::parse_size_gib(s))
            .unwrap_or(0),
    )
}

/// IDE slots in the order the lab fills them: `ide2` first, where
/// Proxmox's own tools put CD-ROM and cloud-init drives.
const IDE_SLOTS: [&str; 4] = ["ide2", "ide0", "ide1", "ide3"];

/// Does a drive value describe a CD-ROM drive (empty or not) that is not a
/// cloud-init drive?
fn is_cdrom_drive(value: &str) -> bool {
    let p = crate::api::propstr::parse_property_string(value, Some("file"));
    let file = p.get("file").map_or("", String::as_str);
    !file.contains("cloudinit")
        && (p.get("media").is_some_and(|m| m == "cdrom") || matches!(file, "none" | "cdrom"))
}

/// The guest's first CD-ROM drive that is not a cloud-init drive, in the
/// order [`normalize`] reads them.
pub(crate) fn cdrom_drive(config: &Map<String, Json>) -> Option<String> {
    normalize::sorted_keys(config, normalize::is_disk_slot)
        .into_iter()
        .find(|k| normalize::text(config, k).is_some_and(|v| is_cdrom_drive(&v)))
        .cloned()
}

/// The first IDE slot that the guest's config, the lab's disks and `taken`
/// leave free.
fn free_ide(
    config: &Map<String, Json>,
    spec: &VmSpec,
    taken: Option<&str>,
) -> Option<&'static str> {
    let declared = |slot: &str| spec.disks.iter().any(|d| d.slot == slot);
    IDE_SLOTS
        .into_iter()
        .find(|k| !config.contains_key(*k) && !declared(k) && taken != Some(*k))
}

/// Adds the lab's drives on the IDE bus to a create or update form:
///
/// - the CD-ROM (`cdrom`), into the guest's existing CD-ROM drive (a clone
///   keeps its template's), else `ide2` or the first free IDE slot;
/// - a cloud-init drive when the lab wants cloud-init and the guest has
///   none (a new VM, a clone of a template without one, or a drive removed
///   by hand), in a free IDE slot the CD-ROM does not take.
pub(crate) fn add_ide_drives(
    form: &mut Form,
    spec: &VmSpec,
    config: &Map<String, Json>,
) -> Result<(), ProviderError> {
    let no_slot = |what: &str| {
        ProviderError::permanent(format!(
            "no free IDE slot for {what}: ide0 to ide3 are all in use"
        ))
    };
    let mut cdrom_slot = None;
    if let Some(volid) = &spec.cdrom {
        let slot = match cdrom_drive(config) {
            Some(slot) => slot,
            None => free_ide(config, spec, None)
                .ok_or_else(|| no_slot("the CD-ROM"))?
                .to_string(),
        };
        form.push_str(&slot, &request::cdrom(volid));
        cdrom_slot = Some(slot);
    }
    let has_drive = config.keys().any(|k| {
        normalize::is_disk_slot(k)
            && normalize::text(config, k).is_some_and(|v| v.contains("cloudinit"))
    });
    if let (Some(ci), false) = (&spec.cloud_init, has_drive) {
        let slot = free_ide(config, spec, cdrom_slot.as_deref())
            .ok_or_else(|| no_slot("the cloud-init drive"))?;
        form.push_str(slot, &format!("{}:cloudinit", ci.storage));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::CloudInit;

    fn wants(cdrom: Option<&str>, cloud_init: bool) -> VmSpec {
        VmSpec {
            node: "pve1".into(),
            vmid: None,
            name: None,
            cores: 1,
            sockets: None,
            memory_mb: 1024,
            cpu: None,
            clone_from: None,
            clone_vmid: None,
            clone_node: None,
            linked_clone: None,
            scsihw: None,
            machine: None,
            balloon: None,
            disks: vec![],
            cdrom: cdrom.map(str::to_string),
            cdrom_file: None,
            nics: vec![],
            cloud_init: cloud_init.then(|| CloudInit {
                storage: "local-lvm".into(),
                user: None,
                password: None,
                ssh_keys: None,
                ipconfig: None,
                nameserver: None,
                searchdomain: None,
            }),
            agent: true,
            boot_order: None,
            onboot: false,
            started: true,
            tags: None,
            notes: None,
            pool: None,
        }
    }

    fn config(pairs: &[(&str, &str)]) -> Map<String, Json> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Json::from(*v)))
            .collect()
    }

    fn ide(spec: &VmSpec, config: &Map<String, Json>) -> String {
        let mut form = Form::new();
        add_ide_drives(&mut form, spec, config).unwrap();
        form.encode()
    }

    #[test]
    fn the_cdrom_takes_ide2_and_cloud_init_the_next_free_slot() {
        let iso = Some("local:iso/talos.iso");
        assert_eq!(
            ide(&wants(iso, true), &Map::new()),
            "ide2=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom&ide0=local-lvm%3Acloudinit"
        );
        assert_eq!(
            ide(&wants(None, true), &Map::new()),
            "ide2=local-lvm%3Acloudinit"
        );
        // A template's cloud-init drive in ide2 stays; the disc goes next to it.
        let cloned = config(&[("ide2", "local-lvm:vm-9000-cloudinit,media=cdrom")]);
        assert_eq!(
            ide(&wants(iso, true), &cloned),
            "ide0=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom"
        );
        // An existing CD-ROM drive (empty or not) takes the disc.
        let empty = config(&[("ide0", "none,media=cdrom")]);
        assert_eq!(
            ide(&wants(iso, false), &empty),
            "ide0=local%3Aiso%2Ftalos.iso%2Cmedia%3Dcdrom"
        );
        assert_eq!(cdrom_drive(&empty).as_deref(), Some("ide0"));
        assert_eq!(cdrom_drive(&cloned), None);
    }
}
