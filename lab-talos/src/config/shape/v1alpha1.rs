//! The v1alpha1 document's field tables, in Go struct order
//! (`pkg/machinery/config/types/v1alpha1/v1alpha1_types.go`).

use super::Shape;
use super::Shape::{List, Map, Scalar, Struct, Unstructured};

pub(super) const CRT_KEY: &[(&str, Shape)] = &[("crt", Scalar), ("key", Scalar)];
pub(super) const CRT: &[(&str, Shape)] = &[("crt", Scalar)];

pub(super) const ID_MAPPING: &[(&str, Shape)] = &[
    ("containerID", Scalar),
    ("hostID", Scalar),
    ("size", Scalar),
];

pub(super) const EXTRA_MOUNT: &[(&str, Shape)] = &[
    ("destination", Scalar),
    ("type", Scalar),
    ("source", Scalar),
    ("options", Scalar),
    ("uidMappings", List(&Struct(ID_MAPPING))),
    ("gidMappings", List(&Struct(ID_MAPPING))),
];

pub(super) const KUBELET: &[(&str, Shape)] = &[
    ("image", Scalar),
    ("clusterDNS", Scalar),
    ("extraArgs", Map(&Scalar)),
    ("extraMounts", List(&Struct(EXTRA_MOUNT))),
    ("extraConfig", Unstructured),
    ("credentialProviderConfig", Unstructured),
    ("defaultRuntimeSeccompProfileEnabled", Scalar),
    ("registerWithFQDN", Scalar),
    ("nodeIP", Struct(&[("validSubnets", Scalar)])),
    ("skipNodeRegistration", Scalar),
    ("disableManifestsDirectory", Scalar),
];

pub(super) const DEVICE_SELECTOR: &[(&str, Shape)] = &[
    ("busPath", Scalar),
    ("hardwareAddr", Scalar),
    ("permanentAddr", Scalar),
    ("pciID", Scalar),
    ("driver", Scalar),
    ("physical", Scalar),
];

pub(super) const ROUTE: &[(&str, Shape)] = &[
    ("network", Scalar),
    ("gateway", Scalar),
    ("source", Scalar),
    ("metric", Scalar),
    ("mtu", Scalar),
];

pub(super) const BOND: &[(&str, Shape)] = &[
    ("interfaces", Scalar),
    ("deviceSelectors", List(&Struct(DEVICE_SELECTOR))),
    ("arpIPTarget", Scalar),
    ("mode", Scalar),
    ("xmitHashPolicy", Scalar),
    ("lacpRate", Scalar),
    ("adActorSystem", Scalar),
    ("arpValidate", Scalar),
    ("arpAllTargets", Scalar),
    ("primary", Scalar),
    ("primaryReselect", Scalar),
    ("failOverMac", Scalar),
    ("adSelect", Scalar),
    ("miimon", Scalar),
    ("updelay", Scalar),
    ("downdelay", Scalar),
    ("arpInterval", Scalar),
    ("resendIgmp", Scalar),
    ("minLinks", Scalar),
    ("lpInterval", Scalar),
    ("packetsPerSlave", Scalar),
    ("numPeerNotif", Scalar),
    ("tlbDynamicLb", Scalar),
    ("allSlavesActive", Scalar),
    ("useCarrier", Scalar),
    ("adActorSysPrio", Scalar),
    ("adUserPortKey", Scalar),
    ("peerNotifyDelay", Scalar),
];

pub(super) const DHCP_OPTIONS: &[(&str, Shape)] = &[
    ("routeMetric", Scalar),
    ("ipv4", Scalar),
    ("ipv6", Scalar),
    ("duidv6", Scalar),
];

pub(super) const DEVICE_VIP: &[(&str, Shape)] = &[
    ("ip", Scalar),
    ("equinixMetal", Struct(&[("apiToken", Scalar)])),
    ("hcloud", Struct(&[("apiToken", Scalar)])),
];

pub(super) const VLAN: &[(&str, Shape)] = &[
    ("addresses", Scalar),
    ("cidr", Scalar),
    ("routes", List(&Struct(ROUTE))),
    ("dhcp", Scalar),
    ("vlanId", Scalar),
    ("mtu", Scalar),
    ("vip", Struct(DEVICE_VIP)),
    ("dhcpOptions", Struct(DHCP_OPTIONS)),
];

