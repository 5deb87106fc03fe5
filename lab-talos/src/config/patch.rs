//! Talos config patches: strategic merge and RFC 6902.
//!
//! Talos (`pkg/machinery/config/configpatcher`) tells the two formats apart
//! by content: a YAML sequence is a JSON patch, anything else is a
//! (possibly multi-document) strategic-merge patch. This module does the
//! same, on the untyped [`Node`] tree, with the rules of Talos's typed merge
//! (`pkg/machinery/config/merge`):
//!
//! - Documents are matched by `apiVersion`/`kind`/`name`; a document without
//!   `kind` is the legacy `v1alpha1` document. A matched document is merged
//!   into; an unmatched one is added (see "targets nothing" below). One
//!   patch may not contain the same document twice.
//! - Mappings merge recursively. A scalar replaces the old value unless it is
//!   Go's zero value (`""`, `0`; `false` always replaces), `null` changes
//!   nothing.
//! - Lists append, except `cluster.network.podSubnets`,
//!   `cluster.network.serviceSubnets` and `cluster.apiServer.auditPolicy`
//!   (replaced: Go tag `merge:"replace"`) and the lists Talos merges item by
//!   item: `machine.network.interfaces` (by `interface`, else
//!   `deviceSelector`), their `vlans` (by `vlanId`),
//!   `cluster.apiServer.admissionControl` (by `name`),
//!   `ExtensionServiceConfig.configFiles` (by `mountPath`); the
//!   `NetworkRuleConfig` `ingress` and `portSelector.ports` lists are
//!   replaced.
//! - `$patch: delete` in a mapping deletes that key from the target (the
//!   path may not cross a list); in a list item it deletes the first target
//!   item whose field equals the item's first other field (e.g.
//!   `{interface: eth0, $patch: delete}`); at a document's top level it
//!   deletes the whole document (not the v1alpha1 one). Deletes run before
//!   the merge, as in Talos. A mapping or list that a delete leaves empty is
//!   removed too (Talos omits empty `omitempty` fields when it re-encodes).
//! - After each patch, documents are re-ordered as Talos re-encodes them
//!   ([`super::shape`]).
//!
//! **Targets nothing** (an error, so the user hears about a typo instead of
//! a silently ignored patch): a `$patch: delete` of a key, list item or
//! document path that doesn't exist in the target (Talos: "lookup failed";
//! Talos silently accepts the delete of an existing-but-empty struct field,
//! which an untyped tree can't tell from a missing one), a new document whose
//! kind is not a v1.13 kind (e.g. a v1.14 `KubeletConfig`) or that lacks a
//! field its kind requires (a partial patch for a document that isn't
//! there), an empty patch. Deleting a whole document that doesn't exist is a
//! no-op, as in Talos (patches stay reusable across roles).
//!
//! JSON patches (`add`, `remove`, `replace`, `move`, `copy`, `test`) apply
//! only to a config made of the v1alpha1 document alone, as in Talos; every
//! config `lab` generates has a `HostnameConfig` too, so for generated
//! configs use strategic merge.
//!
//! Differences from Talos that come from working on the YAML tree rather
//! than Go structs: a scalar of another type replaces the old value (Go would
//! have failed to decode the patch), and a key the Go types don't have is
//! merged like any other (Talos rejects it;
//! [`super::validate`](fn@super::validate) reports it).

use std::collections::HashSet;
use std::fmt;

use indexmap::IndexMap;

use super::{doc_id, shape, DocId, DocSource, Document, V1_13_KINDS};
use crate::yaml::{self, Node, YamlError};

/// A Talos config patch, parsed once and applied to a node's documents:
/// either a strategic-merge patch (one or more YAML documents merged by
/// Talos's rules) or an RFC 6902 JSON patch (a YAML sequence of
/// operations), told apart by content as `talosctl` does (see the module
/// doc). [`Patch::parse`] reads the user's text; [`Patch::strategic`]
/// builds one from documents.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    kind: PatchKind,
}

#[derive(Clone, Debug, PartialEq)]
enum PatchKind {
    Strategic(Vec<Node>),
    Json(Vec<JsonOp>),
}

