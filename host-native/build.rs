//! Provides the official Socket.IO browser client (`socket.io-client`'s
//! `dist/socket.io.min.js`, at a pinned version) to the `crosscast` binary, which embeds it
//! and serves it with the chat page. No third-party code lives in this repository.
//!
//! Where the file comes from, first match wins:
//! 1. `CROSSCAST_SOCKET_IO_JS`: a path to a `socket.io.min.js` to use as is.
//! 2. `interop/node/node_modules/socket.io-client/` when its `package.json` has the pinned
//!    version (installed by `npm ci` in `interop/node`).
//! 3. `npm pack socket.io-client@<pinned>` into `OUT_DIR`: the tarball's SHA-512 must equal
//!    the pinned `dist.integrity` of the npm registry, then `tar` extracts the file.
//!
//! The file is written to `$OUT_DIR/socket.io.min.js`; its version is exported as
//! `CROSSCAST_SOCKET_IO_CLIENT_VERSION`.
//!
//! Only the feature `server` (the binary's app) embeds the file: without it the build script
//! does nothing, so a library build needs neither npm nor a network. On docs.rs (`DOCS_RS`
//! set; its builds have no network) the file is a placeholder: documentation embeds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned version of `socket.io-client`.
const VERSION: &str = "4.8.4";
/// SHA-512 of `socket.io-client-4.8.4.tgz`, hex of the registry's `dist.integrity`
/// (`sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA==`).
const TARBALL_SHA512: &str = "ef08ca02f55760e26c6e65209166e784f0f86c5a64aab511d3ef973a3a46166a83aaca95d4223ddd54eb69e1312f1a63c44aab5a016849166ed628632d67e400";
const OVERRIDE: &str = "CROSSCAST_SOCKET_IO_JS";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    if std::env::var_os("CARGO_FEATURE_SERVER").is_none() {
        return;
    }
    println!("cargo:rustc-env=CROSSCAST_SOCKET_IO_CLIENT_VERSION={VERSION}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out_dir.join("socket.io.min.js");
    if std::env::var_os("DOCS_RS").is_some() {
        std::fs::write(&target, "// docs.rs build: no Socket.IO client embedded\n")
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
        return;
    }
    let source = match std::env::var_os(OVERRIDE) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            path
        }
        None => match installed_copy() {
            Some(path) => path,
            None => fetch_with_npm(&out_dir),
        },
    };
    let bytes = std::fs::read(&source)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", source.display())));
    if bytes.len() < 1000 {
        fail(&format!(
            "{} is too small to be socket.io.min.js",
            source.display()
        ));
    }
    if source != target {
        std::fs::write(&target, bytes)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
    }
}

/// The copy installed by `npm ci` in `interop/node`, when it has the pinned version.
fn installed_copy() -> Option<PathBuf> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let package = manifest.join("../interop/node/node_modules/socket.io-client");
    let json = std::fs::read_to_string(package.join("package.json")).ok()?;
    let pinned = format!("\"version\": \"{VERSION}\"");
    if !json.contains(&pinned) {
        return None;
    }
    let file = package.join("dist/socket.io.min.js");
    if file.is_file() {
        println!("cargo:rerun-if-changed={}", file.display());
        Some(file)
    } else {
        None
    }
}

/// `npm pack` the pinned tarball into `out_dir`, verify it, extract the file.
fn fetch_with_npm(out_dir: &Path) -> PathBuf {
    let tarball = out_dir.join(format!("socket.io-client-{VERSION}.tgz"));
    let extracted = out_dir.join("socket.io-client");
    let file = extracted.join("package/dist/socket.io.min.js");
    if file.is_file() && tarball.is_file() && sha512_hex(&tarball) == TARBALL_SHA512 {
        return file;
    }
    run(
        Command::new("npm")
            .args(["pack", &format!("socket.io-client@{VERSION}"), "--silent"])
            .arg("--pack-destination")
            .arg(out_dir),
        "npm pack (install Node.js and npm, or set CROSSCAST_SOCKET_IO_JS)",
    );
    let digest = sha512_hex(&tarball);
    if digest != TARBALL_SHA512 {
        let _ = std::fs::remove_file(&tarball);
        fail(&format!(
            "{} has SHA-512 {digest}, expected {TARBALL_SHA512}",
            tarball.display()
        ));
    }
    let _ = std::fs::remove_dir_all(&extracted);
    std::fs::create_dir_all(&extracted)
        .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", extracted.display())));
    run(
        Command::new("tar")
            .arg("-xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&extracted)
            .arg("package/dist/socket.io.min.js"),
        "tar",
    );
    file
}

/// The SHA-512 of `path` in hex, computed by `sha512sum` (or `shasum -a 512`).
fn sha512_hex(path: &Path) -> String {
    let tools: [(&str, &[&str]); 2] = [("sha512sum", &[]), ("shasum", &["-a", "512"])];
    for (tool, args) in tools {
        if let Ok(out) = Command::new(tool).args(args).arg(path).output()
            && out.status.success()
        {
            let text = String::from_utf8_lossy(&out.stdout);
            return text
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    }
    fail("neither sha512sum nor shasum is available to verify the socket.io-client tarball")
}

fn run(cmd: &mut Command, what: &str) {
    match cmd.output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => fail(&format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => fail(&format!("cannot run {what}: {e}")),
    }
}

fn fail(message: &str) -> ! {
    panic!("crosscast build script: cannot provide socket.io.min.js: {message}");
}
