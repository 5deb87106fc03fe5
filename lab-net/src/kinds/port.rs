//! Ports and protocols, as flows and services name them: `tcp/443`,
//! `udp/53`, `tcp/8000-8100`, `icmp`, `any`. One parser for the lab.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A transport protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// ICMP (no ports).
    Icmp,
    /// Every protocol and port.
    Any,
}

impl Proto {
    /// The name Proxmox's firewall uses (`tcp`, `udp`, `icmp`); `None` for
    /// any protocol.
    pub fn pve_name(self) -> Option<&'static str> {
        match self {
            Proto::Tcp => Some("tcp"),
            Proto::Udp => Some("udp"),
            Proto::Icmp => Some("icmp"),
            Proto::Any => None,
        }
    }
}

/// A protocol and a port range (`first..=last`; ICMP and `any` have none).
///
/// ```
/// use lab_net::kinds::Port;
/// let https: Port = "tcp/443".parse().unwrap();
/// assert_eq!(https, Port::tcp(443));
/// assert!(Port::tcp_range(8000, 8100).covers(&Port::tcp(8080)));
/// assert!(Port::any().covers(&Port::udp(53)));
/// assert_eq!(Port::tcp_range(8000, 8100).to_string(), "tcp/8000-8100");
/// assert!("tcp/0".parse::<Port>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Port {
    /// The protocol.
    pub proto: Proto,
    /// The first port (0 for ICMP and any).
    pub first: u16,
    /// The last port, inclusive.
    pub last: u16,
}

impl Port {
    /// One TCP port.
    pub const fn tcp(port: u16) -> Port {
        Port {
            proto: Proto::Tcp,
            first: port,
            last: port,
        }
    }

    /// One UDP port.
    pub const fn udp(port: u16) -> Port {
        Port {
            proto: Proto::Udp,
            first: port,
            last: port,
        }
    }

    /// A TCP port range, inclusive.
    pub const fn tcp_range(first: u16, last: u16) -> Port {
        Port {
            proto: Proto::Tcp,
            first,
            last,
        }
    }

    /// A UDP port range, inclusive.
    pub const fn udp_range(first: u16, last: u16) -> Port {
        Port {
            proto: Proto::Udp,
            first,
            last,
        }
    }

    /// ICMP.
    pub const fn icmp() -> Port {
        Port {
            proto: Proto::Icmp,
            first: 0,
            last: 0,
        }
    }

    /// Every protocol and port.
    pub const fn any() -> Port {
        Port {
            proto: Proto::Any,
            first: 0,
            last: 0,
        }
    }

    /// True when this port (range) includes every port of `other`.
    pub fn covers(&self, other: &Port) -> bool {
        match (self.proto, other.proto) {
            (Proto::Any, _) => true,
            (_, Proto::Any) => false,
            (Proto::Icmp, Proto::Icmp) => true,
            (a, b) if a == b => self.first <= other.first && other.last <= self.last,
            _ => false,
        }
    }

    /// The `dport` Proxmox's firewall takes (`443`, `8000:8100`), if any.
    pub fn pve_dport(&self) -> Option<String> {
        match self.proto {
            Proto::Tcp | Proto::Udp if self.first == self.last => Some(self.first.to_string()),
            Proto::Tcp | Proto::Udp => Some(format!("{}:{}", self.first, self.last)),
            _ => None,
        }
    }

    /// A short slug for names (`tcp443`, `udp53`, `tcp8000-8100`).
    pub fn slug(&self) -> String {
        self.to_string().replace('/', "")
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.proto {
            Proto::Any => f.write_str("any"),
            Proto::Icmp => f.write_str("icmp"),
            p => {
                let name = if p == Proto::Tcp { "tcp" } else { "udp" };
                if self.first == self.last {
                    write!(f, "{name}/{}", self.first)
                } else {
                    write!(f, "{name}/{}-{}", self.first, self.last)
                }
            }
        }
    }
}

impl FromStr for Port {
    type Err = String;

    /// `tcp/443`, `udp/53`, `tcp/8000-8100`, `icmp`, `any`, or a bare
    /// number (TCP).
    fn from_str(text: &str) -> Result<Port, String> {
        let text = text.trim();
        match text {
            "any" => return Ok(Port::any()),
            "icmp" => return Ok(Port::icmp()),
            _ => {}
        }
        let (proto, range) = match text.split_once('/') {
            Some(("tcp", r)) => (Proto::Tcp, r),
            Some(("udp", r)) => (Proto::Udp, r),
            Some((p, _)) => {
                return Err(format!(
                    "unknown protocol `{p}`: write `tcp/..`, `udp/..`, `icmp` or `any`"
                ))
            }
            None => (Proto::Tcp, text),
        };
        let number = |s: &str| -> Result<u16, String> {
            match s.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("`{s}` is not a port (1 to 65535)")),
                Ok(n) => Ok(n),
            }
        };
        let (first, last) = match range.split_once('-') {
            Some((a, b)) => (number(a)?, number(b)?),
            None => {
                let n = number(range)?;
                (n, n)
            }
        };
        if first > last {
            return Err(format!("the range `{range}` ends before it starts"));
        }
        Ok(Port { proto, first, last })
    }
}

impl Serialize for Port {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Port, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}
