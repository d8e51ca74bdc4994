// Golden vectors shared with the Rust suite: the wasm build must produce the
// bytes the real Node packages produced (tests/fixtures/*.json), and the same
// bytes as the real @socket.io/redis-emitter for further calls.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Emitter as NodeEmitter } from "@socket.io/redis-emitter";
import {
  Emitter,
  CrosscastError,
  encodeMsgpack,
  decodeMsgpack,
  decodeJson,
  encodeJson,
} from "../js/index.mjs";

const fixtures = new URL("../../tests/fixtures/", import.meta.url);
const load = (name) => JSON.parse(readFileSync(new URL(name, fixtures), "utf8"));
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** The fixture's JSON form: binary as {$bin: hex}, dates as ISO strings. */
function toFixtureForm(v) {
  if (v instanceof Uint8Array) return { $bin: hex(v) };
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toFixtureForm);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toFixtureForm(x)]));
  }
  return v;
}

/** The JS value the fixture's JSON form stands for. */
function revive(v) {
  if (typeof v === "string" && ISO_DATE.test(v)) return new Date(v);
  if (Array.isArray(v)) return v.map(revive);
  if (v && typeof v === "object") {
    if (typeof v.$bin === "string") return Buffer.from(v.$bin, "hex");
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, revive(x)]));
  }
  return v;
}

function capture() {
  const published = [];
  const publish = (channel, payload) => {
    published.push({ channel, hex: hex(payload) });
  };
  return { published, publish };
}

const emitterCalls = {
  "emitter.emit('hello',1) (uid 'emitter'; opts key order rooms, flags, except)": (e) =>
    e.emit("hello", 1),
  "to room1 except room2 volatile compress(false) with binary": (e) =>
    e.to("room1").except("room2").volatile.compress(false).emit("ev", Buffer.from([1])),
  "of('/admin').to(['a','b'])": (e) => e.of("/admin").to(["a", "b"]).emit("ev"),
  "socketsJoin: REMOTE_JOIN without uid field": (e) => e.socketsJoin("r1"),
  socketsLeave: (e) => e.in("r1").socketsLeave(["r1", "r2"]),
  "disconnectSockets(true)": (e) => e.except("r3").disconnectSockets(true),
  "serverSideEmit (uid 'emitter', no requestId)": (e) => e.serverSideEmit("srv", { a: 1 }),
};

test("every golden emitter vector is reproduced byte for byte", () => {
  const { vectors } = load("golden-emitter.json");
  let checked = 0;
  for (const vector of vectors) {
    const { published, publish } = capture();
    if (vector.description === "key 'myapp'") {
      new Emitter(publish, { key: "myapp" }).to("r").emit("x");
    } else {
      const call = emitterCalls[vector.description];
      assert.ok(call, `no call for vector ${vector.description}`);
      call(new Emitter(publish));
    }
    assert.deepEqual(
      published,
      [{ channel: vector.channel, hex: vector.payload_hex }],
      vector.description,
    );
    checked++;
  }
  assert.equal(checked, vectors.length);
});

test("msgpack vectors of golden-classic decode to the fixture and re-encode identically", () => {
  const { vectors } = load("golden-classic.json");
  const msgpack = vectors.filter((v) => v.format === "msgpack");
  assert.ok(msgpack.length >= 10);
  for (const vector of msgpack) {
    const bytes = Buffer.from(vector.payload_hex, "hex");
    const decoded = decodeMsgpack(bytes);
    assert.deepEqual(toFixtureForm(decoded), vector.decoded, vector.description);
    assert.equal(hex(encodeMsgpack(decoded)), vector.payload_hex, vector.description);
    assert.equal(hex(encodeMsgpack(revive(vector.decoded))), vector.payload_hex, vector.description);
  }
});

test("JSON vectors of golden-classic decode to the fixture", () => {
  const { vectors } = load("golden-classic.json");
  for (const vector of vectors.filter((v) => v.format === "json")) {
    const decoded = decodeJson(Buffer.from(vector.payload_hex, "hex"));
    assert.deepEqual(decoded, vector.decoded, vector.description);
    assert.equal(encodeJson(decoded), JSON.stringify(vector.decoded), vector.description);
  }
});

