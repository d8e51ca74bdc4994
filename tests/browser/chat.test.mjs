// End to end in a real browser: two `crosscast serve` processes on one private
// redis-server, a page on each in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core; no browser is downloaded). A message typed on one page appears on the
// other, a room message reaches a page that joined the room, and both pages show
// "2 people on 2 servers". Screenshots go to artifacts/browser/ (git-ignored).
//
// Needs: chromium, redis-server, the crosscast binary (CROSSCAST_BIN, default
// target/debug/crosscast). Every wait is bounded.
import { test, after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.CROSSCAST_BIN ?? join(root, "target/debug/crosscast");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const ARTIFACTS = join(root, "artifacts/browser");
const WAIT = 15000;

const children = [];
let browser;

/** A free TCP port on 127.0.0.1 (never 6379). */
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => (port === 6379 ? freePort().then(ok, fail) : ok(port)));
    });
  });
}

/** Spawns `cmd args` and resolves with the first stdout match of `pattern` (bounded). */
function spawnUntil(cmd, args, pattern, stream = "stdout") {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let seen = "";
  let errors = "";
  child.stderr.on("data", (d) => (errors += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${cmd}: no ${pattern} within ${WAIT} ms\n${seen}${errors}`)), WAIT);
    child[stream].on("data", (d) => {
      seen += d;
      const m = seen.match(pattern);
      if (m) {
        clearTimeout(timer);
        ok({ child, match: m });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      fail(new Error(`${cmd} exited with ${code}\n${seen}${errors}`));
    });
  });
}

/** Stops a child with SIGTERM (SIGKILL after 5 s); resolves with its exit code. */
function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((ok) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      ok(code);
    });
    child.kill("SIGTERM");
  });
}

/** A private redis-server; when its free port was taken before it bound it, another port. */
async function startRedis() {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      await spawnUntil(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        /Ready to accept connections/,
      );
      return `redis://127.0.0.1:${port}`;
    } catch (e) {
      if (attempt >= 4 || !String(e.message).includes("Address already in use")) throw e;
    }
  }
}

async function startCrosscast(redisUrl) {
  const { child, match } = await spawnUntil(
    BIN,
    ["serve", "--port", "0", "--redis-url", redisUrl],
    /listening on (http:\/\/127\.0\.0\.1:\d+) uid=(\S+)\n/,
  );
  return { child, url: match[1] };
}

/** Resolves once `page`'s message list shows a message that reads exactly `text`. */
async function waitForMessage(page, text) {
  await page.locator("#messages").getByText(text, { exact: true }).first().waitFor({ timeout: WAIT });
}

let servers = [];

before(async () => {
  assert.ok(existsSync(BIN), `${BIN} is missing: cargo build -p crosscast --bin crosscast`);
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium`);
  const redisUrl = await startRedis();
  servers = [await startCrosscast(redisUrl), await startCrosscast(redisUrl)];
  // launch() gives Chromium a fresh temporary profile (--user-data-dir) of its own.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  for (const child of children.reverse()) await stop(child);
});

test("two browsers on two servers chat through Redis", async () => {
  // Two isolated browser contexts: two independent browsers as far as the pages can tell.
  const [one, two] = await Promise.all([browser.newContext(), browser.newContext()]);
  const pageA = await one.newPage({ viewport: { width: 900, height: 640 } });
  const pageB = await two.newPage({ viewport: { width: 900, height: 640 } });
  const failures = [];
  for (const page of [pageA, pageB]) page.on("pageerror", (e) => failures.push(String(e)));
  await pageA.goto(servers[0].url, { timeout: WAIT });
  await pageB.goto(servers[1].url, { timeout: WAIT });

  for (const page of [pageA, pageB]) {
    await page.locator("#state-text", { hasText: /^connected$/ }).waitFor({ timeout: WAIT });
    // The page refreshes the count every 2 s from the cluster-wide `who`.
    await page.locator("#online", { hasText: /^2 people on 2 servers$/ }).waitFor({ timeout: WAIT });
  }

  // A message typed on A appears on B (and on A, as the sender's own).
  await pageA.locator("#input").fill("Hello from server A");
  await pageA.locator("#input").press("Enter");
  await waitForMessage(pageB, "Hello from server A");
  await pageA.locator("#messages li.mine", { hasText: "Hello from server A" }).waitFor({ timeout: WAIT });

  await pageB.locator("#input").fill("Hi A, this is B");
  await pageB.locator("#send").click();
  await waitForMessage(pageA, "Hi A, this is B");

  // B joins a room; A joins it too and sends a room message, which reaches B.
  for (const page of [pageB, pageA]) {
    await page.locator("#room").fill("lobby");
    await page.locator("#join").click();
    await page.locator('.chip[data-room="lobby"]').waitFor({ timeout: WAIT });
  }
  await pageA.locator("#target").selectOption("lobby");
  await pageA.locator("#input").fill("Room message for the lobby");
  await pageA.locator("#input").press("Enter");
  await waitForMessage(pageB, "Room message for the lobby");

  mkdirSync(ARTIFACTS, { recursive: true });
  await pageA.screenshot({ path: join(ARTIFACTS, "chat-server-a.png") });
  await pageB.screenshot({ path: join(ARTIFACTS, "chat-server-b.png") });
  assert.deepEqual(failures, []);
  await Promise.all([one.close(), two.close()]);
});
