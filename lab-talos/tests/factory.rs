//! Image Factory schematics: canonical YAML, ids, URLs, versions and the
//! registration check.
//!
//! The ids are the Image Factory's own: the vanilla and qemu-guest-agent ids
//! are the published ones (shared/notes/talos.md §6), the others are the
//! expected ids of `siderolabs/image-factory`'s `pkg/schematic` tests.

use lab_talos::factory::{
    Arch, Bootloader, FactoryError, ImageFactory, InstallerForm, Platform, Schematic, TalosVersion,
    DEFAULT_FACTORY_URL, KNOWN_VERSIONS, NEWEST_PRERELEASE, NEWEST_STABLE, QEMU_GUEST_AGENT,
    QEMU_GUEST_AGENT_SCHEMATIC_ID, VANILLA_SCHEMATIC_ID,
};

fn v(text: &str) -> TalosVersion {
    TalosVersion::parse(text).unwrap()
}

// ---------------------------------------------------------------- ids

#[test]
fn empty_schematic_is_vanilla_talos() {
    let schematic = Schematic::new();
    assert_eq!(schematic.canonical_yaml(), "customization: {}\n");
    assert_eq!(
        schematic.id(),
        "376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba"
    );
    assert_eq!(schematic.id(), VANILLA_SCHEMATIC_ID);
}

#[test]
fn qemu_guest_agent_schematic_has_the_proxmox_guide_id() {
    let schematic = Schematic::new().extension("siderolabs/qemu-guest-agent");
    assert_eq!(
        schematic.canonical_yaml(),
        "customization:\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/qemu-guest-agent\n"
    );
    assert_eq!(
        schematic.id(),
        "ce4c980550dd2ab1b17bbf2b08801c7eb59418eafe8f279833297925d67c7515"
    );
    assert_eq!(schematic.id(), QEMU_GUEST_AGENT_SCHEMATIC_ID);
    assert!(schematic.has_extension(QEMU_GUEST_AGENT));
}

#[test]
fn upstream_test_vectors() {
    // image-factory pkg/schematic/schematic_test.go, TestID / TestUnmarshalID.
    let cases = [
        (
            Schematic::new().kernel_args(["noapic", "nolapic"]),
            "9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c",
        ),
        (
            Schematic::new().meta(0x0a, "foo"),
            "d308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f",
        ),
        (
            Schematic::new().secureboot_well_known_certificates(true),
            "fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6",
        ),
        (
            Schematic::new().overlay("siderolabs/sbc-raspberrypi", "rpi_generic"),
            "ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9",
        ),
    ];
    for (schematic, id) in cases {
        assert_eq!(schematic.id(), id, "{}", schematic.canonical_yaml());
    }
}

