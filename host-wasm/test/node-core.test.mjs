// The raw NodeCore binding: its configuration errors, its first outputs, and
// a request driven by hand through a question and its answer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NodeCore, CrosscastError, decodeMsgpack } from "../js/index.mjs";

/** Every event until there is none. */
function events(core) {
  const out = [];
  for (let e = core.pollEvent(); e !== undefined; e = core.pollEvent()) out.push(e);
  return out;
}

test("bad configurations throw INVALID_ARGUMENT", () => {
  for (const config of [
    { uid: "", nsp: "/" },
    { uid: "emitter", nsp: "/" },
    { uid: "abc", nsp: "/", protocol: "carrier-pigeon" },
    { uid: "abc", nsp: "/", protocol: "sharded", subscriptionMode: "sometimes" },
    { uid: "abc", nsp: "/", requestsTimeout: "soon" },
  ]) {
    assert.throws(() => new NodeCore(config, 0), (err) => {
      assert.ok(err instanceof CrosscastError, JSON.stringify(config));
      assert.equal(err.code, "INVALID_ARGUMENT");
      return true;
    });
  }
});

test("the core makes the uid from the host's random bytes, in the shape of Node's adapter", () => {
  const random = Uint8Array.from([0, 1, 2, 63, 64, 255, 0xab, 0xcd]);
  assert.equal(new NodeCore({ nsp: "/", uidRandom: random }, 0).uid, "ABC_A_");
  assert.equal(
    new NodeCore({ nsp: "/", protocol: "sharded", uidRandom: random }, 0).uid,
    "0001023f40ffabcd",
  );
  assert.throws(() => new NodeCore({ nsp: "/", uidRandom: new Uint8Array(3) }, 0), {
    code: "INVALID_ARGUMENT",
  });
});

test("absent options take the core's defaults", () => {
  assert.equal(new NodeCore({ uid: "abc", nsp: "/" }, 0).requestsTimeout, 5000);
  assert.equal(new NodeCore({ uid: "abc", nsp: "/", requestsTimeout: 0 }, 0).requestsTimeout, 5000);
  assert.equal(new NodeCore({ uid: "abc", nsp: "/", requestsTimeout: 250 }, 0).requestsTimeout, 250);
  const core = new NodeCore({ uid: "abc", nsp: "/" }, 0);
  const subscriptions = events(core).filter((e) => e.type === "subscribe").map((e) => e.channel);
  assert.ok(subscriptions.includes("socket.io-request#/#"), JSON.stringify(subscriptions));
});

test("a classic node subscribes the official channels plus its membership channel", () => {
  const core = new NodeCore({ uid: "abc123", nsp: "/chat", key: "k", heartbeatInterval: 1000 }, 10);
  assert.deepEqual(
    events(core).map((e) => [e.type, e.kind, e.channel]),
    [
      ["subscribe", "pattern", "k#/chat#*"],
      ["subscribe", "channel", "k-request#/chat#"],
      ["subscribe", "channel", "k-response#/chat#"],
      ["subscribe", "channel", "k-response#/chat#abc123#"],
      ["subscribe", "channel", "k-crosscast#/chat#"],
    ],
  );
  assert.equal(core.pollTimeout(), 1010, "the first heartbeat is due one interval later");
});

