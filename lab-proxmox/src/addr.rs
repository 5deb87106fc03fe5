//! IP addresses and subnets, one parser for the workspace: Proxmox guest
//! addresses, Talos node addresses, lab-net's VLANs and IPAM all read
//! `address/prefix` here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

/// An address with its prefix length (`10.0.10.11/24`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The address.
    pub ip: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    /// Parses `address/prefix` (IPv4 or IPv6).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let Some((ip, prefix)) = text.split_once('/') else {
            return Err(format!(
                "`{text}` has no prefix length; write the address with its subnet, like `10.0.10.11/24`"
            ));
        };
        let ip = parse_ip(ip)?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = match prefix.parse() {
            Ok(p) if p <= max && !prefix.starts_with('+') => p,
            _ => {
                return Err(format!(
                    "`{text}` has prefix length `{prefix}`; it must be 0 to {max}"
                ))
            }
        };
        Ok(Cidr { ip, prefix })
    }

    /// Whether `ip` is in this address's subnet.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (bits(self.ip), bits(ip)) {
            ((a, width), (b, width_b)) if width == width_b => {
                let shift = u32::from(width - self.prefix.min(width));
                let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
                a & mask == b & mask
            }
            _ => false,
        }
    }

    /// The subnet, e.g. `10.0.10.0/24`.
    pub fn network(&self) -> String {
        let (value, width) = bits(self.ip);
        let shift = u32::from(width - self.prefix.min(width));
        let mask = if shift >= 128 { 0 } else { u128::MAX << shift };
        let net = value & mask;
        let ip: IpAddr = if self.ip.is_ipv4() {
            IpAddr::from((net as u32).to_be_bytes())
        } else {
            IpAddr::from(net.to_be_bytes())
        };
        format!("{ip}/{}", self.prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// The address as an integer and its width in bits.
fn bits(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

/// Parses an IP address without prefix.
pub fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.parse::<IpAddr>().map_err(|_| {
        if text.contains('/') {
            format!("`{text}` has a prefix length; give the address alone, like `10.0.10.5`")
        } else {
            format!("`{text}` is not an IP address")
        }
    })
}

impl Cidr {
    /// The IPv4 subnet's first and last address (network and broadcast),
    /// as integers; `None` for IPv6.
    pub fn v4_bounds(&self) -> Option<(u32, u32)> {
        let IpAddr::V4(v4) = self.ip else { return None };
        let prefix = u32::from(self.prefix.min(32));
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        };
        let net = u32::from(v4) & mask;
        Some((net, net | !mask))
    }

    /// True when the two subnets share an address.
    pub fn overlaps(&self, other: &Cidr) -> bool {
        match (self.v4_bounds(), other.v4_bounds()) {
            (Some((a0, a1)), Some((b0, b1))) => a0 <= b1 && b0 <= a1,
            _ => {
                let shorter = if self.prefix <= other.prefix {
                    self
                } else {
                    other
                };
                let longer = if self.prefix <= other.prefix {
                    other
                } else {
                    self
                };
                shorter.contains(longer.ip)
            }
        }
    }
}

/// An IPv4 address from its integer.
pub fn v4(n: u32) -> Ipv4Addr {
    Ipv4Addr::from(n)
}
