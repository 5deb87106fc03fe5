//! The contract between the typed builders ([`crate::model`]) and the Talos
//! provider: the resource kinds and the attributes each lowers to.
//!
//! Conventions (as in `lab_proxmox::kinds`): optional fields are absent
//! rather than `Null`, empty lists and `false` flags are left out, so an
//! unchanged lab diffs as no changes and a new option does not show up as a
//! change on every existing machine.
//!
//! | kind | name | attributes | outputs |
//! |---|---|---|---|
//! | `talos.secrets` | cluster name | `contract: Str` (`"v1.13"`), `import?: Secret` (talosctl `secrets.yaml` text; absent = generate once) | `bundle: Secret` (`secrets.yaml` text), `os_ca_fingerprint: Str` (SHA-256 hex of the OS CA certificate's DER) |
//! | `talos.machine` | node name | `cluster: Str`, `role: Str` (`"controlplane"`/`"worker"`), `address: Str` (the node's IP without prefix, where apid listens on :50000), `config: Map` (generation inputs, see [`config_value`]), `secrets: Ref(talos.secrets.<c>#bundle)`, `vm: Ref(proxmox.vm.<n>#vmid)` (forces replacement), `version?: Str` (the Talos version it runs, `v1.13.9`; read back from the node, a change upgrades it) | `config_sha256: Str`, `talos_version: Str` |
//! | `talos.schematic` | cluster name | `factory: Str` (the Image Factory's base URL, `https://factory.talos.dev`), `schematic: Str` (the canonical YAML, [`crate::factory::Schematic::canonical_yaml`]), `id: Str` (the id computed offline, SHA-256 of `schematic`) | `id: Str` (the id the factory answered, equal to `id`) |
//! | `talos.cluster` | cluster name | `endpoint: Str`, `bootstrap_node: Str` (IP of the first control plane), `control_planes: [Str]` (IPs), `workers: [Str]` (IPs), `secrets: Ref(talos.secrets.<c>#bundle)`, `credentials: "valid"` (read back as `expires on <date>` once a client certificate has less than 30 days left: the update renews them); depends on every `talos.machine` of the cluster | `kubeconfig: Secret`, `talosconfig: Secret` |
//!
//! The secrets bundle is generated once and then only ever read back: it
//! carries `prevent_destroy`, and its `contract` is the **version contract**
//! of the cluster, chosen at creation and never bumped by Talos upgrades
//! (regenerating configs with a newer contract broke etcd decryption on
//! Talos 1.14, talos#13885).
//!
//! A `talos.schematic` is optional ([`crate::model::TalosCluster::register_schematic`]):
//! registering tells the factory about a schematic before Proxmox downloads
//! its ISO (the ISO downloads depend on it). Registration is idempotent and
//! the factory never forgets a schematic, so it is read back from the state
//! and deleting it does nothing.
//!
//! ## The `config` map
//!
//! `config = {cluster: Map, node: Map}`: the inputs of
//! [`crate::config::generate`], so the provider renders the node's machine
//! config with `generate(&cluster, &node, &ConfigSecrets::from(&bundle))`
//! and nothing in the config is hidden from the plan. The model puts into a
//! machine's map only what changes that machine's config: a worker's map
//! has no `vip` and no `control_plane_patches`, a control plane's no
//! `worker_patches`, so editing a worker patch does not touch control
//! planes.
//!
//! `cluster`:
//! - `name: Str`, `endpoint: Str`, `kubernetes_version: Str` (no `v`),
//!   `contract: Str` (`v1.13`), `dns_domain: Str`, `pod_subnets: [Str]`,
//!   `service_subnets: [Str]` (always present)
//! - `install_disk?: Str`, `install_image?: Str`, `cert_sans?: [Str]`,
//!   `allow_scheduling_on_control_planes?: Bool` (only when true),
//!   `cni?: Map{name: Str, urls?: [Str]}`, `sysctls?: Map{<key>: Str}`,
//!   `registry_mirrors?: [Map{registry: Str, endpoints: [Str]}]`,
//!   `vip?: Map{address: Str, link: Str}`, `patches?: [Str]`,
//!   `control_plane_patches?: [Str]`, `worker_patches?: [Str]`
//!
//! `node`:
//! - `role: Str` (`controlplane`/`worker`), `hostname?: Str`,
//!   `install_disk?: Str`, `network?: Map{link: Str, addresses: [Str],
//!   gateway?: Str, nameservers?: [Str]}`, `patches?: [Str]`
//!
//! [`config_inputs`] reads the map back, refusing unknown keys (a typo or a
//! newer contract must not be silently ignored).

