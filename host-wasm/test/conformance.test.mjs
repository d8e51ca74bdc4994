// The conformance transcript (tests/conformance/transcript.json, format in the
// README beside it) driven through the wasm host: a socket.io server on
// createAdapter / createShardedAdapter of ../js/index.mjs, on its own
// redis-server, observed by a raw ioredis subscriber. What it publishes,
// subscribes and answers, normalised, must be the transcript's `expected` (or,
// for a case in `known_differences`, the wasm behaviour recorded there); the
// native host is held to the same file by tests/tests/conformance_native.rs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Server } from "socket.io";
import Redis from "ioredis";
import * as crosscast from "../js/index.mjs";
import { startRedis, within } from "./harness.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const transcript = JSON.parse(readFileSync(join(root, "tests/conformance/transcript.json"), "utf8"));
const MARKER = "conformance-marker";

/** The README's escape: printable ASCII as itself, `\` doubled, other bytes `\xNN`. */
function escape(bytes) {
  let out = "";
  for (const b of bytes) {
    if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b <= 0x7e) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * `bytes` (a Buffer) with every request id `<uid>.<digits>` replaced by
 * `<request-id>`, then every other occurrence of `uid` by `<uid>`.
 */
function withoutUid(bytes, uid) {
  const needle = Buffer.from(uid);
  const isDigit = (b) => b >= 0x30 && b <= 0x39;
  const parts = [];
  let from = 0;
  for (let at = bytes.indexOf(needle, from); at !== -1; at = bytes.indexOf(needle, from)) {
    parts.push(bytes.subarray(from, at));
    from = at + needle.length;
    let end = from + 1;
    while (end < bytes.length && isDigit(bytes[end])) end++;
    if (bytes[from] === 0x2e && end > from + 1) {
      parts.push(Buffer.from("<request-id>"));
      from = end;
    } else {
      parts.push(Buffer.from("<uid>"));
    }
  }
  parts.push(bytes.subarray(from));
  return Buffer.concat(parts);
}

/** The inverse of `escape`. */
function unescape(text) {
  const out = [];
  for (let i = 0; i < text.length; ) {
    if (text[i] === "\\" && text[i + 1] === "\\") {
      out.push(0x5c);
      i += 2;
    } else if (text[i] === "\\" && text[i + 1] === "x") {
      out.push(parseInt(text.slice(i + 2, i + 4), 16));
      i += 4;
    } else {
      out.push(text.charCodeAt(i));
      i += 1;
    }
  }
  return Buffer.from(out);
}

/** The first request id `<uid>.<digits>` in `bytes`, as it is on the wire. */
function requestId(bytes, uid) {
  const m = bytes.toString("latin1").match(new RegExp(`${uid.replace(/[^\w]/g, "\\$&")}\\.[0-9]+`));
  return m ? m[0] : undefined;
}

const sortedLines = (list, uid) => list.map((c) => withoutUid(Buffer.from(c), uid).toString()).sort();
const error = (e) => ({ error: e.message });

async function answerOf(promise) {
  try {
    return await promise;
  } catch (e) {
    return error(e);
  }
}

/** The acks in the order both drivers write them: by their JSON text. */
function sortedByJson(values) {
  return [...(values ?? [])].sort((a, b) => {
    const [x, y] = [JSON.stringify(a), JSON.stringify(b)];
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Runs one case's operation; its answer (`null` for operations without one). */
async function runCase(io, c) {
  let to = io;
  if (c.rooms?.length) to = to.to(c.rooms);
  if (c.except?.length) to = to.except(c.except);
  switch (c.op) {
    case "broadcast":
      to.emit(c.event, c.data);
      return null;
    case "broadcast_binary":
      to.emit(c.event, Buffer.from(c.bytes));
      return null;
    case "broadcast_with_ack":
      return within(
        new Promise((resolve) =>
          io.timeout(c.timeout_ms).emit(c.event, c.data, (err, acks) =>
            resolve({ acks: sortedByJson(acks), timed_out: !!err }),
          ),
        ),
        "broadcast ack",
      );
    case "sockets_join":
      io.in(c.rooms).socketsJoin(c.join);
      return null;
    case "sockets_leave":
      io.in(c.rooms).socketsLeave(c.join);
      return null;
    case "disconnect_sockets":
      io.in(c.rooms).disconnectSockets(false);
      return null;
    case "fetch_sockets":
      return answerOf(io.fetchSockets().then((s) => s.map((x) => x.id).sort()));
    case "all_rooms":
      return answerOf(io.of("/").adapter.allRooms().then((r) => [...r].sort()));
    case "server_side_emit":
      io.serverSideEmit(c.event, c.data);
      return null;
    case "server_side_emit_ack":
      return within(
        new Promise((resolve) =>
          io.serverSideEmit(c.event, c.data, (err, acks) => resolve({ acks, timed_out: !!err })),
        ),
        "serverSideEmit ack",
      );
    case "server_count":
      return io.of("/").adapter.serverCount();
    default:
      throw new Error(`unknown op ${c.op}`);
  }
}

/** Runs the transcript on one server of `protocol`; the normalised observation. */
async function observe(protocol) {
  const redis = await startRedis();
  const pub = new Redis({ port: redis.port, host: "127.0.0.1" });
  const sub = pub.duplicate();
  const admin = pub.duplicate();
  const observer = pub.duplicate();
  const silentPeer = pub.duplicate();
  const factory = protocol === "sharded" ? crosscast.createShardedAdapter : crosscast.createAdapter;
  const io = new Server(createServer());
  io.adapter(
    factory(pub, sub, { heartbeatInterval: 0, requestsTimeout: transcript.requests_timeout_ms }),
  );
  try {
    const uid = io.of("/").adapter.uid;
    // The adapter subscribes asynchronously: wait (bounded) until it holds as
    // many channels as expected (at least one), then take what it holds.
    const kind = protocol === "sharded" ? "shard_channels" : "channels";
    const want = Math.max(1, transcript.expected[protocol]?.subscribed?.[kind]?.length ?? 1);
    let channels;
    let shardChannels;
    for (let attempt = 0; ; attempt++) {
      channels = await admin.pubsub("CHANNELS");
      shardChannels = await admin.pubsub("SHARDCHANNELS");
      const held = protocol === "sharded" ? shardChannels : channels;
      if (held.length >= want || attempt === 200) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const subscribed = {
      channels: sortedLines(channels, uid),
      shard_channels: sortedLines(shardChannels, uid),
    };

    const inbox = [];
    let wake = () => {};
    const push = (channel, payload) => {
      inbox.push([channel, payload]);
      wake();
    };
    observer.on("pmessageBuffer", (_pattern, channel, payload) => push(channel, payload));
    observer.on("smessageBuffer", (channel, payload) => push(channel, payload));
    await observer.psubscribe("*");
    if (protocol === "sharded") await observer.ssubscribe(...transcript.observer_shard_channels);
    else await silentPeer.subscribe(transcript.classic_silent_peer);
    const next = async () => {
      while (inbox.length === 0) {
        await within(new Promise((r) => (wake = r)), "a message on the observer");
      }
      return inbox.shift();
    };

    const sharded = protocol === "sharded";
    const inject = (channel, payload) =>
      sharded ? admin.spublish(channel, payload) : admin.publish(channel, payload);
    const cases = {};
    for (const c of transcript.cases) {
      const message = c.message?.[protocol];
      if (c.op === "inbound" && !message) continue;
      // What this driver published itself: the observer sees it too, and skips it once.
      const injected = [];
      const isOwn = (channel, payload) =>
        injected.findIndex(([ch, p]) => ch.equals(channel) && p.equals(payload));
      const published = [];
      const note = (channel, payload) => {
        const at = isOwn(channel, payload);
        if (at !== -1) injected.splice(at, 1);
        else published.push(`${escape(withoutUid(channel, uid))} ${escape(withoutUid(payload, uid))}`);
      };
      let answer;
      if (c.op === "inbound") {
        const [channel, payload] = [message[0], unescape(message[1])];
        injected.push([Buffer.from(channel), payload]);
        await inject(channel, payload);
        answer = null;
      } else if (c.op === "request_answered") {
        const pending = runCase(io, c.request);
        // The host's request, then a Node server's answer to it.
        let id;
        while (id === undefined) {
          const [channel, payload] = await next();
          id = requestId(payload, uid);
          note(channel, payload);
        }
        for (const [ch, p] of c.responses[protocol]) {
          const channel = ch.replaceAll("<uid>", uid);
          const payload = unescape(p.replaceAll("<request-id>", id));
          injected.push([Buffer.from(channel), payload]);
          await inject(channel, payload);
        }
        answer = await pending;
      } else {
        answer = await runCase(io, c);
      }
      if (c.op === "inbound") {
        // Answered after the message before it: a request of the marker's id.
        const [channel, payload] = [transcript.inbound_marker[protocol][0], unescape(transcript.inbound_marker[protocol][1])];
        injected.push([Buffer.from(channel), payload]);
        await inject(channel, payload);
      } else {
        io.serverSideEmit(MARKER, c.name);
      }
      for (;;) {
        const [channel, payload] = await next();
        if (isOwn(channel, payload) === -1 && payload.includes(MARKER)) break;
        note(channel, payload);
      }
      cases[c.name] = { published, answer };
    }
    return { subscribed, cases };
  } finally {
    await io.close();
    for (const c of [pub, sub, admin, observer, silentPeer]) c.disconnect();
    await redis.stop();
  }
}

for (const protocol of ["classic", "sharded"]) {
  test(`${protocol}: the wasm host follows the conformance transcript`, async () => {
    const observed = await observe(protocol);
    const out = join(root, "target", "tmp");
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, `conformance-wasm-${protocol}.json`), JSON.stringify(observed, null, 2));
    const expected = transcript.expected[protocol];
    assert.deepEqual(observed.subscribed, expected.subscribed, `${protocol}: subscribed channels`);
    for (const c of transcript.cases) {
      if (c.op === "inbound" && !c.message[protocol]) continue;
      const known = transcript.known_differences[`${protocol}/${c.name}`];
      const want = known ? known.wasm : expected.cases[c.name];
      assert.deepEqual(observed.cases[c.name], want, `${protocol}/${c.name}: published bytes and answer`);
    }
  });
}
