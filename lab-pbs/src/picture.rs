//! The `failures` picture: the lab's failure domains at a glance
//! (`graph --view failures`).
//!
//! The `failures` command answers "what does losing this box cost?" as a
//! table; this view draws the same answer. Every appliance (a NAS, the PBS
//! box, each node's local disk) is a cluster, inside its site's when the
//! lab says where it stands, holding what lives on it: guests (and, on
//! another appliance, their disks), NAS pools, PBS datastores, backup
//! servers. Solid arrows are copies (the backup job, sync job or pool
//! replication with its schedule); dashed ones join a thing to what it
//! needs elsewhere (a server to the datastores it reads, a guest to its
//! disks). Everything comes from the failure-domain analysis
//! ([`Topology::analyze`]), so the picture and the `failures` table never
//! disagree: data that a single appliance loss loses (no restorable copy
//! on another appliance) is in the class [`LOST_CLASS`], its label naming
//! the loss, and the cluster of an appliance whose loss loses data says
//! so in its title.
//!
//! Every builder of this crate puts [`PICTURES`] on its spec, so a lab
//! with backups draws it with no line in its `main.rs`.

use std::sync::Arc;

use lab_core::picture::{Cluster, Edge, EdgeStyle, Node, Picture, PictureSet, PictureView, Shape};
use lab_core::{Address, ApplianceKind, Lab};

use crate::failures::{
    bytes, AnalysisOptions, DataKind, FailureReport, Outcome, Retention, Rpo, Topology,
};

/// The view's name: `graph --view failures`.
pub const FAILURES_VIEW: &str = "failures";

/// The class of data a single appliance loss loses (drawn in its own
/// colour, named in the legend).
pub const LOST_CLASS: &str = "lost by one appliance loss";

/// The class of a guest rebuilt from config or a pool holding no data of
/// its own: nothing to lose.
pub const REBUILT_CLASS: &str = "nothing to lose (rebuilt / replica)";

/// Every class with its fill and stroke, pinned so a class looks the same
/// in every lab's picture: the data blue (pools cyan), the copies green,
/// the servers amber, what one loss loses red, what has nothing to lose
/// grey.
const CLASS_COLORS: [(&str, &str, &str); 7] = [
    ("guest", "#dbeafe", "#1d4ed8"),
    ("NAS pool", "#cffafe", "#0e7490"),
    ("PBS datastore", "#dcfce7", "#15803d"),
    ("PBS server", "#fef3c7", "#b45309"),
    (LOST_CLASS, "#fee2e2", "#b91c1c"),
    (REBUILT_CLASS, "#f5f5f4", "#78716c"),
    ("error", "#fee2e2", "#b91c1c"),
];

/// A prune job as the picture shows it on its datastore: what a copy
/// there keeps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruning {
    /// The datastore it prunes.
    pub datastore: Address,
    /// When it runs, as written.
    pub schedule: String,
    /// What it keeps.
    pub retention: Retention,
}

/// The lab's prune jobs (`pbs.prune_job`), in declaration order.
pub fn prunings_of(lab: &Lab) -> Vec<Pruning> {
    lab.resources()
        .filter(|s| s.kind() == crate::kinds::PRUNE_JOB)
        .filter_map(|s| {
            let text = |k: &str| s.attrs.get(k).and_then(lab_core::Value::as_str);
            Some(Pruning {
                datastore: Address::parse(text("datastore")?)?,
                schedule: text("schedule").unwrap_or("").to_string(),
                retention: crate::failures::lower::retention_of(s),
            })
        })
        .collect()
}

/// lab-pbs's pictures, carried by every spec its builders make.
pub const PICTURES: PictureSet = PictureSet { name: "pbs", views };

fn views() -> Vec<Arc<dyn PictureView>> {
    vec![Arc::new(FailuresView)]
}

/// The failure domains: appliances as clusters, the data and its copies
/// on them, what one loss loses highlighted (see the module docs).
#[derive(Clone, Copy, Debug, Default)]
pub struct FailuresView;

impl PictureView for FailuresView {
    fn name(&self) -> &str {
        FAILURES_VIEW
    }

    fn about(&self) -> &str {
        "the failure domains: appliances, the data on each and its copies, what one loss loses"
    }

    fn picture(&self, lab: &Lab) -> Picture {
        let title = format!("{}: failure domains", lab.name());
        let topology = Topology::of_lab(lab);
        // A fixed horizon (the analysis' default date), so the same lab
        // always draws the same bytes.
        match topology.analyze(&AnalysisOptions::default()) {
            Ok(report) => draw(title, &report, &prunings_of(lab)),
            Err(e) => colored(Picture::new(title)).node(
                Node::new(
                    "error",
                    format!("cannot analyse the failure domains:\n{e}\n(`lab check` says where)"),
                )
                .class("error")
                .shape(Shape::Box),
            ),
        }
    }
}

