//! `pbs.server`: read, never created. Its create and read are the same two
//! calls: `GET /version` (reachability, trust, token) and
//! `GET /nodes/localhost/certificates/info` (the fingerprint other
//! resources pin). The declared `fingerprint` is checked against the
//! certificate when [`super::PbsOptions::check_fingerprint`] says so. An
//! update re-reads (nothing on PBS changes); a delete forgets the server
//! and leaves it alone.
//!
//! Outputs: `host` and `port` as declared, or as
//! [`super::PbsOptions::advertise`] says (the simulator's loopback
//! address); `fingerprint` from the certificate; `version`.

use async_trait::async_trait;
use lab_core::kind::{Create, Delete, Found, KindProvider, Read, Update};
use lab_core::provider::{FieldChange, KindSchema, OpContext};
use lab_core::{Attrs, ProviderError};

use super::{err, PbsProvider, Snapshot};
use crate::kinds::{ServerOutputs, ServerSpec};

/// Fingerprints compare without case and separators' style.
fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(char::is_ascii_hexdigit)
            .collect::<String>()
            .to_ascii_lowercase()
    };
    norm(a) == norm(b)
}

impl PbsProvider {
    /// The server as it answers now.
    pub(super) async fn read_server(
        &self,
        name: &str,
        spec: ServerSpec,
    ) -> Result<Found<ServerSpec>, ProviderError> {
        let version = self.client.version().await.map_err(err)?;
        let certs = self.client.certificates("localhost").await.map_err(err)?;
        let cert = certs
            .iter()
            .find(|c| c.filename == "proxy.pem" && c.fingerprint.is_some())
            .or_else(|| certs.iter().find(|c| c.fingerprint.is_some()))
            .and_then(|c| c.fingerprint.clone())
            .ok_or_else(|| {
                ProviderError::permanent(format!(
                    "PBS server `{name}` at {} lists no certificate with a fingerprint",
                    self.client.endpoint()
                ))
            })?;
        if self.options.check_fingerprint {
            if let Some(pinned) = spec.fingerprint.as_deref() {
                if !same_fingerprint(pinned, &cert) {
                    return Err(ProviderError::permanent(format!(
                        "PBS server `{name}` at {} shows the certificate {cert}, not the pinned \
                         {pinned}: if the certificate was renewed on purpose, pin the new one \
                         with `.fingerprint(\"{cert}\")`",
                        self.client.endpoint()
                    )));
                }
            }
        }
        let (host, port) = match &self.options.advertise {
            Some((h, p)) => (h.clone(), i64::from(*p)),
            None => (spec.host.clone(), spec.port),
        };
        Ok(Found {
            id: name.to_string(),
            outputs: ServerOutputs {
                host,
                port,
                fingerprint: cert,
                version: version.version,
            },
            spec,
        })
    }
}

#[async_trait]
impl KindProvider<ServerSpec> for PbsProvider {
    fn schema(&self) -> KindSchema {
        super::schema(vec![], vec![], [1, 1, 0])
    }

    fn diff(&self, desired: &Attrs, observed: &Attrs) -> Vec<FieldChange> {
        super::diff(&KindProvider::<ServerSpec>::schema(self), desired, observed)
    }

    async fn read(
        &self,
        _ctx: &OpContext,
        _snapshot: &Snapshot,
        requests: &[Read<ServerSpec>],
    ) -> Result<Vec<Option<Found<ServerSpec>>>, ProviderError> {
        let mut out = Vec::with_capacity(requests.len());
        for r in requests {
            let spec = r.prior.clone();
            out.push(Some(self.read_server(&r.id, spec).await?));
        }
        Ok(out)
    }

    async fn create(
        &self,
        _ctx: &OpContext,
        req: Create<ServerSpec>,
    ) -> Result<Found<ServerSpec>, ProviderError> {
        self.read_server(req.address.name(), req.spec).await
    }

    async fn update(
        &self,
        _ctx: &OpContext,
        req: Update<ServerSpec>,
    ) -> Result<Found<ServerSpec>, ProviderError> {
        self.read_server(&req.id, req.spec).await
    }

    /// Forgets the server; the server itself is not the lab's to remove.
    async fn delete(
        &self,
        _ctx: &OpContext,
        _req: Delete<ServerSpec>,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fingerprints_compare_without_case() {
        assert!(super::same_fingerprint("AA:bb:01", "aa:BB:01"));
        assert!(!super::same_fingerprint("AA:BB:01", "AA:BB:02"));
    }
}
