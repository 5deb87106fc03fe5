//! The YAML texts around the bundle: talosctl's `secrets.yaml` (read with
//! yaml-rust2, written by hand in the fixed layout Go's encoder produces),
//! the `talosconfig` and the admin kubeconfig.
//!
//! The writers do not use a general emitter on purpose: each document has a
//! fixed shape, and writing it directly makes the byte layout obvious and
//! testable against talosctl's output (4-space indentation and the struct
//! field order for `secrets.yaml` and `talosconfig`, which Go marshals with
//! yaml.v3/v4; the kubeconfig is Talos's text template, 2-space indented).

use yaml_rust2::{Yaml, YamlLoader};

use super::SecretsError;

/// `secrets.yaml` as strings, before any decoding or validation.
pub(crate) struct RawBundle {
    pub cluster_id: String,
    pub cluster_secret: String,
    pub bootstrap_token: String,
    pub aescbc_secret: Option<String>,
    pub secretbox_secret: Option<String>,
    pub trustd_token: String,
    pub etcd: (String, String),
    pub k8s: (String, String),
    pub k8s_aggregator: (String, String),
    pub service_account_key: String,
    pub os: (String, String),
}

/// One mapping's fields, checked against the names talosctl writes.
struct Fields<'a> {
    path: &'a str,
    entries: Vec<(&'a str, &'a Yaml)>,
}

impl<'a> Fields<'a> {
    fn of(node: &'a Yaml, path: &'a str, allowed: &[&str]) -> Result<Self, SecretsError> {
        let Yaml::Hash(map) = node else {
            return Err(SecretsError::Invalid {
                field: display_path(path),
                reason: "must be a mapping of the fields talosctl writes".into(),
            });
        };
        let mut entries = Vec::with_capacity(map.len());
        for (key, value) in map {
            let Yaml::String(key) = key else {
                return Err(SecretsError::Invalid {
                    field: display_path(path),
                    reason: "has a key that is not a string".into(),
                });
            };
            if !allowed.contains(&key.as_str()) {
                return Err(SecretsError::UnknownField {
                    field: join(path, &shorten(key)),
                });
            }
            entries.push((key.as_str(), value));
        }
        Ok(Fields { path, entries })
    }

