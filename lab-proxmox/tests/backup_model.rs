//! PBS storages and backup jobs: what the builders lower, and the
//! diagnostics at the user's lines.

use lab_core::checks::builtin::INVALID_VALUE;
use lab_core::prelude::*;
use lab_core::value::decode;
use lab_proxmox::checks;
use lab_proxmox::kinds::{BackupJobSpec, Retention, StorageSpec};
use lab_proxmox::model::*;

const FP: &str = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89";

fn lab() -> Lab {
    let mut lab = Lab::new("t");
    checks::register(&mut lab);
    lab
}

fn codes<'a>(diags: &'a [Diagnostic], code: &str) -> Vec<&'a Diagnostic> {
    diags.iter().filter(|d| d.code == code).collect()
}

/// The line a diagnostic's first label points at.
fn line_of(d: &Diagnostic) -> u32 {
    d.labels[0].loc.line()
}

#[test]
fn a_pbs_storage_lowers_to_its_spec() {
    let mut lab = lab();
    let pbs = lab.add(
        Storage::pbs("pbs-daily", "127.0.0.1", "daily")
            .namespace("pve1")
            .port(8007)
            .token("backup@pbs!pve", Secret::new("s3cret"))
            .fingerprint(FP)
            .prune_backups(Retention::new().keep_last(3).keep_daily(7)),
    );
    let spec = lab.resource(pbs.address()).unwrap();
    let s: StorageSpec = decode(&spec.attrs).unwrap();
    assert!(s.is_pbs());
    assert_eq!(s.server, "127.0.0.1");
    assert_eq!(s.datastore.as_deref(), Some("daily"));
    assert_eq!(s.namespace.as_deref(), Some("pve1"));
    assert_eq!(s.port, Some(8007));
    assert_eq!(s.username.as_deref(), Some("backup@pbs!pve"));
    assert_eq!(s.password.as_ref().unwrap().expose(), "s3cret");
    assert_eq!(s.content, vec!["backup"]);
    assert_eq!(
        s.prune_backups.unwrap().to_property_string(),
        "keep-daily=7,keep-last=3"
    );
    assert!(lab.check().iter().all(|d| !d.is_blocking()));
}

#[test]
fn pbs_inputs_may_be_other_resources_outputs() {
    let mut lab = lab();
    // Any resource's outputs stand in for a lab-pbs datastore and token.
    let other = lab.add(Pool::new("stand-in"));
    let server: Output<String> = other.poolid();
    let secret: Output<Secret> = Handle::<Pool>::output(&other, "secret");
    let pbs = lab.add(Storage::pbs("pbs", server, "daily").token("backup@pbs!pve", secret));
    let spec = lab.resource(pbs.address()).unwrap();
    assert!(matches!(spec.attrs["server"], Value::Ref(_)));
    assert!(matches!(spec.attrs["password"], Value::Ref(_)));
    let vias: Vec<&str> = spec.deps.iter().map(|d| d.via.as_str()).collect();
    assert_eq!(vias, ["server", "password"]);
}

#[test]
fn bad_pbs_values_are_reported_at_their_lines() {
    let mut lab = lab();
    let line = line!() + 2;
    lab.add(
        Storage::pbs("pbs", "127.0.0.1", "x")
            .token("backup@pbs", Secret::new("s"))
            .fingerprint("AB:CD")
            .content(&[Content::Images]),
    );
    let diags = lab.check();
    let invalid = codes(&diags, INVALID_VALUE);
    let lines: Vec<u32> = invalid.iter().map(|d| line_of(d)).collect();
    assert_eq!(lines, [line, line + 1, line + 2, line + 3], "{invalid:#?}");
    assert!(invalid[0].message.contains("datastore name"));
    assert!(invalid[1].message.contains("token id"));
    assert!(invalid[2].message.contains("fingerprint"));
    assert!(invalid[3].message.contains("backups only"));
}

#[test]
fn nfs_only_and_pbs_only_calls_say_so() {
    let mut lab = lab();
    let line = line!() + 1;
    lab.add(Storage::pbs("pbs", "127.0.0.1", "daily").mount_options("vers=4.2"));
    lab.add(Storage::existing("local").namespace("x"));
    let diags = lab.check();
    let invalid = codes(&diags, INVALID_VALUE);
    assert_eq!(invalid.len(), 2);
    assert_eq!(line_of(invalid[0]), line);
    assert!(invalid[1].message.contains("PBS storages only"));
}

