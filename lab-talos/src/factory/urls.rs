//! Where an Image Factory serves a schematic's images.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use super::{FactoryError, Schematic, TalosVersion};

/// The official Image Factory.
pub const DEFAULT_FACTORY_URL: &str = "https://factory.talos.dev";

/// A CPU architecture the Image Factory builds for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64.
    Amd64,
    /// 64-bit ARM.
    Arm64,
}

impl Arch {
    /// Every architecture.
    pub const ALL: [Arch; 2] = [Arch::Amd64, Arch::Arm64];

    /// The name in factory paths: `amd64`, `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Arch {
    type Err = FactoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "amd64" => Ok(Arch::Amd64),
            "arm64" => Ok(Arch::Arm64),
            _ => Err(FactoryError::InvalidArch(s.to_string())),
        }
    }
}

/// A Talos platform: how a node finds its configuration and network
/// (`nocloud` for Proxmox VMs with a cloud-init drive, `metal` for bare
/// metal). It names the images (`nocloud-amd64.iso`) and the installer
/// repository (`nocloud-installer`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform(Cow<'static, str>);

impl Platform {
    /// `nocloud`: what lab uses for Proxmox VMs (static addresses from the
    /// cloud-init drive's network-config).
    pub const NOCLOUD: Platform = Platform(Cow::Borrowed("nocloud"));
    /// `metal`: bare metal, and the `talosctl gen config` default from 1.14.
    pub const METAL: Platform = Platform(Cow::Borrowed("metal"));

    /// Any other platform name (`aws`, `hcloud`, ...): lower-case letters,
    /// digits and inner hyphens.
    pub fn new(name: &str) -> Result<Self, FactoryError> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-')
            && !name.ends_with('-');
        if valid {
            Ok(Platform(Cow::Owned(name.to_string())))
        } else {
            Err(FactoryError::InvalidPlatform(name.to_string()))
        }
    }

    /// The platform name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Platform {
    type Err = FactoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::new(s)
    }
}

/// Which installer image repository to name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InstallerForm {
    /// `factory.talos.dev/<platform>-installer/<id>:<version>`: what
    /// `talosctl gen config` writes from Talos 1.14 on.
    #[default]
    Platform,
    /// `factory.talos.dev/installer/<id>:<version>`: the older form, for a
    /// self-hosted factory that predates platform installers.
    Legacy,
}

/// An Image Factory: the official one or a self-hosted one, and the
/// installer form to name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageFactory {
    base_url: String,
    installer_form: InstallerForm,
}

impl Default for ImageFactory {
    fn default() -> Self {
        Self::official()
    }
}

impl ImageFactory {
    /// The official factory, <https://factory.talos.dev>.
    pub fn official() -> Self {
        Self {
            base_url: DEFAULT_FACTORY_URL.to_string(),
            installer_form: InstallerForm::Platform,
        }
    }

    /// A factory at `base_url`: `http://` or `https://`, a host (with an
    /// optional port and path), no query; a trailing `/` is dropped.
    pub fn new(base_url: &str) -> Result<Self, FactoryError> {
        let invalid = |reason: &str| FactoryError::InvalidBaseUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = base_url.trim_end_matches('/');
        let Some(rest) = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
        else {
            return Err(invalid("expected an http:// or https:// URL"));
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        if rest.contains(['?', '#', ' ', '@']) {
            return Err(invalid(
                "a factory base URL has no query, fragment, spaces or credentials",
            ));
        }
        Ok(Self {
            base_url: trimmed.to_string(),
            installer_form: InstallerForm::Platform,
        })
    }

    /// The same factory, naming installers in `form`.
    pub fn with_installer_form(mut self, form: InstallerForm) -> Self {
        self.installer_form = form;
        self
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The installer form this factory names.
    pub fn installer_form(&self) -> InstallerForm {
        self.installer_form
    }

    /// The factory as a container registry: the base URL without its scheme
    /// (`factory.talos.dev`).
    pub fn registry(&self) -> &str {
        self.base_url
            .split_once("://")
            .map_or(self.base_url.as_str(), |(_, rest)| rest)
    }

    /// `POST` here to register a schematic (see
    /// [`Schematic::registration_request`]).
    pub fn schematics_url(&self) -> String {
        format!("{}/schematics", self.base_url)
    }

    /// The registered schematic, `GET /schematics/<id>`.
    pub fn schematic_url(&self, schematic_id: &str) -> String {
        format!("{}/schematics/{schematic_id}", self.base_url)
    }

    /// The boot ISO: `https://factory.talos.dev/image/<id>/v1.13.9/nocloud-amd64.iso`.
    pub fn iso_url(
        &self,
        schematic_id: &str,
        version: &TalosVersion,
        platform: &Platform,
        arch: Arch,
    ) -> String {
        self.asset_url(schematic_id, version, &format!("{platform}-{arch}.iso"))
    }

    /// The raw disk image, xz-compressed:
    /// `https://factory.talos.dev/image/<id>/v1.13.9/nocloud-amd64.raw.xz`
    /// (the format the factory serves for `nocloud` and `metal`).
    pub fn disk_image_url(
        &self,
        schematic_id: &str,
        version: &TalosVersion,
        platform: &Platform,
        arch: Arch,
    ) -> String {
        self.asset_url(schematic_id, version, &format!("{platform}-{arch}.raw.xz"))
    }

    /// The installer image the machine config's `machine.install.image`
    /// names: `factory.talos.dev/nocloud-installer/<id>:v1.13.9`, or with
    /// [`InstallerForm::Legacy`] `factory.talos.dev/installer/<id>:v1.13.9`
    /// (the platform is then not part of the name).
    pub fn installer_image(
        &self,
        schematic_id: &str,
        version: &TalosVersion,
        platform: &Platform,
    ) -> String {
        match self.installer_form {
            InstallerForm::Platform => format!(
                "{}/{platform}-installer/{schematic_id}:{version}",
                self.registry()
            ),
            InstallerForm::Legacy => {
                format!("{}/installer/{schematic_id}:{version}", self.registry())
            }
        }
    }

    /// Everything a node needs from this factory for one schematic, version,
    /// platform and architecture, all derived from the same schematic id so
    /// the installer keeps the boot image's extensions.
    pub fn image(
        &self,
        schematic: &Schematic,
        version: &TalosVersion,
        platform: &Platform,
        arch: Arch,
    ) -> TalosImage {
        let id = schematic.id();
        TalosImage {
            iso_url: self.iso_url(&id, version, platform, arch),
            disk_image_url: self.disk_image_url(&id, version, platform, arch),
            installer_image: self.installer_image(&id, version, platform),
            schematic_id: id,
            version: version.clone(),
            platform: platform.clone(),
            arch,
        }
    }

    fn asset_url(&self, schematic_id: &str, version: &TalosVersion, file: &str) -> String {
        format!("{}/image/{schematic_id}/{version}/{file}", self.base_url)
    }
}

/// The images of one schematic for one Talos version, platform and
/// architecture (see [`ImageFactory::image`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TalosImage {
    /// The schematic id every URL below is built from.
    pub schematic_id: String,
    /// The Talos version.
    pub version: TalosVersion,
    /// The platform.
    pub platform: Platform,
    /// The architecture.
    pub arch: Arch,
    /// The boot ISO (for Proxmox: a `download-url` into ISO storage).
    pub iso_url: String,
    /// The raw disk image (`.raw.xz`).
    pub disk_image_url: String,
    /// The installer image for `machine.install.image`.
    pub installer_image: String,
}
