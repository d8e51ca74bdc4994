#!/usr/bin/env node
// A Node.js server on the official @socket.io/redis-adapter that fires many
// serverSideEmitWithAck calls at the rest of the cluster, then exits.
//
//   node sse-flood.js --redis-url URL --adapter classic|sharded --count N --event NAME
//                     [--requests-timeout MS (classic; sharded waits 5 s)] [--wait-peers N]
//
// It waits until the cluster has `--wait-peers` other servers (serverCount), fires
// `--count` calls of `serverSideEmitWithAck(NAME, i)` at once, waits for every one
// to settle (answered or timed out) and prints one JSON line:
//   {"fired": N, "answered": A, "timedOut": T}
// The Redis URL must point to a loopback host.
"use strict";

const { parseArgs } = require("node:util");
const { Server } = require("socket.io");
const { createClient } = require("redis");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");

async function main() {
  const { values } = parseArgs({
    options: {
      "redis-url": { type: "string" },
      adapter: { type: "string", default: "classic" },
      count: { type: "string", default: "10000" },
      event: { type: "string", default: "unhandled" },
      "requests-timeout": { type: "string", default: "2000" },
      "wait-peers": { type: "string", default: "1" },
    },
    strict: true,
  });
  const url = values["redis-url"];
  if (!url || !["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname)) {
    throw new Error("--redis-url must point to a loopback host");
  }
  const count = Number(values.count);
  const timeout = Number(values["requests-timeout"]);
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  const adapter =
    values.adapter === "sharded"
      ? createShardedAdapter(pub, sub)
      : createAdapter(pub, sub, { requestsTimeout: timeout });
  const io = new Server({ adapter });

  const want = Number(values["wait-peers"]) + 1;
  const deadline = Date.now() + 20_000;
  while ((await io.of("/").adapter.serverCount()) < want) {
    if (Date.now() > deadline) throw new Error(`fewer than ${want} servers after 20 s`);
    await new Promise((r) => setTimeout(r, 100));
  }

  let answered = 0;
  let timedOut = 0;
  const calls = [];
  for (let i = 0; i < count; i++) {
    calls.push(
      io.serverSideEmitWithAck(values.event, i).then(
        () => answered++,
        () => timedOut++,
      ),
    );
  }
  await Promise.all(calls);
  console.log(JSON.stringify({ fired: count, answered, timedOut }));
  io.of("/").adapter.close();
  await Promise.allSettled([pub.quit(), sub.quit()]);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`sse-flood: ${e.message}`);
    process.exit(1);
  },
);