pub(super) const WIREGUARD: &[(&str, Shape)] = &[
    ("privateKey", Scalar),
    ("listenPort", Scalar),
    ("firewallMark", Scalar),
    (
        "peers",
        List(&Struct(&[
            ("publicKey", Scalar),
            ("endpoint", Scalar),
            ("persistentKeepaliveInterval", Scalar),
            ("allowedIPs", Scalar),
        ])),
    ),
];

pub(super) const DEVICE: &[(&str, Shape)] = &[
    ("interface", Scalar),
    ("deviceSelector", Struct(DEVICE_SELECTOR)),
    ("addresses", Scalar),
    ("cidr", Scalar),
    ("routes", List(&Struct(ROUTE))),
    ("bond", Struct(BOND)),
    (
        "bridge",
        Struct(&[
            ("interfaces", Scalar),
            ("stp", Struct(&[("enabled", Scalar)])),
            ("vlan", Struct(&[("vlanFiltering", Scalar)])),
        ]),
    ),
    ("bridgePort", Struct(&[("master", Scalar)])),
    ("vlans", List(&Struct(VLAN))),
    ("mtu", Scalar),
    ("dhcp", Scalar),
    ("ignore", Scalar),
    ("dummy", Scalar),
    ("dhcpOptions", Struct(DHCP_OPTIONS)),
    ("wireguard", Struct(WIREGUARD)),
    ("vip", Struct(DEVICE_VIP)),
];

pub(super) const MACHINE_NETWORK: &[(&str, Shape)] = &[
    ("hostname", Scalar),
    ("interfaces", List(&Struct(DEVICE))),
    ("nameservers", Scalar),
    ("searchDomains", Scalar),
    (
        "extraHostEntries",
        List(&Struct(&[("ip", Scalar), ("aliases", Scalar)])),
    ),
    (
        "kubespan",
        Struct(&[
            ("enabled", Scalar),
            ("advertiseKubernetesNetworks", Scalar),
            ("allowDownPeerBypass", Scalar),
            ("harvestExtraEndpoints", Scalar),
            ("mtu", Scalar),
            ("filters", Struct(&[("endpoints", Scalar)])),
        ]),
    ),
    ("disableSearchDomain", Scalar),
];

pub(super) const INSTALL: &[(&str, Shape)] = &[
    ("disk", Scalar),
    (
        "diskSelector",
        Struct(&[
            ("size", Scalar),
            ("name", Scalar),
            ("model", Scalar),
            ("serial", Scalar),
            ("modalias", Scalar),
            ("uuid", Scalar),
            ("wwid", Scalar),
            ("type", Scalar),
            ("busPath", Scalar),
        ]),
    ),
    ("extraKernelArgs", Scalar),
    ("image", Scalar),
    ("extensions", List(&Struct(&[("image", Scalar)]))),
    ("bootloader", Scalar),
    ("wipe", Scalar),
    ("legacyBIOSSupport", Scalar),
    ("grubUseUKICmdline", Scalar),
];

pub(super) const ENCRYPTION: &[(&str, Shape)] = &[
    ("provider", Scalar),
    (
        "keys",
        List(&Struct(&[
            ("static", Struct(&[("passphrase", Scalar)])),
            ("nodeID", Struct(&[])),
            ("kms", Struct(&[("endpoint", Scalar)])),
            ("slot", Scalar),
            ("tpm", Struct(&[("checkSecurebootStatusOnEnroll", Scalar)])),
        ])),
    ),
    ("cipher", Scalar),
    ("keySize", Scalar),
    ("blockSize", Scalar),
    ("options", Scalar),
];

pub(super) const REGISTRIES: &[(&str, Shape)] = &[
    (
        "mirrors",
        Map(&Struct(&[
            ("endpoints", Scalar),
            ("overridePath", Scalar),
            ("skipFallback", Scalar),
        ])),
    ),
    (
        "config",
        Map(&Struct(&[
            (
                "tls",
                Struct(&[
                    ("clientIdentity", Struct(CRT_KEY)),
                    ("ca", Scalar),
                    ("insecureSkipVerify", Scalar),
                ]),
            ),
            (
                "auth",
                Struct(&[
                    ("username", Scalar),
                    ("password", Scalar),
                    ("auth", Scalar),
                    ("identityToken", Scalar),
                ]),
            ),
        ])),
    ),
];

