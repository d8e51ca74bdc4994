// crosscast's npm adapter under the official Socket.IO Admin UI server side
// (`instrument()` of @socket.io/admin-ui 0.5.1, development mode): an admin client of
// a server on crosscast's adapter sees every server of the cluster in server_stats and
// every socket in all_sockets, with its handshake and the admin fields, next to a server
// on the official @socket.io/redis-adapter; and its actions (join, emit, disconnect)
// reach the other server's sockets. Classic and sharded, one real redis-server, real
// socket.io-client clients.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { instrument } from "@socket.io/admin-ui";
import { io as connect } from "socket.io-client";
import { startRedis, within } from "./harness.mjs";
import { startServer, waitForSubscribers, serversChannel, eventually } from "./adapter-harness.mjs";
import Redis from "ioredis";

let redis;
before(async () => {
  redis = await startRedis();
});
after(async () => {
  await redis.stop();
});

function client(server, options) {
  const socket = connect(`http://127.0.0.1:${server.port}${options.nsp ?? ""}`, {
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
    ...options,
  });
  const seen = [];
  socket.onAny((event, ...args) => seen.push({ event, args }));
  const ready = within(
    new Promise((resolve, reject) => {
      socket.once("connect", () => resolve(socket));
      socket.once("connect_error", reject);
    }),
    `client of ${server.name}`,
  );
  return { socket, seen, ready, of: (e) => seen.filter((x) => x.event === e) };
}

for (const protocol of ["classic", "sharded"]) {
  describe(`${protocol}: instrument() on crosscast's adapter`, () => {
    const servers = [];
    const sockets = [];
    let watch;
    before(async () => {
      watch = new Redis({ port: redis.port, host: "127.0.0.1" });
      for (const [name, impl] of [["cc", "crosscast"], ["official", "official"]]) {
        const server = await startServer({
          name: `${protocol}-${name}`,
          redisPort: redis.port,
          impl,
          protocol,
          lib: "ioredis",
          opts: protocol === "classic" ? { requestsTimeout: 2000 } : {},
        });
        instrument(server.io, { auth: false, serverId: server.name, mode: "development" });
        servers.push(server);
      }
      await waitForSubscribers(watch, serversChannel(protocol), 2, protocol === "sharded");
    });
    after(async () => {
      for (const s of sockets) s.disconnect();
      // instrument() gives no way to stop its 2 s server_stats timer, which would publish
      // on the closed Redis clients: silence the admin namespace first.
      for (const s of servers) s.io.of("/admin").emit = () => true;
      for (const s of servers) await s.close();
      watch.disconnect();
    });

    test("the admin client of the crosscast server lists both servers' sockets and acts on them", async () => {
      const [cc, official] = servers;
      const onCc = client(cc, { query: { who: "on-cc" } });
      const onOfficial = client(official, { query: { who: "on-official" } });
      await Promise.all([onCc.ready, onOfficial.ready]);
      const ui = client(cc, { nsp: "/admin" });
      sockets.push(onCc.socket, onOfficial.socket, ui.socket);
      await ui.ready;

      let listed;
      await eventually(() => (listed = ui.of("all_sockets")[0]?.args[0]), "all_sockets");
      const chat = Object.fromEntries(listed.filter((s) => s.nsp === "/").map((s) => [s.id, s]));
      for (const [c, who, server] of [[onCc, "on-cc", cc], [onOfficial, "on-official", official]]) {
        const s = chat[c.socket.id];
        assert.ok(s, `${who} is listed`);
        assert.equal(s.handshake.query.who, who);
        assert.equal(s.transport, "websocket");
        assert.equal(typeof s.clientId, "string");
        assert.deepEqual(s.data, { server: server.name });
      }
      await eventually(() => {
        const ids = new Set(ui.of("server_stats").map((e) => e.args[0].serverId));
        return ids.has(cc.name) && ids.has(official.name);
      }, "server_stats of both servers");

      const got = [];
      onOfficial.socket.on("hello", (m) => got.push(m));
      ui.socket.emit("join", "/", "vip", onOfficial.socket.id);
      await eventually(() => ui.of("room_joined").some((e) => e.args[1] === "vip"), "room_joined from the official server");
      ui.socket.emit("emit", "/", "vip", "hello", "to vip");
      await eventually(() => got.includes("to vip"), "the room's message");
      const id = onOfficial.socket.id;
      const gone = within(new Promise((r) => onOfficial.socket.once("disconnect", r)), "disconnect");
      ui.socket.emit("_disconnect", "/", false, id);
      assert.equal(await gone, "io server disconnect");
      await eventually(() => ui.of("socket_disconnected").some((e) => e.args[1] === id), "socket_disconnected");
    });
  });
}