/// The picture of an analysed topology, with what `prunings` keep on each
/// datastore.
pub fn draw(title: String, report: &FailureReport<'_>, prunings: &[Pruning]) -> Picture {
    let t = report.topology();
    let r = &report.resolved;
    let mut p = colored(Picture::new(title))
        .edge_meaning(EdgeStyle::Solid, "a copy: job and schedule")
        .edge_meaning(
            EdgeStyle::Dashed,
            "needs: a server reads its datastores, a guest its disks",
        );

    // Sites, then appliances inside them.
    let mut sites: Vec<&str> = Vec::new();
    for a in &t.appliances {
        if let Some(site) = a.site.as_deref() {
            if !sites.contains(&site) {
                sites.push(site);
                p = p.cluster(Cluster::new(site_id(site), format!("site {site}")));
            }
        }
    }
    for (a, app) in t.appliances.iter().enumerate() {
        let mut label = format!("{} · {}", app.address.name(), kind_text(app.kind));
        let lost: Vec<&str> = report
            .singles()
            .find(|s| s.lost_ix == [a])
            .map(|s| {
                s.lost_data()
                    .filter(|d| !report.data[*d].rebuildable)
                    .map(|d| report.data[d].address.name())
                    .collect()
            })
            .unwrap_or_default();
        if !lost.is_empty() {
            label.push_str(&format!(" · its loss loses {}", lost.join(", ")));
        }
        let mut cluster = Cluster::new(appliance_id(&app.address), label);
        if let Some(site) = app.site.as_deref() {
            cluster = cluster.inside(site_id(site));
        }
        p = p.cluster(cluster);
    }

    // The data items: each in the first appliance it lives on.
    for (i, d) in report.data.iter().enumerate() {
        let lost_with = lost_with(report, i);
        let class = if d.rebuildable {
            REBUILT_CLASS
        } else if !lost_with.is_empty() {
            LOST_CLASS
        } else if d.kind == DataKind::Guest {
            "guest"
        } else {
            "NAS pool"
        };
        let mut lines = vec![d.address.name().to_string()];
        match d.kind {
            DataKind::Guest => {
                let g = t.guests.iter().find(|g| g.address == d.address);
                let size: u64 = g
                    .map(|g| g.disks.iter().map(|k| k.bytes).sum())
                    .unwrap_or(0);
                let kind = short_kind(&d.address);
                lines.push(if size > 0 {
                    format!("{kind} · {}", bytes(size))
                } else {
                    kind.to_string()
                });
            }
            DataKind::Pool => {
                let used = t
                    .pools
                    .iter()
                    .find(|p| p.address == d.address)
                    .and_then(|p| p.used_bytes);
                lines.push(match used {
                    Some(u) => format!("pool · {} used", bytes(u)),
                    None => "pool".to_string(),
                });
            }
        }
        if !d.rebuildable {
            lines.push(risk_line(report, i, &lost_with));
        }
        let shape = match d.kind {
            DataKind::Guest => Shape::Rounded,
            DataKind::Pool => Shape::Cylinder,
        };
        let live = &r.live[i];
        let mut node = Node::new(d.address.as_str(), lines.join("\n"))
            .class(class)
            .shape(shape);
        if let Some(first) = live.first() {
            node = node.in_cluster(appliance_id(&t.appliances[*first].address));
        }
        p = p.node(node);
        // A guest's disks on other appliances: a node there, joined to it.
        for a in live.iter().skip(1) {
            let app = &t.appliances[*a].address;
            let id = format!("{}@{}", d.address, app);
            p = p
                .node(
                    Node::new(&id, format!("{} disks", d.address.name()))
                        .class(class)
                        .shape(Shape::Cylinder)
                        .in_cluster(appliance_id(app)),
                )
                .edge(Edge::new(d.address.as_str(), id).style(EdgeStyle::Dashed));
        }
    }

    // Datastores and the servers that read them.
    for ds in &t.datastores {
        let (_, name) = split_name(ds.address.name());
        let mut lines = vec![
            name.to_string(),
            format!("datastore of {}", ds.server.name()),
        ];
        if let Some(role) = ds.role {
            lines.push(format!("{role} copy"));
        }
        let pruned: Vec<&Pruning> = prunings
            .iter()
            .filter(|p| p.datastore == ds.address)
            .collect();
        if !ds.retention.keeps_all() {
            lines.push(format!("keeps {}", kept(&ds.retention)));
        }
        for p in &pruned {
            lines.push(format!("pruned {}:", p.schedule));
            lines.push(kept(&p.retention));
        }
        if ds.retention.keeps_all() && pruned.is_empty() {
            lines.push("keeps everything".to_string());
        }
        p = p.node(
            Node::new(ds.address.as_str(), lines.join("\n"))
                .class("PBS datastore")
                .shape(Shape::Cylinder)
                .in_cluster(appliance_id(&ds.appliance)),
        );
    }
    for (s, server) in t.servers.iter().enumerate() {
        let fails = &r.server_fails[s];
        let mut lines = vec![server.address.name().to_string(), "PBS server".to_string()];
        if fails.len() > 1 {
            let others: Vec<&str> = fails[1..]
                .iter()
                .map(|a| t.appliances[*a].address.name())
                .collect();
            lines.push(format!("also fails with {}", others.join(", ")));
        }
        let mut node = Node::new(server.address.as_str(), lines.join("\n"))
            .class("PBS server")
            .shape(Shape::Box);
        if let Some(first) = fails.first() {
            node = node.in_cluster(appliance_id(&t.appliances[*first].address));
        }
        p = p.node(node);
    }

    // Copies: backup jobs from the data, syncs and replications between
    // places; then what reads what.
    let has_node = |p: &Picture, a: &Address| p.find_node(a.as_str()).is_some();
    for j in &t.backup_jobs {
        if !has_node(&p, &j.datastore) {
            continue;
        }
        let label = job_label(&j.address, j.schedule.text());
        for d in &report.data {
            if j.selection.selects(&d.address, d.kind == DataKind::Guest) {
                p = p.edge(Edge::new(d.address.as_str(), j.datastore.as_str()).label(&label));
            }
        }
    }
    for (from, to, job, schedule) in t
        .sync_jobs
        .iter()
        .map(|j| (&j.from, &j.to, &j.address, j.schedule.text()))
        .chain(
            t.replications
                .iter()
                .map(|j| (&j.from, &j.to, &j.address, j.schedule.text())),
        )
    {
        if has_node(&p, from) && has_node(&p, to) {
            p = p.edge(Edge::new(from.as_str(), to.as_str()).label(job_label(job, schedule)));
        }
    }
    for ds in &t.datastores {
        if has_node(&p, &ds.server) {
            p = p.edge(
                Edge::new(ds.server.as_str(), ds.address.as_str())
                    .label("reads")
                    .style(EdgeStyle::Dashed),
            );
        }
    }
    p
}

