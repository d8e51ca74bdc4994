// `npm pack` of this package installed into an empty project, then used from
// Node.js (ESM and CommonJS), Deno, Bun and Cloudflare workerd. Each runtime
// publishes into a real cluster (redis-server + a Socket.IO server on the
// official classic adapter) and a real client must receive the event.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, rmSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startCluster, connectClient, next, within, freePort } from "./harness.mjs";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));
const bin = (name) => join(pkgDir, "node_modules", ".bin", name);
const golden = JSON.parse(
  readFileSync(new URL("../../tests/fixtures/golden-emitter.json", import.meta.url), "utf8"),
).vectors[0];

let project;
let cluster;
let client;
let harness;

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { cwd: project, encoding: "utf8", timeout: 120_000, ...opts });
}

before(async () => {
  project = mkdtempSync(join(tmpdir(), "crosscast-pack-"));
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "--json", "--pack-destination", project], {
      cwd: pkgDir,
      encoding: "utf8",
    }),
  )[0];
  writeFileSync(
    join(project, "package.json"),
    JSON.stringify({ name: "empty-project", private: true, version: "0.0.0" }),
  );
  // socket.io and ioredis for the adapter scripts; socket.io-adapter, the
  // peer dependency, comes with the package. Installed from the registry (it
  // is reachable wherever the tests run): an `--offline` install would depend
  // on what an earlier run left in npm's cache.
  const versions = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8")).devDependencies;
  run("npm", ["install", "--no-audit", "--no-fund", join(project, packed.filename),
    `socket.io@${versions["socket.io"]}`, `ioredis@${versions.ioredis}`]);
  copyFileSync(join(pkgDir, "test/runtime/publish.mjs"), join(project, "publish.mjs"));

  cluster = await startCluster();
  const [server] = cluster.servers;
  server.io.on("connection", (socket) => socket.join("rt"));
  cluster.servers.forEach((s, i) => s.io.on("pack-sse", (cb) => cb(`official-${i}`)));
  client = await connectClient(server.port);
});

after(async () => {
  client?.disconnect();
  await new Promise((resolve) => (harness ? harness.close(resolve) : resolve()));
  await cluster?.stop();
  if (project) rmSync(project, { recursive: true, force: true });
});

test("the tarball holds the package files and no sources", () => {
  const files = readdirSync(join(project, "node_modules/crosscast"), { recursive: true });
  for (const f of ["js/index.mjs", "js/workerd.mjs", "js/index.d.ts", "pkg/index.cjs",
    "pkg/crosscast_wasm_bg.wasm", "pkg/wasm-base64.mjs", "package.json"]) {
    assert.ok(files.includes(f), `missing ${f}`);
  }
  assert.ok(!files.some((f) => f.startsWith("src") || f.startsWith("test")));
});

test("installed package works from Node.js ESM and CommonJS", () => {
  const capture = `const out = []; const e = new Emitter((c, p) => { out.push([c, Buffer.from(p).toString("hex")]); });
e.emit("hello", 1); console.log(JSON.stringify(out));`;
  writeFileSync(join(project, "esm.mjs"), `import { Emitter } from "crosscast";\n${capture}`);
  writeFileSync(join(project, "cjs.cjs"), `const { Emitter } = require("crosscast");\n${capture}`);
  for (const script of ["esm.mjs", "cjs.cjs"]) {
    const out = JSON.parse(run(process.execPath, [script]));
    assert.deepEqual(out, [[golden.channel, golden.payload_hex]], script);
  }
});