test("the same calls on the real @socket.io/redis-emitter publish the same bytes", () => {
  const real = [];
  const fakeRedis = {
    publish(channel, message) {
      real.push({ channel, hex: hex(typeof message === "string" ? Buffer.from(message) : message) });
    },
  };
  const ours = capture();
  const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 678));
  const scenario = (e) => {
    e.emit("types", null, true, -1, 255, 2 ** 40, -(2 ** 40), 0.5, -0, "é", [1, [2]], { a: { b: "c" } });
    e.to(123).emit("numeric-room", date, new Date(0), new Uint8Array([1, 2, 3]).subarray(1));
    e.to(["x", "y"]).except(["z"]).compress(true).emit("many", new ArrayBuffer(3), undefined);
    e.of("chat").volatile.emit("undefined-entry", { keep: 1, drop: undefined, f() {} });
    e.of("/chat").in("x").socketsLeave("y");
    e.to("a").except("b").disconnectSockets();
    e.serverSideEmit("srv", "x", 2.5, [true]);
    e.emit("tojson", { toJSON: () => ({ replaced: true }) });
  };
  scenario(new NodeEmitter(fakeRedis));
  scenario(new Emitter(ours.publish));
  assert.equal(real.length, 8);
  assert.deepEqual(ours.published, real);
});

test("a wider typed array is sent as all the bytes it views", () => {
  // notepack.io writes \`length\` bytes (the element count) for such views, which
  // truncates them; crosscast sends the whole byteLength instead.
  const { published, publish } = capture();
  new Emitter(publish).emit("wide", new Uint16Array([1, 0x0302]).subarray(1));
  assert.match(published[0].hex, /c4020203/);
});

test("decoding errors reach JS as CrosscastError with a stable code", () => {
  const cases = [
    [[0x92, 0x01], "DECODE_TRUNCATED"],
    [[0x01, 0x02], "DECODE_TRAILING_BYTES"],
    [[0xc1], "DECODE_RESERVED_MARKER"],
    [[0xa1, 0xff], "DECODE_INVALID_UTF8"],
  ];
  for (const [bytes, code] of cases) {
    assert.throws(
      () => decodeMsgpack(new Uint8Array(bytes)),
      (err) => err instanceof CrosscastError && err instanceof Error && err.code === code,
      code,
    );
  }
  assert.throws(() => decodeJson(Buffer.from("{")), { code: "DECODE_JSON" });
});

test("values that cannot be encoded and misuse are refused with codes", () => {
  const e = new Emitter(() => assert.fail("nothing may be published"));
  assert.throws(() => e.emit("connect"), { name: "CrosscastError", code: "INVALID_ARGUMENT" });
  assert.throws(() => e.emit("ev", () => {}), { code: "ACK_UNSUPPORTED" });
  assert.throws(() => e.serverSideEmit("ev", 1, () => {}), { code: "ACK_UNSUPPORTED" });
  assert.throws(() => e.emit("ev", Symbol("s"), 1), { code: "VALUE_UNSUPPORTED" });
  assert.throws(() => e.emit("ev", 2n ** 70n), { code: "VALUE_RANGE" });
  assert.throws(() => e.to(1.5).emit("ev"), { code: "INVALID_ARGUMENT" });
  const cyclic = {};
  cyclic.self = cyclic;
  assert.throws(() => e.emit("ev", cyclic), { code: "VALUE_TOO_DEEP" });
  assert.throws(() => new Emitter({}), { code: "INVALID_ARGUMENT" });
});

test("integers beyond Number.MAX_SAFE_INTEGER come back as BigInt, safe ones as numbers", () => {
  const value = [2n ** 63n + 5n, -(2n ** 62n), 7n, 2 ** 53 + 2];
  const bytes = encodeMsgpack(value);
  // 2 ** 53 + 2 is an integral float: notepack writes it as uint64 (cf).
  assert.equal(hex(bytes.subarray(bytes.length - 9)), "cf0020000000000002");
  assert.deepEqual(decodeMsgpack(bytes), [2n ** 63n + 5n, -(2n ** 62n), 7, 2n ** 53n + 2n]);
});

test("the CommonJS bundle exposes the same API", () => {
  const require = createRequire(import.meta.url);
  const cjs = require("../pkg/index.cjs");
  const { published, publish } = capture();
  new cjs.Emitter(publish).emit("hello", 1);
  const [vector] = load("golden-emitter.json").vectors;
  assert.deepEqual(published, [{ channel: vector.channel, hex: vector.payload_hex }]);
  assert.throws(() => cjs.decodeMsgpack(new Uint8Array([0x92])), (err) =>
    err instanceof cjs.CrosscastError && err.code === "DECODE_TRUNCATED");
});