#[test]
fn a_backup_job_lowers_to_its_spec() {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1"));
    let pbs = lab.add(Storage::pbs("pbs", "127.0.0.1", "daily"));
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Rootdir]));
    let web = lab.add(Vm::new("web", &pve1).vmid(101));
    let db = lab.add(
        Container::new("db", &pve1)
            .vmid(102)
            .ostemplate_volid("local:vztmpl/debian-13.tar.zst")
            .rootfs(&lvm, "8G"),
    );
    let job = lab.add(
        BackupJob::new("nightly", &pbs, "*-*-* 02:30")
            .guest(&web)
            .guest(&db)
            .node(&pve1)
            .mode(BackupMode::Stop)
            .compress(Compress::Zstd)
            .retention(Retention::new().keep_weekly(4))
            .notes_template("{{guestname}}")
            .comment("to the daily store"),
    );
    let spec = lab.resource(job.address()).unwrap();
    let vias: Vec<(String, &str)> = spec
        .deps
        .iter()
        .map(|d| (d.on.to_string(), d.via.as_str()))
        .collect();
    assert_eq!(
        vias,
        [
            ("proxmox.storage.pbs".to_string(), "storage"),
            ("proxmox.vm.web".to_string(), "vmids"),
            ("proxmox.ct.db".to_string(), "vmids"),
            ("proxmox.node.pve1".to_string(), "node"),
        ]
    );
    // References stand for any value at check time.
    assert!(
        lab.check().iter().all(|d| !d.is_blocking()),
        "{:#?}",
        lab.check()
    );
    let mut attrs = spec.attrs.clone();
    attrs.insert(
        "vmids".into(),
        Value::List(vec![Value::Int(101), Value::Int(102)]),
    );
    let j: BackupJobSpec = decode(&attrs).unwrap();
    assert_eq!(j.id, "nightly");
    assert_eq!(j.storage, "pbs");
    assert_eq!(j.mode.as_deref(), Some("stop"));
    assert_eq!(j.compress.as_deref(), Some("zstd"));
    assert!(j.enabled);
    assert_eq!(j.prune_backups.unwrap().keep_weekly, Some(4));
}

#[test]
fn a_bad_schedule_is_reported_where_it_was_written() {
    let mut lab = lab();
    let pbs = lab.add(Storage::pbs("pbs", "127.0.0.1", "daily"));
    let line = line!() + 1;
    lab.add(BackupJob::new("nightly", &pbs, "*-*-* 25:00").all());
    let diags = lab.check();
    let invalid = codes(&diags, INVALID_VALUE);
    assert_eq!(invalid.len(), 1, "{diags:#?}");
    assert_eq!(line_of(invalid[0]), line);
    assert!(
        invalid[0].message.contains("25:00"),
        "{}",
        invalid[0].message
    );
}

#[test]
fn a_bad_job_id_is_refused() {
    let mut lab = lab();
    let pbs = lab.add(Storage::pbs("pbs", "127.0.0.1", "daily"));
    lab.add(BackupJob::new("1nightly", &pbs, "daily").all());
    let diags = lab.check();
    assert_eq!(codes(&diags, INVALID_VALUE).len(), 1, "{diags:#?}");
}

#[test]
fn selections_that_pve_refuses_are_errors_at_their_lines() {
    let mut lab = lab();
    let pve1 = lab.add(Node::new("pve1"));
    let pbs = lab.add(Storage::pbs("pbs", "127.0.0.1", "daily"));
    let web = lab.add(Vm::new("web", &pve1));
    let empty_line = line!() + 1;
    lab.add(BackupJob::new("empty", &pbs, "daily"));
    let both_line = line!() + 1;
    lab.add(BackupJob::new("both", &pbs, "daily").guest(&web).all());
    let excl_line = line!() + 4;
    lab.add(
        BackupJob::new("excl", &pbs, "daily")
            .vmid(100)
            .exclude_vmid(101),
    );
    lab.add(BackupJob::new("fine", &pbs, "daily").all().exclude(&web));
    let diags = lab.check();
    let sel = codes(&diags, checks::BACKUP_SELECTION);
    assert_eq!(sel.len(), 3, "{sel:#?}");
    assert!(sel[0].message.contains("selects no guest"));
    assert_eq!(line_of(sel[0]), empty_line);
    assert!(sel[1].message.contains("2 ways"));
    assert_eq!(line_of(sel[1]), both_line);
    assert_eq!(sel[1].labels[1].loc.line(), both_line);
    assert_eq!(sel[1].labels.len(), 2);
    assert!(sel[2].message.contains("excludes"));
    assert_eq!(line_of(sel[2]), excl_line);
}

#[test]
fn a_job_onto_a_storage_without_backup_content_is_an_error() {
    let mut lab = lab();
    let lvm = lab.add(Storage::existing("local-lvm").content(&[Content::Images]));
    let line = line!() + 1;
    lab.add(BackupJob::new("nightly", &lvm, "daily").all());
    let diags = lab.check();
    let c = codes(&diags, checks::STORAGE_CONTENT);
    assert_eq!(c.len(), 1, "{diags:#?}");
    assert_eq!(line_of(c[0]), line);
    assert!(c[0].message.contains("`backup`"));
}