    fn get(&self, key: &str) -> Option<&'a Yaml> {
        self.entries
            .iter()
            .find(|(k, v)| *k == key && !matches!(v, Yaml::Null))
            .map(|(_, v)| *v)
    }

    fn section(&self, key: &str) -> Result<&'a Yaml, SecretsError> {
        self.get(key).ok_or_else(|| SecretsError::Missing {
            field: join(self.path, key),
        })
    }

    fn string(&self, key: &str) -> Result<String, SecretsError> {
        self.optional_string(key)?
            .ok_or_else(|| SecretsError::Missing {
                field: join(self.path, key),
            })
    }

    fn optional_string(&self, key: &str) -> Result<Option<String>, SecretsError> {
        match self.get(key) {
            None => Ok(None),
            Some(Yaml::String(s)) if s.is_empty() => Ok(None),
            Some(Yaml::String(s)) | Some(Yaml::Real(s)) => Ok(Some(s.clone())),
            Some(_) => Err(SecretsError::Invalid {
                field: join(self.path, key),
                reason: "must be a string".into(),
            }),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn display_path(path: &str) -> String {
    if path.is_empty() {
        "the document".to_string()
    } else {
        path.to_string()
    }
}

/// Unknown keys are echoed in errors; keep them short in case a value
/// ended up in key position.
fn shorten(key: &str) -> String {
    if key.chars().count() > 32 {
        format!("{}…", key.chars().take(24).collect::<String>())
    } else {
        key.to_string()
    }
}

/// Reads talosctl's `secrets.yaml`. Comments are ignored; unknown fields
/// are rejected, so nothing in the file is silently dropped on export.
pub(crate) fn read_bundle(text: &str) -> Result<RawBundle, SecretsError> {
    // Only the position: the scanner's message can quote a character of
    // the input, which may belong to a secret.
    let docs = YamlLoader::load_from_str(text).map_err(|e| SecretsError::Parse {
        detail: format!(
            "a syntax error at line {}, column {}",
            e.marker().line(),
            e.marker().col() + 1
        ),
    })?;
    let root = match docs.as_slice() {
        [doc] => doc,
        [] => {
            return Err(SecretsError::Parse {
                detail: "the text is empty".into(),
            })
        }
        _ => {
            return Err(SecretsError::Parse {
                detail: format!("it holds {} YAML documents, not one", docs.len()),
            })
        }
    };
    let top = Fields::of(root, "", &["cluster", "secrets", "trustdinfo", "certs"])?;
    let cluster = Fields::of(top.section("cluster")?, "cluster", &["id", "secret"])?;
    let secrets = Fields::of(
        top.section("secrets")?,
        "secrets",
        &[
            "bootstraptoken",
            "aescbcencryptionsecret",
            "secretboxencryptionsecret",
        ],
    )?;
    let trustd = Fields::of(top.section("trustdinfo")?, "trustdinfo", &["token"])?;
    let certs = Fields::of(
        top.section("certs")?,
        "certs",
        &["etcd", "k8s", "k8saggregator", "k8sserviceaccount", "os"],
    )?;
    let pair = |name: &'static str, path: &'static str| -> Result<(String, String), SecretsError> {
        let f = Fields::of(certs.section(name)?, path, &["crt", "key"])?;
        Ok((f.string("crt")?, f.string("key")?))
    };
    let sa = Fields::of(
        certs.section("k8sserviceaccount")?,
        "certs.k8sserviceaccount",
        &["key"],
    )?;
    Ok(RawBundle {
        cluster_id: cluster.string("id")?,
        cluster_secret: cluster.string("secret")?,
        bootstrap_token: secrets.string("bootstraptoken")?,
        aescbc_secret: secrets.optional_string("aescbcencryptionsecret")?,
        secretbox_secret: secrets.optional_string("secretboxencryptionsecret")?,
        trustd_token: trustd.string("token")?,
        etcd: pair("etcd", "certs.etcd")?,
        k8s: pair("k8s", "certs.k8s")?,
        k8s_aggregator: pair("k8saggregator", "certs.k8saggregator")?,
        service_account_key: sa.string("key")?,
        os: pair("os", "certs.os")?,
    })
}

/// Writes `secrets.yaml` exactly as `talosctl gen secrets` does
/// (`yaml.Marshal(bundle)`: 4-space indentation, Go struct field order,
/// empty optional secrets omitted, no comment).
pub(crate) fn write_bundle(raw: &RawBundle) -> String {
    let mut out = String::with_capacity(8192);
    let mut line = |indent: usize, key: &str, value: Option<&str>| {
        out.push_str(&" ".repeat(indent));
        out.push_str(key);
        out.push(':');
        if let Some(value) = value {
            out.push(' ');
            out.push_str(&scalar(value));
        }
        out.push('\n');
    };
    line(0, "cluster", None);
    line(4, "id", Some(&raw.cluster_id));
    line(4, "secret", Some(&raw.cluster_secret));
    line(0, "secrets", None);
    line(4, "bootstraptoken", Some(&raw.bootstrap_token));
    if let Some(v) = &raw.aescbc_secret {
        line(4, "aescbcencryptionsecret", Some(v));
    }
    if let Some(v) = &raw.secretbox_secret {
        line(4, "secretboxencryptionsecret", Some(v));
    }
    line(0, "trustdinfo", None);
    line(4, "token", Some(&raw.trustd_token));
    line(0, "certs", None);
    for (name, (crt, key)) in [
        ("etcd", &raw.etcd),
        ("k8s", &raw.k8s),
        ("k8saggregator", &raw.k8s_aggregator),
    ] {
        line(4, name, None);
        line(8, "crt", Some(crt));
        line(8, "key", Some(key));
    }
    line(4, "k8sserviceaccount", None);
    line(8, "key", Some(&raw.service_account_key));
    line(4, "os", None);
    line(8, "crt", Some(&raw.os.0));
    line(8, "key", Some(&raw.os.1));
    out
}

/// talosctl's `talosconfig` (`yaml.Marshal` of `clientconfig.Config`):
/// `context`, then `contexts.<name>` with `endpoints` (always written),
/// `nodes` (omitted when empty), `ca`, `crt` and `key`.
pub(crate) fn talosconfig(
    context: &str,
    endpoints: &[String],
    nodes: &[String],
    ca_b64: &str,
    crt_b64: &str,
    key_b64: &str,
) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(&format!("context: {}\n", scalar(context)));
    out.push_str("contexts:\n");
    out.push_str(&format!("    {}:\n", scalar(context)));
    let mut list = |name: &str, items: &[String], always: bool| {
        if items.is_empty() {
            if always {
                out.push_str(&format!("        {name}: []\n"));
            }
            return;
        }
        out.push_str(&format!("        {name}:\n"));
        for item in items {
            out.push_str(&format!("            - {}\n", scalar(item)));
        }
    };
    list("endpoints", endpoints, true);
    list("nodes", nodes, false);
    out.push_str(&format!("        ca: {}\n", scalar(ca_b64)));
    out.push_str(&format!("        crt: {}\n", scalar(crt_b64)));
    out.push_str(&format!("        key: {}\n", scalar(key_b64)));
    out
}

/// Talos's admin kubeconfig template (`pkg/kubeconfig/generate.go`),
/// field for field. Talos inserts the values unquoted; they are quoted here
/// only when YAML would otherwise misread them.
pub(crate) fn kubeconfig(
    cluster: &str,
    endpoint: &str,
    ca_b64: &str,
    crt_b64: &str,
    key_b64: &str,
) -> String {
    let user = scalar(&format!("admin@{cluster}"));
    let cluster = scalar(cluster);
    let endpoint = scalar(endpoint);
    format!(
        "apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: {cluster}\n\
         \x20 cluster:\n\
         \x20   server: {endpoint}\n\
         \x20   certificate-authority-data: {ca_b64}\n\
         users:\n\
         - name: {user}\n\
         \x20 user:\n\
         \x20   client-certificate-data: {crt_b64}\n\
         \x20   client-key-data: {key_b64}\n\
         contexts:\n\
         - context:\n\
         \x20   cluster: {cluster}\n\
         \x20   namespace: default\n\
         \x20   user: {user}\n\
         \x20 name: {user}\n\
         current-context: {user}\n"
    )
}

/// A string scalar as Go's yaml.v3 encoder writes it: plain when it reads
/// back as the same string, double-quoted otherwise (numbers, booleans,
/// nulls, leading indicators, `: `/` #`, surrounding spaces).
pub(crate) fn scalar(s: &str) -> String {
    if plain_is_safe(s) {
        s.to_string()
    } else {
        // A JSON string is a valid YAML double-quoted scalar.
        serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
    }
}

fn plain_is_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return false;
    }
    if s.chars().any(|c| c.is_control()) {
        return false;
    }
    if ",[]{}#&*!|>'\"%@`".contains(first) {
        return false;
    }
    let second = s.chars().nth(1);
    if "-?:".contains(first) && second.is_none_or(char::is_whitespace) {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if s == "---" || s == "..." {
        return false;
    }
    // Would a YAML 1.1/1.2 reader (yaml.v3 quotes both) take it for
    // something other than a string?
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n"
    ) {
        return false;
    }
    !looks_numeric(s)
}

