//! # Requests checked against the official PVE API schema
//!
//! `lab` talks to Proxmox VE through its HTTP API. There are two places where a request
//! that real PVE would refuse must be caught:
//!
//! 1. the **PVE simulator** (`sim`), which has to answer like pveproxy: 501 for an unknown
//!    path or method, and 400 `Parameter verification failed.` with an `errors` map for bad
//!    parameters;
//! 2. the **conformance tests**, which check every request the client sends against
//!    `pve-apidoc.json` (path, method, parameter names, types, enums, required parameters).
//!
//! Both use [`PveSchema::embedded`]: the API viewer dump of PVE 9.1
//! (`lab-proxmox/reference/pve-apidoc.json`, origin, version, licence and sha256 in
//! `lab-proxmox/reference/SOURCES.md`) is compiled into the crate with `include_str!`
//! ([`PVE_APIDOC_JSON`]), so every build validates and nothing is looked up on disk at run
//! time. It is stored uncompressed: Git and the `.crate` tarball compress it anyway (to
//! about 200 kB), and a validator author greps it. The dump is parsed once per process and
//! compiled into a route trie and typed property schemas, so a lookup or a validation does
//! no JSON work. [`PveSchema::load`] reads another dump (another PVE release) from a file.
//!
//! ## What is checked
//!
//! The rules mirror pve-common `PVE::JSONSchema` (`check_prop`, `check_object`,
//! `check_type`, `parse_property_string`) and `PVE::RESTHandler` (routing, the
//! `net[n]` collapse, array normalisation). The messages are PVE's own texts:
//!
//! - **Routing** ([`PveSchema::route`]): a literal segment wins over a `{param}` segment.
//!   The whole path is percent-decoded first and then split on `/` ([`split_path`]), with
//!   empty segments skipped, as pveproxy and `find_handler` do. A path parameter matches any
//!   segment without whitespace (`\S+`). Below a mount listed in [`FRAGMENT_DELIMITED`]
//!   (`.../storage/{storage}/content`) the rest of the path is one segment, so a volume id
//!   may carry its `/` encoded or not. A method
//!   that pveproxy does not know (`PATCH`) gives `method 'PATCH' not available`. An unknown
//!   path, or a path without that method, gives `Method 'GET /nodes/pve1/foo' not
//!   implemented`, with the concrete path.
//! - **Names**: a parameter that is not in `properties` is refused with `property is not
//!   defined in schema and the schema does not allow additional properties`, unless the
//!   method has `additionalProperties: 1`. A missing `additionalProperties` counts as `0`
//!   (the Rust-backed SDN fabric endpoints omit it). Indexed keys are mapped back to their
//!   collapsed name (`net0` → `net[n]`) and their index is checked against the range PVE
//!   expands them to (see [`index_limit`]). Out of range means not defined.
//! - **Required parameters**: `property is missing and it is not optional`. Path parameters
//!   come from the path and always count as given. The same key with a different value in
//!   the query or body is refused: `duplicate parameter (already defined in URI) with
//!   conflicting values!`.
//! - **Types**: `integer` (`^[+-]?\d+$`), `number`, and `boolean`. A boolean is `0`/`1`, or
//!   `true`/`false`, which stand for JSON booleans because values arrive as strings. A
//!   repeated key is accepted for `array` parameters (one item per value) and for `-list`
//!   formats (PVE joins those). Any other type gives `type check ('string') failed - got
//!   ARRAY`. A single value for an array parameter becomes a one-item array, as PVE's
//!   `normalize_legacy_param_formats` does.
//! - **Constraints**: `minimum`/`maximum` (these may be strings in the JSON),
//!   `minLength`/`maxLength` (in characters), `enum`, `requires`, section-config `oneOf`
//!   with `type-property`.
//! - **Formats**: named formats listed in [`CHECKED_FORMATS`] (`pve-vmid`, `pve-node`,
//!   `pve-storage-id`, `pve-configid`, `pve-poolid`, `dns-name`, `urlencoded`, `pve-tag-list`
//!   through `-list`, storage content, volume IDs, IPs and CIDRs, MAC addresses, ...), with
//!   their `-list`/`-opt` variants. Other named formats are accepted unchecked.
//! - **Property strings** (`net[n]`, `scsi[n]`, `rootfs`, `mp[n]`, `agent`, `memory`, ...):
//!   the value is split on commas into `key=value`. A bare item goes to the `default_key`.
//!   `alias`/`keyAlias` keys (`virtio=BC:24:11:…`) are honoured. An unknown key gives
//!   `invalid format - invalid key in comma-separated list property: bogus`. Bad sub-values
//!   give `invalid format - format error\nnet0.tag: value must have a maximum value of
//!   4094\n`. Named property-string formats (`pve-qm-ipconfig`, `pve-vm-cpu-conf`,
//!   `prune-backups`, ...) are checked by keys rebuilt from their `typetext`.
//! - **Patterns**: PVE's are Perl regexes, which no Rust engine runs exactly: the ones in
//!   [`CHECKED_PATTERNS`] are matched by hand (URLs, fingerprints, bridges, machine types,
//!   LXC mount options, ...), and any other PVE pattern is skipped. Proxmox Backup Server's
//!   schema writes its patterns `/^...$/`: they are Rust regexes (proxmox-schema's), run
//!   with the `regex` crate, so every PBS pattern is checked.
//! - **`delete`/`revert` lists** (format `pve-configid-list`, the config PUT/POST
//!   endpoints): each listed key must be a property of the method after `[n]` mapping.
//!   Otherwise the error is `unknown option 'foo'`, as qemu-server says it. Setting and
//!   deleting the same key gives qemu-server's `you can't use '-foo' and -delete foo' at
//!   the same time`. As in PVE, these handler-level checks run only when the schema checks
//!   passed.
//!
//! Error texts from `die` keep their trailing newline, as PVE's JSON responses do. Compare
//! them with `starts_with` or `contains`.
//!
//! ## Not checked
//!
//! Patterns not in [`CHECKED_PATTERNS`], and named formats not in [`CHECKED_FORMATS`] that
//! are not property strings (`pve-calendar-event`, the firewall and SDN formats,
//! `pve-cpuset`, `pve-ha-*`, ...). Semantic checks that PVE's handlers make after the
//! schema check (a VMID already in use, a storage that does not exist) are not checked
//! either. Those belong to the simulator.

