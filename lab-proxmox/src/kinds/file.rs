//! `proxmox.file`: a file downloaded onto a storage (`download-url`), or
//! an OCI image pulled from a registry (`oci-registry-pull`, PVE 9.1).
//!
//! | field | shape | notes |
//! |---|---|---|
//! | `node`, `storage` | `Str` | |
//! | `content` | `"import" \| "iso" \| "vztmpl"` | an OCI image is `vztmpl` |
//! | `filename` | `Str` | an OCI image's is the one PVE gives it: the reference's last segment normalised + `.tar` (`cloudflared_2025.11.1.tar`) |
//! | `url?` | `Str` | a download's source |
//! | `reference?` | `Str` | an OCI image's (`docker.io/cloudflare/cloudflared:2025.11.1`) |
//! | `checksum?`, `checksum_algorithm?` | `Str` | downloads only |
//!
//! Every field forces replacement: a downloaded file is immutable.
//!
//! Outputs ([`FileOutputs`]): `volid` (`storage:content/filename`).

use lab_core::kind::Kind;
use serde::{Deserialize, Serialize};

/// The spec of a `proxmox.file`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// The node that downloads it.
    pub node: String,
    /// The storage it lands on.
    pub storage: String,
    /// Its content type.
    pub content: String,
    /// Its file name.
    pub filename: String,
    /// Where it is downloaded from (a download).
    pub url: Option<String>,
    /// The OCI image reference it is pulled as (an OCI image).
    pub reference: Option<String>,
    /// Expected checksum.
    pub checksum: Option<String>,
    /// The checksum's algorithm.
    pub checksum_algorithm: Option<String>,
}

/// The outputs of a file.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FileOutputs {
    /// Its volume id.
    pub volid: String,
}

impl FileSpec {
    /// The volume id the file has once downloaded.
    pub fn volid(&self) -> String {
        format!("{}:{}/{}", self.storage, self.content, self.filename)
    }
}

impl Kind for FileSpec {
    const KIND: &'static str = super::FILE;
    type Outputs = FileOutputs;

    /// Its volume id on its node (`local:iso/x.iso on pve1`): a renamed
    /// file with the same file name is the same volume, so the old one is
    /// deleted first. The node is part of it because a local storage is
    /// one per node (the same ISO on `local` of every node is one file per
    /// node); so two files of one shared storage on two nodes are not told
    /// apart.
    fn identity(&self) -> Option<String> {
        Some(format!("{} on {}", self.volid(), self.node))
    }
}
