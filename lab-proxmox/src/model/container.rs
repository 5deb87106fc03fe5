//! LXC containers.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::{Handle, Input, Resource, ResourceSpec, Secret, Value};

use super::common::{
    cidr_problem, ip_problem, mark, parse_size_gb, parse_slot, problem_at, put, MP_SLOTS, SIZE_HELP,
};
use super::file::{File, FileOutputs};
use super::guest::{opt, Guest};
use super::node::Node;
use super::pool::Pool;
use super::storage::Storage;
use crate::kinds;

/// One mount point as declared.
#[derive(Clone, Debug)]
struct MountPoint {
    slot: String,
    storage: String,
    size_gb: Option<i64>,
    path: String,
}

/// An LXC container (`proxmox.ct`) on a node.
///
/// Defaults: 1 core, 512 MiB memory and 512 MiB swap, unprivileged, not
/// started on boot but running after apply, the resource name as host name.
/// It needs an OS template ([`Container::ostemplate`] or
/// [`Container::ostemplate_volid`]) and a root filesystem
/// ([`Container::rootfs`]). NICs are named `eth<N>` after their slot
/// `net<N>`; `.vlan()`, `.ip()`, `.gw()` and `.firewall()` change the NIC
/// added last.
///
/// An application container (PVE 9.1) runs an OCI image
/// ([`File::oci_image`]) with its own [`Container::entrypoint`] and
/// environment ([`Container::env`], [`Container::env_secret`]).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Rootdir]));
/// let ct = lab.add(
///     Container::new("paperless", &pve1)
///         .ostemplate_volid("local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst")
///         .rootfs(&lvm, "8G")
///         .nic("net0", "vmbr0").vlan(30).ip("10.0.30.7/24").gw("10.0.30.1")
///         .nesting(true),
/// );
/// let spec = lab.resource(ct.address()).unwrap();
/// assert_eq!(spec.attrs["hostname"], Value::from("paperless"));
/// assert_eq!(spec.attrs["swap_mb"], Value::Int(512));
/// let Value::List(nics) = &spec.attrs["nics"] else { panic!() };
/// let Value::Map(n) = &nics[0] else { panic!() };
/// assert_eq!(n["name"], Value::from("eth0"));
/// assert_eq!(n["tag"], Value::Int(30));
/// ```
#[derive(Clone, Debug)]
pub struct Container {
    guest: Guest,
    mountpoints: Vec<MountPoint>,
    features: IndexMap<String, Value>,
    ssh_keys: Vec<String>,
    /// Plain environment variables, by name.
    env: IndexMap<String, Value>,
    /// Secret environment variables (a `Secret` or a reference), by name.
    env_secrets: IndexMap<String, Value>,
}

impl Container {
    /// The kind, `proxmox.ct`.
    pub const KIND: &'static str = kinds::CT;

    /// A container called `name` on `node`.
    #[track_caller]
    pub fn new(name: impl AsRef<str>, node: &Handle<Node>) -> Self {
        let mut guest = Guest::new(Self::KIND, name.as_ref(), node, "hostname", 512);
        guest.spec.set("swap_mb", 512);
        guest.spec.set("unprivileged", true);
        guest.spec.set("onboot", false);
        guest.spec.set("started", true);
        Container {
            guest,
            mountpoints: Vec::new(),
            features: IndexMap::new(),
            ssh_keys: Vec::new(),
            env: IndexMap::new(),
            env_secrets: IndexMap::new(),
        }
    }

    fn spec(&mut self) -> &mut ResourceSpec {
        &mut self.guest.spec
    }

    /// The VMID (100 to 999999999). Without it one is allocated at create
    /// and recorded in the lab's state.
    #[track_caller]
    pub fn vmid(mut self, vmid: u32) -> Self {
        self.spec().set("vmid", vmid);
        self
    }

    /// The host name, instead of the resource name.
    #[track_caller]
    pub fn hostname(mut self, name: &str) -> Self {
        self.guest.hostname(name);
        self
    }

