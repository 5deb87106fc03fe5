//! The integrity seal of saved plans.
//!
//! `plan --out FILE` saves a plan that `apply FILE` applies exactly, as the
//! approval itself: nothing is asked. So a plan file edited after it was
//! saved (a size changed, a step added or removed, the lineage or serial it
//! was made against moved) must not apply. The saved form carries
//!
//! ```json
//! "seal": { "alg": "HMAC-SHA256", "key": "age1...", "mac": "<64 hex digits>" }
//! ```
//!
//! where `mac` is HMAC-SHA256 over a label and the canonical form of the
//! plan's JSON without `seal` (object keys sorted, no whitespace, serde_json's
//! escaping and numbers), keyed by a key derived from the lab's age identity
//! for this purpose alone ([`Sealer::keyed_mac`]; the age key itself is used
//! only by age). The canonical form makes the seal independent of
//! whitespace and key order, never of a value. `key` is the age public key
//! of the sealing identity: it only tells "made with another key" from
//! "changed" in the message; the check is the MAC, compared in constant time.

use std::fmt;

use hmac::Mac as _;
use serde_json::Value as Json;

use super::Plan;
use crate::state::{Sealer, StateError};

/// The field holding the seal.
const SEAL_FIELD: &str = "seal";
/// The only algorithm.
const ALGORITHM: &str = "HMAC-SHA256";
/// What the derived key is for.
const PURPOSE: &str = "plan-seal";
/// Prefixed to the canonical JSON: what is authenticated and in which form.
const LABEL: &[u8] = b"lab saved plan, canonical JSON, v1\n";

/// Why a saved plan is not applied as it stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SavedPlanError {
    /// The file carries no seal (an older build saved it, or it was removed).
    Unsealed,
    /// The content does not match the seal: the file was edited.
    Changed,
    /// Sealed with another key: another lab or state directory made it.
    OtherKey {
        /// The public key the file names.
        sealed_with: String,
        /// This lab's public key.
        ours: String,
    },
    /// The seal checks, but the plan does not parse (a build that writes
    /// what it cannot read; a bug).
    Invalid(String),
}

impl fmt::Display for SavedPlanError {
    /// Completes "the plan file FILE ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SavedPlanError::Unsealed => f.write_str(
                "carries no integrity seal (an older build of lab saved it, or the seal was \
                 removed)",
            ),
            SavedPlanError::Changed => f.write_str("was changed after it was saved"),
            SavedPlanError::OtherKey { sealed_with, ours } => write!(
                f,
                "was sealed with another key ({sealed_with}), not this lab's ({ours}): another \
                 lab or state directory saved it"
            ),
            SavedPlanError::Invalid(why) => write!(f, "does not read as a plan: {why}"),
        }
    }
}

impl Plan {
    /// The saved form (`plan --out`): every secret sealed with age to
    /// `sealer`'s key, and the integrity seal over the whole.
    pub fn to_sealed_json(&self, sealer: &Sealer) -> Result<Json, StateError> {
        let mut failure: Option<StateError> = None;
        let mut json = self.to_json(&mut |s| {
            sealer.try_seal(s).unwrap_or_else(|e| {
                failure.get_or_insert(e);
                Json::Null
            })
        });
        if let Some(e) = failure {
            return Err(e);
        }
        let mac = mac(&json, sealer);
        if let Json::Object(map) = &mut json {
            map.insert(
                SEAL_FIELD.into(),
                serde_json::json!({
                    "alg": ALGORITHM,
                    "key": sealer.recipient(),
                    "mac": hex(&mac),
                }),
            );
        }
        Ok(json)
    }

    /// Reads a saved plan: checks its seal against `sealer`'s key, then
    /// parses it, unsealing its secrets with the same key.
    pub fn from_sealed_json(json: &Json, sealer: &Sealer) -> Result<Plan, SavedPlanError> {
        verify(json, sealer)?;
        let mut content = json.clone();
        if let Json::Object(map) = &mut content {
            map.shift_remove(SEAL_FIELD);
        }
        Plan::from_json(&content, &mut |inner| sealer.unseal(inner))
            .map_err(SavedPlanError::Invalid)
    }
}

/// Checks the seal of a saved plan.
fn verify(json: &Json, sealer: &Sealer) -> Result<(), SavedPlanError> {
    let Some(seal) = json.get(SEAL_FIELD) else {
        return Err(SavedPlanError::Unsealed);
    };
    let text = |k: &str| seal.get(k).and_then(Json::as_str);
    if text("alg") != Some(ALGORITHM) {
        return Err(SavedPlanError::Changed);
    }
    let ours = sealer.recipient();
    match text("key") {
        Some(key) if key == ours => {}
        Some(key) => {
            return Err(SavedPlanError::OtherKey {
                sealed_with: key.to_string(),
                ours,
            })
        }
        None => return Err(SavedPlanError::Changed),
    }
    let Some(expected) = text("mac").and_then(unhex) else {
        return Err(SavedPlanError::Changed);
    };
    let mut content = json.clone();
    if let Json::Object(map) = &mut content {
        map.shift_remove(SEAL_FIELD);
    }
    let mut m = sealer.keyed_mac(PURPOSE);
    m.update(LABEL);
    m.update(&canonical(&content));
    m.verify_slice(&expected)
        .map_err(|_| SavedPlanError::Changed)
}

/// The MAC of `json` (which holds no seal).
fn mac(json: &Json, sealer: &Sealer) -> Vec<u8> {
    let mut m = sealer.keyed_mac(PURPOSE);
    m.update(LABEL);
    m.update(&canonical(json));
    m.finalize().into_bytes().to_vec()
}

/// `json` with object keys sorted and no whitespace.
fn canonical(json: &Json) -> Vec<u8> {
    fn write(json: &Json, out: &mut Vec<u8>) {
        match json {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push(b'{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    scalar(&Json::String(k.clone()), out);
                    out.push(b':');
                    write(&map[k.as_str()], out);
                }
                out.push(b'}');
            }
            Json::Array(items) => {
                out.push(b'[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write(v, out);
                }
                out.push(b']');
            }
            other => scalar(other, out),
        }
    }
    fn scalar(json: &Json, out: &mut Vec<u8>) {
        // Writing a scalar into memory cannot fail.
        out.extend_from_slice(json.to_string().as_bytes());
    }
    let mut out = Vec::new();
    write(json, &mut out);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lower-case hex of a 32-byte MAC, or `None`.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_sorts_keys_and_drops_whitespace() {
        let a: Json = serde_json::from_str(r#"{"b": [1, {"d": "x\"y", "c": null}], "a": 1.5}"#)
            .expect("json");
        assert_eq!(
            String::from_utf8(canonical(&a)).expect("utf-8"),
            r#"{"a":1.5,"b":[1,{"c":null,"d":"x\"y"}]}"#
        );
    }

    #[test]
    fn hex_round_trip() {
        let bytes: Vec<u8> = (0..32).map(|i| i * 7).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("00"), None);
        assert_eq!(unhex(&"G".repeat(64)), None);
    }
}
