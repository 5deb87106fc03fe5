//! Kubernetes' rules for the values a [`super::Workload`] writes into
//! manifests: object names, container image references, resource
//! quantities, paths. Each function says why a value breaks its rule, in
//! words a user can act on, or `None`; the builder records the answer at
//! the user's line, so `check` refuses what `kubectl apply` (or Flux, hours
//! later) would refuse.
//!
//! Sources: the validation in `k8s.io/apimachinery/pkg/util/validation`
//! (DNS-1123/1035 names, IANA service names, config-map keys),
//! `k8s.io/apimachinery/pkg/api/resource` (quantities) and
//! `github.com/distribution/reference` (image references).

/// A DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63): a
/// namespace.
pub(crate) fn dns1123_label_problem(name: &str) -> Option<String> {
    label_problem(name, false)
}

/// A DNS-1035 label (as DNS-1123, starting with a letter): a Service's
/// name, hence a workload's.
pub(crate) fn dns1035_label_problem(name: &str) -> Option<String> {
    label_problem(name, true)
}

fn label_problem(name: &str, letter_first: bool) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > 63 {
        return Some("it is longer than 63 characters".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("only lowercase letters, digits and `-` are allowed".into());
    }
    if letter_first && !name.as_bytes()[0].is_ascii_lowercase() {
        return Some("it must start with a lowercase letter".into());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it may not start or end with `-`".into());
    }
    None
}

/// A DNS-1123 subdomain (labels of `[a-z0-9-.]`, at most 253): a Secret's
/// name.
pub(crate) fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("it is longer than 253 characters".into());
    }
    name.split('.')
        .find_map(|label| dns1123_label_problem(label).map(|p| format!("part `{label}`: {p}")))
}

/// A key of a Secret (`[-._a-zA-Z0-9]+`, at most 253).
pub(crate) fn secret_key_problem(key: &str) -> Option<String> {
    if key.is_empty() || key.len() > 253 {
        return Some("it must be 1 to 253 characters".into());
    }
    if !key
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Some("only letters, digits, `-`, `.` and `_` are allowed".into());
    }
    None
}

/// An IANA service name (a port's name): at most 15 lowercase letters,
/// digits and inner single `-`, with at least one letter.
pub(crate) fn port_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 15 {
        return Some("it must be 1 to 15 characters".into());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("only lowercase letters, digits and `-` are allowed".into());
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some("it needs at least one letter".into());
    }
    if name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Some("`-` may not start or end it, nor be doubled".into());
    }
    None
}

/// An environment variable's name: printable ASCII without `=`.
pub(crate) fn env_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.contains('=') {
        return Some("it may not contain `=`".into());
    }
    if !name.bytes().all(|b| (0x20..0x7f).contains(&b)) || name.contains(' ') {
        return Some("only printable ASCII without spaces is allowed".into());
    }
    None
}

/// Why `image` is not a pinned container image reference: `registry/repo`
/// with a `:tag` other than `latest`, or an `@sha256:` digest.
pub(crate) fn image_problem(image: &str) -> Option<String> {
    if image.is_empty() {
        return Some("the image is empty".into());
    }
    if image.chars().any(char::is_whitespace) {
        return Some(format!("`{image}` contains whitespace"));
    }
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let (repo, tag) = match name.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (name, None),
    };
    if let Some(p) = repository_problem(repo) {
        return Some(format!("`{image}`: {p}"));
    }
    if let Some(digest) = digest {
        let Some(hex) = digest.strip_prefix("sha256:") else {
            return Some(format!(
                "`{image}`: the digest must be `sha256:<64 hex digits>`"
            ));
        };
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Some(format!(
                "`{image}`: the digest must be `sha256:<64 lowercase hex digits>`"
            ));
        }
    }
    match tag {
        Some(tag) => {
            let ok_chars = tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if tag.is_empty() || tag.len() > 128 || !ok_chars || tag.starts_with(['.', '-']) {
                return Some(format!("`{image}`: `{tag}` is not a tag"));
            }
            if tag == "latest" && digest.is_none() {
                return Some(format!(
                    "`{image}` is pinned to `latest`, which moves: every pod restart may run \
                     another version, and the GitOps history does not say which"
                ));
            }
            None
        }
        None if digest.is_some() => None,
        None => Some(format!(
            "`{image}` has no tag, so it means `latest`, which moves: every pod restart may run \
             another version"
        )),
    }
}

