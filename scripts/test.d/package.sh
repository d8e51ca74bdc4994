#!/usr/bin/env bash
# The crates as crates.io would get them:
#   1. scripts/check-manifests.mjs: every crate's license, a version on every
#      path dependency, the metadata and license files of publishable crates;
#   2. `cargo package` of crosscast-core and crosscast together (crosscast
#      depends on crosscast-core, which is not on crates.io yet: packaged
#      together, cargo resolves it from the packaged copy), each verified by
#      building it from its .crate. crosscast's build script embeds the
#      Socket.IO client and the Admin UI from interop/node/node_modules
#      (CROSSCAST_SOCKET_IO_JS, CROSSCAST_ADMIN_UI_DIR),
#      so the verification needs no network but crates.io;
#   3. each .crate holds the licenses and the README; crosscast's its example;
#   4. crosscast without the feature `server` (the library alone) and its
#      example build with cargo alone: the build script needs no client file
#      (CROSSCAST_SOCKET_IO_JS names a missing one) and no npm;
#   5. their documentation builds without a warning (what docs.rs would show).
# Needs: cargo, Node.js 20+, `npm ci` in interop/node (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "-- manifests (scripts/check-manifests.mjs)"
node scripts/check-manifests.mjs

client="$PWD/interop/node/node_modules/socket.io-client/dist/socket.io.min.js"
if [ ! -f "$client" ]; then
  echo "package.sh: $client is missing: run scripts/setup.sh" >&2
  exit 1
fi
echo "-- cargo package -p crosscast-core -p crosscast"
# The verification of crosscast builds the packaged crosscast-core as a registry
# crate, and cargo never rebuilds a registry crate of the same version: on a
# second run of this checkout it would link the core packaged by the first run,
# however the core has changed since. Forget that build (only the copies built
# from a local registry's source, never the workspace's own or crates.io's).
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
for dep in "$target_dir"/debug/deps/crosscast_core-*.d "$target_dir"/debug/deps/crosscast-*.d; do
  [ -e "$dep" ] || continue
  if head -c 4096 "$dep" | grep -q "/registry/src/-"; then
    hash="${dep##*-}"
    hash="${hash%.d}"
    rm -rf "$target_dir"/debug/.fingerprint/crosscast-core-"$hash" "$target_dir"/debug/.fingerprint/crosscast-"$hash" \
      "$target_dir"/debug/deps/*-"$hash".* "$dep"
  fi
done
# Likewise cargo unpacks that crate into CARGO_HOME/registry/src/-<hash>/ once per
# version: remove our crates' unpacked copies (local registries only: crates.io's
# directories are named index.*).
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
rm -rf "$cargo_home"/registry/src/-*/crosscast-[0-9]* "$cargo_home"/registry/src/-*/crosscast-core-[0-9]*
admin_ui="$PWD/interop/node/node_modules/@socket.io/admin-ui/ui/dist"
CROSSCAST_SOCKET_IO_JS="$client" CROSSCAST_ADMIN_UI_DIR="$admin_ui" \
  cargo package -p crosscast-core -p crosscast --allow-dirty --locked

version="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).packages.find(p=>p.name==="crosscast").version))')"
check_contents() {
  local crate="$1"
  shift
  local file="$target_dir/package/$crate-$version.crate"
  local listing
  listing="$(tar -tzf "$file")"
  for want in "$@"; do
    if ! grep -qx "$crate-$version/$want" <<<"$listing"; then
      echo "package.sh: $file lacks $want" >&2
      exit 1
    fi
  done
  echo "   $crate-$version.crate: $(wc -l <<<"$listing") files, with $*"
}
check_contents crosscast-core Cargo.toml README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE src/lib.rs
check_contents crosscast Cargo.toml README.md CHANGELOG.md LICENSE-MIT LICENSE-APACHE src/lib.rs build.rs \
  assets/index.html examples/chat.rs

echo "-- crosscast --no-default-features (the library and its example, with cargo alone)"
CROSSCAST_SOCKET_IO_JS=/nonexistent/socket.io.min.js \
  cargo check -p crosscast --no-default-features --lib --examples --locked

echo "-- cargo doc of both crates (warnings denied: no broken link in what docs.rs shows)"
RUSTDOCFLAGS="-D warnings" cargo doc -p crosscast-core -p crosscast --no-deps --locked