/// `picture` with this view's class colours.
fn colored(picture: Picture) -> Picture {
    CLASS_COLORS
        .iter()
        .fold(picture, |p, (class, fill, stroke)| {
            p.class_color(*class, *fill, *stroke)
        })
}

/// The names of the appliances whose single loss loses item `data`.
fn lost_with<'r>(report: &'r FailureReport<'_>, data: usize) -> Vec<&'r str> {
    report
        .singles()
        .filter(|s| s.outcome(data) == Outcome::Lost)
        .flat_map(|s| s.lost.iter().map(Address::name))
        .collect()
}

/// What the worst single loss costs the item: `LOST if nas-a fails`,
/// `up to 8d lost if nas-a fails`, `no copy` or `no loss loses data`.
fn risk_line(report: &FailureReport<'_>, data: usize, lost_with: &[&str]) -> String {
    if !lost_with.is_empty() {
        return format!("LOST if {} fails", lost_with.join(" or "));
    }
    let worst = report
        .singles()
        .map(|s| (s.outcome(data).rpo(), s))
        .filter(|(rpo, _)| *rpo != Rpo::Zero)
        .max_by_key(|(rpo, _)| *rpo);
    match worst {
        Some((rpo, s)) => {
            let names: Vec<&str> = s.lost.iter().map(Address::name).collect();
            let names = names.join(" and ");
            match rpo {
                Rpo::Unbounded => format!("a copy that ages without bound if {names} fails"),
                _ => format!("up to {rpo} lost if {names} fails"),
            }
        }
        None if report.data[data].copies.is_empty() => "no copy".to_string(),
        None => "no loss loses data".to_string(),
    }
}

/// `7 daily, 4 weekly`: what a retention keeps, short enough for a box.
fn kept(retention: &Retention) -> String {
    if retention.keeps_all() {
        return "everything".to_string();
    }
    let parts: Vec<String> = retention
        .buckets()
        .iter()
        .filter_map(|(name, n)| n.map(|n| format!("{n} {}", name.trim_start_matches("keep-"))))
        .collect();
    parts.join(", ")
}

fn appliance_id(address: &Address) -> String {
    address.as_str().to_string()
}

fn site_id(site: &str) -> String {
    format!("site:{site}")
}

fn kind_text(kind: ApplianceKind) -> &'static str {
    match kind {
        ApplianceKind::Nas => "NAS",
        ApplianceKind::NodeDisk => "node disk",
        ApplianceKind::BackupServer => "backup server",
        ApplianceKind::Offsite => "off-site",
        ApplianceKind::Other => "appliance",
    }
}

/// `vm`, `ct`: the last part of a guest's kind.
fn short_kind(address: &Address) -> &str {
    address.kind().rsplit('.').next().unwrap_or("guest")
}

/// `(server, name)` of a `<server>--<name>` address name (lab-pbs names
/// its resources so); a name without `--` is all name.
fn split_name(name: &str) -> (&str, &str) {
    name.split_once("--").unwrap_or(("", name))
}

/// `nightly · 02:00`: a job's name (without its server) and schedule.
fn job_label(job: &Address, schedule: &str) -> String {
    let (_, name) = split_name(job.name());
    format!("{name} · {schedule}")
}
