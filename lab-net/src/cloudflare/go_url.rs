//! The part of Go's `net/url.Parse` that cloudflared's ingress validation
//! depends on (scheme, host, port, path), with Go's error texts, so a
//! service URL is accepted or refused exactly as cloudflared does.

/// What `url.Parse` yields that the ingress rules look at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct GoUrl {
    /// The scheme, lower-cased (`http`), or empty.
    pub scheme: String,
    /// `URL.Hostname()`: the host without port or IPv6 brackets.
    pub hostname: String,
    /// The decoded path (`/` counts: `http://a/` has path `/`).
    pub path: String,
}

/// Go's `url.Parse(raw)`; the error is Go's `*url.Error` text
/// (`parse "<raw>": <reason>`).
pub(crate) fn parse(raw: &str) -> Result<GoUrl, String> {
    // Parse cuts the fragment off first; errors quote what is left.
    let without_fragment = raw.split_once('#').map_or(raw, |(u, _)| u);
    parse_no_fragment(without_fragment).map_err(|reason| {
        format!(
            "parse {}: {reason}",
            super::ingress::go_quote(without_fragment)
        )
    })
}

fn parse_no_fragment(raw: &str) -> Result<GoUrl, String> {
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("net/url: invalid control character in URL".into());
    }
    let mut url = GoUrl {
        scheme: String::new(),
        hostname: String::new(),
        path: String::new(),
    };
    if raw == "*" {
        url.path = "*".into();
        return Ok(url);
    }
    let (scheme, rest) = scheme(raw)?;
    url.scheme = scheme.to_ascii_lowercase();
    let mut rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(r, _)| r)
    };
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            // An opaque URL (`mailto:x`): no host, no path.
            return Ok(url);
        }
        let segment = rest.split_once('/').map_or(rest, |(s, _)| s);
        if segment.contains(':') {
            return Err("first path segment in URL cannot contain colon".into());
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, path) = match after.find('/') {
            Some(i) => (&after[..i], &after[i..]),
            None => (after, ""),
        };
        url.hostname = authority_hostname(authority)?;
        rest = path;
    }
    url.path = unescape(rest)?;
    Ok(url)
}

/// Go's `getScheme`.
fn scheme(raw: &str) -> Result<(&str, &str), String> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                if i == 0 {
                    return Ok(("", raw));
                }
            }
            b':' => {
                if i == 0 {
                    return Err("missing protocol scheme".into());
                }
                return Ok((&raw[..i], &raw[i + 1..]));
            }
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

/// Go's `parseAuthority` + `parseHost`, returning `Hostname()`.
fn authority_hostname(authority: &str) -> Result<String, String> {
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Some(inner) = host.strip_prefix('[') {
        let Some(close) = inner.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        let colon_port = &inner[close + 1..];
        if !valid_optional_port(colon_port) {
            return Err(format!(
                "invalid port {} after host",
                super::ingress::go_quote(colon_port)
            ));
        }
        return unescape(&inner[..close]);
    }
    let name = match host.rfind(':') {
        Some(i) => {
            let colon_port = &host[i..];
            if !valid_optional_port(colon_port) {
                return Err(format!(
                    "invalid port {} after host",
                    super::ingress::go_quote(colon_port)
                ));
            }
            &host[..i]
        }
        None => host,
    };
    unescape(name)
}

/// Go's `validOptionalPort`: empty, or `:` and digits.
fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        None => port.is_empty(),
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Percent-decoding with Go's error for a bad escape.
fn unescape(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |b: u8| (b as char).to_digit(16);
            match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&a), Some(&b)) if hex(a).is_some() && hex(b).is_some() => {
                    out.push((hex(a).unwrap_or(0) * 16 + hex(b).unwrap_or(0)) as u8);
                    i += 3;
                }
                _ => {
                    let end = (i + 3).min(bytes.len());
                    let bad = String::from_utf8_lossy(&bytes[i..end]);
                    return Err(format!(
                        "invalid URL escape {}",
                        super::ingress::go_quote(&bad)
                    ));
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> (String, String, String) {
        let u = parse(raw).unwrap();
        (u.scheme, u.hostname, u.path)
    }

    fn s(a: &str, b: &str, c: &str) -> (String, String, String) {
        (a.into(), b.into(), c.into())
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(ok("http://10.0.0.1:8080"), s("http", "10.0.0.1", ""));
        assert_eq!(ok("HTTPS://grafana"), s("https", "grafana", ""));
        assert_eq!(ok("http://a/"), s("http", "a", "/"));
        assert_eq!(ok("http://a?x=1#f"), s("http", "a", ""));
        assert_eq!(ok("http://[::1]:80"), s("http", "::1", ""));
        assert_eq!(ok("http://u:p@h:1/x"), s("http", "h", "/x"));
        assert_eq!(ok("localhost:8080"), s("localhost", "", ""));
        assert_eq!(ok("grafana"), s("", "", "grafana"));
        assert_eq!(ok("//h/p"), s("", "h", "/p"));
        assert_eq!(ok(""), s("", "", ""));
    }

    #[test]
    fn refuses_like_go() {
        assert_eq!(
            parse("10.0.0.1:80").unwrap_err(),
            r#"parse "10.0.0.1:80": first path segment in URL cannot contain colon"#
        );
        assert_eq!(
            parse("://x").unwrap_err(),
            r#"parse "://x": missing protocol scheme"#
        );
        assert_eq!(
            parse("http://h:abc").unwrap_err(),
            r#"parse "http://h:abc": invalid port ":abc" after host"#
        );
        assert_eq!(
            parse("http://[::1").unwrap_err(),
            r#"parse "http://[::1": missing ']' in host"#
        );
        assert_eq!(
            parse("http://h/%zz").unwrap_err(),
            r#"parse "http://h/%zz": invalid URL escape "%zz""#
        );
        assert_eq!(
            parse("http://h\n").unwrap_err(),
            "parse \"http://h\\n\": net/url: invalid control character in URL"
        );
    }
}
