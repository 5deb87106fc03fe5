//! lab-net's part of every guest's note ([`lab_core::notes`]): the
//! services it runs (ports, admin ports, what they need; the Caddy proxy or
//! the tunnel connector when it hosts one), its network
//! (zone, VLAN, the address the IPAM derives), and how each service is
//! reached: internally `https://host` through the Caddy proxy, publicly
//! `https://host` through a Cloudflare Tunnel with the Access rules in
//! front of it. lab-proxmox names the guests; lab-net only adds sections
//! for guests it knows.
//!
//! Everything comes from [`NetModel::read`], once per note pass.

use lab_core::notes::{order, NoteLine, NoteSection, NoteSet, NoteSource};
use lab_core::{Address, Lab};

use crate::kinds::cloudflare::AccessRule;
use crate::kinds::{Port, PublicExposure};
use crate::read::{NetModel, ServiceView};

/// lab-net's note set, on every spec lab-net's builders make.
pub const NOTES: NoteSet = NoteSet {
    name: "net",
    read: |lab| Box::new(NetNotes::read(lab)),
    short_field: None,
};

/// The lab as lab-net's notes read it.
struct NetNotes {
    model: NetModel,
}

impl NetNotes {
    fn read(lab: &Lab) -> Self {
        NetNotes {
            model: NetModel::read(lab),
        }
    }

    /// What lab-net runs in `guest` itself: the Caddy proxies and tunnel
    /// connectors it hosts, in words.
    fn roles(&self, guest: &Address) -> Vec<String> {
        let at = guest.to_string();
        let mut roles: Vec<String> = self
            .model
            .proxies
            .values()
            .filter(|p| p.guest.as_deref() == Some(at.as_str()))
            .map(|p| {
                let hosts: Vec<String> = p.hosts.iter().map(|h| format!("`{h}`")).collect();
                format!(
                    "the Caddy reverse proxy `{}`, routing {}",
                    p.name,
                    if hosts.is_empty() {
                        "no host yet".to_string()
                    } else {
                        hosts.join(", ")
                    }
                )
            })
            .collect();
        roles.extend(
            self.model
                .edge
                .connectors
                .iter()
                .filter(|c| &c.guest == guest)
                .map(|c| format!("the connector (`cloudflared`) of the tunnel `{}`", c.tunnel)),
        );
        roles
    }

    /// The services on `guest`, in declaration order.
    fn services(&self, guest: &Address) -> Vec<&ServiceView> {
        let at = guest.to_string();
        self.model
            .services
            .values()
            .filter(|s| s.spec.guest.as_deref() == Some(at.as_str()))
            .collect()
    }
}