mod check;
mod formats;
mod model;
mod patterns;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use serde_json::Value;

use check::{Errors, Given};
pub use formats::CHECKED_FORMATS;
pub use model::{Property, PropertyType};
pub use patterns::{is_oci_image_reference, CHECKED_PATTERNS, OCI_IMAGE_REFERENCE};

/// The PVE 9.1 API viewer dump (`reference/pve-apidoc.json`, AGPL-3.0-or-later, see
/// `reference/SOURCES.md`), embedded in the crate.
pub const PVE_APIDOC_JSON: &str = include_str!("../../reference/pve-apidoc.json");

/// The HTTP methods pveproxy knows. Any other method is refused before routing.
const KNOWN_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE"];

/// Failure to load the schema file.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file could not be read.
    #[error("cannot read PVE API schema {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("PVE API schema {path} is not valid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON does not have the API-viewer shape (an array of path nodes).
    #[error("PVE API schema {path} has an unexpected shape: {message}")]
    Shape {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// Why a request would be refused by PVE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// HTTP 501. The method is unknown, or the path/method pair does not exist. The message
    /// is PVE's, e.g. `Method 'GET /nodes/pve1/foo' not implemented`.
    NotImplemented {
        /// The reason phrase PVE sends.
        message: String,
    },
    /// HTTP 400 `Parameter verification failed.`, with one message per bad parameter.
    Params {
        /// Parameter name (or `net0.tag`-style path, or `_root`) → message.
        errors: BTreeMap<String, String>,
    },
}

