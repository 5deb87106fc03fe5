//! The failure-domain checks: the analysis turned into diagnostics at the
//! user's lines, each about one resource so lab-core's per-resource
//! waivers apply.
//!
//! The checks reason over single losses only (the design's promise: any
//! one appliance may fail); pairs are for the report.

use std::collections::{BTreeMap, HashMap};

use lab_core::{Address, Diagnostic, Loc};

use super::analysis::{DataKind, FailureReport, Outcome, Rpo, Scenario};
use super::render::{bytes, duration, list};
use super::topology::CopyRole;

/// One appliance loss leaves some data with neither its live copy nor a
/// restorable copy.
pub const NO_RESTORABLE_COPY: &str = "pbs::no-restorable-copy";
/// One appliance loss takes a backup server and every copy of some data.
pub const SERVER_AND_COPIES_TOGETHER: &str = "pbs::server-and-copies-together";
/// The archive copy shares an appliance with the daily copy or the data.
pub const ARCHIVE_SHARES_APPLIANCE: &str = "pbs::archive-shares-appliance";
/// No backup job selects a guest.
pub const GUEST_NOT_BACKED_UP: &str = "pbs::guest-not-backed-up";
/// The worst data-loss window misses the stated target.
pub const RPO_TARGET: &str = "pbs::rpo-target";
/// No copy keeps the restore points the target asks for.
pub const RETENTION_TARGET: &str = "pbs::retention-target";
/// The surviving nodes cannot carry the guests of a lost one.
pub const CAPACITY_NODE_LOSS: &str = "pbs::capacity-node-loss";
/// The surviving pools cannot hold a restore of a lost NAS's pools.
pub const CAPACITY_NAS_LOSS: &str = "pbs::capacity-nas-loss";
/// The topology does not hold together (a reference to nothing).
pub const TOPOLOGY: &str = "pbs::topology";

/// Every code these checks use, for registering and waiving.
pub const CODES: [&str; 9] = [
    NO_RESTORABLE_COPY,
    SERVER_AND_COPIES_TOGETHER,
    ARCHIVE_SHARES_APPLIANCE,
    GUEST_NOT_BACKED_UP,
    RPO_TARGET,
    RETENTION_TARGET,
    CAPACITY_NODE_LOSS,
    CAPACITY_NAS_LOSS,
    TOPOLOGY,
];

impl super::topology::Topology {
    /// Every failure-domain finding over single losses, with a topology
    /// that does not hold together reported as one `pbs::topology` error:
    /// what a check registered on a lab runs after lowering it.
    pub fn check(&self) -> Vec<Diagnostic> {
        match self.analyze(&super::analysis::AnalysisOptions::default()) {
            Ok(report) => report.diagnostics(),
            Err(e) => vec![e.diagnostic()],
        }
    }
}

/// The line of every addressed item of the topology.
struct Locs(HashMap<Address, Option<Loc>>);

impl Locs {
    fn new(r: &FailureReport<'_>) -> Self {
        let t = r.topology();
        let mut m = HashMap::new();
        m.extend(t.appliances.iter().map(|i| (i.address.clone(), i.loc)));
        m.extend(t.nodes.iter().map(|i| (i.address.clone(), i.loc)));
        m.extend(t.guests.iter().map(|i| (i.address.clone(), i.loc)));
        m.extend(t.pools.iter().map(|i| (i.address.clone(), i.loc)));
        m.extend(t.servers.iter().map(|i| (i.address.clone(), i.loc)));
        m.extend(t.datastores.iter().map(|i| (i.address.clone(), i.loc)));
        Locs(m)
    }

    fn label(&self, d: Diagnostic, at: &Address, text: impl Into<String>) -> Diagnostic {
        match self.0.get(at).copied().flatten() {
            Some(loc) => d.with_label(loc, text),
            None => d,
        }
    }
}

fn addresses<'a>(items: impl IntoIterator<Item = &'a Address>) -> Vec<String> {
    items.into_iter().map(Address::to_string).collect()
}

