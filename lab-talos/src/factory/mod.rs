//! # Image Factory: schematics, their ids, and the images built from them
//!
//! Talos images are built by the Image Factory (<https://factory.talos.dev>)
//! from a **schematic**: the system extensions to bake in (such as
//! `siderolabs/qemu-guest-agent`, which Proxmox's QEMU agent option needs),
//! extra kernel arguments, initial META values, an optional board overlay.
//! The factory names a schematic by an **id**, the lowercase hex SHA-256 of
//! the schematic's *canonical YAML*: Go's `yaml.Marshal` of the factory's
//! `Schematic` struct (`siderolabs/image-factory`, `pkg/schematic`), with 4
//! space indentation, fields in the struct's order (`owner`, `overlay`,
//! `customization` with `embeddedMachineConfiguration`, `extraKernelArgs`,
//! `meta`, `systemExtensions`, `bootloader`, `secureboot`, `diskImage`) and
//! empty fields left out, so the empty schematic is `customization: {}\n`.
//! Every image URL and installer reference contains that id.
//!
//! ## Why lab computes ids offline
//!
//! [`Schematic::canonical_yaml`] reproduces those bytes and
//! [`Schematic::id`] hashes them, without asking the factory. So a plan is
//! reproducible (the same lab gives the same ISO URL and installer image,
//! whether or not the factory is reachable), `lab check` needs no network,
//! and a schematic change shows up in the plan as a changed id. The ids are
//! checked against the factory's own test vectors and the published ids:
//! the empty schematic is [`VANILLA_SCHEMATIC_ID`] and the one with only
//! `siderolabs/qemu-guest-agent` is [`QEMU_GUEST_AGENT_SCHEMATIC_ID`].
//!
//! The factory still has to *know* a schematic before it serves its images,
//! so apply registers it first (`POST /schematics`, see
//! [`Schematic::registration_request`]); the id the factory answers must be
//! the one computed offline, and [`Schematic::parse_registration_response`]
//! turns a difference into an error that says the factory's canonical form
//! changed, instead of silently booting one image and installing another.
//!
//! ## Order matters, nothing is sorted
//!
//! The factory hashes lists in the order given: it neither sorts nor
//! de-duplicates extensions, kernel arguments or META values before
//! marshalling. `pkg/schematic` unmarshals the request and re-marshals the
//! struct as it is; its maintainers keep it so on purpose (extensions are
//! overlaid on top of one another, so "order of extensions technically
//! changes the output": image-factory#99, again #254), and the factory's own
//! integration test registers `amd-ucode, gvisor, gasket-driver` (unsorted)
//! and expects back the id computed locally and the same list. lab does the
//! same, so its ids are the factory's: reordering extensions changes the id
//! (and the images). [`Schematic::validate`] rejects a duplicated extension.
//!
//! ## The installer must match the boot image
//!
//! A node boots the ISO, then installs Talos to disk from the installer
//! image named in its machine config (`machine.install.image`), and later
//! upgrades from such an image too. Only system extensions travel through
//! the installer, and only those of the installer's own schematic: an
//! installer built from another schematic (the stock
//! `ghcr.io/siderolabs/installer`, or a different id) installs a system
//! without the ISO's extensions, and the QEMU guest agent, iSCSI tools or
//! drivers vanish at the first reboot. [`ImageFactory::image`] therefore
//! derives the ISO, the disk image and the installer from one schematic.
//! (Kernel arguments and META values only reach a node through the ISO or
//! disk image it boots.)
//!
//! Registration over HTTP is [`crate::api::FactoryClient`]'s job; this
//! module describes the request and checks the answer, and
//! [`Schematic::from_yaml`] reads a schematic back the way the factory
//! decodes a posted one (unknown fields refused).

mod parse;
mod urls;
mod version;

use crate::yaml::{self, Node};
pub use urls::{Arch, ImageFactory, InstallerForm, Platform, TalosImage, DEFAULT_FACTORY_URL};
pub use version::{TalosVersion, KNOWN_VERSIONS, NEWEST_PRERELEASE, NEWEST_STABLE};

