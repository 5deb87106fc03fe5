//! The analysis: where each piece of data lives, its copies with their
//! worst age, and what every single (and pair) appliance loss leaves.
//!
//! Copies are found over a graph of *places* (datastores and pools) whose
//! edges are sync jobs and pool replications: the cheapest path from every
//! place to every other is computed once (Bellman-Ford from each place;
//! labs have tens of places), so each data item only adds its entry jobs
//! (the backup jobs selecting it, or its own pool). A copy's worst age is
//! the sum of the worst gaps of the jobs along its chain: a daily backup
//! then a weekly sync leave the weekly copy up to 1 + 7 days behind. When
//! two chains reach one place, the fresher one counts (the place holds the
//! newest snapshot either brings).
//!
//! A copy is restorable after a loss when its place's appliance survives
//! and, for a guest, some compute node survives to restore onto. A
//! datastore whose server went down with the loss still holds its
//! snapshots: a PBS reinstalled from the lab's code takes the datastore
//! back (`reuse-datastore`) and restores from it, so the copy counts, with
//! [`Outcome::Restorable::rebuild_server`] saying the restore waits for
//! that. Copies the server can serve at once are preferred among equally
//! fresh ones.

use std::time::Duration;

use lab_core::{Address, Loc};
use time::{Date, Month};

use super::capacity::{self, NasCapacity, NodeCapacity};
use super::gap::{GapCache, DEFAULT_HORIZON_DAYS};
use super::resolve::{find, Index, TopologyError};
use super::topology::{CopyRole, Topology};

/// How the analysis runs.
#[derive(Clone, Debug)]
pub struct AnalysisOptions {
    /// Also take away every pair of appliances (`failures --pairs`).
    pub pairs: bool,
    /// The first day of the horizon over which schedules' gaps are
    /// measured. The default is a fixed date (2026-01-01) so reports are
    /// reproducible; a CLI may pass today.
    pub from: Date,
    /// How many days the horizon holds ([`DEFAULT_HORIZON_DAYS`]).
    pub horizon_days: u32,
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        AnalysisOptions {
            pairs: false,
            from: Date::from_calendar_date(2026, Month::January, 1).expect("a valid date"),
            horizon_days: DEFAULT_HORIZON_DAYS,
        }
    }
}

/// A worst-case data-loss window, ordered from best to worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rpo {
    /// Nothing is lost: the live data survives.
    Zero,
    /// Up to this much recent data is lost.
    AtMost(Duration),
    /// A schedule along the chain does not recur: the copy ages without
    /// bound.
    Unbounded,
    /// No copy survives: everything is lost.
    Lost,
}

impl Rpo {
    /// From a sum of gaps in seconds (`u64::MAX`: unbounded).
    pub(crate) fn from_secs(secs: u64) -> Rpo {
        if secs == u64::MAX {
            Rpo::Unbounded
        } else {
            Rpo::AtMost(Duration::from_secs(secs))
        }
    }
}

impl std::fmt::Display for Rpo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rpo::Zero => f.write_str("0"),
            Rpo::AtMost(d) => f.write_str(&super::render::duration(*d)),
            Rpo::Unbounded => f.write_str("unbounded"),
            Rpo::Lost => f.write_str("lost"),
        }
    }
}

/// What sort of data an item is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataKind {
    /// A guest's disks.
    Guest,
    /// A NAS pool's data.
    Pool,
}

/// What sort of place holds a copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceKind {
    /// A PBS datastore (restored through its server).
    Datastore,
    /// A NAS pool (a replica, restored without a server).
    Pool,
}

/// One job of a copy's chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// The job's address.
    pub job: Address,
    /// Its schedule as written.
    pub schedule: String,
    /// The worst gap between two of its runs (`None`: it does not recur).
    pub worst_gap: Option<Duration>,
}

/// One copy of a data item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataCopy {
    /// The datastore or pool holding it.
    pub place: Address,
    /// Which of the two it is.
    pub place_kind: PlaceKind,
    /// The place's appliance.
    pub appliance: Address,
    /// The server that restores from it (datastores only).
    pub server: Option<Address>,
    /// Daily or archive (stated on the datastore, else derived: one job
    /// from the data is the daily copy, more is a further copy).
    pub role: CopyRole,
    /// The jobs that bring the data there, first the one reading the
    /// live data (the freshest chain when several reach the place).
    pub via: Vec<Hop>,
    /// How old its newest snapshot can be: the sum of the chain's worst gaps.
    pub worst_age: Rpo,
}

