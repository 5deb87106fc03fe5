//! The multi-document kinds: the field tables of those `lab` generates
//! (`pkg/machinery/config/types/network/*.go`), and the top-level field
//! order of the others.

use super::Shape;
use super::Shape::{List, Scalar, Struct};

pub(super) const ADDRESS: &[(&str, Shape)] = &[("address", Scalar), ("routePriority", Scalar)];

pub(super) const LINK_ROUTE: &[(&str, Shape)] = &[
    ("destination", Scalar),
    ("gateway", Scalar),
    ("source", Scalar),
    ("metric", Scalar),
    ("mtu", Scalar),
    ("table", Scalar),
];

pub(super) const LINK_CONFIG: &[(&str, Shape)] = &[
    ("apiVersion", Scalar),
    ("kind", Scalar),
    ("name", Scalar),
    ("up", Scalar),
    ("mtu", Scalar),
    ("addresses", List(&Struct(ADDRESS))),
    ("routes", List(&Struct(LINK_ROUTE))),
    ("multicast", Scalar),
];

pub(super) const LAYER2_VIP_CONFIG: &[(&str, Shape)] = &[
    ("apiVersion", Scalar),
    ("kind", Scalar),
    ("name", Scalar),
    ("link", Scalar),
];

pub(super) const HOSTNAME_CONFIG: &[(&str, Shape)] = &[
    ("apiVersion", Scalar),
    ("kind", Scalar),
    ("auto", Scalar),
    ("hostname", Scalar),
];

pub(super) const RESOLVER_CONFIG: &[(&str, Shape)] = &[
    ("apiVersion", Scalar),
    ("kind", Scalar),
    ("nameservers", List(&Struct(&[("address", Scalar)]))),
    (
        "searchDomains",
        Struct(&[("domains", Scalar), ("disableDefault", Scalar)]),
    ),
];

pub(super) const REGISTRY_MIRROR_CONFIG: &[(&str, Shape)] = &[
    ("apiVersion", Scalar),
    ("kind", Scalar),
    ("name", Scalar),
    (
        "endpoints",
        List(&Struct(&[("url", Scalar), ("overridePath", Scalar)])),
    ),
    ("skipFallback", Scalar),
];

/// The field table of a multi-document kind, if `lab` knows it.
pub(crate) fn kind_fields(kind: &str) -> Option<&'static [(&'static str, Shape)]> {
    Some(match kind {
        "LinkConfig" => LINK_CONFIG,
        "Layer2VIPConfig" => LAYER2_VIP_CONFIG,
        "HostnameConfig" => HOSTNAME_CONFIG,
        "ResolverConfig" => RESOLVER_CONFIG,
        "RegistryMirrorConfig" => REGISTRY_MIRROR_CONFIG,
        _ => return None,
    })
}

