//! What the simulator reads from an applied machine config.
//!
//! A real node validates the whole config; the simulator checks what makes
//! Talos reject one outright (it must parse, have the v1alpha1 document, a
//! known `machine.type` and the OS CA certificate) and extracts what it
//! needs to behave like the node: the role, the OS CA (its server
//! certificate and the client CA), and on control planes everything
//! `talosctl gen secrets --from-controlplane-config` would, to issue the
//! admin kubeconfig exactly as [`SecretsBundle::admin_kubeconfig`] does.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use lab_core::Secret;
use sha2::Digest as _;
use std::net::IpAddr;

use crate::config::{DocId, Document};
use crate::secrets::SecretsBundle;
use crate::yaml::{self, Node};

/// The role in `machine.type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MachineType {
    ControlPlane,
    Worker,
}

/// A validated machine config.
#[derive(Clone)]
pub(crate) struct ParsedConfig {
    pub text: String,
    pub docs: Vec<Document>,
    pub machine_type: MachineType,
    /// `machine.ca.crt`, base64(PEM) as in the config (identifies the cluster).
    pub os_ca_crt_b64: String,
    /// `machine.ca.crt`, PEM.
    pub os_ca_pem: String,
    /// `machine.ca.key`, PEM (control planes only).
    pub os_ca_key_pem: Option<Secret>,
    /// `machine.install.image`, the installer a first install uses.
    pub install_image: Option<String>,
}

fn v1alpha1(docs: &[Document]) -> Option<&Node> {
    docs.iter()
        .find(|d| d.id() == DocId::V1Alpha1)
        .map(|d| &d.body)
}

