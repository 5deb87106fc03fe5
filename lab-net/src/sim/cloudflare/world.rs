//! The simulated account's state: what the API stores, in its wire form
//! (the JSON objects the API returns), plus what it keeps hidden (tunnel
//! secrets). Kept in memory, and optionally in a JSON state file written
//! atomically with mode 0600 after every change (it holds tunnel secrets).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tunnel: its `cfd_tunnel` object and its secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tunnel {
    /// The account it belongs to.
    pub account: String,
    /// The `cfd_tunnel` object as the API returns it.
    pub record: Value,
    /// The tunnel secret (base64 of 32 random bytes), in the token.
    pub secret: String,
    /// The remote configuration, once PUT:
    /// `{tunnel_id, version, config, source, created_at}`.
    pub configuration: Option<Value>,
}

/// A zone of the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Zone {
    /// The zone object (`id`, `name`, `status`, `account{id,name}`, ...).
    pub record: Value,
    /// Its DNS records, oldest first.
    pub dns_records: Vec<Value>,
}

/// An Access object (app, reusable policy, group, app-scoped policy) and
/// the account (and app) it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessObject {
    /// The account.
    pub account: String,
    /// For an app-scoped (legacy) policy: its app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    /// The object as the API returns it.
    pub record: Value,
}

/// Everything the simulated API stores.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct World {
    /// Account id → account name.
    pub accounts: BTreeMap<String, String>,
    /// Zones by id.
    pub zones: BTreeMap<String, Zone>,
    /// Tunnels by id, deleted ones included (`deleted_at` set).
    pub tunnels: BTreeMap<String, Tunnel>,
    /// Access applications by id.
    pub apps: BTreeMap<String, AccessObject>,
    /// Reusable and app-scoped Access policies by id.
    pub policies: BTreeMap<String, AccessObject>,
    /// Access groups by id.
    pub groups: BTreeMap<String, AccessObject>,
}

impl World {
    /// Reads a state file; `None` when there is none yet.
    pub fn load(path: &Path) -> Result<Option<World>, String> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let mut v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        let world = v.get_mut("world").map(Value::take).ok_or_else(|| {
            format!(
                "{} is not a cloudflare-sim state file (no `world`); move it away or pick another path",
                path.display()
            )
        })?;
        serde_json::from_value(world)
            .map(Some)
            .map_err(|e| format!("{} is not a cloudflare-sim state file: {e}", path.display()))
    }

    /// Writes the state file (0600, atomic).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_vec(&serde_json::json!({"cloudflare-sim": 1, "world": self}))
            .map_err(|e| e.to_string())?;
        lab_core::files::write_private_atomic(path, &json, false)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// 32 lowercase hex digits: the form of account, zone and DNS record ids.
pub(crate) fn hex_id() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A random version-4 UUID: tunnels and Access objects.
pub(crate) fn uuid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// An Access application audience tag: 64 hex digits.
pub(crate) fn aud_tag() -> String {
    let b: [u8; 32] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Now, as the API writes times: RFC 3339 UTC with microseconds
/// (`2024-08-06T10:00:00.000000Z`).
pub(crate) fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_api_shapes() {
        assert_eq!(hex_id().len(), 32);
        let u = uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_eq!(aud_tag().len(), 64);
        let t = now_rfc3339();
        assert_eq!(t.len(), 27, "{t}");
        assert!(t.starts_with("20") && t.ends_with('Z'), "{t}");
    }
}
