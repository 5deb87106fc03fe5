//! `cloudflare.dns_record`: a record in a zone of the account, owned
//! through its `comment`: the spec's comment, then the lab's marker
//! `lab:<lab>/<address>`. A Free zone's comments hold 100 characters at
//! most, so when both do not fit the marker is written short,
//! `lab:#<16 hex digits>` (FNV-1a 64 of the full marker); either form is
//! recognised. Tags (`managed-by:lab-net`, `lab:<lab tag>`) are written
//! only when the provider is told the zones are on a paid plan
//! ([`super::CloudflareProvider::with_dns_tags`]): a Free zone refuses any
//! tag (1004/9300). The marker is how lab-net knows its own records: a
//! create finds a record of the name carrying this resource's marker (left
//! by a run that crashed before recording it) and takes it over with a
//! `PUT`; a record of the same name that does not carry it is someone
//! else's and is refused (at plan time by [`super::plan_checks`]). Every
//! write is read back (`GET …/dns_records/{id}`).

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{KindSchema, OpContext, Ownership, ProviderError};
use serde_json::{json, Value as Json};

use super::{estimates, text, Bound, CloudflareProvider, CloudflareSnapshot};
use crate::kinds::cloudflare::{CloudflareDnsRecordOut, CloudflareDnsRecordSpec};

/// The tag on every record lab-net writes.
pub const MANAGED_TAG: &str = "managed-by:lab-net";

/// The longest comment every plan takes (Free: 100 characters).
pub const COMMENT_LIMIT: usize = 100;

fn join(comment: Option<&str>, marker: &str) -> String {
    match comment.filter(|c| !c.is_empty()) {
        Some(c) => format!("{c} {marker}"),
        None => marker.to_string(),
    }
}

/// The short form of `marker`: `lab:#` and FNV-1a 64 of it in hex.
pub fn short_marker(marker: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in marker.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("lab:#{h:016x}")
}

/// The comment written for a spec's `comment` and the owner's marker: the
/// marker whole when it fits in [`COMMENT_LIMIT`], else short.
///
/// ```
/// use lab_net::provider::cloudflare::{short_marker, wire_comment};
/// assert_eq!(wire_comment(Some("managed-by:lab-net"), "lab:home/x"), "managed-by:lab-net lab:home/x");
/// assert_eq!(wire_comment(None, "lab:home/x"), "lab:home/x");
/// let long = format!("lab:home/cloudflare.dns_record.cname-{}", "a".repeat(80));
/// assert_eq!(wire_comment(Some("c"), &long), format!("c {}", short_marker(&long)));
/// ```
pub fn wire_comment(comment: Option<&str>, marker: &str) -> String {
    let full = join(comment, marker);
    if full.chars().count() <= COMMENT_LIMIT {
        full
    } else {
        join(comment, &short_marker(marker))
    }
}

/// The comment with `marker` (whole or short) taken off its end, if it
/// carries it.
fn without_marker(comment: &str, marker: &str) -> Option<String> {
    [marker.to_string(), short_marker(marker)]
        .iter()
        .find_map(|m| {
            if comment == m {
                Some(String::new())
            } else {
                comment.strip_suffix(&format!(" {m}")).map(str::to_string)
            }
        })
}

/// True if `record`'s comment carries `marker` (whole or short).
pub fn owned_by(record: &Json, marker: &str) -> bool {
    without_marker(&text(record, "comment"), marker).is_some()
}

/// The spec's comment in a record's comment: the marker taken off (a
/// comment without it is shown whole, as drift).
fn spec_comment(record: &Json, marker: &str) -> Option<String> {
    let comment = text(record, "comment");
    let own = without_marker(&comment, marker).unwrap_or(comment);
    (!own.is_empty()).then_some(own)
}

/// The spec a record says, for the recorded zone.
fn spec_of(record: &Json, zone: &str, zone_id: &str, marker: &str) -> CloudflareDnsRecordSpec {
    CloudflareDnsRecordSpec {
        zone: zone.to_string(),
        zone_id: zone_id.to_string(),
        name: text(record, "name"),
        record_type: text(record, "type"),
        content: text(record, "content"),
        proxied: record.get("proxied").and_then(Json::as_bool) == Some(true),
        ttl: record
            .get("ttl")
            .and_then(Json::as_u64)
            .and_then(|t| u32::try_from(t).ok())
            .unwrap_or(1),
        comment: spec_comment(record, marker),
    }
}

fn body(spec: &CloudflareDnsRecordSpec, owner: &Ownership, tags: bool) -> Json {
    let mut body = json!({
        "type": spec.record_type,
        "name": spec.name,
        "content": spec.content,
        "proxied": spec.proxied,
        "ttl": spec.ttl,
        "comment": wire_comment(spec.comment.as_deref(), &owner.marker()),
    });
    if tags {
        body["tags"] = json!([MANAGED_TAG, format!("lab:{}", owner.tag())]);
    }
    body
}

/// The records named `name` in `zone_id`.
pub(crate) async fn named(
    bound: &Bound,
    ctx: &OpContext,
    zone_id: &str,
    name: &str,
) -> Result<Vec<Json>, ProviderError> {
    let name = name.to_lowercase();
    let records = bound
        .client
        .get_all(
            ctx,
            &format!("/zones/{zone_id}/dns_records"),
            &[("name", &name)],
        )
        .await?;
    Ok(records
        .into_iter()
        .filter(|r| text(r, "name") == name)
        .collect())
}

