// Real processes for the interop tests: a private redis-server on a free
// loopback port, peer-server.js processes, and socket.io-client clients.
// Every wait is bounded; every process started here is stopped by `stop()`.
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { io as connectClient } from "socket.io-client";

const here = path.dirname(fileURLToPath(import.meta.url));
export const PEER_SERVER = path.join(here, "peer-server.js");

/** Rejects with `what` when `promise` has not settled within `ms`. */
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A TCP port that was free on 127.0.0.1 a moment ago (never 6379). */
export async function freePort() {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await new Promise((resolve, reject) => {
      const srv = net.createServer();
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", () => {
        const { port } = srv.address();
        srv.close(() => resolve(port));
      });
    });
    if (port !== 6379) return port;
  }
  throw new Error("no free port");
}

/** Spawns a process and resolves once a stdout line matches `ready`, with the match. */
function spawnUntil(cmd, args, ready, ms) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const started = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk.toString();
      const m = output.match(ready);
      if (m) resolve(m);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (chunk) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => reject(new Error(`${cmd} exited with ${code}: ${output}`)));
    child.once("error", reject);
  });
  return within(ms, `${cmd} ready`, started).then(
    (match) => ({ child, match }),
    (err) => {
      child.kill("SIGKILL");
      throw err;
    },
  );
}

/** Sends SIGTERM, then SIGKILL after `ms`; resolves with the exit code (null when killed). */
export function stopProcess(child, ms = 4000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.kill("SIGTERM");
  });
}

/**
 * Starts a private redis-server; resolves with {url, child}. The port was free
 * a moment before: when something took it meanwhile, another one is tried.
 */
export async function startRedis() {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const { child } = await spawnUntil(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        /Ready to accept connections/,
        10000,
      );
      return { url: `redis://127.0.0.1:${port}`, child };
    } catch (e) {
      if (attempt >= 4 || !String(e.message).includes("Address already in use")) throw e;
    }
  }
}

/** Starts peer-server.js with `args`; resolves with {url, uid, child}. */
export async function startPeer(args) {
  const { child, match } = await spawnUntil(
    process.execPath,
    [PEER_SERVER, "--port", "0", ...args],
    /listening on (http:\/\/127\.0\.0\.1:\d+) uid=(\S+)\n/,
    10000,
  );
  return { url: match[1], uid: match[2], child };
}

/** The rust-peer binary of the crosscast-tests crate (built by `cargo test` / `cargo build`). */
export const RUST_PEER =
  process.env.RUST_PEER ?? path.join(here, "..", "..", "target", "debug", "rust-peer");

/** Starts the Rust peer (same contract as peer-server.js); resolves with {url, uid, child}. */
export async function startRustPeer(args) {
  const { child, match } = await spawnUntil(
    RUST_PEER,
    ["--port", "0", ...args],
    /listening on (http:\/\/127\.0\.0\.1:\d+) uid=(\S+)\n/,
    10000,
  );
  return { url: match[1], uid: match[2], child };
}

/** The crosscast binary (`cargo build -p crosscast --bin crosscast`). */
export const CROSSCAST =
  process.env.CROSSCAST_BIN ?? path.join(here, "..", "..", "target", "debug", "crosscast");

/**
 * Starts `crosscast serve ARGS` on a free loopback port, without the HOST, PORT,
 * REDIS_URL and CROSSCAST_* variables of this environment; resolves with
 * {url, uid, child} once it prints its start line.
 */
export async function startCrosscast(args) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(HOST|PORT|REDIS_URL|CROSSCAST_.*)$/.test(k)),
  );
  const child = spawn(CROSSCAST, ["serve", "--host", "127.0.0.1", "--port", "0", ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env,
  });
  let out = "";
  let err = "";
  child.stderr.on("data", (d) => (err += d));
  const { url, uid } = await within(10_000, "crosscast start line", new Promise((resolve, reject) => {
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+) uid=(\S+)\n/);
      if (m) resolve({ url: m[1], uid: m[2] });
    });
    child.once("exit", (code) => reject(new Error(`crosscast exited ${code}: ${err}`)));
    child.once("error", reject);
  })).catch((e) => {
    child.kill("SIGKILL");
    throw e;
  });
  return { url, uid, child };
}

/** Connects a websocket-only client; resolves once it is connected. */
export async function connect(url, auth = {}) {
  const socket = connectClient(url, { transports: ["websocket"], reconnection: false, auth });
  await within(5000, `client connect to ${url}`, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  return socket;
}

/** Resolves with the next `event` payload received by `socket`. */
export function next(socket, event, ms = 5000) {
  return within(ms, `event ${event}`, new Promise((resolve) => socket.once(event, resolve)));
}

/** Emits with an acknowledgement; resolves with the ack's first argument. */
export function request(socket, ms, event, ...args) {
  return within(ms, `ack of ${event}`, socket.emitWithAck(event, ...args));
}

/**
 * Retries `check` (which throws while its condition does not hold yet) until it
 * passes or `ms` have passed, then rethrows its last error. For effects that a
 * cluster applies asynchronously, such as socketsJoin through Redis.
 */
export async function eventually(ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * Starts a Redis Cluster of `masters` masters (no replicas) on free loopback
 * ports, in a temporary folder; resolves with {urls, children, dir} once every
 * node reports cluster_state:ok.
 */
export async function startRedisCluster(masters = 3) {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const { execFileSync } = await import("node:child_process");
  const dir = mkdtempSync(path.join(os.tmpdir(), "crosscast-cluster-"));
  const ports = [];
  while (ports.length < masters) {
    const port = await freePort();
    // The cluster bus listens on port + 10000: both must be free and below 55536.
    if (port < 55536 && !ports.includes(port)) ports.push(port);
  }
  const children = [];
  for (const port of ports) {
    const { child } = await spawnUntil(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--cluster-enabled", "yes", "--cluster-config-file", path.join(dir, `nodes-${port}.conf`),
        "--dir", dir],
      /Ready to accept connections/,
      10000,
    );
    children.push(child);
  }
  execFileSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`),
    "--cluster-replicas", "0", "--cluster-yes"], { stdio: "ignore", timeout: 20000 });
  await eventually(15000, async () => {
    for (const port of ports) {
      const info = execFileSync("redis-cli", ["-p", String(port), "cluster", "info"], { timeout: 5000 }).toString();
      if (!info.includes("cluster_state:ok")) throw new Error(`node ${port}: ${info}`);
    }
  });
  return {
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    children,
    stop: async () => {
      await Promise.all(children.map((c) => stopProcess(c)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
