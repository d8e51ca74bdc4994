// The stock Socket.IO Admin UI, served by `crosscast serve --admin` at /admin/, in a real
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), on a cluster
// of two crosscast servers and one Node.js server (the official @socket.io/redis-adapter
// and the official instrument() of @socket.io/admin-ui), one private redis-server.
//
// The UI logs in, lists the 3 servers and every connected socket, shows a socket's
// handshake, and its "disconnect" button disconnects a socket of the other Rust server and
// one of the Node server. With a server SIGKILLed, then with one hung (SIGSTOP), a reload
// still lists the live servers' sockets, within the requests timeout.
// Screenshots: artifacts/browser/admin-*.png (git-ignored). Network: loopback only (the
// page's links to public font CDNs are refused). Every wait is bounded.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import {
  startRedis,
  startPeer,
  startCrosscast,
  stopProcess,
  within,
  CROSSCAST,
} from "../../interop/node/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { io: connectClient } = createRequire(join(root, "interop/node/package.json"))("socket.io-client");
const bcrypt = createRequire(join(root, "interop/node/package.json"))("bcryptjs");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(root, "artifacts/browser");
const WAIT = 15000;
/** --requests-timeout of every server (ms). */
const TIMEOUT = 2000;
const PASSWORD = "admin-ui password";
const HASH = bcrypt.hashSync(PASSWORD, 4);
const KEY = "admin-ui";

const processes = [];
const clients = [];
let browser;
let rustA;
let rustB;
let node;

/** A chat client of `server`, named by its query parameter `who`. */
function client(server, who) {
  const socket = connectClient(server.url, {
    transports: ["websocket"],
    reconnection: false,
    forceNew: true,
    query: { who },
  });
  clients.push(socket);
  return within(5000, `client ${who}`, new Promise((ok, fail) => {
    socket.once("connect", () => ok(socket));
    socket.once("connect_error", fail);
  }));
}

const gone = (socket, what) =>
  within(WAIT, `${what} disconnected`, new Promise((ok) => socket.once("disconnect", ok)));

async function crosscast(serverId, redisUrl) {
  const server = await startCrosscast([
    "--redis-url", redisUrl, "--key", KEY, "--requests-timeout", String(TIMEOUT),
    "--admin", "--admin-user", "admin", "--admin-password-hash", HASH, "--admin-server-id", serverId,
  ]);
  processes.push(server.child);
  return server;
}

before(async () => {
  assert.ok(existsSync(CROSSCAST), `${CROSSCAST} is missing: cargo build -p crosscast --bin crosscast`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  const redis = await startRedis();
  processes.push(redis.child);
  rustA = await crosscast("rust-A", redis.url);
  rustB = await crosscast("rust-B", redis.url);
  node = await startPeer([
    "--redis-url", redis.url, "--key", KEY, "--requests-timeout", String(TIMEOUT),
    "--admin-user", "admin", "--admin-password-hash", HASH, "--admin-server-id", "node-N",
  ]);
  processes.push(node.child);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  for (const socket of clients) socket.disconnect();
  if (browser) await browser.close();
  for (const child of processes.reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGCONT");
    await stopProcess(child);
  }
});

/** A page of the UI at the Rust server A, logged in with `password`. */
async function loggedIn(password = PASSWORD) {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
  // Only loopback: the page's Google Fonts and CDN icon links are refused.
  await context.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  const page = await context.newPage();
  const failures = [];
  page.on("pageerror", (e) => failures.push(String(e)));
  await page.goto(`${rustA.url}/admin/`, { timeout: WAIT });
  await page.getByLabel("Server URL").fill(rustA.url, { timeout: WAIT });
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: /connect/i }).click();
  if (password === PASSWORD) {
    await page.getByLabel("Server URL").waitFor({ state: "hidden", timeout: WAIT });
  }
  return { page, context, failures };
}

/** Shows the UI's route `hash` (without reloading the page). */
async function show(page, hash) {
  await page.evaluate((h) => {
    window.location.hash = h;
  }, hash);
}

/** A screenshot in the artifacts, once the UI's page transition (300 ms) is over. */
async function snap(page, name) {
  await page.waitForTimeout(600);
  await page.screenshot({ path: join(ARTIFACTS, name) });
}

/** Resolves once `page` shows every text of `texts` (bounded). */
async function sees(page, texts, timeout = WAIT) {
  for (const text of texts) {
    await page.getByText(text, { exact: true }).first().waitFor({ timeout });
  }
}

