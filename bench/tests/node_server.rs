//! crosscast-bench against a real Node.js peer server (interop/node/peer-server.js,
//! in-memory): every message reaches every client, and the report says so.
//! Needs Node.js and `npm ci` in interop/node (done by scripts/setup.sh).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A peer server process, killed on drop.
struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_peer() -> Peer {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("interop/node/peer-server.js");
    assert!(
        root.join("interop/node/node_modules").is_dir(),
        "run `npm ci` in interop/node first"
    );
    let mut child = Command::new("node")
        .arg(script)
        .args(["--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node on PATH");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("peer server ready within 15 s");
    let url = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Peer { child, url }
}

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_crosscast-bench"))
        .args(args)
        .output()
        .expect("run crosscast-bench")
}

#[test]
fn every_message_reaches_every_client_of_a_node_server() {
    let peer = start_peer();
    let pid = peer.child.id().to_string();
    let out = bench(&[
        "--url",
        &peer.url,
        "--clients",
        "4",
        "--senders",
        "2",
        "--rate",
        "20",
        "--duration",
        "1",
        "--drain",
        "10",
        "--server-pid",
        &pid,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let sent = report["sent"].as_u64().unwrap();
    assert!(sent > 0, "nothing sent: {report}");
    assert_eq!(report["clients"], 4);
    assert_eq!(report["expected_deliveries"].as_u64().unwrap(), sent * 4);
    assert_eq!(report["delivered"].as_u64().unwrap(), sent * 4);
    assert_eq!(report["lost"], 0);
    assert_eq!(report["client_errors"], 0);
    assert!(report["latency_us"]["max"].as_u64().unwrap() > 0);
    let process = &report["processes"][0];
    assert_eq!(process["pid"].as_u64().unwrap().to_string(), pid);
    assert_eq!(process["name"], "node");
    assert!(process["peak_rss_kib"].as_u64().unwrap() > 0);
}

#[test]
fn refuses_a_server_that_is_not_on_loopback() {
    let out = bench(&["--url", "http://192.0.2.1:3000", "--duration", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only loopback hosts"));
}
