//! Volumes: naming, allocation, cloning and freeing, per storage type.
//!
//! Names follow the storage plugins (proxmox-api.md §6, §8):
//! - block storages (`lvmthin`, `lvm`, `zfspool`, `rbd`): `vm-<vmid>-disk-<n>`
//!   (ZFS container volumes: `subvol-<vmid>-disk-<n>`), cloud-init
//!   `vm-<vmid>-cloudinit`, template disks `base-<vmid>-disk-<n>`, linked
//!   clones `base-<tid>-disk-<n>/vm-<vmid>-disk-<m>`;
//! - file storages (`dir`, `nfs`, ...): `<vmid>/vm-<vmid>-disk-<n>.<fmt>`
//!   (raw by default), cloud-init `<vmid>/vm-<vmid>-cloudinit.qcow2`.

use super::propstr::{format_size, GIB_BYTES, MIB_BYTES};
use super::rest::ApiError;
use super::world::{now, Storage, Volume, World};

/// The storage `id` as usable from `node`, with PVE's error texts.
pub(crate) fn storage_on<'a>(
    world: &'a World,
    node: &str,
    id: &str,
) -> Result<&'a Storage, String> {
    let storage = world
        .storages
        .get(id)
        .ok_or_else(|| format!("storage '{id}' does not exist"))?;
    if !storage.on_node(node) || storage.options.get("disable").map(String::as_str) == Some("1") {
        return Err(format!("storage '{id}' is not available on node '{node}'"));
    }
    Ok(storage)
}

/// Checks that a guest disk may be allocated on `id` (create/update
/// handlers, before the worker forks).
pub(crate) fn check_image_storage(
    world: &World,
    node: &str,
    id: &str,
    content: &str,
) -> Result<(), ApiError> {
    let storage = storage_on(world, node, id).map_err(ApiError::Die)?;
    if !storage.allows(content) {
        return Err(if content == "images" {
            ApiError::param(
                "storage",
                format!("storage '{id}' does not support vm images"),
            )
        } else {
            ApiError::die(format!(
                "storage '{id}' does not support container directories"
            ))
        });
    }
    Ok(())
}

/// Splits `storage:volname`.
pub(crate) fn split_volid(volid: &str) -> Option<(&str, &str)> {
    let (storage, name) = volid.split_once(':')?;
    if storage.is_empty() || name.is_empty() {
        return None;
    }
    Some((storage, name))
}

fn node_of(storage: &Storage, node: &str) -> Option<String> {
    (!storage.shared).then(|| node.to_string())
}

fn name_taken(world: &World, node: &str, storage: &str, needle: &str) -> bool {
    world.volumes.iter().any(|v| {
        v.storage == storage
            && v.node.as_deref().is_none_or(|n| n == node)
            && v.volid
                .split(['/', ':'])
                .any(|part| part.split('.').next() == Some(needle))
    })
}

/// The next free disk number for `vmid` on a storage.
fn next_disk_number(world: &World, node: &str, storage: &str, vmid: u32) -> u32 {
    (0..)
        .find(|n| {
            !["vm", "base", "subvol"].iter().any(|prefix| {
                name_taken(world, node, storage, &format!("{prefix}-{vmid}-disk-{n}"))
            })
        })
        .unwrap_or(0)
}

fn lvm_vg(storage: &Storage) -> &str {
    storage
        .options
        .get("vgname")
        .map(String::as_str)
        .unwrap_or("pve")
}

