//! Files a node downloads onto a storage by URL (`download-url`): cloud
//! images to import, ISOs and container templates; and OCI images a node
//! pulls from a registry (`oci-registry-pull`, PVE 9.1), which land as
//! container templates for application containers. No SSH is involved.

use lab_core::{Handle, Loc, Output, Resource, ResourceSpec};

use super::common::problem_at;
use super::node::Node;
use super::storage::{Content, Storage};
use crate::kinds;
use crate::schema::is_oci_image_reference;

/// The checksum algorithms `download-url` knows.
const CHECKSUM_ALGORITHMS: &[&str] = &["md5", "sha1", "sha224", "sha256", "sha384", "sha512"];

/// A file downloaded by a node onto a storage (`proxmox.file`): its
/// `volid` output (`local:import/debian-13-genericcloud-amd64.qcow2`) feeds
/// [`super::Template::cloud_image`] and [`super::Container::ostemplate`].
///
/// The content type is one of [`Content::Import`], [`Content::Iso`] and
/// [`Content::Vztmpl`]; the file name defaults to the URL's last path
/// segment and must have an extension Proxmox accepts for that content
/// (`.qcow2`, `.raw`, `.vmdk`, `.ova`, `.ovf` to import; `.iso`, `.img`;
/// `.tar`, `.tar.gz`, `.tar.xz`, `.tar.zst`, `.tar.bz2`). An OCI image
/// ([`File::oci_image`]) is pulled from a registry instead and lands as a
/// `.tar` container template.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_proxmox::model::*;
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let local = lab.add(Storage::existing("local").content(&[Content::Import]).node(&pve1));
/// let image = lab.add(
///     File::download(
///         "debian-13",
///         &pve1,
///         &local,
///         Content::Import,
///         "https://cloud.debian.org/images/cloud/trixie/latest/debian-13-genericcloud-amd64.qcow2",
///     )
///     .checksum("sha512", "abc123"),
/// );
/// let spec = lab.resource(image.address()).unwrap();
/// assert_eq!(spec.attrs["filename"], Value::from("debian-13-genericcloud-amd64.qcow2"));
/// assert_eq!(spec.attrs["checksum_algorithm"], Value::from("sha512"));
/// assert_eq!(image.volid().name(), "volid");
/// ```
#[derive(Clone, Debug)]
pub struct File {
    spec: ResourceSpec,
    content: Content,
    /// Where the file name came from: `.filename(..)` or the URL.
    filename_loc: Loc,
    /// Pulled from an OCI registry rather than downloaded.
    oci: bool,
}

impl File {
    /// The kind, `proxmox.file`.
    pub const KIND: &'static str = kinds::FILE;