#[derive(Clone, Debug, PartialEq)]
struct JsonOp {
    op: String,
    path: String,
    from: Option<String>,
    value: Option<Node>,
}

/// A patch that failed, with its place in the list and in the YAML.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct PatchError {
    /// The patch's index in its list (0-based).
    pub index: usize,
    /// The document the error is about, if any.
    pub document: Option<DocId>,
    /// The dotted YAML path inside that document (`machine.network.hostname`,
    /// `interfaces[0].vlans`; a JSON patch's pointer), empty for the whole
    /// patch.
    pub path: String,
    /// What went wrong.
    pub kind: PatchErrorKind,
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "patches[{}]", self.index)?;
        if let Some(doc) = &self.document {
            write!(f, ", document {doc}")?;
        }
        if !self.path.is_empty() {
            write!(f, ", at {}", self.path)?;
        }
        write!(f, ": {}", self.kind)
    }
}

/// What went wrong with a patch.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PatchErrorKind {
    /// The YAML doesn't parse.
    #[error("invalid YAML: {0}")]
    Parse(YamlError),
    /// The patch has no documents.
    #[error("the patch is empty")]
    Empty,
    /// A document (or a JSON patch operation) isn't a mapping.
    #[error("expected a mapping, found a {0}")]
    NotAMapping(&'static str),
    /// A document has `kind` without `apiVersion` or the reverse.
    #[error("a document needs both apiVersion and kind (or neither, for the v1alpha1 document)")]
    IncompleteIdentity,
    /// A `$patch` directive other than `delete`.
    #[error("unsupported directive `$patch: {0}` (only `delete` is supported)")]
    UnsupportedDirective(String),
    /// A `$patch: delete` whose target doesn't exist.
    #[error("$patch: delete targets nothing (no such key or item)")]
    DeleteTargetMissing,
    /// A `$patch: delete` of a key inside a list item.
    #[error("$patch: delete of a key inside a list item is not supported; delete the item")]
    DeleteInsideList,
    /// A list item with `$patch: delete` and no field to select by.
    #[error("$patch: delete in a list item needs a field to select the item by")]
    DeleteWithoutSelector,
    /// `$patch: delete` at the top of the v1alpha1 document.
    #[error("the v1alpha1 document can't be deleted")]
    DeleteLegacyRoot,
    /// The patch has the same document twice.
    #[error("the patch contains this document twice")]
    DuplicateDocument,
    /// A new document of a kind the contract doesn't know.
    #[error(
        "targets nothing: no document of kind {0} exists, and {0} is not a v1.13 document kind"
    )]
    UnknownKind(String),
    /// A new document that lacks fields its kind requires.
    #[error("targets nothing: no such document exists, and as a new document it lacks {}", .0.join(", "))]
    IncompleteDocument(Vec<String>),
    /// A mapping merged into a list, or the like.
    #[error("cannot merge a {patch} into a {target}")]
    TypeMismatch {
        /// The type in the config.
        target: &'static str,
        /// The type in the patch.
        patch: &'static str,
    },
    /// A malformed JSON patch operation.
    #[error("invalid JSON patch: {0}")]
    InvalidJsonPatch(String),
    /// A JSON patch on a multi-document config.
    #[error("JSON6902 patches are not supported for multi-document machine configuration")]
    JsonPatchMultiDoc,
    /// A JSON patch operation that doesn't apply.
    #[error("JSON patch failed: {0}")]
    JsonPatchFailed(String),
}