#[test]
fn id_is_the_sha256_of_the_canonical_yaml() {
    use sha2::{Digest, Sha256};
    let schematic = Schematic::new()
        .extension(QEMU_GUEST_AGENT)
        .kernel_arg("console=ttyS0");
    let digest = Sha256::digest(schematic.canonical_yaml().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(schematic.id(), hex);
    assert_eq!(schematic.id().len(), 64);
}

// ---------------------------------------------------------------- canonical form

#[test]
fn canonical_yaml_with_extensions_kernel_args_and_meta() {
    // Built in another order than the struct's: the output follows the
    // factory's field order, the lists keep theirs.
    let schematic = Schematic::new()
        .extension("siderolabs/qemu-guest-agent")
        .extension("siderolabs/iscsi-tools")
        .meta(0x0a, "addresses:\n  - address: 10.0.0.2/24\n")
        .meta(12, "1")
        .kernel_arg("console=ttyS0,115200")
        .kernel_arg("net.ifnames=0");
    assert_eq!(
        schematic.canonical_yaml(),
        "\
customization:
    extraKernelArgs:
        - console=ttyS0,115200
        - net.ifnames=0
    meta:
        - key: 10
          value: |
            addresses:
              - address: 10.0.0.2/24
        - key: 12
          value: \"1\"
    systemExtensions:
        officialExtensions:
            - siderolabs/qemu-guest-agent
            - siderolabs/iscsi-tools
"
    );
    schematic.validate().unwrap();
}

#[test]
fn canonical_yaml_field_order_with_every_field() {
    let schematic = Schematic::new()
        .disk_sector_size(4096)
        .secureboot_well_known_certificates(true)
        .bootloader(Bootloader::SdBoot)
        .extension(QEMU_GUEST_AGENT)
        .meta(10, "")
        .kernel_arg("talos.dashboard.disabled=1")
        .embedded_machine_configuration("version: v1alpha1\nmachine:\n  type: worker")
        .overlay_option("configTxtAppend", "dtoverlay=vc4-kms-v3d")
        .overlay_option("a10", 1)
        .overlay_option("a2", serde_json::json!({"on": true, "list": [1.5, "x"]}))
        .overlay("siderolabs/sbc-raspberrypi", "rpi_generic")
        .owner("alice");
    assert_eq!(
        schematic.canonical_yaml(),
        "\
owner: alice
overlay:
    image: siderolabs/sbc-raspberrypi
    name: rpi_generic
    options:
        a2:
            list:
                - 1.5
                - x
            \"on\": true
        a10: 1
        configTxtAppend: dtoverlay=vc4-kms-v3d
customization:
    embeddedMachineConfiguration: |-
        version: v1alpha1
        machine:
          type: worker
    extraKernelArgs:
        - talos.dashboard.disabled=1
    meta:
        - key: 10
          value: \"\"
    systemExtensions:
        officialExtensions:
            - siderolabs/qemu-guest-agent
    bootloader: sd-boot
    secureboot:
        includeWellKnownCertificates: true
    diskImage:
        sectorSize: 4096
"
    );
}

#[test]
fn empty_parts_are_left_out() {
    let mut schematic = Schematic::new()
        .secureboot_well_known_certificates(false)
        .disk_sector_size(0)
        .owner("");
    schematic.overlay = Some(Default::default());
    assert_eq!(schematic.canonical_yaml(), "customization: {}\n");
    assert_eq!(schematic.id(), VANILLA_SCHEMATIC_ID);
}

#[test]
fn strings_are_quoted_like_go() {
    let schematic =
        Schematic::new().kernel_args(["true", "yes", "10", "a: b", "-x", "ok#1", "x #y"]);
    assert_eq!(
        schematic.canonical_yaml(),
        "\
customization:
    extraKernelArgs:
        - \"true\"
        - \"yes\"
        - \"10\"
        - 'a: b'
        - -x
        - ok#1
        - 'x #y'
"
    );
}

#[test]
fn order_is_part_of_the_id_and_nothing_is_sorted_or_deduplicated() {
    // The factory hashes the lists as given (image-factory#254): lab does too.
    let ab = Schematic::new().extensions(["siderolabs/iscsi-tools", QEMU_GUEST_AGENT]);
    let ba = Schematic::new().extensions([QEMU_GUEST_AGENT, "siderolabs/iscsi-tools"]);
    assert_ne!(ab.id(), ba.id());
    assert!(ab
        .canonical_yaml()
        .contains("- siderolabs/iscsi-tools\n            - siderolabs/qemu-guest-agent\n"));

    let args_ab = Schematic::new().kernel_args(["noapic", "nolapic"]);
    let args_ba = Schematic::new().kernel_args(["nolapic", "noapic"]);
    assert_ne!(args_ab.id(), args_ba.id());

    let twice = Schematic::new()
        .extension(QEMU_GUEST_AGENT)
        .extension(QEMU_GUEST_AGENT);
    assert_eq!(twice.canonical_yaml().matches(QEMU_GUEST_AGENT).count(), 2);
    assert_ne!(twice.id(), QEMU_GUEST_AGENT_SCHEMATIC_ID);
    let err = twice.validate().unwrap_err();
    assert!(err.to_string().contains("listed twice"), "{err}");
}

#[test]
fn validate_catches_mistakes() {
    for (schematic, needle) in [
        (Schematic::new().extension(""), "empty"),
        (Schematic::new().extension("siderolabs/a b"), "whitespace"),
        (
            Schematic::new().kernel_arg("console=tty0 quiet"),
            "separately",
        ),
        (
            Schematic::new().overlay("", "rpi_generic"),
            "image and a name",
        ),
        (Schematic::new().overlay_option("k", 1), "image and a name"),
        (Schematic::new().disk_sector_size(0), "sector size"),
    ] {
        let err = schematic.validate().unwrap_err();
        assert!(matches!(err, FactoryError::InvalidSchematic(_)));
        assert!(err.to_string().contains(needle), "{err}");
    }
    Schematic::new().validate().unwrap();
}

// ---------------------------------------------------------------- URLs

#[test]
fn image_urls_on_the_official_factory() {
    let factory = ImageFactory::default();
    let id = QEMU_GUEST_AGENT_SCHEMATIC_ID;
    let version = v("v1.13.9");
    assert_eq!(factory.base_url(), DEFAULT_FACTORY_URL);
    assert_eq!(factory.registry(), "factory.talos.dev");
    assert_eq!(
        factory.iso_url(id, &version, &Platform::NOCLOUD, Arch::Amd64),
        format!("https://factory.talos.dev/image/{id}/v1.13.9/nocloud-amd64.iso")
    );
    assert_eq!(
        factory.iso_url(id, &version, &Platform::METAL, Arch::Arm64),
        format!("https://factory.talos.dev/image/{id}/v1.13.9/metal-arm64.iso")
    );
    assert_eq!(
        factory.disk_image_url(id, &version, &Platform::NOCLOUD, Arch::Amd64),
        format!("https://factory.talos.dev/image/{id}/v1.13.9/nocloud-amd64.raw.xz")
    );
    assert_eq!(
        factory.installer_image(id, &version, &Platform::NOCLOUD),
        format!("factory.talos.dev/nocloud-installer/{id}:v1.13.9")
    );
    assert_eq!(
        factory.installer_image(VANILLA_SCHEMATIC_ID, &v("v1.14.0-rc.1"), &Platform::METAL),
        format!("factory.talos.dev/metal-installer/{VANILLA_SCHEMATIC_ID}:v1.14.0-rc.1")
    );
    assert_eq!(
        factory.schematics_url(),
        "https://factory.talos.dev/schematics"
    );
    assert_eq!(
        factory.schematic_url(id),
        format!("https://factory.talos.dev/schematics/{id}")
    );
}

#[test]
fn legacy_installer_form() {
    let factory = ImageFactory::official().with_installer_form(InstallerForm::Legacy);
    assert_eq!(factory.installer_form(), InstallerForm::Legacy);
    assert_eq!(
        factory.installer_image(
            QEMU_GUEST_AGENT_SCHEMATIC_ID,
            &v("v1.13.9"),
            &Platform::NOCLOUD
        ),
        format!("factory.talos.dev/installer/{QEMU_GUEST_AGENT_SCHEMATIC_ID}:v1.13.9")
    );
}

#[test]
fn self_hosted_factory() {
    let factory = ImageFactory::new("http://factory.lab.internal:8080/").unwrap();
    assert_eq!(factory.base_url(), "http://factory.lab.internal:8080");
    assert_eq!(factory.registry(), "factory.lab.internal:8080");
    assert_eq!(
        factory.iso_url("abc", &v("v1.13.9"), &Platform::NOCLOUD, Arch::Amd64),
        "http://factory.lab.internal:8080/image/abc/v1.13.9/nocloud-amd64.iso"
    );
    assert_eq!(
        factory.installer_image("abc", &v("v1.13.9"), &Platform::NOCLOUD),
        "factory.lab.internal:8080/nocloud-installer/abc:v1.13.9"
    );
    for bad in [
        "factory.talos.dev",
        "ftp://x",
        "https://",
        "https://x/?a=b",
        "https://u:p@x",
    ] {
        let err = ImageFactory::new(bad).unwrap_err();
        assert!(
            matches!(err, FactoryError::InvalidBaseUrl { .. }),
            "{bad}: {err}"
        );
    }
}

#[test]
fn one_schematic_for_iso_disk_and_installer() {
    let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
    let image =
        ImageFactory::official().image(&schematic, &v("v1.13.9"), &Platform::NOCLOUD, Arch::Amd64);
    let id = QEMU_GUEST_AGENT_SCHEMATIC_ID;
    assert_eq!(image.schematic_id, id);
    assert_eq!(
        image.iso_url,
        format!("https://factory.talos.dev/image/{id}/v1.13.9/nocloud-amd64.iso")
    );
    assert_eq!(
        image.disk_image_url,
        format!("https://factory.talos.dev/image/{id}/v1.13.9/nocloud-amd64.raw.xz")
    );
    assert_eq!(
        image.installer_image,
        format!("factory.talos.dev/nocloud-installer/{id}:v1.13.9")
    );
    assert_eq!(image.arch, Arch::Amd64);
    assert_eq!(image.platform, Platform::NOCLOUD);
}

#[test]
fn arch_and_platform_names() {
    assert_eq!("amd64".parse::<Arch>().unwrap(), Arch::Amd64);
    assert_eq!("arm64".parse::<Arch>().unwrap(), Arch::Arm64);
    assert_eq!(Arch::Arm64.to_string(), "arm64");
    assert!(matches!(
        "x86_64".parse::<Arch>(),
        Err(FactoryError::InvalidArch(_))
    ));
    assert_eq!(Platform::new("nocloud").unwrap(), Platform::NOCLOUD);
    assert_eq!(
        Platform::new("digital-ocean").unwrap().as_str(),
        "digital-ocean"
    );
    for bad in ["", "NoCloud", "no cloud", "-x", "a/b"] {
        assert!(matches!(
            Platform::new(bad),
            Err(FactoryError::InvalidPlatform(_))
        ));
    }
}

// ---------------------------------------------------------------- versions

#[test]
fn versions_parse_and_display() {
    let stable = v("v1.13.9");
    assert_eq!((stable.major(), stable.minor(), stable.patch()), (1, 13, 9));
    assert!(!stable.is_prerelease());
    assert_eq!(stable.to_string(), "v1.13.9");
    assert_eq!(stable.minor_contract(), "v1.13");

    let rc = v("v1.14.0-rc.1");
    assert_eq!(rc.pre_release(), Some("rc.1"));
    assert!(rc.is_prerelease());
    assert_eq!(rc.to_string(), "v1.14.0-rc.1");
    assert_eq!(rc.minor_contract(), "v1.14");
    assert_eq!("v1.14.0-rc.1".parse::<TalosVersion>().unwrap(), rc);
    assert_eq!(TalosVersion::new(1, 13, 9), stable);
}

#[test]
fn bad_versions_say_why() {
    for (text, needle) in [
        ("1.13.9", "write `v1.13.9`"),
        ("v1.13", "major.minor.patch"),
        ("v1.13.9.1", "major.minor.patch"),
        ("v1.013.9", "leading zeros"),
        ("v1.13.x", "decimal digits"),
        ("v1.13.9-", "pre-release"),
        ("v1.13.9-rc..1", "pre-release"),
        ("v1.13.9+build", "build metadata"),
        ("latest", "v1.13.9"),
        ("", "v1.13.9"),
    ] {
        let err = TalosVersion::parse(text).unwrap_err();
        assert!(matches!(err, FactoryError::InvalidVersion { .. }));
        assert!(err.to_string().contains(needle), "{text}: {err}");
    }
}

#[test]
fn versions_order_by_semver_precedence() {
    let ordered = [
        "v1.12.10",
        "v1.13.0",
        "v1.13.2",
        "v1.13.10",
        "v1.14.0-alpha.0",
        "v1.14.0-alpha.1",
        "v1.14.0-beta.0",
        "v1.14.0-rc.1",
        "v1.14.0-rc.2",
        "v1.14.0-rc.10",
        "v1.14.0",
        "v2.0.0",
    ];
    let versions: Vec<TalosVersion> = ordered.iter().map(|t| v(t)).collect();
    for pair in versions.windows(2) {
        assert!(pair[0] < pair[1], "{} < {}", pair[0], pair[1]);
    }
    let mut shuffled = versions.clone();
    shuffled.reverse();
    shuffled.sort();
    assert_eq!(shuffled, versions);
}

#[test]
fn known_versions() {
    assert!(v("v1.13.9").is_known());
    assert!(v("v1.13.0").is_known());
    assert!(v("v1.14.0-rc.1").is_known());
    assert!(!v("v1.13.10").is_known());
    assert!(!v("v1.14.0").is_known());
    assert!(!v("v1.13.90").is_known());
    assert_eq!(TalosVersion::newest_stable().to_string(), NEWEST_STABLE);
    assert_eq!(
        TalosVersion::newest_prerelease().to_string(),
        NEWEST_PRERELEASE
    );
    assert!(TalosVersion::newest_stable() < TalosVersion::newest_prerelease());
    for text in KNOWN_VERSIONS {
        let version = v(text);
        assert_eq!(version.to_string(), *text);
        assert!(version.is_known());
        assert!(version <= TalosVersion::newest_prerelease());
    }
}

#[test]
fn versions_serialize_as_strings() {
    let json = serde_json::to_string(&v("v1.14.0-rc.1")).unwrap();
    assert_eq!(json, "\"v1.14.0-rc.1\"");
    let back: TalosVersion = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v("v1.14.0-rc.1"));
    assert!(serde_json::from_str::<TalosVersion>("\"1.13\"").is_err());
}

