//! The per-node accept loop: TLS chosen per connection from the node's
//! stage, HTTP/2 by hyper, gRPC routing to the generated services.
//!
//! tonic's own server can't pick a certificate per connection, and a node
//! changes certificates when it leaves maintenance mode, so connections
//! are accepted here: a down node's connections are dropped right after
//! `accept` (the client sees a reset, as with a rebooting machine), and a
//! reboot closes existing connections gracefully (GOAWAY after the answer
//! that caused it).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::Status;
use tower::ServiceExt as _;

use super::service::{Handler, MAINTENANCE_PATHS};
use super::{tls, Stage, World};
use crate::api::proto::cluster::cluster_service_server::ClusterServiceServer;
use crate::api::proto::machine::machine_service_server::MachineServiceServer;

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts connections for node `ip` until the simulator shuts down.
pub(super) async fn accept_loop(
    world: Arc<World>,
    ip: String,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((tcp, _peer)) = accepted else {
            continue;
        };
        let Some((config, epoch, stage)) = world.accept_config(&ip) else {
            // Node down: close at once.
            drop(tcp);
            continue;
        };
        tokio::spawn(serve_connection(
            world.clone(),
            ip.clone(),
            tcp,
            TlsAcceptor::from(config),
            epoch,
            stage == Stage::Maintenance,
            shutdown.clone(),
        ));
    }
}

async fn serve_connection(
    world: Arc<World>,
    ip: String,
    tcp: tokio::net::TcpStream,
    acceptor: TlsAcceptor,
    epoch: u64,
    maintenance: bool,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let stream = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        // Handshake failures (unknown CA, no client certificate) are
        // reported to the client by rustls's alert.
        _ => return,
    };
    let roles = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(tls::roles_of)
        .unwrap_or_default();
    let Some(mut epoch_rx) = world.epoch_watch(&ip) else {
        return;
    };
    let handler = Handler {
        world: world.clone(),
        ip: ip.clone(),
        roles: Arc::new(roles),
    };
    let service = hyper::service::service_fn(move |req: http::Request<Incoming>| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(dispatch(handler, epoch, maintenance, req).await) }
    });
    let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = shutdown.wait_for(|stop| *stop) => return,
        _ = epoch_rx.wait_for(|e| *e != epoch) => {}
    }
    // The node rebooted (a real one takes seconds to stop its services):
    // serve on briefly, so the answer that started the reboot ends with its
    // trailers (hyper's graceful shutdown cuts an in-flight response's
    // `grpc-status` trailer, which strict gRPC clients and curl need; new
    // calls are refused by `dispatch`), then GOAWAY.
    let _ = tokio::time::timeout(Duration::from_millis(300), conn.as_mut()).await;
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
}

/// Routes one gRPC request.
async fn dispatch(
    handler: Handler,
    epoch: u64,
    maintenance: bool,
    req: http::Request<Incoming>,
) -> http::Response<Body> {
    let path = req.uri().path().to_owned();
    let world = handler.world.clone();
    let ip = handler.ip.clone();
    // What another process (an apply this plan waited for) wrote meanwhile.
    world.sync_external();
    world.log_request(&ip, &path);
    let reject = |status: Status| {
        world.log_outcome(&ip, &path, status.code());
        status.into_http::<Body>()
    };
    if !world.connection_current(&ip, epoch) {
        return reject(Status::unavailable(
            "connection closed: the node rebooted or was powered off",
        ));
    }
    if maintenance && !MAINTENANCE_PATHS.contains(&path.as_str()) {
        return reject(Status::unimplemented(format!(
            "{} is not available in maintenance mode",
            path.rsplit('/').next().unwrap_or(&path)
        )));
    }
    let result = if path.starts_with("/machine.MachineService/") {
        MachineServiceServer::new(handler).oneshot(req).await
    } else if path.starts_with("/cluster.ClusterService/") {
        ClusterServiceServer::new(handler).oneshot(req).await
    } else {
        return reject(Status::unimplemented(format!("unknown service {path}")));
    };
    // The node's disk as the call left it (the state file, if any).
    world.save();
    match result {
        Ok(response) => response,
        Err(never) => match never {},
    }
}
