//! The `failures` picture (`graph --view failures`): what it draws for a
//! small topology (appliances as clusters, data in them, copies as labelled
//! edges, the data one loss loses in its own class), that it validates and
//! renders three ways, and that a lab with lab-pbs's kinds has the view.

use lab_core::picture::{EdgeStyle, Picture, PictureView, Shape};
use lab_core::prelude::*;
use lab_core::testing::MemoryProvider;
use lab_core::{Address, ApplianceKind};
use lab_pbs::failures::{
    AnalysisOptions, ApplianceInfo, BackupJob as JobSpec, BackupServer, ComputeNode,
    Datastore as DsSpec, Guest, PoolData, PoolReplication, Retention as Keep, Schedule, Selection,
    SyncJob as SyncSpec, Topology,
};
use lab_pbs::model::*;
use lab_pbs::picture::{draw, FailuresView, Pruning, FAILURES_VIEW, LOST_CLASS};
use lab_proxmox::model::{BackupJob, Content, NasPool, Node, Storage, Vm};

const GIB: u64 = 1 << 30;

fn a(kind: &str, name: &str) -> Address {
    Address::new(kind, name)
}

fn app(name: &str) -> Address {
    a("appliance", name)
}

fn schedule(text: &str) -> Schedule {
    Schedule::parse(text).expect("a valid schedule")
}

/// Two nodes, each on its disk; immich (on pve1) (disks on its node and NAS A) backed up
/// nightly into `daily` on NAS A and synced on Sundays into `archive` on NAS
/// B; `solo` (on the node's disk only) backed up by nobody; the `photos`
/// pool on NAS A replicated hourly onto NAS B; the PBS on its own box.
fn topology() -> Topology {
    let node = a("proxmox.node", "pve1");
    let server = a("pbs.server", "primary");
    let daily = a("pbs.datastore", "primary--daily");
    let archive = a("pbs.datastore", "primary--archive");
    Topology {
        appliances: vec![
            ApplianceInfo::new(app("pve1-disk"), ApplianceKind::NodeDisk),
            ApplianceInfo::new(app("pve2-disk"), ApplianceKind::NodeDisk),
            ApplianceInfo::new(app("nas-a"), ApplianceKind::Nas).site("rack"),
            ApplianceInfo::new(app("nas-b"), ApplianceKind::Nas).site("cellar"),
            ApplianceInfo::new(app("pbs-box"), ApplianceKind::BackupServer),
        ],
        nodes: vec![
            ComputeNode::new(node.clone(), app("pve1-disk"), 65536, 16),
            ComputeNode::new(a("proxmox.node", "pve2"), app("pve2-disk"), 65536, 16),
        ],
        guests: vec![
            Guest::new(a("proxmox.vm", "immich"), node.clone(), 4096, 2)
                .disk(app("pve1-disk"), 32 * GIB)
                .disk(app("nas-a"), 500 * GIB),
            Guest::new(a("proxmox.ct", "solo"), node, 1024, 1).disk(app("pve1-disk"), 8 * GIB),
        ],
        pools: vec![
            PoolData::new(a("proxmox.nas_pool", "photos"), app("nas-a")).size(GIB, 8 * GIB),
            PoolData::new(a("proxmox.nas_pool", "replica"), app("nas-b")).size(0, 8 * GIB),
        ],
        servers: vec![BackupServer::new(server.clone(), vec![app("pbs-box")])],
        datastores: vec![
            DsSpec::new(daily.clone(), server.clone(), app("nas-a")).retention(Keep {
                daily: Some(7),
                ..Keep::default()
            }),
            DsSpec::new(archive.clone(), server, app("nas-b")),
        ],
        backup_jobs: vec![JobSpec::new(
            a("proxmox.backup_job", "nightly"),
            Selection::Only(vec![a("proxmox.vm", "immich")]),
            daily.clone(),
            schedule("02:00"),
        )],
        sync_jobs: vec![SyncSpec::new(
            a("pbs.sync_job", "primary--weekly"),
            daily,
            archive,
            schedule("sun 04:00"),
        )],
        replications: vec![PoolReplication::new(
            a("pbs.nas_replication", "photos"),
            a("proxmox.nas_pool", "photos"),
            a("proxmox.nas_pool", "replica"),
            schedule("hourly"),
        )],
    }
}

