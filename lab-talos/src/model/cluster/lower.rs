//! Lowering a [`TalosCluster`]: the generation inputs of each node and
//! [`TalosCluster::add_to`], which adds the secrets, the ISOs, the VMs, the
//! machines and the cluster, each at the user's line.

use lab_core::{Handle, Lab, Loc, Output, Problem, Resource, ResourceSpec, Secret, Value};
use lab_proxmox::model::{CloudInit, Content, File, Storage, Vm};

use super::{NodeDecl, TalosCluster, MACHINE_TYPE, SCSI_CONTROLLER};
use crate::config::{ClusterInput, NodeInput, Role, StaticNetwork, VersionContract, Vip};
use crate::factory::{Arch, Platform, TalosVersion, QEMU_GUEST_AGENT};
use crate::model::net::{parse_ip, Cidr};
use crate::model::resources::{Cluster, ClusterOutputs, Machine, SchematicRegistration, Secrets};

impl TalosCluster {
    /// Where `field` was set, or where the cluster was declared.
    fn at(&self, field: &str) -> Loc {
        self.locs.get(field).copied().unwrap_or(self.declared_at)
    }

    /// The generation inputs a node of `role` shares with the others: only
    /// what changes that role's config (a worker gets no VIP and no
    /// control-plane patches), so a plan touches only the machines a
    /// change reaches.
    fn cluster_input(&self, role: Role, installer: &str) -> ClusterInput {
        let mut c = ClusterInput::new(&self.name, &self.endpoint, &self.kubernetes_version);
        c.contract = VersionContract::parse(&self.contract).unwrap_or(VersionContract::V1_13);
        c.install_disk = Some(self.install_disk.clone());
        c.install_image = Some(installer.to_owned());
        c.cert_sans = self.cert_sans.clone();
        c.allow_scheduling_on_control_planes = self.allow_scheduling_on_control_planes;
        c.cni = self.cni.clone();
        c.sysctls = self.sysctls.clone();
        c.registry_mirrors = self.registry_mirrors.clone();
        let texts = |l: &[(String, Loc)]| l.iter().map(|(t, _)| t.clone()).collect::<Vec<_>>();
        c.patches = texts(&self.patches);
        match role {
            Role::ControlPlane => {
                c.vip = self.vip.as_ref().map(|address| Vip {
                    address: address.clone(),
                    link: self.link.clone().unwrap_or_default(),
                });
                c.control_plane_patches = texts(&self.control_plane_patches);
            }
            Role::Worker => c.worker_patches = texts(&self.worker_patches),
        }
        c
    }

    fn node_input(&self, n: &NodeDecl) -> NodeInput {
        let mut node = NodeInput::new(n.role);
        node.hostname = Some(n.hostname.clone().unwrap_or_else(|| n.name.clone()));
        node.network = Some(StaticNetwork {
            link: self.link.clone().unwrap_or_default(),
            addresses: vec![n.cidr.clone()],
            gateway: self.gateway.clone(),
            nameservers: self.nameservers.clone(),
        });
        node.patches = n.patches.iter().map(|(t, _)| t.clone()).collect();
        node
    }

