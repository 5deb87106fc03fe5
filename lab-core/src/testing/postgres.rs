//! A throwaway PostgreSQL server for tests (feature `postgres`).
//!
//! [`TestPostgres::start_or_skip`] makes a data folder in the temp directory
//! (`initdb`), starts `postgres` on a free port of 127.0.0.1 only, its unix
//! socket in that folder, TLS on with a self-signed certificate (rcgen,
//! for `127.0.0.1` and `localhost`), creates a role and a database with a
//! random password, and stops the server and removes the folder when
//! dropped. It uses the installed binaries (Debian's `postgresql`:
//! `/usr/lib/postgresql/*/bin`, or `LAB_PG_BIN`, or `initdb` on the PATH);
//! `initdb` refuses to run as root, so as root every command runs as the
//! `postgres` user (`runuser`) on a folder it owns.
//!
//! Without binaries, [`TestPostgres::start_or_skip`] returns `None` after
//! saying so, unless `CI` is set: in CI a missing server is a failure,
//! never a silent skip.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running throwaway server; stopped and removed on drop.
pub struct TestPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    password: String,
    cert_pem: String,
    as_postgres: bool,
    /// `fsync` on.
    durable: bool,
}

impl std::fmt::Debug for TestPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestPostgres")
            .field("dir", &self.dir)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

/// The role and database the server is made with.
pub const ROLE: &str = "lab";

impl TestPostgres {
    /// Starts a server, or returns `None` (printing why) when no PostgreSQL
    /// binaries are installed. Panics when they are missing and `CI` is
    /// set, and when the server does not start.
    pub fn start_or_skip() -> Option<TestPostgres> {
        Self::start_or_skip_with(false)
    }

    /// [`TestPostgres::start_or_skip`] with `fsync` on, as a real server
    /// runs (the tests' servers run without it, for speed): for benches
    /// whose figures are quoted.
    pub fn start_durable_or_skip() -> Option<TestPostgres> {
        Self::start_or_skip_with(true)
    }

    fn start_or_skip_with(durable: bool) -> Option<TestPostgres> {
        match find_bin() {
            Some(bin) => Some(Self::start(bin, durable).unwrap_or_else(|e| panic!("{e}"))),
            None if std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0") => panic!(
                "no PostgreSQL binaries (initdb, postgres) found in /usr/lib/postgresql/*/bin, \
                 LAB_PG_BIN or the PATH, and CI is set: install Debian's `postgresql`"
            ),
            None => {
                eprintln!(
                    "skipped: no PostgreSQL binaries found (install Debian's `postgresql`, or \
                     set LAB_PG_BIN to the folder holding initdb and postgres)"
                );
                None
            }
        }
    }

    /// Starts a server with the binaries in `bin`.
    pub fn start_with(bin: PathBuf) -> Result<TestPostgres, String> {
        Self::start(bin, false)
    }

    fn start(bin: PathBuf, durable: bool) -> Result<TestPostgres, String> {
        let as_postgres = running_as_root();
        let dir = std::env::temp_dir().join(format!(
            "lab-pg-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("mkdir: {e}"))?;
        let mut server = TestPostgres {
            bin,
            dir,
            port: 0,
            password: format!("pw-{:016x}", rand::random::<u64>()),
            cert_pem: String::new(),
            as_postgres,
            durable,
        };
        server.init()?;
        let mut last = String::new();
        for _ in 0..3 {
            server.port = free_port()?;
            match server.start_server() {
                Ok(()) => {
                    server.create_role()?;
                    return Ok(server);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn init(&mut self) -> Result<(), String> {
        if self.as_postgres {
            run(Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&self.dir))?;
        }
        let data = self.data_dir();
        let mut initdb = self.command("initdb");
        initdb
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .args(["--no-sync", "-E", "UTF8", "--locale=C"]);
        run(&mut initdb)?;
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
                .map_err(|e| e.to_string())?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "lab test postgres");
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        self.cert_pem = cert.pem();
        self.write_owned(&data.join("server.crt"), self.cert_pem.as_bytes())?;
        self.write_owned(&data.join("server.key"), key.serialize_pem().as_bytes())?;
        Ok(())
    }

    fn start_server(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c ssl=on \
             -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c fsync={} \
             -c max_connections=60",
            self.port,
            self.dir.display(),
            if self.durable { "on" } else { "off" }
        );
        let mut start = self.command("pg_ctl");
        start
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"]);
        run(&mut start).map(|_| ()).map_err(|e| {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            format!("{e}\nserver log:\n{log}")
        })
    }

    fn create_role(&self) -> Result<(), String> {
        self.psql_in(
            "postgres",
            &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{}'", self.password),
        )
        .map_err(|e| e.replace(&self.password, "(password)"))?;
        self.psql_in("postgres", &format!("CREATE DATABASE {ROLE} OWNER {ROLE}"))
            .map(|_| ())
    }

    /// Runs `sql` as the superuser over the unix socket (psql) in the
    /// `lab` database; returns psql's unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> Result<String, String> {
        self.psql_in(ROLE, sql)
    }

    fn psql_in(&self, db: &str, sql: &str) -> Result<String, String> {
        let mut psql = self.command("psql");
        psql.arg("-h")
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-X",
                "-A",
                "-t",
            ])
            .args(["-v", "ON_ERROR_STOP=1", "-c", sql]);
        psql.args(["-d", db]);
        let out = run(&mut psql)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The connection string for the `lab` role over TCP, with `params`
    /// (e.g. `sslmode=require&sslfingerprint=...`).
    pub fn url(&self, params: &str) -> String {
        let mut url = format!(
            "postgres://{ROLE}:{}@127.0.0.1:{}/{ROLE}",
            self.password, self.port
        );
        if !params.is_empty() {
            url.push('?');
            url.push_str(params);
        }
        url
    }

    /// [`TestPostgres::url`] over TLS pinned to this server's certificate.
    pub fn tls_url(&self) -> String {
        self.url(&format!(
            "sslmode=verify-full&sslfingerprint={}",
            self.fingerprint()
        ))
    }

    /// The role's password (tests check that it is never printed).
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server certificate, PEM (for `sslrootcert=`).
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The SHA-256 fingerprint of the server certificate, `AA:BB:...`.
    pub fn fingerprint(&self) -> String {
        use rustls::pki_types::pem::PemObject as _;
        let der = rustls::pki_types::CertificateDer::from_pem_slice(self.cert_pem.as_bytes())
            .expect("the certificate this harness wrote");
        crate::fingerprint::sha256_fingerprint(der.as_ref())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command of the server's binaries, as `postgres` when we are root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// Writes a file mode 0600, owned by `postgres` when we are root.
    fn write_owned(&self, path: &Path, bytes: &[u8]) -> Result<(), String> {
        crate::state::write_private(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        if self.as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(path))?;
        }
        Ok(())
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The folder with `initdb` and `postgres`: `LAB_PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin`, or the PATH's.
pub fn find_bin() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Some(dir) = std::env::var_os("LAB_PG_BIN").map(PathBuf::from) {
        return has(&dir).then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|d| has(d))
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn run(cmd: &mut Command) -> Result<Output, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
