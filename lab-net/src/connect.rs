//! Choosing the Caddy a lab's `net.caddy` talks to: a live one named by
//! the environment, a real `caddy` started on loopback for a simulated lab,
//! or the admin-API simulator; and the Cloudflare API an account talks to
//! ([`CloudflareConnection`], in `connect/cloudflare.rs`).
//!
//! ```no_run
//! use lab_core::prelude::*;
//! use lab_net::connect::CaddyConnection;
//! use lab_net::model::Caddy;
//! let caddy = CaddyConnection::from_env_or_local("proxy", ".lab/sim/caddy-proxy")?;
//! let mut lab = Lab::new("home");
//! let instance = lab.register_provider_as("proxy", caddy.provider());
//! lab.add(Caddy::instance(&instance, "10.0.20.5:2019").route("grafana.lab.home.arpa", "10.0.20.11:3000"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! In order:
//!
//! 1. `CADDY_<NAME>_ADMIN` (`<NAME>` upper case, `-` as `_`), else
//!    `CADDY_ADMIN`: the live Caddy whose admin API is there (`host:port`).
//! 2. `caddy` on `PATH`: a real Caddy started for the simulated lab, with
//!    everything under `dir`: its storage (`dir/storage`: the local CA),
//!    its autosaved config (`XDG_CONFIG_HOME=dir/config`), `HOME`, its log
//!    (`dir/caddy.log`), its loopback ports (`dir/caddy.addr`, kept so
//!    they stay the same). It runs `caddy run --resume`, so the config
//!    `lab apply` loaded in one process is the one `lab plan` reads in the
//!    next. **It is stopped when the connection is dropped**, and on Linux
//!    also when the process that started it ends however it ends
//!    (`lab::cli::run` exits without running destructors; a killed `lab`
//!    runs none): nothing keeps running after `lab` exits. A second `lab`
//!    process on the same folder while the first runs shares its Caddy
//!    (and leaves it running); a Caddy left by a killed process (its
//!    admin address answers, `dir/caddy.pid` names a dead owner) is taken
//!    over and stopped in turn. The declared addresses are not used: the sites
//!    listen on `127.0.0.1` ([`CaddyConnection::placement`]), and ACME
//!    issuers become the local CA (nothing dials out).
//! 3. Otherwise (feature `sim`) the admin-API simulator
//!    (`sim::CaddySim`), its state in `dir/caddy-sim.json`;
//!    without the feature, an error saying how to install Caddy.

mod cloudflare;
pub use cloudflare::{api_variable, CloudflareConnectError, CloudflareConnection};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lab_core::Provider;

use crate::api::caddy::{AdminError, CaddyAdmin};
use crate::api::caddy_config::{render_empty, Placement};
use crate::kinds::{CaddySpec, CaddyTls};
use crate::provider::{CaddyOptions, CaddyProvider};

/// What to install when `caddy` is missing.
pub const INSTALL_HINT: &str =
    "install Caddy (`apt-get install -y caddy` on Debian/Ubuntu, or see https://caddyserver.com/docs/install)";

/// Why no connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The admin address is unusable.
    #[error(transparent)]
    Admin(#[from] AdminError),
    /// The local Caddy did not start.
    #[error("the local Caddy for `{name}` did not start: {reason}")]
    Local {
        /// The resource's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Neither the environment nor `caddy` nor the simulator.
    #[error("no Caddy for `{0}`: set CADDY_ADMIN, or {INSTALL_HINT}")]
    Nothing(String),
}

/// `CADDY_<NAME>_ADMIN`.
///
/// ```
/// assert_eq!(lab_net::connect::admin_variable("proxy-2"), "CADDY_PROXY_2_ADMIN");
/// ```
pub fn admin_variable(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CADDY_{upper}_ADMIN")
}

/// `caddy` on `PATH`, if there is one.
pub fn caddy_on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("caddy"))
        .find(|p| p.is_file())
}