/// One data item: where it lives and its copies.
#[derive(Clone, Debug)]
pub struct DataReport {
    /// The guest's or pool's address.
    pub address: Address,
    /// Guest or pool.
    pub kind: DataKind,
    /// The appliances holding the live data (a loss of any loses it).
    pub lives_on: Vec<Address>,
    /// Its copies, freshest first.
    pub copies: Vec<DataCopy>,
    /// True for a guest rebuilt from config, or a pool holding no data of
    /// its own (`used_bytes` 0): nothing to back up.
    pub rebuildable: bool,
    /// The item's line.
    pub loc: Option<Loc>,
}

impl DataReport {
    /// The copy a restore would use with nothing lost: the freshest.
    pub fn restore_from(&self) -> Option<&DataCopy> {
        self.copies.first()
    }
}

/// What a loss leaves of one data item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The live data survives.
    Live,
    /// The live data is gone; `copy` (an index into the item's
    /// [`DataReport::copies`]) is the freshest restorable copy.
    Restorable {
        /// The copy restored from.
        copy: usize,
        /// Its worst age.
        rpo: Rpo,
        /// The datastore's server went down with the loss: the restore
        /// waits until a PBS rebuilt from the lab's code takes the
        /// datastore back (no data is lost meanwhile).
        rebuild_server: bool,
    },
    /// Neither the live data nor any restorable copy is left.
    Lost,
}

impl Outcome {
    /// The data-loss window of this outcome.
    pub fn rpo(&self) -> Rpo {
        match self {
            Outcome::Live => Rpo::Zero,
            Outcome::Restorable { rpo, .. } => *rpo,
            Outcome::Lost => Rpo::Lost,
        }
    }
}

/// A data item whose live data a loss takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Affected {
    /// The item (an index into [`FailureReport::data`]).
    pub data: usize,
    /// What is left of it.
    pub outcome: Outcome,
}

/// One loss: what it takes and what is left.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The appliances lost (one, or two with `pairs`).
    pub lost: Vec<Address>,
    /// The items whose live data is gone, in [`FailureReport::data`]
    /// order (every other item is [`Outcome::Live`]).
    pub affected: Vec<Affected>,
    /// The compute nodes down.
    pub nodes_down: Vec<Address>,
    /// The backup servers down.
    pub servers_down: Vec<Address>,
    /// Whether the surviving nodes carry the guests of those down (`None`
    /// when no node is down).
    pub node_capacity: Option<NodeCapacity>,
    /// Whether the surviving pools hold a restore of the pools lost
    /// (`None` when no pool is lost).
    pub nas_capacity: Option<NasCapacity>,
    /// `lost` as indices into the topology's appliances.
    pub(crate) lost_ix: Vec<usize>,
}

impl Scenario {
    /// What this loss leaves of item `data`.
    pub fn outcome(&self, data: usize) -> Outcome {
        match self.affected.binary_search_by_key(&data, |a| a.data) {
            Ok(i) => self.affected[i].outcome,
            Err(_) => Outcome::Live,
        }
    }

    /// The worst data-loss window among the items still restorable, with
    /// the item (`None` when no live data is lost or all of it is gone).
    pub fn worst_rpo(&self) -> Option<(usize, Rpo)> {
        self.affected
            .iter()
            .filter(|a| matches!(a.outcome, Outcome::Restorable { .. }))
            .map(|a| (a.data, a.outcome.rpo()))
            .fold(None, |best: Option<(usize, Rpo)>, (d, r)| match best {
                Some((_, b)) if b >= r => best,
                _ => Some((d, r)),
            })
    }

    /// The items with nothing left.
    pub fn lost_data(&self) -> impl Iterator<Item = usize> + '_ {
        self.affected
            .iter()
            .filter(|a| a.outcome == Outcome::Lost)
            .map(|a| a.data)
    }
}