    /// CPU cores.
    #[track_caller]
    pub fn cores(mut self, cores: u32) -> Self {
        self.spec().set("cores", cores);
        self
    }

    /// Memory in MiB.
    #[track_caller]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.spec().set("memory_mb", mb);
        self
    }

    /// Swap in MiB.
    #[track_caller]
    pub fn swap_mb(mut self, mb: u32) -> Self {
        self.spec().set("swap_mb", mb);
        self
    }

    /// The OS template: a file downloaded with [`super::Content::Vztmpl`]
    /// (`ostemplate` is its `volid` output, `ostemplate_file` its address).
    #[track_caller]
    pub fn ostemplate(mut self, file: &Handle<File>) -> Self {
        let spec = self.spec();
        spec.set_input::<String>("ostemplate", file.volid());
        spec.set("ostemplate_file", file.address().to_string());
        self
    }

    /// The OS template as a volume id already on a storage
    /// (`local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`).
    #[track_caller]
    pub fn ostemplate_volid(mut self, volid: &str) -> Self {
        let spec = self.spec();
        let ok = volid
            .split_once(':')
            .is_some_and(|(storage, path)| !storage.is_empty() && path.starts_with("vztmpl/"));
        if !ok {
            spec.invalid(
                "ostemplate",
                format!("`{volid}` is not a container template volume id"),
                "write it as `<storage>:vztmpl/<file>`, e.g. `local:vztmpl/debian-13-standard_13.1-2_amd64.tar.zst`",
            );
        }
        spec.set("ostemplate", volid);
        spec.attrs.shift_remove("ostemplate_file");
        spec.field_locs.shift_remove("ostemplate_file");
        self
    }

    /// The root filesystem on `storage` (which needs `rootdir` content), of
    /// `size` (`"8G"`).
    #[track_caller]
    pub fn rootfs(mut self, storage: &Handle<Storage>, size: &str) -> Self {
        let spec = self.spec();
        let mut m = IndexMap::new();
        m.insert("storage".to_string(), Value::from(storage.address().name()));
        match parse_size_gb(size) {
            Ok(gb) => {
                m.insert("size_gb".to_string(), Value::Int(gb));
            }
            Err(p) => spec.invalid("rootfs", p, SIZE_HELP),
        }
        spec.depend_on(storage, "rootfs");
        spec.set("rootfs", m);
        self
    }

    /// A mount point in `slot` (`mp0`..`mp255`) on `storage` (which needs
    /// `rootdir` content), of `size`, mounted at `path` in the container.
    #[track_caller]
    pub fn mount_point(
        mut self,
        slot: &str,
        storage: &Handle<Storage>,
        size: &str,
        path: &str,
    ) -> Self {
        let spec = &mut self.guest.spec;
        if let Err(p) = parse_slot(slot, MP_SLOTS) {
            spec.invalid("mountpoints", p, "use a slot like `mp0`");
        }
        if self.mountpoints.iter().any(|m| m.slot == slot) {
            spec.invalid(
                "mountpoints",
                format!("mount point slot `{slot}` is used twice"),
                "give each mount point its own slot (mp0, mp1, ...)",
            );
        }
        if !path.starts_with('/') {
            spec.invalid(
                "mountpoints",
                format!("`{path}` is not an absolute path"),
                "mount it at an absolute path in the container, like `/data`",
            );
        }
        let size_gb = match parse_size_gb(size) {
            Ok(gb) => Some(gb),
            Err(p) => {
                spec.invalid("mountpoints", p, SIZE_HELP);
                None
            }
        };
        spec.depend_on(storage, "mountpoints");
        mark(spec, format!("mountpoints.{slot}"), Location::caller());
        self.mountpoints.push(MountPoint {
            slot: slot.to_string(),
            storage: storage.address().name().to_string(),
            size_gb,
            path: path.to_string(),
        });
        self
    }

    /// A NIC in `slot` (`net0`..`net31`, named `eth0`..) on `bridge`, which
    /// the node must declare.
    #[track_caller]
    pub fn nic(mut self, slot: &str, bridge: &str) -> Self {
        self.guest.nic(slot, bridge);
        self
    }

    /// The VLAN tag (1 to 4094) of the last NIC.
    #[track_caller]
    pub fn vlan(mut self, tag: u16) -> Self {
        if let Some(n) = self.guest.last_nic("tag") {
            n.tag = Some(tag);
        }
        self
    }

    /// The address of the last NIC: `dhcp`, `manual` or a CIDR
    /// (`10.0.30.7/24`).
    #[track_caller]
    pub fn ip(mut self, ip: &str) -> Self {
        let problem = match ip {
            "dhcp" | "manual" => None,
            _ => cidr_problem(ip, false),
        };
        if let Some(p) = problem {
            self.spec().invalid(
                "nics",
                p,
                "write `dhcp` or an address with its prefix, like `10.0.30.7/24`",
            );
        }
        if let Some(n) = self.guest.last_nic("ip") {
            n.ip = Some(ip.to_string());
        }
        self
    }

    /// The IPv4 gateway of the last NIC.
    #[track_caller]
    pub fn gw(mut self, gw: &str) -> Self {
        if let Some(p) = ip_problem(gw, false) {
            self.spec()
                .invalid("nics", p, "write the gateway's address, like `10.0.30.1`");
        }
        if let Some(n) = self.guest.last_nic("gw") {
            n.gw = Some(gw.to_string());
        }
        self
    }

    /// The Proxmox firewall on the last NIC.
    #[track_caller]
    pub fn firewall(mut self, on: bool) -> Self {
        if let Some(n) = self.guest.last_nic("firewall") {
            n.firewall = Some(on);
        }
        self
    }

    /// An unprivileged container (default on).
    #[track_caller]
    pub fn unprivileged(mut self, on: bool) -> Self {
        self.spec().set("unprivileged", on);
        self
    }

    /// Allows nested containers (and modern systemd inside).
    #[track_caller]
    pub fn nesting(mut self, on: bool) -> Self {
        self.features.insert("nesting".into(), on.into());
        let features = self.features.clone();
        self.spec().set("features", features);
        self
    }

    /// Allows the keyctl system call (Docker in unprivileged containers).
    #[track_caller]
    pub fn keyctl(mut self, on: bool) -> Self {
        self.features.insert("keyctl".into(), on.into());
        let features = self.features.clone();
        self.spec().set("features", features);
        self
    }

    /// The root password (set at create only).
    #[track_caller]
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.spec().set("password", password.into());
        self
    }

    /// Adds an SSH public key for root (set at create only).
    #[track_caller]
    pub fn ssh_key(mut self, key: &str) -> Self {
        self.ssh_keys.push(key.trim().to_string());
        let keys = self.ssh_keys.clone();
        self.spec().set("ssh_keys", keys);
        self
    }

    /// The command the container runs as init instead of `/sbin/init`
    /// (PVE's `entrypoint`), with its arguments: for an application
    /// container made from an OCI image ([`File::oci_image`]), e.g.
    /// `cloudflared --no-autoupdate tunnel run`. It replaces the image's
    /// own entrypoint and command. Left out, the container keeps what it
    /// has (the image's) and the lab does not compare it.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_proxmox::model::*;
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    /// let local = lab.add(Storage::existing("local").content(&[Content::Vztmpl, Content::Rootdir]));
    /// let image = lab.add(File::oci_image("cloudflared", &pve1, &local, "docker.io/cloudflare/cloudflared:2025.11.1"));
    /// let ct = lab.add(
    ///     Container::new("tunnel", &pve1)
    ///         .ostemplate(&image)
    ///         .rootfs(&local, "2G")
    ///         .entrypoint("cloudflared --no-autoupdate tunnel run")
    ///         .env("TUNNEL_LOGLEVEL", "info")
    ///         .env_secret("TUNNEL_TOKEN", Secret::new("eyJh...")),
    /// );
    /// let spec = lab.resource(ct.address()).unwrap();
    /// assert_eq!(spec.attrs["entrypoint"], Value::from("cloudflared --no-autoupdate tunnel run"));
    /// assert_eq!(spec.attrs["env"].get("TUNNEL_LOGLEVEL"), Some(&Value::from("info")));
    /// assert!(spec.attrs["env_secrets"].contains_secret());
    /// ```
    #[track_caller]
    pub fn entrypoint(mut self, command: &str) -> Self {
        let spec = self.spec();
        if command.trim().is_empty() {
            spec.invalid(
                "entrypoint",
                "the entrypoint is empty",
                "give the command and its arguments, e.g. `cloudflared --no-autoupdate tunnel run`",
            );
        } else if let Some(c) = command.chars().find(|c| forbidden_control(*c)) {
            spec.invalid(
                "entrypoint",
                format!(
                    "the entrypoint contains the control character {:?}, which Proxmox refuses",
                    c
                ),
                "write the command on one line without control characters (tabs are allowed)",
            );
        }
        spec.set("entrypoint", command);
        self
    }

    /// Sets the environment variable `name` to `value` in the container
    /// (PVE's `env`, LXC's `lxc.environment.runtime`). Variables the image
    /// brings (`PATH`, ...) stay unless set here. For a token or a
    /// password use [`Container::env_secret`].
    #[track_caller]
    pub fn env(mut self, name: &str, value: &str) -> Self {
        if self.env_name_ok(name, "env") {
            if let Some(c) = value.chars().find(|c| forbidden_control(*c)) {
                self.spec().invalid(
                    "env",
                    format!(
                        "the value of `{name}` contains the control character {c:?}, which Proxmox refuses"
                    ),
                    "give a one-line value without control characters (tabs are allowed)",
                );
            }
        }
        self.env.insert(name.to_string(), Value::from(value));
        let env = self.env.clone();
        self.spec().set("env", env);
        mark(self.spec(), format!("env.{name}"), Location::caller());
        self
    }

    /// Sets the environment variable `name` to a secret: a [`Secret`], or
    /// another resource's secret output (a Cloudflare tunnel's run token),
    /// which also orders this container after that resource. The value is
    /// sealed in the state and never printed; a changed value is an update
    /// of the container. Proxmox stores it in the container's config, where
    /// anyone allowed to read the config (`VM.Audit`) can see it.
    #[track_caller]
    pub fn env_secret(mut self, name: &str, value: impl Into<Input<Secret>>) -> Self {
        self.env_name_ok(name, "env_secrets");
        let field = format!("env_secrets.{name}");
        let spec = self.spec();
        // Through a field of its own so a reference records its edge (via
        // `env_secrets.NAME`), then moved into the map.
        spec.set_input::<Secret>(&field, value);
        let value = spec.attrs.shift_remove(&field).unwrap_or(Value::Null);
        if let Value::Secret(s) = &value {
            if s.expose().chars().any(forbidden_control) {
                spec.invalid(
                    "env_secrets",
                    format!(
                        "the value of `{name}` contains a control character, which Proxmox refuses"
                    ),
                    "check the secret: a token is one line without control characters",
                );
            }
        }
        self.env_secrets.insert(name.to_string(), value);
        let secrets = self.env_secrets.clone();
        self.spec().set("env_secrets", secrets);
        mark(self.spec(), field, Location::caller());
        self
    }

    /// Checks an environment variable's name (`\w+`, set once); records a
    /// problem on `field` and returns false when it is bad.
    #[track_caller]
    fn env_name_ok(&mut self, name: &str, field: &str) -> bool {
        let twice = self.env.contains_key(name) || self.env_secrets.contains_key(name);
        let spec = self.spec();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            spec.invalid(
                field,
                format!("`{name}` is not an environment variable name Proxmox accepts"),
                "use letters, digits and `_` only, e.g. `TUNNEL_TOKEN`",
            );
            return false;
        }
        if twice {
            spec.invalid(
                field,
                format!("the environment variable `{name}` is set twice"),
                "set each variable once, with .env(..) or .env_secret(..)",
            );
            return false;
        }
        true
    }

    /// Start the container when its node boots (default off).
    #[track_caller]
    pub fn onboot(mut self, on: bool) -> Self {
        self.spec().set("onboot", on);
        self
    }

    /// Whether the container is running after apply (default on).
    #[track_caller]
    pub fn started(mut self, on: bool) -> Self {
        self.spec().set("started", on);
        self
    }

    /// Adds tags (lowered sorted, without duplicates).
    #[track_caller]
    pub fn tags(mut self, tags: &[&str]) -> Self {
        self.guest.tags(tags);
        self
    }

    /// Notes (the description shown in the web interface).
    #[track_caller]
    pub fn notes(mut self, notes: &str) -> Self {
        self.spec().set("notes", notes);
        self
    }

    /// No notes: the description stays empty, and the lab's short note
    /// ([`lab_core::notes`]) is not written into it. What `lab import`
    /// writes for a container found without a description, so the first plan
    /// changes nothing.
    #[track_caller]
    pub fn no_notes(mut self) -> Self {
        self.spec().set("notes", lab_core::Value::Null);
        self
    }

    /// Makes the container a member of `pool`.
    #[track_caller]
    pub fn pool(mut self, pool: &Handle<Pool>) -> Self {
        self.guest.pool(pool);
        self
    }
}

