//! Application containers' builders: `File::oci_image` (a `vztmpl` file
//! named as PVE names a pulled image, the reference checked with the API
//! schema's pattern) and `Container::entrypoint`, `env` and `env_secret`,
//! with what Proxmox would refuse reported at the user's line. The
//! provider and the simulator: `tests/oci.rs`.

use lab_core::checks::builtin::INVALID_VALUE;
use lab_core::prelude::*;
use lab_proxmox::checks;
use lab_proxmox::model::*;

const REFERENCE: &str = "docker.io/cloudflare/cloudflared:2025.11.1";

// ---------------------------------------------------------------------------
// The builders
// ---------------------------------------------------------------------------

struct Base {
    lab: Lab,
    pve1: Handle<Node>,
    local: Handle<Storage>,
}

fn base() -> Base {
    let mut lab = Lab::new("t");
    checks::register(&mut lab);
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
    let local = lab.add(
        Storage::existing("local")
            .content(&[Content::Vztmpl, Content::Rootdir])
            .node(&pve1),
    );
    Base { lab, pve1, local }
}

fn invalid(lab: &Lab) -> Vec<Diagnostic> {
    lab.check()
        .into_iter()
        .filter(|d| d.code == INVALID_VALUE)
        .collect()
}

#[test]
fn an_oci_image_is_a_vztmpl_file_named_as_pve_names_it() {
    let Base {
        mut lab,
        pve1,
        local,
    } = base();
    let image = lab.add(File::oci_image("cloudflared", &pve1, &local, REFERENCE));
    let renamed = lab.add(
        File::oci_image("renamed", &pve1, &local, "ghcr.io/acme/app:v1.2").filename("my app.tar"),
    );
    let ct = lab.add(
        Container::new("tunnel", &pve1)
            .ostemplate(&image)
            .rootfs(&local, "2G")
            .nic("net0", "vmbr0")
            .ip("dhcp"),
    );
    let spec = lab.resource(image.address()).unwrap();
    assert_eq!(spec.attrs["content"], Value::from("vztmpl"));
    assert_eq!(
        spec.attrs["filename"],
        Value::from("cloudflared_2025.11.1.tar")
    );
    assert_eq!(spec.attrs["reference"], Value::from(REFERENCE));
    assert!(!spec.attrs.contains_key("url"));
    let spec = lab.resource(renamed.address()).unwrap();
    assert_eq!(spec.attrs["filename"], Value::from("my_app.tar"));
    let ct_spec = lab.resource(ct.address()).unwrap();
    assert!(ct_spec.attrs["ostemplate"].contains_ref());
    assert_eq!(
        ct_spec.attrs["ostemplate_file"],
        Value::from("proxmox.file.cloudflared")
    );
    assert!(
        lab.check().iter().all(|d| !d.is_blocking()),
        "{:#?}",
        lab.check()
    );
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn references_pve_refuses_are_reported_at_the_users_line() {
    let Base { mut lab, pve1, local } = base();
    let untagged = line!() + 1;
    lab.add(File::oci_image("untagged", &pve1, &local, "docker.io/cloudflare/cloudflared"));
    let scheme = line!() + 1;
    lab.add(File::oci_image("scheme", &pve1, &local, "docker://alpine:3.22"));
    let upper = line!() + 1;
    lab.add(File::oci_image("upper", &pve1, &local, "docker.io/Cloudflare/cloudflared:1"));
    let checksum = line!() + 1;
    lab.add(File::oci_image("sum", &pve1, &local, "alpine:3.22").checksum("sha256", "abcd"));
    let diags = invalid(&lab);
    let at = |line: u32| {
        diags
            .iter()
            .find(|d| d.file_line() == Some((file!(), line)))
            .unwrap_or_else(|| panic!("nothing at line {line}: {diags:#?}"))
    };
    assert!(at(untagged).message.contains("not an OCI image reference"));
    assert!(at(untagged).help.as_deref().unwrap().contains("cloudflared:latest"));
    assert!(at(scheme).help.as_deref().unwrap().contains("`alpine:3.22`"));
    assert!(at(upper).help.as_deref().unwrap().contains("lower case"));
    assert!(at(checksum).message.contains("no checksum"));
    assert_eq!(diags.len(), 4, "{diags:#?}");
}

#[test]
fn entrypoint_and_env_lower_to_the_ct_spec() {
    let Base {
        mut lab,
        pve1,
        local,
    } = base();
    let image = lab.add(File::oci_image("cloudflared", &pve1, &local, REFERENCE));
    let ct = lab.add(
        Container::new("tunnel", &pve1)
            .ostemplate(&image)
            .rootfs(&local, "2G")
            .entrypoint("cloudflared --no-autoupdate tunnel run")
            .env("TUNNEL_LOGLEVEL", "info")
            .env("TUNNEL_METRICS", "0.0.0.0:2000")
            .env_secret("TUNNEL_TOKEN", Secret::new("eyJhIjoi")),
    );
    let spec = lab.resource(ct.address()).unwrap();
    assert_eq!(
        spec.attrs["entrypoint"],
        Value::from("cloudflared --no-autoupdate tunnel run")
    );
    let Value::Map(env) = &spec.attrs["env"] else {
        panic!("{:?}", spec.attrs["env"])
    };
    assert_eq!(
        env.keys().collect::<Vec<_>>(),
        ["TUNNEL_LOGLEVEL", "TUNNEL_METRICS"]
    );
    let Value::Map(secrets) = &spec.attrs["env_secrets"] else {
        panic!()
    };
    assert_eq!(
        secrets["TUNNEL_TOKEN"],
        Value::Secret(Secret::new("eyJhIjoi"))
    );
    // The spec never shows the secret.
    assert!(!format!("{spec:?}").contains("eyJhIjoi"));
    assert!(
        lab.check().iter().all(|d| !d.is_blocking()),
        "{:#?}",
        lab.check()
    );
}

#[test]
fn a_secret_output_is_a_reference_with_its_ordering_edge() {
    let Base {
        mut lab,
        pve1,
        local,
    } = base();
    let image = lab.add(File::oci_image("cloudflared", &pve1, &local, REFERENCE));
    // Any resource's secret output will do (in a lab: a tunnel's token).
    let producer = lab.add(
        Container::new("producer", &pve1)
            .ostemplate(&image)
            .rootfs(&local, "2G"),
    );
    let token: Output<Secret> = producer.output("token");
    let ct = lab.add(
        Container::new("tunnel", &pve1)
            .ostemplate(&image)
            .rootfs(&local, "2G")
            .env_secret("TUNNEL_TOKEN", &token),
    );
    let spec = lab.resource(ct.address()).unwrap();
    let Value::Map(secrets) = &spec.attrs["env_secrets"] else {
        panic!()
    };
    let Value::Ref(r) = &secrets["TUNNEL_TOKEN"] else {
        panic!("{:?}", secrets["TUNNEL_TOKEN"])
    };
    assert_eq!(r.address.to_string(), "proxmox.ct.producer");
    assert_eq!(r.output, "token");
    assert!(spec
        .deps
        .iter()
        .any(|d| d.on.to_string() == "proxmox.ct.producer" && d.via == "env_secrets.TUNNEL_TOKEN"));
    assert!(!spec.attrs.contains_key("env_secrets.TUNNEL_TOKEN"));
    // The reference stands for a secret in the spec's type.
    assert!(
        lab.check().iter().all(|d| !d.is_blocking()),
        "{:#?}",
        lab.check()
    );
}

#[test]
fn an_image_on_a_storage_without_templates_is_refused_at_the_files_line() {
    let Base { mut lab, pve1, .. } = base();
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images, Content::Rootdir])
            .node(&pve1),
    );
    let line = line!() + 1;
    lab.add(File::oci_image("cloudflared", &pve1, &lvm, REFERENCE));
    let diags = lab.check();
    let d = diags
        .iter()
        .find(|d| d.code == checks::STORAGE_CONTENT)
        .unwrap_or_else(|| panic!("{diags:#?}"));
    assert!(d.is_blocking());
    assert!(
        d.labels
            .iter()
            .any(|l| (l.loc.file(), l.loc.line()) == (file!(), line)),
        "{d:#?}"
    );
    assert!(d.message.contains("vztmpl"), "{}", d.message);
}

