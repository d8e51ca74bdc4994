// Benchmark configuration (d): the chat app of interop/node/peer-server.js
// reduced to what the cluster benchmark uses (`chat message` -> io.emit to the
// whole cluster), on socket.io with the drop-in adapter of the npm package
// `crosscast` (host-wasm/js/adapter.mjs) instead of @socket.io/redis-adapter.
// socket.io and ioredis come from interop/node/node_modules (installed by
// bench/cluster.py).
//
// Contract: listens on 127.0.0.1 only; prints `listening on
// http://127.0.0.1:PORT` when ready; exits 0 on SIGTERM/SIGINT (1 when closing
// takes more than 3 s). Flags: --port (0 picks one), --redis-url (loopback
// only), --adapter classic|sharded, --key.
import http from "node:http";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const require = createRequire(path.join(root, "interop", "node", "package.json"));
const { Server } = require("socket.io");
const Redis = require("ioredis");

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    "redis-url": { type: "string" },
    adapter: { type: "string", default: "classic" },
    key: { type: "string", default: "socket.io" },
  },
  strict: true,
});
const redisUrl = values["redis-url"];
if (!redisUrl || !["127.0.0.1", "localhost", "[::1]"].includes(new URL(redisUrl).hostname)) {
  throw new Error("--redis-url must name a loopback Redis");
}
if (!["classic", "sharded"].includes(values.adapter)) {
  throw new Error("--adapter must be classic or sharded");
}

// The package entry (not adapter.mjs itself): it instantiates the wasm module.
const { createAdapter, createShardedAdapter } = await import(
  pathToFileURL(path.join(root, "host-wasm", "js", "index.mjs")).href
);
const pub = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
const sub = pub.duplicate();
for (const c of [pub, sub]) c.on("error", (e) => console.error("redis error:", e.message));
const adapter =
  values.adapter === "classic"
    ? createAdapter(pub, sub, { key: values.key })
    : createShardedAdapter(pub, sub, { channelPrefix: values.key });

const server = http.createServer();
const io = new Server(server, { adapter });
io.on("connection", (socket) => {
  socket.on("chat message", (value) => io.emit("chat message", value));
});
server.listen(Number(values.port), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});

function shutdown() {
  setTimeout(() => process.exit(1), 3000).unref();
  io.close(() => {
    Promise.allSettled([pub.quit(), sub.quit()]).then(() => process.exit(0));
  });
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
