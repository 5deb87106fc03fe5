//! Plan-time checks against the account, after the refresh: what the code
//! alone cannot tell and would otherwise fail halfway through an apply.
//!
//! | code | finding |
//! |---|---|
//! | `net::cloudflare-zone-missing` | a `cloudflare.zone` the account does not have (lab-net looks zones up, it does not create them) |
//! | `net::cloudflare-tunnel-adopted` | (advice) a `cloudflare.tunnel` to create whose name a live tunnel of the account already has: it is adopted, not duplicated, and its configuration becomes the lab's |
//! | `net::cloudflare-dns-taken` | a `cloudflare.dns_record` whose name already has a record that is not this resource's (no `lab:<lab>/<address>` marker in its comment): lab-net does not take over or overwrite records it did not make |

use std::collections::BTreeMap;

use lab_core::checks::Check;
use lab_core::provider::{OpContext, PlanCheck, ProviderError};
use lab_core::{Action, Address, Diagnostic, Severity, Value};

use super::dns_record::{named, owned_by};
use super::{text, zone, Bound};
use crate::kinds::cloudflare::{DNS_RECORD, TUNNEL, ZONE};

/// A zone the account lacks.
pub const ZONE_MISSING: &str = "net::cloudflare-zone-missing";
/// A tunnel the create adopts (advice).
pub const TUNNEL_ADOPTED: &str = "net::cloudflare-tunnel-adopted";
/// A DNS name held by a record that is not this lab resource's.
pub const DNS_TAKEN: &str = "net::cloudflare-dns-taken";

/// The codes, for waivers.
pub fn checks() -> Vec<Check> {
    vec![
        Check::at_plan(ZONE_MISSING, Severity::Error),
        Check::at_plan(DNS_TAKEN, Severity::Error),
        Check::at_plan(TUNNEL_ADOPTED, Severity::Advice),
    ]
}

fn str_attr<'a>(attrs: &'a lab_core::Attrs, key: &str) -> Option<&'a str> {
    match attrs.get(key) {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    }
}

/// Zone ids by name, looked up once per plan.
struct Zones<'a> {
    bound: &'a Bound,
    ctx: &'a OpContext,
    ids: BTreeMap<String, Option<String>>,
}

impl Zones<'_> {
    async fn id(&mut self, name: &str) -> Result<Option<String>, ProviderError> {
        if let Some(id) = self.ids.get(name) {
            return Ok(id.clone());
        }
        let id = zone::lookup(self.bound, self.ctx, name)
            .await?
            .map(|z| text(&z, "id"));
        self.ids.insert(name.to_string(), id.clone());
        Ok(id)
    }
}

/// Runs both checks over the plan's steps.
pub(crate) async fn run(
    bound: &Bound,
    ctx: &OpContext,
    plan: &PlanCheck<'_>,
) -> Result<Vec<Diagnostic>, ProviderError> {
    let mut zones = Zones {
        bound,
        ctx,
        ids: BTreeMap::new(),
    };
    let mut out = Vec::new();
    for step in &plan.steps {
        let creates = matches!(step.action, Action::Create | Action::Replace);
        let spec = plan.spec(step);
        match step.address.kind() {
            ZONE if creates => {
                let Some(name) = str_attr(&step.desired, "name") else {
                    continue;
                };
                if zones.id(name).await?.is_some() {
                    continue;
                }
                let mut d = Diagnostic::error(
                    ZONE_MISSING,
                    format!(
                        "Cloudflare account {} has no zone `{name}`",
                        bound.account_id
                    ),
                )
                .for_resource(&step.address)
                .with_help(zone::missing_help(name));
                if let Some(s) = spec {
                    d = d.with_label(s.loc_of("name"), "looked up by this name");
                }
                out.push(d);
            }
            TUNNEL if creates => {
                let Some(name) = str_attr(&step.desired, "name") else {
                    continue;
                };
                let Some(live) = super::tunnel::by_name(bound, ctx, name).await? else {
                    continue;
                };
                let mut d = Diagnostic::new(
                    TUNNEL_ADOPTED,
                    Severity::Advice,
                    format!(
                        "tunnel `{name}` exists in the account ({}): it is adopted, not created \
                         again, and its remote configuration becomes this lab's",
                        text(&live, "id")
                    ),
                )
                .for_resource(&step.address);
                if let Some(s) = spec {
                    d = d.with_label(s.loc_of("name"), "adopted by this name");
                }
                out.push(d);
            }
            DNS_RECORD if creates || step.changes.iter().any(|c| c.field == "name") => {
                let Some(name) = str_attr(&step.desired, "name") else {
                    continue;
                };
                let zone_id = match str_attr(&step.desired, "zone_id") {
                    Some(id) => Some(id.to_string()),
                    None => match zone_name(plan, &step.desired) {
                        Some(zone_name) => zones.id(&zone_name).await?,
                        None => None,
                    },
                };
                let Some(zone_id) = zone_id else {
                    // The zone's own finding says why.
                    continue;
                };
                let marker = format!("lab:{}/{}", plan.lab.name(), step.address);
                let records = named(bound, ctx, &zone_id, name).await?;
                let Some(other) = records.iter().find(|r| !owned_by(r, &marker)) else {
                    continue;
                };
                let comment = text(other, "comment");
                let mut d = Diagnostic::error(
                    DNS_TAKEN,
                    format!(
                        "`{name}` already has a {} record ({}) that this lab did not make{}",
                        text(other, "type"),
                        text(other, "content"),
                        if comment.is_empty() {
                            String::new()
                        } else {
                            format!(" (comment: {comment:?})")
                        }
                    ),
                )
                .for_resource(&step.address)
                .with_help(
                    "delete that record in the dashboard if lab-net should own the name, or \
                     publish under another name; lab-net never overwrites records it did not make",
                );
                if let Some(s) = spec {
                    d = d.with_label(s.loc_of("name"), "this name is taken");
                }
                out.push(d);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The zone name of a DNS record step: its `zone` resource's `name`.
fn zone_name(plan: &PlanCheck<'_>, desired: &lab_core::Attrs) -> Option<String> {
    let address = Address::parse(str_attr(desired, "zone")?)?;
    let zone = plan.lab.resource(&address)?;
    str_attr(&zone.attrs, "name").map(str::to_string)
}
