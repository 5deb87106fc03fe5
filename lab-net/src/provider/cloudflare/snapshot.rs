//! One refresh's reading of the account: each list once (every page), only
//! for the kinds the refresh reads.
//!
//! | kind read | calls |
//! |---|---|
//! | `tunnel`, `tunnel_config` | `GET /accounts/{a}/cfd_tunnel?is_deleted=false` |
//! | `tunnel_config` | `GET …/cfd_tunnel/{t}/configurations` per recorded tunnel |
//! | `zone` | `GET /zones?account.id={a}` |
//! | `dns_record` | `GET /zones/{z}/dns_records` per recorded zone |
//! | `access_app` / `access_policy` / `access_group` | `GET /accounts/{a}/access/apps` / `policies` / `groups` |
//!
//! `account` reads nothing (the token was checked by the plan's probe).

use std::collections::{BTreeMap, BTreeSet};

use lab_core::provider::{OpContext, ProviderError, ReadRequest};
use lab_core::Value;
use serde_json::Value as Json;

use super::Bound;
use crate::kinds::cloudflare::{
    ACCESS_APP, ACCESS_GROUP, ACCESS_POLICY, DNS_RECORD, TUNNEL, TUNNEL_CONFIG, ZONE,
};

/// What one refresh read, as the API returned it.
#[derive(Debug, Default)]
pub struct CloudflareSnapshot {
    /// Live (not deleted) tunnels, when read.
    pub tunnels: Option<Vec<Json>>,
    /// Tunnel id -> its configuration document (`{tunnel_id, version,
    /// config, ...}`); `None`: the tunnel is gone.
    pub configurations: BTreeMap<String, Option<Json>>,
    /// The account's zones, when read.
    pub zones: Option<Vec<Json>>,
    /// Zone id -> its DNS records; `None`: the zone is gone.
    pub dns: BTreeMap<String, Option<Vec<Json>>>,
    /// Access applications, when read.
    pub apps: Option<Vec<Json>>,
    /// Reusable Access policies, when read.
    pub policies: Option<Vec<Json>>,
    /// Access groups, when read.
    pub groups: Option<Vec<Json>>,
}

impl CloudflareSnapshot {
    /// The live tunnel `id`.
    pub fn tunnel(&self, id: &str) -> Option<&Json> {
        find(self.tunnels.as_deref(), id)
    }
}

/// The object with `id` in a list that was read.
pub(crate) fn find<'a>(list: Option<&'a [Json]>, id: &str) -> Option<&'a Json> {
    list?
        .iter()
        .find(|o| o.get("id").and_then(Json::as_str) == Some(id))
}

fn prior_str(r: &ReadRequest, field: &str) -> Option<String> {
    match r.prior.get(field) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Reads what `requests` need.
pub(crate) async fn take(
    bound: &Bound,
    ctx: &OpContext,
    requests: &[ReadRequest],
) -> Result<CloudflareSnapshot, ProviderError> {
    let kinds: BTreeSet<&str> = requests.iter().map(|r| r.address.kind()).collect();
    let client = &bound.client;
    let mut snap = CloudflareSnapshot::default();
    if kinds.contains(TUNNEL) || kinds.contains(TUNNEL_CONFIG) {
        snap.tunnels = Some(
            client
                .get_all(
                    ctx,
                    &bound.account_path("/cfd_tunnel"),
                    &[("is_deleted", "false")],
                )
                .await?,
        );
    }
    let configured: BTreeSet<String> = requests
        .iter()
        .filter(|r| r.address.kind() == TUNNEL_CONFIG)
        .filter_map(|r| prior_str(r, "tunnel_id"))
        .collect();
    for id in configured {
        let doc = if snap.tunnel(&id).is_none() {
            None
        } else {
            let path = bound.account_path(&format!("/cfd_tunnel/{id}/configurations"));
            match client.get(ctx, &path, &[]).await {
                Ok(doc) => Some(doc),
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            }
        };
        snap.configurations.insert(id, doc);
    }
    if kinds.contains(ZONE) {
        snap.zones = Some(
            client
                .get_all(ctx, "/zones", &[("account.id", &bound.account_id)])
                .await?,
        );
    }
    let zones: BTreeSet<String> = requests
        .iter()
        .filter(|r| r.address.kind() == DNS_RECORD)
        .filter_map(|r| prior_str(r, "zone_id"))
        .collect();
    for zone in zones {
        let path = format!("/zones/{zone}/dns_records");
        let records = match client.get_all(ctx, &path, &[]).await {
            Ok(r) => Some(r),
            // A zone that is gone: the API cannot route to it.
            Err(e) if e.is_not_found() || e.code() == Some(7003) => None,
            Err(e) => return Err(e.into()),
        };
        snap.dns.insert(zone, records);
    }
    for (kind, rest, slot) in [
        (ACCESS_APP, "/access/apps", &mut snap.apps),
        (ACCESS_POLICY, "/access/policies", &mut snap.policies),
        (ACCESS_GROUP, "/access/groups", &mut snap.groups),
    ] {
        if kinds.contains(kind) {
            *slot = Some(client.get_list(ctx, &bound.account_path(rest), &[]).await?);
        }
    }
    Ok(snap)
}