test("a wrong password is refused: the login form stays, saying why", async () => {
  const { page, context } = await loggedIn("not the password");
  await sees(page, ["Invalid credentials"]);
  assert.ok(await page.getByLabel("Server URL").isVisible(), "still at the login");
  await snap(page, "admin-refused.png");
  await context.close();
});

test("the UI served by crosscast lists 3 servers and every socket, and disconnects Rust and Node sockets", async () => {
  const onA = await client(rustA, "client-of-A");
  const onB = await client(rustB, "client-of-B");
  const onNode = await client(node, "client-of-node");
  const { page, context, failures } = await loggedIn();

  await show(page, "#/servers/");
  // The table's own count: these 3 servers and no other.
  await sees(page, ["rust-A", "rust-B", "node-N", "1-3 of 3"]);
  await snap(page, "admin-servers.png");

  await show(page, "#/sockets/");
  await sees(page, [onA.id, onB.id, onNode.id]);
  await snap(page, "admin-sockets.png");

  // A socket's handshake: the query parameter its client sent, for a Rust socket of the
  // other Rust server and for the Node server's.
  for (const [socket, who] of [[onB, "client-of-B"], [onNode, "client-of-node"]]) {
    // (Through the list: the UI's socket page does not follow a change of socket.)
    await show(page, "#/sockets/");
    await sees(page, [socket.id]);
    await show(page, `#/n/${encodeURIComponent("/")}/sockets/${socket.id}`);
    await sees(page, ["Initial HTTP request", who]);
    await snap(page, `admin-socket-${who}.png`);
  }

  // "Disconnect" in the sockets list: a socket of the other Rust server, then Node's. (The
  // click also opens the socket's page, as a click on its row does.)
  for (const [socket, what] of [[onB, "the Rust socket of B"], [onNode, "the Node socket"]]) {
    const id = socket.id;
    await show(page, "#/sockets/");
    const row = () => page.locator("tbody tr", { hasText: id });
    await row().first().waitFor({ timeout: WAIT });
    const closed = gone(socket, what);
    // The row's button with the logout icon (the icon font itself is not loaded).
    await row().locator("button:has(i.mdi-logout)").click({ timeout: WAIT });
    assert.equal(await closed, "io server disconnect", what);
    await show(page, "#/sockets/");
    await within(WAIT, `${what} leaves the list`, (async () => {
      while ((await row().count()) > 0) await page.waitForTimeout(100);
    })());
  }
  assert.ok(onA.connected, "the others stay");
  assert.deepEqual(failures, []);
  await context.close();
});

test("with a server SIGKILLed, then one hung, a reload lists the live servers' sockets within the requests timeout", async () => {
  const onA = await client(rustA, "alive-on-A");
  const onB = await client(rustB, "dies-with-B");
  const onNode = await client(node, "alive-on-node");
  const { page, context } = await loggedIn();
  await show(page, "#/sockets/");
  await sees(page, [onA.id, onB.id, onNode.id]);
  const [aId, bId, nodeId] = [onA.id, onB.id, onNode.id];

  rustB.child.kill("SIGKILL");
  await gone(onB, "B's client");
  let started = Date.now();
  await page.reload({ timeout: WAIT });
  await show(page, "#/sockets/");
  await sees(page, [aId, nodeId], TIMEOUT + 3000);
  const afterKill = Date.now() - started;
  assert.equal(await page.getByText(bId, { exact: true }).count(), 0, "B's socket is gone");
  assert.ok(afterKill < TIMEOUT, `listed within the requests timeout (${afterKill} ms)`);
  await snap(page, "admin-server-killed.png");

  // A hung server (stopped, its Redis connection still open) answers nothing: the list
  // comes after the requests timeout with the sockets of the servers that answered.
  node.child.kill("SIGSTOP");
  try {
    started = Date.now();
    await page.reload({ timeout: WAIT });
    await show(page, "#/sockets/");
    await sees(page, [aId], TIMEOUT + 3000);
    const afterHang = Date.now() - started;
    assert.equal(await page.getByText(nodeId, { exact: true }).count(), 0, "the hung server's socket is left out");
    // One requests timeout for the whole list, plus the page's own reload and login.
    assert.ok(afterHang < TIMEOUT + 1500, `listed in ${afterHang} ms`);
    console.log(`# listed ${afterKill} ms after a reload with B killed, ${afterHang} ms with the Node server hung`);
    await snap(page, "admin-server-hung.png");
  } finally {
    node.child.kill("SIGCONT");
  }
  await context.close();
});
