//! [`Zone`]: a DNS zone on the Cloudflare account.

use lab_core::{Handle, Output, ResourceSpec};

use super::{cf_spec, hostname_problem, Account};
use crate::kinds::cloudflare::ZONE;
use crate::model::net_resource;

/// A DNS zone already on the account, found by name (lab-net neither
/// creates nor deletes zones).
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::{Account, Zone};
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let zone = lab.add(Zone::new(&cf, "example.com"));
/// assert_eq!(zone.address().to_string(), "cloudflare.zone.example-com");
/// ```
pub struct Zone {
    spec: ResourceSpec,
}

net_resource!(Zone);

impl Zone {
    /// Zone `name` (`example.com`) of `account`.
    #[track_caller]
    pub fn new(account: &Handle<Account>, name: &str) -> Self {
        let mut spec = cf_spec(ZONE, name);
        spec.set_ref("account", account);
        if let Some(problem) = hostname_problem(name).or_else(|| {
            name.starts_with('*')
                .then(|| format!("`{name}`: a zone has no wildcard"))
        }) {
            spec.invalid(
                "name",
                problem,
                "write the zone's name as the dashboard lists it (`example.com`)",
            );
        }
        spec.set("name", name);
        Zone { spec }
    }
}

/// Outputs of a [`Zone`].
pub trait ZoneOutput {
    /// The zone id.
    #[track_caller]
    fn id(&self) -> Output<String>;
}

impl ZoneOutput for Handle<Zone> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }
}