impl Patch {
    /// Parses a patch: a YAML sequence is an RFC 6902 JSON patch, mappings
    /// (one or more documents) are a strategic-merge patch.
    ///
    /// ```
    /// use lab_talos::config::Patch;
    /// assert!(Patch::parse("machine:\n  sysctls:\n    a: b\n").is_ok());
    /// assert!(Patch::parse("- op: remove\n  path: /debug\n").unwrap().is_json());
    /// assert!(Patch::parse("machine: [").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Patch, PatchErrorKind> {
        let docs = yaml::parse(text).map_err(PatchErrorKind::Parse)?;
        if docs.is_empty() {
            return Err(PatchErrorKind::Empty);
        }
        if let [Node::Seq(ops)] = docs.as_slice() {
            return Ok(Patch {
                kind: PatchKind::Json(ops.iter().map(json_op).collect::<Result<_, _>>()?),
            });
        }
        Patch::strategic(docs)
    }

    /// A strategic-merge patch from already-parsed documents.
    pub fn strategic(docs: Vec<Node>) -> Result<Patch, PatchErrorKind> {
        if docs.is_empty() {
            return Err(PatchErrorKind::Empty);
        }
        if let Some(bad) = docs.iter().find(|d| !matches!(d, Node::Map(_))) {
            return Err(PatchErrorKind::NotAMapping(bad.type_name()));
        }
        Ok(Patch {
            kind: PatchKind::Strategic(docs),
        })
    }

    /// Whether this is an RFC 6902 JSON patch.
    pub fn is_json(&self) -> bool {
        matches!(self.kind, PatchKind::Json(_))
    }
}

fn json_op(node: &Node) -> Result<JsonOp, PatchErrorKind> {
    let Node::Map(m) = node else {
        return Err(PatchErrorKind::NotAMapping(node.type_name()));
    };
    let field = |name: &str| m.get(name).and_then(Node::as_str).map(str::to_owned);
    let op = field("op").ok_or_else(|| PatchErrorKind::InvalidJsonPatch("missing `op`".into()))?;
    let path =
        field("path").ok_or_else(|| PatchErrorKind::InvalidJsonPatch("missing `path`".into()))?;
    let value = m.get("value").cloned();
    let from = field("from");
    match op.as_str() {
        "add" | "replace" | "test" if value.is_none() => Err(PatchErrorKind::InvalidJsonPatch(
            format!("`{op}` needs a `value`"),
        )),
        "move" | "copy" if from.is_none() => Err(PatchErrorKind::InvalidJsonPatch(format!(
            "`{op}` needs a `from`"
        ))),
        "add" | "remove" | "replace" | "move" | "copy" | "test" => Ok(JsonOp {
            op,
            path,
            from,
            value,
        }),
        other => Err(PatchErrorKind::InvalidJsonPatch(format!(
            "unknown operation `{other}`"
        ))),
    }
}

/// Applies patches in order to a config; the error names the failing
/// patch's index and the YAML path.
pub fn apply_patches(
    docs: &[Document],
    patches: &[Patch],
) -> Result<Vec<Document>, Box<PatchError>> {
    let mut docs = docs.to_vec();
    for (index, patch) in patches.iter().enumerate() {
        let result = match &patch.kind {
            PatchKind::Strategic(patch_docs) => apply_strategic(&mut docs, patch_docs, index),
            PatchKind::Json(ops) => apply_json(&mut docs, ops),
        };
        result.map_err(|failure| {
            let (document, path, kind) = *failure;
            Box::new(PatchError {
                index,
                document,
                path,
                kind,
            })
        })?;
        for d in &mut docs {
            shape::normalize(&mut d.body);
        }
    }
    Ok(docs)
}

/// A failure inside one patch: document, path, what (boxed: errors are
/// rare and this keeps `Result`s small).
type Failure = Box<(Option<DocId>, String, PatchErrorKind)>;

fn fail(doc: &DocId, path: &[String], kind: PatchErrorKind) -> Failure {
    Box::new((Some(doc.clone()), path.join("."), kind))
}

// ---------------------------------------------------------------------------
// Strategic merge

/// A `$patch: delete` found in a patch document.
enum Delete {
    /// The whole document.
    Document(DocId),
    /// A key: `path` leads to it.
    Key { doc: DocId, path: Vec<String> },
    /// The first item of the list at `path` whose `key` equals `value`.
    Item {
        doc: DocId,
        path: Vec<String>,
        key: String,
        value: Node,
    },
}

fn patch_doc_id(body: &Node) -> Result<DocId, PatchErrorKind> {
    let has = |k| body.get(k).is_some();
    if has("kind") != has("apiVersion") {
        return Err(PatchErrorKind::IncompleteIdentity);
    }
    Ok(doc_id(body))
}

