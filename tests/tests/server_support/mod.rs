//! Helpers of the `crosscast` process tests: the binary, started servers, one-shot commands,
//! plain HTTP GETs, and real Socket.IO clients (Node.js `socket.io-client`, driven through
//! `client.cjs`).
//!
//! Contracts:
//! - The binary is `target/<profile>/crosscast`, next to the test executable's `deps/`
//!   directory; `cargo test --workspace` builds it (the tests panic with a hint when missing).
//! - Every wait is bounded ([`WAIT`]); a failed wait panics naming what was awaited, with the
//!   server's stderr when it helps.
//! - Servers and clients are killed on drop.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The bound of every wait of these tests.
pub const WAIT: Duration = Duration::from_secs(15);

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The `crosscast` binary built by cargo for this profile.
pub fn bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join("crosscast");
    let hint = "build it with `cargo build -p crosscast --bin crosscast` (or run `cargo test --workspace`)";
    let built = std::fs::metadata(&bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| panic!("{} is missing: {hint}", bin.display()));
    let host = repo_root().join("host-native");
    let newest = [host.join("src"), host.join("assets"), host.join("build.rs")]
        .iter()
        .filter_map(|p| newest_mtime(p))
        .max();
    if let Some(newest) = newest {
        assert!(
            built >= newest,
            "{} is older than its sources: {hint}",
            bin.display()
        );
    }
    bin
}

/// The newest modification time under `path` (a file or a directory tree).
fn newest_mtime(path: &std::path::Path) -> Option<std::time::SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| newest_mtime(&entry.path()))
        .max()
}

/// The `node_modules` of `interop/node` (socket.io-client, the Node adapters).
pub fn node_modules() -> PathBuf {
    let dir = repo_root().join("interop/node/node_modules");
    assert!(
        dir.join("socket.io-client").is_dir(),
        "{} lacks socket.io-client: run `npm ci` in interop/node",
        dir.display()
    );
    dir
}

/// Runs `crosscast ARGS` to completion (bounded by [`WAIT`]) with extra environment `env`.
/// The variables of the command line are removed from the inherited environment first.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    clean_env(&mut cmd);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn crosscast");
    exit_within_wait(child, args)
}

/// Like [`run`], with `stdin` written to the command's standard input (then closed). A
/// command that exits before reading all of it is fine.
pub fn run_with_stdin(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(bin());
    clean_env(&mut cmd);
    cmd.args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn crosscast");
    let mut pipe = child.stdin.take().expect("piped stdin");
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = exit_within_wait(child, args);
    let _ = writer.join();
    out
}