fn str_at<'a>(body: &'a Node, path: &[&str]) -> Option<&'a str> {
    body.get_path(path)
        .and_then(Node::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn b64_pem(value: &str) -> Option<String> {
    STANDARD
        .decode(value.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

/// Parses and checks a config as `ApplyConfiguration` does. The error is
/// the reason Talos would give (`InvalidArgument`); it never quotes values.
pub(crate) fn parse(data: &[u8]) -> Result<ParsedConfig, String> {
    let text = std::str::from_utf8(data)
        .map_err(|_| "failed to parse config: the config is not UTF-8 text".to_string())?;
    let docs = Document::parse_all(text).map_err(|e| {
        format!(
            "failed to parse config: {} (line {}, column {})",
            e.message, e.line, e.column
        )
    })?;
    let body = v1alpha1(&docs).ok_or_else(|| {
        "the config has no v1alpha1 document (`version: v1alpha1` with `machine:` and `cluster:`); \
         Talos needs it outside maintenance mode and to install"
            .to_string()
    })?;
    let machine_type = match str_at(body, &["machine", "type"]) {
        Some("controlplane") | Some("init") => MachineType::ControlPlane,
        Some("worker") => MachineType::Worker,
        Some(other) => {
            return Err(format!(
                "machine.type: unknown machine type `{other}` (expected controlplane or worker)"
            ))
        }
        None => return Err("machine.type is required (controlplane or worker)".into()),
    };
    let os_ca_crt_b64 = str_at(body, &["machine", "ca", "crt"])
        .ok_or("machine.ca.crt is required: the node's API certificate is signed by the OS CA")?
        .to_owned();
    let os_ca_pem = b64_pem(&os_ca_crt_b64)
        .filter(|pem| pem.contains("-----BEGIN CERTIFICATE-----"))
        .ok_or("machine.ca.crt is not base64 of a PEM certificate")?;
    let os_ca_key_pem = match str_at(body, &["machine", "ca", "key"]) {
        None => None,
        Some(key) => Some(Secret::new(
            b64_pem(key).ok_or("machine.ca.key is not base64 of a PEM private key")?,
        )),
    };
    let install_image = str_at(body, &["machine", "install", "image"]).map(str::to_owned);
    Ok(ParsedConfig {
        text: text.to_owned(),
        docs,
        machine_type,
        os_ca_crt_b64,
        os_ca_pem,
        os_ca_key_pem,
        install_image,
    })
}

/// The tag of an image reference, the Talos version an installer image
/// installs: the text after the last `:` of the name (a `@sha256:...`
/// digest dropped first), e.g. `v1.13.9` for
/// `factory.talos.dev/nocloud-installer/<id>:v1.13.9`. `None` without a
/// tag (`registry:5000/installer` has none: that `:` is a port), or when
/// the tag is not a valid OCI tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let name = image.trim().split('@').next()?;
    let (_, tag) = name.rsplit_once(':')?;
    let mut chars = tag.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    (first_ok && rest_ok && tag.len() <= 128).then_some(tag)
}

/// The names a configured node's apid server certificate carries, as
/// Talos gathers them (siderolabs/talos v1.13.9
/// `internal/app/machined/pkg/controllers/secrets/api_cert_sans.go`): the
/// IPs of `machine.certSANs`, the node's addresses and 127.0.0.1; the DNS
/// names of `machine.certSANs`, the hostname and the FQDN; both sorted. The
/// subject is the FQDN alone (`CommonName(certSANs.FQDN)` in
/// `controllers/secrets/api.go`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ServerNames {
    /// The certificate's common name: the node's FQDN.
    pub fqdn: String,
    /// DNS SANs.
    pub dns_names: Vec<String>,
    /// IP SANs.
    pub ips: Vec<IpAddr>,
}

/// The [`ServerNames`] of node `ip` running `config`.
pub(crate) fn server_names(config: &ParsedConfig, ip: &str) -> ServerNames {
    let fqdn = hostname(&config.docs, ip);
    let host = fqdn.split('.').next().unwrap_or(&fqdn).to_owned();
    let mut ips: Vec<IpAddr> = Vec::new();
    let mut dns_names: Vec<String> = Vec::new();
    let cert_sans = v1alpha1(&config.docs)
        .and_then(|b| b.get_path(&["machine", "certSANs"]))
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(Node::scalar_text);
    for san in cert_sans {
        match san.parse::<IpAddr>() {
            Ok(addr) => ips.push(addr),
            Err(_) => dns_names.push(san),
        }
    }
    ips.extend(ip.parse::<IpAddr>().ok());
    ips.push(IpAddr::from([127, 0, 0, 1]));
    dns_names.push(host);
    dns_names.push(fqdn.clone());
    ips.sort();
    ips.dedup();
    dns_names.sort();
    dns_names.dedup();
    ServerNames {
        fqdn,
        dns_names,
        ips,
    }
}

/// The node's hostname (an FQDN when it has a domain), by Talos's
/// precedence (siderolabs/talos v1.13.9
/// `internal/app/machined/pkg/controllers/network/hostname_config.go`): a
/// hostname the config names (`HostnameConfig.hostname`, or the legacy
/// `machine.network.hostname`) over the `auto` default. `auto: stable`
/// derives `talos-xxx-yyy` from the node's identity (`getStableDefault`:
/// base36 of the first 8 bytes of sha256(node ID)); the simulator has no
/// node ID and uses the node's address in its place. `auto: addr`, and
/// configs that say nothing, give `talos-<address with dashes>`
/// (`getDefault`).
pub(crate) fn hostname(docs: &[Document], ip: &str) -> String {
    let hostname_doc = docs
        .iter()
        .find(|d| d.id().kind() == "HostnameConfig")
        .map(|d| &d.body);
    let named = hostname_doc
        .and_then(|b| str_at(b, &["hostname"]))
        .or_else(|| v1alpha1(docs).and_then(|b| str_at(b, &["machine", "network", "hostname"])));
    if let Some(name) = named {
        return name.trim().to_owned();
    }
    match hostname_doc.and_then(|b| str_at(b, &["auto"])) {
        Some("stable") => {
            let hash = sha2::Sha256::digest(ip.as_bytes());
            let b36 = base36_lower(&hash[..8]);
            let part = |r: std::ops::Range<usize>| b36.get(r).unwrap_or_default().to_owned();
            format!("talos-{}-{}", part(1..4), part(4..7))
        }
        _ => format!("talos-{}", ip.replace([':'], "").replace('.', "-")),
    }
}

/// Base36 of a big-endian number, lower case, one `0` per leading zero
/// byte (github.com/martinlindhe/base36 `EncodeBytes`, which Talos uses,
/// lower-cased as Talos does).
fn base36_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut n = bytes.iter().fold(0u128, |n, &b| (n << 8) | u128::from(b));
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.extend(bytes.iter().take_while(|&&b| b == 0).map(|_| b'0'));
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The admin kubeconfig a control plane issues from its config (cluster
/// name, control-plane endpoint, Kubernetes CA).
pub(crate) fn admin_kubeconfig(config: &ParsedConfig) -> Result<Secret, String> {
    let body = v1alpha1(&config.docs).ok_or("the config has no v1alpha1 document")?;
    let get = |path: &[&str]| -> Result<String, String> {
        str_at(body, path)
            .map(str::to_owned)
            .ok_or_else(|| format!("{} is missing from the config", path.join(".")))
    };
    let pair = |path: &[&str]| -> Result<Node, String> {
        let crt = [path, &["crt"]].concat();
        let key = [path, &["key"]].concat();
        Ok(Node::from_pairs([
            ("crt", Node::str(get(&crt)?)),
            ("key", Node::str(get(&key)?)),
        ]))
    };
    let mut secrets = vec![("bootstraptoken", Node::str(get(&["cluster", "token"])?))];
    if let Some(secretbox) = str_at(body, &["cluster", "secretboxEncryptionSecret"]) {
        secrets.push(("secretboxencryptionsecret", Node::str(secretbox)));
    } else {
        secrets.push((
            "aescbcencryptionsecret",
            Node::str(get(&["cluster", "aescbcEncryptionSecret"])?),
        ));
    }
    // talosctl's secrets.yaml, rebuilt from the control plane's config.
    let bundle_yaml = yaml::to_string(&Node::from_pairs([
        (
            "cluster",
            Node::from_pairs([
                ("id", Node::str(get(&["cluster", "id"])?)),
                ("secret", Node::str(get(&["cluster", "secret"])?)),
            ]),
        ),
        ("secrets", Node::from_pairs(secrets)),
        (
            "trustdinfo",
            Node::from_pairs([("token", Node::str(get(&["machine", "token"])?))]),
        ),
        (
            "certs",
            Node::from_pairs([
                ("etcd", pair(&["cluster", "etcd", "ca"])?),
                ("k8s", pair(&["cluster", "ca"])?),
                ("k8saggregator", pair(&["cluster", "aggregatorCA"])?),
                (
                    "k8sserviceaccount",
                    Node::from_pairs([(
                        "key",
                        Node::str(get(&["cluster", "serviceAccount", "key"])?),
                    )]),
                ),
                ("os", pair(&["machine", "ca"])?),
            ]),
        ),
    ]));
    let bundle = SecretsBundle::from_yaml(&bundle_yaml)
        .map_err(|e| format!("the control plane's secrets are unusable: {e}"))?;
    bundle
        .admin_kubeconfig(
            &get(&["cluster", "clusterName"])?,
            &get(&["cluster", "controlPlane", "endpoint"])?,
            crate::secrets::DEFAULT_CLIENT_CERT_VALIDITY,
        )
        .map_err(|e| format!("issuing the admin kubeconfig: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs(text: &str) -> Vec<Document> {
        Document::parse_all(text).unwrap()
    }

    #[test]
    fn hostnames_follow_talos_precedence() {
        let v1 = "version: v1alpha1\nmachine:\n  type: worker\n";
        assert_eq!(hostname(&docs(v1), "10.0.10.21"), "talos-10-0-10-21");
        let named = format!("{v1}---\napiVersion: v1alpha1\nkind: HostnameConfig\nhostname: cp1\n");
        assert_eq!(hostname(&docs(&named), "10.0.10.21"), "cp1");
        let legacy = "version: v1alpha1\nmachine:\n  network:\n    hostname: w1.lab.home\n";
        assert_eq!(hostname(&docs(legacy), "10.0.10.21"), "w1.lab.home");
        let stable = format!("{v1}---\napiVersion: v1alpha1\nkind: HostnameConfig\nauto: stable\n");
        let name = hostname(&docs(&stable), "10.0.10.21");
        assert_eq!(name.len(), "talos-xxx-yyy".len(), "{name}");
        assert!(name.starts_with("talos-"), "{name}");
        assert_ne!(name, hostname(&docs(&stable), "10.0.10.22"));
    }

    #[test]
    fn base36_is_martinlindhes() {
        // 36^2 + 1 = 1297 = 0x0511 -> "101"; a leading zero byte adds "0".
        assert_eq!(base36_lower(&[0x05, 0x11]), "101");
        assert_eq!(base36_lower(&[0x00, 0x05, 0x11]), "0101");
        assert_eq!(base36_lower(&[0xff; 8]), "3w5e11264sgsf");
    }

    #[test]
    fn tags_of_installer_images() {
        assert_eq!(
            image_tag("factory.talos.dev/nocloud-installer/376567988ad3:v1.13.9"),
            Some("v1.13.9")
        );
        assert_eq!(
            image_tag("ghcr.io/siderolabs/installer:v1.13.10@sha256:0123abcd"),
            Some("v1.13.10")
        );
        assert_eq!(
            image_tag("registry:5000/installer:v1.13.9"),
            Some("v1.13.9")
        );
        assert_eq!(image_tag("registry:5000/installer"), None);
        assert_eq!(image_tag("ghcr.io/siderolabs/installer"), None);
        assert_eq!(image_tag("ghcr.io/siderolabs/installer:"), None);
        assert_eq!(
            image_tag("ghcr.io/siderolabs/installer@sha256:0123abcd"),
            None
        );
        assert_eq!(image_tag(""), None);
    }
}
