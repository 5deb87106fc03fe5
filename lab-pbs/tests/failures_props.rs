//! proptest: on random topologies, what `Topology::analyze` says each
//! single and pair loss leaves agrees with a brute force written apart:
//! every simple chain of jobs from each item enumerated by depth-first
//! search, each end kept when its place survives and can be read, the
//! freshest one the outcome. The schedules come from a table whose worst
//! gaps are known by hand, so the brute force shares no code with the
//! analysis beyond the input types.

use std::collections::BTreeSet;

use lab_core::{Address, ApplianceKind};
use lab_pbs::failures::*;
use proptest::prelude::*;

/// Schedules and their worst gap in seconds, by hand.
const SCHEDULES: [(&str, u64); 5] = [
    ("02:00", 86_400),
    ("sun 04:00", 7 * 86_400),
    ("*:0/30", 1_800),
    ("08,20:00", 12 * 3_600),
    ("mon..fri 01:00", 3 * 86_400),
];

#[derive(Clone, Debug)]
struct Shape {
    appliances: usize,
    nodes: Vec<usize>,
    /// (node, disk appliances)
    guests: Vec<(usize, Vec<usize>)>,
    pools: Vec<usize>,
    /// fails_with
    servers: Vec<Vec<usize>>,
    /// (server, appliance)
    datastores: Vec<(usize, usize)>,
    /// (all guests, or these items (guests then pools), datastore, schedule)
    backups: Vec<(bool, Vec<usize>, usize, usize)>,
    /// (from, to, schedule)
    syncs: Vec<(usize, usize, usize)>,
    replications: Vec<(usize, usize, usize)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (2usize..6).prop_flat_map(|n_app| {
        let app = 0..n_app;
        (
            proptest::collection::vec(app.clone(), 1..4),
            proptest::collection::vec(
                (0usize..8, proptest::collection::vec(app.clone(), 0..3)),
                0..6,
            ),
            proptest::collection::vec(app.clone(), 0..3),
            proptest::collection::vec(proptest::collection::vec(app.clone(), 1..3), 1..3),
            proptest::collection::vec((0usize..8, app.clone()), 0..4),
            proptest::collection::vec(
                (
                    any::<bool>(),
                    proptest::collection::vec(0usize..16, 0..4),
                    0usize..8,
                    0..SCHEDULES.len(),
                ),
                0..4,
            ),
            proptest::collection::vec((0usize..8, 0usize..8, 0..SCHEDULES.len()), 0..4),
            proptest::collection::vec((0usize..8, 0usize..8, 0..SCHEDULES.len()), 0..3),
        )
            .prop_map(
                move |(nodes, guests, pools, servers, datastores, backups, syncs, reps)| {
                    let n_nodes = nodes.len();
                    let n_servers = servers.len();
                    let guests: Vec<(usize, Vec<usize>)> =
                        guests.into_iter().map(|(n, d)| (n % n_nodes, d)).collect();
                    let datastores: Vec<(usize, usize)> = datastores
                        .into_iter()
                        .map(|(s, a)| (s % n_servers, a))
                        .collect();
                    let n_items = guests.len() + pools.len();
                    let n_ds = datastores.len();
                    let backups = if n_ds == 0 {
                        vec![]
                    } else {
                        backups
                            .into_iter()
                            .map(|(all, items, ds, s)| {
                                let items = if n_items == 0 {
                                    vec![]
                                } else {
                                    items.into_iter().map(|i| i % n_items).collect()
                                };
                                (all, items, ds % n_ds, s)
                            })
                            .collect()
                    };
                    let syncs = if n_ds < 2 {
                        vec![]
                    } else {
                        syncs
                            .into_iter()
                            .map(|(f, t, s)| (f % n_ds, t % n_ds, s))
                            .filter(|(f, t, _)| f != t)
                            .collect()
                    };
                    let n_pools = pools.len();
                    let replications = if n_pools < 2 {
                        vec![]
                    } else {
                        reps.into_iter()
                            .map(|(f, t, s)| (f % n_pools, t % n_pools, s))
                            .filter(|(f, t, _)| f != t)
                            .collect()
                    };
                    Shape {
                        appliances: n_app,
                        nodes,
                        guests,
                        pools,
                        servers,
                        datastores,
                        backups,
                        syncs,
                        replications,
                    }
                },
            )
    })
}

