// Codec micro-benchmark, Node side: notepack.io (the codec of the official
// @socket.io/redis-adapter) against crosscast's wasm build (encodeMsgpack /
// decodeMsgpack of the npm package `crosscast`), on the same envelopes as
// core/benches/codec.rs:
//   classic_broadcast: [uid, {type, data, nsp}, {rooms, except, flags}] with
//     "chat message", a text, a small map and 64 bytes of binary, 2 rooms;
//   bench_chat: the broadcast of one crosscast-bench message {t, s, n}.
// Each case: warm-up, then timed batches until --seconds elapse; prints the
// median ns per operation over the batches as JSON. No thresholds.
//
// Usage: node bench/codec/codec.mjs [--seconds 2]
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const require = createRequire(path.join(root, "interop", "node", "package.json"));
const notepack = require("notepack.io");
const wasm = createRequire(path.join(root, "host-wasm", "package.json"))(
  path.join(root, "host-wasm", "pkg", "index.cjs"),
);

const secondsArg = process.argv.indexOf("--seconds");
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 2;
if (!(seconds > 0 && seconds <= 60)) throw new Error("--seconds must be in (0, 60]");

const envelopes = {
  classic_broadcast: [
    "AAAAAA",
    {
      type: 2,
      data: [
        "chat message",
        "hello from the other side of the cluster",
        { user: "alice", id: 4242, score: 3.75, tags: ["a", "b"] },
        Buffer.from(Array.from({ length: 64 }, (_, i) => i)),
      ],
      nsp: "/",
    },
    { rooms: ["room1", "room2"], except: [], flags: {} },
  ],
  bench_chat: [
    "AAAAAA",
    { type: 2, data: ["chat message", { t: 123456789, s: 3, n: 4242 }], nsp: "/" },
    { rooms: [], except: [], flags: {} },
  ],
};

/** Median ns per call of `fn` over batches of `batch` calls for `seconds`. */
function time(fn, batch) {
  for (let i = 0; i < batch * 5; i++) fn();
  const samples = [];
  const until = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let sink = 0;
  while (process.hrtime.bigint() < until) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) sink += fn() ? 1 : 0;
    samples.push(Number(process.hrtime.bigint() - t0) / batch);
  }
  samples.sort((a, b) => a - b);
  if (sink < 0) console.error(sink);
  return samples[Math.floor(samples.length / 2)];
}

const results = {};
for (const [name, value] of Object.entries(envelopes)) {
  const np = notepack.encode(value);
  const wb = wasm.encodeMsgpack(value);
  if (Buffer.compare(Buffer.from(np), Buffer.from(wb)) !== 0) {
    throw new Error(`${name}: wasm and notepack encodings differ`);
  }
  const batch = 2000;
  const r = {
    bytes: np.length,
    notepack_encode_ns: time(() => notepack.encode(value), batch),
    notepack_decode_ns: time(() => notepack.decode(np), batch),
    wasm_encode_ns: time(() => wasm.encodeMsgpack(value), batch),
    wasm_decode_ns: time(() => wasm.decodeMsgpack(wb), batch),
  };
  r.notepack_roundtrip_ns = r.notepack_encode_ns + r.notepack_decode_ns;
  r.wasm_roundtrip_ns = r.wasm_encode_ns + r.wasm_decode_ns;
  r.wasm_vs_notepack = r.notepack_roundtrip_ns / r.wasm_roundtrip_ns;
  results[name] = r;
}
console.log(JSON.stringify({ node: process.version, seconds, results }, null, 1));
