//! QEMU virtual machines, and their cloud-init settings.

use std::panic::Location;

use indexmap::IndexMap;
use lab_core::{Handle, Loc, Problem, Resource, ResourceSpec, Secret, Value};

use super::common::{
    cidr_problem, ip_problem, mark, parse_size_gb, parse_slot, problem_at, put, SIZE_HELP,
    VM_DISK_SLOTS,
};
use super::file::{File, FileOutputs};
use super::guest::{opt, Guest};
use super::node::Node;
use super::pool::Pool;
use super::storage::Storage;
use super::template::{Template, TemplateOutputs};
use crate::kinds;

/// The SCSI controller models Proxmox accepts (`scsihw`).
pub(crate) const SCSI_CONTROLLERS: &[&str] = &[
    "lsi",
    "lsi53c810",
    "virtio-scsi-pci",
    "virtio-scsi-single",
    "megasas",
    "pvscsi",
];

/// The IDE slot the CD-ROM drive of [`Vm::cdrom`] takes.
pub(crate) const CDROM_SLOT: &str = "ide2";

/// One disk as declared.
#[derive(Clone, Debug)]
struct Disk {
    slot: String,
    storage: String,
    size_gb: Option<i64>,
    ssd: Option<bool>,
    discard: Option<bool>,
    iothread: Option<bool>,
}

/// A QEMU VM (`proxmox.vm`) on a node.
///
/// Defaults: 1 core, 1024 MiB, the QEMU agent on, not started on boot but
/// running after apply, the resource name as the VM's name. Disks, NICs
/// and their options are added in order; `.ssd()`, `.discard()`,
/// `.iothread()` change the disk added last, `.vlan()` and `.firewall()`
/// the NIC added last. Disk sizes are strings with a unit (`"32G"`,
/// `"1T"`), lowered to whole GiB.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
/// let old = lab.add(Template::existing("ubuntu-old", &pve1, 9001));
/// let vm = lab.add(
///     Vm::new("immich", &pve1)
///         .clone_from(&old)
///         .cores(4)
///         .memory_mb(8192)
///         .disk("scsi0", &lvm, "32G").ssd(true)
///         .nic("net0", "vmbr0").vlan(20)
///         .cloud_init(CloudInit::new(&lvm).user("admin").ipconfig("ip=dhcp"))
///         .boot_order(&["scsi0", "net0"])
///         .tags(&["photos"]),
/// );
/// let spec = lab.resource(vm.address()).unwrap();
/// assert_eq!(spec.attrs["cores"], Value::Int(4));
/// assert_eq!(spec.attrs["clone_from"], Value::from("proxmox.template.ubuntu-old"));
/// assert!(spec.attrs["clone_vmid"].contains_ref());
/// let Value::List(disks) = &spec.attrs["disks"] else { panic!() };
/// let Value::Map(d) = &disks[0] else { panic!() };
/// assert_eq!(d["size_gb"], Value::Int(32));
/// assert_eq!(d["ssd"], Value::Bool(true));
/// ```
#[derive(Clone, Debug)]
pub struct Vm {
    guest: Guest,
    disks: Vec<Disk>,
    boot_order: Option<(Vec<String>, Loc)>,
    /// The number of `ipconfig` entries and where cloud-init was set.
    ipconfigs: Option<(usize, Loc)>,
}

impl Vm {
    /// The kind, `proxmox.vm`.
    pub const KIND: &'static str = kinds::VM;

