//! What Caddy accepts but lab refuses in a `net.caddy` spec (measured on
//! Caddy 2.6.2): an upstream that is not `host:port` with a port in
//! 1..65535 (`/load` takes `127.0.0.1:notaport` and fails only when a
//! request comes), and one host name on two routes (Caddy serves the
//! first and silently ignores the other; with different `bind`s it even
//! listens on every interface). Pure functions: the builder reports them
//! at the user's line, the provider's plan review refuses a spec (with the
//! routes derivation appended) that still has them.

use std::collections::HashSet;
use std::net::IpAddr;

use crate::kinds::{CaddySpec, CaddyTls, ISSUER_ACME, ISSUER_INTERNAL};

/// Why `upstream` is not a `host:port` Caddy can dial, if it is not.
///
/// ```
/// use lab_net::checks::caddy::upstream_problem;
/// assert_eq!(upstream_problem("10.0.20.5:3000"), None);
/// assert_eq!(upstream_problem("[fd00::5]:443"), None);
/// assert!(upstream_problem("127.0.0.1:notaport").is_some());
/// assert!(upstream_problem("http://10.0.20.5:3000").is_some());
/// ```
pub fn upstream_problem(upstream: &str) -> Option<String> {
    if upstream.contains("://") || upstream.contains('/') {
        return Some(format!(
            "upstream `{upstream}` is a URL; write it as `host:port` (set `upstream_tls` for HTTPS upstreams)"
        ));
    }
    let Some((host, port)) = upstream.rsplit_once(':') else {
        return Some(format!(
            "upstream `{upstream}` has no port; write it as `host:port`"
        ));
    };
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => {
            return Some(format!(
                "upstream `{upstream}`: `{port}` is not a port (1..65535)"
            ))
        }
    }
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    match bare {
        Some(v6) if v6.parse::<IpAddr>().is_ok() => None,
        Some(_) => Some(format!(
            "upstream `{upstream}`: `{host}` is not an IPv6 address"
        )),
        None if host.contains(':') => Some(format!(
            "upstream `{upstream}`: write an IPv6 address in brackets, like `[fd00::5]:443`"
        )),
        None if host.is_empty() => Some(format!("upstream `{upstream}` has no host")),
        None if host.parse::<IpAddr>().is_ok() || is_dns_name(host) => None,
        None => Some(format!(
            "upstream `{upstream}`: `{host}` is neither an IP address nor a DNS name"
        )),
    }
}

/// Whether `name` is a DNS host name (letters, digits, `-`, dots between
/// labels of 1..63 characters).
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Why `host` cannot name a site, if it cannot (a wildcard `*.` is allowed
/// as the first label).
pub fn site_host_problem(host: &str) -> Option<String> {
    let rest = host.strip_prefix("*.").unwrap_or(host);
    if host.contains(':') {
        return Some(format!(
            "site `{host}` has a port; the port is the proxy's `https_port`"
        ));
    }
    (!is_dns_name(rest)).then(|| format!("site `{host}` is not a DNS name"))
}

/// Why the `tls` map is unusable, if it is.
pub fn tls_problem(tls: &CaddyTls) -> Option<String> {
    match tls.issuer.as_str() {
        ISSUER_INTERNAL => None,
        ISSUER_ACME if tls.dns_provider.is_none() => Some(
            "`tls` acme needs `dns_provider` (the DNS-01 challenge: internal names are not reachable for HTTP-01)".into(),
        ),
        ISSUER_ACME if tls.api_token.is_none() => {
            Some("`tls` acme needs the DNS provider's `api_token`".into())
        }
        ISSUER_ACME => None,
        other => Some(format!(
            "`tls.issuer` `{other}` is neither `internal` nor `acme`"
        )),
    }
}

/// Every problem of a spec's routes, ports and TLS, each a sentence.
pub fn spec_problems(spec: &CaddySpec) -> Vec<String> {
    let mut out = Vec::new();
    for (field, port) in [
        ("https_port", Some(spec.https_port)),
        ("http_port", spec.http_port),
    ] {
        if let Some(p) = port.filter(|p| !(1..=65535).contains(p)) {
            out.push(format!("`{field}` {p} is not a port (1..65535)"));
        }
    }
    if spec.http_port == Some(spec.https_port) {
        out.push(format!(
            "`http_port` and `https_port` are both {}",
            spec.https_port
        ));
    }
    out.extend(tls_problem(&spec.tls));
    let mut seen = HashSet::new();
    for r in &spec.routes {
        let host = r.host.to_ascii_lowercase();
        if !seen.insert(host.clone()) {
            out.push(format!(
                "site `{}` has two routes; Caddy would serve only the first (give each host one route, with several upstreams if needed)",
                r.host
            ));
        }
        out.extend(site_host_problem(&r.host));
        if r.upstreams.is_empty() {
            out.push(format!("site `{}` has no upstream", r.host));
        }
        out.extend(r.upstreams.iter().filter_map(|u| upstream_problem(u)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::CaddyRoute;

    #[test]
    fn duplicate_hosts_and_bad_upstreams_are_found() {
        let spec = CaddySpec {
            admin: "127.0.0.1:2019".into(),
            https_port: 443,
            http_port: None,
            bind: None,
            tls: CaddyTls::internal(),
            routes: vec![
                CaddyRoute::new("a.lab", "10.0.0.1:80"),
                CaddyRoute::new("A.lab", "10.0.0.2:80"),
                CaddyRoute::new("b.lab", "127.0.0.1:notaport"),
                CaddyRoute::new("c.lab:8443", "svc.lan:0"),
            ],
            storage: None,
        };
        let p = spec_problems(&spec);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("two routes"));
        assert!(p[1].contains("notaport"));
        assert!(p[2].contains("has a port"));
        assert!(p[3].contains("`0` is not a port"));
        let ok = CaddySpec {
            routes: vec![CaddyRoute::new("*.lab.home.arpa", "svc.lan:8080")],
            ..spec
        };
        assert!(spec_problems(&ok).is_empty());
    }
}
