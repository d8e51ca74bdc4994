//! Real `redis-server` processes for tests: standalone (optionally with a password, an ACL
//! user, or TLS) and 3-master Redis Clusters, each on free loopback ports, killed on drop.
//!
//! Contracts:
//! - Ports are found by binding `127.0.0.1:0`; port 6379 is never used.
//! - Every wait is bounded (a few seconds); failures panic with a message that says what is
//!   missing (`redis-server`/`redis-cli`/`openssl` not on `PATH`, a server that did not answer).
//! - Each server has its own temporary directory (config, TLS files, logs), removed on drop.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(25);

/// A free TCP port on 127.0.0.1 (never 6379).
pub fn free_port() -> u16 {
    for _ in 0..20 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        if port != 6379 {
            return port;
        }
    }
    panic!("no free loopback port found in 20 tries");
}

fn scratch_dir(tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir =
        std::env::temp_dir().join(format!("crosscast-redis-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory for redis-server");
    dir
}

fn require(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(tool).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is not on PATH: install it (Debian: apt-get install {package}) to run the Redis tests"
    );
}

/// TLS material made by `openssl`: a CA and a server certificate for 127.0.0.1/localhost.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate (PEM) that clients must trust.
    pub ca_cert: PathBuf,
    /// The server certificate, signed by the CA.
    pub cert: PathBuf,
    /// The server key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Generates fresh files in `dir` with `openssl`.
    pub fn generate(dir: &Path) -> Self {
        require("openssl", "openssl");
        let run = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .stdin(Stdio::null())
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let subj_ca = "/CN=crosscast-test-ca";
        run(&[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", subj_ca,
        ]);
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        std::fs::write(
            dir.join("ext.cnf"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .expect("write ext.cnf");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ]);
        Self {
            ca_cert: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }

    /// The CA certificate's PEM bytes.
    pub fn ca_pem(&self) -> Vec<u8> {
        std::fs::read(&self.ca_cert).expect("read the CA certificate")
    }
}

/// How to start a standalone server.
#[derive(Debug, Clone, Default)]
pub struct RedisOptions {
    /// `requirepass`: the password of the `default` user.
    pub password: Option<String>,
    /// An ACL user `(name, password)` with every permission.
    pub acl_user: Option<(String, String)>,
    /// Serve TLS only (`--tls-port`, plain port disabled) with generated certificates.
    pub tls: bool,
}

/// Runs `redis-cli` against `127.0.0.1:port` with `args` and returns its trimmed stdout.
/// `auth` and `tls` are the credentials and CA used for the connection, if any.
pub fn redis_cli_with(
    port: u16,
    auth: Option<(&str, &str)>,
    tls: Option<&TlsFiles>,
    args: &[&str],
) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if let Some((user, pass)) = auth {
        cmd.args(["--user", user, "--pass", pass, "--no-auth-warning"]);
    }
    if let Some(tls) = tls {
        cmd.arg("--tls").arg("--cacert").arg(&tls.ca_cert);
    }
    cmd.args(args).stdin(Stdio::null()).stderr(Stdio::null());
    let out = cmd.output().expect("run redis-cli");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `redis-cli` against an unauthenticated plain server on `127.0.0.1:port`.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    redis_cli_with(port, None, None, args)
}

