//! The simulated nodes' disks, kept in a file between processes.
//!
//! A lab run from the command line is one process per command: `apply`
//! installs the nodes, and the `plan` that follows starts a new simulator.
//! Real nodes keep their installed config, their Talos version and their
//! etcd data across a restart of the client, so the simulator keeps them
//! too: with a state file (e.g. `.lab/sim/talos.json`, beside pve-sim's
//! `.lab/sim/pve.json`) every node's machine identity, power, stage,
//! applied and staged config, running version, pending upgrade, boot
//! counter and whether etcd was bootstrapped are written after every
//! change, and read back when the simulator starts.
//!
//! What is not kept, as on a real node: the apid certificates (a node
//! makes its server certificate when it boots, from the OS CA in its
//! config; clients verify it against that CA, so a new one is the same
//! identity to them), the listening port (each process dials the port its
//! own simulator gives the address), open connections and the request
//! logs. Time is wall-clock in the file: a node that was installing when
//! the last process ended is up once its reboot time has passed.
//!
//! Two processes may share the file (a `plan` started while an `apply`
//! runs waits for the lab's lock, then refreshes): every request first
//! reads back what another process wrote (`Synced`), and every write
//! happens under the file's lock on top of its latest version
//! (`lab_core::files`, as pve-sim does).
//!
//! The file holds the applied machine configs, which carry the cluster's
//! secrets as a node's STATE partition does: it is written with mode 0600
//! (temporary file, fsync, rename) and never printed.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lab_core::files::FileStamp;
use serde::{Deserialize, Serialize};

use super::machine_config::{self, ParsedConfig};
use super::{NodeState, PendingUpgrade, Stage};

/// The file's format version.
const FORMAT: u32 = 1;

/// The whole file.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    format: u32,
    pub nodes: BTreeMap<String, SavedNode>,
}

/// One node's disk and power.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SavedNode {
    identity: Option<String>,
    powered: bool,
    config: Option<String>,
    staged: Option<String>,
    bootstrapped: bool,
    /// `installing` or `rebooting`, until (Unix milliseconds).
    down: Option<(String, u64)>,
    version: Option<String>,
    upgrade: Option<SavedUpgrade>,
    boots: u64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedUpgrade {
    version: String,
    reboot_at: u64,
    up_at: u64,
}

fn to_wall(at: Instant) -> u64 {
    let now_i = Instant::now();
    let now_w = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let wall = if at >= now_i {
        now_w + (at - now_i)
    } else {
        now_w.saturating_sub(now_i - at)
    };
    u64::try_from(wall.as_millis()).unwrap_or(u64::MAX)
}

fn from_wall(ms: u64) -> Instant {
    let now_i = Instant::now();
    let now_w = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let at = Duration::from_millis(ms);
    if at >= now_w {
        now_i + (at - now_w)
    } else {
        now_i.checked_sub(now_w - at).unwrap_or(now_i)
    }
}

fn parse_saved(text: &str, what: &str, ip: &str) -> io::Result<ParsedConfig> {
    machine_config::parse(text.as_bytes()).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the {what} config of node {ip} in the simulator's state does not load: {e}"),
        )
    })
}

impl SavedNode {
    /// What a node's state says about its disk.
    pub(super) fn of(node: &NodeState) -> SavedNode {
        SavedNode {
            identity: node.identity.clone(),
            powered: node.powered,
            config: node.config.as_ref().map(|c| c.text.clone()),
            staged: node.staged.as_ref().map(|c| c.text.clone()),
            bootstrapped: node.bootstrapped,
            down: node.down.and_then(|(stage, until)| {
                let name = match stage {
                    Stage::Installing => "installing",
                    Stage::Rebooting => "rebooting",
                    _ => return None,
                };
                Some((name.to_string(), to_wall(until)))
            }),
            version: node.version.clone(),
            upgrade: node.upgrade.as_ref().map(|u| SavedUpgrade {
                version: u.version.clone(),
                reboot_at: to_wall(u.reboot_at),
                up_at: to_wall(u.up_at),
            }),
            boots: *node.epoch.borrow(),
        }
    }

    /// Puts the saved disk into a freshly made node `ip`.
    pub(super) fn restore(self, ip: &str, node: &mut NodeState) -> io::Result<()> {
        node.identity = self.identity;
        node.powered = self.powered;
        node.config = match &self.config {
            Some(text) => Some(parse_saved(text, "applied", ip)?),
            None => None,
        };
        node.staged = match &self.staged {
            Some(text) => Some(parse_saved(text, "staged", ip)?),
            None => None,
        };
        node.bootstrapped = self.bootstrapped;
        node.down = match self.down {
            Some((stage, until)) => {
                let stage = match stage.as_str() {
                    "installing" => Stage::Installing,
                    "rebooting" => Stage::Rebooting,
                    other => {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "node {ip}: unknown down stage `{other}` in the simulator's state"
                            ),
                        ))
                    }
                };
                Some((stage, from_wall(until)))
            }
            None => None,
        };
        node.version = self.version;
        node.upgrade = self.upgrade.map(|u| PendingUpgrade {
            version: u.version,
            reboot_at: from_wall(u.reboot_at),
            up_at: from_wall(u.up_at),
        });
        node.epoch.send_replace(self.boots);
        Ok(())
    }
}