/// The control characters PVE's `entrypoint` and `env` patterns refuse
/// (pve-container: everything below a space but tab, and DEL).
fn forbidden_control(c: char) -> bool {
    (c.is_ascii_control() && c != '\t') || c == '\u{7f}'
}

impl Resource for Container {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.guest.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        self.guest.finish(|n| {
            let mut m = IndexMap::new();
            m.insert("slot".to_string(), n.slot.as_str().into());
            m.insert(
                "name".to_string(),
                format!("eth{}", n.index.unwrap_or(0)).into(),
            );
            m.insert("bridge".to_string(), n.bridge.as_str().into());
            opt(&mut m, "tag", n.tag);
            opt(&mut m, "ip", n.ip.clone());
            opt(&mut m, "gw", n.gw.clone());
            opt(&mut m, "firewall", n.firewall);
            m
        });
        let spec = &mut self.guest.spec;
        if !self.mountpoints.is_empty() {
            let list: Vec<Value> = self
                .mountpoints
                .iter()
                .map(|mp| {
                    let mut m = IndexMap::new();
                    m.insert("slot".to_string(), mp.slot.as_str().into());
                    m.insert("storage".to_string(), mp.storage.as_str().into());
                    opt(&mut m, "size_gb", mp.size_gb);
                    m.insert("path".to_string(), mp.path.as_str().into());
                    Value::Map(m)
                })
                .collect();
            let loc = spec.loc_of(&format!("mountpoints.{}", self.mountpoints[0].slot));
            put(spec, "mountpoints", list, loc);
        }
        let at = spec.declared_at;
        if !spec.attrs.contains_key("ostemplate") {
            problem_at(
                spec,
                "ostemplate",
                at,
                "a container needs an OS template",
                "add .ostemplate(&ct_template) (a file downloaded as Content::Vztmpl) or .ostemplate_volid(\"local:vztmpl/...\")",
            );
        }
        if !spec.attrs.contains_key("rootfs") {
            problem_at(
                spec,
                "rootfs",
                at,
                "a container needs a root filesystem",
                "add .rootfs(&local_lvm, \"8G\") (a storage with `rootdir` content)",
            );
        }
        self.guest.spec
    }
}
