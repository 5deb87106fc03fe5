//! The server: `PbsServer::instance(&handle, host)`, bound by its
//! instance name; its state is the provider's read of it.

use lab_core::import::{rust_str, Chain, ImportBlock, ImportedState};
use lab_core::provider::ProviderError;
use lab_core::Address;

use super::{attrs, Names, Out, ORDER_SERVER};
use crate::kinds::{self, ServerSpec, DEFAULT_PORT};
use crate::provider::PbsProvider;

/// The host and port of an endpoint URL (`https://10.0.0.20:8007`).
fn host_port(endpoint: &str) -> (String, Option<u16>) {
    let rest = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let authority = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, port) = v6.split_once(']').unwrap_or((v6, ""));
        return (host.to_string(), port.trim_start_matches(':').parse().ok());
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().ok()),
        None => (authority.to_string(), None),
    }
}

pub(super) async fn import(
    p: &PbsProvider,
    names: &Names,
    out: &mut Out,
) -> Result<(), ProviderError> {
    let (host, port) = host_port(p.client.endpoint());
    // A simulated server advertises its loopback address: nothing dials
    // the declared one, and its port and certificate change per run.
    let simulated = p.options.advertise.is_some();
    // Where it runs is the owner's to say; until then its own box, so the
    // failure-domain analysis has one (`failures` needs every datastore on
    // an appliance).
    let appliance = format!("pbs-{}", names.server);
    let appliance_var = Names::var("appliance", &appliance);
    let appliance_address = Address::new(lab_core::Appliance::KIND, &appliance);
    let mut spec = ServerSpec {
        host: host.clone(),
        port: DEFAULT_PORT,
        fingerprint: None,
        appliance: Some(appliance_address.to_string()),
        guest: None,
    };
    let mut chain = Chain::new(format!(
        "PbsServer::instance({{provider}}, {})",
        rust_str(&host)
    ));
    chain.call(format!("on(&{appliance_var})"));
    let mut box_chain = Chain::new(format!("Appliance::new({})", rust_str(&appliance)));
    box_chain.call("kind(ApplianceKind::BackupServer)");
    if !simulated {
        if let Some(port) = port.filter(|p| i64::from(*p) != DEFAULT_PORT) {
            spec.port = i64::from(port);
            chain.call(format!("port({port})"));
        }
    }
    let mut found = p.read_server(&names.server, spec.clone()).await?;
    if !simulated {
        spec.fingerprint = Some(found.outputs.fingerprint.clone());
        chain.call(format!(
            "fingerprint({})",
            rust_str(&found.outputs.fingerprint)
        ));
        found = p.read_server(&names.server, spec).await?;
    }
    out.uses.insert("use lab::pbs::model::PbsServer;");
    out.blocks.push(ImportBlock {
        address: Address::new(kinds::SERVER, &names.server),
        var: names.server_var.clone(),
        handle: "Handle<PbsServer>".into(),
        order: ORDER_SERVER,
        code: format!(
            "{}\n{}",
            box_chain.add_to_lab(&appliance_var),
            chain.add_to_lab(&names.server_var)
        ),
        comment: Some(if simulated {
            "A simulated server (its address is the loopback one, which nothing dials), on a box of its own: say where it runs.".into()
        } else {
            "Its certificate is pinned as it is now; it runs on a box of its own: say where it runs (`.on(..)` or `.in_guest(&vm)`).".into()
        }),
        state: Some(ImportedState {
            id: found.id.clone(),
            attrs: attrs(&found.spec),
            outputs: attrs(&found.outputs),
            deps: vec![appliance_address],
        }),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(
            host_port("https://10.0.0.20:8007"),
            ("10.0.0.20".into(), Some(8007))
        );
        assert_eq!(host_port("https://pbs.lan"), ("pbs.lan".into(), None));
        assert_eq!(
            host_port("https://[fd00::20]:8007/"),
            ("fd00::20".into(), Some(8007))
        );
    }
}
