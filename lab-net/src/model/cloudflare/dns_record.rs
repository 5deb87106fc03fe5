//! [`DnsRecord`]: a record in a Cloudflare zone.

use lab_core::{Handle, Output, ResourceSpec};

use super::{cf_spec, hostname_problem, Tunnel, TunnelOutput, Zone, ZoneOutput};
use crate::kinds::cloudflare::{DNS_RECORD, TTL_AUTOMATIC};
use crate::model::net_resource;

/// The comment lab-net puts on its records, so it deletes only its own.
pub const MANAGED_COMMENT: &str = "managed-by:lab-net";

const TYPES: [&str; 9] = [
    "A", "AAAA", "CNAME", "TXT", "MX", "NS", "SRV", "CAA", "HTTPS",
];

/// A DNS record in a Cloudflare zone. A tunnel's public hostname is
/// [`DnsRecord::tunnel_cname`].
///
/// ```
/// use lab_core::prelude::*;
/// use lab_net::model::cloudflare::*;
/// let mut lab = Lab::new("home");
/// let cf = lab.add(Account::new("cf", "0123456789abcdef0123456789abcdef", Secret::new("t"), "team"));
/// let zone = lab.add(Zone::new(&cf, "example.com"));
/// let tunnel = lab.add(Tunnel::new(&cf, "lab"));
/// let r = lab.add(DnsRecord::tunnel_cname(&zone, "grafana.example.com", &tunnel));
/// assert_eq!(r.address().to_string(), "cloudflare.dns_record.cname-grafana-example-com");
/// ```
pub struct DnsRecord {
    spec: ResourceSpec,
}

net_resource!(DnsRecord);

impl DnsRecord {
    /// A `record_type` record `name` -> `content`, not proxied, automatic
    /// TTL, marked as lab-net's.
    #[track_caller]
    pub fn new(zone: &Handle<Zone>, name: &str, record_type: &str, content: &str) -> Self {
        let mut record = DnsRecord::named(zone, name, record_type);
        let spec = &mut record.spec;
        let content_problem = match record_type {
            "A" => lab_proxmox::addr::parse_ip(content)
                .ok()
                .filter(|ip| ip.is_ipv4())
                .is_none()
                .then(|| format!("`{content}` is not an IPv4 address")),
            "AAAA" => lab_proxmox::addr::parse_ip(content)
                .ok()
                .filter(|ip| ip.is_ipv6())
                .is_none()
                .then(|| format!("`{content}` is not an IPv6 address")),
            "CNAME" => hostname_problem(content),
            _ => content
                .is_empty()
                .then(|| "the record's content is empty".to_string()),
        };
        if let Some(problem) = content_problem {
            spec.invalid("content", problem, "write what the record answers");
        }
        spec.set("content", content);
        record
    }

    /// A tunnel's public hostname: a proxied CNAME to
    /// `<tunnel id>.cfargotunnel.com` (the tunnel's `cname` output), the
    /// only shape through which a tunnel serves a name.
    #[track_caller]
    pub fn tunnel_cname(zone: &Handle<Zone>, host: &str, tunnel: &Handle<Tunnel>) -> Self {
        let mut record = DnsRecord::named(zone, host, "CNAME");
        record.spec.set_input::<String>("content", tunnel.cname());
        record.spec.set("proxied", true);
        record
    }

    #[track_caller]
    fn named(zone: &Handle<Zone>, name: &str, record_type: &str) -> Self {
        let mut spec = cf_spec(
            DNS_RECORD,
            &format!("{}-{name}", record_type.to_ascii_lowercase()),
        );
        spec.set_ref("zone", zone);
        spec.set_input::<String>("zone_id", zone.id());
        if let Some(problem) = hostname_problem(name) {
            spec.invalid(
                "name",
                problem,
                "write the fully qualified name (`grafana.example.com`)",
            );
        }
        spec.set("name", name);
        if !TYPES.contains(&record_type) {
            spec.invalid(
                "type",
                format!("`{record_type}` is not a record type lab-net writes"),
                format!("use one of {}", TYPES.join(", ")),
            );
        }
        spec.set("type", record_type);
        spec.set("proxied", false);
        spec.set("ttl", TTL_AUTOMATIC);
        spec.set("comment", MANAGED_COMMENT);
        DnsRecord { spec }
    }

    /// Served through Cloudflare's proxy (only A, AAAA and CNAME can be).
    #[track_caller]
    pub fn proxied(mut self, proxied: bool) -> Self {
        let record_type = self
            .spec
            .attrs
            .get("type")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        if proxied && !["A", "AAAA", "CNAME"].contains(&record_type) {
            self.spec.invalid(
                "proxied",
                format!("a {record_type} record cannot be proxied"),
                "proxy only A, AAAA and CNAME records",
            );
        }
        self.spec.set("proxied", proxied);
        self
    }

    /// Seconds (60..86400), or 1 for automatic.
    #[track_caller]
    pub fn ttl(mut self, ttl: u32) -> Self {
        if ttl != TTL_AUTOMATIC && !(60..=86400).contains(&ttl) {
            self.spec.invalid(
                "ttl",
                format!("{ttl} is not a TTL Cloudflare takes"),
                "use 1 (automatic) or 60 to 86400 seconds",
            );
        }
        self.spec.set("ttl", ttl);
        self
    }

    /// A note on the record, after lab-net's mark.
    #[track_caller]
    pub fn comment(mut self, comment: &str) -> Self {
        self.spec
            .set("comment", format!("{MANAGED_COMMENT} {comment}"));
        self
    }
}

/// Outputs of a [`DnsRecord`].
pub trait DnsRecordOutput {
    /// The record id.
    #[track_caller]
    fn id(&self) -> Output<String>;
}

impl DnsRecordOutput for Handle<DnsRecord> {
    #[track_caller]
    fn id(&self) -> Output<String> {
        self.output("id")
    }
}