impl Violation {
    /// The HTTP status PVE answers with: 501 or 400.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotImplemented { .. } => 501,
            Self::Params { .. } => 400,
        }
    }

    /// The message PVE puts in the reason phrase (and in `message` of the JSON body).
    pub fn message(&self) -> &str {
        match self {
            Self::NotImplemented { message } => message,
            Self::Params { .. } => "Parameter verification failed.",
        }
    }

    /// The per-parameter errors (empty for 501).
    pub fn errors(&self) -> Option<&BTreeMap<String, String>> {
        match self {
            Self::NotImplemented { .. } => None,
            Self::Params { errors } => Some(errors),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.message())?;
        if let Self::Params { errors } = self {
            for (k, v) in errors {
                write!(f, "\n{k}: {}", v.trim_end())?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Violation {}

/// The highest index + 1 that PVE expands a collapsed `name[n]` key to, e.g. 32 for
/// `net[n]` (`net0`..`net31`). The sources are qemu-server (`$MAX_NETS`, `$MAX_SCSI_DISKS`,
/// …), pve-container (`$MAX_LXC_NETWORKS`, `$MAX_MOUNT_POINTS`, `$MAX_DEVICES`), pve-cluster
/// corosync `link0`..`link7` and pve-manager `acmedomain0`..`4`. An unknown prefix gets 256.
pub fn index_limit(prefix: &str) -> u32 {
    match prefix {
        "net" | "ipconfig" => 32,
        "scsi" => 31,
        "virtio" | "hostpci" => 16,
        "sata" => 6,
        "ide" | "serial" => 4,
        "parallel" => 3,
        "usb" => 14,
        "numa" | "link" => 8,
        "virtiofs" => 10,
        "acmedomain" => 5,
        // unused, mp, dev: 256.
        _ => 256,
    }
}

/// Splits `net12` into `("net", 12)`. The name must be `[a-z]+` and the index canonical
/// (`net01` is not a key PVE defines).
fn split_indexed(key: &str) -> Option<(&str, u32)> {
    let pos = key.find(|c: char| c.is_ascii_digit())?;
    let (name, idx) = key.split_at(pos);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase()) {
        return None;
    }
    if !idx.bytes().all(|b| b.is_ascii_digit())
        || (idx.len() > 1 && idx.starts_with('0'))
        || idx.len() > 4
    {
        return None;
    }
    Some((name, idx.parse().ok()?))
}

/// One API method (a path template with one HTTP method) as the schema describes it.
#[derive(Debug, Clone)]
pub struct Method {
    path: String,
    http_method: String,
    name: String,
    description: String,
    protected: bool,
    proxyto: Option<String>,
    allowtoken: bool,
    has_schema: bool,
    additional_properties: bool,
    params: IndexMap<String, Property>,
}

impl Method {
    fn compile(path: &str, http_method: &str, v: &Value) -> Self {
        let params = v.get("parameters");
        let props = params
            .and_then(|p| p.get("properties"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, p)| (k.clone(), Property::compile(p)))
                    .collect()
            })
            .unwrap_or_default();
        let flag = |v: Option<&Value>| match v {
            Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => !s.is_empty() && s != "0",
            _ => false,
        };
        Self {
            path: path.to_owned(),
            http_method: http_method.to_owned(),
            name: v
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            protected: flag(v.get("protected")),
            proxyto: v.get("proxyto").and_then(Value::as_str).map(str::to_owned),
            // pve-common `register_method`: allowtoken defaults to 1.
            allowtoken: v.get("allowtoken").is_none_or(|a| flag(Some(a))),
            has_schema: params.is_some(),
            additional_properties: flag(params.and_then(|p| p.get("additionalProperties"))),
            params: props,
        }
    }

    /// The path template, e.g. `/nodes/{node}/qemu/{vmid}/config`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The HTTP method (`GET`, `POST`, `PUT`, `DELETE`).
    pub fn http_method(&self) -> &str {
        &self.http_method
    }

    /// The handler name, e.g. `update_vm`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The one-paragraph description from the schema.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// `protected: 1`: the call runs in the privileged pvedaemon.
    pub fn protected(&self) -> bool {
        self.protected
    }

    /// `proxyto`: the parameter naming the node the call is forwarded to.
    pub fn proxyto(&self) -> Option<&str> {
        self.proxyto.as_deref()
    }

    /// Whether API tokens may call this method (`allowtoken`, default 1).
    pub fn allow_token(&self) -> bool {
        self.allowtoken
    }

    /// Whether unknown parameters are allowed (`additionalProperties: 1`).
    pub fn additional_properties(&self) -> bool {
        self.additional_properties
    }

    /// The parameters as the schema names them (`net[n]` collapsed), path parameters
    /// included.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, &Property)> {
        self.params.iter().map(|(k, p)| (k.as_str(), p))
    }

    /// Finds the schema of a concrete parameter name: an exact name, or an indexed key such
    /// as `net3` mapped to `net[n]` within its range. Returns the schema's own name and the
    /// property.
    pub fn parameter(&self, key: &str) -> Option<(&str, &Property)> {
        if !key.ends_with("[n]") {
            if let Some((k, p)) = self.params.get_key_value(key) {
                return Some((k.as_str(), p));
            }
        }
        let (name, idx) = split_indexed(key)?;
        if idx >= index_limit(name) {
            return None;
        }
        self.params
            .get_key_value(format!("{name}[n]").as_str())
            .map(|(k, p)| (k.as_str(), p))
    }
}

