//! Caddy's JSON config as lab writes it: serde types for the part of the
//! document lab-net drives, [`render`] (a [`CaddySpec`] to the document
//! `POST /load` takes) and [`parse`] (a document `GET /config/` returned,
//! back to a spec), so nothing is rendered by hand and a read-back compares
//! typed values.
//!
//! The shape is the one `caddy adapt` gives for the Caddyfile lab would
//! write (Caddy 2.6.2, measured): one HTTP server whose routes are
//! `{match: [{host: [h]}], handle: [{handler: "subroute", routes: [{handle:
//! [reverse_proxy]}]}], terminal: true}`, an automation policy naming every
//! host with the issuer, the local CA without `install_trust`, and
//! `automatic_https.disable_redirects` (no `:80` redirect listener).
//!
//! **Ownership.** The server carries the lab's marker as its `@id`
//! (`lab:<lab>/<address>`); Caddy keeps `@id`s as they are and refuses
//! any other unknown field, so the marker lives inside the config itself.
//!
//! The types are strict (`deny_unknown_fields`), as Caddy is: a document
//! someone extended by hand with things lab does not write fails [`parse`]
//! with the path of the first such field, which the provider reports as
//! drift instead of guessing.

mod types;

use indexmap::IndexMap;

pub use types::*;

use crate::kinds::{CaddyRoute, CaddySpec, CaddyTls, ISSUER_ACME, ISSUER_INTERNAL};

/// The name of the one HTTP server lab writes.
pub const SERVER: &str = "lab";

/// Caddy's admin address when the config names none.
pub const DEFAULT_ADMIN: &str = "localhost:2019";

/// Where a Caddy lab starts for a simulated lab really listens, instead of
/// the declared addresses: loopback ports and a storage folder of its own
/// (see [`crate::connect`]). With a placement, ACME issuers are rendered as
/// the local CA, so nothing dials an ACME server or a DNS provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The admin address.
    pub admin: String,
    /// The listen host.
    pub bind: String,
    /// The HTTPS port.
    pub https_port: u16,
    /// The HTTP port.
    pub http_port: u16,
    /// The storage folder.
    pub storage: String,
}

/// Why a spec cannot be rendered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

fn port(field: &str, v: i64) -> Result<u16, RenderError> {
    u16::try_from(v)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| RenderError(format!("`{field}` {v} is not a port (1..65535)")))
}

/// `host:port`, the host in brackets when it is an IPv6 address.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The document for `spec`, the server tagged with `marker`, at the
/// declared addresses or at `placement`'s.
pub fn render(
    spec: &CaddySpec,
    marker: Option<&str>,
    placement: Option<&Placement>,
) -> Result<Config, RenderError> {
    let (admin, binds, https_port, http_port, storage) = match placement {
        Some(p) => (
            p.admin.clone(),
            Some(vec![p.bind.clone()]),
            p.https_port,
            Some(p.http_port),
            Some(p.storage.clone()),
        ),
        None => (
            spec.admin.clone(),
            spec.bind.clone(),
            port("https_port", spec.https_port)?,
            spec.http_port.map(|p| port("http_port", p)).transpose()?,
            spec.storage.clone(),
        ),
    };
    let listen = match binds {
        Some(hosts) if !hosts.is_empty() => hosts
            .iter()
            .map(|h| join_host_port(h, https_port))
            .collect(),
        _ => vec![format!(":{https_port}")],
    };
    let routes = spec.routes.iter().map(render_route).collect();
    let hosts: Vec<String> = spec.routes.iter().map(|r| r.host.clone()).collect();
    let issuer = if placement.is_some() {
        Issuer {
            module: ISSUER_INTERNAL.into(),
            email: None,
            challenges: None,
        }
    } else {
        render_issuer(&spec.tls)?
    };
    let mut servers = IndexMap::new();
    servers.insert(
        SERVER.to_string(),
        Server {
            id: marker.map(str::to_string),
            listen,
            routes,
            automatic_https: Some(AutomaticHttps {
                disable_redirects: Some(true),
            }),
        },
    );
    let mut cas = IndexMap::new();
    cas.insert(
        "local".to_string(),
        CaConfig {
            install_trust: Some(false),
        },
    );
    Ok(Config {
        admin: Some(Admin {
            listen: Some(admin),
        }),
        storage: storage.map(storage_module),
        apps: Some(Apps {
            http: Some(HttpApp {
                http_port,
                https_port: Some(https_port),
                servers,
            }),
            tls: Some(TlsApp {
                automation: Some(Automation {
                    policies: vec![Policy {
                        subjects: (!hosts.is_empty()).then_some(hosts),
                        issuers: vec![issuer],
                    }],
                }),
            }),
            pki: Some(PkiApp {
                certificate_authorities: cas,
            }),
        }),
    })
}

