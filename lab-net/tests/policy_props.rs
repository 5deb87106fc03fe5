//! The generated firewall agrees with the policy: on random labs (zones,
//! isolation, VLANs, guests with one or two NICs, services, flows by port
//! or to a service), for every pair of guest NICs and a set of ports, the
//! model's answer (`policy::can_reach`) equals what the derived Proxmox
//! firewall does with the packet, evaluated as Proxmox evaluates it.

use lab_core::prelude::*;
use lab_net::kinds::{Port, Trust};
use lab_net::model::*;
use lab_net::policy::{can_reach, pve::PveFirewall};
use lab_net::read::NetModel;
use lab_proxmox::model::{Container, Node};
use proptest::prelude::*;

#[derive(Clone, Debug)]
struct Spec {
    zones: Vec<(Trust, bool)>,
    guests: Vec<Vec<usize>>,
    services: Vec<(usize, Vec<u16>)>,
    flows: Vec<(usize, usize, FlowTarget)>,
}

#[derive(Clone, Debug)]
enum FlowTarget {
    Ports(Vec<Port>),
    Service(usize),
    Any,
}

const PORTS: [u16; 5] = [22, 80, 443, 5432, 8006];
const TRUSTS: [Trust; 7] = [
    Trust::Mgmt,
    Trust::Trusted,
    Trust::Servers,
    Trust::Storage,
    Trust::Dmz,
    Trust::Iot,
    Trust::Guest,
];

fn port() -> impl Strategy<Value = Port> {
    prop_oneof![
        (0..PORTS.len()).prop_map(|i| Port::tcp(PORTS[i])),
        Just(Port::udp(53)),
        Just(Port::tcp_range(5000, 5500)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..5).prop_flat_map(|nz| {
        let zones = prop::collection::vec((0..TRUSTS.len(), any::<bool>()), nz).prop_map(|z| {
            z.into_iter()
                .map(|(t, i)| (TRUSTS[t], i))
                .collect::<Vec<_>>()
        });
        let guests = prop::collection::vec(prop::collection::vec(0..nz, 1..3), 1..7);
        (zones, guests).prop_flat_map(move |(zones, guests)| {
            let ng = guests.len();
            let services =
                prop::collection::vec((0..ng, prop::collection::vec(0..PORTS.len(), 1..3)), 0..4)
                    .prop_map(|s| {
                        s.into_iter()
                            .map(|(g, p)| (g, p.into_iter().map(|i| PORTS[i]).collect()))
                            .collect::<Vec<_>>()
                    });
            (Just(zones), Just(guests), services).prop_flat_map(move |(zones, guests, services)| {
                let ns = services.len();
                let target = if ns == 0 {
                    prop_oneof![
                        prop::collection::vec(port(), 1..3).prop_map(FlowTarget::Ports),
                        Just(FlowTarget::Any),
                    ]
                    .boxed()
                } else {
                    prop_oneof![
                        prop::collection::vec(port(), 1..3).prop_map(FlowTarget::Ports),
                        (0..ns).prop_map(FlowTarget::Service),
                        Just(FlowTarget::Any),
                    ]
                    .boxed()
                };
                let flows = prop::collection::vec((0..nz, 0..nz, target), 0..6);
                (Just(zones), Just(guests), Just(services), flows).prop_map(
                    |(zones, guests, services, flows)| Spec {
                        zones,
                        guests,
                        services,
                        flows,
                    },
                )
            })
        })
    })
}

fn build(s: &Spec) -> Lab {
    let mut lab = Lab::new("props");
    let node = lab.add(Node::new("pve1").bridge("vmbr0"));
    let mut zones = Vec::new();
    let mut vlans = Vec::new();
    for (i, (trust, isolated)) in s.zones.iter().enumerate() {
        let mut z = Zone::new(&format!("z{i}"), *trust);
        if *isolated {
            z = z.isolated();
        }
        let z = lab.add(z);
        vlans.push(
            lab.add(
                Vlan::new(&format!("v{i}"), 10 + i as u16, &z)
                    .cidr(&format!("10.0.{i}.0/24"))
                    .gateway(&format!("10.0.{i}.1")),
            ),
        );
        zones.push(z);
    }
    let mut guests = Vec::new();
    for (i, nics) in s.guests.iter().enumerate() {
        let mut ct = Container::new(format!("g{i}"), &node);
        for (n, v) in nics.iter().enumerate() {
            ct = ct.nic_on(&format!("net{n}"), &vlans[*v]);
        }
        guests.push(lab.add(ct));
    }
    let mut services = Vec::new();
    for (i, (g, ports)) in s.services.iter().enumerate() {
        let mut svc = Service::new(&format!("s{i}"), &guests[*g]);
        for p in ports {
            svc = svc.port(Port::tcp(*p));
        }
        services.push(lab.add(svc));
    }
    for (from, to, target) in &s.flows {
        let f = Flow::allow(&zones[*from], &zones[*to]);
        let f = match target {
            FlowTarget::Ports(ps) => ps.iter().fold(f, |f, p| f.port(*p)),
            FlowTarget::Service(i) => f.service(&services[*i]),
            FlowTarget::Any => f.any(),
        };
        lab.add(f);
    }
    lab
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn derived_firewall_agrees_with_the_policy(s in spec()) {
        let mut lab = build(&s);
        lab.derive();
        let model = NetModel::read(&lab);
        let fw = PveFirewall::read(&lab);
        let endpoints: Vec<_> = model.guests.iter().flat_map(|g| model.guest_endpoints(g)).collect();
        let mut queries: Vec<Port> = PORTS.iter().map(|p| Port::tcp(*p)).collect();
        queries.extend([Port::udp(53), Port::tcp(5100), Port::icmp()]);
        for a in &endpoints {
            for b in &endpoints {
                let (Some(src), Some(dst)) = (a.address, b.address) else {
                    prop_assert!(false, "the IPAM left an address out");
                    unreachable!()
                };
                let (guest, slot) = b.guest.clone().unwrap();
                for q in &queries {
                    let model_says = can_reach(&model, a, b, q);
                    let pve_says = fw.evaluate(src, &guest, &slot, dst, q);
                    prop_assert_eq!(
                        model_says.allowed,
                        pve_says.allowed,
                        "{:?} -> {:?} on {}: model {:?}, firewall {:?}",
                        a, b, q, model_says.reason, pve_says.by
                    );
                }
            }
        }
    }
}
