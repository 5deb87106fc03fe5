//! The Cloudflare provider: one Cloudflare account per provider instance
//! (two accounts are two instances, registered under two names), its
//! tunnels, their ingress, DNS records and Access, through the v4 API
//! ([`crate::api::cloudflare`]).
//!
//! - **Credentials come from the lab.** The account's `cloudflare.account`
//!   resource holds the API token (a `Secret`); [`Provider::prepare`]
//!   finds the one account bound to this instance and builds the client
//!   with its token (none, or two, is an error saying what to write). The
//!   endpoint comes from an [`EndpointSource`]: Cloudflare's API, or a
//!   simulator that takes its account and zones from the same lab (and a
//!   stand-in for its token; [`crate::connect::CloudflareConnection`]), so
//!   the lab's code is the same in both.
//! - **One refresh, few calls** ([`snapshot`]): the account's tunnels,
//!   zones, apps, policies and groups are listed once (every page), plus
//!   one DNS listing per zone and one configuration read per configured
//!   tunnel.
//! - **Every write is read back**, and what is returned is what Cloudflare
//!   holds, so the next plan shows exactly what differs.
//! - **Kinds**, one file each: `account` (token check; never deleted),
//!   `zone` (an existing zone, looked up by name), `tunnel` (created or
//!   adopted by name), `tunnel_config` (the whole document PUT; delete =
//!   the catch-all only), `dns_record` (owned through its comment, and
//!   tags on paid zones when asked), `access_app`, `access_policy`,
//!   `access_group`.
//! - **Plan-time checks** ([`plan_checks`]): a zone the account lacks, and
//!   a DNS name held by a record that is not this resource's, stop the plan
//!   at the user's line instead of failing halfway through an apply.
//! - **Rate**: 1,200 requests per 5 minutes, Cloudflare's global limit; a
//!   429 is retried after the `Retry-After` the API sent.
//! - **Destroy order** follows the references (cloudflare-api.md §6): DNS
//!   records and the tunnel's configuration first, then Access apps, then
//!   their policies and groups, then the tunnel (its stale connections
//!   cleaned first).

mod access;
mod access_app;
mod access_group;
mod access_policy;
mod account;
mod dns_record;
pub mod plan_checks;
pub mod snapshot;
mod tunnel;
mod tunnel_config;
mod zone;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use lab_core::checks::Check;
use lab_core::kind::{Typed, TypedProvider};
use lab_core::provider::{OpContext, PlanCheck, Provider, ProviderError, RateLimit, ReadRequest};
use lab_core::{Address, Diagnostic, Lab, Secret, Value};

use crate::api::cloudflare::{CloudflareClient, Endpoint};
use crate::kinds::cloudflare::{
    AccessAppSpec, AccessGroupSpec, AccessPolicySpec, AccountSpec, CloudflareDnsRecordSpec,
    TunnelConfigSpec, TunnelSpec, ZoneSpec, ACCOUNT, ZONE,
};

pub use dns_record::{owned_by, short_marker, wire_comment, COMMENT_LIMIT, MANAGED_TAG};
pub use snapshot::CloudflareSnapshot;

/// What stands, in what a refresh reads back, for a part lab-net cannot
/// read into its types (a tunnel rule's hostname, an Access rule's
/// e-mail): it differs from anything the code writes, so the plan shows
/// the drift and the update that writes the code's version again.
pub const FOREIGN: &str = "(changed outside lab)";

/// Cloudflare's global rate limit: requests per [`RATE_PERIOD`].
pub const RATE_REQUESTS: u32 = 1200;
/// The period of [`RATE_REQUESTS`].
pub const RATE_PERIOD: Duration = Duration::from_secs(300);

/// The account a lab binds to one provider instance, as
/// [`Provider::prepare`] found it.
#[derive(Clone, Debug)]
pub struct LabAccount {
    /// The `cloudflare.account` resource.
    pub address: Address,
    /// The account id.
    pub account_id: String,
    /// The API token.
    pub token: Secret,
    /// The names of the zones the lab declares in this account.
    pub zones: Vec<String>,
}

/// Where the provider's API is, once it knows the lab's account: a fixed
/// endpoint ([`Endpoint`] itself), or a simulator shaped by the account.
pub trait EndpointSource: Send + Sync + 'static {
    /// The endpoint for `account` (a simulator starts or adapts here), and
    /// the token to send there when it is not the account's own (a
    /// simulator is given a stand-in, so the lab's real token is never
    /// written into its files).
    fn endpoint(&self, account: &LabAccount) -> Result<(Endpoint, Option<Secret>), String>;
}