/// Waits at most [`WAIT`] for `child` (crosscast ARGS) to exit and returns its output;
/// kills it and panics with its stderr past that.
fn exit_within_wait(mut child: std::process::Child, args: &[&str]) -> Output {
    let deadline = Instant::now() + WAIT;
    loop {
        if child.try_wait().expect("poll crosscast").is_some() {
            return child.wait_with_output().expect("crosscast output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("crosscast output");
            panic!(
                "crosscast {args:?} did not exit within {WAIT:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The first line `child` prints on its (piped) stdout, waiting at most [`WAIT`]; the rest
/// of its stdout is read and discarded, so the child never blocks on a full pipe.
pub fn start_line(child: &mut std::process::Child) -> Option<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // Once the first line is taken nobody listens: keep draining.
            let _ = tx.send(line);
        }
    });
    rx.recv_timeout(WAIT).ok()
}

/// Every environment variable of the command line (and `HOST`, its old name for
/// `CROSSCAST_HOST`).
pub const ENV_VARS: [&str; 25] = [
    "HOST",
    "CROSSCAST_HOST",
    "PORT",
    "REDIS_URL",
    "CROSSCAST_ADAPTER",
    "CROSSCAST_KEY",
    "CROSSCAST_REQUESTS_TIMEOUT",
    "CROSSCAST_PUBLISH",
    "CROSSCAST_PUBLISH_MAX_BYTES",
    "CROSSCAST_CLIENT_SSE",
    "CROSSCAST_MAX_CONNECTIONS",
    "CROSSCAST_MAX_PAYLOAD",
    "CROSSCAST_MAX_EVENTS_PER_SECOND",
    "CROSSCAST_EVENTS_BURST",
    "CROSSCAST_MAX_REQUESTS_PER_SOCKET",
    "CROSSCAST_MAX_ROOMS_PER_SOCKET",
    "CROSSCAST_CLUSTER_PUBLISH_QUEUE_BYTES",
    "CROSSCAST_CLUSTER_INBOX_BYTES",
    "CROSSCAST_REDIS_INBOUND_QUEUE_BYTES",
    "CROSSCAST_REDIS_CLUSTER",
    "CROSSCAST_REDIS_CA",
    "CROSSCAST_CORS_ORIGIN",
    "CROSSCAST_LOG_FORMAT",
    "CROSSCAST_ADMIN_USER",
    "CROSSCAST_ADMIN_PASSWORD_HASH",
];

fn clean_env(cmd: &mut Command) {
    for var in ENV_VARS {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info");
}

/// Asserts the shape every failure of the command line must have: a non-zero exit, one line
/// on stderr starting with `crosscast: `, no panic and no backtrace. Returns the line.
pub fn assert_one_line_error(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected a failure, got {:?}",
        out.status
    );
    assert_ne!(
        out.status.code(),
        None,
        "killed by a signal: {:?}",
        out.status
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "a panic: {stderr}"
    );
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {stderr}");
    assert!(
        lines[0].starts_with("crosscast: "),
        "unexpected line: {}",
        lines[0]
    );
    lines[0].to_owned()
}

/// A running `crosscast serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    addr: String,
    uid: String,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts `crosscast serve --port 0 ARGS` and waits for its start line.
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// Like [`Server::start`] with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut full = vec!["serve"];
        if !args.contains(&"--port") && !env.iter().any(|(k, _)| *k == "PORT") {
            full.extend(["--port", "0"]);
        }
        full.extend_from_slice(args);
        Self::spawn(&full, env)
    }

    /// Spawns `crosscast ARGS` (ARGS start with `serve`) and waits for the start line.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let stderr_path =
            std::env::temp_dir().join(format!("crosscast-serve-{}-{n}.log", std::process::id()));
        let log = std::fs::File::create(&stderr_path).expect("create the server log");
        let mut cmd = Command::new(bin());
        clean_env(&mut cmd);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log);
        let mut child = cmd.spawn().expect("spawn crosscast serve");
        let line = match start_line(&mut child) {
            Some(line) => line,
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "crosscast {args:?} printed no start line within {WAIT:?}; stderr: {}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
        };
        let rest = line
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected start line {line:?}"));
        let (addr, uid) = rest
            .split_once(" uid=")
            .unwrap_or_else(|| panic!("no uid in the start line {line:?}"));
        Self {
            child,
            addr: addr.to_owned(),
            uid: uid.to_owned(),
            stderr_path,
        }
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `host:port` as printed in the start line.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// The uid printed in the start line.
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server logged so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// `GET path` on this server.
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
    }

    /// Sends `signal` (`TERM`, `INT`) with `kill`.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// The exit status, if the process has exited (no wait).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the server")
    }

    /// Waits (bounded by [`WAIT`]) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the server") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {WAIT:?}; stderr: {}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// A plain HTTP/1.1 `GET` (connection closed after the response); returns status and body.
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

/// A plain HTTP/1.1 `POST` of `body` (text/plain; connection closed after the response);
/// returns status and body.
pub fn http_post(addr: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: text/plain;charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("send the request head");
    // The server may answer (and close) before it read the whole body.
    let _ = stream.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, body.to_owned())
}

/// An HTTP/1.1 response: status, headers (names lowercase, in order) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The names of the `access-control-*` headers.
    pub fn cors_headers(&self) -> Vec<&str> {
        self.headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with("access-control-"))
            .collect()
    }
}

