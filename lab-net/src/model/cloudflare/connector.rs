//! [`Connector`]: a Proxmox container that runs a tunnel's connector
//! (cloudflared), the lab's only way in from the internet.

use std::panic::Location;

use lab_core::{Handle, Resource, Value};
use lab_proxmox::model::Container;

use super::{Tunnel, TunnelOutput};
use crate::kinds::CONNECTOR_ANNOTATION;

/// The connector's command: a remotely managed tunnel, its token from the
/// `TUNNEL_TOKEN` variable (so it is never on a command line).
pub const CLOUDFLARED_COMMAND: &str = "cloudflared --no-autoupdate tunnel run";

/// The variable cloudflared reads the tunnel's run token from.
pub const TOKEN_VARIABLE: &str = "TUNNEL_TOKEN";

/// Runs a tunnel's connector in a Proxmox container: cloudflared with the
/// tunnel's run token (a `Secret` output: sealed in the state, never in
/// plan output). The container is an application container made from
/// cloudflared's OCI image (PVE 9.1), whose entrypoint this sets.
/// lab-net's checks then know which guest is the way in: its VLAN must
/// not reach `mgmt` (`net::connector-reaches-mgmt`), it must reach every
/// service the tunnel's rules send requests to (`net::flow-denied`), and a
/// tunnel with public rules wants one (`net::tunnel-no-connector`).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::{Account, Connector, Tunnel};
/// use lab_proxmox::model::{Container, File, Node, Storage};
///
/// let mut lab = Lab::new("home");
/// let pve1 = lab.add(Node::new("pve1").bridge("vmbr0"));
/// let local = lab.add(Storage::existing("local"));
/// let image = lab.add(File::oci_image("cloudflared", &pve1, &local,
///     "docker.io/cloudflare/cloudflared:2025.11.1"));
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
/// let ct = lab.add(Container::new("cloudflared", &pve1).ostemplate(&image).runs_cloudflared(&tunnel));
/// let spec = lab.resource(ct.address()).unwrap();
/// assert_eq!(spec.attrs["entrypoint"], Value::from("cloudflared --no-autoupdate tunnel run"));
/// assert!(spec.deps.iter().any(|d| d.on == *tunnel.address()));
/// ```
pub trait Connector: Resource {
    /// Runs `tunnel`'s connector: the container's entrypoint is
    /// [`CLOUDFLARED_COMMAND`] and its `TUNNEL_TOKEN` the tunnel's token;
    /// it is made after the tunnel (and so destroyed before it).
    #[track_caller]
    fn runs_cloudflared(self, tunnel: &Handle<Tunnel>) -> Self;
}

impl Connector for Container {
    #[track_caller]
    fn runs_cloudflared(self, tunnel: &Handle<Tunnel>) -> Self {
        let here = Location::caller();
        let mut ct = self
            .entrypoint(CLOUDFLARED_COMMAND)
            .env_secret(TOKEN_VARIABLE, tunnel.token());
        let spec = ct.spec_mut();
        // The edge's derivation prefers an address of a service the
        // connector can reach; its checks come with the tunnel's spec.
        spec.derivation = Some(crate::derive::NET);
        spec.annotations.insert(
            CONNECTOR_ANNOTATION.into(),
            Value::from(tunnel.address().name()),
        );
        spec.field_locs.insert(CONNECTOR_ANNOTATION.into(), here);
        spec.depend_on(tunnel, CONNECTOR_ANNOTATION);
        ct
    }
}