/// A real Caddy this process started (or took over); stopped on drop.
struct LocalCaddy {
    child: Option<Child>,
    pid: u32,
    admin: String,
    /// Whether this process stops it (false: another live `lab` process
    /// started it and stops it when it ends).
    owned: bool,
}

impl Drop for LocalCaddy {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        // `POST /stop` first (Caddy exits cleanly, its autosave written),
        // then the process by its id.
        let _ = raw_request(&self.admin, "POST", "/stop");
        match &mut self.child {
            Some(child) => {
                let deadline = Instant::now() + Duration::from_secs(3);
                while Instant::now() < deadline {
                    if let Ok(Some(_)) = child.try_wait() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                let _ = child.kill();
                let _ = child.wait();
            }
            None => {
                // Taken over from a killed process: only if that pid is
                // still a `caddy` (pids are reused).
                let deadline = Instant::now() + Duration::from_secs(3);
                while is_caddy(self.pid) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if is_caddy(self.pid) {
                    let _ = Command::new("kill").arg(self.pid.to_string()).status();
                }
            }
        }
    }
}

/// Whether process `pid` exists (Linux `/proc`; elsewhere: assumed, so a
/// Caddy is never stopped under another process).
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    // A zombie is not alive: its `stat` state is `Z`.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Whether process `pid` runs `caddy` (Linux `/proc`; elsewhere: no).
fn is_caddy(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .and_then(|c| {
            let argv0 = c.split(|b| *b == 0).next()?.to_vec();
            String::from_utf8(argv0).ok()
        })
        .is_some_and(|a| a == "caddy" || a.ends_with("/caddy"))
}

/// Where one `net.caddy`'s calls go.
pub struct CaddyConnection {
    name: String,
    admin: CaddyAdmin,
    options: CaddyOptions,
    describe: String,
    _local: Option<LocalCaddy>,
    #[cfg(feature = "sim")]
    sim: Option<crate::sim::CaddySim>,
}

impl std::fmt::Debug for CaddyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaddyConnection")
            .field("name", &self.name)
            .field("describe", &self.describe)
            .finish_non_exhaustive()
    }
}

impl CaddyConnection {
    /// The environment's Caddy, else a local `caddy` under `dir`, else the
    /// simulator (see the module docs).
    pub fn from_env_or_local(name: &str, dir: impl AsRef<Path>) -> Result<Self, ConnectError> {
        let var = admin_variable(name);
        for v in [var.as_str(), "CADDY_ADMIN"] {
            if let Some(admin) = std::env::var(v).ok().filter(|a| !a.trim().is_empty()) {
                return CaddyConnection::live(name, &admin);
            }
        }
        if let Some(binary) = caddy_on_path() {
            return CaddyConnection::local(name, dir, &binary);
        }
        #[cfg(feature = "sim")]
        {
            CaddyConnection::simulated(name, dir)
        }
        #[cfg(not(feature = "sim"))]
        {
            Err(ConnectError::Nothing(name.to_string()))
        }
    }

    /// The live Caddy whose admin API is at `admin`.
    pub fn live(name: &str, admin: &str) -> Result<Self, ConnectError> {
        Ok(CaddyConnection {
            name: name.into(),
            admin: CaddyAdmin::new(admin)?,
            options: CaddyOptions::default(),
            describe: format!("Caddy at {admin}"),
            _local: None,
            #[cfg(feature = "sim")]
            sim: None,
        })
    }

