// Runs inside Node.js, Deno or Bun from a project that installed the packed
// `crosscast` tarball: publishes into Redis through a bare publish function
// that speaks RESP over the runtime's own TCP API (no Redis client library).
// Usage: <runtime> publish.mjs <redis port>; prints a JSON summary.
import { Emitter, CrosscastError } from "crosscast";

const runtime = globalThis.Deno ? "deno" : globalThis.Bun ? "bun" : "node";
const port = Number(globalThis.Deno ? Deno.args[0] : process.argv[2]);
const encoder = new TextEncoder();

function frame(channel, payload) {
  const ch = encoder.encode(channel);
  const parts = [
    encoder.encode(`*3\r\n$7\r\nPUBLISH\r\n$${ch.length}\r\n`),
    ch,
    encoder.encode(`\r\n$${payload.length}\r\n`),
    payload,
    encoder.encode("\r\n"),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A connection with send(bytes) -> the reply text. */
async function open() {
  if (globalThis.Deno) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return {
      async send(bytes) {
        await conn.write(bytes);
        const buf = new Uint8Array(256);
        const n = await conn.read(buf);
        return new TextDecoder().decode(buf.subarray(0, n ?? 0));
      },
      close: () => conn.close(),
    };
  }
  const net = await import("node:net");
  const socket = net.connect(port, "127.0.0.1");
  await new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return {
    send: (bytes) =>
      new Promise((resolve) => {
        socket.once("data", (d) => resolve(new TextDecoder().decode(d)));
        socket.write(bytes);
      }),
    close: () => socket.end(),
  };
}

const conn = await open();
const replies = [];
const publish = async (channel, payload) => {
  replies.push((await conn.send(frame(channel, payload))).trim());
};
const emitter = new Emitter(publish);
await emitter.to("rt").emit("from-runtime", runtime, new Uint8Array([7, 8]));
await emitter.serverSideEmit("srv-runtime", runtime);
let code = null;
try {
  emitter.emit("disconnect");
} catch (err) {
  code = err instanceof CrosscastError ? err.code : `not a CrosscastError: ${err}`;
}
conn.close();
console.log(JSON.stringify({ runtime, replies, code }));