fn picture() -> Picture {
    let t = topology();
    let report = t.analyze(&AnalysisOptions::default()).expect("analysed");
    let prunings = [Pruning {
        datastore: a("pbs.datastore", "primary--archive"),
        schedule: "sun 06:00".into(),
        retention: Keep {
            weekly: Some(8),
            monthly: Some(12),
            ..Keep::default()
        },
    }];
    draw("home: failure domains".into(), &report, &prunings)
}

fn cluster_of<'p>(p: &'p Picture, node: &str) -> Option<&'p str> {
    p.find_node(node)
        .unwrap_or_else(|| panic!("no node {node} in {p}"))
        .cluster
        .as_deref()
}

fn edge<'p>(p: &'p Picture, from: &str, to: &str) -> &'p lab_core::picture::Edge {
    p.edges
        .iter()
        .find(|e| e.from == from && e.to == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to} in {:?}", p.edges))
}

#[test]
fn appliances_are_clusters_inside_their_sites() {
    let p = picture();
    let clusters: Vec<(&str, Option<&str>)> = p
        .clusters
        .iter()
        .map(|c| (c.id.as_str(), c.parent.as_deref()))
        .collect();
    assert_eq!(
        clusters,
        [
            ("site:rack", None),
            ("site:cellar", None),
            ("appliance.pve1-disk", None),
            ("appliance.pve2-disk", None),
            ("appliance.nas-a", Some("site:rack")),
            ("appliance.nas-b", Some("site:cellar")),
            ("appliance.pbs-box", None),
        ]
    );
    let label = |id: &str| {
        p.clusters
            .iter()
            .find(|c| c.id == id)
            .unwrap()
            .label
            .clone()
    };
    assert_eq!(label("appliance.nas-a"), "nas-a · NAS");
    // Losing the node's disk loses solo, which has no copy.
    assert_eq!(
        label("appliance.pve1-disk"),
        "pve1-disk · node disk · its loss loses solo"
    );
    assert_eq!(label("appliance.pbs-box"), "pbs-box · backup server");
}

#[test]
fn data_sits_on_its_appliances() {
    let p = picture();
    assert_eq!(
        cluster_of(&p, "proxmox.vm.immich"),
        Some("appliance.pve1-disk")
    );
    // immich's disks on NAS A are there too, joined to it by a dashed line.
    let disks = "proxmox.vm.immich@appliance.nas-a";
    assert_eq!(cluster_of(&p, disks), Some("appliance.nas-a"));
    assert_eq!(p.find_node(disks).unwrap().shape, Shape::Cylinder);
    assert_eq!(
        edge(&p, "proxmox.vm.immich", disks).style,
        EdgeStyle::Dashed
    );
    assert_eq!(
        cluster_of(&p, "proxmox.nas_pool.photos"),
        Some("appliance.nas-a")
    );
    assert_eq!(
        cluster_of(&p, "pbs.datastore.primary--daily"),
        Some("appliance.nas-a")
    );
    assert_eq!(
        cluster_of(&p, "pbs.datastore.primary--archive"),
        Some("appliance.nas-b")
    );
    assert_eq!(
        cluster_of(&p, "pbs.server.primary"),
        Some("appliance.pbs-box")
    );
    let daily = p.find_node("pbs.datastore.primary--daily").unwrap();
    assert_eq!(daily.label, "daily\ndatastore of primary\nkeeps 7 daily");
    assert_eq!(daily.class, "PBS datastore");
    let archive = p.find_node("pbs.datastore.primary--archive").unwrap();
    assert_eq!(
        archive.label,
        "archive\ndatastore of primary\npruned sun 06:00:\n8 weekly, 12 monthly"
    );
}