/// A standalone `redis-server` on a free loopback port, killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    options: RedisOptions,
    dir: PathBuf,
    tls: Option<TlsFiles>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a plain server without authentication.
    pub fn start() -> Self {
        Self::start_with(RedisOptions::default())
    }

    /// Starts a server with `options`.
    pub fn start_with(options: RedisOptions) -> Self {
        require("redis-server", "redis-server");
        require("redis-cli", "redis-tools");
        let dir = scratch_dir("standalone");
        let tls = options.tls.then(|| TlsFiles::generate(&dir));
        let mut server = Self {
            port: free_port(),
            options,
            dir,
            tls,
            child: None,
        };
        // The port was free a moment ago; another process (a client's ephemeral
        // port, another test) may take it before redis-server binds it: then
        // start again on another one.
        for _ in 0..4 {
            match server.try_spawn() {
                Ok(()) => return server,
                Err(log) if log.contains("Address already in use") => {
                    server.port = free_port();
                }
                Err(log) => panic!("redis-server on port {} exited: {log}", server.port),
            }
        }
        server.spawn();
        server
    }

    /// The port it listens on (TLS port when TLS is on).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS files, when started with `tls`.
    pub fn tls(&self) -> Option<&TlsFiles> {
        self.tls.as_ref()
    }

    /// `redis://` (or `rediss://`) URL, with the ACL user's credentials, else the password.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() {
            "rediss"
        } else {
            "redis"
        };
        let auth = match (&self.options.acl_user, &self.options.password) {
            (Some((user, pass)), _) => format!("{user}:{pass}@"),
            (None, Some(pass)) => format!(":{pass}@"),
            (None, None) => String::new(),
        };
        format!("{scheme}://{auth}127.0.0.1:{}", self.port)
    }

    /// Runs `redis-cli` against this server with its credentials and TLS settings.
    pub fn cli(&self, args: &[&str]) -> String {
        let auth = match (&self.options.acl_user, &self.options.password) {
            (Some((user, pass)), _) => Some((user.as_str(), pass.as_str())),
            (None, Some(pass)) => Some(("default", pass.as_str())),
            (None, None) => None,
        };
        redis_cli_with(self.port, auth, self.tls.as_ref(), args)
    }

    /// Kills the server (SIGKILL: clients see the connection drop).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server and starts it again on the same port, empty.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    /// Starts redis-server on `self.port`; panics when it does not come up.
    fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("redis-server on port {} exited: {log}", self.port);
        }
    }

    /// Starts redis-server on `self.port`: `Err` with its log when it exited.
    fn try_spawn(&mut self) -> Result<(), String> {
        let port = self.port.to_string();
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        cmd.arg("--dir").arg(&self.dir);
        match &self.tls {
            Some(tls) => {
                cmd.args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ]);
                cmd.arg("--tls-cert-file").arg(&tls.cert);
                cmd.arg("--tls-key-file").arg(&tls.key);
                cmd.arg("--tls-ca-cert-file").arg(&tls.ca_cert);
            }
            None => {
                cmd.args(["--port", &port]);
            }
        }
        if let Some(pass) = &self.options.password {
            cmd.args(["--requirepass", pass]);
        }
        if let Some((user, pass)) = &self.options.acl_user {
            cmd.args([
                "--user",
                user,
                "on",
                &format!(">{pass}"),
                "~*",
                "&*",
                "+@all",
            ]);
        }
        let log = std::fs::File::create(self.dir.join("redis.log")).expect("create redis.log");
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn redis-server"));
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.cli(&["PING"]) == "PONG" {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!(
                    "{status}: {}",
                    std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
                ));
            }
            std::thread::sleep(POLL);
        }
        panic!("redis-server on port {port} did not answer PING within {READY_TIMEOUT:?}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Redis Cluster of masters without replicas, on free loopback ports, killed on drop.
#[derive(Debug)]
pub struct RedisCluster {
    ports: Vec<u16>,
    nodes: Vec<ClusterNode>,
    dir: PathBuf,
    children: Vec<Child>,
}

/// The ports of one cluster node: clients and the cluster bus.
#[derive(Debug, Clone, Copy)]
struct ClusterNode {
    port: u16,
    bus: u16,
}

impl ClusterNode {
    /// Starts the node in `cluster_dir/<port>`, which keeps its `nodes.conf` across restarts.
    fn spawn(&self, cluster_dir: &Path) -> Child {
        let node_dir = cluster_dir.join(self.port.to_string());
        std::fs::create_dir_all(&node_dir).expect("create node directory");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node_dir.join("redis.log"))
            .expect("open redis.log");
        Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-port",
                &self.bus.to_string(),
            ])
            .args([
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "5000",
            ])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&node_dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .expect("spawn redis-server")
    }
}

