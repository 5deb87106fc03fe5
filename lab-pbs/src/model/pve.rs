//! The Proxmox VE side of a datastore: the `pbs` storage through which the
//! cluster writes backups into it and restores from it.

use lab_core::{Handle, Input, Resource};
use lab_proxmox::model::Storage;

use super::access::{Token, TokenOutputs};
use super::common::server_of;
use super::datastore::{Datastore, DatastoreOutputs};
use super::server::{PbsServer, ServerOutputs};

/// A PVE storage of type `pbs` (a lab-proxmox [`Storage`]) reading
/// `datastore` on `server` with `token`.
///
/// Everything PVE needs comes from the PBS side's outputs, so nothing is
/// written twice: the host and port the server answers on, its certificate
/// fingerprint (read from the server), the store name, and the token's id
/// and secret (a `Secret`, never printed). The storage also records which
/// datastore it reads (`pbs_datastore`), so the failure-domain analysis
/// follows a PVE backup job through it to the datastore's appliance. PVE
/// contacts the PBS when the storage is created, so it must be created
/// after the datastore, the token and its ACL: the first two are edges
/// already; say `.after(&acl)` for the ACL (`pbs::pve-storage-access`
/// reports a storage that does not).
///
/// The result is a lab-proxmox [`Storage`]: chain `.namespace(..)`,
/// `.prune_backups(..)`, `.node(..)` as for any PBS storage, and give its
/// handle to `BackupJob::new`.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_core::testing::MemoryProvider;
/// use lab_pbs::model::*;
///
/// let mut lab = Lab::new("home");
/// let pbs = lab.register_provider_as("primary", MemoryProvider::new().with_kinds(lab_pbs::kinds::ALL).shared());
/// let pbs_box = lab.add(Appliance::new("pbs-box").kind(ApplianceKind::BackupServer));
/// let primary = lab.add(PbsServer::instance(&pbs, "10.0.0.20").on(&pbs_box));
/// let daily = lab.add(Datastore::new(&primary, "daily", "/mnt/daily"));
/// let pve = lab.add(User::new(&primary, "pve@pbs"));
/// let token = lab.add(Token::new(&pve, "backup"));
/// let acl = lab.add(Acl::new(&token, Role::DatastoreBackup, &daily));
/// let storage = lab.add(PveStorage::new("pbs-daily", &primary, &daily, &token).after(&acl));
/// let spec = lab.resource(storage.address()).unwrap();
/// assert_eq!(spec.attrs["type"], Value::from("pbs"));
/// assert_eq!(spec.attrs["pbs_datastore"], Value::from("pbs.datastore.primary--daily"));
/// ```
pub struct PveStorage;

impl PveStorage {
    /// The storage `id` on the Proxmox cluster, reading `datastore` of
    /// `server` as `token`.
    #[track_caller]
    #[allow(clippy::new_ret_no_self)]
    pub fn new(
        id: &str,
        server: &Handle<PbsServer>,
        datastore: &Handle<Datastore>,
        token: &Handle<Token>,
    ) -> Storage {
        let mut storage = Storage::pbs(id, server.host(), datastore.store_name())
            .fingerprint(server.fingerprint())
            .token(token.tokenid(), token.secret());
        let spec = storage.spec_mut();
        spec.set_input::<i64>("port", Input::from(server.port()));
        spec.set("pbs_datastore", datastore.address().to_string());
        spec.depend_on(datastore, "pbs_datastore");
        // The storage is where PVE's backups meet PBS: the lab has backups.
        spec.command_set = Some(crate::commands::COMMANDS);
        spec.picture_set = Some(crate::picture::PICTURES);
        spec.note_set = Some(crate::notes::NOTES);
        let (store_server, token_server) = (server_of(datastore), server_of(token));
        let name = server.address().name();
        if store_server != name || token_server != name {
            let (what, other) = if store_server != name {
                ("datastore", store_server)
            } else {
                ("token", token_server)
            };
            spec.invalid(
                "pbs_datastore",
                format!("the {what} belongs to the PBS server `{other}`, not `{name}`"),
                "give the server the datastore and the token belong to",
            );
        }
        storage
    }
}
