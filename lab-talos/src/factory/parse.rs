//! Reading a schematic back from YAML (or JSON), as the Image Factory does.
//!
//! The factory decodes a posted schematic with Go's `yaml.v3` into its
//! `Schematic` struct with `KnownFields(true)`: a field it does not know is
//! an error (`400 Bad Request`), not silently dropped, and so is a value of
//! the wrong type or a META key that does not fit a `uint8`. It then
//! re-marshals the struct, so the id of a posted schematic is the id of its
//! *canonical* form, whatever the spelling of the body (JSON, other
//! indentation, explicit empty fields).
//! [`Schematic::from_yaml`] reads the same documents and refuses the same
//! mistakes; [`Schematic::canonical_yaml`] of the result is what the factory
//! stores and hashes. The provider uses it to read the `schematic`
//! attribute back, the simulator to answer `POST /schematics`.
//!
//! Error messages follow yaml.v3's wording (`line 3: field foo not found in
//! type schematic.Customization`); the line is where the key first appears
//! in the text.

use indexmap::IndexMap;

use super::{Bootloader, FactoryError, Overlay, Schematic};
use crate::yaml::{self, Node};

/// Where yaml.v3 would say a key is: the first line whose text (after
/// indentation and list dashes) starts with the key, or 0 if none does
/// (flow style on one line is found by its quoted key).
fn line_of(text: &str, key: &str) -> usize {
    let plain = format!("{key}:");
    let quoted = format!("\"{key}\"");
    let single = format!("'{key}'");
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start().trim_start_matches(['-', ' ']);
        if body.starts_with(&plain) || body.starts_with(&quoted) || body.starts_with(&single) {
            return i + 1;
        }
    }
    text.lines()
        .position(|l| l.contains(&quoted) || l.contains(&single))
        .map_or(0, |i| i + 1)
}

/// The fields of one Go struct, read with `KnownFields(true)`.
struct Struct<'a> {
    text: &'a str,
    go_type: &'static str,
    fields: &'a IndexMap<String, Node>,
}

impl<'a> Struct<'a> {
    fn of(text: &'a str, go_type: &'static str, node: &'a Node) -> Result<Self, FactoryError> {
        match node {
            Node::Map(fields) => {
                let s = Struct {
                    text,
                    go_type,
                    fields,
                };
                Ok(s)
            }
            other => Err(invalid(format!(
                "cannot unmarshal !!{} into {go_type}",
                yaml_tag(other)
            ))),
        }
    }

    /// Refuses any key not in `known`.
    fn known(self, known: &[&str]) -> Result<Self, FactoryError> {
        if let Some(key) = self.fields.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(invalid(format!(
                "line {}: field {key} not found in type {}",
                line_of(self.text, key),
                self.go_type
            )));
        }
        Ok(self)
    }

    /// The value of `key`, unless absent or null (Go leaves the zero value).
    fn get(&self, key: &str) -> Option<&'a Node> {
        self.fields.get(key).filter(|n| !matches!(n, Node::Null))
    }

    fn string(&self, key: &str) -> Result<Option<String>, FactoryError> {
        self.get(key)
            .map(|node| scalar_string(node, self.text, key))
            .transpose()
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, FactoryError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Node::Seq(items)) => items
                .iter()
                .map(|item| scalar_string(item, self.text, key))
                .collect(),
            Some(other) => Err(unmarshal(self.text, key, other, "[]string")),
        }
    }

    fn bool(&self, key: &str) -> Result<bool, FactoryError> {
        match self.get(key) {
            None => Ok(false),
            Some(Node::Bool(b)) => Ok(*b),
            Some(other) => Err(unmarshal(self.text, key, other, "bool")),
        }
    }

    fn int(&self, key: &str, go_type: &str, max: i64) -> Result<Option<i64>, FactoryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Node::Int(i)) if (0..=max).contains(i) => Ok(Some(*i)),
            Some(other) => Err(unmarshal(self.text, key, other, go_type)),
        }
    }
}

fn invalid(message: String) -> FactoryError {
    FactoryError::InvalidSchematic(format!("yaml: unmarshal errors: {message}"))
}

/// yaml.v3's short tag of a node, for "cannot unmarshal !!seq into ...".
fn yaml_tag(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Bool(_) => "bool",
        Node::Int(_) => "int",
        Node::Float(_) => "float",
        Node::Str(_) => "str",
        Node::Seq(_) => "seq",
        Node::Map(_) => "map",
    }
}

fn unmarshal(text: &str, key: &str, node: &Node, go_type: &str) -> FactoryError {
    let shown = node
        .scalar_text()
        .map(|t| format!(" `{t}`"))
        .unwrap_or_default();
    invalid(format!(
        "line {}: cannot unmarshal !!{}{shown} into {go_type}",
        line_of(text, key),
        yaml_tag(node)
    ))
}