/// A concrete path matched to a method of the schema.
#[derive(Debug, Clone)]
pub struct Route<'s> {
    method: &'s Method,
    path_params: Vec<(&'s str, String)>,
}

impl<'s> Route<'s> {
    /// The path template, e.g. `/nodes/{node}/qemu/{vmid}/config`.
    pub fn template(&self) -> &'s str {
        &self.method.path
    }

    /// The method's schema.
    pub fn method(&self) -> &'s Method {
        self.method
    }

    /// The path parameters in path order, e.g. `[("node", "pve1"), ("vmid", "101")]`.
    pub fn path_params(&self) -> &[(&'s str, String)] {
        &self.path_params
    }

    /// One path parameter by name.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Checks the query/body parameters of a request on this route. `params` are the decoded
    /// pairs as they arrived. A repeated key appears once per value.
    pub fn validate(&self, params: &[(String, String)]) -> Result<(), Violation> {
        validate_params(self, params)
    }
}

/// One node of the route trie.
#[derive(Debug, Default)]
struct TrieNode {
    literal: HashMap<String, usize>,
    param: Option<(String, usize)>,
    methods: Vec<Method>,
    /// The remaining segments are joined back with `/` into one (a subclass registered
    /// with `fragmentDelimiter => ''`, see [`FRAGMENT_DELIMITED`]).
    joins_rest: bool,
}

/// The subclass mounts PVE registers with `fragmentDelimiter => ''`: below them the rest
/// of the path is one segment, slashes included. The API viewer dump does not carry the
/// flag, so it is listed here. pve-storage `src/PVE/API2/Storage/Status.pm` mounts
/// `PVE::API2::Storage::Content` at `{storage}/content` with it "because volume IDs may
/// contain a slash '/'"; pve-common `src/PVE/RESTHandler.pm map_path_to_methods` then
/// does `$stack = [join('/', @$stack)] if scalar(@$stack) > 1`, so
/// `.../content/local:vztmpl/x.tar.zst` reaches `{volume}` = `local:vztmpl/x.tar.zst`.
pub const FRAGMENT_DELIMITED: &[&str] = &[
    "/nodes/{node}/storage/{storage}/content",
    // pve-firewall `src/PVE/API2/Firewall/IPSet.pm`: an entry's `{cidr}` holds a `/`.
    "/cluster/firewall/ipset/{name}",
    "/nodes/{node}/qemu/{vmid}/firewall/ipset/{name}",
    "/nodes/{node}/lxc/{vmid}/firewall/ipset/{name}",
];