/// Allocates a new disk image and returns its volid.
#[allow(clippy::too_many_arguments)]
pub(crate) fn alloc_image(
    world: &mut World,
    node: &str,
    storage_id: &str,
    vmid: u32,
    size: u64,
    content: &str,
    format: Option<&str>,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let storage = storage_on(world, node, storage_id)?.clone();
    let n = next_disk_number(world, node, storage_id, vmid);
    let (volname, fmt) = if storage.file_based() {
        let fmt = format.unwrap_or("raw");
        let name = format!("{vmid}/vm-{vmid}-disk-{n}.{fmt}");
        let path = storage.path().unwrap_or("/var/lib/vz");
        log.push(format!(
            "Formatting '{path}/images/{name}', fmt={fmt} size={size} preallocation=off"
        ));
        (name, fmt.to_string())
    } else if storage.kind == "zfspool" && content == "rootdir" {
        (format!("subvol-{vmid}-disk-{n}"), "subvol".to_string())
    } else {
        let name = format!("vm-{vmid}-disk-{n}");
        if storage.kind.starts_with("lvm") {
            log.push(format!("  Logical volume \"{name}\" created."));
        }
        (name, "raw".to_string())
    };
    let volid = format!("{storage_id}:{volname}");
    world.volumes.push(Volume {
        volid: volid.clone(),
        storage: storage_id.to_string(),
        node: node_of(&storage, node),
        content: content.to_string(),
        format: fmt,
        size,
        vmid: Some(vmid),
        ctime: now(),
        virtual_size: None,
        download: None,
        oci: None,
    });
    Ok(volid)
}

/// Allocates a raw volume with a given name (`vm-<vmid>-state-<snap>`,
/// `.raw` appended on file storages: `PVE::Storage::vdisk_alloc` with a
/// name) and returns its volid.
pub(crate) fn alloc_named(
    world: &mut World,
    node: &str,
    storage_id: &str,
    vmid: u32,
    name: &str,
    size: u64,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let storage = storage_on(world, node, storage_id)?.clone();
    if !storage.allows("images") {
        return Err(format!(
            "storage '{storage_id}' does not support content-type 'images'"
        ));
    }
    let volname = if storage.file_based() {
        let volname = format!("{vmid}/{name}.raw");
        let path = storage.path().unwrap_or("/var/lib/vz");
        log.push(format!(
            "Formatting '{path}/images/{volname}', fmt=raw size={size} preallocation=off"
        ));
        volname
    } else {
        if storage.kind.starts_with("lvm") {
            log.push(format!("  Logical volume \"{name}\" created."));
        }
        name.to_string()
    };
    let volid = format!("{storage_id}:{volname}");
    if world.volume(node, &volid).is_some() {
        return Err(format!("volume '{volid}' already exists"));
    }
    world.volumes.push(Volume {
        volid: volid.clone(),
        storage: storage_id.to_string(),
        node: node_of(&storage, node),
        content: "images".to_string(),
        format: "raw".to_string(),
        size,
        vmid: Some(vmid),
        ctime: now(),
        virtual_size: None,
        download: None,
        oci: None,
    });
    Ok(volid)
}

/// Allocates a cloud-init drive and returns its volid.
pub(crate) fn alloc_cloudinit(
    world: &mut World,
    node: &str,
    storage_id: &str,
    vmid: u32,
) -> Result<String, String> {
    let storage = storage_on(world, node, storage_id)?.clone();
    let (volname, fmt) = if storage.file_based() {
        (format!("{vmid}/vm-{vmid}-cloudinit.qcow2"), "qcow2")
    } else {
        (format!("vm-{vmid}-cloudinit"), "raw")
    };
    let volid = format!("{storage_id}:{volname}");
    if world.volume(node, &volid).is_none() {
        world.volumes.push(Volume {
            volid: volid.clone(),
            storage: storage_id.to_string(),
            node: node_of(&storage, node),
            content: "images".to_string(),
            format: fmt.to_string(),
            size: 4 * MIB_BYTES,
            vmid: Some(vmid),
            ctime: now(),
            virtual_size: None,
            download: None,
            oci: None,
        });
    }
    Ok(volid)
}

/// Whether a linked clone of `volid` is possible (lvmthin, or qcow2 files).
pub(crate) fn supports_linked_clone(world: &World, volid: &str) -> bool {
    let Some((storage, name)) = split_volid(volid) else {
        return false;
    };
    match world.storages.get(storage) {
        Some(s) if s.file_based() => name.ends_with(".qcow2"),
        Some(s) => matches!(s.kind.as_str(), "lvmthin" | "zfspool" | "rbd"),
        None => false,
    }
}

