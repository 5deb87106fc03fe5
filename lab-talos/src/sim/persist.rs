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
//! The file holds the applied machine configs, which carry the cluster's
//! secrets as a node's STATE partition does: it is written with mode 0600
//! (temporary file, fsync, rename) and never printed.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::machine_config::{self, ParsedConfig};
use super::{NodeState, PendingUpgrade, Stage};

/// The file's format version.
const FORMAT: u32 = 1;

/// The whole file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Saved {
    format: u32,
    pub nodes: BTreeMap<String, SavedNode>,
}

/// One node's disk and power.
#[derive(Serialize, Deserialize)]
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

#[derive(Serialize, Deserialize)]
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

    /// The file's bytes.
    pub(super) fn to_bytes(&self) -> io::Result<Vec<u8>> {
        serde_json::to_vec_pretty(self).map_err(io::Error::other)
    }
}

/// Writes `text` to `path` atomically (temporary file, fsync, rename) with
/// mode 0600.
pub(super) fn write_private(path: &Path, text: &[u8]) -> io::Result<()> {
    let tmp = temp_path(path);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(text)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}
