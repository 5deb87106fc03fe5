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
    use super::image_tag;

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
