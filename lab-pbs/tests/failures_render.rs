//! `lab_pbs::failures` renderings of the seed's design: the loss table,
//! the copies and the Mermaid picture, snapshot-tested (insta).

mod failures_fixtures;
use failures_fixtures::*;

#[test]
fn the_seed_renders_as_a_table() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_table(), @r#"
    appliance lost      | data lost                                  | still restorable from     | worst RPO                   | capacity
    --------------------+--------------------------------------------+---------------------------+-----------------------------+---------------------------
    appliance.pve1-disk | proxmox.vm.talos-cp1 (rebuilt from config) | -                         | -                           | nodes ok (2 guests moved)
    appliance.pve2-disk | -                                          | pbs.datastore.daily (1)   | 1d (proxmox.ct.paperless)   | nodes ok (1 guest moved)
    appliance.nas1      | -                                          | pbs.datastore.daily (2)   | 1d (proxmox.vm.immich)      | pools ok (1 pool restored)
    appliance.nas2      | -                                          | pbs.datastore.archive (1) | 8d (proxmox.nas_pool.media) | pools ok (1 pool restored)
    appliance.pbs       | -                                          | -                         | 0                           | -
    appliance.offsite   | -                                          | -                         | 0                           | -
    "#);
}

#[test]
fn the_seed_renders_its_copies() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_copies(), @r#"
    proxmox.vm.immich lives on appliance.nas1
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.nightly `02:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.nightly `02:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.ct.paperless lives on appliance.pve2-disk
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.nightly `02:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.nightly `02:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.vm.talos-cp1 lives on appliance.pve1-disk (rebuilt from config)
      no copy
    proxmox.nas_pool.photos lives on appliance.nas1
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.shares `03:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.shares `03:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    proxmox.nas_pool.media lives on appliance.nas2
      daily   pbs.datastore.daily on appliance.nas2, read by pbs.server.main, at most 1d old: pbs.backup_job.shares `03:00` (every 1d)
      archive pbs.datastore.archive on appliance.offsite, read by pbs.server.offsite, at most 8d old: pbs.backup_job.shares `03:00` (every 1d) then pbs.sync_job.offsite `sun 04:00` (every 7d)
    "#);
}

#[test]
fn the_seed_renders_as_mermaid() {
    let t = seed();
    let report = analyze(&t);
    insta::assert_snapshot!(report.render_mermaid(), @r#"
    flowchart LR
      subgraph site0["site home"]
        subgraph a0["appliance.pve1-disk (node disk)"]
          g2["proxmox.vm.talos-cp1"]
        end
        subgraph a1["appliance.pve2-disk (node disk)"]
          g1["proxmox.ct.paperless"]
        end
        subgraph a2["appliance.nas1 (nas)"]
          g0["proxmox.vm.immich"]
          p0[("proxmox.nas_pool.photos")]
        end
        subgraph a3["appliance.nas2 (nas)"]
          p1[("proxmox.nas_pool.media")]
          ds0[("pbs.datastore.daily")]
        end
        subgraph a4["appliance.pbs (backup server)"]
          s0{{"pbs.server.main"}}
        end
      end
      subgraph site1["site friend"]
        subgraph a5["appliance.offsite (off-site)"]
          ds1[("pbs.datastore.archive")]
          s1{{"pbs.server.offsite"}}
        end
      end
      g0 -->|"nightly 02:00"| ds0
      g1 -->|"nightly 02:00"| ds0
      p0 -->|"shares 03:00"| ds0
      p1 -->|"shares 03:00"| ds0
      ds0 -->|"offsite sun 04:00"| ds1
      s0 -.->|reads| ds0
      s1 -.->|reads| ds1
    "#);
}
