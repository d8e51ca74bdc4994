// The handshake and data of remote sockets: a server calling fetchSockets()
// sees another server's socket with the handshake socket.io built for it there
// (headers, query, auth, address, time, issued, secure, xdomain, url) and its
// socket.data, whichever adapter each server runs (crosscast's npm adapter or
// the official @socket.io/redis-adapter), classic and sharded, on one real
// redis-server with real socket.io-client clients. A client whose auth the
// cluster cannot carry (nested too deep) loses its own auth in the answer, not
// the others' handshakes, and does not make the request fail.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { io as connect } from "socket.io-client";
import { startRedis, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel } from "./adapter-harness.mjs";

/** A client of `server` with its own auth, query and a custom header. */
async function client(server, auth) {
  const socket = connect(`http://127.0.0.1:${server.port}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    auth,
    query: { room: `q-${server.name}`, multi: "1" },
    extraHeaders: { "x-custom": `hello-${server.name}` },
  });
  await within(
    new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    }),
    `client of ${server.name}`,
  );
  return socket;
}

/** A value as JSON carries it (the null-prototype `query` becomes a plain object). */
const plain = (v) => JSON.parse(JSON.stringify(v));

/** `{leaf: 1}` nested `levels` maps deep. */
function nested(levels) {
  let value = { leaf: 1 };
  for (let i = 0; i < levels; i++) value = { d: value };
  return value;
}

for (const protocol of ["classic", "sharded"]) {
  describe(`${protocol}: remote sockets carry their handshake and data`, () => {
    const ctx = {};
    const sharded = protocol === "sharded";

    before(async () => {
      ctx.redis = await startRedis();
      ctx.admin = new Redis({ port: ctx.redis.port, host: "127.0.0.1" });
      const common = { redisPort: ctx.redis.port, protocol, lib: "ioredis" };
      ctx.cc = await startServer({ ...common, name: "cc", impl: "crosscast" });
      ctx.cc2 = await startServer({ ...common, name: "cc2", impl: "crosscast" });
      ctx.off = await startServer({ ...common, name: "off", impl: "official" });
      await waitForSubscribers(ctx.admin, serversChannel(protocol), 3, sharded);
      ctx.before = Date.now();
      for (const name of ["cc", "off"]) {
        ctx[`client-${name}`] = await client(ctx[name], { token: `tok-${name}`, n: 1 });
      }
      ctx.after = Date.now();
    });

    after(async () => {
      for (const key of ["client-cc", "client-off", "deep"]) ctx[key]?.disconnect();
      for (const name of ["cc", "cc2", "off"]) await ctx[name]?.close();
      ctx.admin?.disconnect();
      await ctx.redis?.stop();
    });

    for (const [fetcher, owner] of [
      ["off", "cc"],
      ["cc2", "cc"],
      ["cc", "off"],
    ]) {
      test(`${fetcher} fetches a socket of ${owner}: its real handshake and data`, async () => {
        const id = ctx[`client-${owner}`].id;
        const sockets = await within(ctx[fetcher].io.fetchSockets(), "fetchSockets");
        const remote = sockets.find((s) => s.id === id);
        assert.ok(remote, `the socket of ${owner} is in the answer`);
        const { handshake, data } = remote;
        assert.deepEqual(plain(handshake.auth), { token: `tok-${owner}`, n: 1 });
        assert.equal(handshake.query.room, `q-${owner}`);
        assert.equal(handshake.query.multi, "1");
        assert.equal(handshake.query.transport, "websocket");
        assert.equal(handshake.headers["x-custom"], `hello-${owner}`);
        assert.match(handshake.address, /127\.0\.0\.1$/);
        assert.equal(typeof handshake.issued, "number");
        assert.ok(
          handshake.issued >= ctx.before && handshake.issued <= ctx.after,
          `issued ${handshake.issued} is the connection time (epoch ms)`,
        );
        assert.ok(Number.isFinite(Date.parse(handshake.time)), `time ${handshake.time}`);
        assert.equal(handshake.secure, false);
        assert.equal(handshake.xdomain, false);
        assert.ok(handshake.url.startsWith("/socket.io/?"), handshake.url);
        assert.deepEqual(plain(data), { server: owner });
        // Exactly what socket.io built on the owner's server.
        const local = ctx[owner].io.of("/").sockets.get(id);
        assert.deepEqual(plain(handshake), plain(local.handshake));
      });
    }

    test("a client with an auth nested too deep spoils only its own auth", async () => {
      ctx.deep = await client(ctx.cc, nested(70));
      for (const fetcher of ["cc2", "off"]) {
        const sockets = await within(ctx[fetcher].io.fetchSockets(), `fetchSockets on ${fetcher}`);
        const normal = sockets.find((s) => s.id === ctx["client-cc"].id);
        assert.deepEqual(plain(normal.handshake.auth), { token: "tok-cc", n: 1 }, fetcher);
        const deep = sockets.find((s) => s.id === ctx.deep.id);
        assert.ok(deep, `the deep socket is in the answer of ${fetcher}`);
        assert.deepEqual(plain(deep.handshake.auth), {}, "its auth is left out");
        assert.equal(deep.handshake.headers["x-custom"], "hello-cc", "the rest stays");
        assert.equal(deep.handshake.query.room, "q-cc");
        assert.deepEqual(plain(deep.data), { server: "cc" });
      }
    });
  });
}