/// A plain HTTP/1.1 request `method path` with extra `headers` and `body` (connection closed
/// after the response; a `101` upgrade response is read up to its header end).
pub fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connect to the server");
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        head.push_str(&format!(
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .expect("send the request head");
    let _ = stream.write_all(body.as_bytes());
    let mut raw = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
        }
        // An upgraded connection stays open: its head is the whole answer.
        if raw.starts_with(b"HTTP/1.1 101") && raw.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {text:?}"));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `interop/node/peer-server.js` (the same chat app on the official Node.js packages), killed
/// on drop.
#[derive(Debug)]
pub struct NodePeer {
    child: Child,
    url: String,
}

impl NodePeer {
    /// Starts the peer with `args` (after `--port 0`) and waits for its start line.
    pub fn start(args: &[&str]) -> Self {
        node_modules();
        let script = repo_root().join("interop/node/peer-server.js");
        let mut child = Command::new("node")
            .arg(&script)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node peer-server.js");
        let Some(line) = start_line(&mut child) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("peer-server.js printed no start line within {WAIT:?}");
        };
        let url = line
            .strip_prefix("listening on ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected start line {line:?}"))
            .to_owned();
        Self { child, url }
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("poll the node peer")
    }
}

impl Drop for NodePeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real Socket.IO client (Node.js `socket.io-client`), websocket only, no reconnection.
#[derive(Debug)]
pub struct Client {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    backlog: Vec<Value>,
    next_ack: u64,
    /// The socket id the server gave.
    pub id: String,
}

impl Client {
    /// Connects to `url` and waits until connected.
    pub fn connect(url: &str) -> Self {
        match Self::try_connect(url) {
            Ok(client) => client,
            Err(message) => panic!("cannot connect to {url}: {message}"),
        }
    }

    /// Connects to `url`; the `connect_error` message when the server refuses.
    pub fn try_connect(url: &str) -> Result<Self, String> {
        Self::try_connect_with(url, &json!({}))
    }

    /// Connects to `url` with socket.io-client `options` on top of the defaults (websocket
    /// only, no reconnection), e.g. `{"extraHeaders": {"origin": ...}}` or
    /// `{"reconnection": true}`, and waits until connected.
    pub fn connect_with(url: &str, options: &Value) -> Self {
        match Self::try_connect_with(url, options) {
            Ok(client) => client,
            Err(message) => panic!("cannot connect to {url} with {options}: {message}"),
        }
    }

    /// Like [`Client::connect_with`]; the `connect_error` message when the connection fails.
    pub fn try_connect_with(url: &str, options: &Value) -> Result<Self, String> {
        let script =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/server_support/client.cjs");
        let mut child = Command::new("node")
            .arg(&script)
            .arg(url)
            .arg(options.to_string())
            .env("NODE_PATH", node_modules())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn node (is Node.js installed?)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(value) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let mut client = Self {
            child,
            stdin,
            lines,
            backlog: Vec::new(),
            next_ack: 0,
            id: String::new(),
        };
        let first = client.take(&format!("connection to {url}"), |m| {
            m["type"] == "connected" || m["type"] == "connect_error"
        });
        if first["type"] != "connected" {
            return Err(first["message"].as_str().unwrap_or_default().to_owned());
        }
        client.id = first["id"].as_str().unwrap_or_default().to_owned();
        Ok(client)
    }