fn apply_strategic(
    docs: &mut Vec<Document>,
    patch_docs: &[Node],
    index: usize,
) -> Result<(), Failure> {
    // 1. Identify documents and pull the deletes out of them.
    let mut seen = HashSet::new();
    let mut deletes = Vec::new();
    let mut merges = Vec::new();
    for body in patch_docs {
        let id = patch_doc_id(body).map_err(|k| Box::new((None, String::new(), k)))?;
        if !seen.insert(id.clone()) {
            return Err(fail(&id, &[], PatchErrorKind::DuplicateDocument));
        }
        let mut body = body.clone();
        let whole = extract_deletes(&mut body, &id, &mut Vec::new(), false, &mut deletes)?;
        if whole {
            deletes.push(Delete::Document(id));
        } else if !is_identity_only(&body) {
            merges.push((id, body));
        }
    }

    // 2. Deletes, in the order they appear.
    for delete in deletes {
        apply_delete(docs, delete)?;
    }

    // 3. Merges.
    for (id, body) in merges {
        match docs.iter_mut().find(|d| d.id() == id) {
            Some(target) => {
                let rules = ListRules::for_doc(&id);
                merge(&mut target.body, body, &rules, &mut Vec::new())
                    .map_err(|(path, kind)| fail(&id, &path, kind))?;
            }
            None => {
                check_new_document(&id, &body)?;
                docs.push(Document {
                    body,
                    source: DocSource::Patch { layer: None, index },
                });
            }
        }
    }
    Ok(())
}

/// A document left with nothing but its identity (e.g. one that only
/// carried deletes) merges nothing and must not be added as a new document.
fn is_identity_only(body: &Node) -> bool {
    body.as_map().is_some_and(|m| {
        m.keys()
            .all(|k| matches!(k.as_str(), "version" | "apiVersion" | "kind" | "name"))
    })
}

fn check_new_document(id: &DocId, body: &Node) -> Result<(), Failure> {
    let DocId::Kind { kind, .. } = id else {
        return Ok(());
    };
    let Some((_, required)) = V1_13_KINDS.iter().find(|(k, _)| k == kind) else {
        return Err(fail(id, &[], PatchErrorKind::UnknownKind(kind.clone())));
    };
    let missing: Vec<String> = required
        .iter()
        .filter(|f| body.get(f).is_none())
        .map(|f| (*f).to_owned())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(fail(id, &[], PatchErrorKind::IncompleteDocument(missing)))
    }
}

fn is_delete_marker(m: &IndexMap<String, Node>) -> Result<bool, PatchErrorKind> {
    match m.get("$patch") {
        None => Ok(false),
        Some(Node::Str(s)) if s == "delete" => Ok(true),
        Some(other) => Err(PatchErrorKind::UnsupportedDirective(
            other
                .scalar_text()
                .unwrap_or_else(|| other.type_name().to_owned()),
        )),
    }
}

/// Walks a patch node, records its deletes and removes them (and the
/// containers they leave empty) from the node. Returns whether `node` itself
/// must go (it carries `$patch: delete`, or became empty).
fn extract_deletes(
    node: &mut Node,
    doc: &DocId,
    path: &mut Vec<String>,
    in_list: bool,
    out: &mut Vec<Delete>,
) -> Result<bool, Failure> {
    match node {
        Node::Map(m) => {
            if is_delete_marker(m).map_err(|k| fail(doc, path, k))? {
                if path.is_empty() {
                    return Ok(true); // the whole document
                }
                // Talos can't follow a path through a list (other than the
                // list whose item this is).
                let ancestors = &path[..path.len() - usize::from(in_list)];
                if ancestors.iter().any(|p| p.ends_with(']')) {
                    return Err(fail(doc, path, PatchErrorKind::DeleteInsideList));
                }
                if in_list {
                    let selector = m.iter().find(|(k, _)| k.as_str() != "$patch");
                    let Some((key, value)) = selector else {
                        return Err(fail(doc, path, PatchErrorKind::DeleteWithoutSelector));
                    };
                    let mut list_path = path.clone();
                    if let Some(last) = list_path.last_mut() {
                        if let Some(bracket) = last.rfind('[') {
                            last.truncate(bracket);
                        }
                    }
                    out.push(Delete::Item {
                        doc: doc.clone(),
                        path: list_path,
                        key: key.clone(),
                        value: value.clone(),
                    });
                } else {
                    out.push(Delete::Key {
                        doc: doc.clone(),
                        path: path.clone(),
                    });
                }
                return Ok(true);
            }
            let keys: Vec<String> = m.keys().cloned().collect();
            for key in keys {
                path.push(key.clone());
                let child = m.get_mut(&key).expect("key from the map");
                let remove = extract_deletes(child, doc, path, false, out)?;
                path.pop();
                if remove {
                    m.shift_remove(&key);
                    if m.is_empty() {
                        return Ok(!path.is_empty());
                    }
                }
            }
            Ok(false)
        }
        Node::Seq(items) => {
            let mut i = 0;
            let mut removed = false;
            while i < items.len() {
                let last = path.pop().unwrap_or_default();
                path.push(format!("{last}[{i}]"));
                let remove = extract_deletes(&mut items[i], doc, path, true, out)?;
                path.pop();
                path.push(last);
                if remove {
                    items.remove(i);
                    removed = true;
                } else {
                    i += 1;
                }
            }
            Ok(removed && items.is_empty())
        }
        _ => Ok(false),
    }
}