    /// Adds everything the cluster needs to `lab`:
    ///
    /// - `talos.secrets.<cluster>` (refuses to be destroyed);
    /// - with [`register_schematic`](Self::register_schematic),
    ///   `talos.schematic.<cluster>`, which every ISO download depends on;
    /// - a `proxmox.file` per Proxmox node hosting a Talos VM (one in all
    ///   if the ISO storage is shared): the schematic's nocloud ISO,
    ///   `talos-<version>-<id8>-nocloud-amd64.iso`;
    /// - a `proxmox.vm` per node (see [`TalosCluster`]'s docs);
    /// - a `talos.machine` per node, its config inputs using the installer
    ///   image of the ISO's schematic;
    /// - `talos.cluster.<cluster>`, after every machine.
    #[track_caller]
    pub fn add_to(self, lab: &mut Lab) -> TalosHandles {
        let mut problems = self.problems.clone();
        let mut require = |missing: bool, field: &str, message: &str, help: &str| {
            if missing {
                problems.push(Problem {
                    field: field.to_owned(),
                    message: message.to_owned(),
                    help: help.to_owned(),
                    loc: self.declared_at,
                });
            }
        };
        let has_nodes = !self.nodes.is_empty();
        require(
            has_nodes && self.link.is_none(),
            "link",
            "the cluster does not say the name of the VMs' NIC inside Talos",
            "add .link(\"ens18\") (the name `talosctl get links --insecure -n <ip>` shows): the static addresses and the VIP are configured on it",
        );
        require(
            has_nodes && self.vm_storage.is_none(),
            "vm_storage",
            "the cluster does not say where the VMs' disks go",
            "add .vm_storage(&local_lvm) (a storage with `images` content)",
        );
        require(
            has_nodes && self.iso_storage.is_none(),
            "iso_storage",
            "the cluster does not say where the Talos ISO goes",
            "add .iso_storage(&local) (a storage with `iso` content)",
        );

        let version = TalosVersion::parse(&self.talos_version)
            .unwrap_or_else(|_| TalosVersion::newest_stable());
        let image = self
            .factory
            .image(&self.schematic, &version, &Platform::NOCLOUD, Arch::Amd64);
        let id8 = image.schematic_id.get(..8).unwrap_or(&image.schematic_id);
        let filename = format!("talos-{version}-{id8}-nocloud-amd64.iso");
        let agent = self.schematic.has_extension(QEMU_GUEST_AGENT);

        // The secrets bundle.
        let mut secrets = Secrets::new(&self.name);
        {
            let spec = secrets.spec_mut();
            spec.attrs
                .insert("contract".into(), Value::from(self.contract.as_str()));
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("import".into(), Value::Secret(bundle.clone()));
            }
            relocate(spec, self.declared_at);
            mark(spec, "contract", self.at("contract"));
            if self.import.is_some() {
                mark(spec, "import", self.at("import"));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
        }
        let secrets = lab.add(secrets);

        // The schematic registration, before any ISO download.
        let schematic = self.register_schematic.then(|| {
            let mut reg = SchematicRegistration::new(&self.name, &self.factory, &self.schematic);
            let spec = reg.spec_mut();
            // The name and schematic were judged by `new` and `.schematic(..)`.
            spec.problems.clear();
            relocate(spec, self.at("register_schematic"));
            mark(spec, "schematic", self.at("schematic"));
            mark(spec, "id", self.at("schematic"));
            mark(spec, "factory", self.at("factory"));
            spec.waivers.extend(self.waivers.iter().cloned());
            lab.add(reg)
        });

        // The ISO, once per Proxmox node (local storage is per node), or
        // once in all on a shared storage.
        let shared = self.iso_storage.as_ref().is_some_and(|st| {
            lab.resource(st.address()).is_some_and(|s| {
                s.attrs.get("shared") == Some(&Value::Bool(true))
                    || s.attrs.get("type") == Some(&Value::from("nfs"))
            })
        });
        let mut isos: Vec<(String, Handle<File>)> = Vec::new();
        if let Some(storage) = &self.iso_storage {
            for n in &self.nodes {
                let pve = n.pve.address().name();
                if isos.iter().any(|(p, _)| p == pve) || (shared && !isos.is_empty()) {
                    continue;
                }
                let mut file = File::download(
                    format!("talos-{}-{pve}", self.name),
                    &n.pve,
                    storage,
                    Content::Iso,
                    &image.iso_url,
                )
                .filename(&filename);
                let spec = file.spec_mut();
                // A new Talos version is a new ISO: download it, move the
                // VMs' CD-ROMs to it, then delete the old one (Proxmox
                // refuses to delete an ISO a VM still has inserted).
                spec.lifecycle.create_before_destroy = true;
                relocate(spec, self.at("iso_storage"));
                mark(spec, "node", n.loc);
                for key in ["url", "filename"] {
                    mark(spec, key, self.at("talos_version"));
                }
                if let Some(reg) = &schematic {
                    spec.depend_on(reg, "depends_on");
                    if let Some(dep) = spec.deps.last_mut() {
                        dep.loc = self.at("register_schematic");
                    }
                }
                spec.waivers.extend(self.waivers.iter().cloned());
                isos.push((pve.to_owned(), lab.add(file)));
            }
        }
        let iso_for = |n: &NodeDecl| {
            isos.iter()
                .find(|(p, _)| p == n.pve.address().name())
                .or(isos.first().filter(|_| shared))
                .map(|(_, h)| h.clone())
        };

        // The VMs.
        let mut vms = Vec::new();
        for n in &self.nodes {
            let (size, size_key) = match n.role {
                Role::ControlPlane => (self.control_plane_size, "control_plane_size"),
                Role::Worker => (self.worker_size, "worker_size"),
            };
            let mut vm = Vm::new(&n.name, &n.pve)
                .cores(size.cores)
                .memory_mb(size.memory_mb);
            if let Some(storage) = &self.vm_storage {
                vm = vm.disk("scsi0", storage, &format!("{}G", size.disk_gb.max(1)));
            }
            vm = vm
                .scsi_controller(SCSI_CONTROLLER)
                .machine(MACHINE_TYPE)
                .balloon_mb(0);
            let iso = iso_for(n);
            if let Some(iso) = &iso {
                vm = vm.cdrom(iso);
            }
            if self.vm_storage.is_some() && iso.is_some() {
                // The empty disk boots nothing, so the ISO boots and
                // installs; from then on the disk boots.
                vm = vm.boot_order(&["scsi0", "ide2"]);
            }
            vm = vm.nic("net0", &self.bridge);
            if let Some(tag) = self.vlan {
                vm = vm.vlan(tag);
            }
            vm = vm.agent(agent);
            if let Some(storage) = &self.vm_storage {
                vm = vm.cloud_init(self.cloud_init(storage, n));
            }
            if let Some(cpu) = &self.cpu {
                vm = vm.cpu(cpu);
            }
            vm = vm
                .started(true)
                .onboot(true)
                .tags(&["talos", self.name.as_str()]);
            let spec = vm.spec_mut();
            // What runs there, for its note (`docs`) and Proxmox notes.
            let role = match n.role {
                Role::ControlPlane => "a control plane",
                Role::Worker => "a worker",
            };
            spec.annotations.insert(
                lab_core::notes::ABOUT_ANNOTATION.into(),
                lab_core::Value::from(format!(
                    "Talos Linux: {role} of the Kubernetes cluster `{}` ({}).",
                    self.name,
                    n.address()
                )),
            );
            relocate(spec, n.loc);
            for p in &mut spec.problems {
                p.loc = n.loc;
            }
            for (key, field) in [
                ("cores", size_key),
                ("memory_mb", size_key),
                ("disks.scsi0", "vm_storage"),
                ("cloud_init", "vm_storage"),
                ("nics", "bridge"),
                ("nics.net0", "bridge"),
                ("nics.net0.tag", "vlan"),
                ("cdrom", "iso_storage"),
                ("cdrom_file", "iso_storage"),
                ("agent", "schematic"),
                ("cpu", "cpu"),
            ] {
                if spec.field_locs.contains_key(key) {
                    mark(spec, key, self.at(field));
                }
            }
            spec.waivers.extend(self.waivers.iter().cloned());
            vms.push(lab.add(vm));
        }

        // The machines.
        let mut machines = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            let cluster = self.cluster_input(n.role, &image.installer_image);
            let node = self.node_input(n);
            let mut m = Machine::new(&n.name, &n.address(), &cluster, &node, &secrets)
                .vm(&vms[i])
                .version(&version.to_string());
            let spec = m.spec_mut();
            mark(spec, "version", self.at("talos_version"));
            // The name and address were judged where the node was declared.
            spec.problems.clear();
            spec.problems.extend(n.problems.iter().cloned());
            relocate(spec, n.loc);
            let layers: [(&str, &[(String, Loc)]); 4] = [
                ("patches", &self.patches),
                ("control_plane_patches", &self.control_plane_patches),
                ("worker_patches", &self.worker_patches),
                ("node_patches", &n.patches),
            ];
            for (key, list) in layers {
                for (j, (_, loc)) in list.iter().enumerate() {
                    let key = format!("{key}[{j}]");
                    if spec.field_locs.contains_key(&key) {
                        spec.field_locs.insert(key, *loc);
                    }
                }
            }
            // An imported bundle is known now: the config inputs carry it
            // directly (the edge to the secrets resource stays), so a plan
            // that re-imports the bundle a cluster runs with (after its
            // state was lost) sees the machines unchanged.
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("secrets".into(), Value::Secret(bundle.clone()));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
            machines.push(lab.add(m));
        }