impl FailureReport<'_> {
    /// The findings of every failure-domain check, in a stable order
    /// (lab-core's `settle` orders them for display).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        let locs = Locs::new(self);
        let mut out = Vec::new();
        self.no_restorable_copy(&locs, &mut out);
        self.server_and_copies(&locs, &mut out);
        self.archive_shares(&locs, &mut out);
        self.not_backed_up(&locs, &mut out);
        self.rpo_targets(&locs, &mut out);
        self.retention_targets(&locs, &mut out);
        self.capacity(&locs, &mut out);
        out
    }

    /// Why copy `c` of item `item` cannot be restored in `s`.
    fn why_not(&self, s: &Scenario, item: usize, c: usize) -> String {
        let copy = &self.data[item].copies[c];
        let (a, _) = self.resolved.copies[item][c];
        if s.lost_ix.contains(&a) {
            format!("the copy on {} is on {}", copy.place, copy.appliance)
        } else {
            format!(
                "no compute node is left to restore the copy on {} onto",
                copy.place
            )
        }
    }

    fn no_restorable_copy(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        for (item, d) in self.data.iter().enumerate() {
            if d.rebuildable {
                continue;
            }
            let losing: Vec<&Scenario> = self
                .singles()
                .filter(|s| s.outcome(item) == Outcome::Lost)
                .collect();
            let Some(first) = losing.first() else {
                continue;
            };
            let a = &first.lost[0];
            let reasons = if d.copies.is_empty() {
                "nothing copies it".to_string()
            } else {
                (0..d.copies.len())
                    .map(|c| self.why_not(first, item, c))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let also = if losing.len() > 1 {
                format!(
                    " (so does losing {})",
                    list(&addresses(losing[1..].iter().map(|s| &s.lost[0])), 4)
                )
            } else {
                String::new()
            };
            let help = if d.copies.is_empty() {
                format!(
                    "select it in a backup job writing to a datastore on another appliance than {}",
                    list(&addresses(&d.lives_on), 4)
                )
            } else {
                format!(
                    "keep a copy on an appliance other than {a} (the archive copy on another NAS or off-site)"
                )
            };
            let mut diag = Diagnostic::error(
                NO_RESTORABLE_COPY,
                format!(
                    "losing {a} loses {}: its data lives there and {reasons}{also}",
                    d.address
                ),
            )
            .with_help(help)
            .for_resource(&d.address);
            diag = locs.label(diag, &d.address, format!("lives on {a}"));
            diag = locs.label(diag, a, "this appliance is lost");
            for c in &d.copies {
                diag = locs.label(diag, &c.place, format!("{} copy, lost with {a}", c.role));
            }
            out.push(diag);
        }
    }

    fn server_and_copies(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        for s in self.singles().filter(|s| !s.servers_down.is_empty()) {
            let down = |sv: usize| {
                self.resolved.server_fails[sv]
                    .iter()
                    .any(|x| s.lost_ix.contains(x))
            };
            // Per server taken: the items whose live data survives but whose
            // every copy goes with the server (an item whose live data goes
            // too is `no-restorable-copy`'s).
            let mut by_server: BTreeMap<usize, (Vec<usize>, Vec<Address>)> = BTreeMap::new();
            for (item, d) in self.data.iter().enumerate() {
                let copies = &self.resolved.copies[item];
                if d.rebuildable || copies.is_empty() || s.affected.iter().any(|x| x.data == item) {
                    continue;
                }
                let all_gone = copies.iter().all(|(a, _)| s.lost_ix.contains(a));
                let taken = copies.iter().filter_map(|(_, sv)| *sv).find(|sv| down(*sv));
                if let (true, Some(sv)) = (all_gone, taken) {
                    let entry = by_server.entry(sv).or_default();
                    entry.0.push(item);
                    for c in &d.copies {
                        if !entry.1.contains(&c.place) {
                            entry.1.push(c.place.clone());
                        }
                    }
                }
            }
            let a = &s.lost[0];
            for (sv, (items, places)) in by_server {
                let server = &self.topology.servers[sv].address;
                let names = addresses(items.iter().map(|i| &self.data[*i].address));
                let mut diag = Diagnostic::error(
                    SERVER_AND_COPIES_TOGETHER,
                    format!(
                        "losing {a} takes the backup server {server} and every copy of {} together: {}",
                        count(items.len(), "data item"),
                        list(&names, 5)
                    ),
                )
                .with_help(format!(
                    "keep a copy on an appliance other than {a} (a datastore on a NAS, or a sync job pulling into a datastore of an off-site PBS)"
                ))
                .for_resource(server);
                diag = locs.label(diag, server, format!("goes down with {a}"));
                for p in &places {
                    diag = locs.label(diag, p, format!("copy lost with {a}"));
                }
                diag = locs.label(diag, a, "this appliance is lost");
                out.push(diag);
            }
        }
    }

    fn archive_shares(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        // (archive place, appliance, daily place or None for the data) -> items
        let mut shared: BTreeMap<(Address, Address, Option<Address>), Vec<usize>> = BTreeMap::new();
        for (item, d) in self.data.iter().enumerate() {
            if d.rebuildable {
                continue;
            }
            for c in d.copies.iter().filter(|c| c.role == CopyRole::Archive) {
                if d.lives_on.contains(&c.appliance) {
                    shared
                        .entry((c.place.clone(), c.appliance.clone(), None))
                        .or_default()
                        .push(item);
                }
                for daily in d
                    .copies
                    .iter()
                    .filter(|x| x.role == CopyRole::Daily && x.appliance == c.appliance)
                {
                    shared
                        .entry((
                            c.place.clone(),
                            c.appliance.clone(),
                            Some(daily.place.clone()),
                        ))
                        .or_default()
                        .push(item);
                }
            }
        }
        for ((place, appliance, daily), items) in shared {
            let names = addresses(items.iter().map(|i| &self.data[*i].address));
            let with = match &daily {
                Some(dp) => format!("with the daily copy {dp}"),
                None => format!(
                    "with the live data of {}: {}",
                    count(items.len(), "item"),
                    list(&names, 5)
                ),
            };
            let mut diag = Diagnostic::warning(
                ARCHIVE_SHARES_APPLIANCE,
                format!("the archive copy {place} is on {appliance}, {with}"),
            )
            .with_help(format!(
                "put the archive copy on another appliance (an off-site box): losing {appliance} now takes both"
            ))
            .for_resource(&place);
            diag = locs.label(diag, &place, format!("archive copy on {appliance}"));
            match &daily {
                Some(dp) => diag = locs.label(diag, dp, format!("daily copy on {appliance}")),
                None => {
                    for i in items.iter().take(3) {
                        diag = locs.label(
                            diag,
                            &self.data[*i].address,
                            format!("lives on {appliance}"),
                        );
                    }
                }
            }
            out.push(diag);
        }
    }

    fn not_backed_up(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        for d in &self.data {
            if d.kind != DataKind::Guest || d.rebuildable || !d.copies.is_empty() {
                continue;
            }
            let diag = Diagnostic::warning(
                GUEST_NOT_BACKED_UP,
                format!("no backup job selects {}", d.address),
            )
            .with_help(
                "select it in a backup job, or, if it is rebuilt from config, waive pbs::guest-not-backed-up for it",
            )
            .for_resource(&d.address);
            out.push(locs.label(diag, &d.address, "not backed up"));
        }
    }

    fn rpo_targets(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        let t = self.topology;
        for (item, d) in self.data.iter().enumerate() {
            let target = if item < t.guests.len() {
                t.guests[item].rpo_target
            } else {
                t.pools[item - t.guests.len()].rpo_target
            };
            let Some(target) = target else { continue };
            let worst = self
                .singles()
                .filter_map(|s| match s.outcome(item) {
                    Outcome::Restorable { copy, rpo, .. } => Some((rpo, copy, s)),
                    _ => None,
                })
                .max_by_key(|(rpo, _, _)| *rpo);
            let Some((rpo, copy, s)) = worst else {
                continue;
            };
            if rpo <= Rpo::AtMost(target) {
                continue;
            }
            let c = &d.copies[copy];
            let chain: Vec<String> = c
                .via
                .iter()
                .map(|h| {
                    format!(
                        "{} `{}` (every {})",
                        h.job,
                        h.schedule,
                        h.worst_gap.map_or("never again".into(), duration)
                    )
                })
                .collect();
            let a = &s.lost[0];
            let mut diag = Diagnostic::warning(
                RPO_TARGET,
                format!(
                    "losing {a} can lose up to {rpo} of {}'s data, over its target of {}: the freshest copy left is on {} through {}",
                    d.address,
                    duration(target),
                    c.place,
                    chain.join(" then ")
                ),
            )
            .with_help(format!(
                "run these jobs more often, or keep a fresher copy that survives {a}"
            ))
            .for_resource(&d.address);
            diag = locs.label(diag, &d.address, format!("target {}", duration(target)));
            diag = locs.label(
                diag,
                &c.place,
                format!("restored from here, up to {rpo} old"),
            );
            out.push(diag);
        }
    }

    fn retention_targets(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        let t = self.topology;
        let ds: HashMap<&Address, &super::topology::Datastore> =
            t.datastores.iter().map(|d| (&d.address, d)).collect();
        for (item, d) in self.data.iter().enumerate() {
            let target = if item < t.guests.len() {
                t.guests[item].retention_target
            } else {
                t.pools[item - t.guests.len()].retention_target
            };
            let Some(target) = target else { continue };
            let kept: Vec<String> = d
                .copies
                .iter()
                .map(|c| match ds.get(&c.place) {
                    Some(store) => format!("{} keeps {}", c.place, store.retention),
                    None => format!("{} is a pool replica without restore points", c.place),
                })
                .collect();
            let covered = d.copies.iter().any(|c| {
                ds.get(&c.place)
                    .is_some_and(|store| store.retention.covers(&target))
            });
            if covered {
                continue;
            }
            let kept = if kept.is_empty() {
                "it has no copy".to_string()
            } else {
                kept.join(", ")
            };
            let mut diag = Diagnostic::warning(
                RETENTION_TARGET,
                format!(
                    "no copy of {} keeps {target}, its retention target: {kept}",
                    d.address
                ),
            )
            .with_help("raise the keep-* options of a datastore holding its copies (the archive copy is the usual place for long retention)")
            .for_resource(&d.address);
            diag = locs.label(diag, &d.address, format!("target {target}"));
            for c in &d.copies {
                diag = locs.label(diag, &c.place, "keeps less");
            }
            out.push(diag);
        }
    }

    fn capacity(&self, locs: &Locs, out: &mut Vec<Diagnostic>) {
        for s in self.singles() {
            let a = &s.lost[0];
            if let Some(cap) = s.node_capacity.as_ref().filter(|c| !c.fits()) {
                let names = addresses(&cap.unplaced);
                let mut diag = Diagnostic::warning(
                    CAPACITY_NODE_LOSS,
                    format!(
                        "losing {a} takes {} down, and the surviving nodes cannot carry {} that must keep running: {} (first-fit decreasing by memory; {} MiB and {} cores needed, {} MiB and {} cores free)",
                        list(&addresses(&s.nodes_down), 4),
                        count(cap.unplaced.len(), "guest"),
                        list(&names, 5),
                        cap.needed.0,
                        cap.needed.1,
                        cap.free.0,
                        cap.free.1,
                    ),
                )
                .with_help("free memory or cores on the other nodes, add a node, or let guests that may stay down say keep_running(false)")
                .for_resource(a);
                for g in &cap.unplaced {
                    diag = locs.label(diag, g, format!("no room once {a} is lost"));
                }
                out.push(locs.label(diag, a, "this appliance is lost"));
            }
            if let Some(cap) = s.nas_capacity.as_ref().filter(|c| !c.fits()) {
                let names = addresses(&cap.unplaced);
                let mut diag = Diagnostic::warning(
                    CAPACITY_NAS_LOSS,
                    format!(
                        "losing {a} leaves no room on the surviving pools to restore {}: {} (first-fit decreasing by size; {} to restore, {} free)",
                        count(cap.unplaced.len(), "pool"),
                        list(&names, 5),
                        bytes(cap.needed_bytes),
                        bytes(cap.free_bytes),
                    ),
                )
                .with_help("grow a surviving pool or add one on another appliance, with room for the largest pool")
                .for_resource(a);
                for p in &cap.unplaced {
                    diag = locs.label(diag, p, format!("no room to restore once {a} is lost"));
                }
                out.push(locs.label(diag, a, "this appliance is lost"));
            }
        }
    }
}

/// `3 guests`, `1 guest`.
pub(crate) fn count(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