#[test]
fn copies_are_edges_labelled_with_job_and_schedule() {
    let p = picture();
    let backup = edge(&p, "proxmox.vm.immich", "pbs.datastore.primary--daily");
    assert_eq!(
        (backup.label.as_str(), backup.style),
        ("nightly · 02:00", EdgeStyle::Solid)
    );
    let sync = edge(
        &p,
        "pbs.datastore.primary--daily",
        "pbs.datastore.primary--archive",
    );
    assert_eq!(sync.label, "weekly · sun 04:00");
    let replication = edge(&p, "proxmox.nas_pool.photos", "proxmox.nas_pool.replica");
    assert_eq!(replication.label, "photos · hourly");
    for ds in ["primary--daily", "primary--archive"] {
        let reads = edge(&p, "pbs.server.primary", &format!("pbs.datastore.{ds}"));
        assert_eq!(
            (reads.label.as_str(), reads.style),
            ("reads", EdgeStyle::Dashed)
        );
    }
    // solo is selected by no job: no copy edge leaves it.
    assert!(!p.edges.iter().any(|e| e.from == "proxmox.ct.solo"));
}

#[test]
fn what_one_loss_loses_is_in_the_lost_class() {
    let p = picture();
    let solo = p.find_node("proxmox.ct.solo").unwrap();
    assert_eq!(solo.class, LOST_CLASS);
    assert!(
        solo.label.ends_with("LOST if pve1-disk fails"),
        "{}",
        solo.label
    );
    // immich survives every single loss; its worst is NAS A's loss (the
    // archive, up to a day plus a week behind).
    let immich = p.find_node("proxmox.vm.immich").unwrap();
    assert_eq!(immich.class, "guest");
    assert_eq!(
        immich.label,
        "immich\nvm · 532.0 GiB\nup to 8d lost if nas-a fails"
    );
    let photos = p.find_node("proxmox.nas_pool.photos").unwrap();
    assert_eq!(photos.class, "NAS pool");
    assert!(
        photos.label.contains("up to 1h lost if nas-a fails"),
        "{}",
        photos.label
    );
    // The replica holds no data of its own: nothing to lose, no risk line.
    let replica = p.find_node("proxmox.nas_pool.replica").unwrap();
    assert_ne!(replica.class, LOST_CLASS);
    assert_eq!(replica.label.lines().count(), 2, "{}", replica.label);
    assert!(p.classes().contains(&LOST_CLASS));
}

#[test]
fn the_picture_validates_and_renders_three_ways() {
    let p = picture();
    p.validate().expect("a valid picture");
    let svg = p.to_svg().unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains(LOST_CLASS), "the legend names the lost class");
    // The lost class is red in every rendering.
    assert!(svg.contains("#b91c1c"));
    assert!(svg.contains("nas-a · NAS"));
    let dot = p.to_dot().unwrap();
    assert!(dot.contains("cluster_") && dot.contains("nightly · 02:00"));
    let mermaid = p.to_mermaid().unwrap();
    assert!(mermaid.contains("subgraph") && mermaid.contains("weekly · sun 04:00"));
    let lost_k = p.classes().iter().position(|c| *c == LOST_CLASS).unwrap();
    assert!(mermaid.contains(&format!("classDef k{lost_k} fill:#fee2e2,stroke:#b91c1c")));
    assert!(dot.contains("fillcolor=\"#fee2e2\", color=\"#b91c1c\""));
    // Deterministic: the same topology draws the same bytes.
    assert_eq!(svg, picture().to_svg().unwrap());
}