/// The PVE API schema, compiled for routing and validation.
///
/// It is `Send + Sync` and immutable, so share it with an `Arc`.
#[derive(Debug)]
pub struct PveSchema {
    nodes: Vec<TrieNode>,
    paths: usize,
    methods: usize,
}

impl PveSchema {
    /// The embedded PVE 9.1 schema ([`PVE_APIDOC_JSON`]), compiled on first use and then
    /// shared by every caller in the process.
    pub fn embedded() -> Arc<PveSchema> {
        static SCHEMA: OnceLock<Arc<PveSchema>> = OnceLock::new();
        SCHEMA
            .get_or_init(|| {
                let json: Value = serde_json::from_str(PVE_APIDOC_JSON)
                    .expect("the embedded pve-apidoc.json is JSON (tests/schema.rs)");
                Arc::new(
                    Self::from_json(&json)
                        .expect("the embedded pve-apidoc.json is an API viewer dump"),
                )
            })
            .clone()
    }

    /// Loads and compiles an API-viewer dump (`pve-apidoc.json`).
    pub fn load(path: &Path) -> Result<Self, SchemaError> {
        let bytes = std::fs::read(path).map_err(|source| SchemaError::Io {
            path: path.to_owned(),
            source,
        })?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|source| SchemaError::Json {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&json).map_err(|message| SchemaError::Shape {
            path: path.to_owned(),
            message,
        })
    }

    /// Compiles an already parsed API-viewer dump.
    pub fn from_json(json: &Value) -> Result<Self, String> {
        let roots = json
            .as_array()
            .ok_or("the top level is not an array of path nodes")?;
        let mut schema = Self {
            nodes: vec![TrieNode::default()],
            paths: 0,
            methods: 0,
        };
        let mut stack: Vec<&Value> = roots.iter().rev().collect();
        while let Some(node) = stack.pop() {
            let path = node
                .get("path")
                .and_then(Value::as_str)
                .ok_or("a path node has no \"path\"")?;
            let idx = schema.insert(path);
            schema.paths += 1;
            if let Some(info) = node.get("info").and_then(Value::as_object) {
                for (http_method, m) in info {
                    schema.nodes[idx]
                        .methods
                        .push(Method::compile(path, http_method, m));
                    schema.methods += 1;
                }
            }
            if let Some(children) = node.get("children").and_then(Value::as_array) {
                stack.extend(children.iter().rev());
            }
        }
        for template in FRAGMENT_DELIMITED {
            if let Some(idx) = schema.find(template) {
                schema.nodes[idx].joins_rest = true;
            }
        }
        Ok(schema)
    }

