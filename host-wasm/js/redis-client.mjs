// The Redis side of the adapter: subscriptions, publishing and subscriber
// counts over node-redis v4+ or ioredis, standalone or cluster. Pure I/O: no
// protocol logic; the wasm node says what to subscribe and publish.
import { CrosscastError } from "./error.mjs";

const toBuffer = (bytes) =>
  globalThis.Buffer
    ? globalThis.Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : bytes;

/** node-redis v4+ (client or cluster): it has `sSubscribe`/`pSubscribe`. */
const isNodeRedis = (client) =>
  typeof client.pSubscribe === "function" || typeof client.sSubscribe === "function";

/** An ioredis Cluster. */
const isIoredisCluster = (client) =>
  client.isCluster === true && typeof client.nodes === "function";

/** Reads `[channel, n]` (NUMSUB / SHARDNUMSUB reply) as a number. */
function numsub(reply) {
  const n = Array.isArray(reply) ? reply[1] : undefined;
  const count = Number(typeof n === "object" && n !== null ? n.toString() : n);
  return Number.isFinite(count) ? count : 0;
}

/**
 * One adapter's use of a pair of Redis clients. `onMessage(channel, bytes)` is
 * called for every message on a channel or pattern this link subscribed to,
 * with the payload as a Buffer (binary-safe subscriptions).
 */
export class RedisLink {
  constructor(pubClient, subClient, onMessage) {
    if (!pubClient || !subClient) {
      throw new CrosscastError("createAdapter needs a pubClient and a subClient", "INVALID_ARGUMENT");
    }
    this.pub = pubClient;
    this.sub = subClient;
    this.onMessage = onMessage;
    this.nodeRedis = isNodeRedis(subClient);
    this.channels = new Set();
    this.patterns = new Set();
    this.sharded = new Set();
    this.closed = false;
    this.listeners = [];
    // node-redis: one listener for all subscriptions of this link, called
    // with (message, channel) as Buffers.
    this.bufferListener = (message, channel) => this._deliver(channel, message);
    if (!this.nodeRedis) {
      this._on("messageBuffer", (channel, message) => {
        if (this.channels.has(channel.toString())) this.onMessage(channel.toString(), message);
      });
      this._on("pmessageBuffer", (pattern, channel, message) => {
        if (this.patterns.has(pattern.toString())) this.onMessage(channel.toString(), message);
      });
      this._on("smessageBuffer", (channel, message) => {
        if (this.sharded.has(channel.toString())) this.onMessage(channel.toString(), message);
      });
    }
  }

  _on(event, listener) {
    this.sub.on(event, listener);
    this.listeners.push([event, listener]);
  }

  _deliver(channel, message) {
    if (!this.closed) this.onMessage(channel.toString(), message);
  }

  /** Subscribes as the node asked: kind is `channel`, `pattern` or `sharded`. */
  subscribe(kind, channel) {
    const set = this._set(kind);
    if (set.has(channel)) return Promise.resolve();
    set.add(channel);
    // A subscription that fails is forgotten, so that asking again subscribes again.
    const forget = (e) => {
      set.delete(channel);
      throw e;
    };
    try {
      return Promise.resolve(this._subscribe(kind, channel)).catch(forget);
    } catch (e) {
      return Promise.reject(e).catch(forget);
    }
  }

  _subscribe(kind, channel) {
    const sub = this.sub;
    if (this.nodeRedis) {
      if (kind === "channel") return sub.subscribe(channel, this.bufferListener, true);
      if (kind === "pattern") return sub.pSubscribe(channel, this.bufferListener, true);
      return sub.sSubscribe(channel, this.bufferListener, true);
    }
    if (kind === "channel") return sub.subscribe(channel);
    if (kind === "pattern") return sub.psubscribe(channel);
    return sub.ssubscribe(channel);
  }

  /** Drops a subscription of this link. */
  unsubscribe(kind, channel) {
    const set = this._set(kind);
    if (!set.delete(channel)) return Promise.resolve();
    const sub = this.sub;
    if (this.nodeRedis) {
      if (kind === "channel") return sub.unsubscribe(channel, this.bufferListener, true);
      if (kind === "pattern") return sub.pUnsubscribe(channel, this.bufferListener, true);
      return sub.sUnsubscribe(channel, this.bufferListener, true);
    }
    if (kind === "channel") return sub.unsubscribe(channel);
    if (kind === "pattern") return sub.punsubscribe(channel);
    return sub.sunsubscribe(channel);
  }

  _set(kind) {
    if (kind === "channel") return this.channels;
    if (kind === "pattern") return this.patterns;
    return this.sharded;
  }

  /** PUBLISH (`kind` "publish") or SPUBLISH ("spublish") of bytes. */
  publish(kind, channel, payload) {
    const bytes = toBuffer(payload);
    const pub = this.pub;
    if (kind === "spublish") {
      return typeof pub.sPublish === "function"
        ? pub.sPublish(channel, bytes)
        : pub.spublish(channel, bytes);
    }
    return pub.publish(channel, bytes);
  }

  /**
   * Subscribers of `channel` (PUBSUB NUMSUB, or SHARDNUMSUB when `sharded`),
   * summed over the masters of a cluster.
   */
  async subscriberCount(channel, sharded) {
    const args = ["PUBSUB", sharded ? "SHARDNUMSUB" : "NUMSUB", channel];
    const pub = this.pub;
    if (isIoredisCluster(pub)) {
      const counts = await Promise.all(pub.nodes("master").map((n) => n.call(...args)));
      return counts.reduce((sum, reply) => sum + numsub(reply), 0);
    }
    if (Array.isArray(pub.masters)) {
      const counts = await Promise.all(
        pub.masters.map(async (master) => {
          const client =
            typeof pub.nodeClient === "function" ? await pub.nodeClient(master) : master.client;
          return numsub(await client.sendCommand(args));
        }),
      );
      return counts.reduce((sum, n) => sum + n, 0);
    }
    if (typeof pub.sendCommand === "function" && this.nodeRedis) {
      return numsub(await pub.sendCommand(args));
    }
    if (typeof pub.call === "function") return numsub(await pub.call(...args));
    return numsub(await pub.sendCommand(args));
  }

  /** Forgets every subscription and listener of this link. */
  async close() {
    const all = [
      ...[...this.channels].map((c) => this.unsubscribe("channel", c)),
      ...[...this.patterns].map((c) => this.unsubscribe("pattern", c)),
      ...[...this.sharded].map((c) => this.unsubscribe("sharded", c)),
    ];
    this.closed = true;
    for (const [event, listener] of this.listeners) this.sub.off(event, listener);
    this.listeners = [];
    await Promise.allSettled(all);
  }
}