/// A scalar decoded into a Go `string`: yaml.v3 takes the text of any
/// scalar (`1` becomes `"1"`), but not a collection.
fn scalar_string(node: &Node, text: &str, key: &str) -> Result<String, FactoryError> {
    match node {
        Node::Str(s) => Ok(s.clone()),
        Node::Null => Ok(String::new()),
        other => other
            .scalar_text()
            .ok_or_else(|| unmarshal(text, key, other, "string")),
    }
}

impl Schematic {
    /// Reads a schematic the way the Image Factory decodes a posted one
    /// (YAML or JSON, the first document): unknown fields, values of the
    /// wrong type, META keys above 255 and unknown bootloaders are errors;
    /// absent, null and empty fields are the zero value. The result's
    /// [`canonical_yaml`](Self::canonical_yaml) is what the factory stores,
    /// and its [`id`](Self::id) the id it answers.
    ///
    /// ```
    /// use lab_talos::factory::{Schematic, QEMU_GUEST_AGENT_SCHEMATIC_ID};
    /// let json = r#"{"customization": {"systemExtensions": {"officialExtensions": ["siderolabs/qemu-guest-agent"]}}}"#;
    /// assert_eq!(Schematic::from_yaml(json).unwrap().id(), QEMU_GUEST_AGENT_SCHEMATIC_ID);
    /// assert!(Schematic::from_yaml("customization:\n  extensions: []\n").is_err());
    /// ```
    pub fn from_yaml(text: &str) -> Result<Schematic, FactoryError> {
        let docs = yaml::parse(text).map_err(|e| {
            FactoryError::InvalidSchematic(format!("yaml: line {}: {}", e.line.max(1), e.message))
        })?;
        // yaml.v3's Decoder on an empty stream: io.EOF.
        let root = docs
            .first()
            .ok_or_else(|| FactoryError::InvalidSchematic("EOF".into()))?;
        let root = Struct::of(text, "schematic.Schematic", root)?.known(&[
            "owner",
            "overlay",
            "customization",
        ])?;
        let mut schematic = Schematic::new();
        schematic.owner = root.string("owner")?.filter(|o| !o.is_empty());

        if let Some(node) = root.get("overlay") {
            let o = Struct::of(text, "schematic.Overlay", node)?
                .known(&["image", "name", "options"])?;
            let mut overlay = Overlay {
                image: o.string("image")?.unwrap_or_default(),
                name: o.string("name")?.unwrap_or_default(),
                options: serde_json::Map::new(),
            };
            match o.get("options") {
                None => {}
                Some(Node::Map(options)) => {
                    for (k, v) in options {
                        overlay.options.insert(k.clone(), v.to_json());
                    }
                }
                Some(other) => {
                    return Err(unmarshal(text, "options", other, "map[string]interface {}"))
                }
            }
            schematic.overlay = Some(overlay);
        }

        if let Some(node) = root.get("customization") {
            let c = Struct::of(text, "schematic.Customization", node)?.known(&[
                "embeddedMachineConfiguration",
                "extraKernelArgs",
                "meta",
                "systemExtensions",
                "bootloader",
                "secureboot",
                "diskImage",
            ])?;
            let custom = &mut schematic.customization;
            custom.embedded_machine_configuration = c
                .string("embeddedMachineConfiguration")?
                .filter(|s| !s.is_empty());
            custom.extra_kernel_args = c.strings("extraKernelArgs")?;
            match c.get("meta") {
                None => {}
                Some(Node::Seq(items)) => {
                    for item in items {
                        let m = Struct::of(text, "schematic.MetaValue", item)?
                            .known(&["key", "value"])?;
                        let key = m.int("key", "uint8", i64::from(u8::MAX))?.unwrap_or(0);
                        let value = m.string("value")?.unwrap_or_default();
                        custom.meta.push((key as u8, value));
                    }
                }
                Some(other) => return Err(unmarshal(text, "meta", other, "[]schematic.MetaValue")),
            }
            if let Some(node) = c.get("systemExtensions") {
                let s = Struct::of(text, "schematic.SystemExtensions", node)?
                    .known(&["officialExtensions"])?;
                custom.system_extensions.official_extensions = s.strings("officialExtensions")?;
            }
            custom.bootloader = match c.string("bootloader")?.as_deref() {
                None | Some("") => None,
                Some("dual-boot") => Some(Bootloader::DualBoot),
                Some("sd-boot") => Some(Bootloader::SdBoot),
                Some("grub") => Some(Bootloader::Grub),
                Some(other) => {
                    return Err(FactoryError::InvalidSchematic(format!(
                        "unknown bootloader {other:?} (dual-boot, sd-boot or grub)"
                    )))
                }
            };
            if let Some(node) = c.get("secureboot") {
                let s = Struct::of(text, "schematic.SecureBootCustomization", node)?
                    .known(&["includeWellKnownCertificates"])?;
                custom.secureboot.include_well_known_certificates =
                    s.bool("includeWellKnownCertificates")?;
            }
            if let Some(node) = c.get("diskImage") {
                let d = Struct::of(text, "schematic.DiskImageCustomization", node)?
                    .known(&["sectorSize"])?;
                custom.disk_image.sector_size = d
                    .int("sectorSize", "uint", i64::from(u32::MAX))?
                    .filter(|s| *s != 0)
                    .map(|s| s as u32);
            }
        }
        Ok(schematic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::factory::{QEMU_GUEST_AGENT, QEMU_GUEST_AGENT_SCHEMATIC_ID, VANILLA_SCHEMATIC_ID};

    fn every_field() -> Schematic {
        Schematic::new()
            .owner("someone")
            .overlay("siderolabs/sbc-raspberrypi", "rpi_generic")
            .overlay_option("configTxtAppend", "dtoverlay=vc4")
            .overlay_option("b", 2)
            .embedded_machine_configuration("version: v1alpha1\n")
            .kernel_args(["console=ttyS0", "net.ifnames=0"])
            .meta(0x0a, "foo")
            .extensions(["siderolabs/iscsi-tools", QEMU_GUEST_AGENT])
            .bootloader(Bootloader::SdBoot)
            .secureboot_well_known_certificates(true)
            .disk_sector_size(4096)
    }

    #[test]
    fn canonical_yaml_reads_back_to_the_same_schematic() {
        for s in [
            Schematic::new(),
            Schematic::new().extension(QEMU_GUEST_AGENT),
            every_field(),
        ] {
            let back = Schematic::from_yaml(&s.canonical_yaml()).unwrap();
            assert_eq!(back, s);
            assert_eq!(back.canonical_yaml(), s.canonical_yaml());
        }
    }

    #[test]
    fn other_spellings_have_the_canonical_id() {
        for text in [
            "customization:\n  systemExtensions:\n    officialExtensions: [siderolabs/qemu-guest-agent]\n",
            "{\"customization\":{\"systemExtensions\":{\"officialExtensions\":[\"siderolabs/qemu-guest-agent\"]}},\"overlay\":null}",
            "customization:\n  extraKernelArgs: []\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/qemu-guest-agent\n",
        ] {
            assert_eq!(
                Schematic::from_yaml(text).unwrap().id(),
                QEMU_GUEST_AGENT_SCHEMATIC_ID,
                "{text}"
            );
        }
        assert_eq!(
            Schematic::from_yaml("{}").unwrap().id(),
            VANILLA_SCHEMATIC_ID
        );
        assert_eq!(
            Schematic::from_yaml("customization: {}\n").unwrap().id(),
            VANILLA_SCHEMATIC_ID
        );
    }

    #[test]
    fn unknown_fields_are_refused_with_their_line_and_type() {
        let err = Schematic::from_yaml("customization:\n    systemExtension:\n        x: 1\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: field systemExtension not found in type schematic.Customization"),
            "{err}"
        );
        let err = Schematic::from_yaml("customization: {}\nextensions: []\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("line 2: field extensions not found in type schematic.Schematic"),
            "{err}"
        );
        let err = Schematic::from_yaml(
            "customization:\n  systemExtensions:\n    officialExtensions: []\n    other: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("schematic.SystemExtensions"), "{err}");
    }

    #[test]
    fn wrong_types_and_ranges_are_refused() {
        for text in [
            "customization: []\n",
            "customization:\n  meta:\n    - key: 300\n      value: x\n",
            "customization:\n  meta:\n    - key: -1\n      value: x\n",
            "customization:\n  extraKernelArgs: console=ttyS0\n",
            "customization:\n  secureboot:\n    includeWellKnownCertificates: maybe\n",
            "customization:\n  bootloader: lilo\n",
            "customization:\n  extraKernelArgs: [[a]]\n",
            "",
            "customization: [\n",
            "just text\n",
        ] {
            assert!(
                matches!(
                    Schematic::from_yaml(text),
                    Err(FactoryError::InvalidSchematic(_))
                ),
                "{text:?} must be refused"
            );
        }
    }

    #[test]
    fn scalars_decode_into_strings_like_go() {
        let s = Schematic::from_yaml("customization:\n  extraKernelArgs: [1, true]\n").unwrap();
        assert_eq!(s.customization.extra_kernel_args, ["1", "true"]);
    }
}
