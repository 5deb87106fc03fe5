//! Files a node downloads onto a storage by URL (`download-url`): cloud
//! images to import, ISOs and container templates. No SSH is involved.

use lab_core::{Handle, Loc, Output, Resource, ResourceSpec};

use super::common::problem_at;
use super::node::Node;
use super::storage::{Content, Storage};
use crate::kinds;

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
/// `.tar.gz`, `.tar.xz`, `.tar.zst`, `.tar.bz2`).
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
        }
    }

    /// The name to store the file under, instead of the URL's last segment.
    #[track_caller]
    pub fn filename(mut self, filename: &str) -> Self {
        self.spec.set("filename", filename);
        self.filename_loc = self.spec.loc_of("filename");
        self
    }

    /// The expected checksum, verified by Proxmox after the download.
    #[track_caller]
    pub fn checksum(mut self, algorithm: &str, value: &str) -> Self {
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
        Content::Vztmpl => &[".tar.gz", ".tar.xz", ".tar.zst", ".tar.bz2"],
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