    fn insert(&mut self, template: &str) -> usize {
        let mut cur = 0;
        for seg in template.split('/').filter(|s| !s.is_empty()) {
            let next = if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                match &self.nodes[cur].param {
                    Some((_, i)) => *i,
                    None => {
                        let i = self.nodes.len();
                        self.nodes.push(TrieNode::default());
                        self.nodes[cur].param = Some((name.to_owned(), i));
                        i
                    }
                }
            } else {
                match self.nodes[cur].literal.get(seg) {
                    Some(i) => *i,
                    None => {
                        let i = self.nodes.len();
                        self.nodes.push(TrieNode::default());
                        self.nodes[cur].literal.insert(seg.to_owned(), i);
                        i
                    }
                }
            };
            cur = next;
        }
        cur
    }

    /// The number of path nodes in the schema (435 for PVE 9.1).
    pub fn paths(&self) -> usize {
        self.paths
    }

    /// The number of methods in the schema (649 for PVE 9.1).
    pub fn methods(&self) -> usize {
        self.methods
    }

    /// Every method in the schema.
    pub fn endpoints(&self) -> impl Iterator<Item = &Method> {
        self.nodes.iter().flat_map(|n| n.methods.iter())
    }

    /// The trie node of a template, if the schema has it.
    fn find(&self, template: &str) -> Option<usize> {
        let mut cur = 0;
        for seg in template.split('/').filter(|s| !s.is_empty()) {
            let node = &self.nodes[cur];
            cur = if seg.starts_with('{') && seg.ends_with('}') {
                node.param.as_ref()?.1
            } else {
                *node.literal.get(seg)?
            };
        }
        Some(cur)
    }

    /// Looks a method up by its template (`/nodes/{node}/qemu`) rather than a concrete path.
    pub fn method(&self, http_method: &str, template: &str) -> Option<&Method> {
        let cur = self.find(template)?;
        self.nodes[cur]
            .methods
            .iter()
            .find(|m| m.http_method == http_method)
    }

    /// Matches a concrete path (without `/api2/json`; a leading one is stripped) to a
    /// method. A literal segment wins over a `{param}` segment, as it does in PVE.
    pub fn route(&self, method: &str, path: &str) -> Option<Route<'_>> {
        self.route_or_violation(method, path).ok()
    }

    fn route_or_violation(&self, method: &str, path: &str) -> Result<Route<'_>, Violation> {
        if !KNOWN_METHODS.contains(&method) {
            return Err(Violation::NotImplemented {
                message: format!("method '{method}' not available"),
            });
        }
        let rel = strip_api_prefix(path);
        let not_implemented = || Violation::NotImplemented {
            message: format!("Method '{method} {rel}' not implemented"),
        };
        let mut cur = 0;
        let mut path_params = Vec::new();
        let mut stack = split_path(rel);
        stack.reverse();
        while let Some(seg) = stack.pop() {
            let node = &self.nodes[cur];
            if let Some(&next) = node.literal.get(seg.as_str()) {
                cur = next;
            } else if let Some((name, next)) = &node.param {
                if seg.chars().any(char::is_whitespace) {
                    return Err(not_implemented());
                }
                path_params.push((name.as_str(), seg));
                cur = *next;
            } else {
                return Err(not_implemented());
            }
            if self.nodes[cur].joins_rest && stack.len() > 1 {
                stack.reverse();
                let joined = stack.join("/");
                stack = vec![joined];
            }
        }
        let m = self.nodes[cur]
            .methods
            .iter()
            .find(|m| m.http_method == method)
            .ok_or_else(not_implemented)?;
        Ok(Route {
            method: m,
            path_params,
        })
    }

    /// Checks a whole request the way pveproxy would: route it (501 if the path or method
    /// is unknown), then check its decoded query/body pairs (400 with an `errors` map).
    pub fn validate(
        &self,
        method: &str,
        path: &str,
        params: &[(String, String)],
    ) -> Result<(), Violation> {
        self.route_or_violation(method, path)?.validate(params)
    }
}

