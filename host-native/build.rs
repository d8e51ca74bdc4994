//! Provides two pinned npm files to the `crosscast` binary, which embeds them. No
//! third-party code lives in this repository.
//!
//! - The official Socket.IO browser client (`socket.io-client`'s `dist/socket.io.min.js`),
//!   served with the chat page.
//! - The built Socket.IO Admin UI (`@socket.io/admin-ui`'s `ui/dist/`, source maps left
//!   out), served at `/admin/` by `crosscast serve --admin`.
//!
//! For the client:
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
//! For the Admin UI, the same three sources: `CROSSCAST_ADMIN_UI_DIR` (a `ui/dist`
//! directory), the copy `npm ci` installs in `interop/node`, or the checksum-pinned tarball.
//! Its files are copied to `$OUT_DIR/admin-ui/`, listed in `$OUT_DIR/admin_ui.rs`
//! (`ADMIN_UI_FILES: &[(path, bytes)]`); its version is `CROSSCAST_ADMIN_UI_VERSION`.
//!
//! Only the feature `server` (the binary's app) embeds the files: without it the build script
//! does nothing, so a library build needs neither npm nor a network. On docs.rs (`DOCS_RS`
//! set; its builds have no network) the files are placeholders: documentation embeds nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The pinned version of `socket.io-client`.
const VERSION: &str = "4.8.4";
/// SHA-512 of `socket.io-client-4.8.4.tgz`, hex of the registry's `dist.integrity`
/// (`sha512-7wjKAvVXYOJsbmUgkWbnhPD4bFpkqrUR0++XOjpGFmqDqsqV1CI93VTraeExLxpjxEqrWgFoSRZu1ihjLWfkAA==`).
const TARBALL_SHA512: &str = "ef08ca02f55760e26c6e65209166e784f0f86c5a64aab511d3ef973a3a46166a83aaca95d4223ddd54eb69e1312f1a63c44aab5a016849166ed628632d67e400";
const OVERRIDE: &str = "CROSSCAST_SOCKET_IO_JS";

/// The pinned version of `@socket.io/admin-ui`.
const ADMIN_UI_VERSION: &str = "0.5.1";
/// SHA-512 of `socket.io-admin-ui-0.5.1.tgz`, hex of the registry's `dist.integrity`
/// (`sha512-1dlGL2FGm6T+uL1e6iDvbo2eCINwvW7iVbjIblwh5kPPRM1SP8lmZrbFZf4QNJ/cqQ+JLcx49eXGM9WAB4TK7w==`).
const ADMIN_UI_SHA512: &str = "d5d9462f61469ba4feb8bd5eea20ef6e8d9e088370bd6ee255b8c86e5c21e643cf44cd523fc96666b6c565fe10349fdca90f892dcc78f5e5c633d5800784caef";
const ADMIN_UI_OVERRIDE: &str = "CROSSCAST_ADMIN_UI_DIR";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={OVERRIDE}");
    println!("cargo:rerun-if-env-changed={ADMIN_UI_OVERRIDE}");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    if std::env::var_os("CARGO_FEATURE_SERVER").is_none() {
        return;
    }
    println!("cargo:rustc-env=CROSSCAST_SOCKET_IO_CLIENT_VERSION={VERSION}");
    println!("cargo:rustc-env=CROSSCAST_ADMIN_UI_VERSION={ADMIN_UI_VERSION}");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let target = out_dir.join("socket.io.min.js");
    if std::env::var_os("DOCS_RS").is_some() {
        std::fs::write(&target, "// docs.rs build: no Socket.IO client embedded\n")
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
        write_admin_ui_list(&out_dir, &[]);
        return;
    }
    admin_ui(&out_dir);
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
    let extracted = out_dir.join("socket.io-client");
    let file = extracted.join("package/dist/socket.io.min.js");
    let spec = Pinned {
        package: "socket.io-client",
        tarball: "socket.io-client",
        version: VERSION,
        sha512: TARBALL_SHA512,
        hint: "set CROSSCAST_SOCKET_IO_JS",
    };
    spec.fetch(out_dir, &extracted, "package/dist/socket.io.min.js", &file);
    file
}

/// A tarball of the npm registry at a pinned version and SHA-512.
struct Pinned {
    package: &'static str,
    /// The tarball's file name before `-<version>.tgz` (npm drops the scope's `@` and `/`).
    tarball: &'static str,
    version: &'static str,
    sha512: &'static str,
    /// What to do instead when npm is missing.
    hint: &'static str,
}