fn apply_delete(docs: &mut Vec<Document>, delete: Delete) -> Result<(), Failure> {
    match delete {
        Delete::Document(id) => {
            if id == DocId::V1Alpha1 {
                return Err(fail(&id, &[], PatchErrorKind::DeleteLegacyRoot));
            }
            docs.retain(|d| d.id() != id);
            Ok(())
        }
        Delete::Key { doc, path } => {
            let target = docs
                .iter_mut()
                .find(|d| d.id() == doc)
                .ok_or_else(|| fail(&doc, &path, PatchErrorKind::DeleteTargetMissing))?;
            if !delete_key(&mut target.body, &path) {
                return Err(fail(&doc, &path, PatchErrorKind::DeleteTargetMissing));
            }
            Ok(())
        }
        Delete::Item {
            doc,
            path,
            key,
            value,
        } => {
            let target = docs
                .iter_mut()
                .find(|d| d.id() == doc)
                .ok_or_else(|| fail(&doc, &path, PatchErrorKind::DeleteTargetMissing))?;
            if !delete_item(&mut target.body, &path, &key, &value) {
                let mut shown = path.clone();
                if let Some(last) = shown.last_mut() {
                    last.push_str(&format!(
                        "[{key}={}]",
                        value.scalar_text().unwrap_or_default()
                    ));
                }
                return Err(fail(&doc, &shown, PatchErrorKind::DeleteTargetMissing));
            }
            Ok(())
        }
    }
}

/// Removes the key at `path`; prunes mappings left empty. Returns false if
/// the path doesn't exist.
fn delete_key(node: &mut Node, path: &[String]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Node::Map(m) = node else { return false };
    if rest.is_empty() {
        return m.shift_remove(first).is_some();
    }
    let Some(child) = m.get_mut(first) else {
        return false;
    };
    if !delete_key(child, rest) {
        return false;
    }
    if is_empty_collection(child) {
        m.shift_remove(first);
    }
    true
}

/// Removes the first item of the list at `path` whose `key` field equals
/// `value`; prunes containers left empty.
fn delete_item(node: &mut Node, path: &[String], key: &str, value: &Node) -> bool {
    let Node::Map(m) = node else { return false };
    let Some((first, rest)) = path.split_first() else {
        return false;
    };
    let Some(child) = m.get_mut(first) else {
        return false;
    };
    let done = if rest.is_empty() {
        let Node::Seq(items) = child else {
            return false;
        };
        let wanted = value.scalar_text();
        let Some(pos) = items.iter().position(|item| {
            item.get(key)
                .is_some_and(|v| v == value || (wanted.is_some() && v.scalar_text() == wanted))
        }) else {
            return false;
        };
        items.remove(pos);
        true
    } else {
        delete_item(child, rest, key, value)
    };
    if done && is_empty_collection(child) {
        m.shift_remove(first);
    }
    done
}

