//! What remotes and the sync, prune and verify jobs share: a
//! configuration in a section file (`/config/<kind>`), an id PBS takes
//! from the code, a `comment` carrying the lab's marker, `PUT` with PBS's
//! `delete` array for what the code no longer sets, and adoption by the
//! marker only.

use lab_core::kind::{Found, Kind, Recovery};
use lab_core::provider::{OpKind, Ownership, RecoverRequest};
use lab_core::ProviderError;
use serde_json::{Map, Value as Json};

use super::normalize::text;
use super::owner::{comment_with, is_ours};
use super::{err, form_of, gone_ok, update_form, PbsProvider};
use crate::api::ErrorKind;
use crate::kinds::Request;

/// One section-config kind: where it lives and how its answers read.
pub(crate) struct Section<K: Kind> {
    /// `/config/sync`, `/config/remote`, ...
    pub base: &'static str,
    /// What PBS calls it in messages (`sync job`).
    pub what: &'static str,
    /// The parameter naming it in a create (`id`, `name`).
    pub key: &'static str,
    /// Options an update deletes when the code leaves them out.
    pub optional: &'static [&'static str],
    /// Reads an answer into the spec, lab-only fields from the base.
    pub observe: fn(&Map<String, Json>, &K) -> Found<K>,
}

impl<K: Kind> Section<K> {
    fn path(&self, id: &str) -> String {
        format!(
            "{}/{}",
            self.base,
            lab_proxmox::api::path(&[id]).trim_start_matches('/')
        )
    }
}

impl PbsProvider {
    /// The object `id` as PBS has it.
    pub(crate) async fn section_read_back<K: Kind>(
        &self,
        s: &Section<K>,
        id: &str,
        base: &K,
    ) -> Result<Found<K>, ProviderError> {
        let m = self.object(&s.path(id)).await?.ok_or_else(|| {
            ProviderError::permanent(format!(
                "{} `{id}` was accepted but PBS does not list it",
                s.what
            ))
        })?;
        Ok((s.observe)(&m, base))
    }

    /// The object `id`, if it carries `owner`'s marker.
    pub(crate) async fn section_marked<K: Kind>(
        &self,
        s: &Section<K>,
        id: &str,
        owner: &Ownership,
        base: &K,
    ) -> Result<Option<Found<K>>, ProviderError> {
        let Some(m) = self.object(&s.path(id)).await? else {
            return Ok(None);
        };
        Ok(is_ours(text(&m, "comment").as_deref(), owner).then(|| (s.observe)(&m, base)))
    }

    /// `POST` of `request` with the marked comment; an object of the same
    /// id with the marker (an earlier, interrupted try) is taken as made.
    pub(crate) async fn section_create<K: Kind>(
        &self,
        s: &Section<K>,
        id: &str,
        request: &Request,
        comment: Option<&str>,
        owner: &Ownership,
        spec: &K,
    ) -> Result<Found<K>, ProviderError> {
        let form = form_of(request, &["comment"]).str("comment", comment_with(comment, owner));
        match self.client.transport().post(s.base, &form).await {
            Ok(_) => self.section_read_back(s, id, spec).await,
            Err(e) if e.kind == ErrorKind::AlreadyExists => {
                match self.section_marked(s, id, owner, spec).await? {
                    Some(found) => Ok(found),
                    None => Err(ProviderError::permanent(format!(
                        "{} `{id}` already exists on {} and is not this lab's (its comment \
                         has no `{}`): give the lab's another id, or remove the existing one",
                        s.what,
                        self.client.endpoint(),
                        owner.marker()
                    ))),
                }
            }
            Err(e) => Err(err(e)),
        }
    }

    /// `PUT` of `request` (without `skip`), the marked comment, and the
    /// optional fields it leaves out in `delete`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn section_update<K: Kind>(
        &self,
        s: &Section<K>,
        id: &str,
        request: &Request,
        skip: &[&str],
        comment: Option<&str>,
        owner: &Ownership,
        spec: &K,
    ) -> Result<Found<K>, ProviderError> {
        let mut skip = skip.to_vec();
        skip.extend([s.key, "comment"]);
        let (form, delete) = update_form(request, &skip, s.optional);
        let mut form = form.str("comment", comment_with(comment, owner));
        for d in &delete {
            form.push("delete", *d);
        }
        self.client
            .transport()
            .put(&s.path(id), &form)
            .await
            .map_err(err)?;
        self.section_read_back(s, id, spec).await
    }

    /// `DELETE`; already gone is success.
    pub(crate) async fn section_delete<K: Kind>(
        &self,
        s: &Section<K>,
        id: &str,
    ) -> Result<(), ProviderError> {
        gone_ok(
            self.client
                .transport()
                .delete(&s.path(id), &[])
                .await
                .map(drop),
        )
    }

    /// After an interrupted create: the object with the marker, adopted.
    pub(crate) async fn section_recover<K: Kind>(
        &self,
        s: &Section<K>,
        id: Option<&str>,
        req: &RecoverRequest,
        desired: Option<&K>,
    ) -> Result<Recovery<K>, ProviderError> {
        let (OpKind::Create, Some(id), Some(base)) = (req.action, id, desired) else {
            return Ok(Recovery::default());
        };
        let found = self.section_marked(s, id, &req.owner, base).await?;
        Ok(Recovery {
            found: found
                .into_iter()
                .filter(|f| !req.known_ids.contains(&f.id))
                .collect(),
            ..Recovery::default()
        })
    }
}