use indexmap::IndexMap;
use lab_core::Value;

use crate::config::{
    ClusterInput, Cni, NodeInput, RegistryMirror, Role, StaticNetwork, VersionContract, Vip,
};

/// Kind of the cluster's secrets bundle (one per cluster).
pub const SECRETS: &str = "talos.secrets";
/// Kind of Talos machines (one per node): its config, applied over the Talos API.
pub const MACHINE: &str = "talos.machine";
/// Kind of the cluster: bootstrapped once, the source of kubeconfig and talosconfig.
pub const CLUSTER: &str = "talos.cluster";
/// Kind of an Image Factory schematic registration (one per cluster, optional).
pub const SCHEMATIC: &str = "talos.schematic";

/// The kinds the provider applies.
pub const MANAGED: &[&str] = &[SECRETS, MACHINE, CLUSTER, SCHEMATIC];

/// The `role` attribute of a control plane.
pub const ROLE_CONTROL_PLANE: &str = "controlplane";
/// The `role` attribute of a worker.
pub const ROLE_WORKER: &str = "worker";

/// The `role` attribute for `role`.
pub fn role_str(role: Role) -> &'static str {
    role.machine_type()
}

/// The role a `role` attribute names.
pub fn parse_role(text: &str) -> Option<Role> {
    match text {
        ROLE_CONTROL_PLANE => Some(Role::ControlPlane),
        ROLE_WORKER => Some(Role::Worker),
        _ => None,
    }
}

type Map = IndexMap<String, Value>;

fn strs(items: &[String]) -> Value {
    Value::List(items.iter().map(|s| Value::Str(s.clone())).collect())
}

fn put(map: &mut Map, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

fn put_opt(map: &mut Map, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        put(map, key, v.as_str());
    }
}

fn put_list(map: &mut Map, key: &str, items: &[String]) {
    if !items.is_empty() {
        map.insert(key.to_owned(), strs(items));
    }
}

/// The `config` attribute of a `talos.machine`: the generation inputs of
/// one node (see the module docs for the shape).
///
/// ```
/// use lab_talos::config::{ClusterInput, NodeInput, Role};
/// use lab_talos::kinds::{config_inputs, config_value};
/// let cluster = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
/// let node = NodeInput::new(Role::Worker);
/// let value = config_value(&cluster, &node);
/// let (c, n) = config_inputs(&value).unwrap();
/// assert_eq!(c.endpoint, "https://10.0.10.5:6443");
/// assert_eq!(n.role, Role::Worker);
/// ```
pub fn config_value(cluster: &ClusterInput, node: &NodeInput) -> Value {
    let mut c = Map::new();
    put(&mut c, "name", cluster.name.as_str());
    put(&mut c, "endpoint", cluster.endpoint.as_str());
    put(
        &mut c,
        "kubernetes_version",
        cluster.kubernetes_version.as_str(),
    );
    put(&mut c, "contract", cluster.contract.to_string());
    put(&mut c, "dns_domain", cluster.dns_domain.as_str());
    c.insert("pod_subnets".into(), strs(&cluster.pod_subnets));
    c.insert("service_subnets".into(), strs(&cluster.service_subnets));
    put_opt(&mut c, "install_disk", &cluster.install_disk);
    put_opt(&mut c, "install_image", &cluster.install_image);
    put_list(&mut c, "cert_sans", &cluster.cert_sans);
    if cluster.allow_scheduling_on_control_planes {
        put(&mut c, "allow_scheduling_on_control_planes", true);
    }
    if let Some(cni) = &cluster.cni {
        let mut m = Map::new();
        put(&mut m, "name", cni.name.as_str());
        put_list(&mut m, "urls", &cni.urls);
        put(&mut c, "cni", m);
    }
    if !cluster.sysctls.is_empty() {
        let m: Map = cluster
            .sysctls
            .iter()
            .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
            .collect();
        put(&mut c, "sysctls", m);
    }
    if !cluster.registry_mirrors.is_empty() {
        let list = cluster
            .registry_mirrors
            .iter()
            .map(|r| {
                let mut m = Map::new();
                put(&mut m, "registry", r.registry.as_str());
                m.insert("endpoints".into(), strs(&r.endpoints));
                Value::Map(m)
            })
            .collect::<Vec<_>>();
        c.insert("registry_mirrors".into(), Value::List(list));
    }
    if let Some(vip) = &cluster.vip {
        let mut m = Map::new();
        put(&mut m, "address", vip.address.as_str());
        put(&mut m, "link", vip.link.as_str());
        put(&mut c, "vip", m);
    }
    put_list(&mut c, "patches", &cluster.patches);
    put_list(
        &mut c,
        "control_plane_patches",
        &cluster.control_plane_patches,
    );
    put_list(&mut c, "worker_patches", &cluster.worker_patches);

    let mut n = Map::new();
    put(&mut n, "role", role_str(node.role));
    put_opt(&mut n, "hostname", &node.hostname);
    put_opt(&mut n, "install_disk", &node.install_disk);
    if let Some(net) = &node.network {
        let mut m = Map::new();
        put(&mut m, "link", net.link.as_str());
        m.insert("addresses".into(), strs(&net.addresses));
        put_opt(&mut m, "gateway", &net.gateway);
        put_list(&mut m, "nameservers", &net.nameservers);
        put(&mut n, "network", m);
    }
    put_list(&mut n, "patches", &node.patches);

    let mut top = Map::new();
    put(&mut top, "cluster", c);
    put(&mut top, "node", n);
    Value::Map(top)
}

