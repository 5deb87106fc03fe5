//! [`Tunnel`]: a remotely managed Cloudflare Tunnel.

use lab_core::{Handle, Output, ResourceSpec, Secret};

use super::{cf_spec, Account};
use crate::kinds::cloudflare::TUNNEL;
use crate::model::net_resource;

/// A remotely managed tunnel (`config_src: cloudflare`): its ingress is a
/// [`super::TunnelConfig`], its public names [`super::DnsRecord`]s, and
/// its connector runs with its `token` output.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::{Account, Tunnel, TunnelOutput};
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
/// assert_eq!(tunnel.id().name(), "id");
/// ```
pub struct Tunnel {
    spec: ResourceSpec,
}

net_resource!(Tunnel);

impl Tunnel {
    /// Tunnel `name` (unique in the account; an existing one is adopted).
    #[track_caller]
    pub fn new(account: &Handle<Account>, name: &str) -> Self {
        let mut spec = cf_spec(TUNNEL, name);
        spec.set_ref("account", account);
        spec.set("config_src", "cloudflare");
        Tunnel { spec }.named(name)
    }

    /// Names the tunnel `name` in Cloudflare while the lab knows it by the
    /// name given to [`Tunnel::new`]: tunnel names are unique per account,
    /// lab addresses per lab, so two accounts' tunnels both called `lab`
    /// need two lab names (and a tunnel name may hold characters a lab
    /// address may not).
    ///
    /// ```
    /// use lab_core::prelude::*;
    /// use lab_net::model::cloudflare::{Account, Tunnel};
    /// let mut lab = Lab::new("home");
    /// let home = lab.add(Account::new("home", "0123456789abcdef0123456789abcdef", Secret::new("t"), "home"));
    /// let work = lab.add(Account::new("work", "fedcba9876543210fedcba9876543210", Secret::new("t"), "work"));
    /// lab.add(Tunnel::new(&home, "lab"));
    /// lab.add(Tunnel::new(&work, "work-lab").named("lab"));
    /// assert!(lab.check().is_empty(), "{:?}", lab.check());
    /// ```
    #[track_caller]
    pub fn named(mut self, name: &str) -> Self {
        if name.is_empty() || name.len() > 63 || name.chars().any(char::is_whitespace) {
            self.spec.invalid(
                "name",
                format!("`{name}` cannot name a tunnel"),
                "use 1-63 characters without spaces (`lab`, `home-edge`)",
            );
        }
        self.spec.set("name", name);
        self
    }
}

/// Outputs of a [`Tunnel`].
pub trait TunnelOutput {
    /// The tunnel's uuid.
    #[track_caller]
    fn id(&self) -> Output<String>;
    /// `<id>.cfargotunnel.com`, what its DNS records point at.
    #[track_caller]
    fn cname(&self) -> Output<String>;
    /// The connector's run token (`cloudflared tunnel run --token`).
    #[track_caller]
    fn token(&self) -> Output<Secret>;
}

impl TunnelOutput for Handle<Tunnel> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }

    #[track_caller]
    fn cname(&self) -> Output<String> {
        self.output("cname")
    }

    #[track_caller]
    fn token(&self) -> Output<Secret> {
        self.output("token")
    }
}