/// The `KindProvider` of a sync, prune or verify job: the same calls over
/// its [`Section`] (`$section`), its refreshed configs
/// (`Snapshot::$field`), its `id` and `comment`, and next-run notes for its
/// `schedule`. One macro rather than three copies of one impl: the three
/// differ only in their types.
macro_rules! job_kind_provider {
    ($spec:ty, $section:expr, $field:ident) => {
        #[async_trait::async_trait]
        impl lab_core::kind::KindProvider<$spec> for $crate::provider::PbsProvider {
            fn schema(&self) -> lab_core::provider::KindSchema {
                $crate::provider::schema(vec!["id"], vec![], [1, 1, 1])
            }

            fn diff(
                &self,
                desired: &lab_core::Attrs,
                observed: &lab_core::Attrs,
            ) -> Vec<lab_core::provider::FieldChange> {
                $crate::provider::diff(
                    &lab_core::kind::KindProvider::<$spec>::schema(self),
                    desired,
                    observed,
                )
            }

            /// The next three runs of the schedule.
            fn review(
                &self,
                review: &lab_core::provider::StepReview<'_>,
            ) -> Result<Vec<String>, String> {
                Ok($crate::provider::schedule_notes(review, &["schedule"]))
            }

            async fn read(
                &self,
                _ctx: &lab_core::provider::OpContext,
                snapshot: &$crate::provider::Snapshot,
                requests: &[lab_core::kind::Read<$spec>],
            ) -> Result<Vec<Option<lab_core::kind::Found<$spec>>>, lab_core::ProviderError> {
                let section = &$section;
                Ok(requests
                    .iter()
                    .map(|r| {
                        snapshot
                            .$field
                            .get(&r.id)
                            .map(|m| (section.observe)(m, &r.prior))
                    })
                    .collect())
            }

            async fn create(
                &self,
                _ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Create<$spec>,
            ) -> Result<lab_core::kind::Found<$spec>, lab_core::ProviderError> {
                let s = &req.spec;
                self.section_create(
                    &$section,
                    &s.id,
                    &s.create_request(),
                    s.comment.as_deref(),
                    &req.owner,
                    s,
                )
                .await
            }

            async fn update(
                &self,
                _ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Update<$spec>,
            ) -> Result<lab_core::kind::Found<$spec>, lab_core::ProviderError> {
                let s = &req.spec;
                self.section_update(
                    &$section,
                    &req.id,
                    &s.create_request(),
                    &[],
                    s.comment.as_deref(),
                    &req.owner,
                    s,
                )
                .await
            }

            async fn delete(
                &self,
                _ctx: &lab_core::provider::OpContext,
                req: lab_core::kind::Delete<$spec>,
            ) -> Result<(), lab_core::ProviderError> {
                self.section_delete(&$section, &req.id).await
            }

            async fn adopt(
                &self,
                _ctx: &lab_core::provider::OpContext,
                owner: &lab_core::provider::Ownership,
                desired: Option<&$spec>,
            ) -> Result<Vec<lab_core::kind::Found<$spec>>, lab_core::ProviderError> {
                let Some(base) = desired else {
                    return Ok(vec![]);
                };
                Ok(self
                    .section_marked(&$section, &base.id, owner, base)
                    .await?
                    .into_iter()
                    .collect())
            }

            async fn recover(
                &self,
                _ctx: &lab_core::provider::OpContext,
                req: &lab_core::provider::RecoverRequest,
                desired: Option<&$spec>,
            ) -> Result<lab_core::kind::Recovery<$spec>, lab_core::ProviderError> {
                self.section_recover(&$section, desired.map(|d| d.id.as_str()), req, desired)
                    .await
            }
        }
    };
}

pub(crate) use job_kind_provider;