/// Top-level fields (after `apiVersion` and `kind`) of the other v1.13
/// kinds, in schema (= Go struct) order; their nested fields keep the
/// order they have.
pub(super) const KIND_TOP_LEVEL: &[(&str, &[&str])] = &[
    ("ExistingVolumeConfig", &["name", "discovery", "mount"]),
    ("ExternalVolumeConfig", &["name", "filesystemType", "mount"]),
    ("RawVolumeConfig", &["name", "provisioning", "encryption"]),
    ("SwapVolumeConfig", &["name", "provisioning", "encryption"]),
    (
        "UserVolumeConfig",
        &[
            "name",
            "volumeType",
            "provisioning",
            "filesystem",
            "encryption",
            "mount",
        ],
    ),
    (
        "VolumeConfig",
        &["name", "provisioning", "encryption", "mount"],
    ),
    ("ZswapConfig", &["maxPoolPercent", "shrinkerEnabled"]),
    (
        "RegistryAuthConfig",
        &["name", "username", "password", "auth", "identityToken"],
    ),
    (
        "RegistryTLSConfig",
        &["name", "clientIdentity", "ca", "insecureSkipVerify"],
    ),
    (
        "ExtensionServiceConfig",
        &["name", "configFiles", "environment"],
    ),
    ("PCIDriverRebindConfig", &["name", "targetDriver"]),
    ("BlackholeRouteConfig", &["name", "metric"]),
    (
        "BondConfig",
        &[
            "name",
            "hardwareAddr",
            "links",
            "bondMode",
            "miimon",
            "updelay",
            "downdelay",
            "useCarrier",
            "xmitHashPolicy",
            "arpInterval",
            "arpIpTargets",
            "nsIp6Targets",
            "arpValidate",
            "arpAllTargets",
            "lacpRate",
            "failOverMac",
            "adSelect",
            "adActorSysPrio",
            "adUserPortKey",
            "adLACPActive",
            "primaryReselect",
            "resendIGMP",
            "minLinks",
            "lpInterval",
            "packetsPerSlave",
            "numPeerNotif",
            "tlbLogicalLb",
            "allSlavesActive",
            "peerNotifDelay",
            "missedMax",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    (
        "BridgeConfig",
        &[
            "name",
            "hardwareAddr",
            "links",
            "stp",
            "vlan",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    ("NetworkDefaultActionConfig", &["ingress"]),
    (
        "DHCPv4Config",
        &[
            "name",
            "routeMetric",
            "ignoreHostname",
            "clientIdentifier",
            "duidRaw",
        ],
    ),
    (
        "DHCPv6Config",
        &[
            "name",
            "routeMetric",
            "ignoreHostname",
            "clientIdentifier",
            "duidRaw",
        ],
    ),
    (
        "DummyLinkConfig",
        &[
            "name",
            "hardwareAddr",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    (
        "EthernetConfig",
        &["name", "features", "rings", "channels", "wakeOnLan"],
    ),
    ("HCloudVIPConfig", &["name", "link", "apiToken"]),
    (
        "KubeSpanConfig",
        &[
            "enabled",
            "advertiseKubernetesNetworks",
            "allowDownPeerBypass",
            "harvestExtraEndpoints",
            "mtu",
            "filters",
        ],
    ),
    ("KubeSpanEndpoints", &["extraAnnouncedEndpoints"]),
    ("LinkAliasConfig", &["name", "selector"]),
    (
        "RoutingRuleConfig",
        &[
            "name", "src", "dst", "table", "action", "iifName", "oifName", "fwMark", "fwMask",
        ],
    ),
    ("NetworkRuleConfig", &["name", "portSelector", "ingress"]),
    ("StaticHostConfig", &["name", "hostnames"]),
    (
        "TCPProbeConfig",
        &[
            "name",
            "interval",
            "failureThreshold",
            "endpoint",
            "timeout",
        ],
    ),
    ("TimeSyncConfig", &["enabled", "bootTimeout", "ntp", "ptp"]),
    (
        "VLANConfig",
        &[
            "name",
            "vlanID",
            "vlanMode",
            "parent",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    (
        "VRFConfig",
        &[
            "name",
            "hardwareAddr",
            "links",
            "table",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    (
        "WireguardConfig",
        &[
            "name",
            "privateKey",
            "listenPort",
            "firewallMark",
            "peers",
            "up",
            "mtu",
            "addresses",
            "routes",
            "multicast",
        ],
    ),
    ("EnvironmentConfig", &["variables"]),
    ("EventSinkConfig", &["endpoint"]),
    ("KmsgLogConfig", &["name", "url"]),
    (
        "OOMConfig",
        &[
            "triggerExpression",
            "cgroupRankingExpression",
            "strictCgroupClassOrdering",
            "sampleInterval",
        ],
    ),
    ("WatchdogTimerConfig", &["device", "timeout"]),
    ("TrustedRootsConfig", &["name", "certificates"]),
    ("SideroLinkConfig", &["apiUrl", "uniqueToken"]),
];

pub(super) const META: &[(&str, Shape)] =
    &[("apiVersion", Scalar), ("kind", Scalar), ("name", Scalar)];