/// The segments of a request path as pveproxy sees them: the whole path is
/// percent-decoded first (pve-http-server `src/PVE/APIServer/AnyEvent.pm`:
/// `my $path = uri_unescape($request->uri->path())`), then split on `/` with empty
/// fragments skipped (pve-common `RESTHandler.pm find_handler`), so an encoded `%2F`
/// separates segments like a `/` does.
pub fn split_path(rel: &str) -> Vec<String> {
    percent_encoding::percent_decode_str(rel)
        .decode_utf8_lossy()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn strip_api_prefix(path: &str) -> &str {
    match path.strip_prefix("/api2/json") {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => path,
    }
}

/// The meta parameters of config updates that are never config keys to delete.
const NOT_CONFIG_KEYS: &[&str] = &["delete", "revert", "digest", "skiplock", "background_delay"];

fn as_given<'a>(values: &'a [&'a str]) -> Option<Given<'a>> {
    match values {
        [] => None,
        [one] => Some(Given::One(one)),
        many => Some(Given::Many(many)),
    }
}

/// The value of a property's `type-property` parameter, for section-config `oneOf` schemas.
fn instance_type<'a>(given: &IndexMap<&'a str, Vec<&'a str>>, prop: &Property) -> Option<&'a str> {
    let tp = prop.type_property.as_deref()?;
    given.get(tp).and_then(|v| v.first().copied())
}

fn validate_params(route: &Route<'_>, params: &[(String, String)]) -> Result<(), Violation> {
    let method = route.method;
    // Group repeated keys, keeping first-seen order.
    let mut given: IndexMap<&str, Vec<&str>> = IndexMap::new();
    for (k, v) in params {
        given.entry(k.as_str()).or_default().push(v.as_str());
    }

    // pve-manager `rest_handler`: URI parameters override, and must not conflict.
    let mut errors = Errors::default();
    for (name, value) in &route.path_params {
        if let Some(values) = given.get(name) {
            if values.iter().any(|v| v != value) {
                errors.add(
                    name,
                    "duplicate parameter (already defined in URI) with conflicting values!",
                );
            }
        }
        given.insert(name, vec![value.as_str()]);
    }
    if !errors.is_empty() {
        return Err(Violation::Params { errors: errors.0 });
    }
    if !method.has_schema {
        return Ok(());
    }

    // `check_object`, first over the schema's keys...
    for (key, prop) in &method.params {
        if key.ends_with("[n]") {
            continue;
        }
        let value = given.get(key.as_str()).and_then(|v| as_given(v));
        check::check_prop(value, prop, key, &mut errors, instance_type(&given, prop));
    }
    // ...then over the given keys: indexed keys, `requires`, `oneOf`, unknown names.
    for (key, values) in &given {
        match method.parameter(key) {
            Some((schema_key, prop)) => {
                if schema_key.ends_with("[n]") {
                    check::check_prop(as_given(values), prop, key, &mut errors, None);
                }
                if let Some(requires) = &prop.requires {
                    if !given.contains_key(requires.as_str()) {
                        errors.add(
                            requires,
                            format!("missing property - '{key}' requires this property"),
                        );
                    }
                }
                if !prop.one_of.is_empty() {
                    let it = instance_type(&given, prop);
                    let matched = prop.one_of.iter().any(|alt| {
                        alt.instance_types
                            .as_ref()
                            .is_none_or(|types| it.is_some_and(|it| types.iter().any(|t| t == it)))
                    });
                    if !matched && !method.additional_properties {
                        errors.add(key, "property is not defined in schema and the schema does not allow additional properties");
                    }
                }
            }
            None if !method.additional_properties => {
                errors.add(key, "property is not defined in schema and the schema does not allow additional properties");
            }
            None => {}
        }
    }
    if !errors.is_empty() {
        return Err(Violation::Params { errors: errors.0 });
    }

    // Handler-level checks of `delete`/`revert` lists (qemu-server `update_vm_api`).
    for list_param in ["delete", "revert"] {
        let Some((_, prop)) = method.parameter(list_param) else {
            continue;
        };
        if prop.format_name() != Some("pve-configid-list") {
            continue;
        }
        let Some(values) = given.get(list_param) else {
            continue;
        };
        for entry in values.iter().flat_map(|v| formats::split_list(v)) {
            let known = !NOT_CONFIG_KEYS.contains(&entry)
                && route.path_param(entry).is_none()
                && method.parameter(entry).is_some();
            if !known {
                errors.add(list_param, format!("unknown option '{entry}'"));
            } else if list_param == "delete" && given.contains_key(entry) {
                errors.add(
                    list_param,
                    format!("you can't use '-{entry}' and -delete {entry}' at the same time"),
                );
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Violation::Params { errors: errors.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexed_keys() {
        assert_eq!(split_indexed("net0"), Some(("net", 0)));
        assert_eq!(split_indexed("unused255"), Some(("unused", 255)));
        assert_eq!(split_indexed("net01"), None);
        assert_eq!(split_indexed("net"), None);
        assert_eq!(split_indexed("Net0"), None);
        assert_eq!(split_indexed("ip6x"), None);
        assert_eq!(strip_api_prefix("/api2/json/nodes"), "/nodes");
        assert_eq!(strip_api_prefix("/nodes"), "/nodes");
    }
}
