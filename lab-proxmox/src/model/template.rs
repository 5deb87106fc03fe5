//! VM templates: made from a downloaded cloud image (`import-from`, no SSH),
//! or an existing template declared by VMID.

use std::collections::BTreeSet;

use lab_core::{Handle, Output, Resource, ResourceSpec};

use super::common::{add_tags, dns_name_problem, problem_at};
use super::file::{File, FileOutputs};
use super::node::Node;
use super::storage::Storage;
use crate::kinds;

/// A VM template (`proxmox.template`) that VMs clone
/// ([`super::Vm::clone_from`]).
///
/// - [`Template::cloud_image`]: the lab creates it on a node by importing
///   a downloaded [`File`] (`image` is the file's `volid` output,
///   `image_file` its address) into `storage`, optionally grown to
///   `disk_gb`. Its `vmid` output is what clones use.
/// - [`Template::existing`]: a template that already exists (model only),
///   by node and VMID.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let local = lab.add(Storage::existing("local").content(&[Content::Import]));
/// let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
/// let image = lab.add(File::download(
///     "debian-13", &pve1, &local, Content::Import,
///     "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
/// ));
/// let tmpl = lab.add(Template::cloud_image("debian-13", &pve1, &image).storage(&lvm).vmid(9000).disk_gb(8));
/// let spec = lab.resource(tmpl.address()).unwrap();
/// assert_eq!(spec.attrs["vmid"], Value::Int(9000));
/// assert_eq!(spec.attrs["image_file"], Value::from("proxmox.file.debian-13"));
/// let old = lab.add(Template::existing("ubuntu-old", &pve1, 9001));
/// assert!(!lab.resource(old.address()).unwrap().managed);
/// ```
#[derive(Clone, Debug)]
pub struct Template {
    spec: ResourceSpec,
    existing: bool,
    tags: BTreeSet<String>,
}

impl Template {
    /// The kind, `proxmox.template`.
    pub const KIND: &'static str = kinds::TEMPLATE;

    /// A template on `node` made from the cloud image `image` (a file
    /// downloaded with [`super::Content::Import`]). Give it a storage with
    /// [`Template::storage`].
    #[track_caller]
    pub fn cloud_image(name: impl AsRef<str>, node: &Handle<Node>, image: &Handle<File>) -> Self {
        let name = name.as_ref();
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        spec.set("node", node.address().name());
        spec.depend_on(node, "node");
        if let Some(p) = dns_name_problem(name) {
            spec.invalid(
                "name",
                format!("the template's name must be a DNS name: {p}"),
                "name it with letters, digits and `-`",
            );
        }
        spec.set("name", name);
        spec.set_input::<String>("image", image.volid());
        spec.set("image_file", image.address().to_string());
        spec.set("cores", 1);
        spec.set("memory_mb", 1024);
        Template {
            spec,
            existing: false,
            tags: BTreeSet::new(),
        }
    }

    /// A template that already exists on `node` as VMID `vmid` (model only).
    #[track_caller]
    pub fn existing(name: impl AsRef<str>, node: &Handle<Node>, vmid: u32) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name.as_ref());
        spec.check_set = Some(crate::checks::SET);
        spec.managed = false;
        spec.set("node", node.address().name());
        spec.depend_on(node, "node");
        spec.set("vmid", vmid);
        Template {
            spec,
            existing: true,
            tags: BTreeSet::new(),
        }
    }

    #[track_caller]
    fn created_only(&mut self, field: &str) -> bool {
        if self.existing {
            self.spec.invalid(
                field,
                format!("`{field}` applies to templates the lab creates"),
                "an existing template is only declared by node and VMID",
            );
        }
        !self.existing
    }

    /// The storage the image is imported into (needs `images` content).
    #[track_caller]
    pub fn storage(mut self, storage: &Handle<Storage>) -> Self {
        if self.created_only("storage") {
            self.spec.set("storage", storage.address().name());
            self.spec.depend_on(storage, "storage");
        }
        self
    }

    /// The VMID to create it as (otherwise allocated).
    #[track_caller]
    pub fn vmid(mut self, vmid: u32) -> Self {
        if self.created_only("vmid") {
            self.spec.set("vmid", vmid);
        }
        self
    }

    /// Grows the imported disk to `gb` GiB (cloud images are small).
    #[track_caller]
    pub fn disk_gb(mut self, gb: u32) -> Self {
        if !self.created_only("disk_gb") {
            return self;
        }
        if gb == 0 {
            self.spec.invalid(
                "disk_gb",
                "a disk of 0 GiB",
                "give the size in GiB, e.g. .disk_gb(8), or leave it out to keep the image's size",
            );
        }
        self.spec.set("disk_gb", gb);
        self
    }

    /// CPU cores of the template (clones may override).
    #[track_caller]
    pub fn cores(mut self, cores: u32) -> Self {
        if self.created_only("cores") {
            self.spec.set("cores", cores);
        }
        self
    }

    /// Memory in MiB.
    #[track_caller]
    pub fn memory_mb(mut self, mb: u32) -> Self {
        if self.created_only("memory_mb") {
            self.spec.set("memory_mb", mb);
        }
        self
    }

    /// Adds tags (lowered sorted).
    #[track_caller]
    pub fn tags(mut self, tags: &[&str]) -> Self {
        if self.created_only("tags") {
            add_tags(&mut self.spec, &mut self.tags, tags);
        }
        self
    }

    /// Notes shown in the web interface.
    #[track_caller]
    pub fn notes(mut self, notes: &str) -> Self {
        if self.created_only("notes") {
            self.spec.set("notes", notes);
        }
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for Template {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        if !self.existing && !self.spec.attrs.contains_key("storage") {
            let at = self.spec.declared_at;
            problem_at(
                &mut self.spec,
                "storage",
                at,
                "a cloud-image template needs a storage to import its disk into",
                "add .storage(&local_lvm) (a storage with `images` content)",
            );
        }
        self.spec
    }
}

/// Outputs of a template.
pub trait TemplateOutputs {
    /// The template's VMID.
    #[track_caller]
    fn vmid(&self) -> Output<i64>;
    /// The node it is on.
    #[track_caller]
    fn node(&self) -> Output<String>;
}

impl TemplateOutputs for Handle<Template> {
    #[track_caller]
    fn vmid(&self) -> Output<i64> {
        self.output("vmid")
    }
    #[track_caller]
    fn node(&self) -> Output<String> {
        self.output("node")
    }
}