/// The id of the empty schematic (`customization: {}`): stock Talos.
pub const VANILLA_SCHEMATIC_ID: &str =
    "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba";

/// The id of the schematic with only the `siderolabs/qemu-guest-agent`
/// extension, the one the Talos Proxmox guide uses.
pub const QEMU_GUEST_AGENT_SCHEMATIC_ID: &str =
    "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515";

/// The QEMU guest agent extension: enable a Proxmox VM's QEMU agent only
/// when its image has it.
pub const QEMU_GUEST_AGENT: &str = "siderolabs/qemu-guest-agent";

/// An error from the Image Factory helpers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactoryError {
    /// Not a Talos version such as `v1.13.9`.
    #[error("`{input}` is not a Talos version: {reason}")]
    InvalidVersion {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a Talos platform name.
    #[error("`{0}` is not a Talos platform name (such as nocloud or metal)")]
    InvalidPlatform(String),
    /// Not an architecture the factory builds for.
    #[error("`{0}` is not an Image Factory architecture (amd64 or arm64)")]
    InvalidArch(String),
    /// Not a usable factory base URL.
    #[error("`{url}` is not an Image Factory base URL: {reason}")]
    InvalidBaseUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A schematic the factory would refuse, or that lab can't have meant.
    #[error("invalid schematic: {0}")]
    InvalidSchematic(String),
    /// The factory's answer to a registration is not what its API returns.
    #[error("unexpected Image Factory response to POST /schematics: {0}")]
    InvalidResponse(String),
    /// The factory registered the schematic under another id than the one
    /// lab computed offline.
    #[error(
        "the Image Factory registered this schematic as {factory}, but lab computed {offline} \
         offline: the factory's canonical schematic form has changed (or it fills in a field \
         lab does not model), so lab's offline ids no longer match its images{}",
        .factory_schematic.as_deref().map(|s| format!("; the factory's canonical form is:\n{s}")).unwrap_or_default()
    )]
    IdMismatch {
        /// The id lab computed.
        offline: String,
        /// The id the factory returned.
        factory: String,
        /// The canonical YAML the factory returned, if it did and it differs
        /// from lab's.
        factory_schematic: Option<String>,
    },
}

/// A board overlay (single-board computers): its image and name, and
/// options passed to it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Overlay {
    /// The overlay image, such as `siderolabs/sbc-raspberrypi`.
    pub image: String,
    /// The overlay name, such as `rpi_generic`.
    pub name: String,
    /// Overlay options (Go `map[string]any`): written with keys sorted the
    /// way Go sorts them, whatever the order here.
    pub options: serde_json::Map<String, serde_json::Value>,
}

/// The official system extensions to bake into the image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SystemExtensions {
    /// Extension names such as `siderolabs/qemu-guest-agent`; the factory
    /// picks each one's build for the Talos version asked for. In the order
    /// given (the order is part of the id).
    pub official_extensions: Vec<String>,
}

/// The bootloader of the factory's disk images (unset: Talos's default for
/// the version and architecture).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bootloader {
    /// sd-boot for UEFI and GRUB for BIOS (`dual-boot`).
    DualBoot,
    /// systemd-boot (`sd-boot`).
    SdBoot,
    /// GRUB (`grub`).
    Grub,
}

impl Bootloader {
    /// The name in the schematic.
    pub fn as_str(self) -> &'static str {
        match self {
            Bootloader::DualBoot => "dual-boot",
            Bootloader::SdBoot => "sd-boot",
            Bootloader::Grub => "grub",
        }
    }
}

/// SecureBoot options of the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SecureBoot {
    /// Include the well-known UEFI certificates in the auto-enrollment
    /// database.
    pub include_well_known_certificates: bool,
}

/// The schematic's `customization.diskImage` options, which shape only the
/// raw disk image the Image Factory builds (set through
/// [`Schematic::disk_sector_size`]). Unset (or 0), the key is left out of
/// the schematic's YAML, so it does not change the schematic's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DiskImage {
    /// The disk image's sector size in bytes (unset or 0: 512).
    pub sector_size: Option<u32>,
}