async fn write_and_read(
    bound: &Bound,
    tags: bool,
    ctx: &OpContext,
    id: Option<&str>,
    spec: &CloudflareDnsRecordSpec,
    owner: &Ownership,
) -> Result<Found<CloudflareDnsRecordSpec>, ProviderError> {
    let base = format!("/zones/{}/dns_records", spec.zone_id);
    let body = body(spec, owner, tags);
    let written = match id {
        Some(id) => {
            bound
                .client
                .put(ctx, &format!("{base}/{id}"), &body)
                .await?
        }
        None => bound.client.post(ctx, &base, &body).await?,
    };
    let id = text(&written, "id");
    let back = bound.client.get(ctx, &format!("{base}/{id}"), &[]).await?;
    Ok(Found {
        id: id.clone(),
        spec: spec_of(&back, &spec.zone, &spec.zone_id, &owner.marker()),
        outputs: CloudflareDnsRecordOut { id },
    })
}

#[async_trait]
impl KindProvider<CloudflareDnsRecordSpec> for CloudflareProvider {
    fn schema(&self) -> KindSchema {
        KindSchema {
            force_new: vec!["zone", "zone_id"],
            ignore: Vec::new(),
            estimate: estimates(400),
        }
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        snapshot: &CloudflareSnapshot,
        requests: &[Read<CloudflareDnsRecordSpec>],
    ) -> Result<Vec<Option<Found<CloudflareDnsRecordSpec>>>, ProviderError> {
        Ok(requests
            .iter()
            .map(|r| {
                let records = snapshot.dns.get(&r.prior.zone_id)?.as_deref();
                let record = super::snapshot::find(records, &r.id)?;
                Some(Found {
                    id: r.id.clone(),
                    spec: spec_of(record, &r.prior.zone, &r.prior.zone_id, &r.owner.marker()),
                    outputs: CloudflareDnsRecordOut { id: r.id.clone() },
                })
            })
            .collect())
    }

    async fn create(
        &self,
        ctx: &OpContext,
        req: Create<CloudflareDnsRecordSpec>,
    ) -> Result<Found<CloudflareDnsRecordSpec>, ProviderError> {
        let bound = self.bound()?;
        let marker = req.owner.marker();
        let existing = named(&bound, ctx, &req.spec.zone_id, &req.spec.name).await?;
        if let Some(ours) = existing.iter().find(|r| owned_by(r, &marker)) {
            let id = text(ours, "id");
            return write_and_read(&bound, self.dns_tags, ctx, Some(&id), &req.spec, &req.owner)
                .await;
        }
        if let Some(other) = existing.first() {
            return Err(ProviderError::permanent(format!(
                "{}: `{}` already has a {} record that is not this lab's (comment: {:?}); \
                 remove it in the dashboard, or pick another name",
                req.address,
                req.spec.name,
                text(other, "type"),
                text(other, "comment")
            )));
        }
        write_and_read(&bound, self.dns_tags, ctx, None, &req.spec, &req.owner).await
    }

    async fn update(
        &self,
        ctx: &OpContext,
        req: Update<CloudflareDnsRecordSpec>,
    ) -> Result<Found<CloudflareDnsRecordSpec>, ProviderError> {
        let bound = self.bound()?;
        write_and_read(
            &bound,
            self.dns_tags,
            ctx,
            Some(&req.id),
            &req.spec,
            &req.owner,
        )
        .await
    }

    async fn delete(
        &self,
        ctx: &OpContext,
        req: Delete<CloudflareDnsRecordSpec>,
    ) -> Result<(), ProviderError> {
        let bound = self.bound()?;
        let path = format!("/zones/{}/dns_records/{}", req.prior.zone_id, req.id);
        match bound.client.delete(ctx, &path, &[]).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() || e.code() == Some(7003) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn adopt(
        &self,
        ctx: &OpContext,
        owner: &Ownership,
        desired: Option<&CloudflareDnsRecordSpec>,
    ) -> Result<Vec<Found<CloudflareDnsRecordSpec>>, ProviderError> {
        let Some(desired) = desired else {
            return Ok(Vec::new());
        };
        let bound = self.bound()?;
        let marker = owner.marker();
        Ok(named(&bound, ctx, &desired.zone_id, &desired.name)
            .await?
            .iter()
            .filter(|r| owned_by(r, &marker))
            .map(|r| Found {
                id: text(r, "id"),
                spec: spec_of(r, &desired.zone, &desired.zone_id, &marker),
                outputs: CloudflareDnsRecordOut { id: text(r, "id") },
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_owned_and_stripped() {
        let r = json!({"comment": "managed-by:lab-net lab:home/cloudflare.dns_record.x"});
        assert!(owned_by(&r, "lab:home/cloudflare.dns_record.x"));
        assert!(!owned_by(&r, "lab:home/cloudflare.dns_record.y"));
        assert!(!owned_by(&r, "x"));
        assert_eq!(
            spec_comment(&r, "lab:home/cloudflare.dns_record.x").as_deref(),
            Some("managed-by:lab-net")
        );
        let hand = json!({"comment": "mine"});
        assert!(!owned_by(&hand, "lab:home/a"));
        assert_eq!(spec_comment(&hand, "lab:home/a").as_deref(), Some("mine"));
        assert_eq!(spec_comment(&json!({"comment": null}), "m"), None);
        let short = json!({"comment": format!("mine {}", short_marker("lab:home/a"))});
        assert!(owned_by(&short, "lab:home/a"));
        assert_eq!(spec_comment(&short, "lab:home/a").as_deref(), Some("mine"));
        assert!(!owned_by(&short, "lab:home/b"));
    }
}