#[test]
#[rustfmt::skip] // the assertions count lines
fn env_and_entrypoint_pve_refuses_are_reported_at_the_users_line() {
    let Base { mut lab, pve1, local } = base();
    let ct = Container::new("ct", &pve1).ostemplate_volid("local:vztmpl/a.tar").rootfs(&local, "2G");
    let bad_name = line!() + 1;
    let ct = ct.env("TUNNEL-TOKEN", "x");
    let twice = line!() + 1;
    let ct = ct.env("A", "1").env_secret("A", Secret::new("2"));
    let control = line!() + 1;
    let ct = ct.env("B", "two\nlines");
    let empty = line!() + 1;
    let ct = ct.entrypoint(" ");
    lab.add(ct);
    let diags = invalid(&lab);
    let at = |line: u32| {
        diags
            .iter()
            .find(|d| d.file_line() == Some((file!(), line)))
            .unwrap_or_else(|| panic!("nothing at line {line}: {diags:#?}"))
    };
    assert!(at(bad_name).message.contains("`TUNNEL-TOKEN`"));
    assert!(at(twice).message.contains("set twice"));
    assert!(at(control).message.contains("control character"));
    assert!(at(empty).message.contains("entrypoint is empty"));
    assert_eq!(diags.len(), 4, "{diags:#?}");
    // A secret's value is never quoted, even when it is refused.
    let mut lab = base().lab;
    let pve1 = lab.add(Node::new("pve2"));
    lab.add(Container::new("ct2", &pve1).env_secret("S", Secret::new("hunter2\n")));
    assert!(invalid(&lab).iter().all(|d| !d.message.contains("hunter2")));
}