/// Reads the fields of one map, remembering which were read so that
/// unknown ones are refused.
struct Fields<'a> {
    path: String,
    map: &'a Map,
    read: Vec<&'static str>,
}

impl<'a> Fields<'a> {
    fn of(path: &str, value: &'a Value) -> Result<Self, String> {
        match value {
            Value::Map(map) => Ok(Fields {
                path: path.to_owned(),
                map,
                read: Vec::new(),
            }),
            other => Err(format!("`{path}` is not a map: {other}")),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.push(key);
        self.map.get(key).filter(|v| !matches!(v, Value::Null))
    }

    fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn opt_str(&mut self, key: &'static str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s.clone())),
            Some(other) => Err(format!("`{}` is not a string: {other}", self.at(key))),
        }
    }

    fn str(&mut self, key: &'static str) -> Result<String, String> {
        self.opt_str(key)?
            .ok_or_else(|| format!("`{}` is missing", self.at(key)))
    }

    fn list(&mut self, key: &'static str) -> Result<Vec<&'a Value>, String> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::List(items)) => Ok(items.iter().collect()),
            Some(other) => Err(format!("`{}` is not a list: {other}", self.at(key))),
        }
    }

    fn strs(&mut self, key: &'static str) -> Result<Vec<String>, String> {
        let path = self.at(key);
        self.list(key)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Str(s) => Ok(s.clone()),
                other => Err(format!("`{path}[{i}]` is not a string: {other}")),
            })
            .collect()
    }

    fn required_strs(&mut self, key: &'static str) -> Result<Vec<String>, String> {
        if self.map.get(key).is_none_or(|v| matches!(v, Value::Null)) {
            return Err(format!("`{}` is missing", self.at(key)));
        }
        self.strs(key)
    }

    fn opt_bool(&mut self, key: &'static str) -> Result<Option<bool>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(format!("`{}` is not a boolean: {other}", self.at(key))),
        }
    }

    fn opt_map(&mut self, key: &'static str) -> Result<Option<Fields<'a>>, String> {
        let path = self.at(key);
        self.get(key).map(|v| Fields::of(&path, v)).transpose()
    }

    fn finish(self) -> Result<(), String> {
        match self.map.keys().find(|k| !self.read.contains(&k.as_str())) {
            Some(k) => Err(format!(
                "`{}.{k}` is not a field this version of lab knows",
                self.path
            )),
            None => Ok(()),
        }
    }
}