fn ports(ports: &[Port]) -> String {
    ports
        .iter()
        .map(Port::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `https://host[path]` of a public exposure.
fn public_url(p: &PublicExposure) -> String {
    let path = p
        .path
        .as_deref()
        .map(|p| p.trim_start_matches('^').to_string())
        .unwrap_or_default();
    format!("https://{}{path}", p.host)
}

/// One Access include rule in words.
fn rule_in_words(rule: &AccessRule) -> String {
    match rule {
        AccessRule::Email { email } => format!("`{email}`"),
        AccessRule::EmailDomain { domain } => format!("anyone with an email at `{domain}`"),
        AccessRule::EmailList { id } => format!("the addresses of the list `{id}`"),
        AccessRule::Everyone {} => "everyone".into(),
        AccessRule::Group { id } => format!("the Access group `{id}`"),
        AccessRule::Ip { ip } => format!("addresses in `{ip}`"),
        AccessRule::ServiceToken { token_id } => format!("the service token `{token_id}`"),
        AccessRule::AnyValidServiceToken {} => "any valid service token".into(),
    }
}

/// The Access rules in front of an exposure, in words.
fn access(p: &PublicExposure) -> String {
    let Some(a) = &p.access else {
        return "**no Access**: anyone on the internet reaches it".into();
    };
    let mut parts = Vec::new();
    if !a.include.is_empty() {
        let rules: Vec<String> = a.include.iter().map(rule_in_words).collect();
        parts.push(format!("Access allows {}", rules.join(" or ")));
    }
    if !a.policies.is_empty() {
        parts.push(format!("the policies `{}`", a.policies.join("`, `")));
    }
    if parts.is_empty() {
        "Access with no rule: nobody gets through".into()
    } else {
        parts.join("; ")
    }
}

impl NoteSource for NetNotes {
    fn sections(&self, subject: &Address) -> Vec<NoteSection> {
        let mut sections = Vec::new();
        let services = self.services(subject);
        let roles = self.roles(subject);
        if !services.is_empty() || !roles.is_empty() {
            let mut body: String = roles.iter().map(|r| format!("- {r}\n")).collect();
            for s in &services {
                let mut parts = Vec::new();
                if !s.spec.ports.is_empty() {
                    parts.push(ports(&s.spec.ports));
                }
                if !s.spec.admin.is_empty() {
                    parts.push(format!("admin {}", ports(&s.spec.admin)));
                }
                body.push_str(&format!("- `{}`: {}", s.name, parts.join("; ")));
                if !s.spec.needs.is_empty() {
                    body.push_str(&format!("; needs `{}`", s.spec.needs.join("`, `")));
                }
                body.push('\n');
            }
            sections.push(NoteSection::new("Services", body, order::SERVICES));
        }
        if let Some(guest) = self.model.guest(&subject.to_string()) {
            let mut body = String::new();
            if let Some(zone) = self.model.guest_zone(guest) {
                let trust = self
                    .model
                    .zones
                    .get(&zone)
                    .map(|z| format!(" (trust `{:?}`)", z.spec.trust).to_lowercase())
                    .unwrap_or_default();
                body.push_str(&format!("Zone `{zone}`{trust}.\n\n"));
            }
            for nic in guest.vlan_nics() {
                let vlan = nic.vlan.as_deref().unwrap_or_default();
                let view = self.model.vlans.get(vlan);
                let tag = view
                    .map(|v| format!(", tag {}", v.spec.id))
                    .unwrap_or_default();
                let address = match (nic.address, view) {
                    (Some(a), Some(v)) => format!("`{a}/{}`", v.prefix()),
                    (Some(a), None) => format!("`{a}`"),
                    (None, _) => "no address (the VLAN's pool is full)".into(),
                };
                let how = if nic.static_address {
                    "static"
                } else {
                    "from the lab's IPAM"
                };
                let gw = view
                    .and_then(|v| v.gateway())
                    .map(|g| format!(", gateway `{g}`"))
                    .unwrap_or_default();
                body.push_str(&format!(
                    "- `{}` on the VLAN `{vlan}`{tag}: {address} ({how}){gw}\n",
                    nic.slot
                ));
            }
            if !body.is_empty() {
                sections.push(NoteSection::new("Network", body, order::NETWORK));
            }
        }
        let mut exposure = String::new();
        for s in &services {
            if let Some(p) = &s.spec.proxy {
                exposure.push_str(&format!(
                    "- `https://{}` (internal) through the Caddy proxy `{}` to port {}\n",
                    p.host, p.via, p.port
                ));
            }
            for p in &s.spec.public {
                exposure.push_str(&format!(
                    "- `{}` (public) through the tunnel `{}` to port {}: {}\n",
                    public_url(p),
                    p.tunnel,
                    p.port,
                    access(p)
                ));
            }
        }
        if !exposure.is_empty() {
            sections.push(NoteSection::new("Exposure", exposure, order::EXPOSURE));
        }
        sections
    }

    fn lines(&self, subject: &Address) -> Vec<NoteLine> {
        let mut lines = Vec::new();
        let services = self.services(subject);
        if !services.is_empty() {
            let text: Vec<String> = services
                .iter()
                .map(|s| {
                    let mut t = ports(&s.spec.ports);
                    if !s.spec.admin.is_empty() {
                        if !t.is_empty() {
                            t.push_str(", ");
                        }
                        t.push_str(&format!("admin {}", ports(&s.spec.admin)));
                    }
                    format!("{} ({t})", s.name)
                })
                .collect();
            lines.push(NoteLine::new("services", text.join("; "), order::SERVICES));
        }
        let urls: Vec<String> = services
            .iter()
            .flat_map(|s| {
                s.spec
                    .proxy
                    .iter()
                    .map(|p| format!("https://{} (internal)", p.host))
                    .chain(s.spec.public.iter().map(|p| {
                        let gate = if p.access.is_some() {
                            "Access"
                        } else {
                            "no Access"
                        };
                        format!("{} (public, {gate})", public_url(p))
                    }))
            })
            .collect();
        if !urls.is_empty() {
            lines.push(NoteLine::new("urls", urls.join(", "), order::EXPOSURE));
        }
        if let Some(guest) = self.model.guest(&subject.to_string()) {
            if let Some(zone) = self.model.guest_zone(guest) {
                lines.push(NoteLine::new("zone", zone, order::NETWORK));
            }
            let nics: Vec<_> = guest.vlan_nics().collect();
            let vlans: Vec<String> = nics
                .iter()
                .filter_map(|n| {
                    let vlan = n.vlan.as_deref()?;
                    Some(match self.model.vlans.get(vlan) {
                        Some(v) => format!("{vlan} (tag {})", v.spec.id),
                        None => vlan.to_string(),
                    })
                })
                .collect();
            if !vlans.is_empty() {
                lines.push(NoteLine::new("vlan", vlans.join(", "), order::NETWORK + 1));
            }
            let addresses: Vec<String> = nics
                .iter()
                .filter_map(|n| n.address.map(|a| a.to_string()))
                .collect();
            if !addresses.is_empty() {
                lines.push(NoteLine::new(
                    "address",
                    addresses.join(", "),
                    order::NETWORK + 2,
                ));
            }
        }
        lines
    }
}