pub(super) const FEATURES: &[(&str, Shape)] = &[
    ("rbac", Scalar),
    ("stableHostname", Scalar),
    (
        "kubernetesTalosAPIAccess",
        Struct(&[
            ("enabled", Scalar),
            ("allowedRoles", Scalar),
            ("allowedKubernetesNamespaces", Scalar),
        ]),
    ),
    ("apidCheckExtKeyUsage", Scalar),
    ("diskQuotaSupport", Scalar),
    (
        "kubePrism",
        Struct(&[("enabled", Scalar), ("port", Scalar)]),
    ),
    (
        "hostDNS",
        Struct(&[
            ("enabled", Scalar),
            ("forwardKubeDNSToHost", Scalar),
            ("resolveMemberNames", Scalar),
        ]),
    ),
    ("imageCache", Struct(&[("localEnabled", Scalar)])),
    ("nodeAddressSortAlgorithm", Scalar),
];

pub(super) const MACHINE: &[(&str, Shape)] = &[
    ("type", Scalar),
    ("token", Scalar),
    ("ca", Struct(CRT_KEY)),
    ("acceptedCAs", List(&Struct(CRT))),
    ("certSANs", Scalar),
    (
        "controlPlane",
        Struct(&[
            ("controllerManager", Struct(&[("disabled", Scalar)])),
            ("scheduler", Struct(&[("disabled", Scalar)])),
        ]),
    ),
    ("kubelet", Struct(KUBELET)),
    ("pods", List(&Unstructured)),
    ("network", Struct(MACHINE_NETWORK)),
    (
        "disks",
        List(&Struct(&[
            ("device", Scalar),
            (
                "partitions",
                List(&Struct(&[("size", Scalar), ("mountpoint", Scalar)])),
            ),
        ])),
    ),
    ("install", Struct(INSTALL)),
    (
        "files",
        List(&Struct(&[
            ("content", Scalar),
            ("permissions", Scalar),
            ("path", Scalar),
            ("op", Scalar),
        ])),
    ),
    ("env", Map(&Scalar)),
    (
        "time",
        Struct(&[
            ("disabled", Scalar),
            ("servers", Scalar),
            ("bootTimeout", Scalar),
        ]),
    ),
    ("sysctls", Map(&Scalar)),
    ("sysfs", Map(&Scalar)),
    ("registries", Struct(REGISTRIES)),
    (
        "systemDiskEncryption",
        Struct(&[
            ("state", Struct(ENCRYPTION)),
            ("ephemeral", Struct(ENCRYPTION)),
        ]),
    ),
    ("features", Struct(FEATURES)),
    ("udev", Struct(&[("rules", Scalar)])),
    (
        "logging",
        Struct(&[(
            "destinations",
            List(&Struct(&[
                ("endpoint", Scalar),
                ("format", Scalar),
                ("extraTags", Map(&Scalar)),
            ])),
        )]),
    ),
    (
        "kernel",
        Struct(&[(
            "modules",
            List(&Struct(&[("name", Scalar), ("parameters", Scalar)])),
        )]),
    ),
    (
        "seccompProfiles",
        List(&Struct(&[("name", Scalar), ("value", Unstructured)])),
    ),
    ("baseRuntimeSpecOverrides", Unstructured),
    ("nodeLabels", Map(&Scalar)),
    ("nodeAnnotations", Map(&Scalar)),
    ("nodeTaints", Map(&Scalar)),
];

pub(super) const VOLUME_MOUNT: &[(&str, Shape)] = &[
    ("hostPath", Scalar),
    ("mountPath", Scalar),
    ("readonly", Scalar),
];

pub(super) const RESOURCES: &[(&str, Shape)] =
    &[("requests", Unstructured), ("limits", Unstructured)];

pub(super) const API_SERVER: &[(&str, Shape)] = &[
    ("image", Scalar),
    ("extraArgs", Map(&Scalar)),
    ("extraVolumes", List(&Struct(VOLUME_MOUNT))),
    ("env", Map(&Scalar)),
    ("certSANs", Scalar),
    ("disablePodSecurityPolicy", Scalar),
    (
        "admissionControl",
        List(&Struct(&[
            ("name", Scalar),
            ("configuration", Unstructured),
        ])),
    ),
    ("auditPolicy", Unstructured),
    ("resources", Struct(RESOURCES)),
    (
        "authorizationConfig",
        List(&Struct(&[
            ("type", Scalar),
            ("name", Scalar),
            ("webhook", Unstructured),
        ])),
    ),
];

