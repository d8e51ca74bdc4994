// What the npm package ships and how it publishes, without publishing:
// `npm pack --dry-run` lists exactly the files the entries of package.json
// reach (the JavaScript, the wasm-bindgen glue, the wasm, the types) plus
// package.json, README.md and the licenses; `npm publish --dry-run` is clean
// (no warning, no error) and sends nothing but GETs to a stand-in registry on
// loopback, so that nothing can reach a real one; `prepack` refuses a missing or stale
// build; the README shows the one-line switch from @socket.io/redis-adapter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:http";
import { cpSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));

/** The files `npm pack` would put in the tarball of the package in `dir`. */
function packList(dir = pkgDir) {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
    cwd: dir,
    encoding: "utf8",
  });
  return JSON.parse(out)[0].files.map((f) => f.path).sort();
}

/** Every target of `exports`, `main`, `module` and `types`. */
function entries() {
  const out = new Set([manifest.main, manifest.module, manifest.types]);
  const walk = (v) => (typeof v === "string" ? out.add(v) : Object.values(v).forEach(walk));
  walk(manifest.exports);
  return [...out].map((p) => normalize(p));
}

/** The relative imports (`import`, `export ... from`, `require`) of a file. */
function relativeImports(file) {
  const text = readFileSync(join(pkgDir, file), "utf8");
  const found = [];
  for (const m of text.matchAll(/(?:from|import|require\()\s*["'](\.{1,2}\/[^"']+)["']/g)) {
    found.push(normalize(join(dirname(file), m[1])));
  }
  return found;
}

/** The files the entries reach, following relative imports. */
function reachable() {
  const seen = new Set();
  const todo = entries();
  while (todo.length > 0) {
    const file = todo.pop();
    if (seen.has(file)) continue;
    seen.add(file);
    if (/\.(mjs|cjs|js|ts|cts)$/.test(file)) todo.push(...relativeImports(file));
  }
  return seen;
}

test("npm pack ships what the entries reach, the README and the licenses, nothing else", () => {
  const expected = [...new Set([...reachable(), "package.json", "README.md", "LICENSE-MIT", "LICENSE-APACHE"])].sort();
  assert.deepEqual(packList(), expected);
  // What that means today, spelled out.
  for (const f of ["pkg/crosscast_wasm_bg.wasm", "pkg/crosscast_wasm.js", "pkg/wasm-base64.mjs",
    "pkg/index.cjs", "js/index.mjs", "js/workerd.mjs", "js/index.d.ts", "js/index.d.cts"]) {
    assert.ok(expected.includes(f), `ships ${f}`);
  }
  for (const prefix of ["src/", "test/", "scripts/", "Cargo.toml", "build.sh", "node_modules/"]) {
    assert.ok(!expected.some((f) => f.startsWith(prefix)), `ships nothing of ${prefix}`);
  }
});

test("the licenses shipped are the repository's", () => {
  for (const name of ["LICENSE-MIT", "LICENSE-APACHE"]) {
    assert.equal(
      readFileSync(join(pkgDir, name), "utf8"),
      readFileSync(join(pkgDir, "..", name), "utf8"),
      `host-wasm/${name} is a copy of ../${name}`,
    );
  }
  assert.equal(manifest.license, "MIT OR Apache-2.0");
});

test("npm publish --dry-run is clean and publishes nothing", async () => {
  // npm asks the registry for the package document (to check the version is
  // new) even in a dry run. It asks a stand-in on loopback that records every
  // request and knows no package, with a token for it: npm has nothing to warn
  // about, and a publish could not reach a real registry.
  const requests = [];
  const registryServer = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
  });
  await new Promise((resolve) => registryServer.listen(0, "127.0.0.1", resolve));
  const registry = `http://127.0.0.1:${registryServer.address().port}/`;
  const home = mkdtempSync(join(tmpdir(), "crosscast-npmrc-"));
  try {
    const npmrc = join(home, "npmrc");
    writeFileSync(npmrc, `registry=${registry}\n${registry.replace(/^http:/, "")}:_authToken=dry-run-only\n`);
    const run = await runAsync("npm", ["publish", "--dry-run", "--userconfig", npmrc, "--registry", registry]);
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stderr.split("\n").filter((l) => l.trim() !== "");
    assert.deepEqual(lines.filter((l) => !l.startsWith("npm notice")), [], "only notices");
    assert.ok(lines.some((l) => l.includes(`Publishing to ${registry}`) && l.endsWith("(dry-run)")), run.stderr);
    assert.ok(lines.includes(`npm notice total files: ${packList().length}`), run.stderr);
    assert.match(run.stdout, new RegExp(`^\\+ crosscast@${manifest.version.replace(/\./g, "\\.")}$`, "m"));
    assert.ok(requests.length > 0, "npm asked the stand-in, not another registry");
    assert.deepEqual(requests.filter((r) => !r.startsWith("GET ")), [], "nothing but GETs: no publish");
  } finally {
    registryServer.close();
    rmSync(home, { recursive: true, force: true });
  }
});

/** Runs `cmd args` in the package directory without blocking the event loop (bounded). */
function runAsync(cmd, args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { cwd: pkgDir });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`${cmd} ${args.join(" ")} did not exit within 60 s: ${stderr}`));
    }, 60_000);
    proc.once("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** A copy of the package's sources (and `pkg/` when `withBuild`) in a scratch directory. */
function copyOfPackage(withBuild) {
  const dir = mkdtempSync(join(tmpdir(), "crosscast-prepack-"));
  for (const p of ["package.json", "README.md", "LICENSE-MIT", "LICENSE-APACHE", "js", "scripts", "src", "Cargo.toml"]) {
    cpSync(join(pkgDir, p), join(dir, p), { recursive: true, preserveTimestamps: true });
  }
  if (withBuild) cpSync(join(pkgDir, "pkg"), join(dir, "pkg"), { recursive: true, preserveTimestamps: true });
  return dir;
}

function pack(dir) {
  return spawnSync("npm", ["pack", "--dry-run"], { cwd: dir, encoding: "utf8", timeout: 60_000 });
}

test("npm pack refuses a package whose build is missing", () => {
  const dir = copyOfPackage(false);
  try {
    const run = pack(dir);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /check-built: pkg\/index\.cjs is missing: run `bash build\.sh` before packing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("npm pack refuses a build older than its sources, and takes a fresh one", () => {
  const dir = copyOfPackage(true);
  try {
    assert.equal(pack(dir).status, 0, "the copy of a fresh build packs");
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(dir, "js/emitter.mjs"), later, later);
    const run = pack(dir);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /check-built: pkg\/\S+ is older than .*js\/emitter\.mjs: run `bash build\.sh`/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the README shows the one-line switch from @socket.io/redis-adapter", () => {
  const readme = readFileSync(join(pkgDir, "README.md"), "utf8");
  const diff = readme.match(/```diff\n([\s\S]*?)```/);
  assert.ok(diff, "a diff block");
  assert.deepEqual(diff[1].trim().split("\n"), [
    '- import { createAdapter } from "@socket.io/redis-adapter";',
    '+ import { createAdapter } from "crosscast";',
  ]);
  // The names it promises are what the package exports.
  assert.match(readFileSync(join(pkgDir, "js/api.mjs"), "utf8"), /export \{ createAdapter, createShardedAdapter/);
});