/// The analysis of a [`Topology`]: per item its copies, per loss what is
/// left. [`FailureReport::diagnostics`] turns it into check findings,
/// [`FailureReport::render_table`] and [`FailureReport::render_mermaid`]
/// into text.
#[derive(Debug)]
pub struct FailureReport<'t> {
    pub(crate) topology: &'t Topology,
    /// Every guest, then every pool, in the topology's order.
    pub data: Vec<DataReport>,
    /// Every single loss in the topology's appliance order, then (with
    /// `pairs`) every pair.
    pub scenarios: Vec<Scenario>,
    pub(crate) resolved: Resolved,
}

impl<'t> FailureReport<'t> {
    /// The topology analysed.
    pub fn topology(&self) -> &'t Topology {
        self.topology
    }

    /// The item at `address`, with its index.
    pub fn data_item(&self, address: &Address) -> Option<(usize, &DataReport)> {
        self.data
            .iter()
            .enumerate()
            .find(|(_, d)| &d.address == address)
    }

    /// The scenario that loses exactly `lost` (in any order).
    pub fn scenario(&self, lost: &[&Address]) -> Option<&Scenario> {
        self.scenarios
            .iter()
            .find(|s| s.lost.len() == lost.len() && lost.iter().all(|a| s.lost.contains(a)))
    }

    /// The single-loss scenarios.
    pub fn singles(&self) -> impl Iterator<Item = &Scenario> {
        self.scenarios.iter().filter(|s| s.lost.len() == 1)
    }
}

/// Indices the scenarios and checks work with.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// Per data item: the appliance indices of its live data.
    pub live: Vec<Vec<usize>>,
    /// Per data item, per copy: (appliance, server).
    pub copies: Vec<Vec<(usize, Option<usize>)>>,
    /// Per node: the appliances it fails with.
    pub node_fails: Vec<Vec<usize>>,
    /// Per server: the appliances it fails with.
    pub server_fails: Vec<Vec<usize>>,
    /// Per guest: its node.
    pub guest_node: Vec<usize>,
    /// Per pool: its appliance.
    pub pool_appliance: Vec<usize>,
}

/// A place: datastores first, then pools.
struct Places {
    appliance: Vec<usize>,
    server: Vec<Option<usize>>,
}

/// An edge of the place graph: a sync job or a pool replication.
struct Edge {
    from: usize,
    to: usize,
    hop: Hop,
    cost: u64,
}

/// Cheapest (cost, hops) and the last edge, from one place to each.
type Paths = Vec<Option<(u64, u32, Option<usize>)>>;

