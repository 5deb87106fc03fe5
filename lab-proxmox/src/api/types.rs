//! Typed answers of the read endpoints the provider uses, decoded leniently
//! (see [`super::lenient`]): numbers may be strings, booleans `0`/`1`.
//!
//! Only the fields the provider reads are typed; unknown fields are ignored
//! so new PVE releases do not break decoding. Guest configs stay
//! [`serde_json::Map`]s: their keys are open-ended (`net0`..`net31`,
//! `scsi0`..), and the provider parses the values as property strings
//! ([`super::propstr`]); [`config_str`] reads one value as text.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::lenient::{de_opt_bool, de_opt_f64, de_opt_string, de_opt_u64, de_u64};

/// `GET /version`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Version {
    /// Full version, e.g. `9.1.1`.
    #[serde(default, deserialize_with = "de_str")]
    pub version: String,
    /// Release, e.g. `9.1`.
    #[serde(default, deserialize_with = "de_str")]
    pub release: String,
    /// Git id of the build.
    #[serde(default, deserialize_with = "de_str")]
    pub repoid: String,
}

/// An item of `GET /nodes`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct NodeInfo {
    /// Node name.
    pub node: String,
    /// `online`, `offline` or `unknown`.
    #[serde(default)]
    pub status: String,
    /// CPU usage (0..1).
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub cpu: Option<f64>,
    /// Number of CPUs.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub maxcpu: Option<f64>,
    /// Memory used, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub mem: Option<u64>,
    /// Memory total, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub maxmem: Option<u64>,
    /// Uptime, seconds.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub uptime: Option<u64>,
    /// SHA-256 fingerprint of the node's certificate.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub ssl_fingerprint: Option<String>,
}

/// An item of `GET /cluster/resources`: one call describes every guest,
/// storage and node of the cluster (the provider's bulk refresh).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ClusterResource {
    /// `qemu/100`, `lxc/101`, `storage/pve1/local`, `node/pve1`, `pool/x`.
    pub id: String,
    /// `qemu`, `lxc`, `storage`, `node`, `pool`, `sdn`, ...
    #[serde(rename = "type")]
    pub r#type: String,
    /// Node the object is on.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub node: Option<String>,
    /// Guest id.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub vmid: Option<u64>,
    /// Guest name.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub name: Option<String>,
    /// `running`/`stopped` for guests, `available` for storages, ...
    #[serde(default, deserialize_with = "de_opt_string")]
    pub status: Option<String>,
    /// True for templates.
    #[serde(default, deserialize_with = "de_bool_or_false")]
    pub template: bool,
    /// Config lock (`clone`, `create`, `backup`, ...), if any.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub lock: Option<String>,
    /// Tags as PVE stores them (`;`-separated); see [`Self::tags_list`].
    #[serde(default, deserialize_with = "de_opt_string")]
    pub tags: Option<String>,
    /// Resource pool the guest belongs to.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub pool: Option<String>,
    /// Configured memory, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub maxmem: Option<u64>,
    /// Memory in use, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub mem: Option<u64>,
    /// Number of CPUs.
    #[serde(default, deserialize_with = "de_opt_f64")]
    pub maxcpu: Option<f64>,
    /// Disk size (guests: boot disk; storages: total), bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub maxdisk: Option<u64>,
    /// Disk used, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub disk: Option<u64>,
    /// Uptime, seconds.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub uptime: Option<u64>,
    /// HA state, if HA-managed.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub hastate: Option<String>,
    /// Storage id (storage items).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub storage: Option<String>,
    /// Allowed content types, comma-separated (storage items).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub content: Option<String>,
    /// Storage type (`nfs`, `dir`, `lvmthin`, ...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub plugintype: Option<String>,
    /// True for shared storages.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub shared: Option<bool>,
}

impl ClusterResource {
    /// The tags, split on `;`, `,` and spaces (PVE accepts all three),
    /// sorted, without empties or duplicates.
    pub fn tags_list(&self) -> Vec<String> {
        split_tags(self.tags.as_deref().unwrap_or(""))
    }

