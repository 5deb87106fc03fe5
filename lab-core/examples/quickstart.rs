//! The quickstart lab: a small lab you can apply on any machine.
//!
//! ```text
//! cargo run -p lab-core --example quickstart -- apply --auto-approve   # create everything
//! cargo run -p lab-core --example quickstart -- plan                   # "No changes."
//! cargo run -p lab-core --example quickstart -- graph                  # the dependency graph (DOT)
//! cargo run -p lab-core --example quickstart -- destroy --auto-approve # remove it all again
//! ```
//!
//! Nothing here touches real hardware: the resources are generic `Thing`s
//! applied by a simulated provider whose world lives in
//! `.lab/sim/memory.json`. The state lives in `.lab/state.json`.

use std::time::Duration;

// The prelude has the names a lab needs: `Lab`, `Appliance`, `Secret`, ...
use lab_core::prelude::*;
// A generic resource (`Thing`) and the simulated provider that applies it.
use lab_core::testing::{MemoryProvider, Thing};

fn main() {
    // The lab is a plain Rust value. Its name is recorded in the state and in
    // the ownership marker stamped on every object the lab creates.
    let mut lab = Lab::new("quickstart");

    // A provider applies resources by calling an API. This one simulates
    // one in memory: each create, update or delete makes a 100 ms call, then
    // waits 400 ms on a simulated remote task (holding no call slot, so other
    // operations run meanwhile). It saves its world to a file, so the next
    // run sees what this one created.
    let provider = match MemoryProvider::new()
        .with_latency(Duration::from_millis(100), Duration::from_millis(400))
        .persist_to(".lab/sim/memory.json")
    {
        Ok(provider) => provider,
        Err(e) => {
            eprintln!(
                "error: cannot load the simulated world .lab/sim/memory.json: {e}\n\
                 help: delete the .lab/ folder (the simulated world and the state together) to start the quickstart afresh"
            );
            std::process::exit(1);
        }
    };
    // Register it: every resource of the kinds it manages goes through it.
    lab.register_provider(provider.shared());

    // An appliance is a failure domain: one box whose loss takes everything
    // on it. It is part of the model (checks reason about it), not applied.
    let nas = lab.add(
        Appliance::new("nas")
            .kind(ApplianceKind::Nas)
            .site("basement"),
    );

    // `lab.add` returns a typed handle. `.on(&nas)` says which appliance
    // holds this pool's data, and makes the pool depend on the NAS.
    let pool = lab.add(Thing::new("pool").attr("size_gb", 4000).on(&nas));

    // `.after(&pool)` orders the share after the pool without passing a value.
    let share = lab.add(Thing::new("share").attr("path", "/media").after(&pool));

    // A secret: from the environment if set, else a demo value. Plans and
    // logs show it as `(sensitive value)`; the state stores it encrypted.
    let password = Secret::from_env("QUICKSTART_DB_PASSWORD")
        .unwrap_or_else(|| Secret::new("demo-only-password"));
    let db = lab.add(
        Thing::new("db")
            .attr("engine", "postgres")
            .attr("size_gb", 20)
            .secret("password", password)
            .after(&pool),
    );

    // `db.output("id")` is known only once the database exists: the plan
    // shows it as `(known after apply)`, and the app waits for it.
    let app = lab.add(
        Thing::new("app")
            .attr("image", "ghcr.io/immich-app/immich-server:release")
            .input("db_id", db.output::<String>("id"))
            .after(&share),
    );

    // The reverse proxy in front of the app, and a DNS record pointing at it.
    let proxy = lab.add(Thing::new("proxy").attr("upstream", "app:2283").after(&app));
    lab.add(
        Thing::new("dns")
            .attr("name", "photos.home.arpa")
            .input("target", proxy.output::<String>("id")),
    );

    // Turn this program into the lab's CLI: check, plan, apply, destroy,
    // graph, state. It parses the arguments, runs, and exits.
    lab_core::cli::run(lab);
}
