//! Derivations: resources and fields that follow from the whole lab.
//!
//! Some of what a lab needs is not written by the user but follows from
//! what they wrote, and only from all of it: lab-net turns trust zones,
//! VLANs and allowed flows into the firewall's IPSets and security groups,
//! gives every guest NIC on a VLAN its bridge, tag and address (an IPAM
//! that must see every address to avoid collisions), and writes the proxy's
//! routes from the services exposed through it. A builder cannot do that
//! when it is added, because the rest of the lab is not known yet.
//!
//! A crate puts its [`Derivation`] on the specs its builders make (as it
//! does its [`crate::CheckSet`]); [`Lab::add`] registers it, and
//! [`Lab::derive`] runs every registered derivation once the lab is
//! complete. The engine derives when it is built ([`crate::Engine::new`]),
//! and [`Lab::check`] checks the derived lab, so neither the user nor a
//! test has to remember to call it; call it yourself to look at the derived
//! resources in a test.
//!
//! Derivations are repeatable: before they run again (the lab changed since
//! the last run), every resource an earlier run added is removed, and a
//! field a derivation writes on a user's resource is overwritten. Resources
//! a derivation adds are marked with its name
//! ([`crate::ResourceSpec::derived_by`]) and should carry the user's line
//! they follow from (see [`Lab::add_derived`]), so their diagnostics point
//! at that line.
//!
//! ```
//! use lab_core::prelude::*;
//! use lab_core::derive::Derivation;
//! use lab_core::testing::Thing;
//!
//! // A derivation that adds one `test.thing.count` holding the number of
//! // user resources.
//! fn count(lab: &mut Lab) {
//!     let n = lab.resources().filter(|s| s.derived_by.is_none()).count();
//!     let at = lab.declared_at();
//!     lab.add_derived(Thing::new("count").attr("n", n as i64), at);
//! }
//! const COUNT: Derivation = Derivation { name: "count", run: count };
//!
//! let mut lab = Lab::new("home");
//! let mut a = Thing::new("a");
//! a.spec_mut().derivation = Some(COUNT);
//! lab.add(a);
//! lab.add(Thing::new("b"));
//! lab.derive();
//! let count = lab.resources().find(|s| s.name() == "count").unwrap();
//! assert_eq!(count.attrs["n"], Value::Int(2));
//! assert_eq!(count.derived_by, Some("count"));
//! // Deriving again after a change replaces what the last run added.
//! lab.add(Thing::new("c"));
//! lab.derive();
//! let count = lab.resources().find(|s| s.name() == "count").unwrap();
//! assert_eq!(count.attrs["n"], Value::Int(3));
//! ```

use std::fmt;

use crate::Lab;

/// A crate's derivation pass over the whole lab. Its builders put it on the
/// specs they make ([`crate::ResourceSpec::derivation`]); [`Lab::add`]
/// registers it once (by name).
#[derive(Clone, Copy)]
pub struct Derivation {
    /// The pass's name (the crate's, e.g. `net`); marks what it adds.
    pub name: &'static str,
    /// The pass. It may add resources ([`Lab::add_derived`]) and write
    /// fields of existing ones ([`Lab::spec_mut`]); it must give the same
    /// result every time it runs on the same lab.
    pub run: fn(&mut Lab),
}

impl fmt::Debug for Derivation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Derivation({})", self.name)
    }
}
