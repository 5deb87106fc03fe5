//! The write-ahead intent journal.
//!
//! Before each mutating call the executor appends an `Intent`; after the
//! call and the state write it appends a `Done`. An `Intent` without a
//! `Done` is an operation a crash interrupted: the next run asks the
//! provider to find the object by its ownership marker and adopts it, or
//! drops the intent if nothing was created. Between the two, a provider
//! may append `Claim`s: which object the call will make (a VMID, a file
//! name) and the remote task making it (a UPID), so recovery looks at
//! exactly that object. No secret is ever written here.

use serde::{Deserialize, Serialize};

use crate::provider::{Claim, OpKind};
use crate::Address;

/// One line of the write-ahead journal (a JSON object tagged `record`): an
/// intent before a call, the claims a provider makes during it, and the
/// done record after the state is saved. See the module doc for how a run
/// recovers an intent left without its `Done`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "lowercase")]
pub enum JournalRecord {
    /// About to call the provider.
    Intent {
        /// The run's id (the state lineage plus serial at start).
        run: String,
        /// The operation's number within the run.
        op: u64,
        /// The resource.
        address: Address,
        /// The call.
        action: OpKind,
        /// Unix time in milliseconds.
        at_ms: u64,
        /// The provider instance the call goes through (empty in journals
        /// written before instances were recorded).
        #[serde(default, skip_serializing_if = "String::is_empty")]
        provider: String,
    },
    /// Which object the running call makes, recorded by the provider
    /// before it sends the call ([`crate::provider::OpContext::claim`]).
    Claim {
        /// The run's id.
        run: String,
        /// The operation's number within the run.
        op: u64,
        /// Identities (VMID, node, UPID, volume id); merged in order.
        claim: Claim,
    },
    /// The call returned and its result is in state.
    Done {
        /// The run's id.
        run: String,
        /// The operation's number within the run.
        op: u64,
        /// True if it succeeded.
        ok: bool,
    },
}

impl JournalRecord {
    /// `(run, op)` of the record.
    pub fn key(&self) -> (&str, u64) {
        match self {
            JournalRecord::Intent { run, op, .. }
            | JournalRecord::Claim { run, op, .. }
            | JournalRecord::Done { run, op, .. } => (run, *op),
        }
    }
}

/// The intents in `records` that have no matching `Done`, in order.
pub fn pending(records: &[JournalRecord]) -> Vec<&JournalRecord> {
    let done: std::collections::HashSet<(&str, u64)> = records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Done { .. }))
        .map(JournalRecord::key)
        .collect();
    records
        .iter()
        .filter(|r| matches!(r, JournalRecord::Intent { .. }) && !done.contains(&r.key()))
        .collect()
}

/// An operation the journal shows as started and not recorded in state:
/// interrupted (no `Done`), or failed after claiming an identity.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenOperation {
    /// The resource.
    pub address: Address,
    /// The call.
    pub action: OpKind,
    /// The provider instance (empty if the journal predates instances).
    pub provider: String,
    /// Everything the provider claimed, merged in order.
    pub claim: Claim,
}

/// The interrupted operations in `records` (intents without a `Done`),
/// in order, each with its merged claims.
pub fn open_operations(records: &[JournalRecord]) -> Vec<OpenOperation> {
    let mut claims: std::collections::HashMap<(&str, u64), Claim> =
        std::collections::HashMap::new();
    for r in records {
        if let JournalRecord::Claim { claim, .. } = r {
            claims.entry(r.key()).or_default().merge(claim);
        }
    }
    pending(records)
        .into_iter()
        .filter_map(|r| match r {
            JournalRecord::Intent {
                address,
                action,
                provider,
                ..
            } => Some(OpenOperation {
                address: address.clone(),
                action: *action,
                provider: provider.clone(),
                claim: claims.remove(&r.key()).unwrap_or_default(),
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(op: u64, address: &str) -> JournalRecord {
        JournalRecord::Intent {
            run: "r".into(),
            op,
            address: Address::parse(address).unwrap(),
            action: OpKind::Create,
            at_ms: 1,
            provider: "proxmox".into(),
        }
    }

    #[test]
    fn open_operations_merge_claims_and_skip_done() {
        let records = vec![
            intent(1, "proxmox.vm.a"),
            JournalRecord::Claim {
                run: "r".into(),
                op: 1,
                claim: Claim::new().with("vmid", 105).with("node", "pve1"),
            },
            intent(2, "proxmox.vm.b"),
            JournalRecord::Claim {
                run: "r".into(),
                op: 1,
                claim: Claim::new().with("upid", "UPID:x"),
            },
            JournalRecord::Done {
                run: "r".into(),
                op: 2,
                ok: true,
            },
        ];
        let open = open_operations(&records);
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].address.to_string(), "proxmox.vm.a");
        assert_eq!(open[0].claim.int("vmid"), Some(105));
        assert_eq!(open[0].claim.text("upid"), Some("UPID:x"));
        assert_eq!(open[0].provider, "proxmox");
    }

    #[test]
    fn journals_without_claims_or_providers_still_read() {
        let line =
            r#"{"record":"intent","run":"r","op":1,"address":"x.y","action":"create","at_ms":5}"#;
        let r: JournalRecord = serde_json::from_str(line).unwrap();
        let open = open_operations(&[r]);
        assert_eq!(open[0].provider, "");
        assert!(open[0].claim.is_empty());
    }
}