        // The cluster, after every machine.
        let mut cluster = Cluster::new(&self.name, &self.endpoint, &secrets);
        for (n, m) in self.nodes.iter().zip(&machines) {
            cluster = match n.role {
                Role::ControlPlane => cluster.control_plane(m, &n.address()),
                Role::Worker => cluster.worker(m, &n.address()),
            };
        }
        {
            let first_cp = self.nodes.iter().find(|n| n.role == Role::ControlPlane);
            let spec = cluster.spec_mut();
            // Judged by TalosCluster::new, at the same line.
            spec.problems.clear();
            spec.problems.extend(problems);
            relocate(spec, self.declared_at);
            if let Some(cp) = first_cp {
                mark(spec, "bootstrap_node", cp.loc);
            }
            for (key, loc) in &self.locs {
                spec.field_locs.insert((*key).to_owned(), *loc);
            }
            for dep in &mut spec.deps {
                if let Some(n) = self
                    .nodes
                    .iter()
                    .find(|n| n.name == dep.on.name() && dep.on.kind() == Machine::KIND)
                {
                    dep.loc = n.loc;
                }
            }
            if let Some(bundle) = &self.import {
                spec.attrs
                    .insert("secrets".into(), Value::Secret(bundle.clone()));
            }
            spec.waivers.extend(self.waivers.iter().cloned());
        }
        let cluster = lab.add(cluster);