test("the installed adapter joins a cluster of official servers from ESM and CommonJS", async () => {
  // The script: a Socket.IO server on crosscast's createAdapter, which counts
  // the servers, fetches the sockets, broadcasts and asks the others.
  const body = (argv) => `
  const port = Number(${argv}[2]);
  const pub = new Redis({ port, host: "127.0.0.1" });
  const sub = pub.duplicate();
  const io = new Server();
  io.adapter(createAdapter(pub, sub));
  const adapter = io.of("/").adapter;
  let count = 0;
  for (let i = 0; i < 200 && (count = await adapter.serverCount()) < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const sockets = (await io.fetchSockets()).map((s) => s.id);
  io.emit("from-pack", ${argv}[3]);
  const answers = (await io.serverSideEmitWithAck("pack-sse")).sort();
  console.log(JSON.stringify({ count, sockets, answers, adapter: adapter.constructor.name }));
  await adapter.close();
  pub.disconnect();
  sub.disconnect();`;
  writeFileSync(join(project, "adapter.mjs"), `import { createAdapter } from "crosscast";
import { Server } from "socket.io";
import Redis from "ioredis";
${body("process.argv")}
`);
  writeFileSync(join(project, "adapter.cjs"), `const { createAdapter } = require("crosscast");
const { Server } = require("socket.io");
const Redis = require("ioredis");
(async () => {${body("process.argv")}
})();
`);
  for (const [script, tag] of [["adapter.mjs", "esm"], ["adapter.cjs", "cjs"]]) {
    const event = next(client, "from-pack", `${script}: broadcast`);
    const output = await spawnOutput(process.execPath, [script, String(cluster.redis.port), tag]);
    const summary = JSON.parse(output.trim().split("\n").pop());
    assert.deepEqual(await event, [tag]);
    assert.equal(summary.count, 3, `${script}: server count`);
    assert.deepEqual(summary.sockets, [client.id], `${script}: the remote client`);
    assert.deepEqual(summary.answers, ["official-0", "official-1"]);
    assert.equal(summary.adapter, "CrosscastAdapter");
  }
});

/** Runs `cmd args` and checks that the cluster received what publish.mjs sent. */
async function publishesIntoCluster(runtime, start) {
  const event = next(client, "from-runtime", `${runtime}: client event`);
  const serverSide = next(cluster.servers[0].io, "srv-runtime", `${runtime}: serverSideEmit`);
  const output = await start();
  const summary = JSON.parse(output.trim().split("\n").pop());
  assert.equal(summary.runtime, runtime);
  assert.equal(summary.code, "INVALID_ARGUMENT");
  const [name, bytes] = await event;
  assert.equal(name, runtime);
  assert.deepEqual([...bytes], [7, 8]);
  assert.deepEqual(await serverSide, [runtime]);
  return summary;
}

