//! The report as text: the loss table, the copies of each item, and a
//! Mermaid picture. All three follow the topology's order, so the same
//! topology always renders the same text.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use lab_core::{Address, ApplianceKind};

use super::analysis::{FailureReport, Outcome, Rpo};
use super::checks::count;

/// `1d 2h`, `15m`, `45s`: the non-zero units, largest first.
pub fn duration(d: Duration) -> String {
    let mut s = d.as_secs();
    if s == 0 {
        return "0s".into();
    }
    let mut parts = Vec::new();
    for (unit, len) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if s >= len {
            parts.push(format!("{}{unit}", s / len));
            s %= len;
        }
    }
    parts.join(" ")
}

/// `1.5 TiB`: binary units, one decimal.
pub fn bytes(n: u64) -> String {
    let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", units[u])
}

/// `a, b, c` or `a, b, c and 4 more`.
pub(crate) fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        items.join(", ")
    } else {
        format!("{} and {} more", items[..max].join(", "), items.len() - max)
    }
}

/// Rows of cells as aligned columns separated by ` | `, a rule under the
/// header.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join(" | ").trim_end());
        out.push('\n');
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            out.push_str(&rule.join("-+-"));
            out.push('\n');
        }
    }
    out
}

fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;")
}

impl FailureReport<'_> {
    /// The loss table: one row per scenario.
    ///
    /// `appliance lost | data lost | still restorable from | worst RPO |
    /// capacity`: the items with nothing left; the places restores come
    /// from, with how many items each; the worst data-loss window among
    /// the restorable items (`0` when no live data is lost); whether the
    /// surviving nodes carry the guests that must keep running and the
    /// surviving pools hold the pools lost (first-fit decreasing; `-` when
    /// no node or pool is lost).
    pub fn render_table(&self) -> String {
        let mut rows = vec![vec![
            "appliance lost".to_string(),
            "data lost".into(),
            "still restorable from".into(),
            "worst RPO".into(),
            "capacity".into(),
        ]];
        for s in &self.scenarios {
            let lost: Vec<String> = s
                .lost_data()
                .map(|i| {
                    let d = &self.data[i];
                    if d.rebuildable {
                        format!("{} ({})", d.address, nothing_to_lose(d))
                    } else {
                        d.address.to_string()
                    }
                })
                .collect();
            // (place, the server to rebuild first) -> items
            let mut from: BTreeMap<(&Address, Option<&Address>), usize> = BTreeMap::new();
            for a in &s.affected {
                if let Outcome::Restorable {
                    copy,
                    rebuild_server,
                    ..
                } = a.outcome
                {
                    let c = &self.data[a.data].copies[copy];
                    let rebuild = c.server.as_ref().filter(|_| rebuild_server);
                    *from.entry((&c.place, rebuild)).or_default() += 1;
                }
            }
            let from: Vec<String> = from
                .iter()
                .map(|((place, rebuild), n)| match rebuild {
                    Some(server) => format!("{place} ({n}, once {server} is rebuilt)"),
                    None => format!("{place} ({n})"),
                })
                .collect();
            let rpo = match s.worst_rpo() {
                Some((item, rpo)) => format!("{rpo} ({})", self.data[item].address),
                None if s.affected.is_empty() => Rpo::Zero.to_string(),
                None => "-".into(),
            };
            let mut capacity = Vec::new();
            if !self.topology.nodes.is_empty() && s.nodes_down.len() == self.topology.nodes.len() {
                capacity.push("no node left".to_string());
            } else if let Some(c) = &s.node_capacity {
                capacity.push(if c.fits() {
                    format!("nodes ok ({} moved)", count(c.placed.len(), "guest"))
                } else {
                    format!(
                        "nodes short: {} without room",
                        count(c.unplaced.len(), "guest")
                    )
                });
            }
            if let Some(c) = &s.nas_capacity {
                capacity.push(if c.fits() {
                    format!("pools ok ({} restored)", count(c.placed.len(), "pool"))
                } else {
                    format!(
                        "pools short: {} without room",
                        count(c.unplaced.len(), "pool")
                    )
                });
                if !c.served_by_replica.is_empty() {
                    capacity.push(format!(
                        "{} served by a replica",
                        count(c.served_by_replica.len(), "pool")
                    ));
                }
                if !c.unknown_size.is_empty() {
                    capacity.push(format!(
                        "{} of unknown size",
                        count(c.unknown_size.len(), "pool")
                    ));
                }
            }
            rows.push(vec![
                addresses_joined(&s.lost, " + "),
                if lost.is_empty() {
                    "-".into()
                } else {
                    list(&lost, 3)
                },
                if from.is_empty() {
                    "-".into()
                } else {
                    from.join(", ")
                },
                rpo,
                if capacity.is_empty() {
                    "-".into()
                } else {
                    capacity.join("; ")
                },
            ]);
        }
        table(&rows)
    }

    /// Each item: where it lives, and each copy with its role, place,
    /// appliance, server, worst age and job chain.
    pub fn render_copies(&self) -> String {
        let mut out = String::new();
        for d in &self.data {
            let _ = write!(
                out,
                "{} lives on {}",
                d.address,
                addresses_joined(&d.lives_on, ", ")
            );
            if d.rebuildable {
                out.push_str(&format!(" ({})", nothing_to_lose(d)));
            }
            out.push('\n');
            if d.copies.is_empty() {
                out.push_str("  no copy\n");
            }
            for c in &d.copies {
                let chain: Vec<String> = c
                    .via
                    .iter()
                    .map(|h| {
                        let every = h.worst_gap.map_or("never again".into(), duration);
                        format!("{} `{}` (every {every})", h.job, h.schedule)
                    })
                    .collect();
                let server = c
                    .server
                    .as_ref()
                    .map(|s| format!(", read by {s}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  {:<7} {} on {}{server}, at most {} old: {}",
                    c.role.to_string(),
                    c.place,
                    c.appliance,
                    c.worst_age,
                    chain.join(" then ")
                );
            }
        }
        out
    }

    /// The copies, then the loss table.
    pub fn render_text(&self) -> String {
        format!("{}\n{}", self.render_copies(), self.render_table())
    }

    /// A Mermaid flowchart: appliances as subgraphs (inside their site's
    /// when a site is given) holding the guests, pools, datastores and
    /// servers on them; copies as edges labelled with the job and its
    /// schedule; each server linked to the datastores it reads. An item on
    /// several appliances sits in the first and is linked to the others
    /// with a dotted line.
    pub fn render_mermaid(&self) -> String {
        let t = self.topology;
        let r = &self.resolved;
        // What sits in each appliance's subgraph.
        let mut inside: Vec<Vec<String>> = vec![Vec::new(); t.appliances.len()];
        let mut links = Vec::new();
        for (g, guest) in t.guests.iter().enumerate() {
            let id = format!("g{g}");
            let live = &r.live[g];
            inside[live[0]].push(format!(
                "{id}[\"{}\"]",
                mermaid_text(guest.address.as_str())
            ));
            links.extend(live[1..].iter().map(|a| format!("{id} -.- a{a}")));
        }
        for (p, pool) in t.pools.iter().enumerate() {
            inside[r.pool_appliance[p]].push(format!(
                "p{p}[(\"{}\")]",
                mermaid_text(pool.address.as_str())
            ));
        }
        let ds_appliance: Vec<usize> = t
            .datastores
            .iter()
            .map(|d| {
                t.appliances
                    .iter()
                    .position(|a| a.address == d.appliance)
                    .expect("resolved")
            })
            .collect();
        for (i, d) in t.datastores.iter().enumerate() {
            inside[ds_appliance[i]]
                .push(format!("ds{i}[(\"{}\")]", mermaid_text(d.address.as_str())));
        }
        for (i, s) in t.servers.iter().enumerate() {
            let fails = &r.server_fails[i];
            let id = format!("s{i}");
            let text = format!("{id}{{{{\"{}\"}}}}", mermaid_text(s.address.as_str()));
            match fails.split_first() {
                Some((first, rest)) => {
                    inside[*first].push(text);
                    links.extend(rest.iter().map(|a| format!("{id} -.- a{a}")));
                }
                None => links.push(text),
            }
        }
        let mut out = String::from("flowchart LR\n");
        let subgraph = |out: &mut String, a: usize, indent: &str| {
            let app = &t.appliances[a];
            let kind = match app.kind {
                ApplianceKind::Nas => "nas",
                ApplianceKind::NodeDisk => "node disk",
                ApplianceKind::BackupServer => "backup server",
                ApplianceKind::Offsite => "off-site",
                ApplianceKind::Other => "other",
            };
            let _ = writeln!(
                out,
                "{indent}subgraph a{a}[\"{} ({kind})\"]",
                mermaid_text(app.address.as_str())
            );
            for line in &inside[a] {
                let _ = writeln!(out, "{indent}  {line}");
            }
            let _ = writeln!(out, "{indent}end");
        };
        let mut sites: Vec<&str> = Vec::new();
        for app in &t.appliances {
            if let Some(site) = app.site.as_deref() {
                if !sites.contains(&site) {
                    sites.push(site);
                }
            }
        }
        for (i, site) in sites.iter().enumerate() {
            let _ = writeln!(out, "  subgraph site{i}[\"site {}\"]", mermaid_text(site));
            for a in
                (0..t.appliances.len()).filter(|a| t.appliances[*a].site.as_deref() == Some(site))
            {
                subgraph(&mut out, a, "    ");
            }
            out.push_str("  end\n");
        }
        for a in (0..t.appliances.len()).filter(|a| t.appliances[*a].site.is_none()) {
            subgraph(&mut out, a, "  ");
        }
        let ds_index = |addr: &Address| t.datastores.iter().position(|d| &d.address == addr);
        let pool_index = |addr: &Address| t.pools.iter().position(|d| &d.address == addr);
        for j in &t.backup_jobs {
            let Some(ds) = ds_index(&j.datastore) else {
                continue;
            };
            let label = mermaid_text(&format!("{} {}", j.address.name(), j.schedule.text()));
            for (g, guest) in t.guests.iter().enumerate() {
                if j.selection.selects(&guest.address, true) {
                    let _ = writeln!(out, "  g{g} -->|\"{label}\"| ds{ds}");
                }
            }
            for (p, pool) in t.pools.iter().enumerate() {
                if j.selection.selects(&pool.address, false) {
                    let _ = writeln!(out, "  p{p} -->|\"{label}\"| ds{ds}");
                }
            }
        }
        for j in &t.sync_jobs {
            if let (Some(a), Some(b)) = (ds_index(&j.from), ds_index(&j.to)) {
                let label = mermaid_text(&format!("{} {}", j.address.name(), j.schedule.text()));
                let _ = writeln!(out, "  ds{a} -->|\"{label}\"| ds{b}");
            }
        }
        for j in &t.replications {
            if let (Some(a), Some(b)) = (pool_index(&j.from), pool_index(&j.to)) {
                let label = mermaid_text(&format!("{} {}", j.address.name(), j.schedule.text()));
                let _ = writeln!(out, "  p{a} -->|\"{label}\"| p{b}");
            }
        }
        for (i, d) in t.datastores.iter().enumerate() {
            if let Some(s) = t.servers.iter().position(|s| s.address == d.server) {
                let _ = writeln!(out, "  s{s} -.->|reads| ds{i}");
            }
        }
        for l in links {
            let _ = writeln!(out, "  {l}");
        }
        out
    }
}

fn addresses_joined(items: &[Address], sep: &str) -> String {
    items
        .iter()
        .map(Address::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Why an item needs no copy: a guest is rebuilt from config, a pool holds
/// no data of its own.
fn nothing_to_lose(d: &super::analysis::DataReport) -> &'static str {
    match d.kind {
        super::analysis::DataKind::Guest => "rebuilt from config",
        super::analysis::DataKind::Pool => "no data of its own",
    }
}