// ---------------------------------------------------------------- registration

#[test]
fn registration_request_posts_the_canonical_yaml() {
    let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
    let request = schematic.registration_request();
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/schematics");
    assert_eq!(request.content_type, "application/yaml");
    assert_eq!(request.body, schematic.canonical_yaml());
}

#[test]
fn registration_response_with_the_offline_id() {
    let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
    let response = serde_json::json!({
        "id": QEMU_GUEST_AGENT_SCHEMATIC_ID,
        "schematic": schematic.canonical_yaml(),
    })
    .to_string();
    assert_eq!(
        schematic.parse_registration_response(&response).unwrap(),
        QEMU_GUEST_AGENT_SCHEMATIC_ID
    );
    // Older factories answer only the id.
    let response = format!("{{\"id\":\"{QEMU_GUEST_AGENT_SCHEMATIC_ID}\"}}\n");
    assert_eq!(
        schematic.parse_registration_response(&response).unwrap(),
        QEMU_GUEST_AGENT_SCHEMATIC_ID
    );
}

#[test]
fn registration_response_with_another_id_is_an_error() {
    let schematic = Schematic::new().extension(QEMU_GUEST_AGENT);
    let changed = "customization:\n  systemExtensions:\n    officialExtensions:\n      - siderolabs/qemu-guest-agent\n";
    let response = serde_json::json!({
        "id": VANILLA_SCHEMATIC_ID,
        "schematic": changed,
    })
    .to_string();
    let err = schematic
        .parse_registration_response(&response)
        .unwrap_err();
    match &err {
        FactoryError::IdMismatch {
            offline,
            factory,
            factory_schematic,
        } => {
            assert_eq!(offline, QEMU_GUEST_AGENT_SCHEMATIC_ID);
            assert_eq!(factory, VANILLA_SCHEMATIC_ID);
            assert_eq!(factory_schematic.as_deref(), Some(changed));
        }
        other => panic!("expected IdMismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("canonical schematic form has changed"),
        "{message}"
    );
    assert!(message.contains(QEMU_GUEST_AGENT_SCHEMATIC_ID), "{message}");
}

#[test]
fn malformed_registration_responses() {
    let schematic = Schematic::new();
    for (body, needle) in [
        ("not json", "not JSON"),
        ("{}", "no string `id`"),
        ("{\"id\": 5}", "no string `id`"),
        ("{\"id\": \"ABC\"}", "not a lowercase hex SHA-256"),
    ] {
        let err = schematic.parse_registration_response(body).unwrap_err();
        assert!(matches!(err, FactoryError::InvalidResponse(_)));
        assert!(err.to_string().contains(needle), "{body}: {err}");
    }
}