    /// Waits (bounded) for the first message matching `pred`, earlier unmatched ones kept.
    fn take(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(m) if pred(&m) => return m,
                Ok(m) => self.backlog.push(m),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "timed out after {WAIT:?} waiting for {what}; received meanwhile: {:?}",
                    self.backlog
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the client exited while waiting for {what}; received: {:?}",
                        self.backlog
                    )
                }
            }
        }
    }

    fn send(&mut self, command: &Value) {
        writeln!(self.stdin, "{command}").expect("write to the client");
        self.stdin.flush().expect("flush the client's stdin");
    }

    /// Emits `event` with `args`, no acknowledgement.
    pub fn emit(&mut self, event: &str, args: Value) {
        self.send(&json!({"op": "emit", "event": event, "args": args}));
    }

    /// Emits `event` with `args` and waits for the acknowledgement's first argument.
    pub fn request(&mut self, event: &str, args: Value) -> Value {
        let id = self.request_start(event, args);
        self.ack(id)
    }

    /// Emits `event` with `args` and an acknowledgement without waiting for it; returns the
    /// id for [`Client::ack`].
    pub fn request_start(&mut self, event: &str, args: Value) -> u64 {
        self.next_ack += 1;
        let id = self.next_ack;
        self.send(&json!({"op": "emit", "event": event, "args": args, "ack": id}));
        id
    }

    /// Waits for the acknowledgement `id` of [`Client::request_start`]; its first argument.
    pub fn ack(&mut self, id: u64) -> Value {
        let ack = self.take(&format!("the ack {id}"), |m| {
            m["type"] == "ack" && m["id"] == id
        });
        assert!(ack.get("error").is_none(), "request {id} failed: {ack}");
        ack["value"].clone()
    }

    /// Emits `event` with `args` `count` times at once (no acknowledgement), as fast as the
    /// client can.
    pub fn flood(&mut self, event: &str, args: Value, count: u32) {
        self.send(&json!({"op": "flood", "event": event, "args": args, "count": count}));
    }

    /// Emits `event` `count` times at once with the numbers `0..count` as its only
    /// argument, in that order.
    pub fn flood_numbered(&mut self, event: &str, count: u32) {
        self.send(
            &json!({"op": "flood", "event": event, "args": [0], "count": count, "numbered": true}),
        );
    }

    /// Waits for the next `event` and returns its arguments.
    pub fn next_event(&mut self, event: &str) -> Vec<Value> {
        let m = self.take(&format!("event {event:?}"), |m| {
            m["type"] == "event" && m["event"] == event
        });
        m["args"].as_array().cloned().unwrap_or_default()
    }

    /// Waits for an `event` whose first argument is `first`, and returns every `event`
    /// received before it (in order), removing them all.
    pub fn events_until(&mut self, event: &str, first: &Value) -> Vec<Value> {
        let _ = self.take(&format!("event {event:?} with {first}"), |m| {
            m["type"] == "event" && m["event"] == event && m["args"][0] == *first
        });
        let mut before = Vec::new();
        self.backlog.retain(|m| {
            if m["type"] == "event" && m["event"] == event {
                before.push(m["args"][0].clone());
                false
            } else {
                true
            }
        });
        before
    }

    /// Removes and returns the first arguments of every `event` received so far, without
    /// waiting.
    pub fn pending(&mut self, event: &str) -> Vec<Value> {
        while let Ok(m) = self.lines.try_recv() {
            self.backlog.push(m);
        }
        let mut found = Vec::new();
        self.backlog.retain(|m| {
            if m["type"] == "event" && m["event"] == event {
                found.push(m["args"][0].clone());
                false
            } else {
                true
            }
        });
        found
    }

    /// Waits until the server closes the connection; returns the reason.
    pub fn next_disconnect(&mut self) -> String {
        let m = self.take("a disconnection", |m| m["type"] == "disconnect");
        m["reason"].as_str().unwrap_or_default().to_owned()
    }

    /// Waits until a reconnecting client (`{"reconnection": true}`) is connected again;
    /// returns (and keeps) its new socket id.
    pub fn next_connect(&mut self) -> String {
        let m = self.take("a new connection", |m| m["type"] == "connected");
        self.id = m["id"].as_str().unwrap_or_default().to_owned();
        self.id.clone()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Repeats `check` until it returns `Some` or [`WAIT`] passes (then panics naming `what`).
pub fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A plain Redis subscriber (a program that is not a Socket.IO server), speaking RESP2 over
/// its own TCP connection: `SUBSCRIBE` or, for shard channels, `SSUBSCRIBE`.
#[derive(Debug)]
pub struct RawSubscriber {
    reader: std::io::BufReader<std::net::TcpStream>,
}

impl RawSubscriber {
    /// Subscribes `channel` on the Redis at `port` (`sharded`: `SSUBSCRIBE`) and waits for
    /// the confirmation.
    pub fn subscribe(port: u16, channel: &str, sharded: bool) -> Self {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to Redis");
        stream
            .set_read_timeout(Some(WAIT))
            .expect("set a read timeout");
        let command = if sharded { "SSUBSCRIBE" } else { "SUBSCRIBE" };
        let mut writer = stream.try_clone().expect("clone the stream");
        write!(
            writer,
            "*2\r\n${}\r\n{command}\r\n${}\r\n{channel}\r\n",
            command.len(),
            channel.len()
        )
        .expect("send the subscription");
        let mut sub = Self {
            reader: std::io::BufReader::new(stream),
        };
        let confirm = sub.read_array();
        assert_eq!(
            confirm[0].to_ascii_lowercase(),
            command.to_ascii_lowercase().as_bytes(),
            "unexpected reply"
        );
        sub
    }

    /// Subscribes the channels matching `pattern` (`PSUBSCRIBE`: unlike `SUBSCRIBE`, not
    /// counted by `PUBSUB NUMSUB`, so not a server to the adapters) on the Redis at `port`.
    pub fn psubscribe(port: u16, pattern: &str) -> Self {
        let stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to Redis");
        stream
            .set_read_timeout(Some(WAIT))
            .expect("set a read timeout");
        let mut writer = stream.try_clone().expect("clone the stream");
        write!(
            writer,
            "*2\r\n$10\r\nPSUBSCRIBE\r\n${}\r\n{pattern}\r\n",
            pattern.len()
        )
        .expect("send the subscription");
        let mut sub = Self {
            reader: std::io::BufReader::new(stream),
        };
        let confirm = sub.read_array();
        assert_eq!(confirm[0], b"psubscribe", "unexpected reply");
        sub
    }

    /// Also subscribes `channel` on this connection (`sharded`: `SSUBSCRIBE`, else
    /// `SUBSCRIBE`) and waits for the confirmation; call it before any message can arrive.
    pub fn also_subscribe(&mut self, channel: &str, sharded: bool) {
        let command = if sharded { "SSUBSCRIBE" } else { "SUBSCRIBE" };
        write!(
            self.reader.get_ref(),
            "*2\r\n${}\r\n{command}\r\n${}\r\n{channel}\r\n",
            command.len(),
            channel.len()
        )
        .expect("send the subscription");
        let confirm = self.read_array();
        assert_eq!(
            confirm[0],
            command.to_ascii_lowercase().as_bytes(),
            "unexpected reply"
        );
    }

    /// The payload of the next message (waits at most [`WAIT`]; panics then).
    pub fn next_message(&mut self) -> String {
        String::from_utf8(self.next_raw().1).expect("a UTF-8 payload")
    }

    /// The channel and the payload bytes of the next message, of a subscription or a pattern
    /// (waits at most [`WAIT`]; panics then).
    pub fn next_raw(&mut self) -> (String, Vec<u8>) {
        let mut push = self.read_array();
        let kind = push[0].clone();
        if kind == b"pmessage" {
            push.remove(1);
        }
        assert!(
            kind == b"message" || kind == b"smessage" || kind == b"pmessage",
            "unexpected push {:?}",
            String::from_utf8_lossy(&kind)
        );
        (
            String::from_utf8_lossy(&push[1]).into_owned(),
            push[2].clone(),
        )
    }

    /// Every payload up to and including the one equal to `last`, in order.
    pub fn messages_until(&mut self, last: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let message = self.next_message();
            let done = message == last;
            seen.push(message);
            if done {
                return seen;
            }
        }
    }

    /// Whether a message arrives within `wait` (a short look for an unwanted one).
    pub fn any_within(&mut self, wait: Duration) -> Option<String> {
        self.reader
            .get_ref()
            .set_read_timeout(Some(wait))
            .expect("set a read timeout");
        let mut first = [0u8; 1];
        let got = std::io::Read::read(&mut self.reader, &mut first);
        self.reader
            .get_ref()
            .set_read_timeout(Some(WAIT))
            .expect("set a read timeout");
        match got {
            Ok(1) => Some(format!("a reply starting with {:?}", first[0] as char)),
            _ => None,
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        std::io::BufRead::read_line(&mut self.reader, &mut line).expect("read from Redis");
        line.trim_end().to_owned()
    }

    fn read_array(&mut self) -> Vec<Vec<u8>> {
        let header = self.line();
        let n: usize = header
            .strip_prefix(['*', '>'])
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("expected an array, got {header:?}"));
        (0..n)
            .map(|_| {
                let item = self.line();
                if let Some(len) = item.strip_prefix('$') {
                    let len: usize = len.parse().expect("a bulk length");
                    let mut bytes = vec![0u8; len + 2];
                    std::io::Read::read_exact(&mut self.reader, &mut bytes).expect("a bulk");
                    bytes.truncate(len);
                    bytes
                } else {
                    item.trim_start_matches(':').as_bytes().to_vec()
                }
            })
            .collect()
    }
}
