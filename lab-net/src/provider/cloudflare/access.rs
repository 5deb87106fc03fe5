//! What the Access kinds share: their rule lists read back from the API,
//! and the write-then-read-back of an object under
//! `/accounts/{a}/access/<what>`.
//!
//! Access objects carry no comment or tag to mark them, so a crashed
//! create is found again by its exact name (and an app by its domain too)
//! when the engine asks to adopt it.

use lab_core::provider::{OpContext, ProviderError};
use serde_json::Value as Json;

use super::{text, Bound};
use crate::kinds::cloudflare::AccessRule;

/// `record[key]` as rules; each rule lab-net cannot read stands as an
/// `email` rule naming it, so it differs from any rule the code writes.
pub(crate) fn rules(record: &Json, key: &str) -> Vec<AccessRule> {
    record
        .get(key)
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            serde_json::from_value::<AccessRule>(r.clone()).unwrap_or_else(|_| AccessRule::Email {
                email: format!("{} {r}", super::FOREIGN),
            })
        })
        .collect()
}

/// `POST /accounts/{a}/access/<what>` (or `PUT …/<id>`), then `GET` it
/// back.
pub(crate) async fn save(
    bound: &Bound,
    ctx: &OpContext,
    what: &str,
    id: Option<&str>,
    body: &Json,
) -> Result<Json, ProviderError> {
    let base = bound.account_path(&format!("/access/{what}"));
    let written = match id {
        Some(id) => bound.client.put(ctx, &format!("{base}/{id}"), body).await?,
        None => bound.client.post(ctx, &base, body).await?,
    };
    let id = text(&written, "id");
    Ok(bound.client.get(ctx, &format!("{base}/{id}"), &[]).await?)
}

/// `DELETE /accounts/{a}/access/<what>/<id>`; gone already is success.
pub(crate) async fn remove(
    bound: &Bound,
    ctx: &OpContext,
    what: &str,
    id: &str,
) -> Result<(), ProviderError> {
    let path = bound.account_path(&format!("/access/{what}/{id}"));
    match bound.client.delete(ctx, &path, &[]).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The objects of `what` named `name`.
pub(crate) async fn named(
    bound: &Bound,
    ctx: &OpContext,
    what: &str,
    name: &str,
) -> Result<Vec<Json>, ProviderError> {
    let all = bound
        .client
        .get_list(ctx, &bound.account_path(&format!("/access/{what}")), &[])
        .await?;
    Ok(all
        .into_iter()
        .filter(|o| text(o, "name") == name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_rules_stand_out() {
        let r =
            json!({"include": [{"email": {"email": "a@x.com"}}, {"geo": {"country_code": "NL"}}]});
        let got = rules(&r, "include");
        assert_eq!(
            got[0],
            AccessRule::Email {
                email: "a@x.com".into()
            }
        );
        let AccessRule::Email { email } = &got[1] else {
            panic!()
        };
        assert!(
            email.starts_with(crate::provider::cloudflare::FOREIGN) && email.contains("geo"),
            "{email}"
        );
        assert!(rules(&r, "exclude").is_empty());
    }
}
