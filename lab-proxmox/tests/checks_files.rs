//! `proxmox::file-on-other-node`: a guest cannot use a file that sits on
//! another node's own disk.

use lab_core::prelude::*;
use lab_proxmox::checks::FILE_NODE;
use lab_proxmox::model::*;

const URL: &str =
    "http://download.proxmox.com/images/system/debian-13-standard_13.1-2_amd64.tar.zst";

fn lab_with(shared: bool, same_node: bool) -> (Lab, u32) {
    let mut lab = Lab::new("home");
    let a = lab.add(Node::new("pve1").bridge("vmbr0"));
    let b = lab.add(Node::new("pve2").bridge("vmbr0"));
    let store = if shared {
        Storage::existing("tmpl").shared(true)
    } else {
        Storage::existing("local")
    };
    let store = lab.add(
        store
            .content(&[Content::Vztmpl, Content::Rootdir])
            .node(&a)
            .node(&b),
    );
    let file = lab.add(File::download("debian", &a, &store, Content::Vztmpl, URL));
    let on = if same_node { &a } else { &b };
    let line = line!() + 3; // the `.ostemplate(&file)` line
    lab.add(
        Container::new("ct", on)
            .ostemplate(&file)
            .rootfs(&store, "4G"),
    );
    (lab, line)
}

fn findings(lab: &Lab) -> Vec<Diagnostic> {
    lab.check()
        .into_iter()
        .filter(|d| d.code == FILE_NODE)
        .collect()
}

#[test]
fn a_template_on_another_nodes_local_disk_is_refused_at_the_line() {
    let (lab, line) = lab_with(false, false);
    let found = findings(&lab);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].file_line(), Some((file!(), line)));
    assert!(
        found[0].message.contains("runs on `pve2`"),
        "{}",
        found[0].message
    );
}

#[test]
fn the_same_node_or_a_shared_storage_is_fine() {
    assert!(findings(&lab_with(false, true).0).is_empty());
    assert!(findings(&lab_with(true, false).0).is_empty());
}