/// The repository part of an image reference: an optional registry
/// (`ghcr.io`, `localhost:5000`) and lowercase path components.
fn repository_problem(repo: &str) -> Option<String> {
    let mut parts: Vec<&str> = repo.split('/').collect();
    let first = parts[0];
    let is_registry = parts.len() > 1 && (first.contains(['.', ':']) || first == "localhost");
    if is_registry {
        let host = first.split_once(':').map_or(first, |(h, port)| {
            if port.parse::<u16>().is_err() {
                return "";
            }
            h
        });
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        {
            return Some(format!(
                "`{first}` is not a registry host (`ghcr.io`, `registry:5000`)"
            ));
        }
        parts.remove(0);
    }
    for part in parts {
        let ok = !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            })
            && part.as_bytes()[0].is_ascii_alphanumeric()
            && part.as_bytes()[part.len() - 1].is_ascii_alphanumeric();
        if !ok {
            return Some(format!(
                "`{part}` is not a repository path component (lowercase letters, digits, inner \
                 `.`, `_`, `-`)"
            ));
        }
    }
    None
}

/// Why `size` is not a positive byte quantity (`100Gi`, `512Mi`, `1T`).
pub(crate) fn bytes_problem(size: &str) -> Option<String> {
    const SUFFIXES: &[&str] = &[
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ];
    let digits = size.bytes().take_while(u8::is_ascii_digit).count();
    let (number, suffix) = size.split_at(digits);
    let number_ok = !number.is_empty() && number.parse::<u64>().is_ok_and(|n| n > 0);
    if number_ok && SUFFIXES.contains(&suffix) {
        return None;
    }
    let hint = match suffix {
        "GB" | "gb" | "g" | "GiB" => " (write `Gi` for gibibytes or `G` for gigabytes)",
        "MB" | "mb" | "m" | "MiB" => " (write `Mi` for mebibytes or `M` for megabytes)",
        "TB" | "tb" | "t" | "TiB" => " (write `Ti` for tebibytes or `T` for terabytes)",
        _ => "",
    };
    Some(format!(
        "`{size}` is not a size: a positive whole number with `Ki`, `Mi`, `Gi`, `Ti` (or `k`, \
         `M`, `G`, `T`){hint}"
    ))
}

/// Why `cpu` is not a CPU quantity (`500m`, `1`, `0.5`).
pub(crate) fn cpu_problem(cpu: &str) -> Option<String> {
    let ok = if let Some(milli) = cpu.strip_suffix('m') {
        !milli.is_empty()
            && milli.bytes().all(|b| b.is_ascii_digit())
            && milli.parse::<u64>().is_ok_and(|n| n > 0)
    } else {
        let mut halves = cpu.splitn(2, '.');
        let whole = halves.next().unwrap_or_default();
        let frac = halves.next();
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        !whole.is_empty()
            && digits(whole)
            && frac.is_none_or(|f| !f.is_empty() && digits(f))
            && cpu.parse::<f64>().is_ok_and(|v| v > 0.0)
    };
    (!ok).then(|| format!("`{cpu}` is not a CPU amount: cores (`1`, `0.5`) or millicores (`500m`)"))
}

/// Why `path` is not an absolute path a pod can mount at.
pub(crate) fn mount_path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!("`{path}` is not an absolute path"));
    }
    if path == "/" {
        return Some("a volume cannot be mounted over the container's root `/`".into());
    }
    if path.split('/').any(|c| c == "..") {
        return Some(format!("`{path}` contains `..`"));
    }
    if path.contains(':') {
        return Some(format!(
            "`{path}` contains `:`, which Kubernetes refuses in mount paths"
        ));
    }
    None
}