/// What a schematic changes in the stock image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Customization {
    /// A machine configuration embedded into the image.
    pub embedded_machine_configuration: Option<String>,
    /// Extra kernel arguments, one argument per entry (ISO and disk images
    /// only: the installer ignores them).
    pub extra_kernel_args: Vec<String>,
    /// Initial META partition values: (key, value), such as `0x0a` for a
    /// network configuration (ISO and disk images only).
    pub meta: Vec<(u8, String)>,
    /// System extensions.
    pub system_extensions: SystemExtensions,
    /// The disk image bootloader.
    pub bootloader: Option<Bootloader>,
    /// SecureBoot options.
    pub secureboot: SecureBoot,
    /// Disk image options.
    pub disk_image: DiskImage,
}

/// An Image Factory schematic: build it, then take its [`id`](Self::id).
///
/// ```
/// use lab_talos::factory::{Schematic, QEMU_GUEST_AGENT, QEMU_GUEST_AGENT_SCHEMATIC_ID};
///
/// let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
/// assert_eq!(schematic.id(), QEMU_GUEST_AGENT_SCHEMATIC_ID);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schematic {
    /// The owner the factory records when it requires authentication (it
    /// sets it to the authenticated user, which changes the id); unset for
    /// the public factory.
    pub owner: Option<String>,
    /// A board overlay.
    pub overlay: Option<Overlay>,
    /// The customization.
    pub customization: Customization,
}

impl Schematic {
    /// The empty schematic: stock Talos ([`VANILLA_SCHEMATIC_ID`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an official system extension, such as
    /// `siderolabs/qemu-guest-agent`, after those already listed.
    pub fn extension(mut self, name: impl Into<String>) -> Self {
        self.customization
            .system_extensions
            .official_extensions
            .push(name.into());
        self
    }

