//! The small parsers the builders and the checks share: IP addresses,
//! CIDRs and their subnets, the control-plane endpoint URL, names.

pub(crate) use lab_proxmox::addr::{parse_ip, Cidr};

/// Why `endpoint` is not `https://<host>:<port>`, if it is not. The
/// endpoint is the Kubernetes API server's URL (usually the VIP or a DNS
/// name for it, port 6443); Talos refuses anything else.
pub(crate) fn endpoint_problem(endpoint: &str) -> Option<String> {
    let Some(rest) = endpoint.strip_prefix("https://") else {
        return Some(if endpoint.starts_with("http://") {
            format!("`{endpoint}` is plain http; the Kubernetes API is served over https")
        } else {
            format!("`{endpoint}` is not an https:// URL")
        });
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#', '@', ' ']) {
        return Some(format!(
            "`{endpoint}` has a path, query or credentials; the endpoint is just https://<host>:<port>"
        ));
    }
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((host, tail)) = v6.split_once(']') else {
            return Some(format!("`{endpoint}` has an unclosed `[`"));
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Some(format!("`[{host}]` is not an IPv6 address"));
        }
        (host, tail.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() {
        return Some(format!("`{endpoint}` has no host"));
    }
    if !rest.starts_with('[') {
        if host.contains(':') {
            return Some(format!(
                "`{endpoint}`: write an IPv6 host in brackets, like https://[fd00::5]:6443"
            ));
        }
        let looks_ipv4 = host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        if looks_ipv4 && host.parse::<std::net::Ipv4Addr>().is_err() {
            return Some(format!("`{host}` is not an IPv4 address"));
        }
        if !looks_ipv4 {
            if let Some(p) = dns_name_problem(host) {
                return Some(format!("`{host}` is not a host name: {p}"));
            }
        }
    }
    match port {
        None => Some(format!(
            "`{endpoint}` has no port; Talos needs it explicitly (the Kubernetes API listens on 6443)"
        )),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') => None,
            _ => Some(format!("`{p}` is not a port (1 to 65535)")),
        },
    }
}

/// Why `name` is not one DNS label (letters, digits, inner `-`, at most 63
/// characters), if it is not. Cluster and node names end up in resource
/// addresses, Proxmox VM names and tags, and Talos hostnames.
pub(crate) fn dns_label_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > 63 {
        return Some("it is longer than 63 characters".into());
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Some("only letters, digits and `-` are allowed".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it may not start or end with `-`".into());
    }
    None
}

/// Why `name` is not a DNS name (labels separated by `.`), if it is not.
pub(crate) fn dns_name_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    name.split('.')
        .find_map(|label| dns_label_problem(label).map(|p| format!("label `{label}`: {p}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_parse_and_contain() {
        let c = Cidr::parse("10.0.10.11/24").unwrap();
        assert!(c.contains("10.0.10.5".parse().unwrap()));
        assert!(!c.contains("10.0.11.5".parse().unwrap()));
        assert!(!c.contains("fd00::1".parse().unwrap()));
        assert_eq!(c.network(), "10.0.10.0/24");
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
        let v6 = Cidr::parse("fd00:10::11/64").unwrap();
        assert!(v6.contains("fd00:10::5".parse().unwrap()));
        assert_eq!(v6.network(), "fd00:10::/64");
        for bad in [
            "10.0.10.11",
            "10.0.10.11/33",
            "10.0.10/24",
            "x/24",
            "10.0.10.1/+8",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_need_https_a_host_and_a_port() {
        for good in [
            "https://10.0.10.5:6443",
            "https://k8s.home.arpa:6443",
            "https://[fd00::5]:6443",
            "https://k8s:443/",
        ] {
            assert_eq!(endpoint_problem(good), None, "{good}");
        }
        for bad in [
            "10.0.10.5:6443",
            "http://10.0.10.5:6443",
            "https://10.0.10.5",
            "https://:6443",
            "https://10.0.10.5:0",
            "https://10.0.10.5:6443/api",
            "https://10.0.10.500:6443",
            "https://fd00::5:6443",
            "https://bad_host:6443",
        ] {
            assert!(endpoint_problem(bad).is_some(), "{bad}");
        }
    }
}