/// A lab written with the builders: immich on pve1 with a disk on NAS A,
/// backed up nightly into a datastore on NAS A, synced into one on NAS B.
fn lab() -> Lab {
    let mut lab = Lab::new("home");
    let pbs = lab.register_provider_as(
        "primary",
        MemoryProvider::new()
            .with_kinds(lab_pbs::kinds::ALL)
            .shared(),
    );
    let pve1 = lab.add(Node::new("pve1").bridge("vmbr0").cores(16).memory_gb(64));
    let pve1_disk = lab.add(Node::local_disk(&pve1));
    let nas_a = lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    let nas_b = lab.add(Appliance::new("nas-b").kind(ApplianceKind::Nas));
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    let hot = lab.add(
        NasPool::new("hot")
            .server("10.0.0.5")
            .export("/mnt/hot")
            .on(&nas_a),
    );
    let cold = lab.add(
        NasPool::new("cold")
            .server("10.0.0.6")
            .export("/mnt/cold")
            .on(&nas_b),
    );
    let hot_nfs = lab.add(Storage::nfs("hot", &hot).content(&[Content::Images]));
    let lvm = lab.add(
        Storage::existing("local-lvm")
            .content(&[Content::Images])
            .on(&pve1_disk)
            .node(&pve1),
    );
    let immich = lab.add(
        Vm::new("immich", &pve1)
            .memory_mb(4096)
            .disk("scsi0", &lvm, "32G")
            .disk("scsi1", &hot_nfs, "500G"),
    );
    let primary = lab.add(PbsServer::instance(&pbs, "10.0.0.20").on(&pbs_box));
    let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/hot/pbs").nas_pool(&hot));
    let archive = lab.add(Datastore::new(&primary, "archive", "/mnt/cold/pbs").nas_pool(&cold));
    lab.add(SyncJob::new(&archive, "archive", &daily).schedule("sun 04:00"));
    let user = lab.add(User::new(&primary, "pve@pbs"));
    let token = lab.add(Token::new(&user, "backup"));
    let storage = lab.add(PveStorage::new("pbs-daily", &primary, &daily, &token));
    lab.add(BackupJob::new("nightly", &storage, "02:00").guest(&immich));
    lab
}

fn graph(lab: Lab, format: &str) -> (i32, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = lab_core::cli::run_captured(
        lab,
        ["lab", "graph", "--view", FAILURES_VIEW, "--format", format],
        &mut out,
        &mut err,
    );
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn a_lab_with_lab_pbs_kinds_has_the_view() {
    let seed = lab();
    assert!(seed.pictures().get(FAILURES_VIEW).is_some());
    let p = FailuresView.picture(&seed);
    assert_eq!(p.title, "home: failure domains");
    assert_eq!(
        cluster_of(&p, "proxmox.vm.immich@appliance.nas-a"),
        Some("appliance.nas-a")
    );
    assert_eq!(
        edge(
            &p,
            "pbs.datastore.primary--daily",
            "pbs.datastore.primary--archive"
        )
        .label,
        "archive · sun 04:00"
    );
    for (format, marker) in [
        ("svg", "<svg"),
        ("dot", "digraph"),
        ("mermaid", "flowchart"),
    ] {
        let (code, out, err) = graph(lab(), format);
        assert_eq!(code, 0, "{format}: {err}");
        assert!(out.contains(marker), "{format}: {out}");
        assert!(out.contains("nightly · 02:00"), "{format}: {out}");
    }
}

#[test]
fn a_lab_without_them_does_not() {
    let mut lab = Lab::new("home");
    lab.add(Appliance::new("nas-a").kind(ApplianceKind::Nas));
    assert!(lab.pictures().get(FAILURES_VIEW).is_none());
    let (code, _, err) = graph(lab, "mermaid");
    assert_ne!(code, 0);
    assert!(err.contains("failures"), "{err}");
}

#[test]
fn a_topology_the_analysis_refuses_draws_the_reason() {
    // pve1's local disk is never added: the node fails with an appliance
    // the lab does not have.
    let mut lab = Lab::new("home");
    let pbs = lab.register_provider_as(
        "primary",
        MemoryProvider::new()
            .with_kinds(lab_pbs::kinds::ALL)
            .shared(),
    );
    lab.add(Node::new("pve1").bridge("vmbr0").cores(4).memory_gb(8));
    let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
    lab.add(PbsServer::instance(&pbs, "10.0.0.20").on(&pbs_box));
    let p = FailuresView.picture(&lab);
    assert_eq!(p.nodes.len(), 1, "{p}");
    let error = &p.nodes[0];
    assert!(
        error
            .label
            .starts_with("cannot analyse the failure domains:")
            && error.label.contains("appliance.pve1-disk"),
        "{}",
        error.label
    );
    p.validate().unwrap();
    let (code, out, err) = graph(lab, "svg");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cannot analyse"));
}