test("fetchSockets asks for the server count, then publishes and completes", () => {
  const core = new NodeCore({ uid: "abc123", nsp: "/", heartbeatInterval: 0 }, 0);
  events(core);
  const request = core.fetchSockets(5, { rooms: ["r"] });
  const [question] = events(core);
  assert.deepEqual(question, { id: question.id, channel: "socket.io-request#/#", sharded: false, type: "serverCount" });
  const fetch = core.pollTransmit();
  assert.equal(fetch.kind, "publish");
  assert.equal(fetch.channel, "socket.io-request#/#");
  const body = JSON.parse(Buffer.from(fetch.payload).toString());
  assert.deepEqual([body.type, body.uid, body.opts.rooms], [5, "abc123", ["r"]]);
  core.answerServerCount(6, question.id, 2);
  assert.deepEqual(events(core), []);
  const response = JSON.stringify({
    requestId: body.requestId,
    sockets: [{ id: "s1", rooms: ["s1", "r"], data: { n: 1 } }],
  });
  core.handleMessage(7, "socket.io-response#/#", Buffer.from(response));
  const [done] = events(core);
  assert.equal(done.type, "completed");
  assert.equal(done.request, request);
  assert.equal(done.outcome, "fetch");
  assert.equal(done.timedOut, false);
  assert.deepEqual(done.sockets, [{ id: "s1", handshake: undefined, rooms: ["s1", "r"], data: { n: 1 } }]);
  assert.throws(() => core.answerServerCount(8, 999, 1), (err) => err.code === "USAGE_UNKNOWN_QUESTION");
});

test("a remote broadcast becomes a broadcast event with binary as Uint8Array", () => {
  const core = new NodeCore({ uid: "abc123", nsp: "/", heartbeatInterval: 0 }, 0);
  events(core);
  const other = new NodeCore({ uid: "zzz999", nsp: "/", heartbeatInterval: 0 }, 0);
  other.broadcast(["ev", new Uint8Array([1, 2])], { rooms: ["a"], except: ["b"], flags: { volatile: true } });
  const t = other.pollTransmit();
  assert.equal(t.channel, "socket.io#/#a#");
  assert.equal(decodeMsgpack(t.payload)[0], "zzz999");
  core.handleMessage(1, t.channel, t.payload);
  const [e] = events(core);
  assert.equal(e.type, "broadcast");
  assert.deepEqual(e.packet.data[0], "ev");
  assert.ok(e.packet.data[1] instanceof Uint8Array);
  assert.deepEqual(e.opts, { rooms: ["a"], except: ["b"], flags: { volatile: true } });
  assert.equal(core.stats().received, 1);
});

test("a fetchSockets answer carries each socket's handshake field by field", () => {
  const core = new NodeCore({ uid: "abc123", nsp: "/", heartbeatInterval: 0 }, 0);
  events(core);
  const request = JSON.stringify({ type: 5, uid: "zzz999", requestId: "r1", opts: { rooms: [], except: [] } });
  core.handleMessage(1, "socket.io-request#/#", Buffer.from(request));
  const [question] = events(core);
  assert.equal(question.type, "localSockets");
  let deep = { leaf: 1 };
  for (let i = 0; i < 40; i++) deep = { d: deep };
  const handshake = (auth) => ({ headers: { "x-a": "1" }, time: "t", address: "::1", issued: 5, url: "/socket.io/?EIO=4", query: { q: "1" }, auth });
  core.answerLocalSockets(2, question.id, [
    { id: "ok", handshake: handshake({ token: "t" }), rooms: ["ok"], data: { n: 1 } },
    { id: "deep", handshake: handshake(deep), rooms: ["deep"], data: deep },
    { id: "fn", handshake: { ...handshake({}), headers: () => {} }, rooms: ["fn"], data: Symbol("s") },
  ]);
  const reply = core.pollTransmit();
  assert.equal(reply.channel, "socket.io-response#/#");
  const { sockets } = JSON.parse(Buffer.from(reply.payload).toString());
  assert.deepEqual(sockets.map((s) => s.id), ["ok", "deep", "fn"]);
  assert.deepEqual(sockets[0].handshake.auth, { token: "t" });
  assert.deepEqual(sockets[0].data, { n: 1 });
  assert.deepEqual(sockets[1].handshake, { ...handshake({}), auth: {} }, "only the deep auth is left out");
  assert.deepEqual(sockets[1].data, {});
  assert.deepEqual(sockets[2].handshake.headers, {});
  assert.equal(sockets[2].handshake.address, "::1");
  assert.deepEqual(sockets[2].data, {});
});