fn looks_numeric(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = t.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan") {
        return true;
    }
    for prefix in ["0x", "0o", "0b"] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_hexdigit() || c == '_') {
                return true;
            }
        }
    }
    let cleaned: String = t.chars().filter(|&c| c != '_').collect();
    if cleaned.is_empty() || !cleaned.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return false;
    }
    // Sexagesimal (YAML 1.1): 1:20, 190:20:30.15
    if cleaned.contains(':')
        && cleaned
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'))
    {
        return true;
    }
    cleaned.parse::<f64>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        for plain in [
            "inn7ol.u4ehnti8qyls9ymo",
            "0raF93qnkMvF-FZNuvyGozXNdLiT2FOWSlyBaW4PR-w=",
            "45yd2Ke+sytiICojDf8aibTfgt99nzJmO53cjDqrCto=",
            "https://10.0.0.1:6443",
            "10.0.0.1",
            "-abc",
            "admin@lab",
        ] {
            assert_eq!(scalar(plain), plain, "{plain}");
        }
        for quoted in [
            "",
            "true",
            "No",
            "null",
            "123456.7890123456789012",
            "1e3",
            "0x1f",
            "a: b",
            "#x",
            " x",
            "1:20",
            "- x",
            ":",
        ] {
            assert!(scalar(quoted).starts_with('"'), "{quoted:?} must be quoted");
        }
    }

    #[test]
    fn talosconfig_layout_matches_yaml_v3() {
        let text = talosconfig("lab", &["10.0.0.2".into()], &[], "Q0E=", "Q1JU", "S0VZ");
        assert_eq!(
            text,
            "context: lab\ncontexts:\n    lab:\n        endpoints:\n            - 10.0.0.2\n        ca: Q0E=\n        crt: Q1JU\n        key: S0VZ\n"
        );
        let empty = talosconfig("lab", &[], &["n1".into()], "a", "b", "c");
        assert!(empty.contains("        endpoints: []\n        nodes:\n            - n1\n"));
    }

    #[test]
    fn kubeconfig_is_talos_template() {
        let text = kubeconfig("base", "https://base:6443", "Q0E=", "Q1JU", "S0VZ");
        assert_eq!(
            text,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: base\n  cluster:\n    server: https://base:6443\n    certificate-authority-data: Q0E=\nusers:\n- name: admin@base\n  user:\n    client-certificate-data: Q1JU\n    client-key-data: S0VZ\ncontexts:\n- context:\n    cluster: base\n    namespace: default\n    user: admin@base\n  name: admin@base\ncurrent-context: admin@base\n"
        );
    }
}