fn app(i: usize) -> Address {
    Address::new("appliance", &format!("a{i}"))
}

fn item_address(shape: &Shape, i: usize) -> Address {
    if i < shape.guests.len() {
        Address::new("proxmox.vm", &format!("g{i}"))
    } else {
        Address::new("proxmox.nas_pool", &format!("p{}", i - shape.guests.len()))
    }
}

fn topology(shape: &Shape) -> Topology {
    let mut t = Topology::default();
    for i in 0..shape.appliances {
        t.appliances
            .push(ApplianceInfo::new(app(i), ApplianceKind::Other));
    }
    for (n, a) in shape.nodes.iter().enumerate() {
        t.nodes.push(ComputeNode::new(
            Address::new("proxmox.node", &format!("n{n}")),
            app(*a),
            1024,
            4,
        ));
    }
    for (g, (node, disks)) in shape.guests.iter().enumerate() {
        let mut guest = Guest::new(
            item_address(shape, g),
            Address::new("proxmox.node", &format!("n{node}")),
            512,
            1,
        );
        for d in disks {
            guest = guest.disk(app(*d), 1 << 30);
        }
        t.guests.push(guest);
    }
    for (p, a) in shape.pools.iter().enumerate() {
        t.pools.push(PoolData::new(
            item_address(shape, shape.guests.len() + p),
            app(*a),
        ));
    }
    for (s, fails) in shape.servers.iter().enumerate() {
        t.servers.push(BackupServer::new(
            Address::new("pbs.server", &format!("s{s}")),
            fails.iter().map(|a| app(*a)).collect(),
        ));
    }
    let ds = |i: usize| Address::new("pbs.datastore", &format!("d{i}"));
    for (i, (s, a)) in shape.datastores.iter().enumerate() {
        t.datastores.push(Datastore::new(
            ds(i),
            Address::new("pbs.server", &format!("s{s}")),
            app(*a),
        ));
    }
    for (j, (all, items, d, s)) in shape.backups.iter().enumerate() {
        let selection = if *all {
            Selection::All
        } else {
            Selection::Only(items.iter().map(|i| item_address(shape, *i)).collect())
        };
        t.backup_jobs.push(BackupJob::new(
            Address::new("pbs.backup_job", &format!("b{j}")),
            selection,
            ds(*d),
            Schedule::parse(SCHEDULES[*s].0).unwrap(),
        ));
    }
    for (j, (f, to, s)) in shape.syncs.iter().enumerate() {
        t.sync_jobs.push(SyncJob::new(
            Address::new("pbs.sync_job", &format!("s{j}")),
            ds(*f),
            ds(*to),
            Schedule::parse(SCHEDULES[*s].0).unwrap(),
        ));
    }
    for (j, (f, to, s)) in shape.replications.iter().enumerate() {
        t.replications.push(PoolReplication::new(
            Address::new("zfs.replication", &format!("r{j}")),
            item_address(shape, shape.guests.len() + f),
            item_address(shape, shape.guests.len() + to),
            Schedule::parse(SCHEDULES[*s].0).unwrap(),
        ));
    }
    t
}

/// A place in the brute force: a datastore or a pool, by index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Ds(usize),
    Pool(usize),
}

/// Every place a simple chain reaches from `at`, with the chain's cost.
fn walk(shape: &Shape, at: Place, cost: u64, seen: &mut Vec<Place>, out: &mut Vec<(Place, u64)>) {
    out.push((at, cost));
    seen.push(at);
    match at {
        Place::Ds(d) => {
            for (f, to, s) in &shape.syncs {
                if *f == d && !seen.contains(&Place::Ds(*to)) {
                    walk(shape, Place::Ds(*to), cost + SCHEDULES[*s].1, seen, out);
                }
            }
        }
        Place::Pool(p) => {
            for (f, to, s) in &shape.replications {
                if *f == p && !seen.contains(&Place::Pool(*to)) {
                    walk(shape, Place::Pool(*to), cost + SCHEDULES[*s].1, seen, out);
                }
            }
        }
    }
    seen.pop();
}

