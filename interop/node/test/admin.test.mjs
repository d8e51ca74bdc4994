// `crosscast serve --admin` speaks the protocol of the official Socket.IO Admin UI
// (@socket.io/admin-ui 0.5.1) in a cluster with Node.js servers that run the official
// instrument(): the login and its sessions, readonly mode, production mode (no event
// published per connection), a socket list that does not wait for a hung server, and
// each side listing and acting on the other's sockets through the adapter.
// Real processes: a private redis-server, the crosscast binary, peer-server.js with
// instrument(), socket.io-client clients. Every wait is bounded.
import { test, before, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import bcrypt from "bcryptjs";
import { io as connectClient } from "socket.io-client";
import { startRedis, startPeer, startCrosscast, stopProcess, within, eventually } from "../harness.mjs";

const PASSWORD = "correct horse";
const HASH = bcrypt.hashSync(PASSWORD, 4);
const LOGIN = ["--admin-user", "admin", "--admin-password-hash", HASH];
const TIMEOUT = 1500;

let redis;
const processes = [];
const sockets = [];

before(async () => {
  redis = await startRedis();
  processes.push(redis.child);
});

beforeEach(() => nextCluster());

after(async () => {
  for (const s of sockets) s.disconnect();
  for (const child of processes.reverse()) {
    if (child.signalCode === null && child.exitCode === null) child.kill("SIGCONT");
    await stopProcess(child);
  }
});

// Each test is a cluster of its own: its servers share a channel prefix no other test uses.
let key = "admin-test";
const nextCluster = () => {
  key = `admin-test-${Math.random().toString(36).slice(2, 10)}`;
};

async function crosscast(...args) {
  const server = await startCrosscast([
    "--redis-url", redis.url, "--key", key, "--requests-timeout", String(TIMEOUT), "--admin", ...args,
  ]);
  processes.push(server.child);
  return server;
}

async function nodePeer(serverId) {
  const peer = await startPeer([
    "--redis-url", redis.url, "--key", key, "--requests-timeout", String(TIMEOUT),
    "--admin-user", "admin", "--admin-password-hash", HASH, "--admin-server-id", serverId,
  ]);
  processes.push(peer.child);
  return peer;
}

/** A client of `url` (a namespace URL); resolves once connected, rejects on connect_error. */
function open(url, options = {}) {
  const socket = connectClient(url, { transports: ["websocket"], reconnection: false, forceNew: true, ...options });
  sockets.push(socket);
  return within(5000, `connect to ${url}`, new Promise((resolve, reject) => {
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", reject);
  }));
}

/** An admin client that records every event from the moment it is created. */
function admin(url, auth = { username: "admin", password: PASSWORD }) {
  const socket = connectClient(`${url}/admin`, { transports: ["websocket"], reconnection: false, forceNew: true, auth });
  sockets.push(socket);
  const seen = [];
  socket.onAny((event, ...args) => seen.push({ event, args }));
  const ready = within(5000, `admin login at ${url}`, new Promise((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  }));
  return { socket, seen, ready, of: (event) => seen.filter((e) => e.event === event) };
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function metric(url, line) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const found = text.split("\n").find((l) => l.startsWith(line + " "));
  return found === undefined ? undefined : Number(found.split(" ").pop());
}

test("wrong credentials are refused, a login starts a session that later connections use", async () => {
  const server = await crosscast(...LOGIN);
  for (const auth of [
    { username: "admin", password: "wrong" },
    { username: "root", password: PASSWORD },
    { sessionId: "made-up" },
    {},
  ]) {
    const refused = admin(server.url, auth);
    await assert.rejects(refused.ready, (e) => e.message === "invalid credentials", JSON.stringify(auth));
  }
  const first = admin(server.url);
  await first.ready;
  const [session] = await eventually(3000, () => {
    const got = first.of("session");
    assert.equal(got.length, 1, "one session event");
    return got[0].args;
  });
  assert.match(session, /^[A-Za-z0-9_-]{32}$/);
  const again = admin(server.url, { sessionId: session });
  await again.ready;
  assert.deepEqual(again.of("session"), [], "no new session for a session login");
  assert.equal(await metric(server.url, 'crosscast_admin_logins_total{result="refused"}'), 4);
  assert.equal(await metric(server.url, 'crosscast_admin_logins_total{result="password"}'), 1);
  assert.equal(await metric(server.url, 'crosscast_admin_logins_total{result="session"}'), 1);
});

test("readonly: the UI sees the features it may not use and every action is ignored", async () => {
  const server = await crosscast(...LOGIN, "--admin-readonly");
  const client = await open(server.url);
  const ui = admin(server.url);
  await ui.ready;
  const [config] = await eventually(3000, () => ui.of("config")[0].args);
  assert.deepEqual(config.supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
  ui.socket.emit("_disconnect", "/", false, client.id);
  ui.socket.emit("join", "/", "vip", client.id);
  ui.socket.emit("leave", "/", client.id, client.id);
  ui.socket.emit("emit", "/", client.id, "chat message", "from the UI");
  const received = [];
  client.on("chat message", (m) => received.push(m));
  // Two server_stats later (2 s apart) the actions would long have run.
  await eventually(6000, () => assert.ok(ui.of("server_stats").length >= 2));
  assert.equal(client.connected, true, "still connected");
  assert.deepEqual(received, []);
  assert.equal(await metric(server.url, 'crosscast_admin_actions_total{result="done"}'), 0);
});

test("production mode: no socket list and no event published per connection, only server_stats", async () => {
  const server = await crosscast(...LOGIN, "--admin-mode", "production", "--admin-server-id", "prod-1");
  // Everything published on the admin namespace's channels, by anyone.
  const watcher = new Redis(redis.url);
  const published = [];
  await watcher.psubscribe(`${key}#/admin#*`);
  watcher.on("pmessageBuffer", (_pattern, _channel, message) => published.push(message.toString("latin1")));
  try {
    const ui = admin(server.url);
    await ui.ready;
    const [config] = await eventually(3000, () => ui.of("config")[0].args);
    assert.deepEqual(config.supportedFeatures, [
      "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS",
    ]);
    const client = await open(server.url);
    client.disconnect();
    await eventually(6000, () => {
      const stats = ui.of("server_stats").map((e) => e.args[0]);
      const after = stats.filter((s) => s.aggregatedEvents.some((a) => a.type === "rawDisconnection"));
      assert.ok(after.length >= 1, "a report counted the disconnection");
      assert.equal(after[0].serverId, "prod-1");
    });
    assert.deepEqual(ui.of("all_sockets"), []);
    const live = ["socket_connected", "socket_disconnected", "room_joined", "room_left"];
    assert.deepEqual(ui.seen.filter((e) => live.includes(e.event)), []);
    assert.ok(published.length >= 1, "server_stats went through Redis");
    for (const message of published) {
      assert.ok(message.includes("server_stats"), `only server_stats is published: ${message.slice(0, 80)}`);
    }
  } finally {
    watcher.disconnect();
  }
});

test("each side lists and acts on the other's sockets: crosscast --admin next to Node's instrument()", async () => {
  const rust = await crosscast(...LOGIN, "--admin-server-id", "rust-1");
  const node = await nodePeer("node-1");
  const onRust = await open(rust.url, { query: { who: "on-rust" } });
  const onNode = await open(node.url, { query: { who: "on-node" } });

  // The UI at the Rust server: every socket with its handshake, and every server's stats.
  const atRust = admin(rust.url);
  await atRust.ready;
  const [listed] = await eventually(5000, () => atRust.of("all_sockets")[0].args);
  const chat = listed.filter((s) => s.nsp === "/");
  const byId = Object.fromEntries(chat.map((s) => [s.id, s]));
  assert.equal(byId[onRust.id]?.handshake.query.who, "on-rust");
  assert.equal(byId[onNode.id]?.handshake.query.who, "on-node");
  for (const id of [onRust.id, onNode.id]) {
    assert.equal(byId[id].transport, "websocket");
    assert.equal(typeof byId[id].clientId, "string");
    assert.ok(byId[id].rooms.includes(id), "in its own room");
    assert.equal(byId[id].handshake.auth, undefined, "no auth shown");
    assert.equal(byId[id].data._admin, undefined, "no _admin shown");
  }
  await eventually(6000, () => {
    const ids = new Set(atRust.of("server_stats").map((e) => e.args[0].serverId));
    assert.deepEqual([...ids].sort(), ["node-1", "rust-1"]);
  });

  // A client event on the Rust server, as the UI's event list shows it.
  onRust.emit("chat message", "hello admins");
  await eventually(3000, () => {
    const heard = atRust.of("event_received").map((e) => e.args.slice(0, 3));
    assert.deepEqual(heard, [["/", onRust.id, ["chat message", "hello admins"]]]);
  });

  // The UI at the Node server lists the Rust socket with the fields instrument() reads.
  const atNode = admin(node.url);
  await atNode.ready;
  const [fromNode] = await eventually(5000, () => atNode.of("all_sockets")[0].args);
  const rustSocket = fromNode.find((s) => s.id === onRust.id);
  assert.ok(rustSocket, "the Rust socket is listed by Node");
  assert.equal(rustSocket.clientId, onRust.id.slice(0, 12));
  assert.equal(rustSocket.transport, "websocket");
  assert.equal(rustSocket.handshake.query.who, "on-rust");

  // Actions from the Rust server's UI reach the Node server's socket...
  const got = [];
  onNode.on("chat message", (m) => got.push(m));
  onRust.on("chat message", (m) => got.push(`rust saw ${m}`));
  atRust.socket.emit("join", "/", "vip", onNode.id);
  await eventually(3000, async () => {
    atRust.socket.emit("emit", "/", "vip", "chat message", "to vip");
    await wait(100);
    assert.ok(got.includes("to vip"), "the Node socket joined vip and got the room's message");
  });
  assert.ok(!got.some((m) => String(m).startsWith("rust saw")), "the Rust socket is not in vip");
  // (A client forgets its id once disconnected.)
  const [rustId, nodeId] = [onRust.id, onNode.id];
  const nodeGone = within(3000, "node client disconnected", new Promise((r) => onNode.once("disconnect", r)));
  atRust.socket.emit("_disconnect", "/", false, onNode.id);
  assert.equal(await nodeGone, "io server disconnect");
  // ...and those of the Node server's UI reach the Rust server's socket.
  const rustGone = within(3000, "rust client disconnected", new Promise((r) => onRust.once("disconnect", r)));
  atNode.socket.emit("_disconnect", "/", false, onRust.id);
  assert.equal(await rustGone, "io server disconnect");
  // The Rust server's UI heard both go (Node's event, and its own).
  await eventually(3000, () => {
    const gone = atRust.of("socket_disconnected").map((e) => e.args[1]);
    assert.ok(gone.includes(nodeId) && gone.includes(rustId), JSON.stringify(gone));
  });
});

test("a hung server's sockets are left out of the list after the requests timeout instead of holding it back", async () => {
  const rust = await crosscast(...LOGIN);
  const node = await nodePeer("node-hung");
  const onRust = await open(rust.url, { query: { who: "alive" } });
  await open(node.url, { query: { who: "hung" } });
  node.child.kill("SIGSTOP");
  try {
    const started = Date.now();
    const ui = admin(rust.url);
    await ui.ready;
    const [listed] = await eventually(TIMEOUT + 4000, () => ui.of("all_sockets")[0].args);
    const elapsed = Date.now() - started;
    const who = listed.filter((s) => s.nsp === "/").map((s) => s.handshake.query.who);
    assert.deepEqual(who, ["alive"]);
    assert.ok(listed.some((s) => s.id === onRust.id));
    assert.ok(elapsed >= TIMEOUT, `it waited for the hung server (${elapsed} ms)`);
    // One timeout for the whole list: both namespaces are asked at once.
    assert.ok(elapsed < TIMEOUT + 1000, `and not much longer (${elapsed} ms)`);
    assert.equal(await metric(rust.url, "crosscast_admin_partial_lists_total"), 1);
  } finally {
    node.child.kill("SIGCONT");
  }
});

test("without Redis the single server lists and disconnects its own sockets", async () => {
  const alone = await startCrosscast(["--admin", ...LOGIN]);
  processes.push(alone.child);
  const one = await open(alone.url, { query: { who: "one" } });
  const two = await open(alone.url, { query: { who: "two" } });
  const ui = admin(alone.url);
  await ui.ready;
  const [listed] = await eventually(5000, () => ui.of("all_sockets")[0].args);
  const chat = listed.filter((s) => s.nsp === "/").map((s) => [s.id, s.handshake.query.who]);
  assert.deepEqual(chat.sort(), [[one.id, "one"], [two.id, "two"]].sort());
  assert.ok(listed.some((s) => s.nsp === "/admin"), "the admin socket itself is listed");
  const gone = within(3000, "disconnect", new Promise((r) => one.once("disconnect", r)));
  ui.socket.emit("_disconnect", "/", false, one.id);
  assert.equal(await gone, "io server disconnect");
  assert.equal(two.connected, true);
});