    /// A VM called `name` on `node`.
    #[track_caller]
    pub fn new(name: impl AsRef<str>, node: &Handle<Node>) -> Self {
        let mut guest = Guest::new(Self::KIND, name.as_ref(), node, "name", 1024);
        guest.spec.set("agent", true);
        guest.spec.set("onboot", false);
        guest.spec.set("started", true);
        Vm {
            guest,
            disks: Vec::new(),
            boot_order: None,
            ipconfigs: None,
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

    /// The VM's name in Proxmox (a DNS name), instead of the resource name.
    #[track_caller]
    pub fn hostname(mut self, name: &str) -> Self {
        self.guest.hostname(name);
        self
    }

    /// CPU cores per socket.
    #[track_caller]
    pub fn cores(mut self, cores: u32) -> Self {
        self.spec().set("cores", cores);
        self
    }

    /// CPU sockets.
    #[track_caller]
    pub fn sockets(mut self, sockets: u32) -> Self {
        self.spec().set("sockets", sockets);
        self
    }

    /// Memory in MiB.
    #[track_caller]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        self.spec().set("memory_mb", mb);
        self
    }

    /// The CPU type (`host`, `x86-64-v2-AES`).
    #[track_caller]
    pub fn cpu(mut self, cpu: &str) -> Self {
        self.spec().set("cpu", cpu);
        self
    }

    /// Creates the VM as a clone of `template`: `clone_from` is the
    /// template's address, `clone_vmid` and `clone_node` its `vmid` and
    /// `node` outputs. A template on another node is cloned there onto
    /// this VM's node (PVE's `target`), which needs shared storage for
    /// the template's disks and the clone's (the `clone-across-nodes`
    /// check says so at `plan`).
    #[track_caller]
    pub fn clone_from(mut self, template: &Handle<Template>) -> Self {
        self.spec().set_ref("clone_from", template);
        self.spec().set_input::<i64>("clone_vmid", template.vmid());
        self.spec()
            .set_input::<String>("clone_node", template.node());
        self
    }

    /// Creates the VM as a linked clone of `template` (`full=0`): its disks
    /// are thin copies of the template's base volumes, made without copying
    /// data, on the template's storage (declare them there). A full clone
    /// ([`Vm::clone_from`]) copies every disk and may go to another storage.
    #[track_caller]
    pub fn linked_clone_from(mut self, template: &Handle<Template>) -> Self {
        self = self.clone_from(template);
        self.spec().set("linked_clone", true);
        self
    }

    /// A disk in `slot` (`scsi0`..`scsi30`, `virtio0`..`virtio15`,
    /// `sata0`..`sata5`, `ide0`..`ide3`) on `storage`, of `size` (`"32G"`).
    #[track_caller]
    pub fn disk(mut self, slot: &str, storage: &Handle<Storage>, size: &str) -> Self {
        let spec = &mut self.guest.spec;
        if let Err(p) = parse_slot(slot, VM_DISK_SLOTS) {
            spec.invalid("disks", p, "use a slot like `scsi0`");
        }
        if self.disks.iter().any(|d| d.slot == slot) {
            spec.invalid(
                "disks",
                format!("disk slot `{slot}` is used twice"),
                "give each disk its own slot (scsi0, scsi1, ...)",
            );
        }
        let size_gb = match parse_size_gb(size) {
            Ok(gb) => Some(gb),
            Err(p) => {
                spec.invalid("disks", p, SIZE_HELP);
                None
            }
        };
        spec.depend_on(storage, "disks");
        mark(spec, format!("disks.{slot}"), Location::caller());
        self.disks.push(Disk {
            slot: slot.to_string(),
            storage: storage.address().name().to_string(),
            size_gb,
            ssd: None,
            discard: None,
            iothread: None,
        });
        self
    }

    #[track_caller]
    fn last_disk(&mut self, option: &str) -> Option<&mut Disk> {
        let loc = Location::caller();
        match self.disks.last_mut() {
            Some(d) => {
                mark(
                    &mut self.guest.spec,
                    format!("disks.{}.{option}", d.slot),
                    loc,
                );
                Some(d)
            }
            None => {
                self.guest.spec.invalid(
                    "disks",
                    format!(".{option}(..) applies to the disk added before it, and there is none"),
                    "add the disk first: .disk(\"scsi0\", &storage, \"32G\").ssd(true)",
                );
                None
            }
        }
    }

    /// Marks the last disk as an SSD to the guest.
    #[track_caller]
    pub fn ssd(mut self, on: bool) -> Self {
        if let Some(d) = self.last_disk("ssd") {
            d.ssd = Some(on);
        }
        self
    }

    /// Passes discard (TRIM) through for the last disk.
    #[track_caller]
    pub fn discard(mut self, on: bool) -> Self {
        if let Some(d) = self.last_disk("discard") {
            d.discard = Some(on);
        }
        self
    }

    /// Gives the last disk its own I/O thread.
    #[track_caller]
    pub fn iothread(mut self, on: bool) -> Self {
        if let Some(d) = self.last_disk("iothread") {
            d.iothread = Some(on);
        }
        self
    }

    /// A virtio NIC in `slot` (`net0`..`net31`) on `bridge`, which the node
    /// must declare.
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

    /// The Proxmox firewall on the last NIC.
    #[track_caller]
    pub fn firewall(mut self, on: bool) -> Self {
        if let Some(n) = self.guest.last_nic("firewall") {
            n.firewall = Some(on);
        }
        self
    }

    /// A cloud-init drive with these settings.
    #[track_caller]
    pub fn cloud_init(mut self, ci: CloudInit) -> Self {
        let here = Location::caller();
        let spec = &mut self.guest.spec;
        spec.depend_on(&ci.storage, "cloud_init");
        spec.problems.extend(ci.problems);
        let mut map = IndexMap::new();
        map.insert("storage".to_string(), ci.storage.address().name().into());
        opt(&mut map, "user", ci.user);
        opt(&mut map, "password", ci.password);
        opt(
            &mut map,
            "ssh_keys",
            (!ci.ssh_keys.is_empty()).then_some(ci.ssh_keys),
        );
        self.ipconfigs = Some((ci.ipconfig.len(), ci.ipconfig_loc.unwrap_or(here)));
        opt(
            &mut map,
            "ipconfig",
            (!ci.ipconfig.is_empty()).then_some(ci.ipconfig),
        );
        opt(&mut map, "nameserver", ci.nameserver);
        opt(&mut map, "searchdomain", ci.searchdomain);
        spec.set("cloud_init", map);
        self
    }

    /// Inserts the ISO `iso` (a [`File`] downloaded with
    /// [`super::Content::Iso`]) into a CD-ROM drive, lowered to
    /// `ide2: <volid>,media=cdrom`: `cdrom` is the file's `volid` output,
    /// `cdrom_file` its address. (A clone whose template put its cloud-init
    /// drive in `ide2` gets the disc in the first free IDE slot.) The boot
    /// order may name `ide2`; without one Proxmox boots the first disk,
    /// then the CD-ROM. Changing the file swaps the disc in place; dropping
    /// `.cdrom(..)` ejects it.
    ///
    /// A VM that boots an installer ISO, as the Talos Proxmox guide
    /// recommends (VirtIO SCSI, q35, no ballooning):
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_proxmox::model::*;
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    /// let local = lab.add(Storage::existing("local").content(&[Content::Iso]));
    /// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    /// let iso = lab.add(File::download(
    ///     "talos", &pve1, &local, Content::Iso,
    ///     "https://factory.talos.dev/image/376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba/v1.13.0/metal-amd64.iso",
    /// ));
    /// let vm = lab.add(
    ///     Vm::new("cp1", &pve1)
    ///         .disk("scsi0", &lvm, "32G")
    ///         .cdrom(&iso)
    ///         .scsi_controller("virtio-scsi-pci")
    ///         .machine("q35")
    ///         .balloon_mb(0)
    ///         .nic("net0", "vmbr0"),
    /// );
    /// let spec = lab.resource(vm.address()).unwrap();
    /// assert!(spec.attrs["cdrom"].contains_ref());
    /// assert_eq!(spec.attrs["cdrom_file"], Value::from("proxmox.file.talos"));
    /// assert_eq!(spec.attrs["scsihw"], Value::from("virtio-scsi-pci"));
    /// assert_eq!(spec.attrs["machine"], Value::from("q35"));
    /// assert_eq!(spec.attrs["balloon"], Value::Int(0));
    /// ```
    #[track_caller]
    pub fn cdrom(mut self, iso: &Handle<File>) -> Self {
        let spec = self.spec();
        spec.set_input::<String>("cdrom", iso.volid());
        spec.set("cdrom_file", iso.address().to_string());
        self
    }

    /// The SCSI controller model (`scsihw`): one of `lsi`, `lsi53c810`,
    /// `virtio-scsi-pci`, `virtio-scsi-single`, `megasas`, `pvscsi`
    /// (Talos wants `virtio-scsi-pci`). Without it a VM created without a
    /// clone gets `virtio-scsi-single` and a clone keeps its template's.
    #[track_caller]
    pub fn scsi_controller(mut self, model: &str) -> Self {
        let spec = self.spec();
        if !SCSI_CONTROLLERS.contains(&model) {
            spec.invalid(
                "scsihw",
                format!("`{model}` is not a SCSI controller Proxmox knows"),
                format!("use one of {}", SCSI_CONTROLLERS.join(", ")),
            );
        }
        spec.set("scsihw", model);
        self
    }

    /// The QEMU machine type (`q35`, `pc`, `pc-q35-9.2`), passed to
    /// Proxmox as is (`[type=]<machine type>`). Without it Proxmox uses
    /// its default (`pc`, i440fx).
    #[track_caller]
    pub fn machine(mut self, machine: &str) -> Self {
        self.spec().set("machine", machine);
        self
    }

    /// The memory balloon's target in MiB; `0` removes the balloon device
    /// (what Talos wants). Without it Proxmox keeps the balloon on with a
    /// target of the VM's memory.
    #[track_caller]
    pub fn balloon_mb(mut self, mb: u32) -> Self {
        self.spec().set("balloon", mb);
        self
    }

    /// The QEMU guest agent (default on).
    #[track_caller]
    pub fn agent(mut self, on: bool) -> Self {
        self.spec().set("agent", on);
        self
    }

    /// The boot order: disk and NIC slots of this VM (`["scsi0", "net0"]`).
    #[track_caller]
    pub fn boot_order(mut self, order: &[&str]) -> Self {
        let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
        self.spec().set("boot_order", order.clone());
        self.boot_order = Some((order, Location::caller()));
        self
    }

    /// Start the VM when its node boots (default off).
    #[track_caller]
    pub fn onboot(mut self, on: bool) -> Self {
        self.spec().set("onboot", on);
        self
    }

    /// Whether the VM is running after apply (default on).
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
    /// writes for a VM found without a description, so the first plan
    /// changes nothing.
    #[track_caller]
    pub fn no_notes(mut self) -> Self {
        self.spec().set("notes", lab_core::Value::Null);
        self
    }

    /// Makes the VM a member of `pool`.
    #[track_caller]
    pub fn pool(mut self, pool: &Handle<Pool>) -> Self {
        self.guest.pool(pool);
        self
    }
}

impl Resource for Vm {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.guest.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        self.guest.finish(|n| {
            let mut m = IndexMap::new();
            m.insert("slot".to_string(), n.slot.as_str().into());
            m.insert("model".to_string(), "virtio".into());
            m.insert("bridge".to_string(), n.bridge.as_str().into());
            opt(&mut m, "tag", n.tag);
            opt(&mut m, "firewall", n.firewall);
            m
        });
        let disks: Vec<Value> = self
            .disks
            .iter()
            .map(|d| {
                let mut m = IndexMap::new();
                m.insert("slot".to_string(), d.slot.as_str().into());
                m.insert("storage".to_string(), d.storage.as_str().into());
                opt(&mut m, "size_gb", d.size_gb);
                opt(&mut m, "ssd", d.ssd);
                opt(&mut m, "discard", d.discard);
                opt(&mut m, "iothread", d.iothread);
                Value::Map(m)
            })
            .collect();
        let spec = &mut self.guest.spec;
        let loc = self.disks.first().map_or(spec.declared_at, |d| {
            spec.loc_of(&format!("disks.{}", d.slot))
        });
        put(spec, "disks", disks, loc);
        let has_cdrom = spec.attrs.contains_key("cdrom");
        if has_cdrom {
            if let Some(d) = self.disks.iter().find(|d| d.slot == CDROM_SLOT) {
                let at = spec.loc_of(&format!("disks.{}", d.slot));
                problem_at(
                    spec,
                    "disks",
                    at,
                    format!("disk slot `{CDROM_SLOT}` holds this VM's CD-ROM (.cdrom(..))"),
                    "put the disk in another slot (scsi0, sata0, ide0, ...)",
                );
            }
        }
        if let Some((order, at)) = &self.boot_order {
            for entry in order {
                let known = self.disks.iter().any(|d| &d.slot == entry)
                    || self.guest.nics.iter().any(|n| &n.slot == entry)
                    || (has_cdrom && entry == CDROM_SLOT);
                if !known {
                    problem_at(
                        spec,
                        "boot_order",
                        at,
                        format!(
                            "boot order names `{entry}`, which is not a disk, NIC or CD-ROM of this VM"
                        ),
                        "list slots declared with .disk(..) or .nic(..), or `ide2` for the .cdrom(..)",
                    );
                }
            }
        }
        let int = |k: &str| spec.attrs.get(k).and_then(Value::as_i64);
        if let (Some(balloon), Some(memory)) = (int("balloon"), int("memory_mb")) {
            if balloon > memory {
                let at = spec.loc_of("balloon");
                problem_at(
                    spec,
                    "balloon",
                    at,
                    format!(
                        "a balloon of {balloon} MiB is more than the VM's {memory} MiB of memory"
                    ),
                    "give a target up to .memory_mb(..), or 0 to turn the balloon off",
                );
            }
        }
        if let Some((count, at)) = self.ipconfigs {
            for i in 0..count {
                let has = self.guest.nics.iter().any(|n| n.index == Some(i as u32));
                if !has {
                    problem_at(
                        spec,
                        "cloud_init",
                        at,
                        format!("cloud-init ipconfig {i} is for NIC net{i}, which this VM does not have"),
                        format!("add .nic(\"net{i}\", \"vmbr0\"), or remove that ipconfig (they apply to net0, net1, ... in order)"),
                    );
                }
            }
        }
        self.guest.spec
    }
}

