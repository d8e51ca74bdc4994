//! The `crosscast` binary starts and answers `--version`.
//!
//! Having an integration test also makes `cargo test --workspace` build the binary, which the
//! process tests of `crosscast-tests` (`tests/tests/server_*.rs`) run.

use std::process::Command;

#[test]
fn prints_its_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_crosscast"))
        .arg("--version")
        .output()
        .expect("run crosscast --version");
    assert!(out.status.success(), "{:?}", out.status);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("crosscast {}", env!("CARGO_PKG_VERSION"))
    );
}