/// The document that leaves Caddy serving nothing: the admin endpoint and
/// the storage (so the CA stays the same) of `spec`, no apps.
pub fn render_empty(spec: &CaddySpec, placement: Option<&Placement>) -> Config {
    let (admin, storage) = match placement {
        Some(p) => (p.admin.clone(), Some(p.storage.clone())),
        None => (spec.admin.clone(), spec.storage.clone()),
    };
    Config {
        admin: Some(Admin {
            listen: Some(admin),
        }),
        storage: storage.map(storage_module),
        apps: None,
    }
}

fn storage_module(root: String) -> Storage {
    Storage {
        module: "file_system".into(),
        root,
    }
}

fn render_route(route: &CaddyRoute) -> Route {
    let headers = route
        .headers
        .as_ref()
        .filter(|h| !h.is_empty())
        .map(|h| Headers {
            request: Some(HeaderOps {
                set: Some(
                    h.iter()
                        .map(|(k, v)| (k.clone(), vec![v.clone()]))
                        .collect(),
                ),
            }),
        });
    let proxy = Handler {
        handler: "reverse_proxy".into(),
        upstreams: Some(
            route
                .upstreams
                .iter()
                .map(|u| Upstream { dial: u.clone() })
                .collect(),
        ),
        headers,
        transport: (route.upstream_tls == Some(true)).then(|| Transport {
            protocol: "http".into(),
            tls: Some(TransportTls {}),
        }),
        routes: None,
    };
    Route {
        matchers: Some(vec![Matcher {
            host: vec![route.host.clone()],
        }]),
        handle: vec![Handler {
            handler: "subroute".into(),
            routes: Some(vec![Route {
                matchers: None,
                handle: vec![proxy],
                terminal: None,
            }]),
            ..Handler::default()
        }],
        terminal: Some(true),
    }
}

fn render_issuer(tls: &CaddyTls) -> Result<Issuer, RenderError> {
    match tls.issuer.as_str() {
        ISSUER_INTERNAL => Ok(Issuer {
            module: ISSUER_INTERNAL.into(),
            email: None,
            challenges: None,
        }),
        ISSUER_ACME => {
            let provider = tls.dns_provider.clone().ok_or_else(|| {
                RenderError("`tls.issuer` acme needs `tls.dns_provider` (DNS-01)".into())
            })?;
            Ok(Issuer {
                module: ISSUER_ACME.into(),
                email: tls.email.clone(),
                challenges: Some(Challenges {
                    dns: Some(DnsChallenge {
                        provider: DnsProvider {
                            name: provider,
                            api_token: tls.api_token.as_ref().map(ApiToken::from_secret),
                        },
                    }),
                }),
            })
        }
        other => Err(RenderError(format!(
            "`tls.issuer` {other:?} is neither `internal` nor `acme`"
        ))),
    }
}

/// What [`parse`] read from a document.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    /// The spec the document says, as far as it has lab's shape.
    pub spec: CaddySpec,
    /// The lab marker on the server (`@id`), if any.
    pub marker: Option<String>,
}