/// Why `export` is not an absolute NFS export path.
pub(crate) fn export_problem(export: &str) -> Option<String> {
    if !export.starts_with('/') || export.chars().any(char::is_whitespace) {
        return Some(format!(
            "`{export}` is not an absolute export path (`/mnt/pool/photos`)"
        ));
    }
    None
}

/// Why `server` is not an NFS server (a host name or an IP).
pub(crate) fn server_problem(server: &str) -> Option<String> {
    if server.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    if server.contains("://") || server.contains('/') {
        return Some(format!(
            "`{server}` is a URL or a path: give the NFS server's host name or IP, and the \
             export separately"
        ));
    }
    super::net::dns_name_problem(server).map(|p| format!("`{server}` is not a host name: {p}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_need_a_tag_or_digest_but_not_latest() {
        for ok in [
            "ghcr.io/immich-app/immich-server:v1.132.3",
            "nginx:1.27",
            "localhost:5000/app:1",
            "registry.example.com:8443/team/app_x:2024.01-rc1",
            "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "ghcr.io/a/b:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(image_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("nginx", "no tag"),
            ("ghcr.io/a/b:latest", "`latest`"),
            ("localhost:5000/app", "no tag"),
            ("Ghcr.io/A/b:1", "not a repository path component"),
            ("ghcr.io/a/b:", "is not a tag"),
            ("ghcr.io/a/b@md5:00", "sha256"),
            ("a b:1", "whitespace"),
            ("", "empty"),
        ] {
            let p = image_problem(bad).unwrap_or_else(|| panic!("{bad} passed"));
            assert!(p.contains(says), "{bad}: {p}");
        }
    }

    #[test]
    fn names_follow_kubernetes() {
        assert_eq!(dns1035_label_problem("photos"), None);
        assert!(dns1035_label_problem("1photos").is_some());
        assert_eq!(dns1123_label_problem("1photos"), None);
        assert!(dns1123_label_problem("Photos").is_some());
        assert!(dns1123_label_problem("photos-").is_some());
        assert!(dns1123_label_problem(&"a".repeat(64)).is_some());
        assert_eq!(dns1123_subdomain_problem("db.credentials"), None);
        assert!(dns1123_subdomain_problem("db_credentials").is_some());
        assert_eq!(port_name_problem("http"), None);
        assert!(port_name_problem("http--alt").is_some());
        assert!(port_name_problem("8080").is_some());
        assert!(port_name_problem("a-very-long-port-name").is_some());
        assert_eq!(secret_key_problem("DB_PASSWORD"), None);
        assert!(secret_key_problem("a/b").is_some());
        assert_eq!(env_name_problem("DB_HOST"), None);
        assert!(env_name_problem("A=B").is_some());
        assert!(env_name_problem("").is_some());
    }

    #[test]
    fn quantities_and_paths() {
        for ok in ["100Gi", "512Mi", "1T", "10"] {
            assert_eq!(bytes_problem(ok), None, "{ok}");
        }
        assert!(bytes_problem("10GB").unwrap().contains("`Gi`"));
        assert!(bytes_problem("0Gi").is_some());
        assert!(bytes_problem("-1Gi").is_some());
        for ok in ["500m", "1", "0.5", "2"] {
            assert_eq!(cpu_problem(ok), None, "{ok}");
        }
        for bad in ["0", "0m", "1.", "one", "500mi", ""] {
            assert!(cpu_problem(bad).is_some(), "{bad}");
        }
        assert_eq!(mount_path_problem("/photos"), None);
        assert!(mount_path_problem("photos").is_some());
        assert!(mount_path_problem("/").is_some());
        assert!(mount_path_problem("/a/../b").is_some());
        assert_eq!(export_problem("/mnt/hot/photos"), None);
        assert!(export_problem("mnt").is_some());
        assert_eq!(server_problem("10.0.20.5"), None);
        assert_eq!(server_problem("nas-a.home.arpa"), None);
        assert!(server_problem("nfs://nas/mnt").is_some());
    }
}
