//! The `reach` command: "can A reach B on port P?" from the command line.
//!
//! It answers from the lab's model (zones, flows, services) and checks the
//! answer against the Proxmox firewall lab-net derives, evaluated as
//! Proxmox evaluates it; both answers are printed with what decided them.
//! Exit code 0 when the traffic is allowed, 3 when it is not, 1 on a bad
//! argument.

use std::sync::Arc;

use lab_core::command::{CommandContext, CommandError, CommandSet, LabCommand};

use crate::kinds::Port;
use crate::policy::pve::PveFirewall;
use crate::policy::{can_reach, resolve};
use crate::read::NetModel;

/// lab-net's commands, on every spec its builders make.
pub const COMMANDS: CommandSet = CommandSet {
    name: "net",
    commands,
};

fn commands() -> Vec<Arc<dyn LabCommand>> {
    vec![Arc::new(Reach)]
}

/// `reach FROM TO PORT`.
pub struct Reach;

#[async_trait::async_trait(?Send)]
impl LabCommand for Reach {
    fn command(&self) -> clap::Command {
        clap::Command::new("reach")
            .about("Can FROM reach TO on PORT? From the zone policy, checked against the derived Proxmox firewall.")
            .arg(clap::Arg::new("from").required(true).help("a service, guest, host or zone"))
            .arg(clap::Arg::new("to").required(true).help("a service, guest or host"))
            .arg(
                clap::Arg::new("port")
                    .required(true)
                    .help("tcp/443, udp/53, 8006 (TCP), icmp"),
            )
    }

    async fn run(&self, ctx: &mut CommandContext<'_>) -> Result<i32, CommandError> {
        let arg = |name: &str| {
            ctx.args
                .get_one::<String>(name)
                .cloned()
                .unwrap_or_default()
        };
        let (from, to, port) = (arg("from"), arg("to"), arg("port"));
        let port: Port = port.parse().map_err(|e: String| {
            CommandError::msg(e, "write the port like `tcp/443`, `udp/53` or `8006`")
        })?;
        let lab = ctx.engine.lab();
        let model = NetModel::read(lab);
        let help = "name a service, a guest (its resource name), a host or a zone of the lab";
        let sources = resolve(&model, &from).map_err(|e| CommandError::msg(e, help))?;
        let targets = resolve(&model, &to).map_err(|e| CommandError::msg(e, help))?;
        if targets
            .iter()
            .all(|t| t.guest.is_none() && t.address.is_none())
        {
            return Err(CommandError::msg(
                format!("`{to}` is a zone; the destination must be one place"),
                "name a service, guest or host in that zone",
            ));
        }
        let firewall = PveFirewall::read(lab);
        let mut all = true;
        for s in &sources {
            for t in &targets {
                let v = can_reach(&model, s, t, &port);
                all &= v.allowed;
                let place = |e: &crate::read::Endpoint| match (&e.guest, e.address) {
                    (Some((g, slot)), Some(a)) => {
                        format!("{} {slot} ({a}, zone {})", g.name(), e.zone)
                    }
                    (_, Some(a)) => format!("{a} (zone {})", e.zone),
                    _ => format!("zone {}", e.zone),
                };
                writeln!(
                    ctx.out,
                    "{}: {} -> {} on {port}: {}",
                    if v.allowed { "yes" } else { "no" },
                    place(s),
                    place(t),
                    v.reason
                )?;
                let src = s.address.or_else(|| {
                    model
                        .vlans
                        .get(&s.vlan)
                        .and_then(|_| crate::ipam::pool(&model, &s.vlan))
                        .map(|(first, _)| std::net::Ipv4Addr::from(first))
                });
                match (&t.guest, t.address, src) {
                    (Some((guest, slot)), Some(dst), Some(src)) => {
                        let p = firewall.evaluate(src, guest, slot, dst, &port);
                        let agree = if p.allowed == v.allowed { "agrees" } else { "DISAGREES" };
                        writeln!(
                            ctx.out,
                            "  the derived Proxmox firewall {agree}: {} from {src} ({})",
                            if p.allowed { "accepted" } else { "dropped" },
                            p.by
                        )?;
                    }
                    (None, _, _) => writeln!(
                        ctx.out,
                        "  `{to}` is not a Proxmox guest: the router enforces this, not the Proxmox firewall"
                    )?,
                    _ => writeln!(ctx.out, "  (no address to evaluate the Proxmox firewall with)")?,
                }
            }
        }
        Ok(if all { 0 } else { 3 })
    }
}