/// Creates a linked clone of a template volume.
pub(crate) fn linked_clone(
    world: &mut World,
    node: &str,
    base_volid: &str,
    vmid: u32,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let base = world
        .volume(node, base_volid)
        .cloned()
        .ok_or_else(|| format!("volume '{base_volid}' does not exist"))?;
    let (storage_id, base_name) = split_volid(base_volid).ok_or("invalid volume id")?;
    let storage = storage_on(world, node, storage_id)?.clone();
    let n = next_disk_number(world, node, storage_id, vmid);
    let volname = if storage.file_based() {
        format!("{base_name}/{vmid}/vm-{vmid}-disk-{n}.qcow2")
    } else {
        format!("{base_name}/vm-{vmid}-disk-{n}")
    };
    if storage.kind.starts_with("lvm") {
        log.push(format!("  Logical volume \"vm-{vmid}-disk-{n}\" created."));
    }
    let volid = format!("{storage_id}:{volname}");
    world.volumes.push(Volume {
        volid: volid.clone(),
        vmid: Some(vmid),
        ctime: now(),
        ..base
    });
    Ok(volid)
}

/// Renames a VM disk to its template (`base-`) name; returns the new volid.
pub(crate) fn to_base(
    world: &mut World,
    node: &str,
    volid: &str,
    log: &mut Vec<String>,
) -> Result<String, String> {
    let (storage_id, name) = split_volid(volid).ok_or("invalid volume id")?;
    if name.contains("base-") {
        return Ok(volid.to_string());
    }
    let new_name = name.replacen("vm-", "base-", 1);
    let new_volid = format!("{storage_id}:{new_name}");
    let storage = world.storages.get(storage_id).cloned();
    let volume = world
        .volumes
        .iter_mut()
        .find(|v| v.volid == volid && v.node.as_deref().is_none_or(|n| n == node))
        .ok_or_else(|| format!("volume '{volid}' does not exist"))?;
    volume.volid = new_volid.clone();
    if let Some(s) = storage.filter(|s| s.kind.starts_with("lvm")) {
        log.push(format!(
            "  Renamed \"{name}\" to \"{new_name}\" in volume group \"{}\"",
            lvm_vg(&s)
        ));
    }
    Ok(new_volid)
}

/// Frees a volume (`PVE::Storage::vdisk_free`). A template's base volume
/// that linked clones still use is refused with PVE's text.
pub(crate) fn free(
    world: &mut World,
    node: &str,
    volid: &str,
    log: &mut Vec<String>,
) -> Result<(), String> {
    let Some((storage, name)) = split_volid(volid) else {
        return Err(format!("unable to parse volume ID '{volid}'"));
    };
    let is_lvm = world
        .storages
        .get(storage)
        .is_some_and(|s| s.kind.starts_with("lvm"));
    if name.contains("base-") && !name.contains('/') {
        let prefix = format!("{volid}/");
        let used = world
            .volumes
            .iter()
            .any(|v| v.volid.starts_with(&prefix) && v.node.as_deref().is_none_or(|n| n == node));
        if used {
            // pve-storage `src/PVE/Storage.pm vdisk_free`.
            return Err(format!(
                "base volume '{name}' is still in use by linked clones"
            ));
        }
    }
    if !world.remove_volume(node, volid) {
        return Err(format!("volume '{volid}' does not exist"));
    }
    if is_lvm {
        let short = name.rsplit('/').next().unwrap_or(name);
        log.push(format!(
            "  Logical volume \"{short}\" successfully removed."
        ));
    }
    Ok(())
}

/// Size in bytes from a `STORAGE:<GiB>` allocation request.
pub(crate) fn gib(size: f64) -> u64 {
    (size * GIB_BYTES as f64).round() as u64
}

/// Human size for log lines (`32.00 GiB`).
pub(crate) fn human(bytes: u64) -> String {
    format!("{:.2} GiB", bytes as f64 / GIB_BYTES as f64)
}

/// `size=` value of a volume.
pub(crate) fn size_text(bytes: u64) -> String {
    format_size(bytes)
}

/// Parses the head of a drive string: a new allocation `STORAGE:SIZE`
/// (`Some((storage, GiB))`) or anything else (`None`).
pub(crate) fn parse_new_disk(file: &str) -> Option<(String, f64)> {
    let (storage, size) = file.split_once(':')?;
    if storage.is_empty()
        || !storage
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return None;
    }
    let value: f64 = size.parse().ok()?;
    (size.chars().all(|c| c.is_ascii_digit() || c == '.') && value >= 0.0)
        .then(|| (storage.to_string(), value))
}