    /// A real Caddy (`binary`) started on loopback with its state under
    /// `dir`, for a simulated lab.
    pub fn local(name: &str, dir: impl AsRef<Path>, binary: &Path) -> Result<Self, ConnectError> {
        let dir = dir.as_ref();
        let fail = |reason: String| ConnectError::Local {
            name: name.into(),
            reason,
        };
        let dir = absolute(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        for sub in ["storage", "config", "data", "home"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.join(sub).display())))?;
        }
        let placement = placement_in(&dir).map_err(fail)?;
        let local = start_local(binary, &dir, &placement).map_err(fail)?;
        let modules = list_modules(binary);
        Ok(CaddyConnection {
            name: name.into(),
            admin: CaddyAdmin::new(&placement.admin)?,
            describe: format!("local Caddy at {} (pid {})", placement.admin, local.pid),
            options: CaddyOptions {
                placement: Some(placement),
                modules,
            },
            _local: Some(local),
            #[cfg(feature = "sim")]
            sim: None,
        })
    }

    /// The admin-API simulator, its state in `dir/caddy-sim.json`.
    #[cfg(feature = "sim")]
    pub fn simulated(name: &str, dir: impl AsRef<Path>) -> Result<Self, ConnectError> {
        let dir = dir.as_ref();
        let fail = |reason: String| ConnectError::Local {
            name: name.into(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
        let sim = crate::sim::CaddySim::start_background(Some(dir.join("caddy-sim.json")))
            .map_err(|e| fail(e.to_string()))?;
        let admin = sim.admin();
        Ok(CaddyConnection {
            name: name.into(),
            admin: CaddyAdmin::new(&admin)?,
            describe: format!("Caddy simulator at {admin}"),
            options: CaddyOptions {
                placement: None,
                modules: Some(
                    crate::sim::caddy::MODULES
                        .iter()
                        .map(|m| m.to_string())
                        .collect(),
                ),
            },
            _local: None,
            sim: Some(sim),
        })
    }

    /// The provider for this Caddy.
    pub fn provider(&self) -> Arc<dyn Provider> {
        CaddyProvider::new(self.admin.clone(), self.options.clone()).shared()
    }

    /// The admin client.
    pub fn admin(&self) -> &CaddyAdmin {
        &self.admin
    }

    /// The provider's options (the placement of a local Caddy, the modules).
    pub fn options(&self) -> &CaddyOptions {
        &self.options
    }

    /// Where a local Caddy really listens; `None` for a live one or the
    /// simulator.
    pub fn placement(&self) -> Option<&Placement> {
        self.options.placement.as_ref()
    }

    /// One line for the user: which Caddy this is.
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// The simulator, when this is one.
    #[cfg(feature = "sim")]
    pub fn simulator(&self) -> Option<&crate::sim::CaddySim> {
        self.sim.as_ref()
    }
}

fn absolute(dir: &Path) -> std::io::Result<PathBuf> {
    if dir.is_absolute() {
        Ok(dir.to_path_buf())
    } else {
        Ok(std::env::current_dir()?.join(dir))
    }
}

/// A free port on 127.0.0.1 (the OS picks it; free when this returns).
pub fn free_loopback_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The loopback ports of the Caddy under `dir`: those recorded in
/// `dir/caddy.addr`, else three free ones, recorded.
fn placement_in(dir: &Path) -> Result<Placement, String> {
    let file = dir.join("caddy.addr");
    let storage = dir.join("storage").display().to_string();
    if let Ok(text) = std::fs::read_to_string(&file) {
        let ports: Vec<u16> = text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect();
        if let [admin, https, http] = ports[..] {
            return Ok(Placement {
                admin: format!("127.0.0.1:{admin}"),
                bind: "127.0.0.1".into(),
                https_port: https,
                http_port: http,
                storage,
            });
        }
    }
    let port = || free_loopback_port().map_err(|e| format!("no free loopback port: {e}"));
    let (admin, https, http) = (port()?, port()?, port()?);
    lab_core::files::write_private_atomic(
        &file,
        format!("{admin} {https} {http}\n").as_bytes(),
        true,
    )
    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(Placement {
        admin: format!("127.0.0.1:{admin}"),
        bind: "127.0.0.1".into(),
        https_port: https,
        http_port: http,
        storage,
    })
}

/// One HTTP/1.0 request on a plain socket (no runtime needed): the status.
fn raw_request(admin: &str, method: &str, path: &str) -> Option<u16> {
    let addr: SocketAddr = admin.parse().ok()?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {admin}\r\nContent-Length: 0\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Makes the child get SIGTERM when this process ends, however it ends:
/// `lab::cli::run` leaves through `process::exit` (no destructor runs), and
/// a killed `lab` runs none either. Linux's `PR_SET_PDEATHSIG`; elsewhere
/// the connection's drop (and the next run's take-over) stop it.
fn stop_with_parent(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: `prctl` is async-signal-safe and touches no memory of
        // the parent; it is the only call made between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = command;
}

fn start_local(binary: &Path, dir: &Path, placement: &Placement) -> Result<LocalCaddy, String> {
    let pid_file = dir.join("caddy.pid");
    if raw_request(&placement.admin, "GET", "/config/") == Some(200) {
        // Started by another `lab` process: shared while that one lives,
        // taken over (and stopped by this one) when it was killed.
        let recorded = std::fs::read_to_string(&pid_file).unwrap_or_default();
        let mut fields = recorded.split_whitespace().map(str::parse::<u32>);
        let (Some(Ok(pid)), owner) = (fields.next(), fields.next()) else {
            return Err(format!(
                "something answers at {} but {} names no Caddy; stop it or remove {}",
                placement.admin,
                pid_file.display(),
                dir.display()
            ));
        };
        let me = std::process::id();
        let owner_alive = matches!(owner, Some(Ok(o)) if o != me && process_alive(o));
        if !owner_alive {
            let _ = std::fs::write(&pid_file, format!("{pid} {me}\n"));
        }
        return Ok(LocalCaddy {
            child: None,
            pid,
            admin: placement.admin.clone(),
            owned: !owner_alive,
        });
    }
    // The first start: admin and storage only; later starts resume the
    // autosaved config (which has them too).
    let seed = dir.join("caddy-initial.json");
    let skeleton = CaddySpec {
        admin: placement.admin.clone(),
        https_port: i64::from(placement.https_port),
        http_port: None,
        bind: None,
        tls: CaddyTls::internal(),
        routes: Vec::new(),
        storage: None,
    };
    let bytes =
        serde_json::to_vec(&render_empty(&skeleton, Some(placement))).map_err(|e| e.to_string())?;
    std::fs::write(&seed, bytes).map_err(|e| format!("cannot write {}: {e}", seed.display()))?;
    let log_path = dir.join("caddy.log");
    let log = std::fs::File::create(&log_path)
        .map_err(|e| format!("cannot write {}: {e}", log_path.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(binary);
    command
        .args(["run", "--resume", "--config"])
        .arg(&seed)
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .env("XDG_DATA_HOME", dir.join("data"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    stop_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let pid = child.id();
    let _ = std::fs::write(&pid_file, format!("{pid} {}\n", std::process::id()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if raw_request(&placement.admin, "GET", "/config/") == Some(200) {
            return Ok(LocalCaddy {
                child: Some(child),
                pid,
                admin: placement.admin.clone(),
                owned: true,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log_path).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            let tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
            let hint = if tail.contains("address already in use") {
                format!(
                    "\na port recorded in {} is taken by another program: stop it, or \
                     remove {} to start this Caddy afresh on new ports",
                    dir.join("caddy.addr").display(),
                    dir.display()
                )
            } else {
                String::new()
            };
            return Err(format!(
                "`caddy run` exited ({status}); the end of {}:\n{tail}{hint}",
                log_path.display(),
            ));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "Caddy's admin API did not answer at {} within 10 s (log: {})",
                placement.admin,
                log_path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The module ids `caddy list-modules` prints, if it runs.
pub fn list_modules(binary: &Path) -> Option<std::collections::BTreeSet<String>> {
    let out = Command::new(binary).arg("list-modules").output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.contains(' ') && l.contains('.'))
            .map(str::to_string)
            .collect(),
    )
}