        TalosHandles {
            secrets,
            schematic,
            isos: isos.into_iter().map(|(_, h)| h).collect(),
            vms,
            machines,
            cluster,
        }
    }

    /// The cloud-init drive of node `n`'s VM: its static address, gateway
    /// and DNS servers. Talos's nocloud platform reads them at boot, so
    /// the maintenance API is reachable at the node's address before any
    /// machine config exists. Values already reported as invalid are left
    /// out rather than reported twice.
    #[track_caller]
    fn cloud_init(&self, storage: &Handle<Storage>, n: &NodeDecl) -> CloudInit {
        let mut ci = CloudInit::new(storage);
        if Cidr::parse(&n.cidr).is_ok() {
            let mut ipconfig = format!("ip={}", n.cidr);
            if let Some(gw) = self.gateway.as_ref().filter(|g| parse_ip(g).is_ok()) {
                ipconfig.push_str(&format!(",gw={gw}"));
            }
            ci = ci.ipconfig(&ipconfig);
        }
        let servers: Vec<&str> = self
            .nameservers
            .iter()
            .map(String::as_str)
            .filter(|s| parse_ip(s).is_ok())
            .collect();
        if !servers.is_empty() {
            ci = ci.nameserver(&servers.join(" "));
        }
        ci
    }
}

/// Points every location of `spec` at `loc` (the builders inside
/// [`TalosCluster::add_to`] record its line; the user wrote the values
/// elsewhere).
fn relocate(spec: &mut ResourceSpec, loc: Loc) {
    spec.declared_at = loc;
    for l in spec.field_locs.values_mut() {
        *l = loc;
    }
    for d in &mut spec.deps {
        d.loc = loc;
    }
}

/// Records that `key` was written at `loc`, and moves the edges made by
/// that field there too.
fn mark(spec: &mut ResourceSpec, key: &str, loc: Loc) {
    spec.field_locs.insert(key.to_owned(), loc);
    for d in spec.deps.iter_mut().filter(|d| d.via == key) {
        d.loc = loc;
    }
}

/// What [`TalosCluster::add_to`] added.
#[derive(Clone, Debug)]
pub struct TalosHandles {
    /// The secrets bundle.
    pub secrets: Handle<Secrets>,
    /// The schematic registration, with
    /// [`TalosCluster::register_schematic`].
    pub schematic: Option<Handle<SchematicRegistration>>,
    /// The ISO downloads, one per Proxmox node hosting Talos VMs (or one
    /// on a shared storage).
    pub isos: Vec<Handle<File>>,
    /// The VMs, in the order the nodes were declared.
    pub vms: Vec<Handle<Vm>>,
    /// The machines, in the order the nodes were declared.
    pub machines: Vec<Handle<Machine>>,
    /// The cluster.
    pub cluster: Handle<Cluster>,
}

impl TalosHandles {
    /// The admin kubeconfig, known after the cluster is bootstrapped.
    #[track_caller]
    pub fn kubeconfig(&self) -> Output<Secret> {
        self.cluster.kubeconfig()
    }

    /// The admin talosconfig (endpoints: the control planes' addresses).
    #[track_caller]
    pub fn talosconfig(&self) -> Output<Secret> {
        self.cluster.talosconfig()
    }
}