/// Every (place, cost) a copy of item `i` can reach, by every chain.
fn chains(shape: &Shape, i: usize) -> Vec<(Place, u64)> {
    let is_guest = i < shape.guests.len();
    let mut out = Vec::new();
    for (all, items, d, s) in &shape.backups {
        if (*all && is_guest) || (!*all && items.contains(&i)) {
            walk(shape, Place::Ds(*d), SCHEDULES[*s].1, &mut vec![], &mut out);
        }
    }
    if !is_guest {
        let own = Place::Pool(i - shape.guests.len());
        let mut from_pool = Vec::new();
        walk(shape, own, 0, &mut vec![], &mut from_pool);
        out.extend(from_pool.into_iter().filter(|(p, _)| *p != own));
    }
    out
}

/// The brute force's answer for `lost`: per item, `None` when the live
/// data survives, `Some(None)` when nothing is left, `Some(Some(cost))`
/// for the freshest restorable copy.
fn brute(shape: &Shape, lost: &[usize]) -> Vec<Option<Option<u64>>> {
    let gone = |a: &usize| lost.contains(a);
    let node_up: Vec<bool> = shape.nodes.iter().map(|a| !gone(a)).collect();
    let any_node = node_up.iter().any(|u| *u);
    let n_items = shape.guests.len() + shape.pools.len();
    (0..n_items)
        .map(|i| {
            let is_guest = i < shape.guests.len();
            let live: Vec<usize> = if is_guest {
                let (node, disks) = &shape.guests[i];
                if disks.is_empty() {
                    vec![shape.nodes[*node]]
                } else {
                    disks.clone()
                }
            } else {
                vec![shape.pools[i - shape.guests.len()]]
            };
            if !live.iter().any(gone) {
                return None;
            }
            let best = chains(shape, i)
                .into_iter()
                .filter(|(place, _)| match place {
                    // A datastore outlives its server: a PBS rebuilt from
                    // the lab's code takes it back.
                    Place::Ds(d) => !gone(&shape.datastores[*d].1),
                    Place::Pool(p) => !gone(&shape.pools[*p]),
                })
                .filter(|_| any_node || !is_guest)
                .map(|(_, c)| c)
                .min();
            Some(best)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn analysis_agrees_with_brute_force(shape in shape()) {
        let t = topology(&shape);
        let report = t
            .analyze(&AnalysisOptions { pairs: true, ..Default::default() })
            .unwrap();
        let n = shape.appliances;
        prop_assert_eq!(report.scenarios.len(), n + n * (n - 1) / 2);

        // The places each item has a copy at.
        for i in 0..report.data.len() {
            let places: BTreeSet<Address> = report.data[i]
                .copies
                .iter()
                .map(|c| c.place.clone())
                .collect();
            let expected: BTreeSet<Address> = chains(&shape, i)
                .into_iter()
                .map(|(p, _)| match p {
                    Place::Ds(d) => Address::new("pbs.datastore", &format!("d{d}")),
                    Place::Pool(p) => item_address(&shape, shape.guests.len() + p),
                })
                .collect();
            prop_assert_eq!(places, expected, "copies of item {}", i);
        }

        for s in &report.scenarios {
            let lost: Vec<usize> = s
                .lost
                .iter()
                .map(|a| a.name()[1..].parse().unwrap())
                .collect();
            let expected = brute(&shape, &lost);
            for (i, e) in expected.iter().enumerate() {
                let got = s.outcome(i);
                match e {
                    None => prop_assert_eq!(got, Outcome::Live, "item {} losing {:?}", i, lost),
                    Some(None) => prop_assert_eq!(got, Outcome::Lost, "item {} losing {:?}", i, lost),
                    Some(Some(cost)) => prop_assert_eq!(
                        got.rpo(),
                        Rpo::AtMost(std::time::Duration::from_secs(*cost)),
                        "item {} losing {:?}", i, lost
                    ),
                }
            }
        }
    }
}