pub(super) const CONTROLLER_MANAGER: &[(&str, Shape)] = &[
    ("image", Scalar),
    ("extraArgs", Map(&Scalar)),
    ("extraVolumes", List(&Struct(VOLUME_MOUNT))),
    ("env", Map(&Scalar)),
    ("resources", Struct(RESOURCES)),
];

pub(super) const SCHEDULER: &[(&str, Shape)] = &[
    ("image", Scalar),
    ("extraArgs", Map(&Scalar)),
    ("extraVolumes", List(&Struct(VOLUME_MOUNT))),
    ("env", Map(&Scalar)),
    ("resources", Struct(RESOURCES)),
    ("config", Unstructured),
];

pub(super) const CLUSTER: &[(&str, Shape)] = &[
    ("id", Scalar),
    ("secret", Scalar),
    (
        "controlPlane",
        Struct(&[("endpoint", Scalar), ("localAPIServerPort", Scalar)]),
    ),
    ("clusterName", Scalar),
    (
        "network",
        Struct(&[
            (
                "cni",
                Struct(&[
                    ("name", Scalar),
                    ("urls", Scalar),
                    (
                        "flannel",
                        Struct(&[
                            ("extraArgs", Scalar),
                            ("kubeNetworkPoliciesEnabled", Scalar),
                        ]),
                    ),
                ]),
            ),
            ("dnsDomain", Scalar),
            ("podSubnets", Scalar),
            ("serviceSubnets", Scalar),
        ]),
    ),
    ("token", Scalar),
    ("aescbcEncryptionSecret", Scalar),
    ("secretboxEncryptionSecret", Scalar),
    ("ca", Struct(CRT_KEY)),
    ("acceptedCAs", List(&Struct(CRT))),
    ("aggregatorCA", Struct(CRT_KEY)),
    ("serviceAccount", Struct(&[("key", Scalar)])),
    ("apiServer", Struct(API_SERVER)),
    ("controllerManager", Struct(CONTROLLER_MANAGER)),
    (
        "proxy",
        Struct(&[
            ("disabled", Scalar),
            ("image", Scalar),
            ("mode", Scalar),
            ("extraArgs", Map(&Scalar)),
        ]),
    ),
    ("scheduler", Struct(SCHEDULER)),
    (
        "discovery",
        Struct(&[
            ("enabled", Scalar),
            (
                "registries",
                Struct(&[
                    ("kubernetes", Struct(&[("disabled", Scalar)])),
                    (
                        "service",
                        Struct(&[("disabled", Scalar), ("endpoint", Scalar)]),
                    ),
                ]),
            ),
        ]),
    ),
    (
        "etcd",
        Struct(&[
            ("image", Scalar),
            ("ca", Struct(CRT_KEY)),
            ("extraArgs", Map(&Scalar)),
            ("subnet", Scalar),
            ("advertisedSubnets", Scalar),
            ("listenSubnets", Scalar),
        ]),
    ),
    (
        "coreDNS",
        Struct(&[("disabled", Scalar), ("image", Scalar)]),
    ),
    (
        "externalCloudProvider",
        Struct(&[("enabled", Scalar), ("manifests", Scalar)]),
    ),
    ("extraManifests", Scalar),
    ("extraManifestHeaders", Map(&Scalar)),
    (
        "inlineManifests",
        List(&Struct(&[("name", Scalar), ("contents", Scalar)])),
    ),
    ("adminKubeconfig", Struct(&[("certLifetime", Scalar)])),
    ("allowSchedulingOnMasters", Scalar),
    ("allowSchedulingOnControlPlanes", Scalar),
];

/// The v1alpha1 document.
pub(crate) const V1ALPHA1: &[(&str, Shape)] = &[
    ("version", Scalar),
    ("debug", Scalar),
    ("persist", Scalar),
    ("machine", Struct(MACHINE)),
    ("cluster", Struct(CLUSTER)),
];
