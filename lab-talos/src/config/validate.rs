//! Validation of machine-config documents against Talos's JSON schema.
//!
//! Talos publishes one JSON schema per release (Draft 2020-12): its root is a
//! `oneOf` over every document kind, each branch closed with
//! `additionalProperties: false`. Validating a document against that root
//! only ever says "not valid under any of the schemas listed in oneOf", so
//! [`Schema`] picks the branch by the document's `kind` (the legacy document
//! has none and takes the `v1alpha1.Config` branch) and validates against it
//! alone, which yields errors that name the offending field.
//!
//! Deprecated fields are absent from the schema. Talos's generator still
//! writes `persist: true`; validation removes it from the v1alpha1 document
//! before checking (it is valid for every Talos release that reads the
//! config). Everything else deprecated is reported.
//!
//! The schema is data: the v1.13.9 schema is embedded in the crate
//! ([`super::default_schema`]); [`load_schema`] reads another release's.
//! This module needs the `jsonschema` crate, so it is behind the crate's
//! `schema` feature (the tests enable it; no check or provider uses it).

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

use super::{DocId, Document};

/// A schema that can't be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The file can't be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file isn't JSON.
    #[error("parsing {path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
    /// The JSON isn't a Talos config schema (no root `oneOf` of `$defs`
    /// references), or a branch doesn't compile.
    #[error("not a usable Talos config schema: {0}")]
    Invalid(String),
}

/// Reads a schema file.
pub fn load_schema(path: &Path) -> Result<Value, SchemaError> {
    let text = std::fs::read_to_string(path).map_err(|source| SchemaError::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| SchemaError::Json {
        path: path.to_owned(),
        source,
    })
}

/// One problem found in one document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationIssue {
    /// The document's index in the config (0-based).
    pub document: usize,
    /// The document's identity.
    pub id: DocId,
    /// JSON pointer to the offending value (`""` for the document itself).
    pub pointer: String,
    /// The schema's complaint.
    pub message: String,
}

impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(
            f,
            "document {} ({}) at {}: {}",
            self.document, self.id, at, self.message
        )
    }
}

/// A Talos config schema, indexed by document kind; branch validators are
/// compiled on first use and cached.
pub struct Schema {
    root: Value,
    /// kind (`v1alpha1` for the legacy document) -> `$defs` name.
    branches: HashMap<String, String>,
    compiled: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("kinds", &self.branches.len())
            .finish_non_exhaustive()
    }
}

impl Schema {
    /// Indexes a Talos config schema (as [`load_schema`] returns it).
    pub fn new(schema: &Value) -> Result<Schema, SchemaError> {
        let one_of = schema
            .get("oneOf")
            .and_then(Value::as_array)
            .ok_or_else(|| SchemaError::Invalid("no root `oneOf`".into()))?;
        let mut branches = HashMap::new();
        for branch in one_of {
            let name = branch
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/$defs/"))
                .ok_or_else(|| {
                    SchemaError::Invalid("a `oneOf` branch is not a `$defs` reference".into())
                })?;
            let def = &schema["$defs"][name];
            let props = &def["properties"];
            let kind = match props["kind"]["enum"].as_array().and_then(|e| e.first()) {
                Some(Value::String(kind)) => kind.clone(),
                _ if props.get("version").is_some() => "v1alpha1".to_owned(),
                _ => continue,
            };
            branches.insert(kind, name.to_owned());
        }
        if branches.is_empty() {
            return Err(SchemaError::Invalid("no document kinds found".into()));
        }
        Ok(Schema {
            root: schema.clone(),
            branches,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// The document kinds the schema knows (`v1alpha1` for the legacy one).
    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.branches.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }

    fn validator(&self, kind: &str) -> Result<Option<Arc<jsonschema::Validator>>, SchemaError> {
        let Some(def) = self.branches.get(kind) else {
            return Ok(None);
        };
        let mut compiled = self.compiled.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = compiled.get(kind) {
            return Ok(Some(v.clone()));
        }
        let branch = json!({
            "$schema": self.root.get("$schema").cloned().unwrap_or(Value::Null),
            "$defs": self.root["$defs"].clone(),
            "$ref": format!("#/$defs/{def}"),
        });
        let v = Arc::new(
            jsonschema::draft202012::new(&branch)
                .map_err(|e| SchemaError::Invalid(format!("{def}: {e}")))?,
        );
        compiled.insert(kind.to_owned(), v.clone());
        Ok(Some(v))
    }

    /// Validates each document on its own; returns every problem found.
    pub fn check(&self, docs: &[Document]) -> Vec<ValidationIssue> {
        let mut issues = Vec::new();
        for (index, doc) in docs.iter().enumerate() {
            let id = doc.id();
            let issue = |pointer: &str, message: String| ValidationIssue {
                document: index,
                id: id.clone(),
                pointer: pointer.to_owned(),
                message,
            };
            let mut value = doc.body.to_json();
            if id == DocId::V1Alpha1 {
                if let Some(obj) = value.as_object_mut() {
                    obj.remove("persist");
                }
            }
            match self.validator(id.kind()) {
                Err(e) => issues.push(issue("", e.to_string())),
                Ok(None) => issues.push(issue(
                    "/kind",
                    format!("unknown document kind `{}` for this schema", id.kind()),
                )),
                Ok(Some(v)) => {
                    for e in v.iter_errors(&value) {
                        issues.push(issue(e.instance_path().as_str(), e.to_string()));
                    }
                }
            }
        }
        issues
    }
}

/// Validates every document against `schema` (a Talos config schema, see
/// [`load_schema`]), each on its own and ignoring the deprecated `persist`;
/// the errors read `document <i> (<kind>) at <JSON pointer>: <message>`.
pub fn validate(docs: &[Document], schema: &Value) -> Result<(), Vec<String>> {
    let schema = Schema::new(schema).map_err(|e| vec![e.to_string()])?;
    let issues = schema.check(docs);
    if issues.is_empty() {
        Ok(())
    } else {
        Err(issues.iter().map(ToString::to_string).collect())
    }
}
