// A real Socket.IO client (socket.io-client from interop/node/node_modules) driven line by
// line, for the Rust process tests of `crosscast serve`.
//
// Usage: node client.cjs URL [OPTIONS_JSON]
//   OPTIONS_JSON: socket.io-client options over the defaults (websocket only, no reconnection),
//   e.g. {"extraHeaders":{"origin":"https://app.example"}} or {"reconnection":true}.
// Prints one JSON object per line on stdout:
//   {"type":"connected","id":...} | {"type":"connect_error","message":...}
//   {"type":"event","event":...,"args":[...]}      every event received
//   {"type":"ack","id":N,"value":...} | {"type":"ack","id":N,"error":...}
//   {"type":"disconnect","reason":...}
// Reads one JSON command per line on stdin:
//   {"op":"emit","event":...,"args":[...]}           emit without ack
//   {"op":"emit","event":...,"args":[...],"ack":N}   emit with ack (10 s timeout)
//   {"op":"flood","event":...,"args":[...],"count":N} emit N times at once, no ack (N <= 100000);
//     with "numbered":true the first argument of the i-th is i (0-based) instead
//   {"op":"close"}                                   disconnect and exit
// Binary values travel as {"$bin":"<base64>"} in both directions.
"use strict";

const readline = require("node:readline");
const { io } = require("socket.io-client");

const url = process.argv[2];
const options = process.argv[3] ? JSON.parse(process.argv[3]) : {};
const socket = io(url, { transports: ["websocket"], reconnection: false, timeout: 10000, ...options });

function encode(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    return { $bin: Buffer.from(value instanceof ArrayBuffer ? new Uint8Array(value) : value).toString("base64") };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value && typeof value === "object") {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = encode(v);
    return out;
  }
  return value;
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = decode(v);
    return out;
  }
  return value;
}

function print(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}

socket.on("connect", () => print({ type: "connected", id: socket.id }));
socket.on("connect_error", (e) => print({ type: "connect_error", message: String(e && e.message) }));
socket.on("disconnect", (reason) => print({ type: "disconnect", reason }));
socket.onAny((event, ...args) => print({ type: "event", event, args: encode(args) }));

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  if (!line.trim()) return;
  const cmd = JSON.parse(line);
  if (cmd.op === "close") {
    socket.close();
    process.exit(0);
  }
  if (cmd.op === "flood") {
    const args = decode(cmd.args || []);
    const count = Math.min(Number(cmd.count) || 0, 100000);
    for (let i = 0; i < count; i++) {
      if (cmd.numbered) socket.emit(cmd.event, i, ...args.slice(1));
      else socket.emit(cmd.event, ...args);
    }
    return;
  }
  if (cmd.op === "emit") {
    const args = decode(cmd.args || []);
    if (cmd.ack === undefined) {
      socket.emit(cmd.event, ...args);
      return;
    }
    try {
      const value = await socket.timeout(10000).emitWithAck(cmd.event, ...args);
      print({ type: "ack", id: cmd.ack, value: encode(value) });
    } catch (e) {
      print({ type: "ack", id: cmd.ack, error: String(e && e.message) });
    }
  }
});
rl.on("close", () => {
  socket.close();
  process.exit(0);
});