impl Saved {
    /// The file's contents for these nodes.
    pub(super) fn of<'a>(nodes: impl Iterator<Item = (&'a String, &'a NodeState)>) -> Saved {
        Saved {
            format: FORMAT,
            nodes: nodes
                .map(|(ip, n)| (ip.clone(), SavedNode::of(n)))
                .collect(),
        }
    }

    /// Reads `path`; `None` if it does not exist. A file that does not
    /// parse is an error naming it, never an empty world.
    pub(super) fn load(path: &Path) -> io::Result<Option<Saved>> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let saved: Saved = serde_json::from_str(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: not a Talos simulator state ({e}); move it away to start with empty nodes",
                    path.display()
                ),
            )
        })?;
        if saved.format != FORMAT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: Talos simulator state format {} (this build reads {FORMAT})",
                    path.display(),
                    saved.format
                ),
            ));
        }
        Ok(Some(saved))
    }

    /// Adds the nodes only `file` has (made by another process).
    pub(super) fn keep_others(&mut self, file: Option<Saved>) {
        for (ip, node) in file.into_iter().flat_map(|f| f.nodes) {
            self.nodes.entry(ip).or_insert(node);
        }
    }

    /// The file's bytes.
    pub(super) fn to_bytes(&self) -> io::Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(io::Error::other)
    }
}

/// Writes the file atomically (temporary file, fsync, rename), mode 0600.
pub(super) fn write_private(path: &Path, text: &[u8]) -> io::Result<()> {
    lab_core::files::write_private_atomic(path, text, true)
}

/// What this process last read from or wrote to the state file, so that
/// two processes on one file (an `apply`, and a `plan` waiting for it) see
/// each other's nodes and never write back a stale copy of one.
#[derive(Default)]
pub(super) struct Synced {
    /// The file's version as last synced.
    stamp: Option<FileStamp>,
    /// The file's bytes as last synced (re-serialised, to compare).
    bytes: Vec<u8>,
    /// Each node's disk (its JSON) as last synced.
    base: BTreeMap<String, String>,
}

fn node_json(node: &SavedNode) -> String {
    serde_json::to_string(node).unwrap_or_default()
}

impl Synced {
    /// Whether someone wrote the file since this process last synced.
    pub(super) fn changed_on_disk(&self, path: &Path) -> bool {
        FileStamp::of(path) != self.stamp
    }

    /// Takes what another process changed. The caller holds the file's
    /// lock. If the file changed since the last sync, each node that
    /// another process changed since (its disk differs from the last
    /// synced one) and this process did not is restored from the file; a
    /// node both changed keeps this process's disk (the lab's lock keeps
    /// two applies apart, so this is a plan's refresh against an apply).
    /// Returns the file's contents, if read.
    pub(super) fn take_theirs(
        &mut self,
        path: &Path,
        nodes: &mut BTreeMap<String, NodeState>,
    ) -> io::Result<Option<Saved>> {
        let stamp = FileStamp::of(path);
        if stamp == self.stamp {
            return Ok(None);
        }
        let Some(file) = Saved::load(path)? else {
            self.stamp = stamp;
            return Ok(None);
        };
        for (ip, theirs) in &file.nodes {
            let their_json = node_json(theirs);
            let base = self.base.get(ip);
            if base == Some(&their_json) {
                continue;
            }
            let Some(node) = nodes.get_mut(ip) else {
                continue;
            };
            if base.is_some_and(|b| *b != node_json(&SavedNode::of(node))) {
                tracing::warn!(
                    "talos-sim: node {ip} changed in this process and in {}; keeping this one",
                    path.display()
                );
                continue;
            }
            theirs.clone().restore(ip, node)?;
            node.maintenance_tls = None;
            node.configured_tls = None;
            self.base.insert(ip.clone(), their_json);
        }
        self.stamp = stamp;
        self.bytes = file.to_bytes()?;
        Ok(Some(file))
    }

    /// Writes `saved` unless the file holds exactly that already. The
    /// caller holds the file's lock.
    pub(super) fn write(&mut self, path: &Path, saved: &Saved) -> io::Result<()> {
        let bytes = saved.to_bytes()?;
        if bytes != self.bytes || FileStamp::of(path).is_none() {
            write_private(path, &bytes)?;
            self.stamp = FileStamp::of(path);
            self.bytes = bytes;
        }
        self.base = saved
            .nodes
            .iter()
            .map(|(ip, n)| (ip.clone(), node_json(n)))
            .collect();
        Ok(())
    }
}