impl EndpointSource for Endpoint {
    fn endpoint(&self, _account: &LabAccount) -> Result<(Endpoint, Option<Secret>), String> {
        Ok((self.clone(), None))
    }
}

/// What [`Provider::prepare`] bound: the client with the account's token.
#[derive(Debug)]
pub(crate) struct Bound {
    pub client: CloudflareClient,
    pub account_id: String,
}

impl Bound {
    /// `/accounts/<id><rest>`.
    pub fn account_path(&self, rest: &str) -> String {
        format!("/accounts/{}{rest}", self.account_id)
    }
}

/// The provider of one Cloudflare account.
pub struct CloudflareProvider {
    source: Box<dyn EndpointSource>,
    bound: RwLock<Option<Arc<Bound>>>,
    dns_tags: bool,
}

impl std::fmt::Debug for CloudflareProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudflareProvider")
            .field("bound", &self.bound.read().map(|b| b.clone()).ok())
            .finish_non_exhaustive()
    }
}

impl CloudflareProvider {
    /// A provider of the account the lab binds to its instance, through
    /// `endpoint` (`Endpoint::cloudflare()` for the real API).
    pub fn new(endpoint: Endpoint) -> Self {
        CloudflareProvider::with_source(endpoint)
    }

    /// A provider whose endpoint depends on the lab's account (a
    /// simulator).
    pub fn with_source(source: impl EndpointSource) -> Self {
        CloudflareProvider {
            source: Box::new(source),
            bound: RwLock::new(None),
            dns_tags: false,
        }
    }

    /// Also tags the DNS records it writes (`managed-by:lab-net`,
    /// `lab:<lab tag>`). Only for zones on a paid plan: a Free zone refuses
    /// any tag (1004/9300 "… exceeding the quota of 0."), so by default
    /// ownership is in the comment alone.
    pub fn with_dns_tags(mut self, on: bool) -> Self {
        self.dns_tags = on;
        self
    }

    /// The provider as the engine takes it, serving every Cloudflare kind.
    pub fn shared(self) -> Arc<dyn Provider> {
        Typed::new(self)
            .kind::<AccountSpec>()
            .kind::<ZoneSpec>()
            .kind::<TunnelSpec>()
            .kind::<TunnelConfigSpec>()
            .kind::<CloudflareDnsRecordSpec>()
            .kind::<AccessAppSpec>()
            .kind::<AccessPolicySpec>()
            .kind::<AccessGroupSpec>()
            .shared()
    }

    /// The client and account bound by the last `prepare`.
    pub(crate) fn bound(&self) -> Result<Arc<Bound>, ProviderError> {
        self.bound
            .read()
            .ok()
            .and_then(|b| b.clone())
            .ok_or_else(|| {
                ProviderError::permanent(
                    "the Cloudflare provider has no account: the lab binds no \
                     `cloudflare.account` to this instance (add `Account::new(..)`, with \
                     `.provider(&handle)` when the lab has several Cloudflare instances); \
                     to delete Cloudflare objects, keep their account in the code until they \
                     are gone (its token is what deletes them)",
                )
            })
    }

    /// The account id bound by the last `prepare`, if any.
    pub fn account_id(&self) -> Option<String> {
        self.bound
            .read()
            .ok()
            .and_then(|b| b.as_ref().map(|b| b.account_id.clone()))
    }
}

