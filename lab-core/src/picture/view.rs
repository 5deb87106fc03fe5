//! Views: the named pictures a lab can draw (`graph --view NAME`).
//!
//! lab-core draws one view itself, [`DEPENDENCIES`] (the dependency graph,
//! [`LabGraph::picture`]). The others belong to the crates that know their
//! domain: lab-net's network (zones, VLANs, guests, exposures), lab-pbs's
//! failure domains (appliances, data, copies). A crate puts a
//! [`PictureSet`] on the specs its builders make, exactly as it puts its
//! [`CheckSet`](crate::CheckSet) and [`CommandSet`](crate::command::CommandSet)
//! there: `Lab::add` registers the set the first time one of its kinds is
//! added, so a lab with a network gets `graph --view network` without a
//! line in `main.rs`. A user adds their own with
//! [`Lab::register_picture`](crate::Lab::register_picture).
//!
//! ```
//! use std::sync::Arc;
//! use lab_core::picture::{Node, Picture, PictureView};
//! use lab_core::prelude::*;
//!
//! struct Names;
//!
//! impl PictureView for Names {
//!     fn name(&self) -> &str {
//!         "names"
//!     }
//!     fn about(&self) -> &str {
//!         "every resource, unconnected"
//!     }
//!     fn picture(&self, lab: &Lab) -> Picture {
//!         let mut p = Picture::new(format!("{}: names", lab.name()));
//!         for spec in lab.resources() {
//!             p = p.node(Node::new(spec.address.as_str(), spec.address.name()));
//!         }
//!         p
//!     }
//! }
//!
//! let mut lab = Lab::new("home");
//! lab.add(Appliance::new("nas"));
//! lab.register_picture(Arc::new(Names));
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let code = lab_core::cli::run_captured(
//!     lab,
//!     ["lab", "graph", "--view", "names", "--format", "mermaid"],
//!     &mut out,
//!     &mut err,
//! );
//! assert_eq!(code, 0);
//! assert!(String::from_utf8(out).unwrap().contains("nas"));
//! ```

use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;

use super::Picture;
use crate::graph::LabGraph;
use crate::Lab;

/// The name of the dependency view, the one every lab has.
pub const DEPENDENCIES: &str = "dependencies";

/// One named picture of a lab.
pub trait PictureView: Send + Sync {
    /// Its name on the command line (`graph --view NAME`).
    fn name(&self) -> &str;

    /// One line saying what it shows (listed when a name is unknown).
    fn about(&self) -> &str;

    /// Draws the lab (with what its derivations added).
    fn picture(&self, lab: &Lab) -> Picture;
}

/// A crate's views. Its builders put it on every spec they make
/// ([`crate::ResourceSpec::picture_set`]); `Lab::add` registers it once.
#[derive(Clone, Copy)]
pub struct PictureSet {
    /// The set's name (the crate's name, e.g. `net`).
    pub name: &'static str,
    /// Its views.
    pub views: fn() -> Vec<Arc<dyn PictureView>>,
}

impl fmt::Debug for PictureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PictureSet({})", self.name)
    }
}

/// The views a lab can draw, by name; the [`DependencyView`] is always
/// there.
#[derive(Clone)]
pub struct PictureRegistry {
    views: IndexMap<String, Arc<dyn PictureView>>,
    sets: Vec<&'static str>,
}

impl Default for PictureRegistry {
    fn default() -> Self {
        let mut views: IndexMap<String, Arc<dyn PictureView>> = IndexMap::new();
        views.insert(DEPENDENCIES.to_string(), Arc::new(DependencyView));
        PictureRegistry {
            views,
            sets: Vec::new(),
        }
    }
}

impl fmt::Debug for PictureRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.views.keys()).finish()
    }
}

impl PictureRegistry {
    /// Adds a view; one with the same name is replaced.
    pub fn register(&mut self, view: Arc<dyn PictureView>) {
        self.views.insert(view.name().to_string(), view);
    }

    /// Adds the views of `set` (each unless its name is taken), once per
    /// set name.
    pub fn register_set(&mut self, set: PictureSet) {
        if self.sets.contains(&set.name) {
            return;
        }
        self.sets.push(set.name);
        for view in (set.views)() {
            self.views.entry(view.name().to_string()).or_insert(view);
        }
    }

    /// The view named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn PictureView>> {
        self.views.get(name)
    }

    /// All views, the dependency view first, then in registration order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Arc<dyn PictureView>)> {
        self.views.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// The dependency graph: every resource, grouped by its kind's provider
/// prefix (and by provider instance where the lab names one), edges from a
/// dependency to its dependent labelled with the fields that make them.
#[derive(Clone, Copy, Debug, Default)]
pub struct DependencyView;

impl PictureView for DependencyView {
    fn name(&self) -> &str {
        DEPENDENCIES
    }

    fn about(&self) -> &str {
        "every resource and what it needs (edges point from a dependency to its dependent)"
    }

    fn picture(&self, lab: &Lab) -> Picture {
        LabGraph::picture(lab)
    }
}