impl Pinned {
    /// `npm pack`s the tarball into `out_dir` (unless a verified one is there and `ready`
    /// exists), checks its SHA-512 and extracts `member` into `into`.
    fn fetch(&self, out_dir: &Path, into: &Path, member: &str, ready: &Path) {
        let tarball = out_dir.join(format!("{}-{}.tgz", self.tarball, self.version));
        if ready.exists() && tarball.is_file() && sha512_hex(&tarball) == self.sha512 {
            return;
        }
        run(
            Command::new("npm")
                .args([
                    "pack",
                    &format!("{}@{}", self.package, self.version),
                    "--silent",
                ])
                .arg("--pack-destination")
                .arg(out_dir),
            &format!("npm pack (install Node.js and npm, or {})", self.hint),
        );
        let digest = sha512_hex(&tarball);
        if digest != self.sha512 {
            let _ = std::fs::remove_file(&tarball);
            fail(&format!(
                "{} has SHA-512 {digest}, expected {}",
                tarball.display(),
                self.sha512
            ));
        }
        let _ = std::fs::remove_dir_all(into);
        std::fs::create_dir_all(into)
            .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", into.display())));
        run(
            Command::new("tar")
                .arg("-xzf")
                .arg(&tarball)
                .arg("-C")
                .arg(into)
                .arg(member),
            "tar",
        );
    }
}

/// Provides the Admin UI's files (see the module's documentation).
fn admin_ui(out_dir: &Path) {
    let source = match std::env::var_os(ADMIN_UI_OVERRIDE) {
        Some(dir) => PathBuf::from(dir),
        None => match installed_admin_ui() {
            Some(dir) => dir,
            None => {
                let extracted = out_dir.join("admin-ui-package");
                let dist = extracted.join("package/ui/dist");
                let spec = Pinned {
                    package: "@socket.io/admin-ui",
                    tarball: "socket.io-admin-ui",
                    version: ADMIN_UI_VERSION,
                    sha512: ADMIN_UI_SHA512,
                    hint: "set CROSSCAST_ADMIN_UI_DIR",
                };
                spec.fetch(
                    out_dir,
                    &extracted,
                    "package/ui/dist",
                    &dist.join("index.html"),
                );
                dist
            }
        },
    };
    println!("cargo:rerun-if-changed={}", source.display());
    let mut files = Vec::new();
    collect(&source, &source, &mut files);
    files.sort();
    if !files.iter().any(|f| f == "index.html") {
        fail(&format!(
            "{} has no index.html: it is not the Admin UI's ui/dist",
            source.display()
        ));
    }
    let copy = out_dir.join("admin-ui");
    let _ = std::fs::remove_dir_all(&copy);
    for file in &files {
        let to = copy.join(file);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| fail(&format!("cannot create {}: {e}", parent.display())));
        }
        std::fs::copy(source.join(file), &to)
            .unwrap_or_else(|e| fail(&format!("cannot copy {file}: {e}")));
    }
    write_admin_ui_list(out_dir, &files);
}

/// The installed `interop/node` copy's `ui/dist`, when it has the pinned version.
fn installed_admin_ui() -> Option<PathBuf> {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR")?);
    let package = manifest.join("../interop/node/node_modules/@socket.io/admin-ui");
    let json = std::fs::read_to_string(package.join("package.json")).ok()?;
    if !json.contains(&format!("\"version\": \"{ADMIN_UI_VERSION}\"")) {
        return None;
    }
    let dist = package.join("ui/dist");
    dist.join("index.html").is_file().then_some(dist)
}

/// The files under `dir` as paths relative to `root` with `/`, source maps left out.
fn collect(root: &Path, dir: &Path, out: &mut Vec<String>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", dir.display())));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if path.extension().is_none_or(|ext| ext != "map")
            && let Ok(relative) = path.strip_prefix(root)
        {
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

/// Writes `$OUT_DIR/admin_ui.rs`: `ADMIN_UI_FILES`, each file of `$OUT_DIR/admin-ui/`.
fn write_admin_ui_list(out_dir: &Path, files: &[String]) {
    let mut text = String::from(
        "/// The Admin UI's files: (path under `/admin/`, contents).\n\
         pub(crate) const ADMIN_UI_FILES: &[(&str, &[u8])] = &[\n",
    );
    for file in files {
        let path = out_dir.join("admin-ui").join(file);
        text.push_str(&format!(
            "    ({file:?}, include_bytes!({:?})),\n",
            path.display().to_string()
        ));
    }
    text.push_str("];\n");
    let target = out_dir.join("admin_ui.rs");
    std::fs::write(&target, text)
        .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", target.display())));
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
    fail("neither sha512sum nor shasum is available to verify the npm tarballs")
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
    panic!("crosscast build script: cannot provide the embedded npm files: {message}");
}
