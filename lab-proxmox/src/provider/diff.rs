//! The field diff: which changes Proxmox applies in place and which force a
//! replacement, after projecting what Proxmox reports onto what the lab
//! declares (a NIC map that does not mention `firewall` is not a change
//! because Proxmox reports `firewall=0`). Optional fields the lab leaves out
//! are not compared, except a CD-ROM the lab itself inserted (dropping
//! `.cdrom(..)` ejects the disc) and a container's environment variables
//! (dropping the last `.env(..)` removes the variables the lab set).

use lab_core::provider::{generic_diff, FieldChange, KindSchema};
use lab_core::{Attrs, Value};

/// Fields holding disks: per slot, growing is in place, shrinking or moving
/// to another storage forces replacement.
const DISK_FIELDS: &[&str] = &["disks", "rootfs", "mountpoints"];

/// Keeps only the parts of `observed` that `desired` talks about: map keys
/// the desired map has, list items aligned by `slot` (or position).
pub(crate) fn project(desired: &Value, observed: &Value) -> Value {
    match (desired, observed) {
        (Value::Map(d), Value::Map(o)) => Value::Map(
            d.keys()
                .filter_map(|k| {
                    let ov = o.get(k)?;
                    Some((k.clone(), project(&d[k], ov)))
                })
                .collect(),
        ),
        (Value::List(d), Value::List(o)) => {
            let slot = |v: &Value| match v {
                Value::Map(m) => m.get("slot").cloned(),
                _ => None,
            };
            let by_slot = d.iter().all(|v| slot(v).is_some());
            Value::List(
                o.iter()
                    .enumerate()
                    .map(|(i, ov)| {
                        let dv = if by_slot {
                            d.iter()
                                .find(|dv| slot(dv) == slot(ov) && slot(ov).is_some())
                        } else {
                            d.get(i)
                        };
                        dv.map_or_else(|| ov.clone(), |dv| project(dv, ov))
                    })
                    .collect(),
            )
        }
        (_, o) => o.clone(),
    }
}

/// Does changing `before` into `after` need a new disk (shrink or storage move)?
fn disk_forces_replacement(before: &Value, after: &Value) -> bool {
    let items = |v: &Value| -> Vec<Value> {
        match v {
            Value::List(l) => l.clone(),
            Value::Map(_) => vec![v.clone()],
            _ => Vec::new(),
        }
    };
    let key = |v: &Value, k: &str| match v {
        Value::Map(m) => m.get(k).cloned(),
        _ => None,
    };
    let old = items(before);
    for (i, new) in items(after).iter().enumerate() {
        let slot = key(new, "slot");
        let prev = match &slot {
            Some(s) => old.iter().find(|o| key(o, "slot").as_ref() == Some(s)),
            None => old.get(i),
        };
        let Some(prev) = prev else { continue };
        if key(prev, "storage") != key(new, "storage") {
            return true;
        }
        if let (Some(Value::Int(a)), Some(Value::Int(b))) =
            (key(prev, "size_gb"), key(new, "size_gb"))
        {
            if b < a {
                return true;
            }
        }
    }
    false
}

/// The provider's diff for `kind`: projection, then the generic field
/// comparison with the schema's forcing fields, then the disk rules.
pub(crate) fn diff(schema: &KindSchema, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
    let projected: Attrs = observed
        .iter()
        .map(|(k, v)| match desired.get(k) {
            Some(d) => (k.clone(), project(d, v)),
            None => (k.clone(), v.clone()),
        })
        .collect();
    let mut changes = generic_diff(schema, desired, &projected);
    // A CD-ROM the lab inserted (its file is on record) and no longer
    // declares is ejected; one the lab never managed (a template's) is left.
    if !desired.contains_key("cdrom") && observed.contains_key("cdrom_file") {
        if let Some(disc) = observed.get("cdrom") {
            changes.push(FieldChange {
                field: "cdrom".into(),
                before: Some(disc.clone()),
                after: None,
                forces_replacement: false,
            });
        }
    }
    // Environment variables a container's recorded spec set (the read
    // reports only those) and the code no longer declares at all: removed.
    for field in ["env", "env_secrets"] {
        if desired.contains_key(field) {
            continue;
        }
        if let Some(set) = observed
            .get(field)
            .filter(|v| v.as_map().is_some_and(|m| !m.is_empty()))
        {
            changes.push(FieldChange {
                field: field.into(),
                before: Some(set.clone()),
                after: None,
                forces_replacement: false,
            });
        }
    }
    for c in &mut changes {
        if DISK_FIELDS.contains(&c.field.as_str()) {
            if let (Some(b), Some(a)) = (&c.before, &c.after) {
                c.forces_replacement |= disk_forces_replacement(b, a);
            }
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;

    fn disk(slot: &str, storage: &str, size: i64) -> Value {
        let mut m = IndexMap::new();
        m.insert("slot".to_string(), Value::from(slot));
        m.insert("storage".into(), storage.into());
        m.insert("size_gb".into(), size.into());
        Value::Map(m)
    }

    fn attrs(disks: Vec<Value>) -> Attrs {
        let mut a = Attrs::new();
        a.insert("disks".into(), Value::List(disks));
        a
    }

    #[test]
    fn growing_is_in_place_shrinking_or_moving_replaces() {
        let schema = KindSchema::default();
        let have = attrs(vec![disk("scsi0", "local-lvm", 32)]);
        let grow = diff(&schema, &attrs(vec![disk("scsi0", "local-lvm", 40)]), &have);
        assert_eq!(grow.len(), 1);
        assert!(!grow[0].forces_replacement);
        let shrink = diff(&schema, &attrs(vec![disk("scsi0", "local-lvm", 16)]), &have);
        assert!(shrink[0].forces_replacement);
        let moved = diff(&schema, &attrs(vec![disk("scsi0", "tank", 32)]), &have);
        assert!(moved[0].forces_replacement);
        let added = diff(
            &schema,
            &attrs(vec![
                disk("scsi0", "local-lvm", 32),
                disk("scsi1", "tank", 100),
            ]),
            &have,
        );
        assert!(!added[0].forces_replacement);
    }

    #[test]
    fn keys_the_lab_does_not_declare_are_not_changes() {
        let mut nic = IndexMap::new();
        nic.insert("slot".to_string(), Value::from("net0"));
        nic.insert("bridge".into(), "vmbr0".into());
        let mut seen = nic.clone();
        seen.insert("firewall".into(), false.into());
        seen.insert("model".into(), "virtio".into());
        let mut want = Attrs::new();
        want.insert("nics".into(), Value::List(vec![Value::Map(nic)]));
        let mut have = Attrs::new();
        have.insert("nics".into(), Value::List(vec![Value::Map(seen)]));
        assert!(diff(&KindSchema::default(), &want, &have).is_empty());
    }

    #[test]
    fn only_a_cdrom_the_lab_inserted_is_ejected_when_dropped() {
        let mut seen = Attrs::new();
        seen.insert("cdrom".into(), "local:iso/talos.iso".into());
        let want = Attrs::new();
        assert!(
            diff(&KindSchema::default(), &want, &seen).is_empty(),
            "a template's disc is not the lab's"
        );
        seen.insert("cdrom_file".into(), "proxmox.file.talos".into());
        let changes = diff(&KindSchema::default(), &want, &seen);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].field, "cdrom");
        assert_eq!(changes[0].after, None);
        assert!(!changes[0].forces_replacement);
    }
}