    /// Adds official system extensions, in order.
    pub fn extensions<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.customization
            .system_extensions
            .official_extensions
            .extend(names.into_iter().map(Into::into));
        self
    }

    /// Adds one extra kernel argument, such as `console=ttyS0`.
    pub fn kernel_arg(mut self, arg: impl Into<String>) -> Self {
        self.customization.extra_kernel_args.push(arg.into());
        self
    }

    /// Adds extra kernel arguments, in order.
    pub fn kernel_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.customization
            .extra_kernel_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an initial META value.
    pub fn meta(mut self, key: u8, value: impl Into<String>) -> Self {
        self.customization.meta.push((key, value.into()));
        self
    }

    /// Sets the board overlay (its options are kept if one was set).
    pub fn overlay(mut self, image: impl Into<String>, name: impl Into<String>) -> Self {
        let overlay = self.overlay.get_or_insert_with(Overlay::default);
        overlay.image = image.into();
        overlay.name = name.into();
        self
    }

    /// Sets an overlay option (creating an overlay without image and name
    /// if none is set).
    pub fn overlay_option(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Self {
        self.overlay
            .get_or_insert_with(Overlay::default)
            .options
            .insert(key.into(), value.into());
        self
    }

    /// Sets the owner: only for a factory that requires authentication, which
    /// records the authenticated user there before computing the id.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.owner = Some(owner.into());
        self
    }

    /// Embeds a machine configuration into the image.
    pub fn embedded_machine_configuration(mut self, config: impl Into<String>) -> Self {
        self.customization.embedded_machine_configuration = Some(config.into());
        self
    }

    /// Sets the disk image bootloader.
    pub fn bootloader(mut self, bootloader: Bootloader) -> Self {
        self.customization.bootloader = Some(bootloader);
        self
    }

    /// Includes (or not) the well-known UEFI certificates for SecureBoot
    /// auto-enrollment.
    pub fn secureboot_well_known_certificates(mut self, include: bool) -> Self {
        self.customization
            .secureboot
            .include_well_known_certificates = include;
        self
    }

    /// Sets the disk image sector size in bytes.
    pub fn disk_sector_size(mut self, bytes: u32) -> Self {
        self.customization.disk_image.sector_size = Some(bytes);
        self
    }

    /// The official extensions, in order.
    pub fn official_extensions(&self) -> &[String] {
        &self.customization.system_extensions.official_extensions
    }

    /// Whether the image has the extension `name`.
    pub fn has_extension(&self, name: &str) -> bool {
        self.official_extensions().iter().any(|e| e == name)
    }

    /// The canonical YAML: exactly the bytes the Image Factory hashes (Go's
    /// `yaml.Marshal` of its schematic struct), and the body lab registers.
    pub fn canonical_yaml(&self) -> String {
        yaml::to_string(&map(self.to_node()))
    }

    /// The schematic id: the lowercase hex SHA-256 of
    /// [`canonical_yaml`](Self::canonical_yaml), as the factory computes it.
    pub fn id(&self) -> String {
        crate::sha256_hex(self.canonical_yaml().as_bytes())
    }

    /// Checks what lab considers a mistake, before the factory or a node
    /// finds it: an empty or duplicated extension name, an extension or
    /// kernel argument with whitespace (a kernel argument per entry), an
    /// overlay without image or name, a zero sector size.
    pub fn validate(&self) -> Result<(), FactoryError> {
        let invalid = |msg: String| Err(FactoryError::InvalidSchematic(msg));
        let extensions = self.official_extensions();
        for (i, name) in extensions.iter().enumerate() {
            if name.is_empty() {
                return invalid("an official extension name is empty".into());
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return invalid(format!(
                    "official extension {name:?} contains whitespace or control characters"
                ));
            }
            if extensions[..i].contains(name) {
                return invalid(format!("official extension {name:?} is listed twice"));
            }
        }
        for arg in &self.customization.extra_kernel_args {
            if arg.is_empty() {
                return invalid("an extra kernel argument is empty".into());
            }
            if arg.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return invalid(format!(
                    "extra kernel argument {arg:?} contains whitespace: give each argument separately"
                ));
            }
        }
        if let Some(overlay) = &self.overlay {
            if !overlay_is_zero(overlay) && (overlay.image.is_empty() || overlay.name.is_empty()) {
                return invalid("an overlay needs both an image and a name".into());
            }
            if let Some(key) = overlay
                .options
                .keys()
                .find(|k| k.len() > 128 || k.contains(['\n', '\r']))
            {
                return invalid(format!(
                    "overlay option key {key:?} is longer than 128 bytes or spans lines"
                ));
            }
        }
        if self.customization.disk_image.sector_size == Some(0) {
            return invalid("the disk image sector size is 0".into());
        }
        Ok(())
    }

    /// The registration request: `POST /schematics` with the canonical YAML
    /// as the body. Send it to [`ImageFactory::schematics_url`]; the factory
    /// answers `201 {"id": ..., "schematic": ...}`, which
    /// [`parse_registration_response`](Self::parse_registration_response)
    /// checks. Registering is idempotent: the factory keeps one copy per id.
    pub fn registration_request(&self) -> RegistrationRequest {
        RegistrationRequest {
            method: "POST",
            path: "/schematics",
            content_type: "application/yaml",
            body: self.canonical_yaml(),
        }
    }

    /// Reads the factory's answer to the registration and returns the id,
    /// which must equal [`id`](Self::id): a different id means the factory's
    /// canonical form changed and lab's offline ids can't be trusted.
    pub fn parse_registration_response(&self, json: &str) -> Result<String, FactoryError> {
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| FactoryError::InvalidResponse(format!("not JSON: {e}")))?;
        let id = value
            .get("id")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| FactoryError::InvalidResponse("no string `id` field".into()))?;
        if id.len() != 64 || !id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(FactoryError::InvalidResponse(format!(
                "`id` {id:?} is not a lowercase hex SHA-256"
            )));
        }
        let offline = self.id();
        if id != offline {
            let canonical = self.canonical_yaml();
            let factory_schematic = value
                .get("schematic")
                .and_then(serde_json::Value::as_str)
                .filter(|s| *s != canonical)
                .map(str::to_string);
            return Err(FactoryError::IdMismatch {
                offline,
                factory: id.to_string(),
                factory_schematic,
            });
        }
        Ok(offline)
    }

    /// The schematic as the Go encoder walks it.
    fn to_node(&self) -> Vec<(String, Node)> {
        let mut root = Vec::new();
        if let Some(owner) = self.owner.as_deref().filter(|o| !o.is_empty()) {
            root.push(("owner".into(), Node::Str(owner.into())));
        }
        if let Some(overlay) = self.overlay.as_ref().filter(|o| !overlay_is_zero(o)) {
            let mut fields = vec![
                ("image".into(), Node::Str(overlay.image.clone())),
                ("name".into(), Node::Str(overlay.name.clone())),
            ];
            if !overlay.options.is_empty() {
                fields.push(("options".into(), json_map_node(&overlay.options)));
            }
            root.push(("overlay".into(), map(fields)));
        }
        let c = &self.customization;
        let mut custom = Vec::new();
        if let Some(config) = c
            .embedded_machine_configuration
            .as_deref()
            .filter(|s| !s.is_empty())
        {
            custom.push((
                "embeddedMachineConfiguration".into(),
                Node::Str(config.into()),
            ));
        }
        if !c.extra_kernel_args.is_empty() {
            custom.push((
                "extraKernelArgs".into(),
                Node::Seq(c.extra_kernel_args.iter().cloned().map(Node::Str).collect()),
            ));
        }
        if !c.meta.is_empty() {
            let items = c
                .meta
                .iter()
                .map(|(key, value)| {
                    map(vec![
                        ("key".into(), Node::Int(i64::from(*key))),
                        ("value".into(), Node::Str(value.clone())),
                    ])
                })
                .collect();
            custom.push(("meta".into(), Node::Seq(items)));
        }
        if !c.system_extensions.official_extensions.is_empty() {
            let names = c
                .system_extensions
                .official_extensions
                .iter()
                .cloned()
                .map(Node::Str)
                .collect();
            custom.push((
                "systemExtensions".into(),
                map(vec![("officialExtensions".into(), Node::Seq(names))]),
            ));
        }
        if let Some(bootloader) = c.bootloader {
            custom.push(("bootloader".into(), Node::Str(bootloader.as_str().into())));
        }
        if c.secureboot.include_well_known_certificates {
            custom.push((
                "secureboot".into(),
                map(vec![(
                    "includeWellKnownCertificates".into(),
                    Node::Bool(true),
                )]),
            ));
        }
        if let Some(size) = c.disk_image.sector_size.filter(|s| *s != 0) {
            custom.push((
                "diskImage".into(),
                map(vec![("sectorSize".into(), Node::Int(i64::from(size)))]),
            ));
        }
        root.push(("customization".into(), map(custom)));
        root
    }
}

