//! Backup targets: what the lab promises for some data, checked by the
//! failure-domain analysis.

use std::time::Duration;

use lab_core::{Handle, Resource, ResourceSpec};

use crate::kinds::{self, Retention};

/// A backup target (`pbs.target`, model only): the worst data-loss window
/// (RPO) and the restore points (retention) the lab promises for the
/// guests and NAS pools it names. The failure-domain analysis checks them
/// against the schedules and retention of their copies:
/// `pbs::rpo-target` warns when some appliance loss leaves one of them with
/// an older freshest copy than `rpo`, `pbs::retention-target` when no copy
/// keeps what `retention` asks.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_pbs::model::*;
/// use lab_proxmox::model::{Node, Vm};
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1"));
/// let immich = lab.add(Vm::new("immich", &pve1));
/// lab.add(
///     BackupTarget::new("photos")
///         .rpo("26h")
///         .retention(Retention::default().daily(7).monthly(12))
///         .protects(&immich),
/// );
/// ```
#[derive(Clone, Debug)]
pub struct BackupTarget {
    spec: ResourceSpec,
    items: Vec<String>,
}

impl BackupTarget {
    /// The kind, `pbs.target`.
    pub const KIND: &'static str = kinds::TARGET;

    /// A target called `name` (the name is only the lab's).
    #[track_caller]
    pub fn new(name: &str) -> Self {
        let mut spec = ResourceSpec::new(Self::KIND, name);
        spec.managed = false;
        spec.check_set = Some(crate::checks::SET);
        spec.command_set = Some(crate::commands::COMMANDS);
        spec.picture_set = Some(crate::picture::PICTURES);
        spec.note_set = Some(crate::notes::NOTES);
        spec.set("protects", Vec::<String>::new());
        BackupTarget {
            spec,
            items: Vec::new(),
        }
    }

    /// The worst data-loss window promised: `30m`, `26h`, `1d`, `1w`.
    #[track_caller]
    pub fn rpo(mut self, window: &str) -> Self {
        match parse_window(window) {
            Ok(d) => self.spec.set("rpo_seconds", d.as_secs() as i64),
            Err(e) => self.spec.invalid(
                "rpo_seconds",
                e,
                "write a whole number with a unit: `30m`, `26h`, `1d` or `1w`",
            ),
        }
        self
    }

    /// The restore points promised: some copy must keep at least these.
    #[track_caller]
    pub fn retention(mut self, retention: Retention) -> Self {
        for (name, n) in retention.counts() {
            if let Some(n) = n {
                self.spec.set(name, n);
            }
        }
        self
    }

    /// A guest (VM or container) or NAS pool the target holds for.
    #[track_caller]
    pub fn protects<R>(mut self, item: &Handle<R>) -> Self {
        self.items.push(item.address().to_string());
        self.spec.depend_on(item, "protects");
        self.spec.set("protects", self.items.clone());
        self
    }

    /// The spec built so far.
    pub fn spec(&self) -> &ResourceSpec {
        &self.spec
    }
}

impl Resource for BackupTarget {
    fn spec_mut(&mut self) -> &mut ResourceSpec {
        &mut self.spec
    }
    fn into_spec(self) -> ResourceSpec {
        self.spec
    }
}

/// `30m`, `26h`, `1d`, `2w` as a duration.
pub(crate) fn parse_window(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number with a unit"))?;
    let unit_secs = match unit {
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "" => return Err(format!("`{text}` has no unit")),
        _ => return Err(format!("`{text}` has an unknown unit `{unit}`")),
    };
    if n == 0 {
        return Err(format!("`{text}` is no window at all"));
    }
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_window("26h"), Ok(Duration::from_secs(26 * 3600)));
        assert_eq!(parse_window("1w"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["", "1", "0d", "1.5d", "1y", "d"] {
            assert!(parse_window(bad).is_err(), "{bad}");
        }
    }
}