    /// `node` downloads `url` onto `storage` as `content`.
    #[track_caller]
    pub fn download(
        name: impl AsRef<str>,
        node: &Handle<Node>,
        storage: &Handle<Storage>,
        content: Content,
        url: &str,
    ) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name.as_ref());
        spec.check_set = Some(crate::checks::SET);
        spec.set("node", node.address().name());
        spec.depend_on(node, "node");
        spec.set("storage", storage.address().name());
        spec.depend_on(storage, "storage");
        if !matches!(content, Content::Import | Content::Iso | Content::Vztmpl) {
            spec.invalid(
                "content",
                format!("a node cannot download `{content}` content"),
                "download with Content::Import (disk images), Content::Iso or Content::Vztmpl",
            );
        }
        spec.set("content", content.as_str());
        let scheme_ok = url.starts_with("https://") || url.starts_with("http://");
        if !scheme_ok {
            spec.invalid(
                "url",
                format!("`{url}` is not an http(s) URL"),
                "give the full URL, starting with https://",
            );
        }
        let filename = url
            .split(['?', '#'])
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("");
        spec.set("filename", filename);
        spec.set("url", url);
        let filename_loc = spec.loc_of("filename");
        File {
            spec,
            content,
            filename_loc,
            oci: false,
        }
    }

    /// `node` pulls the OCI image `reference` (`[registry[:port]/]repository:tag`,
    /// e.g. `docker.io/cloudflare/cloudflared:2025.11.1`) onto `storage`
    /// (a file storage with `vztmpl` content) with `oci-registry-pull`.
    /// The image lands as a container template named as PVE names it: the
    /// reference's last segment with every character outside
    /// `[a-zA-Z0-9_.-]` made `_`, plus `.tar`
    /// (`local:vztmpl/cloudflared_2025.11.1.tar`); its `volid` output feeds
    /// [`super::Container::ostemplate`] like a downloaded template's.
    ///
    /// The reference is checked with the API schema's pattern: a tag is
    /// required (a digest alone is refused) and the repository path is
    /// lower case.
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_proxmox::model::*;
    /// let mut lab = Lab::new("home");
    /// let pve1 = lab.add(Node::new("pve1"));
    /// let local = lab.add(Storage::existing("local").content(&[Content::Vztmpl]).node(&pve1));
    /// let image = lab.add(File::oci_image(
    ///     "cloudflared",
    ///     &pve1,
    ///     &local,
    ///     "docker.io/cloudflare/cloudflared:2025.11.1",
    /// ));
    /// let spec = lab.resource(image.address()).unwrap();
    /// assert_eq!(spec.attrs["filename"], Value::from("cloudflared_2025.11.1.tar"));
    /// assert_eq!(spec.attrs["content"], Value::from("vztmpl"));
    /// ```
    #[track_caller]
    pub fn oci_image(
        name: &str,
        node: &Handle<Node>,
        storage: &Handle<Storage>,
        reference: &str,
    ) -> File {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.check_set = Some(crate::checks::SET);
        spec.set("node", node.address().name());
        spec.depend_on(node, "node");
        spec.set("storage", storage.address().name());
        spec.depend_on(storage, "storage");
        spec.set("content", Content::Vztmpl.as_str());
        if !is_oci_image_reference(reference) {
            spec.invalid(
                "reference",
                format!("`{reference}` is not an OCI image reference Proxmox can pull"),
                oci_reference_help(reference),
            );
        }
        spec.set("reference", reference);
        spec.set("filename", oci_filename(reference));
        let filename_loc = spec.loc_of("filename");
        File {
            spec,
            content: Content::Vztmpl,
            filename_loc,
            oci: true,
        }
    }

    /// The name to store the file under, instead of the URL's last segment.
    /// For an OCI image, the name PVE stores it under: normalised as PVE
    /// does, with `.tar` appended (given or not).
    #[track_caller]
    pub fn filename(mut self, filename: &str) -> Self {
        if self.oci {
            let stem = filename.strip_suffix(".tar").unwrap_or(filename);
            self.spec.set(
                "filename",
                format!("{}.tar", normalize_content_filename(stem)),
            );
        } else {
            self.spec.set("filename", filename);
        }
        self.filename_loc = self.spec.loc_of("filename");
        self
    }

    /// The expected checksum, verified by Proxmox after the download.
    #[track_caller]
    pub fn checksum(mut self, algorithm: &str, value: &str) -> Self {
        if self.oci {
            self.spec.invalid(
                "checksum",
                "an OCI image is pulled by reference and has no checksum to check",
                "pin the image with its tag in the reference instead; remove .checksum(..)",
            );
            return self;
        }
        if !CHECKSUM_ALGORITHMS.contains(&algorithm) {
            self.spec.invalid(
                "checksum_algorithm",
                format!("`{algorithm}` is not a checksum algorithm Proxmox knows"),
                format!("use one of {}", CHECKSUM_ALGORITHMS.join(", ")),
            );
        }
        if value.is_empty() || !value.chars().all(|c| c.is_ascii_hexdigit()) {
            self.spec.invalid(
                "checksum",
                "the checksum is not a hexadecimal digest",
                "paste the digest as published, e.g. from SHA512SUMS",
            );
        }
        self.spec.set("checksum", value);
        self.spec.set("checksum_algorithm", algorithm);
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

/// `PVE::Storage::normalize_content_filename`: the part after the last `/`
/// or `\\`, every character outside `[a-zA-Z0-9_.-]` made `_`.
pub(crate) fn normalize_content_filename(name: &str) -> String {
    let name = name.strip_suffix('\n').unwrap_or(name);
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The file name `oci-registry-pull` gives an image pulled without a
/// `filename`: `normalize_content_filename(reference) . ".tar"`.
pub(crate) fn oci_filename(reference: &str) -> String {
    format!("{}.tar", normalize_content_filename(reference))
}

/// What to write instead of a reference `oci-registry-pull` refuses.
fn oci_reference_help(reference: &str) -> String {
    let reference = reference.trim();
    if let Some(rest) = reference.split_once("://").map(|(_, r)| r) {
        return format!("leave out the scheme: `{rest}`");
    }
    if reference.contains('@') {
        return "Proxmox pulls by tag only: write `registry/repository:tag`, not a digest".into();
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if !last.contains(':') {
        return format!("add the tag, e.g. `{reference}:latest` (better: a pinned version)");
    }
    if reference.chars().any(|c| c.is_ascii_uppercase()) {
        return "the repository path is lower case (only the registry host and the tag may have capitals)".into();
    }
    "write it as `[registry[:port]/]repository:tag`, e.g. `docker.io/cloudflare/cloudflared:2025.11.1`".into()
}

/// Why `filename` cannot hold `content`, if it cannot.
fn filename_problem(filename: &str, content: Content) -> Option<(String, String)> {
    if filename.is_empty() {
        return Some((
            "there is no file name (the URL does not end in one)".into(),
            "name it with .filename(\"debian-13-genericcloud-amd64.qcow2\")".into(),
        ));
    }
    if filename.contains('/') {
        return Some((
            format!("`{filename}` contains `/`"),
            "give a plain file name".into(),
        ));
    }
    let lower = filename.to_ascii_lowercase();
    let exts: &[&str] = match content {
        Content::Import => &[".qcow2", ".raw", ".vmdk", ".ova", ".ovf"],
        Content::Iso => &[".iso", ".img"],
        Content::Vztmpl => &[".tar", ".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"],
        _ => return None,
    };
    if exts.iter().any(|e| lower.ends_with(e)) {
        return None;
    }
    let help = if content == Content::Import && lower.ends_with(".img") {
        // Ubuntu's cloud images are qcow2 files named `.img`.
        format!(
            "a `.img` cloud image is usually qcow2: name it `{}.qcow2` with .filename(..)",
            &filename[..filename.len() - 4]
        )
    } else {
        format!(
            "name it with one of {} using .filename(..)",
            exts.join(", ")
        )
    };
    Some((
        format!("`{filename}` does not have an extension Proxmox accepts for `{content}` content"),
        help,
    ))
}

impl Resource for File {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }

    fn into_spec(mut self) -> ResourceSpec {
        let filename = self
            .spec
            .attrs
            .get("filename")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        if let Some((message, help)) = filename_problem(&filename, self.content) {
            problem_at(&mut self.spec, "filename", self.filename_loc, message, help);
        }
        self.spec
    }
}

/// Outputs of a downloaded file.
pub trait FileOutputs {
    /// The volume id, `storage:content/filename`.
    #[track_caller]
    fn volid(&self) -> Output<String>;
}

impl FileOutputs for Handle<File> {
    #[track_caller]
    fn volid(&self) -> Output<String> {
        self.output("volid")
    }
}