fn is_empty_collection(node: &Node) -> bool {
    match node {
        Node::Map(m) => m.is_empty(),
        Node::Seq(s) => s.is_empty(),
        _ => false,
    }
}

/// How the lists of one document kind merge.
struct ListRules {
    replace: &'static [&'static str],
    keyed: &'static [(&'static str, &'static [&'static str])],
}

impl ListRules {
    fn for_doc(id: &DocId) -> ListRules {
        match id.kind() {
            "v1alpha1" => ListRules {
                replace: &[
                    "cluster.network.podSubnets",
                    "cluster.network.serviceSubnets",
                    "cluster.apiServer.auditPolicy",
                ],
                keyed: &[
                    (
                        "machine.network.interfaces",
                        &["interface", "deviceSelector"],
                    ),
                    ("machine.network.interfaces[].vlans", &["vlanId"]),
                    ("cluster.apiServer.admissionControl", &["name"]),
                ],
            },
            "ExtensionServiceConfig" => ListRules {
                replace: &[],
                keyed: &[("configFiles", &["mountPath"])],
            },
            "NetworkRuleConfig" => ListRules {
                replace: &["ingress", "portSelector.ports"],
                keyed: &[],
            },
            _ => ListRules {
                replace: &[],
                keyed: &[],
            },
        }
    }

    fn is_replace(&self, path: &str) -> bool {
        self.replace.contains(&path)
    }

    fn keys(&self, path: &str) -> Option<&'static [&'static str]> {
        self.keyed.iter().find(|(p, _)| *p == path).map(|(_, k)| *k)
    }
}

/// The rule path of `path`: keys joined with dots, list items as `[]`.
fn rule_path(path: &[String]) -> String {
    path.join(".")
}

/// Go's zero value for a scalar (skipped by Talos's merge; `false` is not
/// skipped).
fn is_zero_scalar(node: &Node) -> bool {
    match node {
        Node::Str(s) => s.is_empty(),
        Node::Int(i) => *i == 0,
        Node::Float(f) => *f == 0.0,
        _ => false,
    }
}

type MergeFailure = (Vec<String>, PatchErrorKind);

/// Merges `patch` into `target`. `path` holds rule segments (`interfaces[]`
/// for an item of `interfaces`).
fn merge(
    target: &mut Node,
    patch: Node,
    rules: &ListRules,
    path: &mut Vec<String>,
) -> Result<(), MergeFailure> {
    let rp = rule_path(path);
    match (target, patch) {
        (_, Node::Null) => Ok(()),
        (t @ Node::Null, p) => {
            *t = p;
            Ok(())
        }
        (t, p) if rules.is_replace(&rp) => {
            if !matches!(
                (&*t, &p),
                (Node::Map(_), Node::Map(_)) | (Node::Seq(_), Node::Seq(_))
            ) {
                return Err((path.clone(), mismatch(t, &p)));
            }
            *t = p;
            Ok(())
        }
        (Node::Map(tm), Node::Map(pm)) => {
            for (key, value) in pm {
                path.push(key.clone());
                match tm.get_mut(&key) {
                    Some(existing) => merge(existing, value, rules, path)?,
                    None => {
                        tm.insert(key, value);
                    }
                }
                path.pop();
            }
            Ok(())
        }
        (Node::Seq(ts), Node::Seq(ps)) => {
            match rules.keys(&rp) {
                None => ts.extend(ps),
                Some(keys) => {
                    for item in ps {
                        let found = keys.iter().find_map(|k| {
                            let v = item
                                .get(k)
                                .filter(|v| !matches!(v, Node::Null) && !is_zero_scalar(v))?;
                            ts.iter().position(|t| t.get(k) == Some(v))
                        });
                        match found {
                            Some(pos) => {
                                let last = path.pop().unwrap_or_default();
                                path.push(format!("{last}[]"));
                                merge(&mut ts[pos], item, rules, path)?;
                                path.pop();
                                path.push(last);
                            }
                            None => ts.push(item),
                        }
                    }
                }
            }
            Ok(())
        }
        (t, p) if is_scalar(t) && is_scalar(&p) => {
            if !is_zero_scalar(&p) {
                *t = p;
            }
            Ok(())
        }
        (t, p) => Err((path.clone(), mismatch(t, &p))),
    }
}