    /// True for QEMU and LXC guests.
    pub fn is_guest(&self) -> bool {
        self.r#type == "qemu" || self.r#type == "lxc"
    }

    /// The content types of a storage item, sorted.
    pub fn content_list(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .content
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Splits a PVE tag string (`a;b`, `a,b` or `a b`) into sorted, unique tags.
pub fn split_tags(tags: &str) -> Vec<String> {
    let mut v: Vec<String> = tags
        .split([';', ',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A string, numbers written out, `null` as `""`.
fn de_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    de_opt_string(d).map(Option::unwrap_or_default)
}

fn de_bool_or_false<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    de_opt_bool(d).map(|b| b.unwrap_or(false))
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    #[serde(default, deserialize_with = "de_str")]
    pub status: String,
    /// `OK`, `WARNINGS: n` or the error text; only once stopped.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub exitstatus: Option<String>,
    /// The task id.
    #[serde(default, deserialize_with = "de_str")]
    pub upid: String,
    /// Node the task runs on.
    #[serde(default, deserialize_with = "de_str")]
    pub node: String,
    /// Worker type (`qmclone`, `qmstart`, ...).
    #[serde(default, rename = "type", deserialize_with = "de_str")]
    pub r#type: String,
    /// Worker id (usually the VMID; may be sent as a number).
    #[serde(default, deserialize_with = "de_str")]
    pub id: String,
    /// Who started the task.
    #[serde(default, deserialize_with = "de_str")]
    pub user: String,
}

impl TaskStatus {
    /// True once the task has stopped.
    pub fn is_stopped(&self) -> bool {
        self.status == "stopped"
    }
}

/// A line of `GET /nodes/{node}/tasks/{upid}/log`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct TaskLogLine {
    /// Line number (1-based).
    #[serde(default, deserialize_with = "de_u64")]
    pub n: u64,
    /// The text.
    #[serde(default, deserialize_with = "de_str")]
    pub t: String,
}

/// An item of `GET /nodes/{node}/storage/{storage}/content`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct StorageContent {
    /// Volume id (`local:import/debian.qcow2`, `local-lvm:vm-100-disk-0`).
    pub volid: String,
    /// Format (`raw`, `qcow2`, `iso`, `tgz`, ...).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub format: Option<String>,
    /// Size, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub size: Option<u64>,
    /// Content type (`images`, `iso`, `vztmpl`, `import`, ...).
    #[serde(default, deserialize_with = "de_str")]
    pub content: String,
    /// Owner guest, for guest volumes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub vmid: Option<u64>,
    /// Creation time (unix seconds).
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub ctime: Option<u64>,
}

/// An item of `GET /nodes/{node}/network`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct NetworkIface {
    /// Interface name (`vmbr0`, `eno1`, `bond0`).
    pub iface: String,
    /// `bridge`, `bond`, `eth`, `vlan`, `OVSBridge`, ...
    #[serde(default, rename = "type", deserialize_with = "de_str")]
    pub r#type: String,
    /// True if the interface is up.
    #[serde(default, deserialize_with = "de_bool_or_false")]
    pub active: bool,
    /// True if brought up at boot.
    #[serde(default, deserialize_with = "de_bool_or_false")]
    pub autostart: bool,
    /// Bridge ports (space-separated).
    #[serde(default, deserialize_with = "de_opt_string")]
    pub bridge_ports: Option<String>,
    /// True for VLAN-aware bridges.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub bridge_vlan_aware: Option<bool>,
    /// IPv4 address in CIDR form.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub cidr: Option<String>,
    /// Comment.
    #[serde(default, deserialize_with = "de_opt_string")]
    pub comments: Option<String>,
}