/// Cloud-init settings of a VM: a drive on `storage` (which needs `images`
/// content) and the user, SSH keys and network settings written to it.
///
/// `ipconfig` entries apply to the VM's NICs by index: the first to
/// `net0`, the second to `net1`.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
/// let ci = CloudInit::new(&lvm)
///     .user("admin")
///     .password(Secret::new("hunter2"))
///     .ssh_key("ssh-ed25519 AAAAC3Nza me@laptop")
///     .ipconfig("ip=10.0.20.5/24,gw=10.0.20.1")
///     .nameserver("10.0.0.1")
///     .searchdomain("lan");
/// # let _ = ci;
/// ```
#[derive(Clone, Debug)]
pub struct CloudInit {
    storage: Handle<Storage>,
    user: Option<String>,
    password: Option<Secret>,
    ssh_keys: Vec<String>,
    ipconfig: Vec<String>,
    ipconfig_loc: Option<Loc>,
    nameserver: Option<String>,
    searchdomain: Option<String>,
    problems: Vec<Problem>,
}

impl CloudInit {
    /// A cloud-init drive on `storage`.
    #[track_caller]
    pub fn new(storage: &Handle<Storage>) -> Self {
        CloudInit {
            storage: storage.clone(),
            user: None,
            password: None,
            ssh_keys: Vec::new(),
            ipconfig: Vec::new(),
            ipconfig_loc: None,
            nameserver: None,
            searchdomain: None,
            problems: Vec::new(),
        }
    }