fn cheapest_from(src: usize, n: usize, edges: &[Edge]) -> Paths {
    let mut best: Paths = vec![None; n];
    best[src] = Some((0, 0, None));
    // Bellman-Ford: at most n - 1 rounds of relaxation.
    for _ in 0..n {
        let mut changed = false;
        for (e, edge) in edges.iter().enumerate() {
            let Some((c, h, _)) = best[edge.from] else {
                continue;
            };
            let cand = (c.saturating_add(edge.cost), h + 1);
            if best[edge.to].is_none_or(|(bc, bh, _)| cand < (bc, bh)) {
                best[edge.to] = Some((cand.0, cand.1, Some(e)));
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    best
}

/// The edges from `src` to `dst` along the cheapest path.
fn path(paths: &Paths, edges: &[Edge], dst: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = dst;
    while let Some((_, _, Some(e))) = paths[at] {
        out.push(e);
        at = edges[e].from;
    }
    out.reverse();
    out
}

impl Topology {
    /// Analyses every single appliance loss (and every pair with
    /// `options.pairs`).
    ///
    /// ```
    /// use lab_core::{Address, ApplianceKind};
    /// use lab_pbs::failures::*;
    /// let a = |s: &str| Address::parse(s).unwrap();
    /// let mut t = Topology::default();
    /// t.appliances.push(ApplianceInfo::new(a("appliance.pve1-disk"), ApplianceKind::NodeDisk));
    /// t.appliances.push(ApplianceInfo::new(a("appliance.pbs"), ApplianceKind::BackupServer));
    /// t.nodes.push(ComputeNode::new(a("proxmox.node.pve1"), a("appliance.pve1-disk"), 65536, 16));
    /// t.guests.push(Guest::new(a("proxmox.vm.web"), a("proxmox.node.pve1"), 2048, 2)
    ///     .disk(a("appliance.pve1-disk"), 32 << 30));
    /// t.servers.push(BackupServer::new(a("pbs.server.main"), vec![a("appliance.pbs")]));
    /// t.datastores.push(Datastore::new(a("pbs.datastore.daily"), a("pbs.server.main"), a("appliance.pbs")));
    /// t.backup_jobs.push(BackupJob::new(a("pbs.backup_job.nightly"), Selection::All,
    ///     a("pbs.datastore.daily"), Schedule::parse("02:00").unwrap()));
    ///
    /// let report = t.analyze(&AnalysisOptions::default()).unwrap();
    /// let disk = report.scenario(&[&a("appliance.pve1-disk")]).unwrap();
    /// // The copy survives, but no node is left to restore onto.
    /// assert_eq!(disk.outcome(0), Outcome::Lost);
    ///
    /// // A second node: the copy is a day old at worst.
    /// t.appliances.push(ApplianceInfo::new(a("appliance.pve2-disk"), ApplianceKind::NodeDisk));
    /// t.nodes.push(ComputeNode::new(a("proxmox.node.pve2"), a("appliance.pve2-disk"), 65536, 16));
    /// let report = t.analyze(&AnalysisOptions::default()).unwrap();
    /// let disk = report.scenario(&[&a("appliance.pve1-disk")]).unwrap();
    /// assert_eq!(disk.outcome(0).rpo(), Rpo::AtMost(std::time::Duration::from_secs(86_400)));
    /// // Still, the PBS box holds the server and the only copy.
    /// let codes: Vec<String> = report.diagnostics().into_iter().map(|d| d.code).collect();
    /// assert_eq!(codes, ["pbs::server-and-copies-together"]);
    /// ```
    pub fn analyze(&self, options: &AnalysisOptions) -> Result<FailureReport<'_>, TopologyError> {
        let ix = Index::new(self)?;
        let mut gaps = GapCache::new(options.from, options.horizon_days);
        let cost = |gap: Option<Duration>| gap.map_or(u64::MAX, |g| g.as_secs());

        // Places and their graph.
        let nd = self.datastores.len();
        let mut places = Places {
            appliance: Vec::with_capacity(nd + self.pools.len()),
            server: Vec::with_capacity(nd + self.pools.len()),
        };
        for d in &self.datastores {
            places
                .appliance
                .push(ix.appliance(&d.appliance, &d.address, "appliance", d.loc)?);
            places.server.push(Some(find(
                &ix.servers,
                &d.server,
                &d.address,
                "server",
                "a backup server",
                d.loc,
            )?));
        }
        let mut pool_appliance = Vec::with_capacity(self.pools.len());
        for p in &self.pools {
            let a = ix.appliance(&p.appliance, &p.address, "appliance", p.loc)?;
            pool_appliance.push(a);
            places.appliance.push(a);
            places.server.push(None);
        }
        let n_places = places.appliance.len();
        let mut edges = Vec::new();
        for j in &self.sync_jobs {
            let ds = |target: &Address, field| {
                find(
                    &ix.datastores,
                    target,
                    &j.address,
                    field,
                    "a datastore",
                    j.loc,
                )
            };
            let gap = gaps.gap(&j.schedule);
            edges.push(Edge {
                from: ds(&j.from, "from")?,
                to: ds(&j.to, "to")?,
                hop: hop(&j.address, &j.schedule, gap),
                cost: cost(gap),
            });
        }
        for j in &self.replications {
            let pool = |target: &Address, field| {
                find(&ix.pools, target, &j.address, field, "a pool", j.loc)
            };
            let gap = gaps.gap(&j.schedule);
            edges.push(Edge {
                from: nd + pool(&j.from, "from")?,
                to: nd + pool(&j.to, "to")?,
                hop: hop(&j.address, &j.schedule, gap),
                cost: cost(gap),
            });
        }
        let paths: Vec<Paths> = (0..n_places)
            .map(|p| cheapest_from(p, n_places, &edges))
            .collect();

        // Entry jobs: backup jobs, checked once.
        let mut entries = Vec::with_capacity(self.backup_jobs.len());
        for j in &self.backup_jobs {
            let ds = find(
                &ix.datastores,
                &j.datastore,
                &j.address,
                "datastore",
                "a datastore",
                j.loc,
            )?;
            if let super::topology::Selection::Only(list)
            | super::topology::Selection::AllExcept(list) = &j.selection
            {
                for a in list {
                    if !ix.guests.contains_key(a) && !ix.pools.contains_key(a) {
                        return Err(TopologyError::Unknown {
                            item: j.address.clone(),
                            field: "selection",
                            target: a.clone(),
                            expected: "a guest or a pool",
                            loc: j.loc,
                        });
                    }
                }
            }
            let gap = gaps.gap(&j.schedule);
            entries.push((ds, cost(gap), hop(&j.address, &j.schedule, gap)));
        }

        // Nodes and servers.
        let mut node_fails = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let mut v = Vec::new();
            for a in &n.fails_with {
                v.push(ix.appliance(a, &n.address, "fails_with", n.loc)?);
            }
            node_fails.push(v);
        }
        let mut server_fails = Vec::with_capacity(self.servers.len());
        for s in &self.servers {
            let mut v = Vec::new();
            for a in &s.fails_with {
                v.push(ix.appliance(a, &s.address, "fails_with", s.loc)?);
            }
            server_fails.push(v);
        }

        // Data items.
        let n_items = self.guests.len() + self.pools.len();
        let mut data = Vec::with_capacity(n_items);
        let mut live = Vec::with_capacity(n_items);
        let mut guest_node = Vec::with_capacity(self.guests.len());
        let mut starts: Vec<(usize, u64, Option<&Hop>)> = Vec::new();
        let mut copy_idx = Vec::with_capacity(n_items);
        for item in 0..n_items {
            starts.clear();
            let (address, kind, loc, rebuildable, own_place) = if item < self.guests.len() {
                let g = &self.guests[item];
                let node = find(&ix.nodes, &g.node, &g.address, "node", "a node", g.loc)?;
                guest_node.push(node);
                let mut on = Vec::new();
                for d in &g.disks {
                    let a = ix.appliance(&d.appliance, &g.address, "disks", g.loc)?;
                    if !on.contains(&a) {
                        on.push(a);
                    }
                }
                if on.is_empty() {
                    on = node_fails[node].clone();
                }
                live.push(on);
                (&g.address, DataKind::Guest, g.loc, g.rebuildable, None)
            } else {
                let p = item - self.guests.len();
                live.push(vec![pool_appliance[p]]);
                starts.push((nd + p, 0, None));
                let pd = &self.pools[p];
                // A pool that holds nothing of its own (a replica, a
                // restore target) has nothing to lose.
                let empty = pd.used_bytes == Some(0);
                (&pd.address, DataKind::Pool, pd.loc, empty, Some(nd + p))
            };
            let is_guest = kind == DataKind::Guest;
            for (j, (ds, c, h)) in self.backup_jobs.iter().zip(&entries) {
                if j.selection.selects(address, is_guest) {
                    starts.push((*ds, *c, Some(h)));
                }
            }
            // The cheapest chain to every place.
            let mut best: Vec<Option<(u64, u32, usize)>> = vec![None; n_places];
            for (s, (start, c, h)) in starts.iter().enumerate() {
                let base_hops = u32::from(h.is_some());
                for (dst, p) in paths[*start].iter().enumerate() {
                    let Some((pc, ph, _)) = p else { continue };
                    if Some(dst) == own_place {
                        continue;
                    }
                    let cand = (c.saturating_add(*pc), base_hops + ph);
                    if best[dst].is_none_or(|(bc, bh, _)| cand < (bc, bh)) {
                        best[dst] = Some((cand.0, cand.1, s));
                    }
                }
            }
            let mut copies = Vec::new();
            for (dst, b) in best.iter().enumerate() {
                let Some((c, _, s)) = b else { continue };
                let (start, _, first) = starts[*s];
                let mut via: Vec<Hop> = first.into_iter().cloned().collect();
                via.extend(
                    path(&paths[start], &edges, dst)
                        .into_iter()
                        .map(|e| edges[e].hop.clone()),
                );
                let (place, place_kind, stated) = if dst < nd {
                    let d = &self.datastores[dst];
                    (&d.address, PlaceKind::Datastore, d.role)
                } else {
                    (&self.pools[dst - nd].address, PlaceKind::Pool, None)
                };
                let role = stated.unwrap_or(if via.len() <= 1 {
                    CopyRole::Daily
                } else {
                    CopyRole::Archive
                });
                copies.push((
                    DataCopy {
                        place: place.clone(),
                        place_kind,
                        appliance: self.appliances[places.appliance[dst]].address.clone(),
                        server: places.server[dst].map(|s| self.servers[s].address.clone()),
                        role,
                        via,
                        worst_age: Rpo::from_secs(*c),
                    },
                    (places.appliance[dst], places.server[dst]),
                ));
            }
            copies.sort_by(|a, b| {
                (a.0.worst_age, a.0.via.len(), &a.0.place).cmp(&(
                    b.0.worst_age,
                    b.0.via.len(),
                    &b.0.place,
                ))
            });
            let (copies, idx): (Vec<DataCopy>, Vec<_>) = copies.into_iter().unzip();
            copy_idx.push(idx);
            data.push(DataReport {
                address: address.clone(),
                kind,
                lives_on: live[item]
                    .iter()
                    .map(|a| self.appliances[*a].address.clone())
                    .collect(),
                copies,
                rebuildable,
                loc,
            });
        }

        let resolved = Resolved {
            live,
            copies: copy_idx,
            node_fails,
            server_fails,
            guest_node,
            pool_appliance,
        };
        let base = capacity::Base::new(self, &resolved);
        let n_app = self.appliances.len();
        let mut losses: Vec<Vec<usize>> = (0..n_app).map(|a| vec![a]).collect();
        if options.pairs {
            for a in 0..n_app {
                for b in a + 1..n_app {
                    losses.push(vec![a, b]);
                }
            }
        }
        let scenarios = losses
            .iter()
            .map(|lost| self.scenario(lost, &data, &resolved, &base))
            .collect();
        Ok(FailureReport {
            topology: self,
            data,
            scenarios,
            resolved,
        })
    }

    fn scenario(
        &self,
        lost: &[usize],
        data: &[DataReport],
        r: &Resolved,
        base: &capacity::Base,
    ) -> Scenario {
        let hit = |fails: &[usize]| fails.iter().any(|a| lost.contains(a));
        let node_up: Vec<bool> = r.node_fails.iter().map(|f| !hit(f)).collect();
        let server_up: Vec<bool> = r.server_fails.iter().map(|f| !hit(f)).collect();
        let any_node = node_up.iter().any(|u| *u);
        let mut affected = Vec::new();
        for (item, d) in data.iter().enumerate() {
            if !hit(&r.live[item]) {
                continue;
            }
            let needs_node = d.kind == DataKind::Guest;
            let server_down = |s: &Option<usize>| s.is_some_and(|s| !server_up[s]);
            // Copies are sorted freshest first; among equally fresh ones,
            // one whose server is up.
            let outcome = r.copies[item]
                .iter()
                .enumerate()
                .filter(|(_, (a, _))| !lost.contains(a) && (any_node || !needs_node))
                .min_by_key(|(i, (_, s))| (d.copies[*i].worst_age, server_down(s), *i))
                .map_or(Outcome::Lost, |(copy, (_, s))| Outcome::Restorable {
                    copy,
                    rpo: d.copies[copy].worst_age,
                    rebuild_server: server_down(s),
                });
            affected.push(Affected {
                data: item,
                outcome,
            });
        }
        let mut scenario = Scenario {
            lost: lost
                .iter()
                .map(|a| self.appliances[*a].address.clone())
                .collect(),
            affected,
            nodes_down: (0..self.nodes.len())
                .filter(|n| !node_up[*n])
                .map(|n| self.nodes[n].address.clone())
                .collect(),
            servers_down: (0..self.servers.len())
                .filter(|s| !server_up[*s])
                .map(|s| self.servers[s].address.clone())
                .collect(),
            node_capacity: None,
            nas_capacity: None,
            lost_ix: lost.to_vec(),
        };
        scenario.node_capacity = base.nodes(self, r, &node_up, &scenario);
        scenario.nas_capacity = base.nas(self, lost, r, data, &scenario);
        scenario
    }
}

fn hop(job: &Address, schedule: &super::gap::Schedule, gap: Option<Duration>) -> Hop {
    Hop {
        job: job.clone(),
        schedule: schedule.text().to_string(),
        worst_gap: gap,
    }
}