/// Reads a `config` attribute back into the generation inputs: the exact
/// inverse of [`config_value`]. Unknown keys, missing required keys and
/// values of the wrong type are errors naming the path (`config.node.role`).
pub fn config_inputs(value: &Value) -> Result<(ClusterInput, NodeInput), String> {
    let mut top = Fields::of("config", value)?;
    let mut c = top
        .opt_map("cluster")?
        .ok_or("`config.cluster` is missing")?;
    let mut n = top.opt_map("node")?.ok_or("`config.node` is missing")?;
    top.finish()?;

    let mut cluster = ClusterInput::new(
        c.str("name")?,
        c.str("endpoint")?,
        c.str("kubernetes_version")?,
    );
    let contract = c.str("contract")?;
    cluster.contract = VersionContract::parse(&contract)
        .map_err(|_| format!("`config.cluster.contract` `{contract}` is not a version contract"))?;
    cluster.dns_domain = c.str("dns_domain")?;
    cluster.pod_subnets = c.required_strs("pod_subnets")?;
    cluster.service_subnets = c.required_strs("service_subnets")?;
    cluster.install_disk = c.opt_str("install_disk")?;
    cluster.install_image = c.opt_str("install_image")?;
    cluster.cert_sans = c.strs("cert_sans")?;
    cluster.allow_scheduling_on_control_planes = c
        .opt_bool("allow_scheduling_on_control_planes")?
        .unwrap_or(false);
    if let Some(mut m) = c.opt_map("cni")? {
        cluster.cni = Some(Cni {
            name: m.str("name")?,
            urls: m.strs("urls")?,
        });
        m.finish()?;
    }
    if let Some(m) = c.opt_map("sysctls")? {
        for (k, v) in m.map {
            match v {
                Value::Str(s) => {
                    cluster.sysctls.insert(k.clone(), s.clone());
                }
                other => {
                    return Err(format!(
                        "`config.cluster.sysctls.{k}` is not a string: {other}"
                    ))
                }
            }
        }
    }
    for (i, item) in c.list("registry_mirrors")?.into_iter().enumerate() {
        let mut m = Fields::of(&format!("config.cluster.registry_mirrors[{i}]"), item)?;
        cluster.registry_mirrors.push(RegistryMirror {
            registry: m.str("registry")?,
            endpoints: m.required_strs("endpoints")?,
        });
        m.finish()?;
    }
    if let Some(mut m) = c.opt_map("vip")? {
        cluster.vip = Some(Vip {
            address: m.str("address")?,
            link: m.str("link")?,
        });
        m.finish()?;
    }
    cluster.patches = c.strs("patches")?;
    cluster.control_plane_patches = c.strs("control_plane_patches")?;
    cluster.worker_patches = c.strs("worker_patches")?;
    c.finish()?;

    let role_text = n.str("role")?;
    let role = parse_role(&role_text).ok_or_else(|| {
        format!("`config.node.role` is `{role_text}`, not `controlplane` or `worker`")
    })?;
    let mut node = NodeInput::new(role);
    node.hostname = n.opt_str("hostname")?;
    node.install_disk = n.opt_str("install_disk")?;
    if let Some(mut m) = n.opt_map("network")? {
        node.network = Some(StaticNetwork {
            link: m.str("link")?,
            addresses: m.required_strs("addresses")?,
            gateway: m.opt_str("gateway")?,
            nameservers: m.strs("nameservers")?,
        });
        m.finish()?;
    }
    node.patches = n.strs("patches")?;
    n.finish()?;
    Ok((cluster, node))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> (ClusterInput, NodeInput) {
        let mut c = ClusterInput::new("home", "https://10.0.10.5:6443", "1.36.3");
        c.dns_domain = "home.local".into();
        c.pod_subnets = vec!["10.244.0.0/16".into(), "fd00:10:244::/56".into()];
        c.service_subnets = vec![];
        c.install_disk = Some("/dev/sda".into());
        c.install_image = Some("factory.talos.dev/nocloud-installer/abc:v1.13.9".into());
        c.cert_sans = vec!["k8s.home.arpa".into(), "10.0.10.5".into()];
        c.allow_scheduling_on_control_planes = true;
        c.cni = Some(Cni {
            name: "custom".into(),
            urls: vec!["https://example.org/cilium.yaml".into()],
        });
        c.sysctls.insert("vm.max_map_count".into(), "262144".into());
        c.sysctls
            .insert("net.core.somaxconn".into(), "65535".into());
        c.registry_mirrors = vec![
            RegistryMirror {
                registry: "docker.io".into(),
                endpoints: vec!["https://mirror.home.arpa".into(), "https://b".into()],
            },
            RegistryMirror {
                registry: "*".into(),
                endpoints: vec![],
            },
        ];
        c.vip = Some(Vip {
            address: "10.0.10.5".into(),
            link: "ens18".into(),
        });
        c.patches = vec!["machine:\n  sysctls:\n    a: \"1\"\n".into()];
        c.control_plane_patches = vec!["cluster: {}\n".into(), "machine: {}\n".into()];
        c.worker_patches = vec!["machine: {}\n".into()];
        let mut n = NodeInput::new(Role::ControlPlane);
        n.hostname = Some("cp1".into());
        n.install_disk = Some("/dev/vda".into());
        n.network = Some(StaticNetwork {
            link: "ens18".into(),
            addresses: vec!["10.0.10.11/24".into()],
            gateway: Some("10.0.10.1".into()),
            nameservers: vec!["10.0.10.1".into(), "1.1.1.1".into()],
        });
        n.patches = vec!["machine:\n  nodeLabels:\n    zone: a\n".into()];
        (c, n)
    }

    fn same(a: &(ClusterInput, NodeInput), b: &(ClusterInput, NodeInput)) {
        // The inputs hold no secrets, so their Debug text is a complete
        // field-by-field comparison.
        assert_eq!(format!("{:?}", a.0), format!("{:?}", b.0));
        assert_eq!(format!("{:?}", a.1), format!("{:?}", b.1));
    }

    #[test]
    fn every_field_round_trips() {
        let inputs = full();
        let value = config_value(&inputs.0, &inputs.1);
        let back = config_inputs(&value).unwrap();
        same(&inputs, &back);
        assert_eq!(config_value(&back.0, &back.1), value);
    }

    #[test]
    fn defaults_round_trip_and_optional_fields_stay_absent() {
        let inputs = (
            ClusterInput::new("home", "https://k8s.home.arpa:6443", "1.36.3"),
            NodeInput::new(Role::Worker),
        );
        let value = config_value(&inputs.0, &inputs.1);
        let back = config_inputs(&value).unwrap();
        same(&inputs, &back);
        let Value::Map(top) = &value else { panic!() };
        let Value::Map(c) = &top["cluster"] else {
            panic!()
        };
        let keys: Vec<&str> = c.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "endpoint",
                "kubernetes_version",
                "contract",
                "dns_domain",
                "pod_subnets",
                "service_subnets"
            ]
        );
        assert_eq!(c["contract"], Value::from("v1.13"));
        let Value::Map(n) = &top["node"] else {
            panic!()
        };
        assert_eq!(n.keys().collect::<Vec<_>>(), ["role"]);
        assert_eq!(n["role"], Value::from("worker"));
    }

    #[test]
    fn empty_lists_inside_optional_maps_round_trip() {
        let (mut c, mut n) = full();
        c.cni = Some(Cni {
            name: "none".into(),
            urls: vec![],
        });
        n.network = Some(StaticNetwork {
            link: "ens18".into(),
            addresses: vec![],
            gateway: None,
            nameservers: vec![],
        });
        let inputs = (c, n);
        let back = config_inputs(&config_value(&inputs.0, &inputs.1)).unwrap();
        same(&inputs, &back);
    }

    #[test]
    fn malformed_maps_are_refused_with_their_path() {
        let (c, n) = full();
        let Value::Map(mut top) = config_value(&c, &n) else {
            panic!()
        };
        let mut bad = top.clone();
        let Value::Map(node) = &mut bad["node"] else {
            panic!()
        };
        node.insert("rol".into(), "worker".into());
        let err = config_inputs(&Value::Map(bad)).unwrap_err();
        assert!(err.contains("config.node.rol"), "{err}");

        let Value::Map(node) = &mut top["node"] else {
            panic!()
        };
        node.insert("role".into(), "master".into());
        let err = config_inputs(&Value::Map(top.clone())).unwrap_err();
        assert!(err.contains("config.node.role"), "{err}");

        let Value::Map(cluster) = &mut top["cluster"] else {
            panic!()
        };
        cluster.shift_remove("endpoint");
        let err = config_inputs(&Value::Map(top)).unwrap_err();
        assert!(err.contains("config.cluster.endpoint"), "{err}");

        assert!(config_inputs(&Value::from("x")).is_err());
    }

    #[test]
    fn roles_map_to_their_attribute() {
        assert_eq!(role_str(Role::ControlPlane), ROLE_CONTROL_PLANE);
        assert_eq!(parse_role("worker"), Some(Role::Worker));
        assert_eq!(parse_role("master"), None);
    }
}