impl RedisCluster {
    /// Starts `masters` (at least 3) nodes, creates the cluster with `redis-cli --cluster
    /// create`, and waits until every node reports `cluster_state:ok`.
    pub fn start(masters: usize) -> Self {
        assert!(masters >= 3, "a Redis Cluster needs at least 3 masters");
        require("redis-server", "redis-server");
        require("redis-cli", "redis-tools");
        let dir = scratch_dir("cluster");
        let mut cluster = Self {
            ports: Vec::new(),
            nodes: Vec::new(),
            dir,
            children: Vec::new(),
        };
        for _ in 0..masters {
            let node = ClusterNode {
                port: free_port(),
                bus: free_port(),
            };
            cluster.children.push(node.spawn(&cluster.dir));
            cluster.ports.push(node.port);
            cluster.nodes.push(node);
        }
        for &port in &cluster.ports {
            wait_until(&format!("cluster node {port} answers PING"), || {
                redis_cli(port, &["PING"]) == "PONG"
            });
        }
        let addrs: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli --cluster create");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for &port in &cluster.ports {
            wait_until(
                &format!("cluster node {port} reports cluster_state:ok"),
                || redis_cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
            );
        }
        // Every node must agree on the slot owners before clients use the cluster.
        let owners = cluster.ports.clone();
        wait_until("all nodes agree on the slot map", || {
            let maps: Vec<String> = owners
                .iter()
                .map(|&p| slot_owners(&redis_cli(p, &["CLUSTER", "NODES"])).join(","))
                .collect();
            maps.iter().all(|m| m == &maps[0]) && maps[0].split(',').count() == owners.len()
        });
        cluster
    }

    /// Kills the node on `port` (SIGKILL) and starts it again with its cluster configuration,
    /// then waits until every node reports `cluster_state:ok`. Pub/sub subscriptions held by
    /// that node are gone.
    pub fn restart_node(&mut self, port: u16) {
        let index = self
            .ports
            .iter()
            .position(|&p| p == port)
            .expect("a port of this cluster");
        let child = &mut self.children[index];
        let _ = child.kill();
        let _ = child.wait();
        self.children[index] = self.nodes[index].spawn(&self.dir);
        wait_until(&format!("cluster node {port} answers PING"), || {
            redis_cli(port, &["PING"]) == "PONG"
        });
        for &p in &self.ports {
            wait_until(
                &format!("cluster node {p} reports cluster_state:ok"),
                || redis_cli(p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"),
            );
        }
    }

    /// The node ports.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// `redis://127.0.0.1:<port>` of every node.
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// The port of the master that owns the hash slot of `key` (a channel name for sharded
    /// pub/sub).
    pub fn master_of(&self, key: &str) -> u16 {
        let port = self.ports[0];
        let slot: u16 = redis_cli(port, &["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("CLUSTER KEYSLOT answers a number");
        for line in redis_cli(port, &["CLUSTER", "NODES"]).lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() < 9 || !fields[2].contains("master") {
                continue;
            }
            let owns = fields[8..].iter().any(|range| {
                let mut bounds = range.split('-').map(|b| b.parse::<u16>().ok());
                match (bounds.next().flatten(), bounds.next().flatten()) {
                    (Some(lo), Some(hi)) => (lo..=hi).contains(&slot),
                    (Some(single), None) => single == slot,
                    _ => false,
                }
            });
            if owns {
                let addr = fields[1].split('@').next().unwrap_or_default();
                return addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("port in CLUSTER NODES");
            }
        }
        panic!("no master owns slot {slot} of {key:?}");
    }
}

/// The `ip:port` of every master with slots in a `CLUSTER NODES` listing, sorted.
fn slot_owners(nodes: &str) -> Vec<String> {
    let mut owners: Vec<String> = nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 8 && fields[2].contains("master"))
                .then(|| format!("{}={}", fields[1], fields[8..].join(" ")))
        })
        .collect();
    owners.sort();
    owners
}

fn wait_until(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + READY_TIMEOUT;
    while Instant::now() < deadline {
        if ready() {
            return;
        }
        std::thread::sleep(POLL * 4);
    }
    panic!("timed out after {READY_TIMEOUT:?} waiting until {what}");
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