/// Reads a document back into a spec: the inverse of [`render`] without a
/// placement (`parse(render(s)) == s`). Parts [`render`] would not write
/// (a second server, a handler other than a reverse proxy) are read as far
/// as they go; compare `render(parsed)` with the document to see whether
/// anything was left out ([`differences`]).
pub fn parse(config: &Config) -> Parsed {
    let admin = config
        .admin
        .as_ref()
        .and_then(|a| a.listen.clone())
        .unwrap_or_else(|| DEFAULT_ADMIN.to_string());
    let storage = config.storage.as_ref().map(|s| s.root.clone());
    let apps = config.apps.clone().unwrap_or_default();
    let http = apps.http.unwrap_or_default();
    let server = http
        .servers
        .get(SERVER)
        .or_else(|| http.servers.values().next())
        .cloned()
        .unwrap_or_default();
    let (bind, listen_port) = parse_listen(&server.listen);
    let https_port = http
        .https_port
        .map(i64::from)
        .or(listen_port)
        .unwrap_or(443);
    let routes = server.routes.iter().map(parse_route).collect();
    let issuer = apps
        .tls
        .and_then(|t| t.automation)
        .and_then(|a| a.policies.into_iter().next())
        .and_then(|p| p.issuers.into_iter().next());
    let tls = match issuer {
        Some(i) if i.module == ISSUER_ACME => {
            let provider = i.challenges.and_then(|c| c.dns).map(|d| d.provider);
            CaddyTls {
                issuer: ISSUER_ACME.into(),
                dns_provider: provider.as_ref().map(|p| p.name.clone()),
                api_token: provider.and_then(|p| p.api_token).map(|t| t.secret()),
                email: i.email,
            }
        }
        Some(i) => CaddyTls {
            issuer: i.module,
            ..CaddyTls::internal()
        },
        None => CaddyTls::internal(),
    };
    Parsed {
        spec: CaddySpec {
            admin,
            https_port,
            http_port: http.http_port.map(i64::from),
            bind,
            tls,
            routes,
            storage,
        },
        marker: server.id,
    }
}

fn parse_listen(listen: &[String]) -> (Option<Vec<String>>, Option<i64>) {
    let mut hosts = Vec::new();
    let mut port = None;
    for l in listen {
        let (h, p) = l.rsplit_once(':').unwrap_or((l.as_str(), ""));
        port = port.or_else(|| p.parse::<i64>().ok());
        let h = h.trim_start_matches('[').trim_end_matches(']');
        if !h.is_empty() {
            hosts.push(h.to_string());
        }
    }
    ((!hosts.is_empty()).then_some(hosts), port)
}

fn parse_route(route: &Route) -> CaddyRoute {
    let host = route
        .matchers
        .iter()
        .flatten()
        .flat_map(|m| m.host.iter())
        .next()
        .cloned()
        .unwrap_or_else(|| "*".into());
    let mut out = CaddyRoute {
        host,
        upstreams: Vec::new(),
        upstream_tls: None,
        headers: None,
    };
    // The reverse proxy, directly or inside the subroute.
    let proxy = route.handle.iter().find_map(|h| match h.handler.as_str() {
        "reverse_proxy" => Some(h),
        "subroute" => h
            .routes
            .iter()
            .flatten()
            .flat_map(|r| r.handle.iter())
            .find(|h| h.handler == "reverse_proxy"),
        _ => None,
    });
    if let Some(p) = proxy {
        out.upstreams = p
            .upstreams
            .iter()
            .flatten()
            .map(|u| u.dial.clone())
            .collect();
        out.upstream_tls = p
            .transport
            .as_ref()
            .and_then(|t| t.tls.as_ref())
            .map(|_| true);
        out.headers = p
            .headers
            .as_ref()
            .and_then(|h| h.request.as_ref())
            .and_then(|r| r.set.as_ref())
            .map(|set| set.iter().map(|(k, v)| (k.clone(), v.join(", "))).collect());
    }
    out
}

/// The JSON paths at which two documents differ (at most `limit`), e.g.
/// `apps.http.servers.lab.routes[1].handle[0].handler`.
pub fn differences(a: &serde_json::Value, b: &serde_json::Value, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(a, b, String::new(), &mut out, limit);
    out
}

