//! The lab's IPAM: a pure function of the lab.
//!
//! Every NIC on a lab-net VLAN that states no address gets one from its
//! VLAN's pool. The first address tried is a hash of the guest's name and
//! slot (FNV-1a, stable across builds and platforms) within the pool; on a
//! collision the next free one is taken, NICs being served in the order of
//! their guest's name and slot. So an address depends only on the names
//! and the addresses written in the code, never on the order of the code:
//! adding a guest moves no other guest's address unless the newcomer's
//! first choice is one another guest only held by probing (rare; the plan
//! then shows the update). A guest whose address must never move states it
//! with `.address(..)`.
//!
//! Reserved: the network and broadcast addresses, the gateway, every
//! static address of the VLAN (guests' and hosts').

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use crate::read::NetModel;

/// FNV-1a, 64 bits.
fn fnv1a(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The pool of a VLAN as integers (first, last), inclusive.
pub fn pool(model: &NetModel, vlan: &str) -> Option<(u32, u32)> {
    let v = model.vlans.get(vlan)?;
    let (net, broadcast) = v.bounds()?;
    if let Some((a, b)) = v.spec.pool.as_deref().and_then(|p| p.split_once('-')) {
        let (a, b): (Ipv4Addr, Ipv4Addr) = (a.parse().ok()?, b.parse().ok()?);
        let (a, b) = (u32::from(a).max(net + 1), u32::from(b).min(broadcast - 1));
        return (a <= b).then_some((a, b));
    }
    let size = broadcast - net + 1;
    let first = if size >= 64 { net + 10 } else { net + 2 };
    (broadcast >= 2 && first < broadcast).then_some((first, broadcast - 1))
}

/// Gives an address to every VLAN NIC of `model` that has none.
pub fn allocate(model: &mut NetModel) {
    let vlans: Vec<String> = model.vlans.keys().cloned().collect();
    for vlan in vlans {
        let mut taken: BTreeSet<u32> = BTreeSet::new();
        let v = &model.vlans[&vlan];
        if let Some(g) = v.gateway() {
            taken.insert(u32::from(g));
        }
        for h in model.hosts.values().filter(|h| h.spec.vlan == vlan) {
            if let Ok(a) = h.spec.address.parse::<Ipv4Addr>() {
                taken.insert(u32::from(a));
            }
        }
        let mut wanting: Vec<(String, usize, usize)> = Vec::new();
        for (gi, g) in model.guests.iter().enumerate() {
            for (ni, n) in g.nics.iter().enumerate() {
                if n.vlan.as_deref() != Some(vlan.as_str()) {
                    continue;
                }
                match n.address {
                    Some(a) => {
                        taken.insert(u32::from(a));
                    }
                    None => wanting.push((format!("{}/{}", g.name(), n.slot), gi, ni)),
                }
            }
        }
        wanting.sort();
        let Some((first, last)) = pool(model, &vlan) else {
            for (_, gi, ni) in wanting {
                let g = &model.guests[gi];
                model
                    .pool_exhausted
                    .push((g.address.clone(), g.nics[ni].slot.clone()));
            }
            continue;
        };
        let size = u64::from(last - first) + 1;
        for (key, gi, ni) in wanting {
            let start = (fnv1a(&key) % size) as u32;
            let found = (0..size as u32)
                .map(|i| first + (start + i) % size as u32)
                .find(|a| !taken.contains(a));
            match found {
                Some(a) => {
                    taken.insert(a);
                    model.guests[gi].nics[ni].address = Some(Ipv4Addr::from(a));
                }
                None => {
                    let g = &model.guests[gi];
                    model
                        .pool_exhausted
                        .push((g.address.clone(), g.nics[ni].slot.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn fnv_is_the_published_function() {
        // Test vectors of FNV-1a 64 (draft-eastlake-fnv).
        assert_eq!(fnv1a(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a("foobar"), 0x8594_4171_f739_67e8);
    }
}