fn is_scalar(n: &Node) -> bool {
    !matches!(n, Node::Map(_) | Node::Seq(_))
}

fn mismatch(target: &Node, patch: &Node) -> PatchErrorKind {
    PatchErrorKind::TypeMismatch {
        target: target.type_name(),
        patch: patch.type_name(),
    }
}

// ---------------------------------------------------------------------------
// RFC 6902

fn apply_json(docs: &mut [Document], ops: &[JsonOp]) -> Result<(), Failure> {
    if docs.len() != 1 {
        return Err(Box::new((
            None,
            String::new(),
            PatchErrorKind::JsonPatchMultiDoc,
        )));
    }
    let id = docs[0].id();
    let body = &mut docs[0].body;
    for op in ops {
        let failed = |msg: String| -> Failure {
            Box::new((
                Some(id.clone()),
                op.path.clone(),
                PatchErrorKind::JsonPatchFailed(msg),
            ))
        };
        let path = pointer(&op.path).map_err(&failed)?;
        match op.op.as_str() {
            "add" => add(body, &path, op.value.clone().unwrap_or(Node::Null)).map_err(&failed)?,
            "remove" => {
                remove(body, &path).map_err(&failed)?;
            }
            "replace" => {
                let slot = get_mut(body, &path).ok_or_else(|| failed("no value at path".into()))?;
                *slot = op.value.clone().unwrap_or(Node::Null);
            }
            "move" | "copy" => {
                let from = pointer(op.from.as_deref().unwrap_or_default()).map_err(&failed)?;
                let value = if op.op == "move" {
                    remove(body, &from).map_err(&failed)?
                } else {
                    get_mut(body, &from)
                        .map(|v| v.clone())
                        .ok_or_else(|| failed("no value at `from`".into()))?
                };
                add(body, &path, value).map_err(&failed)?;
            }
            "test" => {
                let actual =
                    get_mut(body, &path).ok_or_else(|| failed("no value at path".into()))?;
                if Some(&*actual) != op.value.as_ref() {
                    return Err(failed("test failed: values differ".into()));
                }
            }
            other => return Err(failed(format!("unknown operation `{other}`"))),
        }
    }
    Ok(())
}

fn pointer(p: &str) -> Result<Vec<String>, String> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(format!("`{p}` is not a JSON pointer"));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn index_of(token: &str, len: usize, allow_end: bool) -> Result<usize, String> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let i: usize = token
        .parse()
        .map_err(|_| format!("`{token}` is not a list index"))?;
    if i > len || (!allow_end && i == len) {
        return Err(format!("index {i} is out of range"));
    }
    Ok(i)
}

fn get_mut<'a>(node: &'a mut Node, path: &[String]) -> Option<&'a mut Node> {
    let mut node = node;
    for token in path {
        node = match node {
            Node::Map(m) => m.get_mut(token)?,
            Node::Seq(s) => {
                let i = index_of(token, s.len(), false).ok()?;
                &mut s[i]
            }
            _ => return None,
        };
    }
    Some(node)
}

fn add(root: &mut Node, path: &[String], value: Node) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *root = value;
        return Ok(());
    };
    match get_mut(root, parent).ok_or("the parent of the path doesn't exist")? {
        Node::Map(m) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Node::Seq(s) => {
            let i = index_of(last, s.len(), true)?;
            s.insert(i, value);
            Ok(())
        }
        other => Err(format!("can't add into a {}", other.type_name())),
    }
}

fn remove(root: &mut Node, path: &[String]) -> Result<Node, String> {
    let (last, parent) = path.split_last().ok_or("can't remove the whole document")?;
    match get_mut(root, parent).ok_or("the parent of the path doesn't exist")? {
        Node::Map(m) => m
            .shift_remove(last)
            .ok_or_else(|| "no value at path".to_owned()),
        Node::Seq(s) => {
            let i = index_of(last, s.len(), false)?;
            Ok(s.remove(i))
        }
        other => Err(format!("can't remove from a {}", other.type_name())),
    }
}