/// A request to register a schematic with an Image Factory (see
/// [`Schematic::registration_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    /// `POST`.
    pub method: &'static str,
    /// `/schematics`, relative to the factory's base URL.
    pub path: &'static str,
    /// `application/yaml`.
    pub content_type: &'static str,
    /// The canonical YAML.
    pub body: String,
}

/// Go's `omitempty` on the `Overlay` struct: left out when every field is
/// empty.
fn overlay_is_zero(overlay: &Overlay) -> bool {
    overlay.image.is_empty() && overlay.name.is_empty() && overlay.options.is_empty()
}

/// A JSON value as Go's `any` decoded from it marshals.
fn json_node(value: &serde_json::Value) -> Node {
    use serde_json::Value;
    match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Node::Int(i),
            None => Node::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(s) => Node::Str(s.clone()),
        Value::Array(items) => Node::Seq(items.iter().map(json_node).collect()),
        Value::Object(map) => json_map_node(map),
    }
}

/// A mapping in the order given (Go struct field order).
fn map(fields: Vec<(String, Node)>) -> Node {
    Node::Map(fields.into_iter().collect())
}

/// A Go map: keys in yaml.v3's sorted order.
fn json_map_node(object: &serde_json::Map<String, serde_json::Value>) -> Node {
    let mut entries: Vec<(&String, &serde_json::Value)> = object.iter().collect();
    entries.sort_by(|a, b| yaml::go_key_cmp(a.0, b.0));
    map(entries
        .into_iter()
        .map(|(k, v)| (k.clone(), json_node(v)))
        .collect())
}
