// scripts/setup.sh's Node.js step: Node.js 20 or newer passes; an older one,
// or a `node` that prints no version, is one line on stderr and exit 1. The
// `node` it sees is a stub first on PATH that prints a chosen version.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** Runs `bash scripts/setup.sh node` with a `node` that prints `version`. */
function setupNodeWith(version) {
  const bin = mkdtempSync(join(tmpdir(), "crosscast-node-stub-"));
  try {
    writeFileSync(join(bin, "node"), `#!/bin/sh\necho '${version}'\n`);
    chmodSync(join(bin, "node"), 0o755);
    const run = spawnSync("bash", ["scripts/setup.sh", "node"], {
      cwd: root,
      encoding: "utf8",
      timeout: 30_000,
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

function oneLine(stderr) {
  const lines = stderr.split("\n").filter((l) => l.trim() !== "");
  assert.equal(lines.length, 1, `one line on stderr, got: ${stderr}`);
  return lines[0];
}

test("Node.js 20 and newer pass the Node.js step quietly", () => {
  for (const version of ["v20.0.0", "v20.20.2", "v22.11.0", "v24.1.0"]) {
    const run = setupNodeWith(version);
    assert.equal(run.status, 0, `${version}: ${run.stderr}`);
    assert.equal(run.stderr, "", version);
  }
});

test("Node.js 18 is a one-line error naming the version found and the one needed", () => {
  const run = setupNodeWith("v18.20.4");
  assert.equal(run.status, 1);
  const line = oneLine(run.stderr);
  assert.match(line, /^setup: Node\.js 20\+ is needed, found v18\.20\.4 at .*\/node: install/);
});

test("a `node` that prints no version is a one-line error", () => {
  const run = setupNodeWith("not a version");
  assert.equal(run.status, 1);
  assert.match(oneLine(run.stderr), /^setup: Node\.js 20\+ is needed; .*node --version printed 'not a version', not a version$/);
});

test("an unknown step is a one-line error listing the steps", () => {
  const run = spawnSync("bash", ["scripts/setup.sh", "nodejs"], { cwd: root, encoding: "utf8" });
  assert.equal(run.status, 1);
  assert.equal(oneLine(run.stderr), "setup: unknown step 'nodejs' (steps: rust apt node wasm-bindgen npm)");
});
