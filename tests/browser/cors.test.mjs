// `crosscast serve --cors-origin` in a real browser (headless Chromium, which enforces CORS
// itself): a page served by one crosscast server (origin A) opens a Socket.IO connection to
// another (origin B). Without the flag B refuses it on both transports; with
// `--cors-origin A` it connects over long-polling, upgrades to WebSocket, and chats; B's own
// page connects either way.
//
// Needs: chromium, the crosscast binary (CROSSCAST_BIN, default target/debug/crosscast).
// No Redis: single nodes. Every wait is bounded.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.CROSSCAST_BIN ?? join(root, "target/debug/crosscast");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const WAIT = 15000;

const children = [];
let browser;

/** Starts `crosscast serve --port 0 ARGS`; resolves with its URL once it listens. */
function startCrosscast(args) {
  const child = spawn(BIN, ["serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let seen = "";
  let errors = "";
  child.stderr.on("data", (d) => (errors += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no start line within ${WAIT} ms\n${errors}`)), WAIT);
    child.stdout.on("data", (d) => {
      seen += d;
      const m = seen.match(/listening on (http:\/\/127\.0\.0\.1:\d+) uid=\S+\n/);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`crosscast exited with ${code}\n${errors}`));
    });
  });
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      ok();
    });
    child.kill("SIGTERM");
  });
}

/**
 * In `page` (which has the Socket.IO client as `io`), connects to `url` over `transports`
 * and reports `{connected, transport, echo}` or `{error}`.
 */
function tryConnect(page, url, transports) {
  return page.evaluate(
    ({ url, transports, wait }) =>
      new Promise((done) => {
        const socket = io(url, { transports, reconnection: false, timeout: wait });
        const timer = setTimeout(() => done({ error: "timeout" }), wait);
        socket.on("connect_error", (e) => {
          clearTimeout(timer);
          socket.close();
          done({ error: String(e && e.message) });
        });
        socket.on("connect", () => {
          const finish = () => {
            socket.once("chat message", (echo) => {
              clearTimeout(timer);
              const transport = socket.io.engine.transport.name;
              socket.close();
              done({ connected: true, transport, echo });
            });
            socket.emit("chat message", "across origins");
          };
          // Long-polling first: wait for the upgrade to WebSocket when it is offered.
          if (transports.length > 1 && socket.io.engine.transport.name === "polling") {
            socket.io.engine.once("upgrade", finish);
          } else {
            finish();
          }
        });
      }),
    { url, transports, wait: WAIT - 2000 },
  );
}

let pageServer;

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build -p crosscast --bin crosscast`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  pageServer = await startCrosscast([]);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const child of children.reverse()) await stop(child);
});

test("a page of another origin is refused without --cors-origin, served with it", async () => {
  const refusing = await startCrosscast([]);
  const allowing = await startCrosscast(["--cors-origin", pageServer]);
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(pageServer, { timeout: WAIT });

  for (const transports of [["polling"], ["websocket"]]) {
    const refused = await tryConnect(page, refusing, transports);
    assert.ok(refused.error, `${transports}: ${JSON.stringify(refused)}`);
  }
  const upgraded = await tryConnect(page, allowing, ["polling", "websocket"]);
  assert.deepEqual(upgraded, { connected: true, transport: "websocket", echo: "across origins" });
  const polling = await tryConnect(page, allowing, ["polling"]);
  assert.deepEqual(polling, { connected: true, transport: "polling", echo: "across origins" });

  // The refusing server's own page (same origin) connects with no flag.
  await page.goto(refusing, { timeout: WAIT });
  const own = await tryConnect(page, refusing, ["polling", "websocket"]);
  assert.deepEqual(own, { connected: true, transport: "websocket", echo: "across origins" });
  await context.close();
});
