//! Running a simulator on a thread of its own, with its own tokio runtime,
//! for callers without a runtime or whose runtime may end first (a CLI
//! embedding it). The PBS and Cloudflare simulators start this way.

use std::future::Future;

use tokio::sync::watch;

/// Starts a simulator with `start` on a new thread named `name` (own
/// multi-threaded runtime, 2 workers), hands it back once it listens, and
/// keeps the thread's runtime alive until the receiver `stopped` gives for
/// it says `true` (or its sender is gone). `error` words a failure to start
/// the runtime or the thread in the simulator's own error type.
pub fn start_on_own_thread<S, E, Fut>(
    name: &str,
    start: impl FnOnce() -> Fut + Send + 'static,
    stopped: impl FnOnce(&S) -> watch::Receiver<bool> + Send + 'static,
    error: impl Fn(String) -> E + Clone + Send + 'static,
) -> Result<S, E>
where
    Fut: Future<Output = Result<S, E>>,
    S: Send + 'static,
    E: Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    let in_thread = error.clone();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = tx.send(Err(in_thread(format!("cannot start a runtime: {e}"))));
                    return;
                }
            };
            runtime.block_on(async move {
                match start().await {
                    Ok(sim) => {
                        let mut stopped = stopped(&sim);
                        if tx.send(Ok(sim)).is_ok() {
                            while !*stopped.borrow() {
                                if stopped.changed().await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            });
        })
        .map_err(|e| error(format!("cannot start the simulator's thread: {e}")))?;
    rx.recv()
        .map_err(|_| error("the simulator's thread ended before it started".into()))?
}