/// An item of `GET /nodes/{node}/storage` (or
/// `GET /nodes/{node}/storage/{storage}/status`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct StorageStatus {
    /// Storage id (absent in the single-storage status answer).
    #[serde(default, deserialize_with = "de_str")]
    pub storage: String,
    /// Storage type (`nfs`, `dir`, `lvmthin`, ...).
    #[serde(default, rename = "type", deserialize_with = "de_str")]
    pub r#type: String,
    /// Allowed content types, comma-separated.
    #[serde(default, deserialize_with = "de_str")]
    pub content: String,
    /// True if the storage is active on the node.
    #[serde(default, deserialize_with = "de_bool_or_false")]
    pub active: bool,
    /// True if enabled.
    #[serde(default, deserialize_with = "de_opt_bool")]
    pub enabled: Option<bool>,
    /// True if shared.
    #[serde(default, deserialize_with = "de_bool_or_false")]
    pub shared: bool,
    /// Total size, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub total: Option<u64>,
    /// Used, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub used: Option<u64>,
    /// Available, bytes.
    #[serde(default, deserialize_with = "de_opt_u64")]
    pub avail: Option<u64>,
}

/// A guest config value as text: strings as they are, numbers written out,
/// booleans as `1`/`0`; `None` if the key is absent or `null`.
pub fn config_str(config: &Map<String, Value>, key: &str) -> Option<String> {
    match config.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_string()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cluster_resources_decode_leniently() {
        let items: Vec<ClusterResource> = serde_json::from_value(json!([
            {"id": "qemu/100", "type": "qemu", "node": "pve1", "vmid": "100", "name": "web",
             "status": "running", "template": 0, "tags": "lab;web,b a", "maxmem": 2147483648u64,
             "maxcpu": 2, "maxdisk": "34359738368", "uptime": 5},
            {"id": "qemu/9000", "type": "qemu", "node": "pve1", "vmid": 9000, "template": "1",
             "lock": "clone"},
            {"id": "storage/pve1/nas", "type": "storage", "node": "pve1", "storage": "nas",
             "content": "rootdir,images,iso", "plugintype": "nfs", "shared": 1, "status": "available"},
            {"id": "node/pve1", "type": "node", "node": "pve1", "status": "online", "maxcpu": 16,
             "extra": {"ignored": true}}
        ]))
        .unwrap();
        assert_eq!(items[0].vmid, Some(100));
        assert!(!items[0].template);
        assert_eq!(items[0].tags_list(), vec!["a", "b", "lab", "web"]);
        assert_eq!(items[0].maxdisk, Some(32 << 30));
        assert_eq!(items[0].maxcpu, Some(2.0));
        assert!(items[0].is_guest());
        assert!(items[1].template);
        assert_eq!(items[1].lock.as_deref(), Some("clone"));
        assert!(items[1].tags_list().is_empty());
        assert_eq!(items[2].shared, Some(true));
        assert_eq!(items[2].content_list(), vec!["images", "iso", "rootdir"]);
        assert!(!items[3].is_guest());
    }

    #[test]
    fn task_status_and_config_str() {
        let st: TaskStatus = serde_json::from_value(json!({
            "status": "stopped", "exitstatus": "OK", "upid": "UPID:x", "node": "pve1",
            "type": "qmclone", "id": 110, "user": "root@pam", "pid": 1234
        }))
        .unwrap();
        assert!(st.is_stopped());
        assert_eq!(st.id, "110");
        let cfg: Map<String, Value> = serde_json::from_value(json!({
            "memory": "2048", "cores": 2, "onboot": 1, "agent": true, "x": null
        }))
        .unwrap();
        assert_eq!(config_str(&cfg, "memory").as_deref(), Some("2048"));
        assert_eq!(config_str(&cfg, "cores").as_deref(), Some("2"));
        assert_eq!(config_str(&cfg, "agent").as_deref(), Some("1"));
        assert_eq!(config_str(&cfg, "x"), None);
        assert_eq!(config_str(&cfg, "missing"), None);
        let v: Version =
            serde_json::from_value(json!({"version": "9.1.1", "release": "9.1", "repoid": "abc"}))
                .unwrap();
        assert_eq!(v.release, "9.1");
    }
}