function spawnOutput(cmd, args, env = {}) {
  return within(
    new Promise((resolve, reject) => {
      const proc = spawn(cmd, args, { cwd: project, env: { ...process.env, ...env } });
      let out = "";
      let err = "";
      proc.stdout.on("data", (d) => (out += d));
      proc.stderr.on("data", (d) => (err += d));
      proc.once("exit", (code) =>
        code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err}${out}`)),
      );
    }),
    `${cmd} ${args.join(" ")}`,
    60_000,
  );
}

test("Node.js publishes with a bare publish function", async () => {
  const port = String(cluster.redis.port);
  const summary = await publishesIntoCluster("node", () =>
    spawnOutput(process.execPath, ["publish.mjs", port]));
  assert.deepEqual(summary.replies, [":2", ":2"], "both servers subscribed");
});

test("Deno publishes with a bare publish function", async () => {
  const port = String(cluster.redis.port);
  const summary = await publishesIntoCluster("deno", () =>
    spawnOutput(bin("deno"), ["run", "--allow-read", "--allow-env",
      "--allow-net=127.0.0.1", "publish.mjs", port], { DENO_NO_UPDATE_CHECK: "1" }));
  assert.deepEqual(summary.replies, [":2", ":2"], "both servers subscribed");
});

test("the TypeScript declarations type-check a use of the API (deno check)", async () => {
  writeFileSync(
    join(project, "types.ts"),
    `import { Emitter, EmitterCore, CrosscastError, decodeMsgpack, createAdapter, createShardedAdapter } from "crosscast";
import type { Publication } from "crosscast";
const e = new Emitter((channel: string, payload: Uint8Array) => channel.length + payload.length);
e.of("/admin").to("a").except(["b", 3]).volatile.compress(true).emit("ev", 1);
e.serverSideEmit("srv");
const p: Publication = new EmitterCore("socket.io", "/").broadcast(undefined, "ev", []);
const code: string = new CrosscastError("m", "C").code;
decodeMsgpack(p.payload);
// @ts-expect-error: the key option is a string
new Emitter(() => 0, { key: 1 });
// @ts-expect-error: a room is a string or a number
e.to({ room: "a" });
console.log(code);
const factory = createAdapter({}, {}, { key: "k", requestsTimeout: 1000 });
createShardedAdapter({}, {}, { subscriptionMode: "static" });
const uid: string = factory({}).uid;
// @ts-expect-error: an unknown subscription mode
createShardedAdapter({}, {}, { subscriptionMode: "sometimes" });
console.log(uid);
`,
  );
  await spawnOutput(bin("deno"), ["check", "types.ts"], { DENO_NO_UPDATE_CHECK: "1" });
  // A wrong use must fail the check, or the check above proves nothing.
  writeFileSync(join(project, "wrong.ts"), `import { Emitter } from "crosscast";\nnew Emitter(() => 0).to("a").emitt("x");\n`);
  await assert.rejects(
    spawnOutput(bin("deno"), ["check", "wrong.ts"], { DENO_NO_UPDATE_CHECK: "1" }),
    /emitt/,
  );
});

test("Bun publishes with a bare publish function", async () => {
  const port = String(cluster.redis.port);
  const summary = await publishesIntoCluster("bun", () =>
    spawnOutput(bin("bun"), ["run", "publish.mjs", port]));
  assert.deepEqual(summary.replies, [":2", ":2"], "both servers subscribed");
});

test("workerd runs the Emitter in a worker that publishes through fetch()", async () => {
  harness = createServer((req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      if (req.method !== "POST" || url.pathname !== "/publish") {
        res.writeHead(404).end();
        return;
      }
      const n = await cluster.admin.publish(url.searchParams.get("channel"), Buffer.concat(chunks));
      res.writeHead(200).end(String(n));
    });
  });
  const harnessPort = await freePort();
  await new Promise((resolve) => harness.listen(harnessPort, "127.0.0.1", resolve));
  const workerPort = await freePort();
  const pkg = "node_modules/crosscast";
  const modules = [
    ["worker.mjs", "esModule", "worker.mjs"],
    ["crosscast/js/workerd.mjs", "esModule", `${pkg}/js/workerd.mjs`],
    ["crosscast/js/common.mjs", "esModule", `${pkg}/js/common.mjs`],
    ["crosscast/js/emitter.mjs", "esModule", `${pkg}/js/emitter.mjs`],
    ["crosscast/js/error.mjs", "esModule", `${pkg}/js/error.mjs`],
    ["crosscast/pkg/crosscast_wasm.js", "esModule", `${pkg}/pkg/crosscast_wasm.js`],
    ["crosscast/pkg/crosscast_wasm_bg.wasm", "wasm", `${pkg}/pkg/crosscast_wasm_bg.wasm`],
  ];
  copyFileSync(join(pkgDir, "test/runtime/worker.mjs"), join(project, "worker.mjs"));
  writeFileSync(
    join(project, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:${workerPort}", http = (), service = "main")],
);
const worker :Workerd.Worker = (
  modules = [
${modules.map(([name, kind, path]) => `    (name = "${name}", ${kind} = embed "${path}"),`).join("\n")}
  ],
  compatibilityDate = "2025-01-01",
  globalOutbound = "loopback",
  bindings = [(name = "HARNESS", text = "http://127.0.0.1:${harnessPort}")],
);
`,
  );
  const proc = spawn(bin("workerd"), ["serve", "config.capnp"], { cwd: project });
  let log = "";
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  try {
    const summary = await publishesIntoCluster("workerd", async () => {
      for (let attempt = 0; attempt < 100; attempt++) {
        if (proc.exitCode !== null) throw new Error(`workerd exited: ${log}`);
        try {
          const res = await fetch(`http://127.0.0.1:${workerPort}/`);
          const text = await res.text();
          if (res.ok) return text;
          throw new Error(`worker answered ${res.status}: ${text}\n${log}`);
        } catch (err) {
          if (err.message.startsWith("worker answered")) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`workerd did not answer: ${log}`);
    });
    assert.deepEqual(summary.replies, ["200 2", "200 2"], "both servers subscribed");
  } finally {
    proc.kill("SIGTERM");
  }
});