fn diff_into(
    a: &serde_json::Value,
    b: &serde_json::Value,
    path: String,
    out: &mut Vec<String>,
    limit: usize,
) {
    use serde_json::Value as J;
    if out.len() >= limit || a == b {
        return;
    }
    match (a, b) {
        (J::Object(x), J::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let sub = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => diff_into(p, q, sub, out, limit),
                    _ => {
                        if out.len() < limit {
                            out.push(sub)
                        }
                    }
                }
            }
        }
        (J::Array(x), J::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff_into(p, q, format!("{path}[{i}]"), out, limit);
            }
        }
        _ => out.push(if path.is_empty() {
            "(the whole document)".into()
        } else {
            path
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lab_core::Secret;

    fn spec() -> CaddySpec {
        let mut headers = IndexMap::new();
        headers.insert("X-Forwarded-Proto".to_string(), "https".to_string());
        CaddySpec {
            admin: "127.0.0.1:2019".into(),
            https_port: 18443,
            http_port: Some(18081),
            bind: Some(vec!["127.0.0.1".into()]),
            tls: CaddyTls::internal(),
            routes: vec![
                CaddyRoute::new("grafana.lab.home.arpa", "127.0.0.1:18080"),
                CaddyRoute {
                    host: "pve.lab.home.arpa".into(),
                    upstreams: vec!["10.0.10.2:8006".into(), "10.0.10.3:8006".into()],
                    upstream_tls: Some(true),
                    headers: Some(headers),
                },
            ],
            storage: Some("/var/lib/caddy".into()),
        }
    }

    #[test]
    fn renders_the_shape_caddy_adapt_gives() {
        let c = render(&spec(), Some("lab:home/net.caddy.proxy"), None).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        let route = &json["apps"]["http"]["servers"]["lab"]["routes"][0];
        assert_eq!(route["match"][0]["host"][0], "grafana.lab.home.arpa");
        assert_eq!(route["terminal"], true);
        let proxy = &route["handle"][0]["routes"][0]["handle"][0];
        assert_eq!(route["handle"][0]["handler"], "subroute");
        assert_eq!(proxy["handler"], "reverse_proxy");
        assert_eq!(proxy["upstreams"][0]["dial"], "127.0.0.1:18080");
        let pve = &json["apps"]["http"]["servers"]["lab"]["routes"][1]["handle"][0]["routes"][0]
            ["handle"][0];
        assert_eq!(
            pve["headers"]["request"]["set"]["X-Forwarded-Proto"][0],
            "https"
        );
        assert_eq!(pve["transport"]["protocol"], "http");
        assert_eq!(
            json["apps"]["http"]["servers"]["lab"]["@id"],
            "lab:home/net.caddy.proxy"
        );
        assert_eq!(
            json["apps"]["http"]["servers"]["lab"]["listen"][0],
            "127.0.0.1:18443"
        );
        assert_eq!(
            json["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"],
            "internal"
        );
        assert_eq!(
            json["apps"]["pki"]["certificate_authorities"]["local"]["install_trust"],
            false
        );
        assert_eq!(json["admin"]["listen"], "127.0.0.1:2019");
        assert_eq!(json["storage"]["root"], "/var/lib/caddy");
    }

    #[test]
    fn parse_inverts_render() {
        let mut s = spec();
        let c = render(&s, Some("m"), None).unwrap();
        let p = parse(&c);
        assert_eq!(p.spec, s);
        assert_eq!(p.marker.as_deref(), Some("m"));
        // Every interface, no HTTP port, ACME.
        s.bind = None;
        s.http_port = None;
        s.storage = None;
        s.tls = CaddyTls::acme("cloudflare", Secret::new("tok"), Some("me@example.org"));
        let c = render(&s, None, None).unwrap();
        assert_eq!(
            serde_json::to_value(&c).unwrap()["apps"]["http"]["servers"]["lab"]["listen"][0],
            ":18443"
        );
        assert_eq!(parse(&c).spec, s);
        // Through JSON text, as `GET /config/` returns it.
        let text = serde_json::to_string(&c).unwrap();
        let back: Config = serde_json::from_str(&text).unwrap();
        assert_eq!(parse(&back).spec, s);
    }

    #[test]
    fn the_token_stays_out_of_debug() {
        let s = CaddySpec {
            tls: CaddyTls::acme("cloudflare", Secret::new("hunter2"), None),
            ..spec()
        };
        let c = render(&s, None, None).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(serde_json::to_string(&c).unwrap().contains("hunter2"));
    }

    #[test]
    fn placement_moves_addresses_and_keeps_acme_home() {
        let s = CaddySpec {
            tls: CaddyTls::acme("cloudflare", Secret::new("hunter2"), None),
            ..spec()
        };
        let p = Placement {
            admin: "127.0.0.1:40000".into(),
            bind: "127.0.0.1".into(),
            https_port: 40001,
            http_port: 40002,
            storage: "/tmp/x".into(),
        };
        let json = serde_json::to_value(render(&s, None, Some(&p)).unwrap()).unwrap();
        assert_eq!(json["admin"]["listen"], "127.0.0.1:40000");
        assert_eq!(
            json["apps"]["http"]["servers"]["lab"]["listen"][0],
            "127.0.0.1:40001"
        );
        assert!(!json.to_string().contains("hunter2"));
        assert_eq!(
            json["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"],
            "internal"
        );
    }

    #[test]
    fn unknown_fields_are_refused_and_differences_named() {
        let err = serde_json::from_str::<Config>(r#"{"bogus": 1}"#).unwrap_err();
        assert!(err.to_string().contains("bogus"));
        let a = serde_json::json!({"apps": {"http": {"servers": {"lab": {"listen": [":1"]}}}}});
        let b = serde_json::json!({"apps": {"http": {"servers": {"lab": {"listen": [":2"]}, "x": {}}}}});
        assert_eq!(
            differences(&a, &b, 5),
            vec!["apps.http.servers.lab.listen[0]", "apps.http.servers.x"]
        );
        assert!(render(
            &CaddySpec {
                https_port: 70000,
                ..spec()
            },
            None,
            None
        )
        .is_err());
    }

    mod roundtrip {
        use super::*;
        use proptest::prelude::*;

        fn route() -> impl Strategy<Value = CaddyRoute> {
            (
                "[a-z]{1,8}\\.lab",
                prop::collection::vec("10\\.0\\.[0-9]{1,2}\\.[0-9]{1,3}:[1-9][0-9]{0,3}", 1..3),
                prop::option::of(Just(true)),
                prop::option::of(prop::collection::vec(
                    ("X-[A-Z][a-z]{1,6}", "[a-z]{1,6}"),
                    1..3,
                )),
            )
                .prop_map(|(host, upstreams, upstream_tls, headers)| CaddyRoute {
                    host,
                    upstreams,
                    upstream_tls,
                    headers: headers.map(|h| h.into_iter().collect()),
                })
        }

        fn spec() -> impl Strategy<Value = CaddySpec> {
            (
                1i64..65536,
                prop::option::of(1i64..65536),
                prop::option::of(prop::collection::vec(
                    prop::sample::select(vec!["127.0.0.1", "::1", "10.0.20.5"]),
                    1..3,
                )),
                any::<bool>(),
                prop::collection::vec(route(), 0..4),
                prop::option::of("/[a-z]{1,8}"),
            )
                .prop_map(|(https_port, http_port, bind, acme, routes, storage)| {
                    CaddySpec {
                        admin: "127.0.0.1:2019".into(),
                        https_port,
                        http_port,
                        bind: bind.map(|b| b.into_iter().map(str::to_string).collect()),
                        tls: if acme {
                            CaddyTls::acme("cloudflare", Secret::new("t"), None)
                        } else {
                            CaddyTls::internal()
                        },
                        routes,
                        storage,
                    }
                })
        }

        proptest! {
            /// What lab loads reads back as the spec it came from, so an
            /// apply is followed by a plan without changes.
            #[test]
            fn parse_of_render_is_the_spec(s in spec()) {
                let c = render(&s, Some("lab:home/net.caddy.proxy"), None).unwrap();
                let text = serde_json::to_string(&c).unwrap();
                let back: Config = serde_json::from_str(&text).unwrap();
                let p = parse(&back);
                prop_assert_eq!(&p.spec, &s);
                prop_assert_eq!(p.marker.as_deref(), Some("lab:home/net.caddy.proxy"));
            }
        }
    }
}
