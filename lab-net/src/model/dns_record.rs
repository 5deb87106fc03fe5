//! [`DnsRecord`]: a name the lab's local DNS answers.

use lab_core::ResourceSpec;
use lab_proxmox::addr::parse_ip;

use super::{net_resource, net_spec};
use crate::kinds::DNS_RECORD;

/// A name the local DNS answers (a host override on the router or
/// Pi-hole). `check` refuses a name that the reverse proxy also serves or
/// that is declared twice.
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::DnsRecord;
/// let mut lab = Lab::new("home");
/// let r = lab.add(DnsRecord::new("nas.lab.home.arpa", "10.0.30.5"));
/// assert_eq!(r.address().to_string(), "net.dns_record.nas-lab-home-arpa");
/// ```
pub struct DnsRecord {
    spec: ResourceSpec,
}

net_resource!(DnsRecord);

impl DnsRecord {
    /// `name` answers `address`.
    #[track_caller]
    pub fn new(name: &str, address: &str) -> Self {
        let mut spec = net_spec(DNS_RECORD, &name.replace('.', "-"));
        spec.set("name", name);
        if let Err(e) = parse_ip(address) {
            spec.invalid("address", e, "write the address the name answers");
        }
        spec.set("address", address);
        DnsRecord { spec }
    }
}