/// The account (and its zones) `lab` binds to `instance`: `None` when the
/// lab applies no Cloudflare resource through it.
pub fn lab_account(lab: &Lab, instance: &str) -> Result<Option<LabAccount>, ProviderError> {
    let mine = |s: &&lab_core::ResourceSpec| {
        s.kind().starts_with("cloudflare.")
            && lab.provider_of(s).map(|i| i.name.as_str()) == Ok(instance)
    };
    let specs: Vec<&lab_core::ResourceSpec> = lab.resources().filter(mine).collect();
    let accounts: Vec<&&lab_core::ResourceSpec> =
        specs.iter().filter(|s| s.kind() == ACCOUNT).collect();
    let account = match accounts.as_slice() {
        [] if specs.is_empty() => return Ok(None),
        [] => {
            return Err(ProviderError::permanent(format!(
                "the Cloudflare instance `{instance}` applies {} but no `cloudflare.account` \
                 is bound to it: add `Account::new(name, account_id, token, team)` to the lab \
                 (with `.provider(&handle)` when the lab has several Cloudflare instances)",
                specs[0].address
            )))
        }
        [one] => one,
        many => {
            return Err(ProviderError::permanent(format!(
                "the Cloudflare instance `{instance}` has {} accounts bound to it ({}); one \
                 provider instance serves one account: register one instance per account \
                 (`lab.register_provider_as(\"cf-other\", ..)`) and bind each account's \
                 resources to its own with `.provider(&handle)`",
                many.len(),
                many.iter()
                    .map(|s| s.address.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    };
    let account_id = match account.attrs.get("account_id") {
        Some(Value::Str(id)) => id.clone(),
        _ => {
            return Err(ProviderError::permanent(format!(
                "{}: `account_id` must be written in the code (32 hex digits)",
                account.address
            )))
        }
    };
    let token = match account.attrs.get("api_token") {
        Some(Value::Secret(s)) => s.clone(),
        Some(Value::Str(s)) => Secret::new(s.clone()),
        _ => {
            return Err(ProviderError::permanent(format!(
                "{}: `api_token` must be a token known when the plan starts \
                 (`Secret::from_env(\"CLOUDFLARE_API_TOKEN\")`)",
                account.address
            )))
        }
    };
    let zones = specs
        .iter()
        .filter(|s| s.kind() == ZONE)
        .filter_map(|s| s.attrs.get("name").and_then(Value::as_str))
        .map(str::to_lowercase)
        .collect();
    Ok(Some(LabAccount {
        address: account.address.clone(),
        account_id,
        token,
        zones,
    }))
}

#[async_trait]
impl TypedProvider for CloudflareProvider {
    type Snapshot = CloudflareSnapshot;

    fn name(&self) -> &str {
        "cloudflare"
    }

    fn checks(&self) -> Vec<Check> {
        plan_checks::checks()
    }

    fn rate_limit(&self) -> Option<RateLimit> {
        Some(RateLimit::new(RATE_REQUESTS, RATE_PERIOD))
    }

    fn prepare(&self, lab: &Lab, instance: &str) -> Result<(), ProviderError> {
        let Some(account) = lab_account(lab, instance)? else {
            if let Ok(mut b) = self.bound.write() {
                *b = None;
            }
            return Ok(());
        };
        let (endpoint, stand_in) = self.source.endpoint(&account).map_err(|e| {
            ProviderError::permanent(format!(
                "{}: no Cloudflare API to talk to: {e}",
                account.address
            ))
        })?;
        let client = CloudflareClient::new(&endpoint, stand_in.as_ref().unwrap_or(&account.token))
            .map_err(|e| ProviderError::permanent(format!("{}: {e}", account.address)))?;
        let bound = Arc::new(Bound {
            client,
            account_id: account.account_id,
        });
        if let Ok(mut b) = self.bound.write() {
            *b = Some(bound);
        }
        Ok(())
    }

    async fn probe(&self, ctx: &OpContext) -> Result<(), ProviderError> {
        let Ok(bound) = self.bound() else {
            // Nothing of this instance in the lab: nothing to check.
            return Ok(());
        };
        bound.client.verify_token(ctx).await?;
        Ok(())
    }

    async fn snapshot(
        &self,
        ctx: &OpContext,
        requests: &[ReadRequest],
    ) -> Result<CloudflareSnapshot, ProviderError> {
        if requests.is_empty() {
            return Ok(CloudflareSnapshot::default());
        }
        let bound = self.bound()?;
        snapshot::take(&bound, ctx, requests).await
    }

    async fn check_plan(
        &self,
        ctx: &OpContext,
        plan: &PlanCheck<'_>,
    ) -> Result<Vec<Diagnostic>, ProviderError> {
        let Ok(bound) = self.bound() else {
            return Ok(Vec::new());
        };
        plan_checks::run(&bound, ctx, plan).await
    }
}

/// `json[key]` as a string, or empty.
pub(crate) fn text(json: &serde_json::Value, key: &str) -> String {
    json.get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The plan's estimates for a kind whose create takes `create_ms`.
pub(crate) fn estimates(create_ms: u64) -> lab_core::provider::Estimates {
    lab_core::provider::Estimates {
        create: Duration::from_millis(create_ms),
        update: Duration::from_millis(create_ms),
        delete: Duration::from_millis(create_ms / 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_provider_serves_every_kind_at_cloudflares_rate() {
        let p = CloudflareProvider::new(Endpoint::cloudflare()).shared();
        assert_eq!(p.name(), "cloudflare");
        assert_eq!(p.kinds().len(), 8);
        assert!(p.kinds().iter().all(|k| k.starts_with("cloudflare.")));
        assert_eq!(
            p.rate_limit(),
            Some(RateLimit::new(1200, Duration::from_secs(300)))
        );
    }
}