    #[track_caller]
    fn invalid(&mut self, field: &str, message: String, help: &str) {
        self.problems.push(Problem {
            field: format!("cloud_init.{field}"),
            message,
            help: help.to_string(),
            loc: Location::caller(),
        });
    }

    /// The user cloud-init creates.
    #[track_caller]
    pub fn user(mut self, user: &str) -> Self {
        if user.is_empty() || user.contains(char::is_whitespace) {
            self.invalid(
                "user",
                format!("`{user}` is not a user name"),
                "write a plain login name like `admin`",
            );
        }
        self.user = Some(user.to_string());
        self
    }

    /// The user's password.
    #[track_caller]
    pub fn password(mut self, password: impl Into<Secret>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Adds an authorized SSH public key (one per call).
    #[track_caller]
    pub fn ssh_key(mut self, key: &str) -> Self {
        let key = key.trim();
        let known = ["ssh-", "ecdsa-", "sk-"];
        let parts = key.split_whitespace().count();
        if key.contains('\n') || parts < 2 || !known.iter().any(|p| key.starts_with(p)) {
            self.invalid(
                "ssh_keys",
                "this is not one SSH public key".to_string(),
                "give one key per .ssh_key(..), as in ~/.ssh/id_ed25519.pub: `ssh-ed25519 AAAA... me@laptop`",
            );
        }
        self.ssh_keys.push(key.to_string());
        self
    }

    /// Adds the network settings of the next NIC (`ip=10.0.20.5/24,gw=10.0.20.1`,
    /// `ip=dhcp`, `ip6=auto`).
    #[track_caller]
    pub fn ipconfig(mut self, config: &str) -> Self {
        if let Some(p) = ipconfig_problem(config) {
            self.invalid(
                "ipconfig",
                p,
                "write it like `ip=10.0.20.5/24,gw=10.0.20.1` or `ip=dhcp` (keys ip, gw, ip6, gw6)",
            );
        }
        self.ipconfig.push(config.to_string());
        self.ipconfig_loc.get_or_insert(Location::caller());
        self
    }

    /// The DNS server.
    #[track_caller]
    pub fn nameserver(mut self, server: &str) -> Self {
        let bad = server
            .split_whitespace()
            .any(|s| ip_problem(s, false).is_some() && ip_problem(s, true).is_some());
        if server.is_empty() || bad {
            self.invalid(
                "nameserver",
                format!("`{server}` is not an IP address"),
                "write the DNS server's address, like `10.0.0.1`",
            );
        }
        self.nameserver = Some(server.to_string());
        self
    }

    /// The DNS search domain.
    #[track_caller]
    pub fn searchdomain(mut self, domain: &str) -> Self {
        self.searchdomain = Some(domain.to_string());
        self
    }
}

/// Why an `ipconfig` value is malformed, if it is.
fn ipconfig_problem(config: &str) -> Option<String> {
    if config.is_empty() {
        return Some("the ipconfig is empty".into());
    }
    for part in config.split(',') {
        let Some((key, value)) = part.split_once('=') else {
            return Some(format!("`{part}` is not `key=value`"));
        };
        let problem = match key {
            "ip" if value == "dhcp" => None,
            "ip" => cidr_problem(value, false),
            "ip6" if matches!(value, "dhcp" | "auto") => None,
            "ip6" => cidr_problem(value, true),
            "gw" => ip_problem(value, false),
            "gw6" => ip_problem(value, true),
            _ => Some(format!("`{key}` is not an ipconfig key")),
        };
        if problem.is_some() {
            return problem;
        }
    }
    None
}
